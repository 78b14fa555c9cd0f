//! Checks shared by the route fuzz targets, and the input format of the
//! store target ([`store_files`]).

#![forbid(unsafe_code)]

pub mod store_files;

use bytes::BytesMut;
use starling_proto::route::{
    encode_frame, encode_msg_frame, msg_frame_len, Framing, MsgParts, MsgSubject, RouteCodec,
    RouteFrame,
};
use tokio_util::codec::{Decoder, Encoder};

/// A decoded (so valid) frame survives encoding: every encoder writes the
/// same bytes for it, and those decode to the same frame, consuming them
/// all.
pub fn assert_round_trips(frame: &RouteFrame) {
    let mut encoded = BytesMut::new();
    encode_frame(&mut encoded, frame);

    let mut via_codec = BytesMut::new();
    RouteCodec::new()
        .encode(frame.clone(), &mut via_codec)
        .expect("a decoded frame is within the maximum");
    assert_eq!(encoded, via_codec, "encode_frame and the codec disagree");

    if let RouteFrame::Msg(msg) = frame {
        let queues: Vec<&str> = msg.queues.iter().map(String::as_str).collect();
        let header_len = msg.header_len.map(|len| len as usize);
        let parts = MsgParts {
            account: &msg.account,
            subject: &msg.subject,
            reply: msg.reply.as_deref(),
            queues: &queues,
            header_len,
            payload: &msg.payload,
        };
        let mut hot = BytesMut::new();
        encode_msg_frame(&mut hot, Framing::Fixed, MsgSubject::Plain, &parts);
        assert_eq!(hot, encoded, "encode_msg_frame and encode_frame disagree");
        let predicted = msg_frame_len(Framing::Fixed, MsgSubject::Plain, &parts);
        assert_eq!(predicted, hot.len(), "msg_frame_len is wrong");
    }

    let decoded = RouteCodec::new()
        .decode(&mut encoded)
        .expect("a re-encoded frame decodes")
        .expect("a re-encoded frame is complete");
    assert!(encoded.is_empty(), "bytes left after the re-encoded frame");
    assert_eq!(&decoded, frame, "the frame changed in the round trip");
}
