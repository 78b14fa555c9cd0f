//! Starling's wire protocols. No I/O here: parsers and encoders are plain
//! functions and state machines over byte buffers.
//!
//! - [`subject`]: subject validity and wildcard matching.
//! - [`client`]: the NATS client text protocol (parser, encoders, CONNECT).
//!
//! Design note: payloads are split off the read buffer as shared `Bytes`
//! and never copied by the parser; the broker copies each payload once into
//! each destination's outbound buffer, which is where batching comes from.

#![forbid(unsafe_code)]

pub mod client;
pub mod subject;
