//! One route frame body (the bytes after the length prefix) over arbitrary
//! bytes: protobuf decoding and domain validation (`decode_frame`, reached
//! through the codec with a correct prefix).
//!
//! Checked: no panic; a correctly prefixed body is always decided (a frame
//! or an error, never "need more bytes") and fully consumed; and a frame
//! that decodes is valid, so it round-trips (see `assert_round_trips`).

#![no_main]

use bytes::{BufMut, BytesMut};
use libfuzzer_sys::fuzz_target;
use starling_fuzz::assert_round_trips;
use starling_proto::route::RouteCodec;
use tokio_util::codec::Decoder;

fuzz_target!(|body: &[u8]| {
    let mut buffer = BytesMut::with_capacity(4 + body.len());
    buffer.put_u32(body.len() as u32);
    buffer.put_slice(body);
    match RouteCodec::new().decode(&mut buffer) {
        Ok(Some(frame)) => {
            assert!(buffer.is_empty(), "bytes left after a whole frame");
            assert_round_trips(&frame);
        }
        Ok(None) => panic!("a whole frame was not decided"),
        Err(_) => {}
    }
});
