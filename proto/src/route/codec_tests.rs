//! Codec tests. Every decoded stream is also decoded split at every byte
//! offset; random frames, random splits and random garbage run as property
//! tests, and the hot-path message encoder is checked against prost's.

use super::*;
use crate::route::frame::{
    Hello, InterestChange, Member, RouteMsg, ROUTE_MAGIC, ROUTE_PROTOCOL_VERSION,
};
use crate::route::intern::MsgSubject;
use bytes::{Buf, Bytes};
use proptest::prelude::*;

/// Every frame `encode_frame` produces for `frames`, back to back.
fn encode_all(frames: &[RouteFrame]) -> BytesMut {
    let mut buf = BytesMut::new();
    for frame in frames {
        encode_frame(&mut buf, frame);
    }
    buf
}

/// Feeds `chunks` one after another to one codec, decoding all it can after
/// each, then signals end of stream. Stops at the first error.
fn decode_chunks(codec: &mut RouteCodec, chunks: &[&[u8]]) -> Result<Vec<RouteFrame>, RouteError> {
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Some(frame) = codec.decode(&mut buf)? {
            frames.push(frame);
        }
    }
    while let Some(frame) = codec.decode_eof(&mut buf)? {
        frames.push(frame);
    }
    Ok(frames)
}

/// The error's variant, for comparing outcomes (`RouteError` is not `Eq`).
fn variant(error: &RouteError) -> String {
    match error {
        RouteError::TooLarge { len, max } => format!("TooLarge({len}, {max})"),
        RouteError::Decode(_) => "Decode".to_owned(),
        RouteError::Invalid(reason) => format!("Invalid({reason})"),
        RouteError::Io(error) => format!("Io({:?})", error.kind()),
    }
}

fn outcome(result: Result<Vec<RouteFrame>, RouteError>) -> Result<Vec<RouteFrame>, String> {
    result.map_err(|error| variant(&error))
}

