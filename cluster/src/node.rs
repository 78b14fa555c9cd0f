//! [`Cluster`]: this node's running cluster membership.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use rand::rngs::StdRng;
use rand::RngExt;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::backoff::Backoff;
use crate::config::ClusterConfig;
use crate::driver::{read_peers, Driver};
use crate::handler::ClusterHandler;
use crate::hello::ClusterName;
use crate::limits::{
    ACCEPT_ERROR_BACKOFF, BACKOFF_BASE, BACKOFF_CAP, DEFAULT_CONNECT_RETRIES, DUPLICATE_DEFER_MAX,
    EVENT_CHANNEL_CAPACITY, MAX_INBOUND_ROUTES, MEMBERS_REFRESH_INTERVAL, MIN_TIMER,
};
use crate::membership::{self, Membership, Progress};
use crate::peer::Peer;
use crate::readiness::{NotReady, Readiness};
use crate::resolve::named_host;
use crate::route::run_route;
use crate::shared::{lock, Settings, Shared};
use crate::transport::{RouteListener, TcpRouteListener, TcpTransport, Transport};
use crate::url::{advertised_url, route_url_for, RouteUrl};

/// Length of a generated (dynamic) cluster name.
const DYNAMIC_NAME_LEN: usize = 22;

/// The running cluster membership of this node.
pub struct Cluster {
    shared: Arc<Shared>,
    /// Tracks the driver, which itself outlives every route task.
    tasks: TaskTracker,
}

impl Cluster {
    /// Start clustering on a bound TCP listener: spawns the accept loop,
    /// the seed dialers and the membership driver, and returns at once.
    /// Must be called inside a Tokio runtime. Cancelling `shutdown` closes
    /// every route; [`Cluster::closed`] resolves when all have ended.
    pub fn start(
        config: ClusterConfig,
        listener: TcpListener,
        handler: Arc<dyn ClusterHandler>,
        shutdown: CancellationToken,
    ) -> Arc<Cluster> {
        let listener = Box::new(TcpRouteListener::new(listener));
        let rng: StdRng = rand::make_rng();
        Cluster::start_with(
            config,
            listener,
            Arc::new(TcpTransport),
            rng,
            handler,
            shutdown,
        )
    }

    /// [`Cluster::start`] over any transport (the in-memory one in tests),
    /// with the RNG used for backoff jitter and the dynamic cluster name.
    pub fn start_with(
        config: ClusterConfig,
        mut listener: Box<dyn RouteListener>,
        transport: Arc<dyn Transport>,
        mut rng: StdRng,
        handler: Arc<dyn ClusterHandler>,
        shutdown: CancellationToken,
    ) -> Arc<Cluster> {
        let listen_addr = listener.local_addr();
        let route_url = match &config.advertise {
            Some(advertise) => advertised_url(advertise),
            None => route_url_for(listen_addr),
        };
        let name = match &config.cluster_name {
            Some(name) => ClusterName {
                name: name.clone(),
                dynamic: false,
            },
            None => ClusterName {
                name: dynamic_name(&mut rng),
                dynamic: true,
            },
        };
        let settings = Settings {
            node_id: config.node_id.clone(),
            node_name: config.node_name.clone(),
            route_url,
            client_urls: config.client_urls.clone(),
            user: config.user.clone(),
            password: config.password.clone(),
            ping_interval: config.ping_interval.max(MIN_TIMER),
            ping_max: config.ping_max,
            handshake_timeout: config.handshake_timeout.max(MIN_TIMER),
            max_pending: config.max_pending,
        };
        let (names, seeds): (Vec<RouteUrl>, Vec<RouteUrl>) = config
            .seeds
            .iter()
            .filter_map(|seed| match RouteUrl::parse(seed) {
                // A seed URL without credentials presents the configured
                // ones, like a gossiped member's.
                Ok(url) => Some(url.with_default_credentials(&config.user, &config.password)),
                Err(error) => {
                    tracing::error!(seed = %seed, %error, "ignoring invalid route URL");
                    None
                }
            })
            // A host name may stand for several nodes: resolved, then each
            // address dialed (membership/names.rs).
            .partition(|url| named_host(&url.host_port).is_some());
        let machine_settings = membership::Settings {
            connect_retries: match config.connect_retries {
                0 => DEFAULT_CONNECT_RETRIES,
                retries => retries,
            },
            backoff: Backoff {
                base: BACKOFF_BASE,
                cap: BACKOFF_CAP,
            },
            defer_max: DUPLICATE_DEFER_MAX.min(settings.handshake_timeout / 2),
            refresh: MEMBERS_REFRESH_INTERVAL,
            user: config.user.clone(),
            password: config.password.clone(),
        };
        let (events, receiver) = mpsc::channel(EVENT_CHANNEL_CAPACITY);
        let shared = Arc::new(Shared {
            client_urls: Mutex::new(config.client_urls.clone()),
            settings,
            listen_addr,
            handler,
            transport,
            resolver: Arc::clone(&config.resolver),
            name: Mutex::new(name),
            lame_duck: AtomicBool::new(false),
            lame_duck_signal: Notify::new(),
            peers: RwLock::new(BTreeMap::new()),
            events,
            routes: TaskTracker::new(),
            shutdown,
            inbound_permits: Arc::new(Semaphore::new(MAX_INBOUND_ROUTES)),
            readiness: Readiness::new(Progress::default(), config.readiness_grace),
        });
        let machine = Membership::new(
            shared.local_member(),
            seeds,
            names,
            machine_settings,
            rng,
            Instant::now(),
        );
        *lock(&shared.readiness.progress) = machine.progress();
        tracing::info!(
            node = %shared.settings.node_id,
            listen = %listen_addr,
            route_url = %shared.settings.route_url,
            cluster = %shared.cluster_name(),
            "cluster started"
        );
        let accept_shared = Arc::clone(&shared);
        shared
            .routes
            .spawn(async move { accept_loop(accept_shared, &mut listener).await });
        let tasks = TaskTracker::new();
        tasks.spawn(Driver::new(Arc::clone(&shared), machine).run(receiver));
        tasks.close();
        Arc::new(Cluster { shared, tasks })
    }

