//! Starling's JetStream: streams and consumers as state machines that apply
//! an ordered sequence of operations over a [`starling_store::MessageStore`], and the
//! JetStream API's request and response types (nats-server's JSON shapes).
//!
//! # Module map
//! - `api` — the `$JS.API.*` JSON: errors ([`api::ApiError`], nats-server's
//!   `err_code`s), stream config with nats-server's defaults and checks,
//!   stream info/state, the stream requests and responses, account info
//!   and the `Nats-Required-Api-Level` check, consumer config/info and the
//!   consumer create request and subjects.
//! - `consumer` — the consumer state machine: start position, deliveries,
//!   acknowledgements, redelivery, pull requests, push flow control and
//!   `rate_limit_bps` pacing, persisted state (borrows the stream's store;
//!   time is an argument).
//! - `stream` — [`stream::Stream`]: publish (duplicate window, the
//!   `Nats-Expected-*` headers, rollups) -> PubAck, purge, message delete,
//!   config update, expiry. Pure: time is an argument, no I/O but the
//!   store's, no async runtime.
//! - `source` — taking messages from other streams (mirror, sources):
//!   subject transforms, the `Nats-Stream-Source` header, resume points.
//! - `subject` — subject validity and overlap between stream subjects.
//! - `transform` — subject transforms (`subject_transform`, `republish`).
//! - `time` — RFC 3339 timestamps with nanoseconds, as the API writes them.
//!
//! # Design
//! Every change to a stream is an [`stream::Operation`] applied in order by
//! [`stream::Stream::apply`], which returns an [`stream::Outcome`]. The
//! broker feeds operations from one task per stream and answers after the
//! store's sync; a replicated stream will feed the same operations from a
//! Raft log, so `apply` must stay deterministic given `(operation, now)`.

pub mod api;
pub mod consumer;
pub mod source;
pub mod stream;
pub mod subject;
pub mod time;
pub mod transform;
