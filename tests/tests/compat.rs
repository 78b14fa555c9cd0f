//! nats-server compatibility found by the official Go client's tests
//! (issue 8 section 1), checked on the real binary: a portless `cluster`
//! block, `no_header_support`, listeners that cannot bind, the ports file
//! and `no_auth_user`. Each expectation was first observed on nats-server
//! 2.9.10 (and 2.15.1) with the same input.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use common::process::{run_to_end, Process};
use common::raw::Raw;
use common::{eventually, http_get_json, TestServer};

fn write_conf(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write config");
    path.to_string_lossy().into_owned()
}

#[tokio::test]
async fn two_servers_with_a_portless_cluster_block_share_a_machine() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = write_conf(dir.path(), "named.conf", "cluster { name: compat-x }\n");
    let args = [
        "-c",
        conf.as_str(),
        "-a",
        "127.0.0.1",
        "-p",
        "-1",
        "-m",
        "-1",
    ];
    // Both start: neither takes the default route port.
    let first = Process::start(&args).await;
    let second = Process::start(&args).await;
    for process in [&first, &second] {
        assert_eq!(process.route, None, "no route listener announced");
        assert!(!process.logged("Listening for route connections"));
        let raw = Raw::connect(process.addr).await;
        assert_eq!(raw.info["cluster"], "compat-x", "INFO: {}", raw.info);
        let client = async_nats::connect(format!("nats://{}", process.addr))
            .await
            .expect("connect");
        assert_eq!(client.server_info().cluster.as_deref(), Some("compat-x"));
        let varz = http_get_json(process.monitor.expect("monitor"), "/varz").await;
        // nats-server 2.9.10: `"cluster": {"name": "compat-x"}`, nothing else.
        assert_eq!(varz["cluster"], serde_json::json!({"name": "compat-x"}));
        assert_eq!(varz["routes"], 0);
    }
}

#[tokio::test]
async fn routes_in_a_portless_cluster_block_are_not_dialed_and_say_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = write_conf(
        dir.path(),
        "routes.conf",
        "cluster { name: c, routes: [nats://127.0.0.1:1] }\n",
    );
    let process = Process::start(&["-c", &conf, "-a", "127.0.0.1", "-p", "-1"]).await;
    eventually("the warning about undialed routes", || async {
        process.logged("cluster routes are not dialed without a cluster port")
    })
    .await;
    assert_eq!(process.route, None);
    // nats-server: `--routes` needs a cluster listener, a name is not one.
    let (code, _, stderr) = run_to_end(&["-c", &conf, "--routes", "nats://127.0.0.1:1"]).await;
    assert_eq!(code, 1);
    assert!(
        stderr.contains("solicited routes require cluster capabilities"),
        "{stderr}"
    );
}