/// Decodes `input` whole, split at every byte offset, and one byte at a
/// time, asserts all agree, and returns the outcome.
fn decode_every_split(max_frame: usize, input: &[u8]) -> Result<Vec<RouteFrame>, String> {
    let whole = outcome(decode_chunks(
        &mut RouteCodec::with_max_frame(max_frame),
        &[input],
    ));
    for offset in 0..=input.len() {
        let (head, tail) = input.split_at(offset);
        let split = outcome(decode_chunks(
            &mut RouteCodec::with_max_frame(max_frame),
            &[head, tail],
        ));
        assert_eq!(split, whole, "split at offset {offset}");
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    let trickled = outcome(decode_chunks(
        &mut RouteCodec::with_max_frame(max_frame),
        &bytes,
    ));
    assert_eq!(trickled, whole, "one byte at a time");
    whole
}

fn assert_round_trip(frames: &[RouteFrame]) {
    let encoded = encode_all(frames);
    assert_eq!(
        decode_every_split(MAX_ROUTE_FRAME, &encoded),
        Ok(frames.to_vec())
    );
}

fn hello() -> Hello {
    Hello {
        magic: ROUTE_MAGIC,
        version: ROUTE_PROTOCOL_VERSION,
        node_id: "NDJWE4".to_owned(),
        node_name: "alpha".to_owned(),
        cluster_name: "prod".to_owned(),
        cluster_dynamic: false,
        route_url: "nats-route://127.0.0.1:6222".to_owned(),
        client_urls: vec!["127.0.0.1:4222".to_owned(), "[::1]:4222".to_owned()],
        user: Some("route".to_owned()),
        password: Some("s3cret".to_owned()),
        lame_duck: true,
        interest_ack: true,
        compact_framing: true,
        subject_table: 4096,
    }
}

fn route_msg() -> RouteMsg {
    RouteMsg {
        account: Bytes::from_static(b"$G"),
        subject: Bytes::from_static(b"orders.eu.new"),
        reply: Some(Bytes::from_static(b"_INBOX.abc.1")),
        queues: vec!["billing".to_owned(), "audit".to_owned()],
        header_len: Some(12),
        payload: Bytes::from_static(b"NATS/1.0\r\n\r\n{\"id\":1}"),
    }
}

#[test]
fn hello_round_trips() {
    assert_round_trip(&[RouteFrame::Hello(hello())]);
    assert_round_trip(&[RouteFrame::Hello(Hello {
        node_id: "N".to_owned(),
        ..Hello::default()
    })]);
}

#[test]
fn members_round_trip() {
    let member = Member {
        node_id: "N2".to_owned(),
        node_name: "beta".to_owned(),
        route_url: "nats-route://10.0.0.2:6222".to_owned(),
        client_urls: vec!["10.0.0.2:4222".to_owned()],
        lame_duck: false,
    };
    let lame = Member {
        node_id: "N3".to_owned(),
        lame_duck: true,
        ..Member::default()
    };
    assert_round_trip(&[RouteFrame::Members(vec![member, lame])]);
    assert_round_trip(&[RouteFrame::Members(Vec::new())]);
}

#[test]
fn interest_round_trips() {
    let changes = vec![
        InterestChange::Subscribe {
            account: "$G".to_owned(),
            subject: "orders.>".to_owned(),
            queue: None,
            weight: 1,
        },
        InterestChange::Subscribe {
            account: "TEAM-A".to_owned(),
            subject: "orders.*.new".to_owned(),
            queue: Some("billing".to_owned()),
            weight: 3,
        },
        InterestChange::Unsubscribe {
            account: "$G".to_owned(),
            subject: "orders.>".to_owned(),
            queue: None,
        },
        InterestChange::Unsubscribe {
            account: "TEAM-A".to_owned(),
            subject: "orders.*.new".to_owned(),
            queue: Some("billing".to_owned()),
        },
    ];
    assert_round_trip(&[RouteFrame::Interest(changes)]);
    assert_round_trip(&[RouteFrame::Interest(Vec::new())]);
}

#[test]
fn msg_round_trips() {
    assert_round_trip(&[RouteFrame::Msg(route_msg())]);
    assert_round_trip(&[RouteFrame::Msg(RouteMsg {
        account: Bytes::from_static(b"TEAM-A"),
        subject: Bytes::from_static(b"a"),
        reply: None,
        queues: Vec::new(),
        header_len: None,
        payload: Bytes::new(),
    })]);
}

#[test]
fn ping_pong_and_close_round_trip() {
    assert_round_trip(&[RouteFrame::Ping]);
    assert_round_trip(&[RouteFrame::Pong]);
    assert_round_trip(&[RouteFrame::Close("cluster name mismatch".to_owned())]);
    assert_round_trip(&[RouteFrame::Close(String::new())]);
}

#[test]
fn interest_sync_and_ack_round_trip() {
    assert_round_trip(&[
        RouteFrame::InterestSync {
            seq: 7,
            snapshot_end: false,
        },
        RouteFrame::InterestSync {
            seq: 0,
            snapshot_end: true,
        },
        RouteFrame::InterestAck(u64::MAX),
        RouteFrame::InterestAck(0),
    ]);
}

#[test]
fn consecutive_frames_of_every_kind_decode_in_order() {
    assert_round_trip(&[
        RouteFrame::Hello(hello()),
        RouteFrame::Ping,
        RouteFrame::Msg(route_msg()),
        RouteFrame::Pong,
        RouteFrame::Close("bye".to_owned()),
    ]);
}

#[test]
fn ping_is_a_prefix_and_one_oneof_field() {
    // Length 2: field 5 (ping), length-delimited, empty.
    let mut buf = BytesMut::new();
    encode_frame(&mut buf, &RouteFrame::Ping);
    assert_eq!(&buf[..], &[0, 0, 0, 2, 0x2a, 0x00]);
}

#[test]
fn decoded_msg_shares_the_read_buffer() {
    let mut buf = encode_all(&[RouteFrame::Msg(route_msg())]);
    let range = buf.as_ptr_range();
    let within = |bytes: &Bytes| range.contains(&bytes.as_ptr());
    let frame = RouteCodec::new().decode(&mut buf).expect("decodes");
    let Some(RouteFrame::Msg(msg)) = frame else {
        panic!("expected Msg, got {frame:?}");
    };
    assert!(within(&msg.subject), "subject was copied");
    assert!(msg.reply.as_ref().is_some_and(within), "reply was copied");
    assert!(within(&msg.payload), "payload was copied");
}

#[test]
fn oversized_prefix_is_too_large_before_the_body_arrives() {
    let declared = MAX_ROUTE_FRAME + 1;
    let prefix = u32::try_from(declared).expect("fits").to_be_bytes();
    let mut codec = RouteCodec::new();
    let mut buf = BytesMut::new();
    for (index, byte) in prefix.iter().enumerate() {
        buf.put_u8(*byte);
        let result = codec.decode(&mut buf);
        if index + 1 < prefix.len() {
            assert!(matches!(result, Ok(None)), "{result:?}");
        } else {
            assert!(
                matches!(result, Err(RouteError::TooLarge { len, max })
                    if len == declared && max == MAX_ROUTE_FRAME),
                "{result:?}"
            );
        }
    }
    // Nothing was reserved for the declared body.
    assert!(buf.capacity() < 1024, "capacity {}", buf.capacity());
}

#[test]
fn configured_maximum_is_inclusive() {
    let frames = [RouteFrame::Close("12345".to_owned())];
    let encoded = encode_all(&frames);
    let frame_len = encoded.len() - LENGTH_PREFIX_LEN;
    assert_eq!(decode_every_split(frame_len, &encoded), Ok(frames.to_vec()));
    assert_eq!(
        decode_every_split(frame_len - 1, &encoded),
        Err(format!("TooLarge({frame_len}, {})", frame_len - 1))
    );
}

#[test]
fn encoder_refuses_a_frame_over_the_maximum_and_writes_nothing() {
    let mut codec = RouteCodec::with_max_frame(8);
    assert_eq!(codec.max_frame(), 8);
    let mut buf = BytesMut::new();
    let result = codec.encode(RouteFrame::Close("too long a reason".to_owned()), &mut buf);
    assert!(
        matches!(result, Err(RouteError::TooLarge { max: 8, .. })),
        "{result:?}"
    );
    assert!(buf.is_empty());
    codec.encode(RouteFrame::Ping, &mut buf).expect("fits");
    assert_eq!(buf, encode_all(&[RouteFrame::Ping]));
}

#[test]
fn default_codec_has_the_protocol_maximum() {
    assert_eq!(RouteCodec::default().max_frame(), MAX_ROUTE_FRAME);
}

#[test]
fn frame_without_kind_is_invalid_and_consumed() {
    // An empty frame body is a `Frame` with no oneof set.
    let mut input = vec![0, 0, 0, 0];
    input.extend_from_slice(&encode_all(&[RouteFrame::Ping]));
    assert_eq!(
        decode_every_split(MAX_ROUTE_FRAME, &input),
        Err("Invalid(frame has no kind)".to_owned())
    );
    let mut codec = RouteCodec::new();
    let mut buf = BytesMut::from(&input[..]);
    assert!(matches!(
        codec.decode(&mut buf),
        Err(RouteError::Invalid(_))
    ));
    assert!(matches!(codec.decode(&mut buf), Ok(Some(RouteFrame::Ping))));
}

#[test]
fn hello_with_wrong_magic_decodes_for_the_cluster_to_refuse() {
    let alien = Hello {
        magic: 0x4E41_5453,
        version: ROUTE_PROTOCOL_VERSION + 1,
        ..hello()
    };
    let frames = decode_every_split(
        MAX_ROUTE_FRAME,
        &encode_all(&[RouteFrame::Hello(alien.clone())]),
    );
    assert_eq!(frames, Ok(vec![RouteFrame::Hello(alien.clone())]));
    assert!(alien.is_compatible().is_err());
}

#[test]
fn unknown_fields_are_skipped() {
    // Ping, then field 15 (varint 1) inside the frame: a newer peer's field.
    let input = [0, 0, 0, 4, 0x2a, 0x00, 0x78, 0x01];
    assert_eq!(
        decode_every_split(MAX_ROUTE_FRAME, &input),
        Ok(vec![RouteFrame::Ping])
    );
}

#[test]
fn malformed_body_is_a_decode_error() {
    // Field 4 (msg) declaring 9 bytes with 1 present.
    let input = [0, 0, 0, 3, 0x22, 0x09, 0x0a];
    assert_eq!(
        decode_every_split(MAX_ROUTE_FRAME, &input),
        Err("Decode".to_owned())
    );
}

#[test]
fn invalid_utf8_in_a_string_is_a_decode_error() {
    // Close with reason 0xff.
    let input = [0, 0, 0, 5, 0x3a, 0x03, 0x0a, 0x01, 0xff];
    assert_eq!(
        decode_every_split(MAX_ROUTE_FRAME, &input),
        Err("Decode".to_owned())
    );
}

#[test]
fn stream_ending_inside_a_frame_is_unexpected_eof() {
    let encoded = encode_all(&[RouteFrame::Msg(route_msg())]);
    for cut in 1..encoded.len() {
        let mut codec = RouteCodec::new();
        let result = decode_chunks(&mut codec, &[&encoded[..cut]]);
        assert!(
            matches!(&result, Err(RouteError::Io(error))
                if error.kind() == std::io::ErrorKind::UnexpectedEof),
            "cut at {cut}: {result:?}"
        );
    }
}

#[test]
fn stream_ending_between_frames_is_clean() {
    assert_eq!(decode_every_split(MAX_ROUTE_FRAME, &[]), Ok(Vec::new()));
    assert_round_trip(&[RouteFrame::Ping, RouteFrame::Pong]);
}

#[test]
fn hot_path_encoder_matches_generic_encoder() {
    for account in [&b"$G"[..], b"TEAM-A"] {
        let msg = RouteMsg {
            account: Bytes::copy_from_slice(account),
            ..route_msg()
        };
        let queues: Vec<&str> = msg.queues.iter().map(String::as_str).collect();
        let mut hot = BytesMut::new();
        encode_msg_frame(
            &mut hot,
            Framing::Fixed,
            MsgSubject::Plain,
            &MsgParts {
                account,
                subject: &msg.subject,
                reply: msg.reply.as_deref(),
                queues: &queues,
                header_len: Some(12),
                payload: &msg.payload,
            },
        );
        assert_eq!(hot, encode_all(&[RouteFrame::Msg(msg)]));
    }
}

#[test]
fn global_account_costs_no_bytes_on_the_wire() {
    let global = encode_all(&[RouteFrame::Msg(route_msg())]);
    let other = encode_all(&[RouteFrame::Msg(RouteMsg {
        account: Bytes::from_static(b"A"),
        ..route_msg()
    })]);
    // Key, length and the one byte of "A".
    assert_eq!(other.len(), global.len() + 3);
}

#[test]
fn invalid_account_name_is_refused() {
    let encoded = encode_all(&[RouteFrame::Msg(RouteMsg {
        account: Bytes::from_static(b"a b"),
        ..route_msg()
    })]);
    let result = decode_chunks(&mut RouteCodec::new(), &[&encoded]);
    assert!(matches!(result, Err(RouteError::Invalid(_))), "{result:?}");
}

// Strategies for valid frames.

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9:/._-]{0,12}"
}