    /// Established routes.
    pub fn peers(&self) -> Vec<Arc<Peer>> {
        read_peers(&self.shared).values().cloned().collect()
    }

    /// The cluster name in force (adopted from a peer when ours was dynamic).
    pub fn name(&self) -> String {
        self.shared.cluster_name()
    }

    /// The route URL this node advertises.
    pub fn route_url(&self) -> String {
        self.shared.settings.route_url.clone()
    }

    /// This node's id.
    pub fn node_id(&self) -> &str {
        &self.shared.settings.node_id
    }

    /// Where the route listener is bound.
    pub fn listen_addr(&self) -> std::net::SocketAddr {
        self.shared.listen_addr
    }

    /// Client URLs of every member with a live route and of this node,
    /// minus members in lame duck (this node's own too once it is).
    pub fn client_urls(&self) -> Vec<String> {
        lock(&self.shared.client_urls).clone()
    }

    /// Whether this node is ready for clients as far as the cluster goes:
    /// its seeds were tried and its peers' interest snapshots are in (see
    /// `crate::readiness` for the rules). Latches once ready.
    pub fn readiness(&self) -> Result<(), NotReady> {
        let peers = self.peers();
        let waiting = peers.iter().filter(|p| !p.snapshot_received()).count();
        self.shared.readiness.check(peers.len(), waiting)
    }

    /// Enter lame duck mode: peers drop our client URLs (and call their
    /// members_changed).
    pub fn enter_lame_duck(&self) {
        self.shared.lame_duck.store(true, Ordering::Relaxed);
        self.shared.lame_duck_signal.notify_one();
    }

    /// Resolves once shutdown was requested and every route task, dialer
    /// and the accept loop have ended.
    pub async fn closed(&self) {
        self.tasks.wait().await;
    }
}

/// Accept route connections until shutdown; each gets its own task, which
/// does the handshake under its timeout.
async fn accept_loop(shared: Arc<Shared>, listener: &mut Box<dyn RouteListener>) {
    loop {
        // All branches are cancel-safe: a token wait, a semaphore acquire
        // (only loses its queue position) and the listener's accept.
        let permit = tokio::select! {
            biased;
            _ = shared.shutdown.cancelled() => return,
            permit = Arc::clone(&shared.inbound_permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
        };
        let accepted = tokio::select! {
            biased;
            _ = shared.shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, remote_addr)) => {
                let route_shared = Arc::clone(&shared);
                shared.routes.spawn(async move {
                    run_route(route_shared, stream, remote_addr, None).await;
                    drop(permit);
                });
            }
            Err(error) => {
                tracing::warn!(%error, "route accept failed");
                tokio::select! {
                    _ = shared.shutdown.cancelled() => return,
                    _ = tokio::time::sleep(ACCEPT_ERROR_BACKOFF) => {}
                }
            }
        }
    }
}

/// A random cluster name, as nats-server generates one when none is set.
fn dynamic_name(rng: &mut StdRng) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..DYNAMIC_NAME_LEN)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}
