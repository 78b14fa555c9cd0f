//! Stream and service imports between accounts: subject mappings,
//! private exports, response tracking (singleton once, stream several),
//! import cycles refused, and a three-node cluster where publisher,
//! importer and responder are on different nodes.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{eventually, next_message, sync, test_options, TestServer};
use futures::StreamExt;
use starling::options::Options;

const IMPORTS: &str = r#"
accounts {
  A: {
    users: [ {user: a, password: pa} ]
    exports: [
      {stream: "events.>"}
      {stream: "alerts.*"}
      {service: "echo"}
      {service: "feed", response_type: stream}
      {service: "svc.*", response_type: chunked}
    ]
  }
  B: {
    users: [ {user: b, password: pb} ]
    imports: [
      {stream: {account: A, subject: "events.>"}, prefix: "fromA"}
      {stream: {account: A, subject: "alerts.*"}, to: "mine.*"}
      {service: {account: A, subject: "echo"}, to: "a.echo"}
      {service: {account: A, subject: "feed"}}
      {service: {account: A, subject: "svc.*"}}
    ]
  }
}
"#;

/// `test_options` plus the accounts of `config` (nats-server syntax).
fn options_with(config: &str) -> Options {
    let parsed = starling::config::parse_str(config, Path::new(".")).expect("config parses");
    Options {
        accounts: parsed.accounts,
        authorization: parsed.authorization,
        ..test_options()
    }
}

async fn client(server: &TestServer, user: &str, password: &str) -> async_nats::Client {
    async_nats::ConnectOptions::new()
        .user_and_password(user.into(), password.into())
        .connect(server.addr.to_string())
        .await
        .expect("connects")
}

/// No message arrives on `sub` within a short wait (after the publisher
/// synced, so anything routed would already be queued).
async fn assert_silent(sub: &mut async_nats::Subscriber) {
    let got = tokio::time::timeout(Duration::from_millis(300), sub.next()).await;
    assert!(got.is_err(), "unexpected message: {got:?}");
}

fn config_error(config: &str) -> String {
    match starling::config::parse_str(config, Path::new(".")) {
        Ok(_) => panic!("config accepted: {config}"),
        Err(error) => error.to_string(),
    }
}

#[tokio::test]
async fn stream_imports_map_with_prefix_and_to() {
    let server = TestServer::start(options_with(IMPORTS)).await;
    let a = client(&server, "a", "pa").await;
    let b = client(&server, "b", "pb").await;
    let mut prefixed = b.subscribe("fromA.events.>").await.unwrap();
    let mut mapped = b.subscribe("mine.*").await.unwrap();
    let mut unmapped = b.subscribe("events.>").await.unwrap();
    let mut in_a = a.subscribe("events.>").await.unwrap();
    sync(&b).await;
    sync(&a).await;

    a.publish("events.x.1", "e1".into()).await.unwrap();
    a.publish("alerts.fire", "al".into()).await.unwrap();
    sync(&a).await;
    let got = next_message(&mut prefixed).await;
    assert_eq!(
        (got.subject.as_str(), &got.payload[..]),
        ("fromA.events.x.1", &b"e1"[..])
    );
    let got = next_message(&mut mapped).await;
    assert_eq!(
        (got.subject.as_str(), &got.payload[..]),
        ("mine.fire", &b"al"[..])
    );
    assert_eq!(next_message(&mut in_a).await.payload, "e1");
    // Exactly once, and B's own `events.>` is not the import.
    assert_silent(&mut prefixed).await;
    assert_silent(&mut unmapped).await;

    // Nothing flows back: B publishing on the exported subject stays in B.
    b.publish("events.x.2", "from b".into()).await.unwrap();
    sync(&b).await;
    assert_eq!(next_message(&mut unmapped).await.payload, "from b");
    assert_silent(&mut in_a).await;
}

