//! State shared by the cluster's tasks: settings in force, the peer table,
//! the cluster name and the channel to the membership driver.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use starling_proto::route::{
    Hello, Member, DEFAULT_SUBJECT_TABLE, ROUTE_MAGIC, ROUTE_PROTOCOL_VERSION,
};
use tokio::sync::{mpsc, Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::close::CloseReason;
use crate::driver::Event;
use crate::handler::ClusterHandler;
use crate::hello::{agree_names, ClusterName, NameAgreement};
use crate::peer::Peer;
use crate::readiness::Readiness;
use crate::resolve::Resolver;
use crate::transport::Transport;

/// Route ids are unique in the process (several clusters may run in one
/// test process).
static NEXT_ROUTE_ID: AtomicU64 = AtomicU64::new(1);

/// A fresh route id.
pub(crate) fn next_route_id() -> u64 {
    NEXT_ROUTE_ID.fetch_add(1, Ordering::Relaxed)
}

/// Settings resolved from [`crate::ClusterConfig`] at start.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub node_id: String,
    pub node_name: String,
    pub route_url: String,
    pub client_urls: Vec<String>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub ping_interval: Duration,
    pub ping_max: u32,
    pub handshake_timeout: Duration,
    pub max_pending: usize,
}

/// Everything the accept loop, dialers, route tasks and driver share.
pub(crate) struct Shared {
    pub settings: Settings,
    pub listen_addr: SocketAddr,
    pub handler: Arc<dyn ClusterHandler>,
    pub transport: Arc<dyn Transport>,
    /// Resolves name seeds for the driver.
    pub resolver: Arc<dyn Resolver>,
    /// The cluster name in force: read for every Hello, changed when a
    /// dynamic name is adopted. Held only for the check-and-adopt step.
    pub name: Mutex<ClusterName>,
    /// This node is in lame duck mode (advertised in Hello and Members).
    pub lame_duck: AtomicBool,
    /// Wakes the driver to gossip the lame duck state.
    pub lame_duck_signal: Notify,
    /// Established routes by route id. Written only by the driver (so the
    /// table changes in the same order as peer_up/peer_down); read by
    /// `Cluster::peers`.
    pub peers: RwLock<BTreeMap<u64, Arc<Peer>>>,
    /// Client URLs of the cluster as last computed by the driver.
    pub client_urls: Mutex<Vec<String>>,
    /// Route lifecycle events for the driver (bounded; see
    /// `EVENT_CHANNEL_CAPACITY`).
    pub events: mpsc::Sender<Event>,
    /// Tracks the accept loop, dialers and every route task, so the driver
    /// can wait for all of them at shutdown.
    pub routes: TaskTracker,
    /// Cancelled at shutdown; every route's close token is a child of it.
    pub shutdown: CancellationToken,
    /// Caps concurrent inbound route connections (one permit each).
    pub inbound_permits: Arc<Semaphore>,
    /// Readiness: the membership's progress (written by the driver) and the
    /// latch.
    pub readiness: Readiness,
}

impl Shared {
    /// Our Hello, presenting `user`/`password` when dialing.
    pub fn hello(&self, user: Option<String>, password: Option<String>) -> Hello {
        let name = lock(&self.name).clone();
        Hello {
            magic: ROUTE_MAGIC,
            version: ROUTE_PROTOCOL_VERSION,
            node_id: self.settings.node_id.clone(),
            node_name: self.settings.node_name.clone(),
            cluster_name: name.name,
            cluster_dynamic: name.dynamic,
            route_url: self.settings.route_url.clone(),
            client_urls: self.settings.client_urls.clone(),
            user,
            password,
            lame_duck: self.lame_duck.load(Ordering::Relaxed),
            interest_ack: true,
            compact_framing: true,
            subject_table: DEFAULT_SUBJECT_TABLE,
        }
    }

    /// This node as a member.
    pub fn local_member(&self) -> Member {
        Member {
            node_id: self.settings.node_id.clone(),
            node_name: self.settings.node_name.clone(),
            route_url: self.settings.route_url.clone(),
            client_urls: self.settings.client_urls.clone(),
            lame_duck: self.lame_duck.load(Ordering::Relaxed),
        }
    }

    /// Check the peer's cluster name against ours, adopting the peer's when
    /// ours yields (see [`agree_names`]).
    pub fn agree_name(&self, hello: &Hello) -> Result<(), CloseReason> {
        let mut name = lock(&self.name);
        match agree_names(&name, &hello.cluster_name, hello.cluster_dynamic)? {
            NameAgreement::Same | NameAgreement::PeerAdoptsOurs => Ok(()),
            NameAgreement::AdoptPeers => {
                tracing::info!(
                    node = %self.settings.node_id,
                    from = %name.name,
                    to = %hello.cluster_name,
                    peer = %hello.node_id,
                    "adopting the cluster name of a peer"
                );
                // Having joined a configured name, this node no longer
                // yields to dynamic ones.
                *name = ClusterName {
                    name: hello.cluster_name.clone(),
                    dynamic: hello.cluster_dynamic,
                };
                Ok(())
            }
        }
    }

    /// The cluster name in force.
    pub fn cluster_name(&self) -> String {
        lock(&self.name).name.clone()
    }
}

/// The mutexes here guard plain values that are whole after any panic.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
