//! State shared by every task of one server: options, the subscription
//! index, the connection registry and the counters.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::SystemTime;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::info::{generate_server_id, ClientInfo};
use crate::account::Accounts;
use crate::auth::Authenticator;
use crate::client::handle::{lock, ClientDescription};
use crate::client::{ClientHandle, ClientId, Subscription};
use crate::close::CloseReason;
use crate::interest::Interest;
use crate::jwt::operator_mode::OperatorMode;
use crate::options::Options;
use crate::route::{LocalInterest, RemoteInterestTable};
use crate::stats::{Traffic, TrafficSnapshot};
use crate::tls::{ClientTls, TlsError};
use starling_cluster::Cluster;

/// Closed connections kept for `/connz?state=closed` (nats-server's default).
pub const MAX_CLOSED_CLIENTS: usize = 10_000;

/// A connection that has closed, as /connz reports it.
#[derive(Debug, Clone)]
pub struct ClosedClient {
    /// Client id.
    pub cid: ClientId,
    /// Remote address.
    pub peer: SocketAddr,
    /// Accepted at.
    pub start: SystemTime,
    /// Closed at.
    pub stop: SystemTime,
    /// Why.
    pub reason: CloseReason,
    /// CONNECT details.
    pub description: ClientDescription,
    /// Its traffic.
    pub traffic: TrafficSnapshot,
    /// Round-trip time in nanoseconds (0 = unknown).
    pub rtt_nanos: u64,
}

/// Everything one server's tasks share.
pub struct ServerState {
    /// This server's id (nkey-style, 56 characters).
    pub server_id: String,
    /// Options in force; replaced whole on reload.
    options: RwLock<Arc<Options>>,
    /// Who may connect; replaced whole on reload.
    authenticator: RwLock<Arc<Authenticator>>,
    /// Client TLS built from `options.tls` (certificates loaded); None =
    /// plain TCP. Set at bind, replaced on reload when the files load.
    client_tls: RwLock<Option<Arc<ClientTls>>>,
    /// Every account; each holds its local subscriptions and peers'
    /// interest in it.
    pub accounts: Accounts,
    /// Local interest as announced to peers.
    pub local_interest: LocalInterest,
    /// Peers' interest, per route.
    pub remote_interest: RemoteInterestTable,
    /// The cluster, once started (None when not clustered).
    pub cluster: OnceLock<Arc<Cluster>>,
    /// This node's own client URLs as advertised to the cluster, left out
    /// of connect_urls in lame duck mode.
    pub own_client_urls: OnceLock<Vec<String>>,
    /// Open connections by id, for monitoring, reload and shutdown.
    clients: Mutex<HashMap<ClientId, Arc<ClientHandle>>>,
    /// The most recent closed connections, oldest first.
    closed_clients: Mutex<VecDeque<ClosedClient>>,
    /// Server-wide message counters.
    pub traffic: Traffic,
    /// Connections accepted since start.
    pub total_connections: AtomicU64,
    /// Slow consumers cut off since start.
    pub slow_consumers: AtomicU64,
    /// Failed authentications since start.
    pub auth_failures: AtomicU64,
    next_client_id: AtomicU64,
    /// Cancelled to stop the server; every connection's token is a child.
    pub shutdown: CancellationToken,
    /// Cancelled to stop accepting clients (shutdown or lame duck).
    pub stop_accepting: CancellationToken,
    /// One permit per open client connection (max_connections).
    pub connection_permits: Arc<Semaphore>,
    /// Server start time.
    pub start: SystemTime,
    /// When the options were last loaded.
    pub config_load_time: Mutex<SystemTime>,
    /// Set once lame duck mode began.
    pub lame_duck: AtomicBool,
    /// Bound client listener address.
    pub client_addr: Mutex<Option<SocketAddr>>,
    /// JWT operator mode, set at bind when `operator` is configured.
    operator: OnceLock<Arc<OperatorMode>>,
    /// Where connect/disconnect events go, once the system account's
    /// service runs.
    pub system_events: OnceLock<tokio::sync::mpsc::Sender<crate::system::SystemEvent>>,
    /// JetStream, set at bind when enabled.
    pub jetstream: OnceLock<Arc<crate::jetstream::JetStream>>,
    /// The server's own subscriptions in the index (left out of the
    /// client subscription count).
    internal_subscriptions: std::sync::atomic::AtomicUsize,
    /// Account lookups across the cluster, once the claims service runs
    /// with the full resolver.
    pub account_lookups: OnceLock<Arc<crate::system::lookup::AccountLookups>>,
}

impl std::fmt::Debug for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerState")
            .field("server_id", &self.server_id)
            .finish_non_exhaustive()
    }
}

