//! Route security: TLS routes and route credentials. A node with wrong or
//! missing credentials or an untrusted certificate is refused and receives
//! nothing. Every certificate is generated at test time.

mod common;

use std::time::Duration;

use common::security::Pki;
use common::{eventually, test_options, TestServer, DEADLINE};
use futures::StreamExt;
use starling::options::{ClusterOptions, Options, TlsOptions};
use starling_tests::certs::CertFiles;
use tokio::time::Instant;

// --- Routes ---------------------------------------------------------------

const ROUTE_USER: &str = "ruser";
const ROUTE_PASSWORD: &str = "T0pS3cr3t";

/// A cluster node with route TLS (`certs`) and route credentials; its seeds
/// are dialed with `seed_credentials` in the URL.
fn secure_node(
    name: &str,
    certs: &CertFiles,
    seed_credentials: (&str, &str),
    seeds: &[&TestServer],
) -> Options {
    Options {
        server_name: Some(name.to_string()),
        cluster: Some(ClusterOptions {
            name: Some("secure".into()),
            host: "127.0.0.1".into(),
            port: 0,
            routes: seeds
                .iter()
                .map(|seed| {
                    format!(
                        "nats://{}:{}@{}",
                        seed_credentials.0,
                        seed_credentials.1,
                        seed.route.expect("clustered")
                    )
                })
                .collect(),
            user: Some(ROUTE_USER.into()),
            password: Some(ROUTE_PASSWORD.into()),
            tls: Some(TlsOptions {
                cert_file: certs.cert.clone(),
                key_file: certs.key.clone(),
                ca_file: Some(certs.ca.clone()),
                verify: true,
                ..TlsOptions::default()
            }),
            ..ClusterOptions::default()
        }),
        ..test_options()
    }
}

async fn num_routes(server: &TestServer) -> u64 {
    server.monitor_json("/routez").await["num_routes"]
        .as_u64()
        .unwrap_or(0)
}

/// Three nodes with TLS routes and credentials form the mesh and carry
/// traffic; a fourth node with wrong credentials, then one with a
/// certificate from another CA, is refused and receives nothing.
#[tokio::test]
async fn tls_routes_with_credentials_form_a_mesh_and_refuse_strangers() {
    let pki = Pki::new();
    let good = (ROUTE_USER, ROUTE_PASSWORD);
    let a = TestServer::start(secure_node("a", &pki.server, good, &[])).await;
    let b = TestServer::start(secure_node("b", &pki.client, good, &[&a])).await;
    let c = TestServer::start(secure_node("c", &pki.server, good, &[&a])).await;
    for node in [&a, &b, &c] {
        eventually("full TLS mesh", || async { num_routes(node).await == 2 }).await;
    }
    let on_c = common::nats_client(&c.url()).await;
    let mut subscription = on_c.subscribe("mesh.>").await.expect("subscribe");
    on_c.flush().await.expect("flush");
    let on_b = common::nats_client(&b.url()).await;
    // Interest crosses the mesh shortly after the SUB: probe until a
    // probe arrives.
    let deadline = Instant::now() + DEADLINE;
    loop {
        on_b.publish("mesh.probe", "x".into())
            .await
            .expect("publish");
        on_b.flush().await.expect("flush");
        if tokio::time::timeout(Duration::from_millis(100), subscription.next())
            .await
            .is_ok()
        {
            break;
        }
        assert!(Instant::now() < deadline, "interest never reached b");
    }
    on_b.publish("mesh.data", "over TLS".into())
        .await
        .expect("publish");
    loop {
        let message = tokio::time::timeout(DEADLINE, subscription.next())
            .await
            .expect("in time")
            .expect("message");
        if message.subject.as_str() == "mesh.data" {
            assert_eq!(message.payload, "over TLS");
            break;
        }
    }

    for (label, certs, credentials) in [
        ("wrong password", &pki.server, (ROUTE_USER, "wrong")),
        ("no credentials", &pki.server, ("", "")),
        ("untrusted certificate", &pki.stranger, good),
    ] {
        let mut options = secure_node("intruder", certs, credentials, &[&a, &b]);
        if credentials.0.is_empty() {
            if let Some(cluster) = options.cluster.as_mut() {
                cluster.routes = [&a, &b]
                    .iter()
                    .map(|seed| format!("nats://{}", seed.route.expect("clustered")))
                    .collect();
                cluster.user = None;
                cluster.password = None;
            }
        }
        let intruder = TestServer::start(options).await;
        let spy = common::nats_client(&intruder.url()).await;
        let mut spied = spy.subscribe("mesh.>").await.expect("subscribe");
        spy.flush().await.expect("flush");
        // Give it several dial rounds, with traffic flowing meanwhile.
        let until = Instant::now() + Duration::from_millis(1500);
        while Instant::now() < until {
            on_b.publish("mesh.secret", "x".into())
                .await
                .expect("publish");
            on_b.flush().await.expect("flush");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            num_routes(&intruder).await,
            0,
            "{label}: the intruder has no route"
        );
        assert_eq!(
            num_routes(&a).await,
            2,
            "{label}: a still has its two peers"
        );
        assert_eq!(
            num_routes(&b).await,
            2,
            "{label}: b still has its two peers"
        );
        let leaked = tokio::time::timeout(Duration::from_millis(100), spied.next()).await;
        assert!(leaked.is_err(), "{label}: the intruder received {leaked:?}");
        intruder.stop().await;
    }
    for node in [a, b, c] {
        node.stop().await;
    }
}

