//! The route codec over an arbitrary byte stream: length-prefixed framing,
//! then decoding and validation of each frame.
//!
//! The stream is decoded as the cluster's framed reader does (decode until
//! "need more", then wait for bytes; `decode_eof` at the end), once whole
//! and then split into pieces two ways. Checked: no panic; no progress-free
//! loop (each frame consumes bytes); every frame round-trips (see
//! `assert_round_trips`); and how the stream is split does not change the
//! frames or the error that ends it. The protocol maximum is used once
//! without comparison, a small one otherwise, so declared lengths beyond it
//! are cheap to reach.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use starling_fuzz::assert_round_trips;
use starling_proto::route::{RouteCodec, RouteFrame};
use tokio_util::codec::Decoder;

/// Frame maximum for the compared runs, bytes.
const SMALL_MAX_FRAME: usize = 1024;

/// What decoding a stream produced.
#[derive(Debug, PartialEq)]
struct Outcome {
    frames: Vec<RouteFrame>,
    /// The error that ended the stream, as text (`RouteError` has no `Eq`).
    error: Option<String>,
}

fuzz_target!(|data: &[u8]| {
    decode_in_pieces(data, RouteCodec::new(), |_| data.len());
    let small = || RouteCodec::with_max_frame(SMALL_MAX_FRAME);
    let whole = decode_in_pieces(data, small(), |_| data.len());
    let byte_by_byte = decode_in_pieces(data, small(), |_| 1);
    assert_eq!(whole, byte_by_byte, "one byte at a time");
    let mut state = 0x2545_F491_u32 ^ data.len() as u32;
    let random = decode_in_pieces(data, small(), |_| {
        // xorshift32, seeded by the input: varied but reproducible.
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        1 + (state % 61) as usize
    });
    assert_eq!(whole, random, "pseudo-random pieces");
});

fn decode_in_pieces(
    data: &[u8],
    mut codec: RouteCodec,
    mut next_piece: impl FnMut(usize) -> usize,
) -> Outcome {
    let mut buffer = BytesMut::new();
    let mut frames = Vec::new();
    let mut fed = 0;
    let mut piece = 0;
    let mut finished = false;
    while !finished {
        if fed < data.len() {
            let take = next_piece(piece).clamp(1, data.len() - fed);
            piece += 1;
            buffer.extend_from_slice(&data[fed..fed + take]);
            fed += take;
        } else {
            finished = true;
        }
        loop {
            let before = buffer.len();
            let result = if finished {
                codec.decode_eof(&mut buffer)
            } else {
                codec.decode(&mut buffer)
            };
            match result {
                Ok(Some(frame)) => {
                    assert!(buffer.len() < before, "a frame consumed nothing");
                    assert_round_trips(&frame);
                    frames.push(frame);
                }
                Ok(None) => break,
                Err(error) => {
                    return Outcome {
                        frames,
                        error: Some(error.to_string()),
                    }
                }
            }
        }
    }
    Outcome {
        frames,
        error: None,
    }
}