impl ServerState {
    /// State for a server about to start with `options`.
    pub fn new(options: Options) -> Self {
        let permits = options.max_connections;
        let authenticator = Authenticator::from_options(&options)
            .with_no_auth_user(options.no_auth_user.as_deref());
        let accounts = Accounts::new(&options);
        ServerState {
            server_id: generate_server_id(),
            options: RwLock::new(Arc::new(options)),
            authenticator: RwLock::new(Arc::new(authenticator)),
            client_tls: RwLock::new(None),
            accounts,
            local_interest: LocalInterest::default(),
            remote_interest: RemoteInterestTable::default(),
            cluster: OnceLock::new(),
            own_client_urls: OnceLock::new(),
            clients: Mutex::new(HashMap::new()),
            closed_clients: Mutex::new(VecDeque::new()),
            traffic: Traffic::default(),
            total_connections: AtomicU64::new(0),
            slow_consumers: AtomicU64::new(0),
            auth_failures: AtomicU64::new(0),
            next_client_id: AtomicU64::new(1),
            shutdown: CancellationToken::new(),
            stop_accepting: CancellationToken::new(),
            connection_permits: Arc::new(Semaphore::new(permits)),
            start: SystemTime::now(),
            config_load_time: Mutex::new(SystemTime::now()),
            lame_duck: AtomicBool::new(false),
            client_addr: Mutex::new(None),
            operator: OnceLock::new(),
            system_events: OnceLock::new(),
            jetstream: OnceLock::new(),
            internal_subscriptions: std::sync::atomic::AtomicUsize::new(0),
            account_lookups: OnceLock::new(),
        }
    }