fn node_id() -> impl Strategy<Value = String> {
    "[A-Z0-9]{1,22}"
}

fn token() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_-]{1,6}"
}

fn queue_name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9._-]{1,8}"
}

fn interest_subject() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(prop_oneof![token(), Just("*".to_owned())], 1..4),
        any::<bool>(),
    )
        .prop_map(|(mut tokens, rest)| {
            if rest {
                tokens.push(">".to_owned());
            }
            tokens.join(".")
        })
}

/// A publish subject as a client may send one: any bytes but whitespace.
fn wire_subject() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        any::<u8>().prop_filter("no whitespace", |byte| {
            !matches!(byte, b' ' | b'\t' | b'\r' | b'\n' | 0x0c)
        }),
        1..40,
    )
}

fn hello_strategy() -> impl Strategy<Value = Hello> {
    (
        (any::<u32>(), any::<u32>(), node_id(), text(), text()),
        (any::<bool>(), text(), prop::collection::vec(text(), 0..3)),
        (
            prop::option::of(text()),
            prop::option::of(text()),
            any::<bool>(),
        ),
        (any::<bool>(), any::<u32>()),
    )
        .prop_map(
            |(
                (magic, version, node_id, node_name, cluster_name),
                (cluster_dynamic, route_url, client_urls),
                (user, password, lame_duck),
                (compact_framing, subject_table),
            )| Hello {
                magic,
                version,
                node_id,
                node_name,
                cluster_name,
                cluster_dynamic,
                route_url,
                client_urls,
                user,
                password,
                interest_ack: lame_duck && !cluster_dynamic,
                lame_duck,
                compact_framing,
                subject_table,
            },
        )
}

