//! A cluster of local nodes, either routed directly or with every route
//! through a [`Proxy`] per node (each node advertises its proxy, so every
//! route connection, whoever dials it, passes one).

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Result};
use tokio::time::{sleep, Instant};

use super::node::{Node, NodeArgs, Ports, ServerSpec};
use super::proxy::Proxy;

/// Longest a mesh may take to form or to fall apart.
pub const MESH_TIMEOUT: Duration = Duration::from_secs(20);

/// Running nodes (node 0 is every other node's seed) and their proxies.
#[derive(Debug)]
pub struct Mesh {
    /// The nodes, seed first.
    pub nodes: Vec<Node>,
    /// One per node when proxied, in the same order.
    pub proxies: Vec<Proxy>,
}

impl Mesh {
    /// `count` nodes of `spec`. With `proxied = Some(forwarding)`, each
    /// node's route port sits behind a proxy that starts forwarding or not.
    pub async fn start(
        spec: &ServerSpec,
        count: usize,
        proxied: Option<bool>,
        log_dir: &Path,
        label: &str,
    ) -> Result<Mesh> {
        let ports: Vec<Ports> = (0..count).map(|_| Ports::pick()).collect::<Result<_>>()?;
        let mut proxies = Vec::new();
        if let Some(forwarding) = proxied {
            for port in &ports {
                proxies.push(Proxy::start(port.cluster_addr(), forwarding).await?);
            }
        }
        let route_of = |index: usize| match proxies.get(index) {
            Some(proxy) => proxy.addr,
            None => ports[index].cluster_addr(),
        };
        let mut nodes = Vec::new();
        for (index, port) in ports.iter().enumerate() {
            let args = NodeArgs {
                routes: if index == 0 {
                    vec![]
                } else {
                    vec![route_of(0)]
                },
                advertise: proxies.get(index).map(|proxy| proxy.addr),
            };
            let log = log_dir.join(format!("{}-{label}-node{index}.log", spec.name));
            nodes.push(Node::start(spec, *port, &args, &log).await?);
        }
        Ok(Mesh { nodes, proxies })
    }

    /// Wait until every node has a route to every other.
    pub async fn wait_formed(&self) -> Result<()> {
        let peers = self.nodes.len() as u64 - 1;
        for node in &self.nodes {
            node.wait_routes(peers, MESH_TIMEOUT).await?;
        }
        Ok(())
    }

    /// Cut and refuse every route connection; waits until no node has a route.
    pub async fn partition(&self) -> Result<()> {
        for proxy in &self.proxies {
            proxy.partition();
        }
        let deadline = Instant::now() + MESH_TIMEOUT;
        for node in &self.nodes {
            while node.routes().await.unwrap_or(1) > 0 {
                if Instant::now() >= deadline {
                    bail!("routes still up after the partition");
                }
                sleep(Duration::from_millis(10)).await;
            }
        }
        Ok(())
    }

    /// Forward route connections again; returns when that happened.
    pub fn heal(&self) -> Instant {
        for proxy in &self.proxies {
            proxy.heal();
        }
        Instant::now()
    }

    /// The earliest route connection accepted since the last heal.
    pub fn first_accept(&self) -> Option<Instant> {
        self.proxies.iter().filter_map(Proxy::first_accept).min()
    }

    /// Bytes that reached node 0 over routes, in a two-node proxied mesh
    /// (on connections node 1 dialed, and on those node 0 dialed).
    pub fn bytes_into_first(&self) -> u64 {
        match self.proxies.as_slice() {
            [first, second] => first.bytes().0 + second.bytes().1,
            _ => 0,
        }
    }

    /// Stop every node.
    pub async fn stop(self) {
        for node in self.nodes {
            node.stop().await;
        }
    }
}