#[tokio::test]
async fn no_header_support_refuses_headers_as_nats_server_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = write_conf(dir.path(), "headers.conf", "no_header_support: true\n");
    let process = Process::start(&["-c", &conf, "-a", "127.0.0.1", "-p", "-1"]).await;
    // What async-nats and nats.go send by default: headers + no_responders.
    let mut raw = Raw::connect(process.addr).await;
    assert_eq!(raw.info["headers"], false, "INFO: {}", raw.info);
    raw.send("CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\nPING\r\n")
        .await;
    assert_eq!(
        raw.expect_closed().await,
        vec!["-ERR 'no responders requires headers support'"]
    );
    // headers:true alone is accepted, but treated as false: HPUB closes
    // the connection without an -ERR (nats-server: Protocol Violation).
    let mut raw = Raw::connect_with(process.addr, r#"{"verbose":false,"headers":true}"#).await;
    raw.send("HPUB compat.h 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\n")
        .await;
    assert_eq!(raw.expect_closed().await, Vec::<String>::new());
    // Plain messages still flow.
    let mut raw = Raw::connect_with(process.addr, r#"{"verbose":false}"#).await;
    raw.send("SUB compat.p 1\r\nPUB compat.p 2\r\nhi\r\n").await;
    raw.expect_msg("compat.p", "1", None, "hi").await;
}

#[tokio::test]
async fn headers_are_stripped_for_a_subscriber_that_did_not_ask_for_them() {
    let server = TestServer::default().await;
    let mut plain = Raw::connect_with(server.addr, r#"{"verbose":false,"headers":false}"#).await;
    plain.send("SUB compat.s 1\r\nPING\r\n").await;
    plain.expect("PONG").await;
    let mut publisher = Raw::connected(server.addr).await;
    publisher
        .send("HPUB compat.s 18 20\r\nNATS/1.0\r\nA: B\r\n\r\nhi\r\nPING\r\n")
        .await;
    publisher.expect("PONG").await;
    plain.expect_msg("compat.s", "1", None, "hi").await;
    server.stop().await;
}

/// Runs starling with `args` while something holds `taken`; returns stderr.
async fn bind_failure(args: &[&str]) -> String {
    let (code, _, stderr) = run_to_end(args).await;
    assert_eq!(code, 1, "exit code; stderr: {stderr}");
    stderr
}

#[tokio::test]
async fn a_listener_that_cannot_bind_names_itself_and_its_address() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let stderr = bind_failure(&["-a", "127.0.0.1", "-p", &port]).await;
    let expected =
        format!("cannot listen for client connections on 127.0.0.1:{port}: address already in use");
    assert!(stderr.contains(&expected), "{stderr}");
    let stderr = bind_failure(&["-a", "127.0.0.1", "-p", "-1", "-m", &port]).await;
    assert!(
        stderr.contains(&format!("cannot listen for monitoring on 127.0.0.1:{port}")),
        "{stderr}"
    );
    let cluster = format!("nats://127.0.0.1:{port}");
    let stderr = bind_failure(&["-a", "127.0.0.1", "-p", "-1", "--cluster", &cluster]).await;
    assert!(
        stderr.contains(&format!(
            "cannot listen for route connections on 127.0.0.1:{port}"
        )),
        "{stderr}"
    );
    drop(taken);
}

fn ports_file(dir: &Path, pid: i32) -> PathBuf {
    dir.join(format!("starling_{pid}.ports"))
}

#[tokio::test]
async fn the_ports_file_lists_every_listener_and_goes_at_shutdown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir_arg = dir.path().to_string_lossy().into_owned();
    let mut process = Process::start(&[
        "-a",
        "127.0.0.1",
        "-p",
        "-1",
        "-m",
        "-1",
        "--cluster",
        "nats://127.0.0.1:-1",
        "--ports_file_dir",
        &dir_arg,
    ])
    .await;
    let path = ports_file(dir.path(), process.pid());
    eventually("the ports file", || async { path.exists() }).await;
    let ports: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    let url = |scheme: &str, addr: Option<SocketAddr>| {
        serde_json::json!([format!("{scheme}://{}", addr.expect("announced"))])
    };
    assert_eq!(ports["nats"], url("nats", Some(process.addr)));
    assert_eq!(ports["monitoring"], url("http", process.monitor));
    assert_eq!(ports["cluster"], url("nats", process.route));
    process.signal(15);
    assert_eq!(process.wait().await, Some(0));
    assert!(!path.exists(), "removed at shutdown");
}

