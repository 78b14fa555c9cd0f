//! `starling-bench`: compares Starling with nats-server releases.
//!
//! Module map:
//! - [`cli`]: command-line options.
//! - [`server`]: spawning server processes on ephemeral ports; targets (one
//!   node or a cluster) with a publish and a subscribe endpoint.
//! - [`wire`]: the bench's raw-TCP NATS client and its incremental scanner.
//! - [`throughput`]: pub-only, pub/sub, fan-out and queue-group scenarios.
//! - [`latency`]: request/reply round-trip percentiles.
//! - [`clients`]: which clients drive the core scenarios (`--clients`).
//! - [`async_client`]: the throughput scenarios driven by async-nats
//!   (`--clients async-nats`, rows named `<scenario>@async-nats`).
//! - [`async_request_reply`]: request/reply driven by async-nats.
//! - [`memory`]: RSS per idle client connection.
//! - [`js`]: the JetStream group (`--scenarios js`), driven by async-nats.
//! - [`scenario`]: the catalogue of named scenarios and their report rows.
//! - [`report`]: medians, ratios, gates, Markdown table and JSON.
//! - [`limits`]: sizes and timeouts.
//! - [`tls`]: the TLS scenario's certificates and client configuration.
//!
//! Design note: the load clients are raw TCP, not a client library, so the
//! client side is cheap and identical for every server; scenarios take a
//! publish and a subscribe address, so the same code measures a single server
//! and a cluster (publisher on node 1, subscriber on node 3). The JetStream
//! scenarios are the exception: their load is the official client's
//! JetStream code (acks, pull requests, flow control), which is what they
//! measure the servers against. `--clients async-nats` runs the core
//! scenarios through the official client too: what a real application's
//! hot path costs each server, next to the raw clients' figures.

pub mod async_client;
pub mod async_request_reply;
pub mod cli;
pub mod clients;
pub mod js;
pub mod latency;
pub mod limits;
pub mod memory;
pub mod report;
pub mod scenario;
pub mod server;
pub mod throughput;
pub mod tls;
pub mod wire;

pub use wire::unique_prefix;
