//! Writes the route fuzz targets' seed corpora: real frames of each kind
//! as the encoders produce them. `fuzz/seeds/route_frame/` gets frame
//! bodies (no length prefix), `fuzz/seeds/route_codec/` whole streams (a
//! handshake, then traffic).
//!
//! Run from the repository root:
//! `cargo run -p starling-proto --example write_fuzz_seeds -- fuzz/seeds`

use std::path::Path;

use bytes::{Bytes, BytesMut};
use starling_proto::route::{
    encode_frame, encode_msg_frame, Framing, Hello, InterestChange, Member, MsgParts, MsgSubject,
    RouteFrame, RouteMsg, ROUTE_MAGIC, ROUTE_PROTOCOL_VERSION,
};

/// Bytes of the length prefix, stripped for the body seeds.
const LENGTH_PREFIX_LEN: usize = 4;

fn main() -> std::io::Result<()> {
    let seeds = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fuzz/seeds".to_owned());
    let seeds = Path::new(&seeds);
    let frames = sample_frames();
    let bodies = seeds.join("route_frame");
    std::fs::create_dir_all(&bodies)?;
    for (name, frame) in &frames {
        let mut encoded = BytesMut::new();
        encode_frame(&mut encoded, frame);
        std::fs::write(bodies.join(name), &encoded[LENGTH_PREFIX_LEN..])?;
    }

    let streams = seeds.join("route_codec");
    std::fs::create_dir_all(&streams)?;
    let mut handshake_and_traffic = BytesMut::new();
    for (_, frame) in &frames {
        encode_frame(&mut handshake_and_traffic, frame);
    }
    std::fs::write(streams.join("all_kinds"), &handshake_and_traffic)?;
    let mut messages = BytesMut::new();
    for index in 0..4 {
        let subject = format!("orders.{index}");
        encode_msg_frame(
            &mut messages,
            Framing::Fixed,
            MsgSubject::Plain,
            &MsgParts {
                account: if index % 2 == 0 { b"$G" } else { b"TEAM-A" },
                subject: subject.as_bytes(),
                reply: None,
                queues: &[],
                header_len: None,
                payload: b"payload",
            },
        );
    }
    encode_msg_frame(
        &mut messages,
        Framing::Fixed,
        MsgSubject::Plain,
        &MsgParts {
            account: b"$G",
            subject: b"svc.req",
            reply: Some(b"_INBOX.x"),
            queues: &["workers"],
            header_len: Some(12),
            payload: b"NATS/1.0\r\n\r\nbody",
        },
    );
    std::fs::write(streams.join("messages"), &messages)?;
    let mut truncated = handshake_and_traffic.clone();
    truncated.truncate(handshake_and_traffic.len() - 3);
    std::fs::write(streams.join("truncated"), &truncated)?;
    Ok(())
}

fn sample_frames() -> Vec<(&'static str, RouteFrame)> {
    let hello = Hello {
        magic: ROUTE_MAGIC,
        version: ROUTE_PROTOCOL_VERSION,
        node_id: "NDKZ4V5RWZC2MSJFRN3QAMDQ".to_owned(),
        node_name: "n1".to_owned(),
        cluster_name: "starling".to_owned(),
        cluster_dynamic: false,
        route_url: "nats-route://127.0.0.1:6222".to_owned(),
        client_urls: vec!["127.0.0.1:4222".to_owned()],
        user: Some("route".to_owned()),
        password: Some("pw".to_owned()),
        lame_duck: false,
        interest_ack: true,
        compact_framing: true,
        subject_table: 4096,
    };
    let member = Member {
        node_id: "NB2".to_owned(),
        node_name: "n2".to_owned(),
        route_url: "nats-route://127.0.0.1:6223".to_owned(),
        client_urls: vec!["127.0.0.1:4223".to_owned(), "10.0.0.2:4222".to_owned()],
        lame_duck: true,
    };
    vec![
        ("hello", RouteFrame::Hello(hello)),
        ("members", RouteFrame::Members(vec![member])),
        (
            "interest",
            RouteFrame::Interest(vec![
                InterestChange::Subscribe {
                    account: "$G".to_owned(),
                    subject: "orders.*".to_owned(),
                    queue: None,
                    weight: 1,
                },
                InterestChange::Subscribe {
                    account: "TEAM-A".to_owned(),
                    subject: "svc.>".to_owned(),
                    queue: Some("workers".to_owned()),
                    weight: 3,
                },
                InterestChange::Unsubscribe {
                    account: "$G".to_owned(),
                    subject: "old".to_owned(),
                    queue: None,
                },
            ]),
        ),
        (
            "msg",
            RouteFrame::Msg(RouteMsg {
                account: Bytes::from_static(b"TEAM-A"),
                subject: Bytes::from_static(b"svc.req"),
                reply: Some(Bytes::from_static(b"_INBOX.abc")),
                queues: vec!["workers".to_owned()],
                header_len: Some(12),
                payload: Bytes::from_static(b"NATS/1.0\r\n\r\nhello"),
            }),
        ),
        ("ping", RouteFrame::Ping),
        ("pong", RouteFrame::Pong),
        ("close", RouteFrame::Close("shutting down".to_owned())),
        (
            "interest_sync",
            RouteFrame::InterestSync {
                seq: 3,
                snapshot_end: true,
            },
        ),
        ("interest_ack", RouteFrame::InterestAck(3)),
    ]
}
