//! Shared helpers for the cluster's integration tests: a recording handler,
//! nodes on loopback TCP or on the in-memory network, polling with deadlines
//! and a log capture.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use starling_cluster::memory::MemoryNetwork;
use starling_cluster::{Cluster, ClusterConfig, ClusterHandler, Peer};
use starling_proto::route::{InterestChange, RouteMsg};
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Records every handler call and checks the route invariants as they
/// happen: never two live routes for one node, down only after up.
#[derive(Default)]
pub struct Recorder {
    /// Live routes: rid → node id.
    pub live: Mutex<BTreeMap<u64, String>>,
    pub ups: AtomicUsize,
    pub downs: AtomicUsize,
    pub violations: Mutex<Vec<String>>,
    pub interest: Mutex<Vec<(String, InterestChange)>>,
    pub messages: Mutex<Vec<(String, RouteMsg)>>,
    pub members_changed: AtomicUsize,
}

impl ClusterHandler for Recorder {
    fn peer_up(&self, peer: &Arc<Peer>) {
        let mut live = self.live.lock().unwrap();
        if live.values().any(|id| *id == peer.node_id) {
            self.violations
                .lock()
                .unwrap()
                .push(format!("second live route to {}", peer.node_id));
        }
        live.insert(peer.rid, peer.node_id.clone());
        self.ups.fetch_add(1, Ordering::SeqCst);
    }

    fn peer_down(&self, peer: &Arc<Peer>) {
        if self.live.lock().unwrap().remove(&peer.rid).is_none() {
            self.violations
                .lock()
                .unwrap()
                .push(format!("peer_down for route {} that was not up", peer.rid));
        }
        self.downs.fetch_add(1, Ordering::SeqCst);
    }

    fn interest(&self, peer: &Arc<Peer>, changes: Vec<InterestChange>) {
        let mut interest = self.interest.lock().unwrap();
        interest.extend(changes.into_iter().map(|c| (peer.node_id.clone(), c)));
    }

    fn messages(&self, peer: &Arc<Peer>, messages: &mut Vec<RouteMsg>) {
        let mut recorded = self.messages.lock().unwrap();
        recorded.extend(messages.drain(..).map(|m| (peer.node_id.clone(), m)));
    }

    fn members_changed(&self) {
        self.members_changed.fetch_add(1, Ordering::SeqCst);
    }
}

impl Recorder {
    pub fn live_nodes(&self) -> Vec<String> {
        let mut nodes: Vec<String> = self.live.lock().unwrap().values().cloned().collect();
        nodes.sort();
        nodes
    }

    pub fn violations(&self) -> Vec<String> {
        self.violations.lock().unwrap().clone()
    }
}

/// A running node.
pub struct Node {
    pub id: String,
    pub cluster: Arc<Cluster>,
    pub recorder: Arc<Recorder>,
    pub shutdown: CancellationToken,
}

impl Node {
    pub fn addr(&self) -> SocketAddr {
        self.cluster.listen_addr()
    }

    /// Node ids of the established routes, sorted.
    pub fn peer_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .cluster
            .peers()
            .iter()
            .map(|p| p.node_id.clone())
            .collect();
        ids.sort();
        ids
    }

    pub fn peer(&self, node_id: &str) -> Option<Arc<Peer>> {
        self.cluster
            .peers()
            .into_iter()
            .find(|p| p.node_id == node_id)
    }

    pub async fn stop(&self) {
        self.shutdown.cancel();
        within(
            Duration::from_secs(5),
            "node shutdown",
            self.cluster.closed(),
        )
        .await;
    }
}

/// A config with short timers for tests.
pub fn config(id: &str, seeds: Vec<String>) -> ClusterConfig {
    ClusterConfig {
        node_id: id.to_string(),
        node_name: format!("name-{id}"),
        cluster_name: Some("test".to_string()),
        advertise: None,
        seeds,
        user: None,
        password: None,
        client_urls: vec![format!("{id}.clients:4222")],
        connect_retries: 0,
        ping_interval: Duration::from_millis(200),
        ping_max: 2,
        handshake_timeout: Duration::from_millis(500),
        max_pending: 64 * 1024 * 1024,
        readiness_grace: Duration::from_millis(500),
        resolver: Arc::new(starling_cluster::SystemResolver),
    }
}

/// A seed URL for a node.
pub fn seed(addr: SocketAddr) -> String {
    format!("nats://{addr}")
}

/// Start a node on 127.0.0.1:0.
pub async fn tcp_node(config: ClusterConfig) -> Node {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    tcp_node_on(config, listener)
}

/// Start a node on a bound listener.
pub fn tcp_node_on(config: ClusterConfig, listener: TcpListener) -> Node {
    let recorder = Arc::new(Recorder::default());
    let shutdown = CancellationToken::new();
    let id = config.node_id.clone();
    let cluster = Cluster::start(config, listener, recorder.clone(), shutdown.clone());
    Node {
        id,
        cluster,
        recorder,
        shutdown,
    }
}

/// Start a node on the in-memory network at `addr`.
pub fn memory_node(
    network: &Arc<MemoryNetwork>,
    addr: SocketAddr,
    config: ClusterConfig,
    seed: u64,
) -> Node {
    let listener = network.bind(addr).unwrap();
    let transport = Arc::new(network.transport(addr));
    let recorder = Arc::new(Recorder::default());
    let shutdown = CancellationToken::new();
    let id = config.node_id.clone();
    let cluster = Cluster::start_with(
        config,
        Box::new(listener),
        transport,
        StdRng::seed_from_u64(seed),
        recorder.clone(),
        shutdown.clone(),
    );
    Node {
        id,
        cluster,
        recorder,
        shutdown,
    }
}

/// Poll `condition` until it holds; panic with `what` after `limit`.
pub async fn wait_for(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Await `future`, panicking with `what` after `limit`.
pub async fn within<T>(limit: Duration, what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out: {what}"),
    }
}

/// Every node has exactly one route to every other node, the two ends of
/// each pair agree (one dialed, the other accepted), and every node's
/// handler has exactly those routes up.
pub fn is_full_mesh(nodes: &[&Node]) -> bool {
    for node in nodes {
        let mut expected: Vec<String> = nodes
            .iter()
            .filter(|n| n.id != node.id)
            .map(|n| n.id.clone())
            .collect();
        expected.sort();
        if node.peer_ids() != expected || node.recorder.live_nodes() != expected {
            return false;
        }
    }
    for a in nodes {
        for b in nodes {
            if a.id < b.id {
                let (Some(ab), Some(ba)) = (a.peer(&b.id), b.peer(&a.id)) else {
                    return false;
                };
                if ab.did_solicit == ba.did_solicit {
                    return false;
                }
            }
        }
    }
    true
}

/// The log lines of the whole test binary, captured once.
pub fn logs() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer_buffer = buffer.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("starling_cluster=debug"))
            .with_ansi(false)
            .with_writer(move || Capture(writer_buffer.clone()))
            .try_init();
        buffer
    })
}

/// Log lines mentioning `node` and `text`.
pub fn log_lines(node: &str, text: &str) -> Vec<String> {
    let logs = logs().lock().unwrap();
    let node = format!("node={node} ");
    String::from_utf8_lossy(&logs)
        .lines()
        .filter(|line| line.contains(&node) && line.contains(text))
        .map(str::to_string)
        .collect()
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
