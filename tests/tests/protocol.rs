//! Raw-protocol tests against an in-process server: every op, every error
//! and whether it closes, as nats-server 2.9 behaves (see NATS-REFERENCE §1).

mod common;

use common::raw::Raw;
use common::{test_options, TestServer};
use starling::options::Options;

#[tokio::test]
async fn info_on_connect_has_nats_server_fields() {
    let server = TestServer::default().await;
    let raw = Raw::connect(server.addr).await;
    let info = &raw.info;
    for field in ["server_id", "server_name", "version", "host", "go"] {
        assert!(info[field].is_string(), "{field} in {info}");
    }
    assert_eq!(info["server_id"].as_str().unwrap().len(), 56);
    assert_eq!(info["proto"], 1);
    assert_eq!(info["port"], server.addr.port());
    assert_eq!(info["headers"], true);
    assert_eq!(info["max_payload"], 1_048_576);
    assert!(info["client_id"].as_u64().unwrap() > 0);
    assert_eq!(info["client_ip"], "127.0.0.1");
    assert!(
        info.get("auth_required").is_none(),
        "auth_required omitted when off"
    );
}

#[tokio::test]
async fn connect_defaults_to_verbose_and_ops_before_connect_work() {
    let server = TestServer::default().await;
    let mut raw = Raw::connect(server.addr).await;
    // Before CONNECT: defaults apply, verbose is on.
    raw.send("SUB foo 1\r\n").await;
    raw.expect("+OK").await;
    raw.send("CONNECT {}\r\n").await;
    raw.expect("+OK").await;
    raw.send("PUB foo 2\r\nhi\r\n").await;
    raw.expect("+OK").await;
    raw.expect_msg("foo", "1", None, "hi").await;
}

#[tokio::test]
async fn pub_sub_unsub_ping_pong() {
    let server = TestServer::default().await;
    let mut sub = Raw::connected(server.addr).await;
    let mut publisher = Raw::connected(server.addr).await;
    sub.send("SUB foo.* 1\r\nSUB foo.> 2\r\nSUB foo.bar 3\r\n")
        .await;
    sub.flush().await;
    publisher.send("PUB foo.bar reply.x 5\r\nhello\r\n").await;
    publisher.flush().await;
    let mut got = Vec::new();
    for _ in 0..3 {
        let line = sub.line().await;
        sub.payload(5).await;
        got.push(line);
    }
    got.sort();
    assert_eq!(
        got,
        vec![
            "MSG foo.bar 1 reply.x 5",
            "MSG foo.bar 2 reply.x 5",
            "MSG foo.bar 3 reply.x 5"
        ]
    );
    sub.send("UNSUB 1\r\nUNSUB 2\r\n").await;
    sub.flush().await;
    publisher.send("PUB foo.bar 0\r\n\r\n").await;
    publisher.flush().await;
    sub.expect_msg("foo.bar", "3", None, "").await;
    sub.expect_nothing().await;
}

#[tokio::test]
async fn wildcards_follow_token_rules() {
    let server = TestServer::default().await;
    let mut sub = Raw::connected(server.addr).await;
    sub.send("SUB a.* 1\r\nSUB a.> 2\r\nSUB a.b* 3\r\n").await;
    sub.flush().await;
    let mut publisher = Raw::connected(server.addr).await;
    // `a` matches nothing: `a.>` needs a token after `a`.
    publisher
        .send("PUB a 1\r\nx\r\nPUB a.b.c 1\r\ny\r\nPUB a.b* 1\r\nz\r\n")
        .await;
    publisher.flush().await;
    sub.expect_msg("a.b.c", "2", None, "y").await;
    let mut lines = Vec::new();
    for _ in 0..3 {
        lines.push(sub.line().await);
        sub.payload(1).await;
    }
    lines.sort();
    assert_eq!(lines, vec!["MSG a.b* 1 1", "MSG a.b* 2 1", "MSG a.b* 3 1"]);
    sub.expect_nothing().await;
}

