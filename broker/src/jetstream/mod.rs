//! JetStream on one node: the glue between the broker and the
//! `starling-jetstream` state machines over `starling-store` stores.
//!
//! - [`service`]: [`JetStream`]: start at bind (refused with a cluster),
//!   restore the streams from the store directory, one API task per
//!   account, shutdown; JWT accounts enabled, updated and disabled at run
//!   time from their claims (`configure_account`, applied by the
//!   account's API task in order with its requests).
//! - `account`: an account's streams and API counters.
//! - `jwt_accounts`: JWT accounts' JetStream enabled, updated and
//!   disabled from their claims at run time.
//! - `handle`: a running stream: its state machine, its capture
//!   subscriptions and the channel to its worker.
//! - `worker`: the task per stream that applies publishes and API
//!   operations in order, in batches, syncs once per batch, then answers.
//! - `api`, `stream_api`, `direct_get`: the `$JS.API.*` endpoints.
//! - `consumers`, `consumer_pass`: a stream's consumers, driven by its
//!   worker after every batch (pull requests, acks, deliveries, timers,
//!   retention); `consumer_api`, `consumer_ops`: the `CONSUMER.*` endpoints;
//!   `consumer_store`: consumer config and state on disk (`obs/`).
//! - `limits`: the server's and accounts' storage, stream and consumer
//!   limits (nats-server's checks and error codes).
//! - `meta`: a file stream's persisted config (`meta.json`).
//! - `persist`: what a clean shutdown saves for a fast restart (store
//!   checkpoint, `dedup.json`, consumer states, fsynced).
//! - `stats`: the fsync latency histogram.
//! - `report`: what monitoring reads (`/jsz`, `/varz`, `/metrics`).
//! - `publish`: how the server publishes replies (router, internal origin).
//! - `advisory`: the `$JS.EVENT.ADVISORY.>` advisories (API audit, stream
//!   and consumer actions, pause, max deliveries, terminated), built only
//!   when their subject has interest.
//! - `source`, `source_checks`: mirrors and sources (the worker reads
//!   the origins' stores), and their config checks against other streams.
//!
//! How a publish flows: a stream's subjects are internal subscriptions
//! (`Interest::Internal`) in its account, so a publish to a subject no
//! stream captures still gets the no-responders 503. The router hands a
//! captured message to the stream's bounded channel (never waiting); the
//! worker drains everything queued, applies it to the stream with one
//! lock, makes the batch durable with one `fdatasync` (group commit), and
//! only then publishes the PubAcks. API requests run on a blocking thread
//! per account, never on a client's reader task; those that change a
//! stream go through its worker so they are ordered with its publishes.
//!
//! On disk (nats-server's layout): `<store_dir>/jetstream/<account>/
//! streams/<stream>/` holds `meta.json` and the file store (`msgs/`,
//! `index.snap`). Memory streams are not persisted (as nats-server).
//!
//! Lock order: an account's stream registry -> a stream's state machine
//! -> its atomic batch stager (a leaf).
//! No lock is held across an `.await` or while waiting for a worker.

mod account;
mod advisory;
mod api;
mod checkpoint;
mod consumer_api;
mod consumer_ops;
mod consumer_pass;
mod consumer_store;
mod consumers;
mod direct_get;
mod handle;
mod jwt_accounts;
mod limits;
mod meta;
mod persist;
mod publish;
mod report;
mod service;
mod source;
mod source_checks;
mod stats;
mod stream_api;
mod worker;

pub use report::{Report, ReportConfig, ReportOptions, StreamReport};
pub use service::{start, JetStream, CAPTURE_CHANNEL_CAPACITY};
pub use stats::{SyncSnapshot, FSYNC_BUCKETS};