#[tokio::test]
async fn service_import_request_reply_crosses_accounts_with_to_mapping() {
    let server = TestServer::start(options_with(IMPORTS)).await;
    let a = client(&server, "a", "pa").await;
    let b = client(&server, "b", "pb").await;
    let mut service = a.subscribe("echo").await.unwrap();
    sync(&a).await;
    let responder = tokio::spawn({
        let a = a.clone();
        async move {
            let request = next_message(&mut service).await;
            let reply = request.reply.clone().expect("request has a reply");
            assert!(
                reply.starts_with("_R_."),
                "reply {reply} is a generated response subject"
            );
            a.publish(
                reply.clone(),
                format!("echo: {}", String::from_utf8_lossy(&request.payload)).into(),
            )
            .await
            .unwrap();
            // A second response to a singleton is not delivered.
            a.publish(reply, "second".into()).await.unwrap();
            a.flush().await.unwrap();
            request.subject.to_string()
        }
    });
    let mut inbox = b.subscribe("my.inbox").await.unwrap();
    sync(&b).await;
    b.publish_with_reply("a.echo", "my.inbox", "hi".into())
        .await
        .unwrap();
    let answer = next_message(&mut inbox).await;
    assert_eq!(answer.payload, "echo: hi");
    assert_eq!(
        responder.await.unwrap(),
        "echo",
        "request reached A on the export's subject"
    );
    assert_silent(&mut inbox).await;

    // And through async-nats' own request API.
    let mut service = a.subscribe("echo").await.unwrap();
    sync(&a).await;
    tokio::spawn({
        let a = a.clone();
        async move {
            let request = next_message(&mut service).await;
            a.publish(request.reply.unwrap(), "pong".into())
                .await
                .unwrap();
            a.flush().await.unwrap();
        }
    });
    let answer = b.request("a.echo", "ping".into()).await.unwrap();
    assert_eq!(answer.payload, "pong");
    // Not imported under its own name in B.
    let denied = b.request("echo", "x".into()).await;
    assert!(denied.is_err(), "{denied:?}");
}

#[tokio::test]
async fn stream_response_type_delivers_several_responses() {
    let server = TestServer::start(options_with(IMPORTS)).await;
    let a = client(&server, "a", "pa").await;
    let b = client(&server, "b", "pb").await;
    let mut service = a.subscribe("feed").await.unwrap();
    sync(&a).await;
    tokio::spawn({
        let a = a.clone();
        async move {
            let request = next_message(&mut service).await;
            let reply = request.reply.unwrap();
            for i in 0..3 {
                a.publish(reply.clone(), format!("part {i}").into())
                    .await
                    .unwrap();
            }
            a.flush().await.unwrap();
        }
    });
    let mut inbox = b.subscribe("feed.inbox").await.unwrap();
    sync(&b).await;
    b.publish_with_reply("feed", "feed.inbox", "go".into())
        .await
        .unwrap();
    for i in 0..3 {
        assert_eq!(next_message(&mut inbox).await.payload, format!("part {i}"));
    }
    assert_silent(&mut inbox).await;
}

#[tokio::test]
async fn wildcard_service_import_keeps_the_subject_and_chunked_delivers_all() {
    let server = TestServer::start(options_with(IMPORTS)).await;
    let a = client(&server, "a", "pa").await;
    let b = client(&server, "b", "pb").await;
    let mut service = a.subscribe("svc.*").await.unwrap();
    sync(&a).await;
    tokio::spawn({
        let a = a.clone();
        async move {
            let request = next_message(&mut service).await;
            let reply = request.reply.unwrap();
            for chunk in [request.subject.as_str(), "chunk 2"] {
                a.publish(reply.clone(), chunk.to_string().into())
                    .await
                    .unwrap();
            }
            a.flush().await.unwrap();
        }
    });
    let mut inbox = b.subscribe("chunks").await.unwrap();
    sync(&b).await;
    b.publish_with_reply("svc.orders", "chunks", "go".into())
        .await
        .unwrap();
    assert_eq!(next_message(&mut inbox).await.payload, "svc.orders");
    assert_eq!(next_message(&mut inbox).await.payload, "chunk 2");
    assert_silent(&mut inbox).await;
}

