//! What a node needs to join a cluster.

use std::sync::Arc;
use std::time::Duration;

use crate::resolve::Resolver;

/// Cluster settings, resolved by the broker from its options.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// This node's server id (unique per process run).
    pub node_id: String,
    /// This node's server name.
    pub node_name: String,
    /// Configured cluster name; None = generate one (dynamic).
    pub cluster_name: Option<String>,
    /// Route URL advertised to peers; None = derived from the bound listener.
    pub advertise: Option<String>,
    /// Seed route URLs (`nats://[user:pass@]host:port`), redialed forever.
    pub seeds: Vec<String>,
    /// Credentials peers must present (and that this node presents when it
    /// dials a gossiped member).
    pub user: Option<String>,
    /// See `user`.
    pub password: Option<String>,
    /// Client URLs of this node (`host:port`), for clients' connect_urls.
    pub client_urls: Vec<String>,
    /// Retries for a gossiped member after a failed dial or a lost route.
    pub connect_retries: u32,
    /// Interval between route PINGs.
    pub ping_interval: Duration,
    /// Unanswered PINGs before the route is closed and redialed.
    pub ping_max: u32,
    /// Longest a route handshake may take.
    pub handshake_timeout: Duration,
    /// Bytes queued for one peer before the route is closed as slow.
    pub max_pending: usize,
    /// How long a node with remote seeds and no route waits for one before
    /// it reports ready anyway (see [`crate::Cluster::readiness`]).
    pub readiness_grace: Duration,
    /// Resolves seed host names (every address of a name is dialed).
    pub resolver: Arc<dyn Resolver>,
}
