//! Route framing: a length prefix, then one protobuf `Frame` of at most the
//! codec's maximum length. The prefix is 4 bytes big-endian
//! ([`Framing::Fixed`], always used for the Hellos) or, once both Hellos
//! announced `compact_framing`, a protobuf varint ([`Framing::Compact`]: one
//! byte for frames under 128 bytes).
//!
//! Decoding is [`RouteCodec`] (tokio-util's `Decoder`). Encoding is a plain
//! function, [`encode_frame`], plus a hand-written encoder for the one frame
//! on the hot path, [`encode_msg_frame`], which writes a forwarded message
//! straight from the publisher's slices without building a [`RouteMsg`](super::RouteMsg).

use bytes::{Buf, BufMut, BytesMut};
use prost::encoding::{encode_key, encode_varint, encoded_len_varint, key_len, WireType};
use prost::Message;
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};

use super::convert::{decode_frame, frame_to_proto};
use super::error::RouteError;
use super::frame::{InterestChange, RouteFrame, MAX_ROUTE_FRAME};
use super::generated as pb;
use super::interest_encode::{encode_interest_refs, InterestRef};
use super::intern::{MsgSubject, SubjectTable};

/// How frames are length-prefixed on a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Framing {
    /// A 4-byte big-endian length: the Hellos, and routes to older peers.
    #[default]
    Fixed,
    /// A varint length (1 to 5 bytes), negotiated in the Hellos.
    Compact,
}

/// Most bytes a varint length prefix of a `u32` takes.
const MAX_VARINT_PREFIX: usize = 5;
use crate::account;

/// Bytes of the length prefix in front of every frame.
const LENGTH_PREFIX_LEN: usize = 4;

// Field numbers from route.proto that `encode_msg_frame` writes by hand. The
// property tests compare its output with prost's, byte for byte.
/// `Frame.msg`.
const FRAME_MSG_TAG: u32 = 4;
/// `Msg.subject`.
const MSG_SUBJECT_TAG: u32 = 1;
/// `Msg.reply`.
const MSG_REPLY_TAG: u32 = 2;
/// `Msg.queues`.
const MSG_QUEUES_TAG: u32 = 3;
/// `Msg.header_len`.
const MSG_HEADER_LEN_TAG: u32 = 4;
/// `Msg.payload`.
const MSG_PAYLOAD_TAG: u32 = 5;
/// `Msg.subject_id`.
const MSG_SUBJECT_ID_TAG: u32 = 15;
/// `Msg.account`.
const MSG_ACCOUNT_TAG: u32 = 6;

/// A message to forward, as the publisher's slices: what
/// [`encode_msg_frame`] writes without building a [`RouteMsg`](super::RouteMsg).
#[derive(Debug, Clone, Copy)]
pub struct MsgParts<'a> {
    /// The account it was published in (`$G` is written as nothing).
    pub account: &'a [u8],
    /// Publish subject.
    pub subject: &'a [u8],
    /// Reply subject.
    pub reply: Option<&'a [u8]>,
    /// Queue groups the receiver must serve.
    pub queues: &'a [&'a str],
    /// `Some(header length)` when the payload starts with headers.
    pub header_len: Option<usize>,
    /// Headers (if any) then payload.
    pub payload: &'a [u8],
}

/// Decodes route frames from a byte stream and encodes them onto one.
///
/// Framing is tokio-util's [`LengthDelimitedCodec`] (4-byte big-endian
/// prefix). A prefix declaring more than the maximum is
/// [`RouteError::TooLarge`] as soon as the 4 prefix bytes are in, before any
/// of the body is buffered or reserved. Each frame body is frozen and decoded
/// in place, so a message's subject, reply and payload are slices of the read
/// buffer, never copies.
///
/// After an error the stream is unusable (tokio-util's contract). A frame
/// that was framed correctly but failed to decode or validate has been
/// consumed, so the error names that frame; the cluster closes the route
/// either way.
#[derive(Debug)]
pub struct RouteCodec {
    /// Splits the stream at length prefixes.
    framing: LengthDelimitedCodec,
    /// Largest frame accepted or produced, in bytes, without the prefix.
    max_frame: usize,
    /// The framing codec has consumed a length prefix and is waiting for
    /// the body: the buffer no longer starts with a prefix, and an end of
    /// stream now is a truncated frame.
    in_body: bool,
    /// The prefix frames are read (and, as an `Encoder`, written) with.
    mode: Framing,
    /// Interned subjects the peer defined (empty unless we announced one).
    subjects: SubjectTable,
}

