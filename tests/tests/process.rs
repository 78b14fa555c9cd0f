//! The real `starling` binary: nats-server's flags and config file, signals,
//! the pid file, and clear errors for what is not supported.

mod common;

use common::process::{run_to_end, Process};
use common::{http_get_json, DEADLINE};
use futures::StreamExt;
use std::time::Duration;

async fn round_trip(url: &str) {
    let client = async_nats::connect(url).await.expect("connect");
    let mut sub = client.subscribe("process.test").await.unwrap();
    client.flush().await.unwrap();
    client.publish("process.test", "hi".into()).await.unwrap();
    let message = common::next_message(&mut sub).await;
    assert_eq!(message.payload, "hi");
}

#[tokio::test]
async fn flags_start_a_node_with_monitoring() {
    let process =
        Process::start(&["-a", "127.0.0.1", "-p", "-1", "-m", "-1", "-n", "node-a"]).await;
    round_trip(&format!("nats://{}", process.addr)).await;
    let monitor = process.monitor.expect("monitor announced");
    let health = http_get_json(monitor, "/healthz").await;
    assert_eq!(health["status"], "ok");
    let client = async_nats::connect(format!("nats://{}", process.addr))
        .await
        .unwrap();
    assert_eq!(client.server_info().server_name, "node-a");
}

#[tokio::test]
async fn long_flags_work_with_one_dash() {
    let process =
        Process::start(&["-addr", "127.0.0.1", "-port", "-1", "--name=single-dash"]).await;
    let client = async_nats::connect(format!("nats://{}", process.addr))
        .await
        .unwrap();
    assert_eq!(client.server_info().server_name, "single-dash");
}

#[tokio::test]
async fn config_file_users_and_permissions_with_flags_winning() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("starling.conf");
    std::fs::write(
        &conf,
        r#"
# nats-server syntax
PASS: "s3cret"
listen: 127.0.0.1:4999
server_name = from-file
max_payload: 64KB
authorization {
  users: [
    { user: alice, password: $PASS, permissions: { publish: ["public.>", "_INBOX.>"], subscribe: ["public.>", "_INBOX.>"] } }
    { user: admin, password: $PASS }
  ]
}
"#,
    )
    .unwrap();
    let conf = conf.to_str().unwrap();
    // -p and -n override the file.
    let process = Process::start(&["-c", conf, "-p", "-1", "-n", "from-flag"]).await;
    let url = format!("nats://{}", process.addr);
    let admin = async_nats::ConnectOptions::with_user_and_password("admin".into(), "s3cret".into())
        .connect(&url)
        .await
        .unwrap();
    assert_eq!(admin.server_info().server_name, "from-flag");
    assert_eq!(admin.server_info().max_payload, 64 * 1024);
    let alice = async_nats::ConnectOptions::with_user_and_password("alice".into(), "s3cret".into())
        .connect(&url)
        .await
        .unwrap();
    let mut sub = alice.subscribe("public.news").await.unwrap();
    alice.flush().await.unwrap();
    // async-nats' flush only writes out: the SUB may still be on its way
    // when the first publish arrives, so publish until one is delivered.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let message = loop {
        admin.publish("public.news", "ok".into()).await.unwrap();
        admin.flush().await.unwrap();
        if let Ok(message) = tokio::time::timeout(Duration::from_millis(100), sub.next()).await {
            break message.unwrap();
        }
        assert!(tokio::time::Instant::now() < deadline, "no message");
    };
    assert_eq!(message.payload, "ok");
    let error = async_nats::ConnectOptions::with_user_and_password("alice".into(), "wrong".into())
        .connect(&url)
        .await
        .unwrap_err();
    assert_eq!(
        error.kind(),
        async_nats::ConnectErrorKind::AuthorizationViolation
    );
}

#[tokio::test]
async fn unsupported_options_are_clear_startup_errors() {
    let (code, _, stderr) = run_to_end(&["--profile", "6060"]).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("--profile"), "{stderr}");
    let dir = tempfile::tempdir().unwrap();
    for (key, body) in [
        ("leafnodes", "leafnodes { port: 7422 }"),
        ("gateway", "gateway { port: 7222 }"),
    ] {
        let conf = dir.path().join(format!("{key}.conf"));
        std::fs::write(&conf, format!("port: -1\n{body}\n")).unwrap();
        let (code, _, stderr) = run_to_end(&["-c", conf.to_str().unwrap()]).await;
        assert_eq!(code, 1, "{key}: {stderr}");
        assert!(stderr.contains(key), "{key}: {stderr}");
    }
}

#[tokio::test]
async fn malformed_config_reports_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("bad.conf");
    std::fs::write(
        &conf,
        "port: -1\nserver_name: ok\nauthorization {\n  user: a\n  bogus_key: 1\n}\n",
    )
    .unwrap();
    let (code, _, stderr) = run_to_end(&["-c", conf.to_str().unwrap()]).await;
    assert_eq!(code, 1);
    assert!(
        stderr.contains("bogus_key") && stderr.contains('5'),
        "{stderr}"
    );
    std::fs::write(&conf, "port: -1\nmax_payload: [1, \n").unwrap();
    let (code, _, stderr) = run_to_end(&["-c", conf.to_str().unwrap()]).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("line"), "{stderr}");
}

#[tokio::test]
async fn version_and_config_test_flags() {
    let (code, stdout, _) = run_to_end(&["-v"]).await;
    assert_eq!(code, 0);
    assert!(stdout.contains("starling version"), "{stdout}");
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("ok.conf");
    std::fs::write(&conf, "port: 4333\n").unwrap();
    let (code, stdout, stderr) = run_to_end(&["-t", "-c", conf.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("test is successful"), "{stdout}");
}

#[tokio::test]
async fn sigterm_and_signal_quit_stop_gracefully() {
    let mut process = Process::start(&["-a", "127.0.0.1", "-p", "-1"]).await;
    round_trip(&format!("nats://{}", process.addr)).await;
    process.signal(15);
    assert_eq!(process.wait().await, Some(0));

    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("starling.pid");
    let pid_path = pid_file.to_str().unwrap();
    let mut process = Process::start(&["-a", "127.0.0.1", "-p", "-1", "-P", pid_path]).await;
    let written = std::fs::read_to_string(&pid_file).unwrap();
    assert_eq!(written.trim(), process.pid().to_string());
    let (code, _, stderr) = run_to_end(&["--signal", &format!("quit={pid_path}")]).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(process.wait().await, Some(0));
    assert!(!pid_file.exists(), "pid file removed on exit");
}
