//! Interest acknowledgements on a route with compact framing: the
//! InterestSync/InterestAck frames (readiness) go through the negotiated
//! varint length prefix (convergence) like every other frame after the
//! Hellos, and every chunk of a chunked snapshot counts in the sync's seq.

mod support;

use std::time::Duration;

use bytes::BytesMut;
use starling_proto::route::{
    encode_frame, encode_frame_as, Framing, Hello, InterestChange, RouteCodec, RouteFrame,
    ROUTE_MAGIC, ROUTE_PROTOCOL_VERSION,
};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::Decoder;

const LIMIT: Duration = Duration::from_secs(5);

/// A route peer driven by hand that speaks compact framing after the Hellos.
struct CompactPeer {
    stream: TcpStream,
    buf: BytesMut,
    codec: RouteCodec,
}

impl CompactPeer {
    async fn send(&mut self, frame: &RouteFrame, framing: Framing) {
        let mut buf = BytesMut::new();
        encode_frame_as(&mut buf, frame, framing);
        self.stream.write_all(&buf).await.unwrap();
    }

    /// The next frame other than the node's pings (answered).
    async fn recv(&mut self) -> RouteFrame {
        loop {
            let frame = within(LIMIT, "a frame from the node", async {
                loop {
                    if let Some(frame) = self.codec.decode(&mut self.buf).unwrap() {
                        return frame;
                    }
                    let read = self.stream.read_buf(&mut self.buf).await.unwrap();
                    assert!(read > 0, "the node closed the connection");
                }
            })
            .await;
            if frame == RouteFrame::Ping {
                self.send(&RouteFrame::Pong, Framing::Compact).await;
                continue;
            }
            return frame;
        }
    }
}

fn hello(node_id: &str) -> Hello {
    Hello {
        magic: ROUTE_MAGIC,
        version: ROUTE_PROTOCOL_VERSION,
        node_id: node_id.into(),
        node_name: node_id.into(),
        cluster_name: "test".into(),
        cluster_dynamic: false,
        route_url: String::new(),
        client_urls: Vec::new(),
        user: None,
        password: None,
        lame_duck: false,
        interest_ack: true,
        compact_framing: true,
        subject_table: 0,
    }
}

fn subscribe(subject: &str) -> InterestChange {
    InterestChange::Subscribe {
        account: "$G".into(),
        subject: subject.into(),
        queue: None,
        weight: 1,
    }
}

#[tokio::test]
async fn interest_sync_and_ack_use_the_compact_prefix_and_count_snapshot_chunks() {
    let node = tcp_node(config("compact-a", vec![])).await;
    let mut fake = CompactPeer {
        stream: TcpStream::connect(node.addr()).await.unwrap(),
        buf: BytesMut::new(),
        codec: RouteCodec::new(),
    };
    let mut ours = BytesMut::new();
    encode_frame(&mut ours, &RouteFrame::Hello(hello("zzz-compact")));
    fake.stream.write_all(&ours).await.unwrap();
    let RouteFrame::Hello(theirs) = fake.recv().await else {
        panic!("expected Hello first");
    };
    assert!(theirs.compact_framing && theirs.interest_ack);
    // Everything after the Hellos is varint-prefixed, the sync included.
    fake.codec.set_framing(Framing::Compact);
    assert!(matches!(fake.recv().await, RouteFrame::Members(_)));
    assert_eq!(
        fake.recv().await,
        RouteFrame::InterestSync {
            seq: 0,
            snapshot_end: true
        }
    );
    wait_for(LIMIT, "peer_up", || {
        node.recorder.live_nodes() == ["zzz-compact"]
    })
    .await;
    let peer = node.peer("zzz-compact").expect("peer");

    // Our snapshot and sync, compact: answered with a compact ack.
    fake.send(
        &RouteFrame::Interest(vec![subscribe("a")]),
        Framing::Compact,
    )
    .await;
    let sync = RouteFrame::InterestSync {
        seq: 1,
        snapshot_end: true,
    };
    fake.send(&sync, Framing::Compact).await;
    assert_eq!(fake.recv().await, RouteFrame::InterestAck(1));
    assert!(peer.snapshot_received());

    // The node's side: a snapshot in two chunks is two Interest frames.
    let changes = [subscribe("b"), subscribe("c")];
    peer.send_interest_snapshot(changes.iter().map(InterestChange::as_interest_ref), 1)
        .unwrap();
    assert_eq!(peer.request_interest_ack(), Some(2));
    assert_eq!(
        fake.recv().await,
        RouteFrame::Interest(vec![changes[0].clone()])
    );
    assert_eq!(
        fake.recv().await,
        RouteFrame::Interest(vec![changes[1].clone()])
    );
    assert_eq!(
        fake.recv().await,
        RouteFrame::InterestSync {
            seq: 2,
            snapshot_end: false
        }
    );
    fake.send(&RouteFrame::InterestAck(2), Framing::Compact)
        .await;
    within(LIMIT, "the ack arrives", peer.interest_acked(2)).await;
    assert_eq!(peer.interest_acknowledged(), 2);
    assert!(!peer.is_closed(), "{:?}", peer.close_reason());
}
