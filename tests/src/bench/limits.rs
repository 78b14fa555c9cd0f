//! Sizes, counts and timeouts of the benchmark, in one place.

use std::time::Duration;

/// Longest control line accepted from a server, in bytes (nats-server's
/// default `max_control_line` is 4 KiB; INFO with many `connect_urls` is the
/// longest line we expect).
pub const MAX_CONTROL_LINE: usize = 64 * 1024;

/// Read buffer per bench connection, in bytes. Large, so a subscriber drains
/// many messages per syscall, as a real high-throughput client would.
pub const READ_BUFFER_BYTES: usize = 256 * 1024;

/// Target size of one publisher write, in bytes: many PUB ops per syscall.
pub const PUBLISH_BATCH_BYTES: usize = 64 * 1024;

/// How far the publisher may run ahead of the slowest subscriber, in bytes of
/// delivered MSG traffic per subscriber. Well below nats-server's default
/// `max_pending` (64 MiB), so no server hits its slow-consumer cutoff and the
/// bench measures sustained delivery rather than buffering.
pub const FLOW_WINDOW_BYTES: usize = 4 * 1024 * 1024;

/// Bytes a delivered MSG adds to its payload (`MSG subject sid size\r\n` and
/// the trailing CRLF), used to turn [`FLOW_WINDOW_BYTES`] into a message count.
pub const MSG_OVERHEAD_BYTES: usize = 32;

/// Bound on a client handshake (connect, INFO, CONNECT, PING/PONG).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Bound on a PING/PONG flush after a burst of publishes.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

/// Bound on a server becoming ready after spawn (and on a cluster forming).
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(15);

/// Bound on one scenario run; a run that takes longer is recorded as failed.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// A throughput run fails when no subscriber makes progress for this long
/// (a server that dropped a slow consumer, or lost messages).
pub const STALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Bound on one request/reply round trip.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Interval at which sync probes are re-sent while waiting for interest to
/// reach the publishing node.
pub const SYNC_RETRY: Duration = Duration::from_millis(10);

/// Handshakes in flight at once while opening the idle connections of the
/// memory scenario (bounded so the listen backlog never overflows).
pub const CONNECT_CONCURRENCY: usize = 256;

/// Time given to a server after the last idle connection is open before its
/// RSS is read, so lazily allocated per-connection state is counted.
pub const MEMORY_SETTLE: Duration = Duration::from_millis(500);

/// Grace period for a killed server process to be reaped.
pub const KILL_TIMEOUT: Duration = Duration::from_secs(5);

/// JetStream: publishes in flight (awaiting their PubAck) in the async
/// publish scenarios: nats.go's default bound for `PublishAsync`
/// (`PublishAsyncMaxPending`, 4000; async-nats's is 5000), what a user of
/// the official clients gets without tuning.
pub const JS_WINDOW: usize = 4000;

/// JetStream: the small window of the `-w256` async publish rows, where
/// the time to the PubAck (an fsync for Starling) bounds the rate.
pub const JS_SMALL_WINDOW: usize = 256;

/// JetStream: publishes in flight while filling a stream that is not what
/// is measured (the consume and restart scenarios). Below Starling's
/// per-stream capture channel (8192), which drops when full.
pub const JS_FILL_WINDOW: usize = 2048;

/// JetStream: a measured loop stops after this long and reports the rate of
/// what it did, so a slow server (an fsync per ack) bounds the run time
/// instead of the message count.
pub const JS_BUDGET: Duration = Duration::from_secs(4);

/// JetStream: bound on one API request or PubAck.
pub const JS_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// JetStream: bound on one run of a scenario (filling included).
pub const JS_RUN_TIMEOUT: Duration = Duration::from_secs(180);

/// JetStream: pause after the last PubAck before the store directory is
/// measured and the server killed, so a server that writes behind its acks
/// (nats-server flushes its block buffers in the background) has written.
pub const JS_WRITE_SETTLE: Duration = Duration::from_secs(1);

/// JetStream: after a restart, how long the full message count may take
/// to show once the stream answers at all.
pub const JS_RECOVERY_TIMEOUT: Duration = Duration::from_secs(60);

/// JetStream: interval between polls while waiting for a restarted server.
pub const JS_POLL: Duration = Duration::from_millis(5);

/// JetStream: messages per pull request in the fetch scenario.
pub const JS_FETCH_BATCH: usize = 500;

/// `--clients async-nats`: a measured loop (publishing, requests) stops
/// after this long and reports the rate of what it did, so a client slower
/// than the raw one bounds the run time instead of the message count.
pub const CLIENT_BUDGET: Duration = Duration::from_secs(5);

/// `--clients async-nats`: most messages the publisher runs ahead of the
/// slowest subscriber. Half of async-nats's default subscription capacity
/// (65,536 messages, beyond which the client drops and reports a slow
/// consumer), so the client's channel never fills.
pub const CLIENT_WINDOW_MESSAGES: u64 = 32_768;
