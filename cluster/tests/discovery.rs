//! DNS discovery: one seed URL whose name resolves to several addresses
//! (a Kubernetes headless Service) forms the full mesh; each node skips its
//! own address.

mod support;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use starling_cluster::StaticResolver;
use support::*;
use tokio::net::TcpListener;

const LIMIT: Duration = Duration::from_secs(10);

/// One port free on 127.0.0.1, .2 and .3 (all of 127/8 is loopback on
/// Linux), with the three listeners bound to it.
async fn listeners_on_one_port() -> (u16, Vec<TcpListener>) {
    for _ in 0..50 {
        let first = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = first.local_addr().unwrap().port();
        let mut listeners = vec![first];
        for host in ["127.0.0.2", "127.0.0.3"] {
            match TcpListener::bind((host, port)).await {
                Ok(listener) => listeners.push(listener),
                Err(_) => break,
            }
        }
        if listeners.len() == 3 {
            return (port, listeners);
        }
    }
    panic!("no port free on all three loopback addresses");
}

#[tokio::test]
async fn one_name_for_three_addresses_forms_the_full_mesh() {
    let (port, listeners) = listeners_on_one_port().await;
    let ips: Vec<IpAddr> = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
        .iter()
        .map(|ip| ip.parse().unwrap())
        .collect();
    let resolver = Arc::new(StaticResolver::new("mesh.test", &ips));
    let nodes: Vec<Node> = listeners
        .into_iter()
        .enumerate()
        .map(|(i, listener)| {
            let mut config = config(
                &format!("dns-{i}"),
                vec![format!("nats://mesh.test:{port}")],
            );
            config.resolver = resolver.clone();
            tcp_node_on(config, listener)
        })
        .collect();
    let refs: Vec<&Node> = nodes.iter().collect();
    wait_for(LIMIT, "full mesh through one name", || is_full_mesh(&refs)).await;
    wait_for(LIMIT, "every node ready (peers' snapshots in)", || {
        nodes.iter().all(|node| node.cluster.readiness().is_ok())
    })
    .await;
    for node in &nodes {
        node.stop().await;
    }
}