#[test]
fn import_config_errors_match_nats_server() {
    // Messages as nats-server 2.9.10 prints them for the same configs.
    let cases = [
        (
            r#"accounts { B: { imports: [ {stream: {account: X, subject: "a.>"}} ] } }"#,
            "\"X\" account not defined for stream import",
        ),
        (
            r#"accounts { A: { exports: [ {stream: "a.>", accounts: [C]} ] }, B: { imports: [ {stream: {account: A, subject: "a.>"}} ] }, C: {} }"#,
            "Error adding stream import \"a.>\": stream import not authorized",
        ),
        (
            r#"accounts { A: { exports: [ {stream: "a.*"} ] }, B: { imports: [ {stream: {account: A, subject: "a.>"}} ] } }"#,
            "stream import not authorized",
        ),
        (
            r#"accounts { A: {}, B: { imports: [ {service: {account: A, subject: "a"}} ] } }"#,
            "Error adding service import \"a\": service import not authorized",
        ),
        (
            r#"accounts { A: { exports: [ {service: "a"}, {service: "b"} ] }, B: { imports: [ {service: {account: A, subject: "a"}, to: "x"}, {service: {account: A, subject: "b"}, to: "x"} ] } }"#,
            "Duplicate service import subject \"x\", previously used in import for account \"A\", subject \"a\"",
        ),
        (
            r#"accounts { A: { exports: [ {service: "q"} ], imports: [ {service: {account: B, subject: "q"}} ] }, B: { exports: [ {service: "q"} ], imports: [ {service: {account: A, subject: "q"}} ] } }"#,
            "Error adding service import \"q\": import forms a cycle",
        ),
        (
            r#"accounts { A: { exports: [ {stream: "q.>"} ], imports: [ {stream: {account: B, subject: "q.>"}} ] }, B: { exports: [ {stream: "q.>"} ], imports: [ {stream: {account: A, subject: "q.>"}} ] } }"#,
            "Error adding stream import \"q.>\": import forms a cycle",
        ),
        (
            r#"accounts { A: { exports: [ {service: "a", response_type: bogus} ] } }"#,
            "Unknown response type: \"bogus\"",
        ),
    ];
    for (config, expected) in cases {
        let error = config_error(config);
        assert!(
            error.contains(expected),
            "{config}\n got: {error}\n want: {expected}"
        );
    }
    // The listed account may import the private export.
    starling::config::parse_str(
        r#"accounts { A: { exports: [ {stream: "a.>", accounts: [B]} ] }, B: { imports: [ {stream: {account: A, subject: "a.b"}} ] } }"#,
        Path::new("."),
    )
    .expect("listed account imports");
}

#[tokio::test]
async fn the_binary_refuses_an_import_cycle_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("cycle.conf");
    std::fs::write(
        &conf,
        r#"accounts { A: { exports: [ {stream: "q.>"} ], imports: [ {stream: {account: B, subject: "q.>"}} ] }, B: { exports: [ {stream: "q.>"} ], imports: [ {stream: {account: A, subject: "q.>"}} ] } }"#,
    )
    .unwrap();
    let (code, _, stderr) = common::process::run_to_end(&["-c", conf.to_str().unwrap()]).await;
    assert_ne!(code, 0, "a cyclic config must not start");
    assert!(stderr.contains("import forms a cycle"), "{stderr}");
}

fn clustered(name: &str, seeds: &[&TestServer]) -> Options {
    let mut options = common::cluster_node_options(name, "imports", seeds);
    let accounts = options_with(IMPORTS);
    options.accounts = accounts.accounts;
    options.authorization = accounts.authorization;
    options
}

