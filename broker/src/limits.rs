//! Defaults and limits, with nats-server's values (server/const.go of 2.9.10)
//! so that a client or an operator sees the same numbers on either server.

use std::time::Duration;

/// Client port, as nats-server.
pub const DEFAULT_PORT: u16 = 4222;
/// Route port used when `--cluster` gives no port.
pub const DEFAULT_ROUTE_PORT: u16 = 6222;
/// Bind address for every listener unless told otherwise.
pub const DEFAULT_HOST: &str = "0.0.0.0";
/// Largest message payload (headers included), in bytes: 1 MiB.
pub const MAX_PAYLOAD: usize = 1024 * 1024;
/// Longest control line (the op and its arguments), in bytes.
pub const MAX_CONTROL_LINE: usize = 4096;
/// Bytes queued for one client before it is a slow consumer: 64 MiB.
pub const MAX_PENDING: usize = 64 * 1024 * 1024;
/// Open client connections at most.
pub const MAX_CONNECTIONS: usize = 64 * 1024;
/// Interval between server PINGs on an idle connection.
pub const PING_INTERVAL: Duration = Duration::from_secs(120);
/// Unanswered server PINGs before the connection is stale.
pub const PING_MAX: u32 = 2;
/// A write to a client that takes longer than this makes it a slow consumer.
pub const WRITE_DEADLINE: Duration = Duration::from_secs(10);
/// Time a client has to send CONNECT when auth is on.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(2);
/// Time a TLS handshake may take, client or route (nats-server's
/// `tls_timeout` default).
pub const TLS_TIMEOUT: Duration = Duration::from_secs(2);
/// `handshake_first: auto`: how long a client may wait before starting its
/// TLS handshake and still be taken as "TLS first" (nats-server's
/// `DEFAULT_TLS_HANDSHAKE_FIRST_FALLBACK_DELAY`).
pub const TLS_HANDSHAKE_FIRST_FALLBACK: Duration = Duration::from_millis(50);
/// Lame duck: the whole eviction, and its lower bound.
pub const LAME_DUCK_DURATION: Duration = Duration::from_secs(120);
/// Lame duck: the lower bound nats-server enforces on the duration.
pub const LAME_DUCK_DURATION_MIN: Duration = Duration::from_secs(30);
/// Lame duck: wait before the first client is closed.
pub const LAME_DUCK_GRACE_PERIOD: Duration = Duration::from_secs(10);
/// Interest barrier: longest a client's PONG after a SUB waits for every
/// peer to acknowledge the interest (`cluster { interest_barrier_timeout }`).
/// Acks take one route round trip (well under a millisecond on a LAN); a
/// peer that takes longer is stalled or partitioned, and the flush must not
/// hang on it.
pub const INTEREST_BARRIER_TIMEOUT: Duration = Duration::from_millis(100);
/// Readiness: a clustered node with no reachable seed reports ready after
/// this long (`cluster { readiness_grace_period }`), so a lone first node
/// starts; several seed redials (backoff cap 1 s) fit in it.
pub const READINESS_GRACE_PERIOD: Duration = Duration::from_secs(3);