#[tokio::test]
async fn hpub_delivers_hmsg_and_needs_headers() {
    let server = TestServer::default().await;
    let mut sub = Raw::connected(server.addr).await;
    sub.send("SUB h 9\r\n").await;
    sub.flush().await;
    let mut publisher = Raw::connected(server.addr).await;
    publisher
        .send("HPUB h r 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n")
        .await;
    publisher.flush().await;
    assert_eq!(sub.line().await, "HMSG h 9 r 18 23");
    assert_eq!(sub.payload(23).await, b"NATS/1.0\r\nA: b\r\n\r\nhello");

    // Without headers:true in CONNECT, HPUB closes the connection silently.
    let mut no_headers = Raw::connect_with(server.addr, r#"{"verbose":false}"#).await;
    no_headers
        .send("HPUB h 12 12\r\nNATS/1.0\r\n\r\n\r\n")
        .await;
    assert_eq!(no_headers.expect_closed().await, Vec::<String>::new());
}

#[tokio::test]
async fn queue_group_gets_each_message_once() {
    let server = TestServer::default().await;
    let mut members = Vec::new();
    for i in 0..3 {
        let mut member = Raw::connected(server.addr).await;
        member.send(&format!("SUB work workers {i}\r\n")).await;
        member.flush().await;
        members.push(member);
    }
    let mut plain = Raw::connected(server.addr).await;
    plain.send("SUB work 99\r\n").await;
    plain.flush().await;
    let mut publisher = Raw::connected(server.addr).await;
    let total = 300;
    let mut batch = String::new();
    for _ in 0..total {
        batch.push_str("PUB work 1\r\nx\r\n");
    }
    publisher.send(&batch).await;
    publisher.flush().await;
    for _ in 0..total {
        plain.expect_msg("work", "99", None, "x").await;
    }
    let mut received = 0;
    let mut members_used = 0;
    for member in &mut members {
        member.send("PING\r\n").await;
        let mut count = 0;
        loop {
            let line = member.line().await;
            if line == "PONG" {
                break;
            }
            assert!(line.starts_with("MSG work "), "{line}");
            member.payload(1).await;
            count += 1;
        }
        received += count;
        if count > 0 {
            members_used += 1;
        }
    }
    assert_eq!(received, total);
    assert_eq!(members_used, 3, "random choice spreads over all members");
}

#[tokio::test]
async fn auto_unsubscribe_after_max() {
    let server = TestServer::default().await;
    let mut sub = Raw::connected(server.addr).await;
    sub.send("SUB s 1\r\nUNSUB 1 2\r\n").await;
    sub.flush().await;
    let mut publisher = Raw::connected(server.addr).await;
    publisher
        .send("PUB s 1\r\na\r\nPUB s 1\r\nb\r\nPUB s 1\r\nc\r\n")
        .await;
    publisher.flush().await;
    sub.expect_msg("s", "1", None, "a").await;
    sub.expect_msg("s", "1", None, "b").await;
    sub.expect_nothing().await;
    // UNSUB with max <= delivered removes at once.
    sub.send("SUB t 2\r\n").await;
    sub.flush().await;
    publisher.send("PUB t 1\r\na\r\n").await;
    publisher.flush().await;
    sub.expect_msg("t", "2", None, "a").await;
    sub.send("UNSUB 2 1\r\n").await;
    sub.flush().await;
    publisher.send("PUB t 1\r\nb\r\n").await;
    publisher.flush().await;
    sub.expect_nothing().await;
}

#[tokio::test]
async fn echo_false_skips_own_messages() {
    let server = TestServer::default().await;
    let mut client = Raw::connect_with(
        server.addr,
        r#"{"verbose":false,"echo":false,"protocol":1}"#,
    )
    .await;
    let mut other = Raw::connected(server.addr).await;
    client.send("SUB e 1\r\n").await;
    other.send("SUB e 1\r\n").await;
    client.flush().await;
    other.flush().await;
    client.send("PUB e 1\r\nx\r\n").await;
    client.flush().await;
    other.expect_msg("e", "1", None, "x").await;
    client.expect_nothing().await;
}

#[tokio::test]
async fn no_responders_status_when_nobody_listens() {
    let server = TestServer::default().await;
    let mut requester = Raw::connected(server.addr).await;
    requester
        .send("SUB _INBOX.abc.* 5\r\nPUB nobody _INBOX.abc.1 2\r\nhi\r\n")
        .await;
    assert_eq!(requester.line().await, "HMSG _INBOX.abc.1 5 16 16");
    assert_eq!(requester.payload(16).await, b"NATS/1.0 503\r\n\r\n");
    // Without no_responders in CONNECT, nothing comes back.
    let mut plain = Raw::connect_with(server.addr, r#"{"verbose":false,"headers":true}"#).await;
    plain
        .send("SUB _INBOX.x 1\r\nPUB nobody _INBOX.x 0\r\n\r\n")
        .await;
    plain.expect_nothing().await;
}

#[tokio::test]
async fn duplicate_sid_keeps_the_first_subscription() {
    let server = TestServer::default().await;
    let mut sub = Raw::connected(server.addr).await;
    sub.send("SUB a 1\r\nSUB b 1\r\n").await;
    sub.flush().await;
    let mut publisher = Raw::connected(server.addr).await;
    publisher.send("PUB b 1\r\nx\r\nPUB a 1\r\ny\r\n").await;
    publisher.flush().await;
    sub.expect_msg("a", "1", None, "y").await;
}

#[tokio::test]
async fn verbose_acks_every_op_and_unknown_unsub() {
    let server = TestServer::default().await;
    let mut raw = Raw::connect_with(server.addr, r#"{"verbose":true}"#).await;
    // connect_with consumed "+OK"? No: it waits for PONG, so +OK came first.
    raw.send("SUB a 1\r\nUNSUB 77\r\nPUB a 0\r\n\r\n").await;
    raw.expect("+OK").await;
    raw.expect("+OK").await;
    raw.expect("+OK").await;
    raw.expect_msg("a", "1", None, "").await;
}

#[tokio::test]
async fn errors_that_close_the_connection() {
    let server = TestServer::start(Options {
        max_payload: 16,
        max_control_line: 128,
        ..test_options()
    })
    .await;
    let long_sub = format!("SUB {} 1\r\n", "a".repeat(200));
    let cases: [(&str, &[&str]); 8] = [
        ("FOO\r\n", &["-ERR 'Unknown Protocol Operation'"]),
        ("MSG a 1 1\r\nx\r\n", &["-ERR 'Unknown Protocol Operation'"]),
        ("PUB a 1\r\nxy\r\n", &["-ERR 'Unknown Protocol Operation'"]),
        ("PUB a 17\r\n", &["-ERR 'Maximum Payload Violation'"]),
        (long_sub.as_str(), &["-ERR 'maximum control line exceeded'"]),
        (
            "CONNECT {\"protocol\":2}\r\n",
            &["-ERR 'invalid client protocol'"],
        ),
        (
            "CONNECT {\"no_responders\":true}\r\n",
            &["-ERR 'no responders requires headers support'"],
        ),
        ("PUB a b c d\r\n", &[]),
    ];
    for (input, expected) in cases {
        let mut raw = Raw::connect(server.addr).await;
        raw.send(input).await;
        let lines = raw.expect_closed().await;
        let lines: Vec<&str> = lines
            .iter()
            .map(String::as_str)
            .filter(|l| *l != "+OK")
            .collect();
        assert_eq!(lines, expected, "input {input:?}");
    }
    for input in ["SUB a\r\n", "CONNECT {bad json\r\n"] {
        let mut raw = Raw::connect(server.addr).await;
        raw.send(input).await;
        assert_eq!(
            raw.expect_closed().await,
            Vec::<String>::new(),
            "{input:?} closes silently"
        );
    }
    // The server is still fine for everyone else.
    let mut raw = Raw::connected(server.addr).await;
    raw.flush().await;
}

#[tokio::test]
async fn errors_that_keep_the_connection_open() {
    let server = TestServer::default().await;
    let mut raw = Raw::connect_with(server.addr, r#"{"verbose":false,"pedantic":true}"#).await;
    raw.send("SUB foo..bar 1\r\n").await;
    raw.expect("-ERR 'Invalid Subject'").await;
    raw.send("SUB foo.>.bar 1\r\n").await;
    raw.expect("-ERR 'Invalid Subject'").await;
    raw.send("SUB ok 2\r\nPUB foo.* 1\r\nx\r\nPUB ok 1\r\ny\r\n")
        .await;
    raw.expect("-ERR 'Invalid Publish Subject'").await;
    raw.expect_msg("ok", "2", None, "y").await;
}

#[tokio::test]
async fn pedantic_publish_still_delivers() {
    let server = TestServer::default().await;
    let mut sub = Raw::connected(server.addr).await;
    sub.send("SUB > 1\r\n").await;
    sub.flush().await;
    let mut raw = Raw::connect_with(server.addr, r#"{"verbose":true,"pedantic":true}"#).await;
    raw.send("PUB foo.* 1\r\nx\r\n").await;
    raw.expect("-ERR 'Invalid Publish Subject'").await;
    raw.expect("+OK").await;
    sub.expect_msg("foo.*", "1", None, "x").await;
}

#[tokio::test]
async fn ops_split_byte_by_byte_and_pipelined_work() {
    let server = TestServer::default().await;
    let mut sub = Raw::connected(server.addr).await;
    sub.send("SUB p 1\r\n").await;
    sub.flush().await;
    let mut publisher = Raw::connected(server.addr).await;
    for byte in b"PUB p 5\r\nhello\r\n" {
        publisher.send_bytes(&[*byte]).await;
    }
    let mut pipelined = String::new();
    for i in 0..500 {
        pipelined.push_str(&format!("PUB p {}\r\n{i}\r\n", i.to_string().len()));
    }
    publisher.send(&pipelined).await;
    publisher.flush().await;
    sub.expect_msg("p", "1", None, "hello").await;
    for i in 0..500 {
        sub.expect_msg("p", "1", None, &i.to_string()).await;
    }
}

#[tokio::test]
async fn stale_connection_after_unanswered_pings() {
    let server = TestServer::start(Options {
        ping_interval: std::time::Duration::from_millis(200),
        ping_max: 2,
        ..test_options()
    })
    .await;
    let mut raw = Raw::connect(server.addr).await;
    raw.send("CONNECT {\"verbose\":false}\r\n").await;
    assert_eq!(raw.raw_line().await, "PING");
    assert_eq!(raw.raw_line().await, "PING");
    assert_eq!(raw.raw_line().await, "-ERR 'Stale Connection'");
    assert!(raw.expect_closed().await.is_empty());
}

#[tokio::test]
async fn answered_pings_keep_the_connection() {
    let server = TestServer::start(Options {
        ping_interval: std::time::Duration::from_millis(100),
        ping_max: 1,
        ..test_options()
    })
    .await;
    let mut raw = Raw::connected(server.addr).await;
    for _ in 0..5 {
        assert_eq!(raw.raw_line().await, "PING");
        raw.send("PONG\r\n").await;
    }
}

#[tokio::test]
async fn max_connections_sends_info_then_error() {
    let server = TestServer::start(Options {
        max_connections: 2,
        ..test_options()
    })
    .await;
    let _a = Raw::connected(server.addr).await;
    let _b = Raw::connected(server.addr).await;
    let mut c = Raw::connect(server.addr).await;
    assert_eq!(
        c.expect_closed().await,
        vec!["-ERR 'maximum connections exceeded'"]
    );
}

#[tokio::test]
async fn random_garbage_never_stalls_the_server() {
    use rand::{Rng, RngExt};
    let server = TestServer::default().await;
    let mut sub = Raw::connected(server.addr).await;
    sub.send("SUB g 1\r\n").await;
    sub.flush().await;
    let mut rng = rand::rng();
    for _ in 0..50 {
        let len = rng.random_range(1..2000);
        let mut junk = vec![0u8; len];
        rng.fill_bytes(&mut junk);
        let mut raw = Raw::connect(server.addr).await;
        raw.send_bytes(&junk).await;
        raw.send("\r\n").await;
        drop(raw);
    }
    let mut publisher = Raw::connected(server.addr).await;
    publisher.send("PUB g 2\r\nok\r\n").await;
    sub.expect_msg("g", "1", None, "ok").await;
}

#[tokio::test]
async fn shutdown_delivers_what_was_already_queued() {
    let server = TestServer::default().await;
    let mut sub = Raw::connected(server.addr).await;
    sub.send("SUB drain 1\r\n").await;
    sub.flush().await;
    let mut publisher = Raw::connected(server.addr).await;
    let mut batch = String::new();
    for i in 0..1000 {
        batch.push_str(&format!("PUB drain {}\r\n{i}\r\n", i.to_string().len()));
    }
    publisher.send(&batch).await;
    // Every PUB was processed (and queued for the subscriber) once PONG comes.
    publisher.flush().await;
    server.stop().await;
    for i in 0..1000 {
        sub.expect_msg("drain", "1", None, &i.to_string()).await;
    }
    assert!(
        sub.expect_closed().await.is_empty(),
        "closed after the queued messages"
    );
}
