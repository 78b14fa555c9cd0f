//! Parser tests. Every valid stream is also parsed split at every byte
//! offset, and random splits and random garbage run as property tests.

use super::*;
use proptest::prelude::*;

const MCL: usize = 4096;
const MAX_PAYLOAD: usize = 1024 * 1024;

/// An op rendered to a comparable string (ops borrow from the input).
fn show(op: &ClientOp<'_>) -> String {
    let text = |b: &[u8]| String::from_utf8_lossy(b).to_string();
    match op {
        ClientOp::Connect(j) => format!("CONNECT {}", text(j)),
        ClientOp::Pub {
            subject,
            reply,
            payload,
        } => {
            format!(
                "PUB {} {:?} [{}]",
                text(subject),
                reply.map(text),
                text(payload)
            )
        }
        ClientOp::HPub {
            subject,
            reply,
            header_len,
            message,
        } => {
            format!(
                "HPUB {} {:?} {} [{}]",
                text(subject),
                reply.map(text),
                header_len,
                text(message)
            )
        }
        ClientOp::Sub {
            subject,
            queue,
            sid,
        } => format!("SUB {} {:?} {}", text(subject), queue.map(text), text(sid)),
        ClientOp::Unsub { sid, max } => format!("UNSUB {} {:?}", text(sid), max),
        ClientOp::Ping => "PING".into(),
        ClientOp::Pong => "PONG".into(),
        ClientOp::Info(j) => format!("INFO {}", text(j)),
        ClientOp::Ok => "+OK".into(),
        ClientOp::Err(t) => format!("-ERR {}", text(t)),
    }
}

/// Parse a stream fed in the given chunks, consuming as a reader would;
/// returns the ops and the final error.
fn parse_chunks(chunks: &[&[u8]]) -> (Vec<String>, Option<ParseError>) {
    let mut parser = ClientParser::new(MCL, MAX_PAYLOAD);
    let mut buf: Vec<u8> = Vec::new();
    let mut ops = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        let mut consumed = 0;
        loop {
            match parser.parse(&buf[consumed..]) {
                Ok(Some((op, used))) => {
                    ops.push(show(&op));
                    consumed += used;
                }
                Ok(None) => break,
                Err(e) => return (ops, Some(e)),
            }
        }
        buf.drain(..consumed);
    }
    (ops, None)
}

fn parse_all(input: &[u8]) -> (Vec<String>, Option<ParseError>) {
    parse_chunks(&[input])
}

fn parse_one(parser: &mut ClientParser, input: &[u8]) -> Result<Option<String>, ParseError> {
    parser.parse(input).map(|r| r.map(|(op, _)| show(&op)))
}

