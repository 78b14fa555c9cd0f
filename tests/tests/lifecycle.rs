//! Lifecycle: lame duck moves clients to another node without errors
//! reaching the application; SIGHUP reload changes who may connect.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::process::Process;
use common::{eventually, TestServer, DEADLINE};
use futures::StreamExt;
use starling::options::Options;

fn node_options(name: &str, seed: Option<&TestServer>) -> Options {
    let seeds: Vec<&TestServer> = seed.into_iter().collect();
    Options {
        lame_duck_grace_period: Duration::from_millis(200),
        lame_duck_duration: Duration::from_millis(600),
        ..common::cluster_node_options(name, "ldm", &seeds)
    }
}

#[tokio::test]
async fn lame_duck_moves_a_client_to_another_node_without_errors() {
    let a = TestServer::start(node_options("a", None)).await;
    let b = TestServer::start(node_options("b", Some(&a))).await;
    for server in [&a, &b] {
        let state = server.handle.state().clone();
        eventually("mesh", || {
            let state = state.clone();
            async move { state.cluster.get().is_some_and(|c| c.peers().len() == 1) }
        })
        .await;
    }
    let errors = Arc::new(AtomicUsize::new(0));
    let lame_duck_seen = Arc::new(AtomicUsize::new(0));
    let (errors_cb, ldm_cb) = (errors.clone(), lame_duck_seen.clone());
    // Connected to B only; A is learned from connect_urls.
    let client = async_nats::ConnectOptions::new()
        .event_callback(move |event| {
            let (errors, ldm) = (errors_cb.clone(), ldm_cb.clone());
            async move {
                match event {
                    async_nats::Event::LameDuckMode => {
                        ldm.fetch_add(1, Ordering::SeqCst);
                    }
                    async_nats::Event::ServerError(_) | async_nats::Event::ClientError(_) => {
                        errors.fetch_add(1, Ordering::SeqCst);
                    }
                    _ => {}
                }
            }
        })
        .connect(b.url())
        .await
        .unwrap();
    let mut sub = client.subscribe("ldm.moves").await.unwrap();
    client.flush().await.unwrap();
    assert_eq!(client.server_info().server_name, "b");

    b.handle.enter_lame_duck();
    // Keep publishing through the move: no call may fail.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut received = 0;
    while client.server_info().server_name != "a" || received < 5 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "client never moved to A"
        );
        client
            .publish("ldm.moves", "hi".into())
            .await
            .expect("publish never fails");
        if let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(20), sub.next()).await {
            if client.server_info().server_name == "a" {
                received += 1;
            }
        }
    }
    assert_eq!(
        lame_duck_seen.load(Ordering::SeqCst),
        1,
        "client saw the ldm INFO"
    );
    assert_eq!(
        errors.load(Ordering::SeqCst),
        0,
        "no error reached the application"
    );
    // B finished its lame duck and stopped.
    let state = b.handle.state().clone();
    eventually("B shut down", || {
        let state = state.clone();
        async move { state.shutdown.is_cancelled() }
    })
    .await;
}

#[tokio::test]
async fn sighup_reload_changes_who_may_connect() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("auth.conf");
    let write = |users: &[&str]| {
        let entries: Vec<String> = users
            .iter()
            .map(|user| format!("{{ user: {user}, password: pw }}"))
            .collect();
        std::fs::write(
            &conf,
            format!(
                "listen: 127.0.0.1:-1\nauthorization {{ users: [ {} ] }}\n",
                entries.join(", ")
            ),
        )
        .unwrap()
    };
    write(&["alice", "carol"]);
    let process = Process::start(&["-c", conf.to_str().unwrap()]).await;
    let url = format!("nats://{}", process.addr);
    let connect = |user: &'static str| {
        let url = url.clone();
        async move {
            async_nats::ConnectOptions::with_user_and_password(user.into(), "pw".into())
                .max_reconnects(Some(1))
                .connect(url)
                .await
        }
    };
    let alice = connect("alice").await.expect("alice allowed at first");
    let carol = connect("carol").await.expect("carol allowed");
    assert!(connect("bob").await.is_err());

    write(&["bob", "carol"]);
    process.signal(1); // SIGHUP
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while connect("bob").await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "reload never let bob in"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let error = connect("alice").await.unwrap_err();
    assert_eq!(
        error.kind(),
        async_nats::ConnectErrorKind::AuthorizationViolation
    );
    assert!(process.logged("reloaded server configuration"));
    // The connection alice already had is closed; carol's, still allowed, works.
    eventually("alice's open connection is dropped", || async {
        alice.connection_state() != async_nats::connection::State::Connected
    })
    .await;
    let mut sub = carol.subscribe("still.here").await.unwrap();
    common::sync(&carol).await;
    carol.publish("still.here", "yes".into()).await.unwrap();
    let message = common::next_message(&mut sub).await;
    assert_eq!(message.payload, "yes");
    assert_eq!(
        carol.connection_state(),
        async_nats::connection::State::Connected
    );
}
