//! Handshake rules seen from outside: refusals with their reasons, cluster
//! name adoption, strangers on the route port, and a fake route peer that
//! asserts the exact frames a node sends.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::BytesMut;
use starling_proto::route::{
    encode_frame, encode_frame_as, Framing, Hello, InterestChange, Member, MsgParts, RouteCodec,
    RouteFrame, ROUTE_MAGIC, ROUTE_PROTOCOL_VERSION, UNSUPPORTED_VERSION,
};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::Decoder;

const LIMIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn cluster_name_mismatch_is_refused_on_both_sides_with_the_reason() {
    logs();
    let mut east = config("conflict-a", vec![]);
    east.cluster_name = Some("east".into());
    let a = tcp_node(east).await;
    let mut west = config("conflict-b", vec![seed(a.addr())]);
    west.cluster_name = Some("west".into());
    let b = tcp_node(west).await;
    wait_for(LIMIT, "refusals logged on both sides, twice", || {
        log_lines("conflict-a", "cluster name conflict").len() >= 2
            && log_lines("conflict-b", "cluster name conflict").len() >= 2
    })
    .await;
    assert_eq!(a.recorder.ups.load(Ordering::SeqCst), 0);
    assert_eq!(b.recorder.ups.load(Ordering::SeqCst), 0);
    assert!(a.cluster.peers().is_empty() && b.cluster.peers().is_empty());
}

#[tokio::test]
async fn dynamic_cluster_name_adopts_the_configured_one() {
    let mut dynamic = config("adopt-a", vec![]);
    dynamic.cluster_name = None;
    let a = tcp_node(dynamic).await;
    assert_ne!(a.cluster.name(), "prod");
    let mut prod = config("adopt-b", vec![seed(a.addr())]);
    prod.cluster_name = Some("prod".into());
    let b = tcp_node(prod).await;
    wait_for(LIMIT, "route", || is_full_mesh(&[&a, &b])).await;
    assert_eq!(a.cluster.name(), "prod");
    assert_eq!(b.cluster.name(), "prod");
}

#[tokio::test]
async fn two_dynamic_names_settle_on_the_higher_one() {
    let mut first = config("dyn-a", vec![]);
    first.cluster_name = None;
    let a = tcp_node(first).await;
    let mut second = config("dyn-b", vec![seed(a.addr())]);
    second.cluster_name = None;
    let b = tcp_node(second).await;
    let (name_a, name_b) = (a.cluster.name(), b.cluster.name());
    wait_for(LIMIT, "route", || is_full_mesh(&[&a, &b])).await;
    let higher = name_a.max(name_b);
    assert_eq!(a.cluster.name(), higher);
    assert_eq!(b.cluster.name(), higher);
}

#[tokio::test]
async fn wrong_or_missing_route_credentials_are_refused_with_the_reason() {
    logs();
    let mut secured = config("cred-a", vec![]);
    secured.user = Some("ruser".into());
    secured.password = Some("secret".into());
    let a = tcp_node(secured.clone()).await;
    let wrong = tcp_node(config(
        "cred-b",
        vec![format!("nats://ruser:wrong@{}", a.addr())],
    ))
    .await;
    let missing = tcp_node(config("cred-c", vec![seed(a.addr())])).await;
    wait_for(LIMIT, "refusals logged", || {
        log_lines("cred-a", "authentication failure").len() >= 2
            && !log_lines("cred-b", "authentication failure").is_empty()
            && !log_lines("cred-c", "authentication failure").is_empty()
    })
    .await;
    assert_eq!(a.recorder.ups.load(Ordering::SeqCst), 0);
    assert_eq!(wrong.recorder.ups.load(Ordering::SeqCst), 0);
    assert_eq!(missing.recorder.ups.load(Ordering::SeqCst), 0);

    let mut right = secured;
    right.node_id = "cred-d".into();
    right.seeds = vec![format!("nats://ruser:secret@{}", a.addr())];
    let good = tcp_node(right).await;
    wait_for(LIMIT, "route with the right credentials", || {
        good.peer_ids() == ["cred-a"] && a.peer_ids() == ["cred-d"]
    })
    .await;
}