impl RouteCodec {
    /// A codec with the protocol maximum, [`MAX_ROUTE_FRAME`].
    pub fn new() -> Self {
        Self::with_max_frame(MAX_ROUTE_FRAME)
    }

    /// A codec accepting and producing frames of at most `max_frame` bytes
    /// (not counting the 4-byte length prefix).
    pub fn with_max_frame(max_frame: usize) -> Self {
        let framing = LengthDelimitedCodec::builder()
            .length_field_length(LENGTH_PREFIX_LEN)
            .big_endian()
            .max_frame_length(max_frame)
            .new_codec();
        Self {
            framing,
            max_frame,
            in_body: false,
            mode: Framing::Fixed,
            subjects: SubjectTable::default(),
        }
    }

    /// Read (and write) every later frame with `mode`. Call between frames:
    /// the Hellos are always [`Framing::Fixed`].
    pub fn set_framing(&mut self, mode: Framing) {
        self.mode = mode;
    }

    /// The prefix this codec reads.
    pub fn framing(&self) -> Framing {
        self.mode
    }

    /// Accept interned subjects with ids below `capacity` (the size this
    /// node announced in its Hello); 0 refuses every id.
    pub fn set_subject_table(&mut self, capacity: u32) {
        self.subjects = SubjectTable::new(capacity);
    }

    /// Decode one frame with a varint prefix; nothing is consumed until the
    /// whole frame is in.
    fn decode_compact(&mut self, src: &mut BytesMut) -> Result<Option<RouteFrame>, RouteError> {
        let Some((len, prefix_len)) = read_varint_prefix(src)? else {
            return Ok(None);
        };
        if len > self.max_frame {
            return Err(RouteError::TooLarge {
                len,
                max: self.max_frame,
            });
        }
        if src.len() < prefix_len + len {
            src.reserve(prefix_len + len - src.len());
            return Ok(None);
        }
        src.advance(prefix_len);
        let body = src.split_to(len).freeze();
        decode_frame(body, &mut self.subjects).map(Some)
    }

    /// The largest frame this codec accepts or produces, in bytes.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Refuses a declared length over the maximum with the numbers the
    /// framing codec's own (opaque) error would not give.
    fn check_prefix(&self, src: &BytesMut) -> Result<(), RouteError> {
        if self.in_body {
            return Ok(());
        }
        if let Some(&[b0, b1, b2, b3]) = src.get(..LENGTH_PREFIX_LEN) {
            let len = usize::try_from(u32::from_be_bytes([b0, b1, b2, b3])).unwrap_or(usize::MAX);
            if len > self.max_frame {
                return Err(RouteError::TooLarge {
                    len,
                    max: self.max_frame,
                });
            }
        }
        Ok(())
    }
}

impl Default for RouteCodec {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder for RouteCodec {
    type Item = RouteFrame;
    type Error = RouteError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<RouteFrame>, RouteError> {
        if self.mode == Framing::Compact {
            return self.decode_compact(src);
        }
        self.check_prefix(src)?;
        let buffered = src.len();
        match self.framing.decode(src)? {
            Some(body) => {
                self.in_body = false;
                decode_frame(body.freeze(), &mut self.subjects).map(Some)
            }
            None => {
                // The framing codec consumes the prefix once it has all of
                // it, then waits for the body.
                if src.len() < buffered {
                    self.in_body = true;
                }
                Ok(None)
            }
        }
    }

    /// Unlike the default, an end of stream right after a length prefix is
    /// an error too (the default sees an empty buffer and calls it clean).
    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<RouteFrame>, RouteError> {
        match self.decode(src)? {
            Some(frame) => Ok(Some(frame)),
            None if src.is_empty() && !self.in_body => Ok(None),
            None => Err(RouteError::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "route stream ended inside a frame",
            ))),
        }
    }
}

impl Encoder<RouteFrame> for RouteCodec {
    type Error = RouteError;

    /// Appends the frame, or refuses it with [`RouteError::TooLarge`] (and
    /// leaves `dst` untouched) when the peer would refuse it.
    fn encode(&mut self, frame: RouteFrame, dst: &mut BytesMut) -> Result<(), RouteError> {
        let proto = frame_to_proto(&frame);
        let len = proto.encoded_len();
        if len > self.max_frame {
            return Err(RouteError::TooLarge {
                len,
                max: self.max_frame,
            });
        }
        put_proto(dst, &proto, len, self.mode);
        Ok(())
    }
}

