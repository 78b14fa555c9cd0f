//! What goes into and comes out of the membership machine.

use std::time::Duration;

use crate::backoff::Backoff;
use crate::close::CloseReason;
use crate::url::RouteUrl;

/// Identifies one dial attempt.
pub(crate) type DialId = u64;

/// What a dial was for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DialTarget {
    /// The seed at this index of the configured list.
    Seed(usize),
    /// A gossiped member, by node id.
    Member(String),
}

/// The answer to a registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The route is the one kept for its node: call it up.
    Keep,
    /// Close it with this reason (before it was ever up).
    Reject(CloseReason),
}

/// Who decides whether a registered route is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Authority {
    /// This node has the smaller id: it decides.
    Decide,
    /// The peer (smaller id) already kept the route (it sent Members).
    Confirmed,
}

/// How a dial ended when it did not produce a registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DialOutcome {
    /// Connect or handshake failed (refused, timed out, name conflict,
    /// credentials, garbage).
    Failed,
    /// The dial reached this node itself.
    SelfRoute,
    /// The peer `node_id` refused the route as a duplicate of another.
    Duplicate {
        /// The peer's id, from its Hello.
        node_id: String,
    },
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Dial `url`; report back with the same `dial` id.
    Dial {
        /// Id to report the outcome under.
        dial: DialId,
        /// Where, with the credentials to present.
        url: RouteUrl,
        /// Why (for logs).
        target: DialTarget,
    },
    /// Answer the registration of route `rid`.
    Verdict {
        /// Route id.
        rid: u64,
        /// Keep or reject.
        verdict: Verdict,
    },
    /// Close live route `rid`: a newer route to the same node replaces it.
    /// The newer one gets its verdict once `rid` has ended (after its
    /// `route_closed`), so `peer_down` for it always comes first.
    Supersede {
        /// Route id.
        rid: u64,
    },
    /// Send our members to every live route (but `except`).
    BroadcastMembers {
        /// A route that gets its own copy.
        except: Option<u64>,
    },
    /// The client URLs of the cluster changed.
    MembersChanged,
    /// Resolve the host of name seed `name`; report with
    /// `Membership::resolved`.
    Resolve {
        /// Index of the name seed.
        name: usize,
        /// Its URL (host name and port).
        url: RouteUrl,
    },
}

/// Tunables of the machine.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Retries of a gossiped member (already defaulted when 0).
    pub connect_retries: u32,
    /// Reconnect delays.
    pub backoff: Backoff,
    /// Longest an inbound route is held waiting for our own dials.
    pub defer_max: Duration,
    /// Interval of the periodic members gossip.
    pub refresh: Duration,
    /// Credentials presented when dialing a gossiped member.
    pub user: Option<String>,
    /// See `user`.
    pub password: Option<String>,
}
