//! Starling's JetStream: streams and consumers as synchronous state machines,
//! and the JSON types of the `$JS.API` requests and responses.
//!
//! # Module map
//! - `api` — request/response types with nats-server's serde shapes
//!   (`api::consumer`: `ConsumerConfig`, `ConsumerInfo`, the create request
//!   and the create subject forms).
//! - `consumer` — the consumer state machine: start position, deliveries,
//!   acknowledgements, redelivery, pull requests, persisted state.
//!
//! # Design
//! Nothing here does I/O or reads a clock: the message store is borrowed
//! (`&impl MessageStore`) and time is an argument (nanoseconds since the
//! Unix epoch). The same sequence of operations always gives the same
//! state, so a Raft log can later feed a follower the operations the leader
//! applied.
#![forbid(unsafe_code)]

pub mod api;
pub mod consumer;