fn member_strategy() -> impl Strategy<Value = Member> {
    (
        node_id(),
        text(),
        text(),
        prop::collection::vec(text(), 0..3),
        any::<bool>(),
    )
        .prop_map(
            |(node_id, node_name, route_url, client_urls, lame_duck)| Member {
                node_id,
                node_name,
                route_url,
                client_urls,
                lame_duck,
            },
        )
}

fn interest_strategy() -> impl Strategy<Value = InterestChange> {
    let queue = || prop::option::of(queue_name());
    prop_oneof![
        (account_name(), interest_subject(), queue(), 1..u32::MAX).prop_map(
            |(account, subject, queue, weight)| InterestChange::Subscribe {
                account,
                subject,
                queue,
                weight,
            }
        ),
        (interest_subject(), queue()).prop_map(|(subject, queue)| InterestChange::Unsubscribe {
            account: "$G".to_owned(),
            subject,
            queue,
        }),
    ]
}

fn account_name() -> impl Strategy<Value = String> {
    prop_oneof![Just("$G".to_owned()), "[A-Z0-9$_-]{1,12}"]
}

/// Parts of a message as the broker's hot path has them.
#[derive(Debug, Clone)]
struct OwnedMsgParts {
    account: String,
    subject: Vec<u8>,
    reply: Option<Vec<u8>>,
    queues: Vec<String>,
    header_len: Option<usize>,
    payload: Vec<u8>,
}

