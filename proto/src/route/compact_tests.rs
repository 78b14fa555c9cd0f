//! Tests of the negotiated capabilities: the varint length prefix and
//! subject interning, on the codec and the hot-path encoder.

use bytes::{BufMut, Bytes, BytesMut};
use prost::Message;
use tokio_util::codec::{Decoder, Encoder};

use super::*;
use crate::route::frame::{InterestChange, RouteMsg};
use crate::route::generated as pb;
use crate::route::intern::{MsgSubject, SubjectInterner};
use crate::route::MsgParts;

const SUBJECT: &[u8] = b"conv.wire.bytes";
const PAYLOAD: &[u8] = b"0123456789abcdef";

fn compact_codec(table: u32) -> RouteCodec {
    let mut codec = RouteCodec::new();
    codec.set_framing(Framing::Compact);
    codec.set_subject_table(table);
    codec
}

fn parts<'a>(account: &'a [u8], subject: &'a [u8]) -> MsgParts<'a> {
    MsgParts {
        account,
        subject,
        reply: None,
        queues: &[],
        header_len: None,
        payload: PAYLOAD,
    }
}

fn msg_in(account: &[u8], framing: Framing, how: MsgSubject, subject: &[u8]) -> BytesMut {
    let mut buf = BytesMut::new();
    let msg = parts(account, subject);
    encode_msg_frame(&mut buf, framing, how, &msg);
    assert_eq!(buf.len(), msg_frame_len(framing, how, &msg));
    buf
}

fn msg_frame(framing: Framing, how: MsgSubject, subject: &[u8]) -> BytesMut {
    msg_in(b"$G", framing, how, subject)
}

fn decode_all(codec: &mut RouteCodec, bytes: &[u8]) -> Result<Vec<RouteFrame>, RouteError> {
    let mut buf = BytesMut::from(bytes);
    let mut frames = Vec::new();
    while let Some(frame) = codec.decode(&mut buf)? {
        frames.push(frame);
    }
    assert!(buf.is_empty(), "bytes left over");
    Ok(frames)
}

fn expected_msg() -> RouteFrame {
    RouteFrame::Msg(RouteMsg {
        account: Bytes::from_static(b"$G"),
        subject: Bytes::from_static(SUBJECT),
        reply: None,
        queues: Vec::new(),
        header_len: None,
        payload: Bytes::from_static(PAYLOAD),
    })
}

#[test]
fn wire_size_of_a_16_byte_message_on_a_15_character_subject() {
    assert_eq!(
        msg_frame(Framing::Fixed, MsgSubject::Plain, SUBJECT).len(),
        41
    );
    assert_eq!(
        msg_frame(Framing::Compact, MsgSubject::Plain, SUBJECT).len(),
        38
    );
    assert_eq!(
        msg_frame(Framing::Compact, MsgSubject::Define(3), SUBJECT).len(),
        40
    );
    assert_eq!(
        msg_frame(Framing::Compact, MsgSubject::Interned(3), SUBJECT).len(),
        23
    );
}

#[test]
fn interest_frame_encoder_matches_the_generic_encoder() {
    let changes = vec![
        InterestChange::Subscribe {
            account: "$G".into(),
            subject: "a.>".into(),
            queue: Some("q".into()),
            weight: 3,
        },
        InterestChange::Unsubscribe {
            account: "TEAM".into(),
            subject: "b".into(),
            queue: None,
        },
    ];
    for framing in [Framing::Fixed, Framing::Compact] {
        let mut direct = BytesMut::new();
        encode_interest_frame(&mut direct, &changes, framing);
        let mut generic = BytesMut::new();
        encode_frame_as(
            &mut generic,
            &RouteFrame::Interest(changes.clone()),
            framing,
        );
        assert_eq!(direct, generic);
    }
}

#[test]
fn compact_ping_is_a_one_byte_prefix() {
    let mut buf = BytesMut::new();
    encode_frame_as(&mut buf, &RouteFrame::Ping, Framing::Compact);
    assert_eq!(&buf[..], &[2, 0x2a, 0x00]);
}

#[test]
fn compact_frames_round_trip_at_every_split() {
    let mut encoder = compact_codec(0);
    let mut encoded = BytesMut::new();
    let big = RouteFrame::Close("x".repeat(300));
    let sync = RouteFrame::InterestSync {
        seq: u64::MAX,
        snapshot_end: true,
    };
    let ack = RouteFrame::InterestAck(300);
    let sent = [
        RouteFrame::Ping,
        big.clone(),
        expected_msg(),
        sync.clone(),
        ack.clone(),
    ];
    for frame in sent.clone() {
        encoder.encode(frame, &mut encoded).expect("encodes");
    }
    for split in 0..=encoded.len() {
        let mut codec = compact_codec(0);
        let mut buf = BytesMut::from(&encoded[..split]);
        let mut frames = Vec::new();
        while let Some(frame) = codec.decode(&mut buf).expect("decodes") {
            frames.push(frame);
        }
        buf.extend_from_slice(&encoded[split..]);
        while let Some(frame) = codec.decode_eof(&mut buf).expect("decodes") {
            frames.push(frame);
        }
        assert_eq!(frames, sent);
    }
}