#[tokio::test]
async fn no_auth_user_logs_in_clients_that_present_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = write_conf(
        dir.path(),
        "noauth.conf",
        "authorization { users: [\n  {user: a, password: pa, permissions: {publish: \"ok.>\", subscribe: \"ok.>\"}}\n  {user: b, password: pb}\n] }\nno_auth_user: a\n",
    );
    let process = Process::start(&["-c", &conf, "-a", "127.0.0.1", "-p", "-1"]).await;
    // nats-server leaves auth_required out of INFO then.
    let mut anonymous = Raw::connect_with(process.addr, r#"{"verbose":false}"#).await;
    assert_eq!(
        anonymous.info.get("auth_required"),
        None,
        "{}",
        anonymous.info
    );
    anonymous
        .send("SUB ok.1 1\r\nPUB ok.1 1\r\nx\r\nPUB bad 1\r\nx\r\n")
        .await;
    anonymous.expect_msg("ok.1", "1", None, "x").await;
    anonymous
        .expect("-ERR 'Permissions Violation for Publish to \"bad\"'")
        .await;
    // Credentials are still checked: b may publish anywhere, a wrong
    // password never falls back to the no_auth_user.
    let mut b =
        Raw::connect_with(process.addr, r#"{"verbose":false,"user":"b","pass":"pb"}"#).await;
    b.send("SUB bad 1\r\nPUB bad 1\r\ny\r\n").await;
    b.expect_msg("bad", "1", None, "y").await;
    let mut wrong = Raw::connect(process.addr).await;
    wrong
        .send("CONNECT {\"verbose\":false,\"user\":\"b\",\"pass\":\"nope\"}\r\nPING\r\n")
        .await;
    assert_eq!(
        wrong.expect_closed().await,
        vec!["-ERR 'Authorization Violation'"]
    );
}

#[tokio::test]
async fn disable_sublist_cache_leaves_the_match_cache_empty() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cache_sizes = Vec::new();
    for (name, text) in [
        ("cached.conf", ""),
        ("uncached.conf", "disable_sublist_cache: true\n"),
    ] {
        let conf = write_conf(dir.path(), name, text);
        let process =
            Process::start(&["-c", &conf, "-a", "127.0.0.1", "-p", "-1", "-m", "-1"]).await;
        let mut raw = Raw::connected(process.addr).await;
        raw.send("SUB compat.c 1\r\nPUB compat.c 1\r\nx\r\nPUB compat.c 1\r\nx\r\n")
            .await;
        raw.expect_msg("compat.c", "1", None, "x").await;
        raw.expect_msg("compat.c", "1", None, "x").await;
        let subsz = http_get_json(process.monitor.expect("monitor"), "/subsz").await;
        cache_sizes.push(subsz["num_cache"].as_u64().expect("num_cache"));
    }
    assert!(cache_sizes[0] > 0, "cache used by default: {cache_sizes:?}");
    assert_eq!(cache_sizes[1], 0, "no cache when disabled: {cache_sizes:?}");
}

#[tokio::test]
async fn a_server_whose_stderr_reader_went_away_still_stops_on_sigterm() {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(common::process::starling_binary())
        .args(["-a", "127.0.0.1", "-p", "-1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    let ready = tokio::time::timeout(common::DEADLINE, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("Server is ready") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(ready, Ok(true));
    // Like `starling | head`: the next log line hits a broken pipe.
    drop(lines);
    let pid = child.id().expect("pid").to_string();
    let status = std::process::Command::new("kill")
        .args(["-15", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = tokio::time::timeout(common::DEADLINE, child.wait())
        .await
        .expect("exits on SIGTERM although its log line could not be written")
        .expect("wait");
    assert_eq!(exit.code(), Some(0));
}

/// nats-server's key id: hex SHA-256 of the certificate's
/// SubjectPublicKeyInfo, here rebuilt from the private key (independent of
/// the certificate parsing the server does).
fn pinned_key_id(key_file: &Path) -> String {
    use rcgen::PublicKeyData;
    let pem = std::fs::read_to_string(key_file).expect("read key");
    let key = rcgen::KeyPair::from_pem(&pem).expect("key");
    let digest = ring::digest::digest(&ring::digest::SHA256, &key.subject_public_key_info());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn pinned_certs_admit_only_the_pinned_client_keys() {
    use common::security::{tls_client, tls_server_options, Pki};
    let pki = Pki::new();
    let tls = starling::options::TlsOptions {
        pinned_certs: vec![pinned_key_id(&pki.client.key)],
        ..pki.tls(true)
    };
    let server = TestServer::start(tls_server_options(tls)).await;
    let url = format!("tls://{}", server.addr);
    let pinned = tls_client(&pki.server.ca)
        .add_client_certificate(pki.client.cert.clone(), pki.client.key.clone())
        .connect(&url)
        .await
        .expect("the pinned certificate connects");
    pinned.flush().await.expect("flush");
    // Signed by the same CA, so it verifies, but its key is not pinned.
    let unpinned = tls_client(&pki.server.ca)
        .add_client_certificate(pki.server.cert.clone(), pki.server.key.clone())
        .connect(&url)
        .await;
    assert!(unpinned.is_err(), "an unpinned certificate is refused");
    let connz = server.monitor_json("/connz?state=closed").await;
    assert!(
        connz["connections"]
            .as_array()
            .expect("connections")
            .iter()
            .any(|c| c["reason"] == "TLS Handshake Failure"),
        "{connz}"
    );
    server.stop().await;
}