/// Parse whole, then split at every offset: the result must be the same.
fn parse_every_split(input: &[u8]) -> Vec<String> {
    let (whole, err) = parse_all(input);
    assert_eq!(
        err,
        None,
        "unexpected error for {:?}",
        String::from_utf8_lossy(input)
    );
    for at in 0..=input.len() {
        let (ops, err) = parse_chunks(&[&input[..at], &input[at..]]);
        assert_eq!(err, None, "split at {at}");
        assert_eq!(ops, whole, "split at {at}");
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(parse_chunks(&bytes).0, whole, "byte by byte");
    whole
}

#[test]
fn every_op_parses() {
    let input = b"CONNECT {\"verbose\":false}\r\nPING\r\nPONG\r\nSUB foo 1\r\nSUB foo q 2\r\n\
UNSUB 1\r\nUNSUB 2 10\r\nPUB foo 5\r\nhello\r\nPUB foo bar 0\r\n\r\n\
HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\nHPUB foo r 12 12\r\nNATS/1.0\r\n\r\n\r\n\
INFO {}\r\n+OK\r\n-ERR 'x'\r\n";
    let ops = parse_every_split(input);
    assert_eq!(
        ops,
        vec![
            "CONNECT {\"verbose\":false}",
            "PING",
            "PONG",
            "SUB foo None 1",
            "SUB foo Some(\"q\") 2",
            "UNSUB 1 None",
            "UNSUB 2 Some(10)",
            "PUB foo None [hello]",
            "PUB foo Some(\"bar\") []",
            "HPUB foo None 12 [NATS/1.0\r\n\r\nhi]",
            "HPUB foo Some(\"r\") 12 [NATS/1.0\r\n\r\n]",
            "INFO {}",
            "+OK",
            "-ERR 'x'",
        ]
    );
}

#[test]
fn ops_are_case_insensitive_with_tabs_and_bare_lf() {
    let ops = parse_every_split(b"sub\tfoo  7\nping\npub foo\t2\nhi\r\nPiNg\r\n");
    assert_eq!(
        ops,
        vec!["SUB foo None 7", "PING", "PUB foo None [hi]", "PING",]
    );
}

#[test]
fn payload_may_contain_line_ends() {
    let ops = parse_every_split(b"PUB a 6\r\n\r\nPING\r\n");
    assert_eq!(ops, vec!["PUB a None [\r\nPING]"]);
}

#[test]
fn hundreds_pipelined_in_one_buffer() {
    let mut input = Vec::new();
    for i in 0..500 {
        input.extend_from_slice(format!("PUB s.{i} 3\r\nabc\r\n").as_bytes());
    }
    let (ops, err) = parse_all(&input);
    assert_eq!(err, None);
    assert_eq!(ops.len(), 500);
    assert_eq!(ops[499], "PUB s.499 None [abc]");
}

#[test]
fn unknown_ops_and_msg_from_client_are_rejected() {
    for input in [
        &b"FOO bar\r\n"[..],
        b"MSG a 1 1\r\nx\r\n",
        b"PINGX\r\n",
        b"PING extra\r\n",
    ] {
        assert_eq!(
            parse_all(input).1,
            Some(ParseError::UnknownOperation),
            "{input:?}"
        );
    }
    assert_eq!(
        ParseError::UnknownOperation.client_error(),
        Some("Unknown Protocol Operation")
    );
}

#[test]
fn payload_size_mismatch_is_unknown_operation() {
    assert_eq!(
        parse_all(b"PUB a 1\r\nxy\r\n").1,
        Some(ParseError::UnknownOperation)
    );
}

#[test]
fn bad_argument_counts_close_without_err() {
    for input in [
        &b"PUB a b c d\r\n"[..],
        b"PUB a\r\n",
        b"PUB a x\r\n",
        b"PUB a -1\r\n",
        b"SUB a\r\n",
        b"SUB a b c d\r\n",
        b"UNSUB\r\n",
        b"UNSUB 1 x\r\n",
        b"HPUB a 5\r\n",
        b"HPUB a 10 5\r\n",
        b"PUB a 99999999999999999999999\r\n",
    ] {
        let err = parse_all(input).1;
        assert!(
            matches!(err, Some(ParseError::BadArguments { .. })),
            "{input:?} -> {err:?}"
        );
        assert_eq!(err.and_then(|e| e.client_error()), None);
    }
}

#[test]
fn payload_over_limit_is_rejected_from_the_control_line() {
    let mut parser = ClientParser::new(MCL, 10);
    assert_eq!(
        parse_one(&mut parser, b"PUB a 11\r\n"),
        Err(ParseError::PayloadTooLarge { size: 11, max: 10 })
    );
    let mut parser = ClientParser::new(MCL, 10);
    assert!(matches!(
        parse_one(&mut parser, b"HPUB a 2 11\r\n"),
        Err(ParseError::PayloadTooLarge { .. })
    ));
    assert_eq!(
        ParseError::PayloadTooLarge { size: 1, max: 0 }.client_error(),
        Some("Maximum Payload Violation")
    );
}

#[test]
fn control_line_over_limit_is_rejected_before_its_end_arrives() {
    let mut parser = ClientParser::new(16, MAX_PAYLOAD);
    assert_eq!(
        parse_one(&mut parser, b"SUB aaaaaaaaaaaaaaaaaaaa"),
        Err(ParseError::ControlLineTooLong)
    );
    let mut parser = ClientParser::new(16, MAX_PAYLOAD);
    assert_eq!(
        parse_one(&mut parser, b"SUB aaaaaaaaaaaaaaaaaaaa 1\r\n"),
        Err(ParseError::ControlLineTooLong)
    );
    // A long payload is not a long control line.
    let mut parser = ClientParser::new(16, MAX_PAYLOAD);
    let input = b"PUB a 40\r\n0123456789012345678901234567890123456789\r\n";
    assert!(matches!(
        parser.parse(input),
        Ok(Some((ClientOp::Pub { .. }, 52)))
    ));
}

#[test]
fn bytes_needed_reports_the_pending_payload() {
    let mut parser = ClientParser::new(MCL, MAX_PAYLOAD);
    assert_eq!(parse_one(&mut parser, b"PUB a 1000\r\nabc"), Ok(None));
    assert_eq!(parser.bytes_needed(), Some(12 + 1002));
}

/// A random valid op, rendered to bytes.
fn valid_op() -> impl Strategy<Value = Vec<u8>> {
    let token = "[a-zA-Z0-9_]{1,8}";
    let subject = proptest::collection::vec(token, 1..4).prop_map(|t| t.join("."));
    let payload = proptest::collection::vec(any::<u8>(), 0..64);
    prop_oneof![
        (subject.clone(), payload.clone()).prop_map(|(s, p)| {
            let mut v = format!("PUB {s} {}\r\n", p.len()).into_bytes();
            v.extend_from_slice(&p);
            v.extend_from_slice(b"\r\n");
            v
        }),
        (subject.clone(), token, payload).prop_map(|(s, r, p)| {
            let mut v =
                format!("HPUB {s} {r} 12 {}\r\nNATS/1.0\r\n\r\n", p.len() + 12).into_bytes();
            v.extend_from_slice(&p);
            v.extend_from_slice(b"\r\n");
            v
        }),
        (subject.clone(), 1u32..1000)
            .prop_map(|(s, sid)| format!("SUB {s} {sid}\r\n").into_bytes()),
        (subject, token, 1u32..1000)
            .prop_map(|(s, q, sid)| format!("SUB {s} {q} {sid}\r\n").into_bytes()),
        (1u32..1000, 0u64..10).prop_map(|(sid, max)| format!("UNSUB {sid} {max}\r\n").into_bytes()),
        Just(b"PING\r\n".to_vec()),
        Just(b"PONG\r\n".to_vec()),
        Just(b"CONNECT {\"verbose\":false,\"name\":\"a b\"}\r\n".to_vec()),
    ]
}

proptest! {
    #[test]
    fn random_splits_parse_the_same(ops in proptest::collection::vec(valid_op(), 1..30), cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8)) {
        let stream: Vec<u8> = ops.concat();
        let (whole, err) = parse_all(&stream);
        prop_assert_eq!(err, None);
        prop_assert_eq!(whole.len(), ops.len());
        let mut offsets: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        offsets.sort_unstable();
        let mut chunks = Vec::new();
        let mut last = 0;
        for at in offsets {
            chunks.push(&stream[last..at]);
            last = at;
        }
        chunks.push(&stream[last..]);
        let (split, err) = parse_chunks(&chunks);
        prop_assert_eq!(err, None);
        prop_assert_eq!(split, whole);
    }

    #[test]
    fn random_garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512), cut in any::<prop::sample::Index>()) {
        let at = cut.index(data.len() + 1);
        let _ = parse_chunks(&[&data[..at], &data[at..]]);
    }

    #[test]
    fn garbage_after_valid_ops_keeps_the_valid_ones(ops in proptest::collection::vec(valid_op(), 1..10), junk in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut stream: Vec<u8> = ops.concat();
        stream.extend_from_slice(&junk);
        let (parsed, _) = parse_all(&stream);
        prop_assert!(parsed.len() >= ops.len());
    }
}