#[test]
fn compact_prefix_over_the_maximum_is_too_large_before_the_body() {
    let mut codec = RouteCodec::with_max_frame(100);
    codec.set_framing(Framing::Compact);
    let mut buf = BytesMut::new();
    prost::encoding::encode_varint(101, &mut buf);
    assert!(matches!(
        codec.decode(&mut buf),
        Err(RouteError::TooLarge { len: 101, max: 100 })
    ));
}

#[test]
fn malformed_or_truncated_compact_prefix_is_an_error() {
    let mut codec = compact_codec(0);
    let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01][..]);
    assert!(matches!(
        codec.decode(&mut buf),
        Err(RouteError::Invalid(_))
    ));
    let mut codec = compact_codec(0);
    let mut buf = BytesMut::from(&[0x85][..]);
    assert!(matches!(codec.decode(&mut buf), Ok(None)));
    assert!(matches!(codec.decode_eof(&mut buf), Err(RouteError::Io(_))));
}

#[test]
fn hot_path_encoder_with_an_id_matches_prost() {
    for (how, subject, account, id) in [
        (MsgSubject::Define(300), SUBJECT, &b"TEAM"[..], 300),
        (MsgSubject::Interned(7), &b""[..], &b""[..], 7),
    ] {
        let proto = pb::Frame {
            kind: Some(pb::frame::Kind::Msg(pb::Msg {
                account: Bytes::copy_from_slice(account),
                subject: Bytes::copy_from_slice(subject),
                payload: Bytes::from_static(PAYLOAD),
                subject_id: Some(id),
                ..pb::Msg::default()
            })),
        };
        let mut expected = BytesMut::new();
        expected.put_u32(u32::try_from(proto.encoded_len()).expect("small"));
        proto.encode(&mut expected).expect("encodes");
        assert_eq!(msg_in(b"TEAM", Framing::Fixed, how, SUBJECT), expected);
    }
}

#[test]
fn an_id_stands_for_its_account_and_subject() {
    let mut interner = SubjectInterner::new(16);
    let mut stream = BytesMut::new();
    for account in [&b"TEAM"[..], b"TEAM", b"$G", b"$G", b"TEAM", b"$G"] {
        let how = interner.resolve(account, SUBJECT);
        stream.extend_from_slice(&msg_in(account, Framing::Compact, how, SUBJECT));
        interner.commit(account, SUBJECT, how);
    }
    let frames = decode_all(&mut compact_codec(16), &stream).expect("decodes");
    let accounts: Vec<Bytes> = frames
        .into_iter()
        .map(|frame| match frame {
            RouteFrame::Msg(msg) => {
                assert_eq!(msg.subject, Bytes::from_static(SUBJECT));
                msg.account
            }
            other => panic!("not a message: {other:?}"),
        })
        .collect();
    let expected: Vec<Bytes> = ["TEAM", "TEAM", "$G", "$G", "TEAM", "$G"]
        .iter()
        .map(|name| Bytes::copy_from_slice(name.as_bytes()))
        .collect();
    assert_eq!(accounts, expected);
}

#[test]
fn an_interned_use_that_also_names_an_account_is_invalid() {
    let mut stream = msg_in(b"$G", Framing::Compact, MsgSubject::Define(1), SUBJECT);
    // A hand-made use of id 1 that carries an account as well.
    let proto = pb::Frame {
        kind: Some(pb::frame::Kind::Msg(pb::Msg {
            account: Bytes::from_static(b"TEAM"),
            payload: Bytes::from_static(PAYLOAD),
            subject_id: Some(1),
            ..pb::Msg::default()
        })),
    };
    prost::encoding::encode_varint(proto.encoded_len() as u64, &mut stream);
    proto.encode(&mut stream).expect("encodes");
    assert!(matches!(
        decode_all(&mut compact_codec(16), &stream),
        Err(RouteError::Invalid(_))
    ));
}

#[test]
fn interned_messages_decode_to_their_subject() {
    let mut interner = SubjectInterner::new(16);
    let mut stream = BytesMut::new();
    for _ in 0..4 {
        let how = interner.resolve(b"", SUBJECT);
        stream.extend_from_slice(&msg_frame(Framing::Compact, how, SUBJECT));
        interner.commit(b"", SUBJECT, how);
    }
    let frames = decode_all(&mut compact_codec(16), &stream).expect("decodes");
    assert_eq!(frames, vec![expected_msg(); 4]);
    // Plain, define, then two uses of one byte-sized id.
    assert_eq!(stream.len(), 38 + 40 + 23 + 23);
}

#[test]
fn an_undefined_or_out_of_table_id_is_invalid() {
    let undefined = msg_frame(Framing::Compact, MsgSubject::Interned(2), SUBJECT);
    assert!(matches!(
        decode_all(&mut compact_codec(16), &undefined),
        Err(RouteError::Invalid(_))
    ));
    let outside = msg_frame(Framing::Compact, MsgSubject::Define(16), SUBJECT);
    assert!(matches!(
        decode_all(&mut compact_codec(16), &outside),
        Err(RouteError::Invalid(_))
    ));
    let defined = msg_frame(Framing::Compact, MsgSubject::Define(0), SUBJECT);
    assert!(matches!(
        decode_all(&mut compact_codec(0), &defined),
        Err(RouteError::Invalid(_))
    ));
}
