//! How the cluster reaches the broker.

use std::sync::Arc;

use starling_proto::route::{InterestChange, RouteMsg};

use crate::peer::Peer;

/// Implemented by the broker. Called from route tasks; must not block.
pub trait ClusterHandler: Send + Sync + 'static {
    /// A route to a new peer completed its handshake (duplicates already
    /// resolved). The broker registers the peer for forwarding and queues
    /// its full local interest on it before any later interest delta.
    fn peer_up(&self, peer: &Arc<Peer>);
    /// The route to `peer` closed: drop everything learned from it.
    fn peer_down(&self, peer: &Arc<Peer>);
    /// `peer` announced interest changes.
    fn interest(&self, peer: &Arc<Peer>, changes: Vec<InterestChange>);
    /// Messages `peer` forwarded, all those decoded from one read; the
    /// broker drains the vector (it is reused).
    fn messages(&self, peer: &Arc<Peer>, messages: &mut Vec<RouteMsg>);
    /// Membership changed (a member joined, left or entered lame duck):
    /// the broker refreshes clients' connect_urls.
    fn members_changed(&self);
}
