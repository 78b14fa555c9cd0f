//! The client protocol parser over arbitrary bytes.
//!
//! The input is a byte stream as a client would send it. It is parsed the
//! way the broker's read loop does (parse, consume what the op took, parse
//! again; on `Ok(None)` wait for more bytes), once whole and then split into
//! pieces three ways, under two sets of limits. Checked:
//! - no panic, and every call makes progress: an op takes at least one byte
//!   and at most what was given, so the loop ends (no infinite loop);
//! - every slice of an op lies inside the bytes the op took;
//! - declared sizes respect the limits (payload <= max_payload, header <=
//!   message) and `bytes_needed` is more than what was given when waiting;
//! - how the stream is split does not change what is parsed: the same ops,
//!   then the same error or the same unconsumed tail.
//!
//! A CONNECT's JSON also goes through `ConnectInfo::parse`, as the broker
//! does.

#![no_main]

use libfuzzer_sys::fuzz_target;
use starling_proto::client::{ClientOp, ClientParser, ConnectInfo, ParseError};

/// (max_control_line, max_payload): nats-server's defaults, and limits
/// small enough for the fuzzer's inputs to cross them.
const LIMITS: [(usize, usize); 2] = [(4096, 1024 * 1024), (64, 256)];

/// An op copied out of the read buffer, to compare runs.
#[derive(Debug, PartialEq)]
enum OwnedOp {
    Connect(Vec<u8>),
    Pub(Vec<u8>, Option<Vec<u8>>, Vec<u8>),
    HPub(Vec<u8>, Option<Vec<u8>>, usize, Vec<u8>),
    Sub(Vec<u8>, Option<Vec<u8>>, Vec<u8>),
    Unsub(Vec<u8>, Option<u64>),
    Ping,
    Pong,
    Info(Vec<u8>),
    Ok,
    Err(Vec<u8>),
}

/// What parsing a whole stream produced.
#[derive(Debug, PartialEq)]
struct Outcome {
    ops: Vec<OwnedOp>,
    /// The error that ended the stream, if one did.
    error: Option<ParseError>,
    /// Bytes left unconsumed at the end (0 after an error).
    unconsumed: usize,
}

fuzz_target!(|data: &[u8]| {
    for (max_control_line, max_payload) in LIMITS {
        let whole = parse_in_pieces(data, max_control_line, max_payload, |_| data.len());
        let byte_by_byte = parse_in_pieces(data, max_control_line, max_payload, |_| 1);
        assert_eq!(whole, byte_by_byte, "one byte at a time");
        let sevens = parse_in_pieces(data, max_control_line, max_payload, |_| 7);
        assert_eq!(whole, sevens, "seven bytes at a time");
        let mut state = 0x9E37_79B9_u32 ^ data.len() as u32;
        let random = parse_in_pieces(data, max_control_line, max_payload, |_| {
            // xorshift32, seeded by the input: varied but reproducible.
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            1 + (state % 97) as usize
        });
        assert_eq!(whole, random, "pseudo-random pieces");
    }
});

/// Feeds `data` to a parser in pieces of `next_piece(i)` bytes, parsing
/// after each piece as the broker's read loop does.
fn parse_in_pieces(
    data: &[u8],
    max_control_line: usize,
    max_payload: usize,
    mut next_piece: impl FnMut(usize) -> usize,
) -> Outcome {
    let mut parser = ClientParser::new(max_control_line, max_payload);
    let mut buffer: Vec<u8> = Vec::new();
    let mut ops = Vec::new();
    let mut fed = 0;
    let mut piece = 0;
    while fed < data.len() {
        let take = next_piece(piece).clamp(1, data.len() - fed);
        piece += 1;
        buffer.extend_from_slice(&data[fed..fed + take]);
        fed += take;
        loop {
            match parser.parse(&buffer) {
                Ok(Some((op, consumed))) => {
                    assert!(consumed > 0, "an op must take at least one byte");
                    assert!(consumed <= buffer.len(), "took more than given");
                    check_op(&op, &buffer[..consumed], max_payload);
                    ops.push(owned(&op));
                    buffer.drain(..consumed);
                }
                Ok(None) => {
                    if let Some(needed) = parser.bytes_needed() {
                        assert!(needed > buffer.len(), "waiting though enough is there");
                    }
                    break;
                }
                Err(error) => {
                    return Outcome {
                        ops,
                        error: Some(error),
                        unconsumed: 0,
                    }
                }
            }
        }
    }
    Outcome {
        ops,
        error: None,
        unconsumed: buffer.len(),
    }
}

/// The op's slices lie inside `taken`, and its sizes are within limits.
fn check_op(op: &ClientOp<'_>, taken: &[u8], max_payload: usize) {
    let inside = |part: &[u8]| {
        let range = taken.as_ptr_range();
        let part_range = part.as_ptr_range();
        assert!(
            part.is_empty() || (range.start <= part_range.start && part_range.end <= range.end),
            "a slice of the op lies outside the bytes it took"
        );
    };
    match *op {
        ClientOp::Connect(json) => {
            inside(json);
            // What the broker does next; must not panic either.
            let _ = ConnectInfo::parse(json);
        }
        ClientOp::Pub {
            subject,
            reply,
            payload,
        } => {
            inside(subject);
            reply.map(inside);
            inside(payload);
            assert!(!subject.is_empty());
            assert!(payload.len() <= max_payload);
        }
        ClientOp::HPub {
            subject,
            reply,
            header_len,
            message,
        } => {
            inside(subject);
            reply.map(inside);
            inside(message);
            assert!(!subject.is_empty());
            assert!(header_len <= message.len());
            assert!(message.len() <= max_payload);
        }
        ClientOp::Sub {
            subject,
            queue,
            sid,
        } => {
            inside(subject);
            queue.map(inside);
            inside(sid);
            assert!(!subject.is_empty() && !sid.is_empty());
        }
        ClientOp::Unsub { sid, .. } => {
            inside(sid);
            assert!(!sid.is_empty());
        }
        ClientOp::Info(text) | ClientOp::Err(text) => inside(text),
        ClientOp::Ping | ClientOp::Pong | ClientOp::Ok => {}
    }
}

fn owned(op: &ClientOp<'_>) -> OwnedOp {
    let copy = |bytes: &[u8]| bytes.to_vec();
    match *op {
        ClientOp::Connect(json) => OwnedOp::Connect(copy(json)),
        ClientOp::Pub {
            subject,
            reply,
            payload,
        } => OwnedOp::Pub(copy(subject), reply.map(copy), copy(payload)),
        ClientOp::HPub {
            subject,
            reply,
            header_len,
            message,
        } => OwnedOp::HPub(copy(subject), reply.map(copy), header_len, copy(message)),
        ClientOp::Sub {
            subject,
            queue,
            sid,
        } => OwnedOp::Sub(copy(subject), queue.map(copy), copy(sid)),
        ClientOp::Unsub { sid, max } => OwnedOp::Unsub(copy(sid), max),
        ClientOp::Ping => OwnedOp::Ping,
        ClientOp::Pong => OwnedOp::Pong,
        ClientOp::Info(text) => OwnedOp::Info(copy(text)),
        ClientOp::Ok => OwnedOp::Ok,
        ClientOp::Err(text) => OwnedOp::Err(copy(text)),
    }
}
