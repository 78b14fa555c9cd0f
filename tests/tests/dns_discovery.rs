//! DNS discovery with real processes: three nodes on 127.0.0.1, .2 and .3
//! (one route port), each configured with the same single route URL whose
//! name resolves to all three addresses, form the full mesh. The name comes
//! from a hosts file given through the test-only `STARLING_TEST_HOSTS_FILE`
//! (the machine's /etc/hosts is not touched).

mod common;

use std::path::Path;
use std::time::Duration;

use common::process::Process;
use common::{http_get_json, DEADLINE};
use futures::StreamExt;
use tokio::time::Instant;

/// The name behind all three nodes.
const NAME: &str = "starling-mesh.test";

/// A port free on 127.0.0.1, .2 and .3 right now.
fn port_free_on_three_addresses() -> u16 {
    for _ in 0..50 {
        let first = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = first.local_addr().expect("addr").port();
        let others = ["127.0.0.2", "127.0.0.3"]
            .iter()
            .all(|host| std::net::TcpListener::bind((*host, port)).is_ok());
        if others {
            return port;
        }
    }
    panic!("no port free on all three loopback addresses");
}

/// Start node `index` on 127.0.0.`index`; `tls` is extra cluster config.
async fn start_node(dir: &Path, index: usize, port: u16, hosts: &Path, tls: &str) -> Process {
    let conf = dir.join(format!("n{index}.conf"));
    std::fs::write(
        &conf,
        format!(
            "server_name: n{index}\nhost: 127.0.0.{index}\nport: -1\nhttp: \"127.0.0.{index}:-1\"\n\
             cluster {{\n  name: dns\n  host: 127.0.0.{index}\n  port: {port}\n  \
             routes: [\"nats://{NAME}:{port}\"]\n  {tls}\n}}\n"
        ),
    )
    .expect("write config");
    Process::start_with_env(
        &["-c", conf.to_str().expect("utf-8 path")],
        &[(
            "STARLING_TEST_HOSTS_FILE",
            hosts.to_str().expect("utf-8 path"),
        )],
    )
    .await
}

async fn routes(process: &Process) -> u64 {
    let monitor = process.monitor.expect("monitoring on");
    http_get_json(monitor, "/routez").await["num_routes"]
        .as_u64()
        .unwrap_or(0)
}

/// Three nodes behind [`NAME`], each with `tls` in its cluster block, until
/// every node has two routes.
async fn mesh_behind_one_name(dir: &Path, tls: &str) -> Vec<Process> {
    let hosts = dir.join("hosts");
    std::fs::write(
        &hosts,
        format!("127.0.0.1 {NAME}\n127.0.0.2 {NAME}\n127.0.0.3 {NAME}\n"),
    )
    .expect("write hosts");
    let port = port_free_on_three_addresses();
    let mut nodes = Vec::new();
    for index in 1..=3 {
        nodes.push(start_node(dir, index, port, &hosts, tls).await);
    }
    let deadline = Instant::now() + DEADLINE;
    loop {
        let mut counts = Vec::new();
        for node in &nodes {
            counts.push(routes(node).await);
        }
        if counts == [2, 2, 2] {
            break;
        }
        assert!(Instant::now() < deadline, "mesh never formed: {counts:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        nodes.iter().all(|n| n.logged("test hosts file")),
        "every node resolved the name through the test hosts file"
    );
    nodes
}

#[tokio::test]
async fn one_route_url_naming_three_addresses_forms_the_mesh() {
    let dir = tempfile::tempdir().expect("temp dir");
    let nodes = mesh_behind_one_name(dir.path(), "").await;

    // Messages cross it.
    let subscriber = common::nats_client(&format!("nats://{}", nodes[2].addr)).await;
    let mut sub = subscriber.subscribe("dns.test").await.expect("subscribe");
    common::sync(&subscriber).await;
    let publisher = common::nats_client(&format!("nats://{}", nodes[0].addr)).await;
    let deadline = Instant::now() + DEADLINE;
    loop {
        publisher
            .publish("dns.test", "hello".into())
            .await
            .expect("publish");
        publisher.flush().await.expect("flush");
        if let Ok(Some(message)) =
            tokio::time::timeout(Duration::from_millis(100), sub.next()).await
        {
            assert_eq!(message.payload, "hello");
            break;
        }
        assert!(Instant::now() < deadline, "no message crossed the mesh");
    }
}

#[tokio::test]
async fn tls_routes_to_resolved_addresses_verify_the_name() {
    // The certificates carry only the name, not the addresses: a dial that
    // verified the address it went to would be refused.
    let dir = tempfile::tempdir().expect("temp dir");
    let authority = starling_tests::certs::Authority::new("dns test CA").expect("CA");
    let (cert, key) = authority.issue("mesh", &[NAME]).expect("leaf");
    let (ca_path, cert_path, key_path) = (
        dir.path().join("ca.pem"),
        dir.path().join("cert.pem"),
        dir.path().join("key.pem"),
    );
    for (path, text) in [
        (&ca_path, &authority.cert_pem),
        (&cert_path, &cert),
        (&key_path, &key),
    ] {
        std::fs::write(path, text).expect("write PEM");
    }
    let tls = format!(
        "tls {{ cert_file: \"{}\", key_file: \"{}\", ca_file: \"{}\" }}",
        cert_path.display(),
        key_path.display(),
        ca_path.display()
    );
    let nodes = mesh_behind_one_name(dir.path(), &tls).await;
    assert_eq!(nodes.len(), 3);
}