impl OwnedMsgParts {
    fn to_route_msg(&self) -> RouteMsg {
        RouteMsg {
            account: Bytes::copy_from_slice(self.account.as_bytes()),
            subject: Bytes::copy_from_slice(&self.subject),
            reply: self.reply.as_deref().map(Bytes::copy_from_slice),
            queues: self.queues.clone(),
            header_len: self
                .header_len
                .map(|len| u32::try_from(len).expect("small")),
            payload: Bytes::copy_from_slice(&self.payload),
        }
    }
}

fn msg_parts_strategy() -> impl Strategy<Value = OwnedMsgParts> {
    (
        account_name(),
        wire_subject(),
        prop::option::of(wire_subject()),
        prop::collection::vec(queue_name(), 0..3),
        prop::collection::vec(any::<u8>(), 0..300),
        any::<Option<prop::sample::Index>>(),
    )
        .prop_map(|(account, subject, reply, queues, payload, header)| {
            let header_len = header.map(|index| index.index(payload.len() + 1));
            OwnedMsgParts {
                account,
                subject,
                reply,
                queues,
                header_len,
                payload,
            }
        })
}

fn frame_strategy() -> impl Strategy<Value = RouteFrame> {
    prop_oneof![
        hello_strategy().prop_map(RouteFrame::Hello),
        prop::collection::vec(member_strategy(), 0..4).prop_map(RouteFrame::Members),
        prop::collection::vec(interest_strategy(), 0..4).prop_map(RouteFrame::Interest),
        msg_parts_strategy().prop_map(|parts| RouteFrame::Msg(parts.to_route_msg())),
        Just(RouteFrame::Ping),
        Just(RouteFrame::Pong),
        text().prop_map(RouteFrame::Close),
        (any::<u64>(), any::<bool>())
            .prop_map(|(seq, snapshot_end)| RouteFrame::InterestSync { seq, snapshot_end }),
        any::<u64>().prop_map(RouteFrame::InterestAck),
    ]
}