#[tokio::test]
async fn imports_across_three_nodes_deliver_each_message_once() {
    let n1 = TestServer::start(clustered("n1", &[])).await;
    let n2 = TestServer::start(clustered("n2", &[&n1])).await;
    let n3 = TestServer::start(clustered("n3", &[&n1])).await;
    for node in [&n1, &n2, &n3] {
        eventually("mesh", || async {
            node.monitor_json("/routez").await["num_routes"] == 2
        })
        .await;
    }
    // Importer's subscriber on n3, exporter's responder on n2.
    let importer = client(&n3, "b", "pb").await;
    let mut imported = importer.subscribe("fromA.events.>").await.unwrap();
    sync(&importer).await;
    let responder = client(&n2, "a", "pa").await;
    let mut service = responder.subscribe("echo").await.unwrap();
    sync(&responder).await;
    let subs_on = |node: &TestServer| {
        let addr = node.monitor;
        async move {
            let routez = common::http_get_json(addr.expect("monitor"), "/routez").await;
            routez["routes"]
                .as_array()
                .map(|rs| {
                    rs.iter()
                        .filter_map(|r| r["subscriptions"].as_u64())
                        .sum::<u64>()
                })
                .unwrap_or(0)
        }
    };
    eventually("interest reached n1 and n3", || async {
        subs_on(&n1).await >= 2 && subs_on(&n3).await >= 1
    })
    .await;

    // Exporter's publisher on n1: the import happens there, once.
    let publisher = client(&n1, "a", "pa").await;
    for i in 0..5 {
        publisher
            .publish(format!("events.{i}"), format!("e{i}").into())
            .await
            .unwrap();
    }
    sync(&publisher).await;
    for i in 0..5 {
        let got = next_message(&mut imported).await;
        assert_eq!(got.subject.as_str(), format!("fromA.events.{i}"));
    }
    assert_silent(&mut imported).await;

    // Request from n3 (importer) answered by n2 (exporter), exactly once.
    tokio::spawn(async move {
        while let Some(request) = service.next().await {
            if let Some(reply) = request.reply {
                responder
                    .publish(reply.clone(), "answer".into())
                    .await
                    .unwrap();
                responder.publish(reply, "again".into()).await.unwrap();
                responder.flush().await.unwrap();
            }
        }
    });
    let mut inbox = importer.subscribe("n3.inbox").await.unwrap();
    sync(&importer).await;
    importer
        .publish_with_reply("a.echo", "n3.inbox", "q".into())
        .await
        .unwrap();
    assert_eq!(next_message(&mut inbox).await.payload, "answer");
    assert_silent(&mut inbox).await;
    let answer = importer.request("a.echo", "q2".into()).await.unwrap();
    assert_eq!(answer.payload, "answer");
}

#[tokio::test]
async fn mappings_rewrite_the_publish_subject_per_account_with_weights() {
    let parsed = starling::config::parse_str(
        r#"
        mappings { "orders.*.*": "by.$2.{{wildcard(1)}}", "split": [ {destination: "left", weight: 50%}, {destination: "right", weight: 50%} ] }
        accounts { A: { users: [ {user: a, password: pa} ], mappings { "old": "new" } } }
        authorization { users: [ {user: g, password: pg} ] }
        "#,
        Path::new("."),
    )
    .expect("config parses");
    let server = TestServer::start(Options {
        accounts: parsed.accounts,
        authorization: parsed.authorization,
        mappings: parsed.mappings,
        ..test_options()
    })
    .await;
    let g = client(&server, "g", "pg").await;
    let a = client(&server, "a", "pa").await;
    let mut by = g.subscribe("by.>").await.unwrap();
    let mut left = g.subscribe("left").await.unwrap();
    let mut right = g.subscribe("right").await.unwrap();
    let mut split = g.subscribe("split").await.unwrap();
    let mut new = a.subscribe("new").await.unwrap();
    let mut old = a.subscribe("old").await.unwrap();
    sync(&g).await;
    sync(&a).await;

    g.publish("orders.eu.42", "o".into()).await.unwrap();
    sync(&g).await;
    assert_eq!(next_message(&mut by).await.subject.as_str(), "by.42.eu");

    for _ in 0..200 {
        g.publish("split", "s".into()).await.unwrap();
    }
    sync(&g).await;
    let mut counts = (0, 0);
    for _ in 0..200 {
        tokio::select! {
            Some(_) = left.next() => counts.0 += 1,
            Some(_) = right.next() => counts.1 += 1,
        }
    }
    assert_eq!(counts.0 + counts.1, 200);
    assert!(
        counts.0 > 50 && counts.1 > 50,
        "both destinations used: {counts:?}"
    );
    assert_silent(&mut split).await;

    // A's mapping applies in A only.
    a.publish("old", "x".into()).await.unwrap();
    sync(&a).await;
    assert_eq!(next_message(&mut new).await.payload, "x");
    assert_silent(&mut old).await;
}

