//! `/healthz` as a readiness signal, with real processes: 503 with a reason
//! until the node has tried its seeds and holds its peers' interest, 200
//! from then on; a lone node with an unreachable seed turns ready after the
//! grace period; nats-server's query parameters keep working.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use common::process::Process;
use common::raw::Raw;
use common::{http_get, DEADLINE};
use tokio::time::Instant;

/// Subscriptions on the first node: enough that its snapshot takes a while.
const SUBSCRIPTIONS: usize = 20_000;

/// Start a node from a config with `cluster_extra` inside its cluster block.
async fn start_node(dir: &Path, name: &str, cluster_extra: &str) -> Process {
    let conf = dir.join(format!("{name}.conf"));
    std::fs::write(
        &conf,
        format!(
            "server_name: {name}\nhost: 127.0.0.1\nport: -1\nhttp: \"127.0.0.1:-1\"\n\
             cluster {{\n  name: ready\n  host: 127.0.0.1\n  port: -1\n  {cluster_extra}\n}}\n"
        ),
    )
    .expect("write config");
    Process::start(&["-c", conf.to_str().expect("utf-8 path")]).await
}

/// (status, error text) of `/healthz` (with `query`).
async fn health(monitor: SocketAddr, query: &str) -> (u16, String) {
    let (status, body) = http_get(monitor, &format!("/healthz{query}")).await;
    let json: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("bad JSON ({e}): {body}"));
    let error = json["error"].as_str().unwrap_or_default().to_string();
    match status {
        200 => assert_eq!(json["status"], "ok", "{body}"),
        503 => assert_eq!(json["status"], "error", "{body}"),
        other => panic!("unexpected status {other}: {body}"),
    }
    (status, error)
}

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

#[tokio::test]
async fn lone_node_with_an_unreachable_seed_is_ready_after_the_grace_period() {
    let dir = tempfile::tempdir().expect("temp dir");
    let seed = format!("routes: [\"nats://127.0.0.1:{}\"]", closed_port());
    let node = start_node(
        dir.path(),
        "lone",
        &format!("{seed}\n  readiness_grace_period: \"2s\""),
    )
    .await;
    let started = Instant::now();
    let monitor = node.monitor.expect("monitoring on");
    let (status, reason) = health(monitor, "").await;
    assert_eq!(status, 503, "ready before the grace period ended");
    assert!(
        reason.contains("seed") || reason.contains("connecting"),
        "{reason}"
    );
    // The query parameters still parse, and still answer 503.
    assert_eq!(health(monitor, "?js-enabled-only=true").await.0, 503);
    let (status, bad) = http_get(monitor, "/healthz?js-enabled=perhaps").await;
    assert_eq!(status, 400, "{bad}");

    let deadline = Instant::now() + DEADLINE;
    loop {
        let (status, _) = health(monitor, "").await;
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "never became ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("lone node ready after {:?} (grace 2s)", started.elapsed());
    assert!(
        started.elapsed() + Duration::from_millis(500) >= Duration::from_secs(2),
        "ready well before the grace period"
    );
    assert_eq!(health(monitor, "?js-server-only=1").await.0, 200);
}

#[tokio::test]
async fn joining_node_is_ready_only_once_it_has_the_peers_interest() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = start_node(dir.path(), "first", "").await;
    // The first node has no seed: ready at once.
    assert_eq!(health(first.monitor.expect("monitor"), "").await.0, 200);
    let mut subscriber = Raw::connected(first.addr).await;
    let subs: String = (0..SUBSCRIPTIONS)
        .map(|i| format!("SUB interest.{i} {i}\r\n"))
        .collect();
    subscriber.send(&subs).await;
    subscriber.flush().await;

    let seed = format!(
        "routes: [\"nats://{}\"]",
        first.route.expect("route listener")
    );
    let joiner = start_node(dir.path(), "joiner", &seed).await;
    let monitor = joiner.monitor.expect("monitoring on");
    let mut reasons = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (status, reason) = health(monitor, "").await;
        if status == 200 {
            break;
        }
        if reasons.last() != Some(&reason) {
            reasons.push(reason);
        }
        assert!(Instant::now() < deadline, "never ready: {reasons:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Ready means: the route is up and every subscription of the first node
    // is known here.
    let (_, routez) = http_get(monitor, "/routez").await;
    let routez: serde_json::Value = serde_json::from_str(&routez).expect("routez JSON");
    assert_eq!(routez["num_routes"], 1, "{routez}");
    assert_eq!(
        routez["routes"][0]["subscriptions"].as_u64(),
        Some(SUBSCRIPTIONS as u64),
        "ready before the peer's whole interest arrived"
    );
    println!("503 reasons seen before ready: {reasons:?}");
}
