//! Starling's wire protocols. No I/O here: parsers and encoders are plain
//! functions and state machines over byte buffers.
//!
//! - [`subject`]: subject validity and wildcard matching.
//! - [`account`]: account names (`$G`, `$SYS`) and their route form.
//! - [`client`]: the NATS client text protocol (parser, encoders, CONNECT).
//! - [`route`]: the route protocol between cluster members: length-prefixed
//!   protobuf frames (`route.proto`, generated code checked in), validated
//!   into domain types, with a tokio-util codec and a hot-path message encoder.
//!
//! Design note: payloads are split off the read buffer as shared `Bytes`
//! and never copied by the parser; the broker copies each payload once into
//! each destination's outbound buffer, which is where batching comes from.
//! Route frames are decoded in place from the frozen frame buffer, so a
//! forwarded message's subject and payload are shared the same way; the
//! prost types stay private and every decoded frame is validated.

#![forbid(unsafe_code)]

pub mod account;
pub mod client;
pub mod route;
pub mod subject;