/// Cuts `input` into pieces at the given (unsorted, possibly repeated)
/// offsets, each taken modulo the input length.
fn cut(input: &[u8], offsets: &[usize]) -> Vec<Vec<u8>> {
    let mut offsets: Vec<usize> = offsets
        .iter()
        .map(|offset| offset % (input.len() + 1))
        .collect();
    offsets.sort_unstable();
    let mut pieces = Vec::new();
    let mut start = 0;
    for offset in offsets.into_iter().chain([input.len()]) {
        pieces.push(input[start..offset].to_vec());
        start = offset;
    }
    pieces
}

proptest! {
    #[test]
    fn random_frames_round_trip_in_random_pieces(
        frames in prop::collection::vec(frame_strategy(), 1..6),
        offsets in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut codec = RouteCodec::new();
        let mut encoded = BytesMut::new();
        for frame in &frames {
            codec.encode(frame.clone(), &mut encoded).expect("under the maximum");
        }
        prop_assert_eq!(&encoded, &encode_all(&frames));
        let pieces = cut(&encoded, &offsets);
        let pieces: Vec<&[u8]> = pieces.iter().map(Vec::as_slice).collect();
        let decoded = decode_chunks(&mut RouteCodec::new(), &pieces).expect("decodes");
        prop_assert_eq!(decoded, frames);
    }

    #[test]
    fn single_random_frame_decodes_at_every_split(frame in frame_strategy()) {
        let encoded = encode_all(std::slice::from_ref(&frame));
        prop_assert_eq!(decode_every_split(MAX_ROUTE_FRAME, &encoded), Ok(vec![frame]));
    }

    #[test]
    fn hot_path_encoder_equals_generic_encoder(
        parts in msg_parts_strategy(),
        existing in prop::collection::vec(any::<u8>(), 0..8),
    ) {
        let queues: Vec<&str> = parts.queues.iter().map(String::as_str).collect();
        let borrowed = MsgParts {
            account: parts.account.as_bytes(),
            subject: &parts.subject,
            reply: parts.reply.as_deref(),
            queues: &queues,
            header_len: parts.header_len,
            payload: &parts.payload,
        };
        let mut hot = BytesMut::from(&existing[..]);
        encode_msg_frame(&mut hot, Framing::Fixed, MsgSubject::Plain, &borrowed);
        let appended = hot.split_off(existing.len());
        prop_assert_eq!(&hot[..], &existing[..]);
        prop_assert_eq!(appended.len(), msg_frame_len(Framing::Fixed, MsgSubject::Plain, &borrowed));
        let expected = RouteFrame::Msg(parts.to_route_msg());
        prop_assert_eq!(&appended, &encode_all(std::slice::from_ref(&expected)));
        let decoded = decode_chunks(&mut RouteCodec::new(), &[&appended]).expect("decodes");
        prop_assert_eq!(decoded, vec![expected]);
    }

    #[test]
    fn random_garbage_never_panics(
        garbage in prop::collection::vec(any::<u8>(), 0..200),
        offsets in prop::collection::vec(any::<usize>(), 0..4),
        max_frame in prop_oneof![Just(MAX_ROUTE_FRAME), 0..64usize],
    ) {
        let pieces = cut(&garbage, &offsets);
        let pieces: Vec<&[u8]> = pieces.iter().map(Vec::as_slice).collect();
        let _ = decode_chunks(&mut RouteCodec::with_max_frame(max_frame), &pieces);
    }

    #[test]
    fn garbage_body_behind_a_valid_prefix_never_panics(
        body in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut input = BytesMut::new();
        input.put_u32(u32::try_from(body.len()).expect("small"));
        input.extend_from_slice(&body);
        let mut codec = RouteCodec::new();
        let result = codec.decode(&mut input);
        // Framing is intact whatever the body: the frame is always consumed.
        let framed = !matches!(result, Ok(None) | Err(RouteError::TooLarge { .. }));
        prop_assert!(framed, "frame not consumed: {:?}", result);
        prop_assert_eq!(input.remaining(), 0);
    }

    #[test]
    fn mutated_valid_frames_never_panic(
        frame in frame_strategy(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut encoded = encode_all(&[frame]).to_vec();
        for (index, byte) in flips {
            let position = index.index(encoded.len());
            encoded[position] ^= byte;
        }
        let _ = decode_chunks(&mut RouteCodec::with_max_frame(4096), &[&encoded]);
    }
}
