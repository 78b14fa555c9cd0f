//! Test harness: in-process servers on 127.0.0.1:0, raw protocol clients,
//! real `starling` processes, and polling with deadlines (no sleeps).
#![allow(dead_code)]

pub mod jetstream;
pub mod operator;
pub mod process;
pub mod raw;
pub mod security;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use starling::options::Options;
use starling::server::{Server, ServerHandle};
use tokio::task::JoinHandle;

/// Longest any single wait in a test may take.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Options for a test server: loopback, ephemeral ports, monitoring on.
pub fn test_options() -> Options {
    Options {
        host: "127.0.0.1".into(),
        port: 0,
        http_port: Some(0),
        ..Options::default()
    }
}

/// A server running inside the test process.
pub struct TestServer {
    /// Client listener.
    pub addr: SocketAddr,
    /// Monitoring listener.
    pub monitor: Option<SocketAddr>,
    /// Route listener, when clustered.
    pub route: Option<SocketAddr>,
    /// Control handle.
    pub handle: ServerHandle,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Bind and start a server with `options`.
    pub async fn start(options: Options) -> TestServer {
        let server = Server::bind(options).await.expect("bind test server");
        let addr = server.client_addr().expect("client addr");
        let monitor = server.monitor_addr();
        let route = server.route_addr();
        let handle = server.handle();
        let task = tokio::spawn(server.run());
        TestServer {
            addr,
            monitor,
            route,
            handle,
            task: Some(task),
        }
    }

    /// A server with [`test_options`].
    pub async fn default() -> TestServer {
        Self::start(test_options()).await
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://{}", self.addr)
    }

    /// GET a monitoring endpoint and parse its JSON.
    pub async fn monitor_json(&self, path: &str) -> serde_json::Value {
        let addr = self.monitor.expect("monitoring enabled");
        http_get_json(addr, path).await
    }

    /// Stop and wait for the server to finish.
    pub async fn stop(mut self) {
        self.handle.shutdown();
        if let Some(task) = self.task.take() {
            tokio::time::timeout(DEADLINE, task)
                .await
                .expect("server stops in time")
                .expect("server task");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

/// GET `path` from an HTTP server and return (status, body).
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect monitor");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send request");
    let mut response = Vec::new();
    tokio::time::timeout(DEADLINE, stream.read_to_end(&mut response))
        .await
        .expect("response in time")
        .expect("read response");
    let text = String::from_utf8_lossy(&response).to_string();
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let body_start = text.find("\r\n\r\n").map(|i| i + 4).unwrap_or(text.len());
    let head = &text[..body_start];
    let mut body = text[body_start..].to_string();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, body)
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some(line_end) = rest.find("\r\n") {
        let size = usize::from_str_radix(rest[..line_end].trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.push_str(&rest[start..start + size]);
        rest = &rest[start + size + 2..];
    }
    out
}

/// GET `path` and parse the body as JSON (status must be 200).
pub async fn http_get_json(addr: SocketAddr, path: &str) -> serde_json::Value {
    let (status, body) = http_get(addr, path).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: bad JSON ({e}): {body}"))
}

/// Poll `check` until it returns true, failing the test after [`DEADLINE`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// An async-nats client connected to `url`.
pub async fn nats_client(url: &str) -> async_nats::Client {
    async_nats::connect(url).await.expect("async-nats connects")
}

/// A round trip through the server on `client`'s connection: everything the
/// client sent before (SUBs above all) has been processed when this returns.
/// (async-nats' `flush` only writes to the socket.)
pub async fn sync(client: &async_nats::Client) {
    use futures::StreamExt;
    let subject = format!("_SYNC.{}", rand::random::<u64>());
    let mut probe = client
        .subscribe(subject.clone())
        .await
        .expect("sync subscribe");
    client
        .publish(subject, "sync".into())
        .await
        .expect("sync publish");
    tokio::time::timeout(DEADLINE, probe.next())
        .await
        .expect("sync round trip in time")
        .expect("sync message");
}

/// Options for a clustered in-process node named `name` in cluster
/// `cluster`, seeded with `seeds` (loopback, ephemeral ports).
pub fn cluster_node_options(name: &str, cluster: &str, seeds: &[&TestServer]) -> Options {
    Options {
        server_name: Some(name.to_string()),
        cluster: Some(starling::options::ClusterOptions {
            name: Some(cluster.to_string()),
            host: "127.0.0.1".into(),
            port: 0,
            routes: seeds
                .iter()
                .map(|s| format!("nats://{}", s.route.expect("seed is clustered")))
                .collect(),
            ..starling::options::ClusterOptions::default()
        }),
        ..test_options()
    }
}

/// The next message on `sub`, failing the test after [`DEADLINE`].
pub async fn next_message(sub: &mut async_nats::Subscriber) -> async_nats::Message {
    use futures::StreamExt;
    tokio::time::timeout(DEADLINE, sub.next())
        .await
        .expect("message in time")
        .expect("subscription open")
}