/// A varint length prefix at the start of `src`: `Some((length, prefix
/// bytes))`, or `None` while it is incomplete.
fn read_varint_prefix(src: &[u8]) -> Result<Option<(usize, usize)>, RouteError> {
    let mut value: u64 = 0;
    for (index, byte) in src.iter().take(MAX_VARINT_PREFIX).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            let len = usize::try_from(value).unwrap_or(usize::MAX);
            return Ok(Some((len, index + 1)));
        }
    }
    if src.len() >= MAX_VARINT_PREFIX {
        return Err(RouteError::Invalid("malformed varint length prefix"));
    }
    Ok(None)
}

/// Appends `frame` to `buf`: its length prefix, then its encoding.
///
/// Does not check the length against a maximum; the frames that can grow
/// (messages) are bounded by the broker's max_payload, far below
/// [`MAX_ROUTE_FRAME`]. For messages, prefer [`encode_msg_frame`].
pub fn encode_frame(buf: &mut BytesMut, frame: &RouteFrame) {
    encode_frame_as(buf, frame, Framing::Fixed);
}

/// [`encode_frame`] with the given length prefix.
pub fn encode_frame_as(buf: &mut BytesMut, frame: &RouteFrame, framing: Framing) {
    let proto = frame_to_proto(frame);
    let len = proto.encoded_len();
    put_proto(buf, &proto, len, framing);
}

/// Appends an Interest frame carrying `changes` (what [`encode_frame_as`]
/// writes for `RouteFrame::Interest(changes.to_vec())`, without the copy).
pub fn encode_interest_frame(buf: &mut BytesMut, changes: &[InterestChange], framing: Framing) {
    let refs: Vec<InterestRef<'_>> = changes
        .iter()
        .map(InterestChange::as_interest_ref)
        .collect();
    encode_interest_refs(buf, &refs, framing);
}

/// Writes `proto`, whose encoded length is `len`, with its length prefix.
fn put_proto(buf: &mut BytesMut, proto: &pb::Frame, len: usize, framing: Framing) {
    buf.reserve(MAX_VARINT_PREFIX + len);
    put_prefix(buf, len, framing);
    // A `Frame` is nothing but its oneof, so the oneof's encoding is the
    // frame's. (`Message::encode` would do the same behind a capacity check
    // that cannot fail on a growable `BytesMut`.)
    if let Some(kind) = &proto.kind {
        kind.encode(buf);
    }
}

