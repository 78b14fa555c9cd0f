//! The interest barrier against a fake route peer that acknowledges when
//! the test says so: the PONG after a SUB waits for the peer's InterestAck,
//! a peer that never answers holds it only for `interest_barrier_timeout`,
//! and a PING with no SUB before it never waits.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use common::raw::Raw;
use common::{cluster_node_options, TestServer, DEADLINE};
use starling_proto::route::{
    encode_frame, Hello, InterestChange, RouteCodec, RouteFrame, ROUTE_MAGIC,
    ROUTE_PROTOCOL_VERSION,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::codec::Decoder;

/// The barrier timeout of the node under test.
const BARRIER: Duration = Duration::from_secs(3);
/// How long "no PONG yet" is watched for.
const QUIET: Duration = Duration::from_millis(200);

/// A route peer speaking frames by hand.
struct FakePeer {
    stream: TcpStream,
    buf: BytesMut,
    codec: RouteCodec,
}

impl FakePeer {
    /// Connect and complete the handshake (the fake has the larger id, so
    /// the node decides: Hello, then Members).
    async fn join(route: SocketAddr, cluster: &str) -> FakePeer {
        let mut fake = FakePeer {
            stream: TcpStream::connect(route).await.expect("connect route port"),
            buf: BytesMut::new(),
            codec: RouteCodec::new(),
        };
        fake.send(RouteFrame::Hello(Hello {
            magic: ROUTE_MAGIC,
            version: ROUTE_PROTOCOL_VERSION,
            node_id: "zzzz-fake-peer".into(),
            node_name: "fake".into(),
            cluster_name: cluster.into(),
            route_url: "nats-route://127.0.0.1:1".into(),
            interest_ack: true,
            ..Hello::default()
        }))
        .await;
        assert!(matches!(fake.recv().await, RouteFrame::Hello(_)));
        assert!(matches!(fake.recv().await, RouteFrame::Members(_)));
        fake
    }

    async fn send(&mut self, frame: RouteFrame) {
        let mut buf = BytesMut::new();
        encode_frame(&mut buf, &frame);
        self.stream.write_all(&buf).await.expect("send frame");
    }

    /// The next frame that is not a liveness ping (pings are answered).
    async fn recv(&mut self) -> RouteFrame {
        let deadline = Instant::now() + DEADLINE;
        loop {
            while let Some(frame) = self.codec.decode(&mut self.buf).expect("valid frame") {
                match frame {
                    RouteFrame::Ping => self.send(RouteFrame::Pong).await,
                    RouteFrame::Pong => {}
                    frame => return frame,
                }
            }
            let read = tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf))
                .await
                .expect("a frame in time")
                .expect("read");
            assert!(read > 0, "the node closed the route");
        }
    }

    /// Expect an Interest frame subscribing `subject`, then a sync; returns
    /// the sync's seq.
    async fn expect_interest_then_sync(&mut self, subject: &str) -> u64 {
        match self.recv().await {
            RouteFrame::Interest(changes) => assert!(
                matches!(&changes[..], [InterestChange::Subscribe { subject: s, .. }] if s == subject),
                "{changes:?}"
            ),
            other => panic!("expected Interest, got {other:?}"),
        }
        match self.recv().await {
            RouteFrame::InterestSync {
                seq,
                snapshot_end: false,
            } => seq,
            other => panic!("expected InterestSync, got {other:?}"),
        }
    }
}

/// Nothing arrives on `client` for [`QUIET`].
async fn assert_quiet(client: &mut Raw, what: &str) {
    if let Ok(line) = tokio::time::timeout(QUIET, client.line()).await {
        panic!("{what}: got {line:?}");
    }
}

#[tokio::test]
async fn pong_after_sub_waits_for_the_peers_ack_and_at_most_the_timeout() {
    let mut options = cluster_node_options("barrier", "fake", &[]);
    if let Some(cluster) = options.cluster.as_mut() {
        cluster.interest_barrier_timeout = BARRIER;
    }
    let server = TestServer::start(options).await;
    let mut fake = FakePeer::join(server.route.expect("route listener"), "fake").await;
    assert_eq!(
        fake.recv().await,
        RouteFrame::InterestSync {
            seq: 0,
            snapshot_end: true
        },
        "the (empty) snapshot's end"
    );

    // 1. The PONG waits for the ack, and comes with it.
    let mut first = Raw::connected(server.addr).await;
    first.send("SUB barrier.one 1\r\nPING\r\n").await;
    let seq = fake.expect_interest_then_sync("barrier.one").await;
    assert_eq!(seq, 1);
    assert_quiet(&mut first, "PONG before the peer acknowledged").await;
    fake.send(RouteFrame::InterestAck(seq)).await;
    first.expect("PONG").await;

    // 2. Another client's SUB goes unacknowledged; a PING with no SUB of
    // its own before it answers at once all the same...
    let mut second = Raw::connected(server.addr).await;
    second.send("SUB barrier.two 2\r\nPING\r\n").await;
    let seq = fake.expect_interest_then_sync("barrier.two").await;
    assert_eq!(seq, 2);
    let started = Instant::now();
    first.send("PING\r\n").await;
    first.expect("PONG").await;
    assert!(
        started.elapsed() < BARRIER,
        "a PING without a SUB before it waited at the barrier"
    );
    // ...while the one after the SUB is held for the timeout, no longer.
    second.expect("PONG").await;
    let held = started.elapsed();
    println!("PONG held by a silent peer for {held:?} (timeout {BARRIER:?})");
    assert!(
        held + QUIET >= BARRIER,
        "released after {held:?}, before the timeout"
    );
    server.stop().await;
}