    /// The options in force.
    pub fn options(&self) -> Arc<Options> {
        self.options
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The authenticator in force.
    pub fn authenticator(&self) -> Arc<Authenticator> {
        self.authenticator
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// JWT operator mode, when configured.
    pub fn operator_mode(&self) -> Option<&Arc<OperatorMode>> {
        self.operator.get()
    }

    /// Starts operator mode when the options configure it: checks the
    /// operators, opens the resolver, stores the preloaded accounts.
    /// Operator mode is fixed for the server's life (a reload keeps it).
    pub fn start_operator_mode(&self, options: &Options) -> Result<(), crate::jwt::JwtError> {
        if !options.operator.enabled() || self.operator.get().is_some() {
            return Ok(());
        }
        let now = crate::jwt::mint::unix_now();
        let mode = OperatorMode::start(&options.operator, options.system_account.as_deref(), now)?;
        let _ = self.operator.set(Arc::new(mode));
        Ok(())
    }

    /// The client TLS in force, if any.
    pub fn client_tls(&self) -> Option<Arc<ClientTls>> {
        self.client_tls
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Load the certificates of `options.tls` and put them in force.
    pub fn load_client_tls(&self, options: &Options) -> Result<(), TlsError> {
        let tls = match &options.tls {
            Some(tls) => Some(Arc::new(ClientTls::new(tls)?)),
            None => None,
        };
        *self.client_tls.write().unwrap_or_else(|p| p.into_inner()) = tls;
        Ok(())
    }

    /// Swap in reloaded options and authenticator.
    pub fn replace_options(&self, options: Options) {
        if let Err(error) = self.load_client_tls(&options) {
            tracing::error!(%error, "reload: keeping the previous TLS certificates");
        }
        let authenticator = Authenticator::from_options(&options)
            .with_no_auth_user(options.no_auth_user.as_deref());
        self.accounts.apply_configured(&options);
        *self
            .authenticator
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Arc::new(authenticator);
        *self.options.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(options);
        *lock(&self.config_load_time) = SystemTime::now();
        self.recheck_clients();
    }

    /// The server name: configured, or the server id.
    pub fn server_name(&self) -> String {
        self.options()
            .server_name
            .clone()
            .unwrap_or_else(|| self.server_id.clone())
    }

    /// A fresh client id.
    pub fn next_client_id(&self) -> ClientId {
        self.next_client_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The INFO JSON for a new client connection.
    pub fn client_info(&self, cid: ClientId, peer: SocketAddr, auth_required: bool) -> Vec<u8> {
        self.client_info_with_nonce(cid, peer, auth_required, None)
    }

    /// The INFO JSON for a client connection, carrying `nonce` (the first
    /// INFO of a connection when NKey users exist).
    pub fn client_info_with_nonce(
        &self,
        cid: ClientId,
        peer: SocketAddr,
        auth_required: bool,
        nonce: Option<&str>,
    ) -> Vec<u8> {
        let options = self.options();
        let port = lock(&self.client_addr).map_or(options.port, |addr| addr.port());
        let cluster = self.cluster.get();
        // A cluster block without a port still names the cluster.
        let cluster_name = cluster
            .map(|c| c.name())
            .or_else(|| options.cluster.as_ref().and_then(|c| c.name.clone()));
        let advertise = !options.cluster.as_ref().is_some_and(|c| c.no_advertise);
        let lame_duck = self.lame_duck.load(Ordering::Relaxed);
        let connect_urls = match cluster {
            Some(cluster) if advertise => {
                let mut urls = cluster.client_urls();
                if lame_duck {
                    let own = self.own_client_urls.get();
                    urls.retain(|url| !own.is_some_and(|own| own.contains(url)));
                }
                urls
            }
            _ => Vec::new(),
        };
        let info = ClientInfo {
            server_id: &self.server_id,
            server_name: &self.server_name(),
            version: super::info::NATS_COMPATIBLE_VERSION,
            proto: 1,
            go: super::info::GO_FIELD,
            host: &options.host,
            port,
            headers: !options.no_header_support,
            max_payload: options.max_payload,
            client_id: cid,
            client_ip: peer.ip().to_string(),
            auth_required,
            tls_required: options.tls.is_some(),
            tls_verify: options.tls.as_ref().is_some_and(|tls| tls.verify),
            nonce,
            cluster: cluster_name.as_deref(),
            connect_urls,
            ldm: lame_duck,
            jetstream: self.jetstream.get().is_some(),
        };
        serde_json::to_vec(&info).unwrap_or_default()
    }

    /// Add a new connection to the registry.
    pub fn register_client(&self, client: &Arc<ClientHandle>) {
        self.total_connections.fetch_add(1, Ordering::Relaxed);
        lock(&self.clients).insert(client.cid, client.clone());
    }

    /// Remove a closed connection: its subscriptions leave the index and it
    /// moves to the closed ring.
    pub fn unregister_client(&self, client: &Arc<ClientHandle>) {
        let subscriptions: Vec<Arc<Subscription>> =
            client.subscriptions().drain().map(|(_, s)| s).collect();
        for subscription in &subscriptions {
            self.unindex(subscription);
        }
        lock(&self.clients).remove(&client.cid);
        let account = client.account();
        if let Some(account) = &account {
            account.remove_connection();
        }
        let reason = client.close_reason().unwrap_or(CloseReason::ClientClosed);
        tracing::debug!(cid = client.cid, peer = %client.peer, %reason, "client connection closed");
        let closed = ClosedClient {
            cid: client.cid,
            peer: client.peer,
            start: client.start,
            stop: SystemTime::now(),
            reason,
            description: lock(&client.description).clone(),
            traffic: client.traffic.snapshot(),
            rtt_nanos: client.rtt_nanos.load(Ordering::Relaxed),
        };
        if let Some(account) = account {
            self.emit_system_event(crate::system::SystemEvent::Disconnect {
                closed: Box::new(closed.clone()),
                account: account.name.to_string(),
            });
        }
        let mut ring = lock(&self.closed_clients);
        if ring.len() == MAX_CLOSED_CLIENTS {
            ring.pop_front();
        }
        ring.push_back(closed);
    }

    /// Hand an event to the system account's service, if it runs; dropped
    /// when its channel is full (a client never waits on it).
    pub fn emit_system_event(&self, event: crate::system::SystemEvent) {
        if let Some(sender) = self.system_events.get() {
            if sender.try_send(event).is_err() {
                tracing::debug!("system event channel full; event dropped");
            }
        }
    }

    /// Open connections, in no particular order.
    pub fn clients(&self) -> Vec<Arc<ClientHandle>> {
        lock(&self.clients).values().cloned().collect()
    }

    /// The open connection `cid`, if it is still open.
    pub fn client(&self, cid: ClientId) -> Option<Arc<ClientHandle>> {
        lock(&self.clients).get(&cid).cloned()
    }

    /// Number of open connections.
    pub fn client_count(&self) -> usize {
        lock(&self.clients).len()
    }

    /// Closed connections, oldest first.
    pub fn closed_clients(&self) -> Vec<ClosedClient> {
        lock(&self.closed_clients).iter().cloned().collect()
    }

    /// After a reload: close every connected client whose credentials the
    /// new authorization refuses (nats-server does the same); the others
    /// stay connected. Permissions of connected clients are kept as they
    /// were at CONNECT.
    fn recheck_clients(&self) {
        let authenticator = self.authenticator();
        let clients: Vec<(Arc<ClientHandle>, crate::auth::OwnedCredentials)> = self
            .clients()
            .into_iter()
            .filter_map(|client| {
                let credentials = lock(&client.credentials).clone()?;
                Some((client, credentials))
            })
            .collect();
        if clients.is_empty() || !authenticator.required() {
            return;
        }
        // bcrypt costs tens of milliseconds per check: off the runtime.
        let check = move || {
            for (client, credentials) in clients {
                if authenticator.authenticate(&credentials.borrow()).is_err() {
                    tracing::info!(cid = client.cid, peer = %client.peer, "closing client no longer authorized after reload");
                    let mut line = bytes::BytesMut::new();
                    starling_proto::client::encode::encode_err(
                        &mut line,
                        "Authorization Violation",
                    );
                    client.outbound.push_control_bytes(&line);
                    client.close(CloseReason::AuthenticationViolation);
                }
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn_blocking(check);
            }
            Err(_) => check(),
        }
    }

    /// Local client subscriptions in every account (peers' interest and
    /// the server's own subscriptions not counted).
    pub fn local_subscription_count(&self) -> usize {
        let indexed: usize = self
            .accounts
            .all()
            .iter()
            .map(|account| account.sublist.count())
            .sum();
        indexed
            .saturating_sub(self.remote_interest.total())
            .saturating_sub(self.internal_subscriptions.load(Ordering::Relaxed))
    }

    /// Put a new subscription in the index and announce it.
    pub fn add_subscription(&self, subscription: Arc<Subscription>) {
        let subject = subscription.subject.clone();
        let queue = subscription.queue.clone();
        let account = subscription.account.clone();
        account
            .sublist
            .insert(&subject, queue.as_deref(), Interest::Local(subscription));
        self.local_interest
            .added(&account.name, &subject, queue.as_ref());
    }

    /// Put a server-internal subscription in `account`'s index and, when
    /// `announce`, announce it to peers like a client's (so peers forward
    /// matching messages here).
    pub fn add_internal_subscription(
        &self,
        account: &crate::account::Account,
        subscription: Arc<crate::interest::InternalSubscription>,
        announce: bool,
    ) {
        let subject = subscription.subject.clone();
        let queue = subscription.queue.clone();
        account
            .sublist
            .insert(&subject, queue.as_deref(), Interest::Internal(subscription));
        self.internal_subscriptions.fetch_add(1, Ordering::Relaxed);
        if announce {
            self.local_interest
                .added(&account.name, &subject, queue.as_ref());
        }
    }

    /// Take a server-internal subscription out of `account`'s index
    /// (`announced` as it was added).
    pub fn remove_internal_subscription(
        &self,
        account: &crate::account::Account,
        subscription: &Arc<crate::interest::InternalSubscription>,
        announced: bool,
    ) {
        let removed = account.sublist.remove(
            &subscription.subject,
            subscription.queue.as_deref(),
            &Interest::Internal(subscription.clone()),
        );
        if removed {
            self.internal_subscriptions.fetch_sub(1, Ordering::Relaxed);
            if announced {
                self.local_interest.removed(
                    &account.name,
                    &subscription.subject,
                    subscription.queue.as_ref(),
                );
            }
        }
    }

    /// Take a subscription out of the index and its connection's map.
    /// Safe to call more than once.
    pub fn remove_subscription(&self, subscription: &Arc<Subscription>) {
        {
            let mut subscriptions = subscription.client.subscriptions();
            if subscriptions
                .get(&subscription.sid)
                .is_some_and(|current| Arc::ptr_eq(current, subscription))
            {
                subscriptions.remove(&subscription.sid);
            }
        }
        self.unindex(subscription);
    }

    /// Remove from the index; announce only if it was still there.
    fn unindex(&self, subscription: &Arc<Subscription>) {
        let removed = subscription.account.sublist.remove(
            &subscription.subject,
            subscription.queue.as_deref(),
            &Interest::Local(subscription.clone()),
        );
        if removed {
            self.local_interest.removed(
                &subscription.account.name,
                &subscription.subject,
                subscription.queue.as_ref(),
            );
        }
    }

    /// Send a fresh INFO (new connect_urls, lame duck) to every client that
    /// takes asynchronous INFO (protocol 1), or to every client at all.
    pub fn send_info_to_clients(&self, only_async: bool) {
        let auth_required = self.authenticator().announces_auth_required();
        for client in self.clients() {
            if only_async && !client.async_info.load(Ordering::Relaxed) {
                continue;
            }
            let info = self.client_info(client.cid, client.peer, auth_required);
            let mut line = bytes::BytesMut::new();
            starling_proto::client::encode::encode_info(&mut line, &info);
            client.outbound.push_control_bytes(&line);
        }
    }
}
