//! Limits and defaults of the cluster layer, in one place.

use std::time::Duration;

/// First reconnect backoff ceiling. Full jitter draws each delay uniformly
/// from `[0, min(BACKOFF_CAP, BACKOFF_BASE * 2^attempt)]`, so nodes started
/// together in any order find each other within tens of milliseconds.
pub const BACKOFF_BASE: Duration = Duration::from_millis(25);

/// Largest reconnect backoff ceiling: a healed partition or a restarted seed
/// is redialed within this (75 ms on average), so a cluster re-forms well
/// within 0.2 s of a partition healing. A refused dial on a LAN costs a
/// SYN and a RST, so a few per second to a dead peer are cheap; a dial
/// that hangs is bounded by DIAL_TIMEOUT and never overlaps the next.
pub const BACKOFF_CAP: Duration = Duration::from_millis(150);

/// Retries for a gossiped member when `connect_retries` is 0 (nats-server's
/// default). nats-server makes a single attempt then; one attempt is too
/// fragile against a peer that is restarting, so 0 means "this default".
pub const DEFAULT_CONNECT_RETRIES: u32 = 3;

/// Longest a TCP connect to a route may take (nats-server DEFAULT_ROUTE_DIAL).
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(1);

/// Longest the node with the smaller id holds an inbound route while one of
/// its own dials (which may reach the same node) is still in flight, so that
/// the route it dialed wins when both sides dial at once. Bounded so the
/// peer's handshake never times out waiting for the verdict.
pub const DUPLICATE_DEFER_MAX: Duration = Duration::from_millis(250);

/// Interval of the anti-entropy gossip: every node re-sends its members to
/// every peer, so a member that a node gave up dialing is learned again
/// while some peer still has a route to it.
pub const MEMBERS_REFRESH_INTERVAL: Duration = Duration::from_secs(2);

/// Longest one write to a route may block before the route is closed as
/// slow (nats-server's write_deadline default for routes).
pub const WRITE_DEADLINE: Duration = Duration::from_secs(10);

/// Time given to the writer to flush queued bytes and the Close frame when a
/// route closes.
pub const CLOSE_FLUSH_TIMEOUT: Duration = Duration::from_millis(250);

/// Initial capacity of a route's read buffer, in bytes.
pub const READ_BUFFER_SIZE: usize = 64 * 1024;

/// The read buffer is grown (by `READ_BUFFER_SIZE`) when less than this many
/// bytes of spare capacity remain, so reads are never tiny.
pub const MIN_READ_SPACE: usize = 8 * 1024;

/// Outbound buffers larger than this (bytes) are not kept for reuse once
/// written, so an idle route does not hold on to the memory of a burst.
pub const MAX_RETAINED_CAPACITY: usize = 256 * 1024;

/// Upper bound of the encoding overhead of one route Msg frame beyond its
/// subject, reply, queue names and payload (length prefix, protobuf tags and
/// varints), used to check `max_pending` before encoding.
pub const MSG_FRAME_OVERHEAD: usize = 64;

/// Capacity of the channel from route tasks to the membership driver. Events
/// are per route lifecycle step and per Members frame, so this only fills
/// under a storm of connections; senders then wait.
pub const EVENT_CHANNEL_CAPACITY: usize = 1024;

/// Most route connections (established or handshaking) accepted at once; a
/// flood of strangers on the route port cannot exhaust memory or tasks.
pub const MAX_INBOUND_ROUTES: usize = 1024;

/// Pause after a failed accept (e.g. out of file descriptors) before trying
/// again; accept errors never end the listener.
pub const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// Port assumed for a route URL that names none (nats-server's default
/// cluster port).
pub const DEFAULT_ROUTE_PORT: u16 = 6222;

/// Floor for the configured ping interval and handshake timeout: a zero
/// interval would make the ping timer panic, a zero timeout refuse every
/// route.
pub const MIN_TIMER: Duration = Duration::from_millis(10);

/// Readiness never waits longer than this after start (or the configured
/// grace period, if longer), whatever is still missing, so a stuck dial or
/// snapshot cannot keep a node out of service; well inside a Kubernetes
/// startup probe's budget (the StatefulSet gives 60 s).
pub const READINESS_WAIT_CAP: Duration = Duration::from_secs(30);
