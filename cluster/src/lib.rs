//! Starling clustering: route listener and dialer, handshake, membership
//! gossip, liveness and reconnect. Knows nothing of client connections: the
//! broker implements [`ClusterHandler`] and sends through [`Peer`].
//!
//! # Module map
//! - [`config`]: [`ClusterConfig`], what the broker resolves from its options.
//! - [`handler`]: [`ClusterHandler`], how the cluster reaches the broker.
//! - [`node`]: [`Cluster`], the running membership (start, peers, lame duck).
//! - [`peer`]: [`Peer`], one established route (send, wake, close, stats).
//! - [`close`]: [`CloseReason`], every reason a route closes.
//! - [`url`]: [`RouteUrl`], seed URLs with credentials.
//! - [`resolve`]: [`Resolver`], how seed host names become addresses (a
//!   name may stand for several nodes).
//! - [`readiness`]: [`NotReady`], when the node knows the cluster's
//!   interest (behind `/healthz`).
//! - [`transport`]: the [`Transport`]/[`RouteListener`] traits and TCP.
//! - [`memory`]: an in-memory transport with partitions, for tests.
//! - `membership`: the synchronous membership state machine (seeds, gossip,
//!   duplicates, retries): `io` (events' and actions' types), `machine`
//!   (state and event handlers), `dials` (redial scheduling), `view`
//!   (Members content, client URLs); `backoff`: jittered reconnect delays.
//! - `driver`: the async loop that runs the machine and calls the handler.
//! - `route`, `handshake`, `writer`: one route connection's tasks.
//! - `sync`: interest acknowledgements (InterestSync/InterestAck) behind
//!   the broker's interest barrier and readiness.
//! - `hello`: handshake rules (names, credentials); [`outbound`]: the
//!   outbound byte queue of a route (and, in the broker, of a client); `shared`: state shared by the tasks; `limits`.
//!
//! # Design note
//! Every decision about membership (what to dial and when, which of two
//! routes between the same pair survives, when to forget a member) is made
//! by one synchronous state machine fed with events and the time, so the
//! rules are unit-tested under exact times. A single driver task owns it and
//! is the only caller of `peer_up`/`peer_down`/`members_changed` and the
//! only writer of the peer table; route tasks report to it over a bounded
//! channel and get their verdict back on a oneshot. Each route has a reader
//! task (decode, ping timer, calls into the handler once per read) and a
//! writer task draining a byte queue in one write per wake-up, like client
//! connections in the broker. Duplicate routes are settled by the node with
//! the smaller id before either side calls the route up; the other side
//! waits for that verdict during its handshake.
//!
//! # Lock order
//! No lock is held while taking another, and none across an `.await`:
//! `Shared::name`, `Shared::peers`, `Shared::client_urls`, each `Peer`'s
//! outbound buffer and its small state mutexes are all leaf locks. The
//! handler is never called with a lock held.

#![forbid(unsafe_code)]

mod backoff;
pub mod close;
pub mod config;
mod driver;
pub mod handler;
mod handshake;
mod hello;
pub mod limits;
mod membership;
pub mod memory;
pub mod node;
pub mod outbound;
pub mod peer;
pub mod readiness;
pub mod resolve;
mod route;
mod shared;
mod sync;
pub mod transport;
pub mod url;
mod writer;

pub use close::CloseReason;
pub use config::ClusterConfig;
pub use handler::ClusterHandler;
pub use node::Cluster;
pub use peer::{Peer, PeerStats, SlowRoute};
pub use readiness::NotReady;
pub use resolve::{HostsFileResolver, Resolver, StaticResolver, SystemResolver};
pub use transport::{
    BoxedStream, RouteListener, RouteStream, TcpRouteListener, TcpTransport, Transport,
};
pub use url::{RouteUrl, RouteUrlError};
