//! Starling: a NATS-compatible message broker.
//!
//! Module map:
//! - [`server`]: listeners, accept loop, shared state, lifecycle.
//! - [`client`]: client connections: reader, ops, delivery (the hot path),
//!   per-read batches and the writer (the outbound byte queue is
//!   `starling_cluster::outbound`, shared with routes).
//! - [`sublist`]: the subscription index (token trie + match cache).
//! - [`auth`]: authentication and permissions.
//! - [`jwt`]: JWT operator mode: claims, trust chain, resolvers.
//! - [`interest`], [`route`]: local and peers' interest, and the cluster glue.
//! - [`options`], [`limits`]: runtime options and nats-server's defaults.
//! - [`config`]: nats-server's config-file syntax and command-line flags.
//! - [`signals`], [`logging`]: process signals (stop, reload, lame duck)
//!   and structured logs.
//! - [`monitor`]: /healthz, /varz, /connz, /subsz and /metrics.
//! - [`close`], [`stats`]: close reasons and counters.
//! - [`tls`]: rustls configurations for clients and routes; [`tls_pin`]:
//!   `pinned_certs`.
//!
//! Design note: each connection has a reader task and a writer task. The
//! reader parses a whole read buffer, matches each PUB in the sublist and
//! appends encoded MSGs straight into each destination's outbound buffer,
//! then wakes each destination's writer once. A publisher never waits on
//! another connection; a destination whose queue passes `max_pending` is
//! closed as a slow consumer. The same sublist lookup finds peers' interest
//! (`Interest::Remote`): the message goes once to each interested peer, with
//! the queue groups that peer must serve; queue members are chosen uniformly
//! over the whole cluster (a peer weighs as many as the members it
//! announced). A message from a route is delivered locally only.
//!
//! Lock order (outer first): a client's `subscriptions` -> local interest
//! (`route::LocalInterest`) -> a peer's outbound buffer; the remote interest
//! table -> the sublist's internal locks. Outbound buffers, the client
//! registry and the closed ring are leaf locks. No lock is held across an
//! `.await`.

#![forbid(unsafe_code)]

pub mod account;
pub mod auth;
pub mod client;
pub mod close;
pub mod config;
pub mod interest;
pub mod jetstream;
pub mod jwt;
pub mod limits;
pub mod logging;
pub mod monitor;
pub mod options;
pub mod route;
pub mod router;
pub mod server;
pub mod signals;
pub mod stats;
pub mod sublist;
pub mod system;
pub mod tls;
pub mod tls_pin;
