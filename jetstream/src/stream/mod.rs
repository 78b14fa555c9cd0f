//! A stream as a state machine: [`Stream::apply`] takes [`Operation`]s in
//! order (publish, purge, message delete, config update, expiry) and
//! returns an [`Outcome`] each. Pure over its [`starling_store::MessageStore`]:
//! time is an argument and nothing here syncs or answers anyone; the
//! caller syncs the store after a batch and only then sends the outcomes
//! (so a PubAck means "durable"). A Raft log can later feed the same
//! operations to every replica.
//!
//! - [`machine`]: [`Stream`], [`Operation`], [`Outcome`].
//! - [`batch`]: atomic batch publish, staged by a [`BatchStager`] until
//!   the commit makes it one [`Operation::AtomicBatch`].
//! - [`headers`]: reading the publish headers the stream interprets.
//! - [`dedup`]: the `Nats-Msg-Id` duplicate window.
//! - [`pub_ack`]: the PubAck JSON.
//! - [`ttl`]: `Nats-TTL` values and subject delete markers.
//! - [`republish`]: the republished form of a stored message.
//! - [`source`]: storing what a mirror or source takes ([`source::Mirrored`]).

pub mod batch;
pub mod dedup;
pub mod headers;
pub mod machine;
pub mod pub_ack;
pub mod republish;
pub mod source;
pub mod ttl;

pub use batch::{AbandonReason, AtomicBatch, BatchLimits, BatchStager, Staged};
pub use machine::{Operation, Outcome, Publish, Stream};
pub use pub_ack::PubAck;
pub use republish::Republished;