/// Connect to `addr`, send `bytes`, and read until the node closes the
/// connection; returns what it sent.
async fn stranger(addr: std::net::SocketAddr, bytes: &[u8]) -> Vec<RouteFrame> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut received = BytesMut::new();
    within(LIMIT, "the node closes the stranger's connection", async {
        loop {
            match stream.read_buf(&mut received).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    let mut codec = RouteCodec::new();
    let mut frames = Vec::new();
    while let Ok(Some(frame)) = codec.decode(&mut received) {
        frames.push(frame);
    }
    frames
}

fn hello(node_id: &str) -> Hello {
    Hello {
        magic: ROUTE_MAGIC,
        version: ROUTE_PROTOCOL_VERSION,
        node_id: node_id.to_string(),
        node_name: format!("name-{node_id}"),
        cluster_name: "test".to_string(),
        cluster_dynamic: false,
        route_url: "nats-route://127.0.0.1:1".to_string(),
        client_urls: vec!["fake:4222".to_string()],
        user: None,
        password: None,
        lame_duck: false,
        interest_ack: false,
        compact_framing: false,
        subject_table: 0,
    }
}

fn encoded(frame: &RouteFrame) -> BytesMut {
    let mut buf = BytesMut::new();
    encode_frame(&mut buf, frame);
    buf
}

fn close(reason: &str) -> RouteFrame {
    RouteFrame::Close(reason.to_string())
}

#[tokio::test]
async fn strangers_on_the_route_port_are_closed_and_the_cluster_stays_healthy() {
    logs();
    let a = tcp_node(config("strange-a", vec![])).await;
    let b = tcp_node(config("strange-b", vec![seed(a.addr())])).await;
    wait_for(LIMIT, "route", || is_full_mesh(&[&a, &b])).await;
    let route = a.peer("strange-b").unwrap();

    let garbage = stranger(a.addr(), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(garbage, [close("route protocol error")]);
    let oversized = stranger(a.addr(), &[0xFF, 0xFF, 0xFF, 0xFF]).await;
    assert_eq!(oversized, [close("route protocol error")]);
    let undecodable = stranger(a.addr(), &[0, 0, 0, 3, 0xFF, 0xFF, 0xFF]).await;
    assert_eq!(undecodable, [close("route protocol error")]);
    let mut wrong_magic = hello("strange-x");
    wrong_magic.magic = 0x4E41_5453;
    let refused = stranger(a.addr(), &encoded(&RouteFrame::Hello(wrong_magic))).await;
    assert_eq!(refused, [close("route protocol mismatch")]);
    // A node from before accounts rode the routes (version 1) and one from
    // the future are both told which version this node speaks.
    for version in [1, ROUTE_PROTOCOL_VERSION + 1] {
        let mut other_version = hello("strange-x");
        other_version.version = version;
        let refused = stranger(a.addr(), &encoded(&RouteFrame::Hello(other_version))).await;
        assert_eq!(refused, [close(UNSUPPORTED_VERSION)]);
    }
    let half = stranger(a.addr(), &[0, 0, 0, 40, 1, 2]).await;
    assert_eq!(half, [close("handshake timeout")]);
    let silent = stranger(a.addr(), &[]).await;
    assert_eq!(silent, [close("handshake timeout")]);

    for reason in [
        "route protocol error",
        "route protocol mismatch",
        "handshake timeout",
    ] {
        assert!(
            !log_lines("strange-a", reason).is_empty(),
            "{reason} is logged"
        );
    }
    // The route between a and b never noticed.
    assert_eq!(a.peer("strange-b").unwrap().rid, route.rid);
    assert_eq!(a.recorder.downs.load(Ordering::SeqCst), 0);
    assert_eq!(b.recorder.downs.load(Ordering::SeqCst), 0);
    route
        .send_msg(&MsgParts {
            account: b"$G",
            subject: b"still.up",
            reply: None,
            queues: &[],
            header_len: None,
            payload: b"yes",
        })
        .unwrap();
    route.wake();
    wait_for(LIMIT, "a message over the route", || {
        b.recorder.messages.lock().unwrap().len() == 1
    })
    .await;
}

/// A route peer driven by hand.
struct FakePeer {
    stream: TcpStream,
    buf: BytesMut,
    codec: RouteCodec,
}

impl FakePeer {
    async fn connect(addr: std::net::SocketAddr) -> FakePeer {
        FakePeer {
            stream: TcpStream::connect(addr).await.unwrap(),
            buf: BytesMut::new(),
            codec: RouteCodec::new(),
        }
    }

    async fn send(&mut self, frame: RouteFrame) {
        self.stream.write_all(&encoded(&frame)).await.unwrap();
    }

    async fn recv(&mut self) -> RouteFrame {
        within(LIMIT, "a frame from the node", async {
            loop {
                if let Some(frame) = self.codec.decode(&mut self.buf).unwrap() {
                    return frame;
                }
                let read = self.stream.read_buf(&mut self.buf).await.unwrap();
                assert!(read > 0, "the node closed the connection");
            }
        })
        .await
    }
}

fn member_of(hello: &Hello) -> Member {
    Member {
        node_id: hello.node_id.clone(),
        node_name: hello.node_name.clone(),
        route_url: hello.route_url.clone(),
        client_urls: hello.client_urls.clone(),
        lame_duck: false,
    }
}

#[tokio::test]
async fn fake_peer_with_a_larger_id_gets_hello_then_the_members_verdict_then_pings() {
    let a = tcp_node(config("fake-a", vec![])).await;
    let mut fake = FakePeer::connect(a.addr()).await;
    let ours = hello("zzz-fake");
    fake.send(RouteFrame::Hello(ours.clone())).await;

    let RouteFrame::Hello(theirs) = fake.recv().await else {
        panic!("expected Hello first");
    };
    assert_eq!(theirs.magic, ROUTE_MAGIC);
    assert_eq!(theirs.version, ROUTE_PROTOCOL_VERSION);
    assert_eq!(theirs.node_id, "fake-a");
    assert_eq!(theirs.cluster_name, "test");
    assert!(!theirs.cluster_dynamic);
    assert_eq!(theirs.route_url, format!("nats-route://{}", a.addr()));
    assert_eq!(theirs.client_urls, ["fake-a.clients:4222"]);
    assert_eq!(theirs.user, None);
    // "fake-a" < "zzz-fake": the node decides, and its verdict is Members.
    let members = vec![member_of(&theirs), member_of(&ours)];
    assert_eq!(fake.recv().await, RouteFrame::Members(members));
    wait_for(LIMIT, "peer_up", || a.recorder.live_nodes() == ["zzz-fake"]).await;

    let change = InterestChange::Unsubscribe {
        account: "$G".into(),
        subject: "x".into(),
        queue: None,
    };
    fake.send(RouteFrame::Interest(vec![change.clone()])).await;
    fake.send(RouteFrame::Ping).await;
    assert_eq!(fake.recv().await, RouteFrame::Pong);
    assert_eq!(
        fake.recv().await,
        RouteFrame::Ping,
        "pinged after ping_interval"
    );
    fake.send(RouteFrame::Pong).await;
    wait_for(LIMIT, "interest and rtt", || {
        a.recorder.interest.lock().unwrap().len() == 1
            && a.peer("zzz-fake").is_some_and(|p| p.rtt().is_some())
    })
    .await;
    assert_eq!(
        a.recorder.interest.lock().unwrap()[0],
        ("zzz-fake".to_string(), change)
    );

    fake.send(close("bye")).await;
    wait_for(LIMIT, "peer_down", || a.recorder.live_nodes().is_empty()).await;
}

#[tokio::test]
async fn a_peer_announcing_compact_framing_gets_varint_prefixed_frames_after_the_hellos() {
    let a = tcp_node(config("fake-a", vec![])).await;
    let mut fake = FakePeer::connect(a.addr()).await;
    let ours = Hello {
        compact_framing: true,
        ..hello("zzz-fake")
    };
    fake.send(RouteFrame::Hello(ours.clone())).await;
    let RouteFrame::Hello(theirs) = fake.recv().await else {
        panic!("expected Hello first, 4-byte prefixed");
    };
    assert!(theirs.compact_framing);
    assert!(theirs.subject_table > 0);
    fake.codec.set_framing(Framing::Compact);
    let members = vec![member_of(&theirs), member_of(&ours)];
    assert_eq!(fake.recv().await, RouteFrame::Members(members));
    let mut ping = BytesMut::new();
    encode_frame_as(&mut ping, &RouteFrame::Ping, Framing::Compact);
    assert_eq!(ping.len(), 3, "one-byte prefix");
    fake.stream.write_all(&ping).await.unwrap();
    assert_eq!(fake.recv().await, RouteFrame::Pong);
}

#[tokio::test]
async fn fake_peer_with_a_smaller_id_decides_and_the_node_waits_for_its_verdict() {
    let a = tcp_node(config("fake-b", vec![])).await;
    let mut fake = FakePeer::connect(a.addr()).await;
    let ours = hello("aaa-fake");
    fake.send(RouteFrame::Hello(ours.clone())).await;
    let RouteFrame::Hello(theirs) = fake.recv().await else {
        panic!("expected Hello first");
    };
    assert_eq!(
        a.recorder.ups.load(Ordering::SeqCst),
        0,
        "no peer_up before the verdict"
    );
    fake.send(RouteFrame::Members(vec![member_of(&ours)])).await;
    let members = vec![member_of(&theirs), member_of(&ours)];
    assert_eq!(fake.recv().await, RouteFrame::Members(members));
    wait_for(LIMIT, "peer_up", || a.recorder.live_nodes() == ["aaa-fake"]).await;
}

#[tokio::test]
async fn hello_with_the_nodes_own_id_is_a_self_route() {
    let a = tcp_node(config("fake-c", vec![])).await;
    let frames = stranger(a.addr(), &encoded(&RouteFrame::Hello(hello("fake-c")))).await;
    assert!(
        matches!(&frames[..], [RouteFrame::Hello(_), RouteFrame::Close(reason)] if reason == "self route")
    );
    assert_eq!(a.recorder.ups.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn route_confirmed_by_the_deciding_peer_replaces_a_stale_one_after_calling_it_down() {
    let a = tcp_node(config("fake-d", vec![])).await;
    let ours = hello("aaa-fake");
    let mut first = FakePeer::connect(a.addr()).await;
    first.send(RouteFrame::Hello(ours.clone())).await;
    let RouteFrame::Hello(_) = first.recv().await else {
        panic!("expected Hello");
    };
    first
        .send(RouteFrame::Members(vec![member_of(&ours)]))
        .await;
    let RouteFrame::Members(_) = first.recv().await else {
        panic!("expected Members");
    };
    wait_for(LIMIT, "first route up", || {
        a.recorder.live_nodes() == ["aaa-fake"]
    })
    .await;
    let old_rid = a.peer("aaa-fake").unwrap().rid;

    // As if our side had dropped the first route without the node noticing.
    let mut second = FakePeer::connect(a.addr()).await;
    second.send(RouteFrame::Hello(ours.clone())).await;
    let RouteFrame::Hello(_) = second.recv().await else {
        panic!("expected Hello");
    };
    second
        .send(RouteFrame::Members(vec![member_of(&ours)]))
        .await;
    assert_eq!(first.recv().await, close("replaced by a newer route"));
    let RouteFrame::Members(_) = second.recv().await else {
        panic!("expected Members on the new route");
    };
    wait_for(LIMIT, "new route up", || {
        a.peer("aaa-fake").is_some_and(|p| p.rid != old_rid)
            && a.recorder.live_nodes() == ["aaa-fake"]
    })
    .await;
    assert_eq!(a.recorder.downs.load(Ordering::SeqCst), 1);
    assert!(
        a.recorder.violations().is_empty(),
        "{:?}",
        a.recorder.violations()
    );
}

#[tokio::test]
async fn interest_sync_is_answered_after_the_interest_and_acks_release_waiters() {
    let a = tcp_node(config("sync-a", vec![])).await;
    let mut fake = FakePeer::connect(a.addr()).await;
    let ours = Hello {
        interest_ack: true,
        ..hello("zzz-sync")
    };
    fake.send(RouteFrame::Hello(ours.clone())).await;
    let RouteFrame::Hello(theirs) = fake.recv().await else {
        panic!("expected Hello first");
    };
    assert!(theirs.interest_ack, "the node announces the capability");
    assert!(matches!(fake.recv().await, RouteFrame::Members(_)));
    // The recorder queues no snapshot: the end marker follows at once.
    assert_eq!(
        fake.recv().await,
        RouteFrame::InterestSync {
            seq: 0,
            snapshot_end: true
        }
    );
    wait_for(LIMIT, "peer_up", || a.recorder.live_nodes() == ["zzz-sync"]).await;
    let peer = a.peer("zzz-sync").expect("peer");
    assert!(peer.acknowledges_interest());
    assert!(!peer.snapshot_received(), "the fake sent no snapshot yet");

    // Our interest, then a sync: the ack comes after the interest applied.
    let change = InterestChange::Subscribe {
        account: "$G".into(),
        subject: "sync.x".into(),
        queue: None,
        weight: 1,
    };
    fake.send(RouteFrame::Interest(vec![change.clone()])).await;
    fake.send(RouteFrame::InterestSync {
        seq: 1,
        snapshot_end: true,
    })
    .await;
    assert_eq!(fake.recv().await, RouteFrame::InterestAck(1));
    assert_eq!(
        a.recorder.interest.lock().unwrap().as_slice(),
        [("zzz-sync".to_string(), change.clone())]
    );
    assert!(peer.snapshot_received());

    // The node's side: nothing queued, nothing to wait for.
    assert_eq!(peer.request_interest_ack(), None);
    peer.send_interest(std::slice::from_ref(&change)).unwrap();
    assert_eq!(peer.request_interest_ack(), Some(1));
    assert_eq!(peer.request_interest_ack(), Some(1), "no second sync");
    assert_eq!(fake.recv().await, RouteFrame::Interest(vec![change]));
    assert_eq!(
        fake.recv().await,
        RouteFrame::InterestSync {
            seq: 1,
            snapshot_end: false
        }
    );
    let waiter = {
        let peer = peer.clone();
        tokio::spawn(async move { peer.interest_acked(1).await })
    };
    fake.send(RouteFrame::Ping).await;
    loop {
        // The node's own pings may come in between; nothing else may.
        match fake.recv().await {
            RouteFrame::Pong => break,
            RouteFrame::Ping => fake.send(RouteFrame::Pong).await,
            other => panic!("unexpected frame {other:?}"),
        }
    }
    assert!(!waiter.is_finished());
    fake.send(RouteFrame::InterestAck(1)).await;
    within(LIMIT, "the ack releases the waiter", waiter)
        .await
        .unwrap();
    assert_eq!(peer.request_interest_ack(), None);
}
