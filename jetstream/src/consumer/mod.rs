//! The consumer state machine (pure, synchronous; see the crate doc).
//!
//! - `config` — defaults and validation in nats-server's order; `error` —
//!   [`ConsumerError`] with nats-server's codes.
//! - `state` — [`ConsumerState`], the persistent part, with its encoding.
//! - `position` — start position per deliver policy, `num_pending` from
//!   the store's index (filters, multiple filters, last per subject).
//! - `machine` — [`Consumer`]: acks, redelivery deadlines, events;
//!   `deliver` — choosing and recording deliveries; `serve` — pull
//!   requests and their status messages; `push` — push delivery, flow
//!   control and idle heartbeats; `rate` — `rate_limit_bps` pacing.
//! - `ack` — the `$JS.ACK` reply subject and ack bodies; `pull` — pull
//!   request bodies, the waiting queue, status lines; `subject`, `time` —
//!   subject checks, RFC 3339 and Go durations.

pub mod ack;
mod config;
mod deliver;
mod error;
mod machine;
mod position;
mod priority;
pub mod pull;
mod push;
mod rate;
mod serve;
mod state;
mod subject;
pub mod time;

pub use ack::{AckKind, AckReply};
pub use config::{
    apply_defaults, check_name, check_update, check_work_queue, validate, Retention, StreamContext,
    DEFAULT_ACK_WAIT, DEFAULT_INACTIVE_THRESHOLD, DEFAULT_MAX_ACK_PENDING, DEFAULT_MAX_WAITING,
};
pub use deliver::Delivery;
pub use error::ConsumerError;
pub use machine::{Consumer, ConsumerEvent};
pub use pull::{PullRequest, WaitQueue, WaitingRequest};
pub use push::FLOW_CONTROL_MAX_PENDING;
pub use rate::DEFAULT_RATE_BURST;
pub use serve::{Outbound, FLOW_CONTROL_REQUEST};
pub use state::{ConsumerState, Pending, SequencePair, StateError};

#[cfg(test)]
mod garbage_tests;
#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod pull_model_tests;
#[cfg(test)]
mod tests;
