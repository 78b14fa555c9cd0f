//! Starling's wire protocols. No I/O here: parsers and encoders are plain
//! functions and state machines over byte buffers.
//!
//! - [`subject`]: subject validity and wildcard matching.

#![forbid(unsafe_code)]

pub mod subject;