/// The same refusals with real processes configured from files, as an
/// operator sees them: the seed logs each refused node and why.
#[tokio::test]
async fn refused_route_peers_are_logged_by_the_binary() {
    use common::process::Process;
    let pki = Pki::new();
    let write_config = |name: &str, certs: &CertFiles, routes: &str| {
        let path = pki.dir.path().join(format!("{name}.conf"));
        let text = format!(
            "cluster {{\n  name: secure\n  listen: 127.0.0.1:-1\n  authorization {{ user: {ROUTE_USER}, password: {ROUTE_PASSWORD}, timeout: 1 }}\n  tls {{\n    cert_file: \"{}\"\n    key_file: \"{}\"\n    ca_file: \"{}\"\n    timeout: 1\n  }}\n  routes: [{routes}]\n}}\n",
            certs.cert.display(),
            certs.key.display(),
            certs.ca.display(),
        );
        std::fs::write(&path, text).expect("write config");
        path.to_string_lossy().to_string()
    };
    let seed_config = write_config("seed", &pki.server, "");
    let seed = Process::start(&["-a", "127.0.0.1", "-p", "-1", "-c", &seed_config]).await;
    let route = seed.route.expect("seed route listener");

    let wrong_password = write_config(
        "wrong-password",
        &pki.client,
        &format!("\"nats://{ROUTE_USER}:wrong@{route}\""),
    );
    let intruder = Process::start(&["-a", "127.0.0.1", "-p", "-1", "-c", &wrong_password]).await;
    let deadline = Instant::now() + DEADLINE;
    while !(seed.logged("route handshake failed") && seed.logged("authentication failure")) {
        assert!(
            Instant::now() < deadline,
            "seed never logged the bad credentials"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(intruder);

    let untrusted = write_config(
        "untrusted",
        &pki.stranger,
        &format!("\"nats://{ROUTE_USER}:{ROUTE_PASSWORD}@{route}\""),
    );
    let intruder = Process::start(&["-a", "127.0.0.1", "-p", "-1", "-c", &untrusted]).await;
    let deadline = Instant::now() + DEADLINE;
    while !(seed.logged("TLS route handshake error")
        && intruder.logged("TLS route handshake error"))
    {
        assert!(
            Instant::now() < deadline,
            "the untrusted certificate was never logged on both sides"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(intruder);
    drop(seed);
}