/// The accounts part of a config file for the reload test: A exports two
/// streams and a service; B imports what `imports` says and maps `mapping`.
fn reload_config(imports: &str, mapping: &str) -> String {
    format!(
        r#"listen: 127.0.0.1:-1
accounts {{
  A: {{
    users: [ {{user: a, password: pa}} ]
    exports: [ {{stream: "events.>"}}, {{stream: "alerts.*"}}, {{service: "echo"}} ]
  }}
  B: {{
    users: [ {{user: b, password: pb}} ]
    imports: [ {imports} ]
    {mapping}
  }}
}}
"#
    )
}

#[tokio::test]
async fn sighup_reload_applies_changed_imports_and_mappings_to_live_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("accounts.conf");
    let alerts = r#"{stream: {account: A, subject: "alerts.*"}, to: "mine.*"}"#;
    let events = r#"{stream: {account: A, subject: "events.>"}, prefix: "fromA"}"#;
    let echo = r#"{service: {account: A, subject: "echo"}, to: "a.echo"}"#;
    std::fs::write(&conf, reload_config(&format!("{alerts}, {events}"), "")).unwrap();
    let process = common::process::Process::start(&["-c", conf.to_str().unwrap()]).await;
    let url = format!("nats://{}", process.addr);
    let login = |user: &str, password: &str| {
        async_nats::ConnectOptions::with_user_and_password(user.into(), password.into())
            .connect(url.clone())
    };
    let a = login("a", "pa").await.expect("a connects");
    let b = login("b", "pb").await.expect("b connects");
    let mut alerts_sub = b.subscribe("mine.*").await.unwrap();
    let mut events_sub = b.subscribe("fromA.events.x").await.unwrap();
    let mut mapped_sub = b.subscribe("n.>").await.unwrap();
    let mut echo_service = a.subscribe("echo").await.unwrap();
    sync(&b).await;
    sync(&a).await;
    a.publish("events.x", "before".into()).await.unwrap();
    a.publish("alerts.1", "before".into()).await.unwrap();
    sync(&a).await;
    assert_eq!(next_message(&mut events_sub).await.payload, "before");
    assert_eq!(next_message(&mut alerts_sub).await.payload, "before");
    let no_service = b.request("a.echo", "ping".into()).await;
    assert!(no_service.is_err(), "echo is not imported yet");

    // Reload: the events import goes, the echo service import and a
    // mapping arrive, the alerts import stays as it was.
    std::fs::write(
        &conf,
        reload_config(&format!("{alerts}, {echo}"), r#"mappings { "m.>": "n.>" }"#),
    )
    .unwrap();
    process.signal(1); // SIGHUP
    eventually("the reload is logged", || async {
        process.logged("reloaded server configuration")
    })
    .await;

    tokio::spawn(async move {
        if let Some(request) = echo_service.next().await {
            if let Some(reply) = request.reply {
                let _ = a.publish(reply, request.payload).await;
                let _ = a.flush().await;
            }
        }
    });
    let answer = tokio::time::timeout(Duration::from_secs(5), b.request("a.echo", "ping".into()))
        .await
        .expect("answered in time")
        .expect("the imported service answers after reload");
    assert_eq!(answer.payload, "ping");

    b.publish("m.1", "mapped".into()).await.unwrap();
    sync(&b).await;
    let mapped = next_message(&mut mapped_sub).await;
    assert_eq!(
        (mapped.subject.as_str(), &mapped.payload[..]),
        ("n.1", &b"mapped"[..])
    );

    let a2 = login("a", "pa").await.expect("a connects again");
    a2.publish("events.x", "after".into()).await.unwrap();
    a2.publish("alerts.2", "after".into()).await.unwrap();
    sync(&a2).await;
    let alert = next_message(&mut alerts_sub).await;
    assert_eq!(
        (alert.subject.as_str(), &alert.payload[..]),
        ("mine.2", &b"after"[..])
    );
    let removed = tokio::time::timeout(Duration::from_millis(300), events_sub.next()).await;
    assert!(
        removed.is_err(),
        "the removed import still delivers: {removed:?}"
    );
}