/// The prefix for a frame of `len` bytes. A frame over `u32::MAX` bytes
/// (impossible under any configured max_payload) gets `u32::MAX`, which every
/// peer refuses as too large, instead of a wrapped length that would desync
/// the stream.
fn length_prefix(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

pub(super) fn put_prefix(buf: &mut BytesMut, len: usize, framing: Framing) {
    match framing {
        Framing::Fixed => buf.put_u32(length_prefix(len)),
        Framing::Compact => encode_varint(u64::from(length_prefix(len)), buf),
    }
}

pub(super) fn prefix_len(len: usize, framing: Framing) -> usize {
    match framing {
        Framing::Fixed => LENGTH_PREFIX_LEN,
        Framing::Compact => encoded_len_varint(u64::from(length_prefix(len))),
    }
}

/// Appends a `Msg` frame (length prefix and encoding) built from borrowed
/// parts: the hot path for every message forwarded over a route.
///
/// Produces exactly the bytes [`encode_frame_as`] would for the equivalent
/// [`RouteFrame::Msg`], without the intermediate allocations. `how` says
/// whether the subject and account are written in full and whether an
/// interned id goes with them (see [`SubjectInterner`](super::SubjectInterner)).
/// Like [`encode_frame`], it does not check a maximum. Appends
/// [`msg_frame_len`] bytes.
pub fn encode_msg_frame(buf: &mut BytesMut, framing: Framing, how: MsgSubject, msg: &MsgParts<'_>) {
    let header_len = msg.header_len.map(header_len_field);
    let (subject, account) = written_names(how, msg);
    let body_len = msg_body_len(how, msg, subject, account, header_len);
    let frame_len = key_len(FRAME_MSG_TAG) + encoded_len_varint(body_len as u64) + body_len;

    buf.reserve(MAX_VARINT_PREFIX + frame_len);
    put_prefix(buf, frame_len, framing);
    encode_key(FRAME_MSG_TAG, WireType::LengthDelimited, buf);
    encode_varint(body_len as u64, buf);
    // Field order and presence rules follow prost's: fields in tag order,
    // proto3 implicit fields omitted when empty, `optional` fields written
    // whenever they are set.
    if !subject.is_empty() {
        put_bytes_field(buf, MSG_SUBJECT_TAG, subject);
    }
    if let Some(reply) = msg.reply {
        put_bytes_field(buf, MSG_REPLY_TAG, reply);
    }
    for queue in msg.queues {
        put_bytes_field(buf, MSG_QUEUES_TAG, queue.as_bytes());
    }
    if let Some(header_len) = header_len {
        encode_key(MSG_HEADER_LEN_TAG, WireType::Varint, buf);
        encode_varint(u64::from(header_len), buf);
    }
    if !msg.payload.is_empty() {
        put_bytes_field(buf, MSG_PAYLOAD_TAG, msg.payload);
    }
    if !account.is_empty() {
        put_bytes_field(buf, MSG_ACCOUNT_TAG, account);
    }
    if let MsgSubject::Define(id) | MsgSubject::Interned(id) = how {
        encode_key(MSG_SUBJECT_ID_TAG, WireType::Varint, buf);
        encode_varint(u64::from(id), buf);
    }
}

/// How many bytes [`encode_msg_frame`] appends for these parts, length
/// prefix included.
pub fn msg_frame_len(framing: Framing, how: MsgSubject, msg: &MsgParts<'_>) -> usize {
    let header_len = msg.header_len.map(header_len_field);
    let (subject, account) = written_names(how, msg);
    let body_len = msg_body_len(how, msg, subject, account, header_len);
    let frame_len = key_len(FRAME_MSG_TAG) + encoded_len_varint(body_len as u64) + body_len;
    prefix_len(frame_len, framing) + frame_len
}

/// The subject and (wire form of the) account a Msg carries: none when the
/// interned id stands for them.
fn written_names<'a>(how: MsgSubject, msg: &MsgParts<'a>) -> (&'a [u8], &'a [u8]) {
    match how {
        MsgSubject::Interned(_) => (&[], &[]),
        MsgSubject::Plain | MsgSubject::Define(_) => (msg.subject, account::to_wire(msg.account)),
    }
}

/// `Msg.header_len` is a uint32. A header block cannot reach 4 GiB under any
/// max_payload, and a saturated value fails the receiver's check that the
/// header fits in the payload rather than wrapping to a wrong length.
fn header_len_field(header_len: usize) -> u32 {
    u32::try_from(header_len).unwrap_or(u32::MAX)
}

/// Encoded length of a `Msg` with these fields, without key and length.
fn msg_body_len(
    how: MsgSubject,
    msg: &MsgParts<'_>,
    subject: &[u8],
    account: &[u8],
    header_len: Option<u32>,
) -> usize {
    let mut len = 0;
    if !subject.is_empty() {
        len += bytes_field_len(MSG_SUBJECT_TAG, subject.len());
    }
    if let Some(reply) = msg.reply {
        len += bytes_field_len(MSG_REPLY_TAG, reply.len());
    }
    len += msg
        .queues
        .iter()
        .map(|queue| bytes_field_len(MSG_QUEUES_TAG, queue.len()))
        .sum::<usize>();
    if let Some(header_len) = header_len {
        len += key_len(MSG_HEADER_LEN_TAG) + encoded_len_varint(u64::from(header_len));
    }
    if !msg.payload.is_empty() {
        len += bytes_field_len(MSG_PAYLOAD_TAG, msg.payload.len());
    }
    if !account.is_empty() {
        len += bytes_field_len(MSG_ACCOUNT_TAG, account.len());
    }
    if let MsgSubject::Define(id) | MsgSubject::Interned(id) = how {
        len += key_len(MSG_SUBJECT_ID_TAG) + encoded_len_varint(u64::from(id));
    }
    len
}

/// Encoded length of a length-delimited field (`bytes` or `string`).
fn bytes_field_len(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

/// Writes a length-delimited field (`bytes` or `string`).
fn put_bytes_field(buf: &mut BytesMut, tag: u32, value: &[u8]) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(value.len() as u64, buf);
    buf.put_slice(value);
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "compact_tests.rs"]
mod compact_tests;
