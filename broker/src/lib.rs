//! Starling: a NATS-compatible message broker.
//!
//! Module map:
//! - [`server`]: listeners, accept loop, shared state, lifecycle.
//! - [`client`]: client connections: reader, ops, delivery (the hot path),
//!   outbound queue and writer.
//! - [`sublist`]: the subscription index (token trie + match cache).
//! - [`auth`]: authentication and permissions.
//! - [`interest`], [`route`]: local and peers' interest, and the cluster glue.
//! - [`options`], [`limits`]: runtime options and nats-server's defaults.
//! - [`monitor`]: /healthz, /varz, /connz, /subsz and /metrics.
//! - [`close`], [`stats`]: close reasons and counters.
//! - [`tls`]: rustls configurations for clients and routes.
//!
//! Design note: each connection has a reader task and a writer task. The
//! reader parses a whole read buffer, matches each PUB in the sublist and
//! appends encoded MSGs straight into each destination's outbound buffer,
//! then wakes each destination's writer once. A publisher never waits on
//! another connection; a destination whose queue passes `max_pending` is
//! closed as a slow consumer.
//!
//! Lock order (outer first): a client's `subscriptions` -> the sublist's
//! internal locks. Outbound buffers, the client registry and the closed ring
//! are leaf locks. No lock is held across an `.await`.

#![forbid(unsafe_code)]

pub mod auth;
pub mod client;
pub mod close;
pub mod config;
pub mod interest;
pub mod limits;
pub mod logging;
pub mod monitor;
pub mod options;
pub mod route;
pub mod server;
pub mod signals;
pub mod stats;
pub mod sublist;
pub mod tls;
