//! The shared side of a client connection: what other connections (to
//! deliver), monitoring (to report) and the server (to close) may touch.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::SystemTime;

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use crate::account::Account;
use crate::auth::{OwnedCredentials, PermissionChecker, ResponseTracker};
use crate::close::CloseReason;
use crate::options::ResponsePermission;
use crate::stats::Traffic;
use starling_cluster::outbound::Outbound;

/// Client id, unique per server run (nats-server's `cid`).
pub type ClientId = u64;

/// One subscription of one connection. Equality is identity.
#[derive(Debug)]
pub struct Subscription {
    /// The owning connection (cleared from the index when it closes, which
    /// breaks the handle -> subscription -> handle cycle).
    pub client: Arc<ClientHandle>,
    /// The account whose sublist holds it.
    pub account: Arc<Account>,
    /// Subject, possibly with wildcards.
    pub subject: Arc<str>,
    /// Queue group.
    pub queue: Option<Arc<str>>,
    /// The client's subscription id, as sent back in MSG.
    pub sid: Bytes,
    /// Auto-unsubscribe limit (0 = none), set by `UNSUB sid max`.
    pub max: AtomicU64,
    /// Messages delivered so far.
    pub delivered: AtomicU64,
    /// Set for a wildcard subscription of a client with subscribe deny
    /// rules: messages on denied subjects are not delivered to it.
    pub deny: Option<Arc<PermissionChecker>>,
}

impl PartialEq for Subscription {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

/// What a connection said about itself in CONNECT, for monitoring.
#[derive(Debug, Clone, Default)]
pub struct ClientDescription {
    /// CONNECT `name`.
    pub name: String,
    /// CONNECT `lang`.
    pub lang: String,
    /// CONNECT `version`.
    pub version: String,
    /// The authenticated user, if any.
    pub user: Option<String>,
    /// The account, when not the global one.
    pub account: Option<String>,
}

/// Shared state of one client connection.
#[derive(Debug)]
pub struct ClientHandle {
    /// Client id.
    pub cid: ClientId,
    /// Remote address.
    pub peer: SocketAddr,
    /// When the connection was accepted.
    pub start: SystemTime,
    /// Bytes waiting for this connection's writer.
    pub outbound: Outbound,
    /// Cancelled to close the connection; a child of the server's token.
    pub closed: CancellationToken,
    /// The first close reason wins; set before `closed` is cancelled.
    close_reason: Mutex<Option<CloseReason>>,
    /// Messages this client published and received.
    pub traffic: Traffic,
    /// Subscriptions by sid. Locked by the owner's reader for SUB/UNSUB and
    /// by publishers removing an auto-unsubscribed subscription.
    subscriptions: Mutex<HashMap<Bytes, Arc<Subscription>>>,
    /// CONNECT details, for /connz.
    pub description: Mutex<ClientDescription>,
    /// Millis since the Unix epoch of the last inbound data.
    pub last_activity_ms: AtomicU64,
    /// Round-trip time of the last server PING, in nanoseconds (0 = unknown).
    pub rtt_nanos: AtomicU64,
    /// Marks which publisher batch last queued a wake-up for this client, so
    /// a batch wakes each destination once.
    pub flush_mark: AtomicU64,
    /// What the client presented in its accepted CONNECT, re-checked when
    /// the authorization is reloaded. None until CONNECT is accepted.
    pub credentials: Mutex<Option<OwnedCredentials>>,
    /// The client takes asynchronous INFO (CONNECT with protocol 1).
    pub async_info: AtomicBool,
    /// The client takes HMSG (CONNECT `headers`, allowed by the server);
    /// otherwise messages reach it with their headers stripped.
    pub headers: AtomicBool,
    /// Set once a slow-consumer close was logged, so it is logged once.
    slow_consumer_logged: AtomicBool,
    /// Reply subjects this client may answer (`allow_responses`); set once
    /// after CONNECT, recorded into by whoever delivers it a request.
    responses: OnceLock<Mutex<ResponseTracker>>,
    /// The account of the accepted CONNECT, counted in its connections;
    /// None until then (monitoring shows `$G`).
    account: Mutex<Option<Arc<Account>>>,
}

impl ClientHandle {
    /// A new connection's handle.
    pub fn new(
        cid: ClientId,
        peer: SocketAddr,
        max_pending: usize,
        closed: CancellationToken,
    ) -> Self {
        ClientHandle {
            cid,
            peer,
            start: SystemTime::now(),
            outbound: Outbound::new(max_pending),
            closed,
            close_reason: Mutex::new(None),
            traffic: Traffic::default(),
            subscriptions: Mutex::new(HashMap::new()),
            description: Mutex::new(ClientDescription::default()),
            last_activity_ms: AtomicU64::new(now_millis()),
            rtt_nanos: AtomicU64::new(0),
            flush_mark: AtomicU64::new(0),
            credentials: Mutex::new(None),
            async_info: AtomicBool::new(false),
            headers: AtomicBool::new(false),
            slow_consumer_logged: AtomicBool::new(false),
            responses: OnceLock::new(),
            account: Mutex::new(None),
        }
    }

    /// Close the connection for `reason` (the first reason given wins).
    pub fn close(&self, reason: CloseReason) {
        {
            let mut current = lock(&self.close_reason);
            if current.is_none() {
                *current = Some(reason);
            }
        }
        self.closed.cancel();
    }

    /// Why it closed; `ServerShutdown` when the server's token closed it.
    pub fn close_reason(&self) -> Option<CloseReason> {
        let reason = *lock(&self.close_reason);
        reason.or_else(|| {
            self.closed
                .is_cancelled()
                .then_some(CloseReason::ServerShutdown)
        })
    }

    /// True once closing has begun.
    pub fn is_closed(&self) -> bool {
        self.closed.is_cancelled()
    }

    /// Close as a slow consumer; returns true the first time, so the caller
    /// counts and logs it once.
    pub fn close_slow_consumer(&self, reason: CloseReason) -> bool {
        self.close(reason);
        !self.slow_consumer_logged.swap(true, Ordering::Relaxed)
    }

    /// The subscriptions, locked.
    pub fn subscriptions(&self) -> MutexGuard<'_, HashMap<Bytes, Arc<Subscription>>> {
        lock(&self.subscriptions)
    }

    /// Start tracking reply subjects of requests delivered to this client.
    pub fn enable_response_tracking(&self, permission: ResponsePermission) {
        let _ = self
            .responses
            .set(Mutex::new(ResponseTracker::new(&permission)));
    }

    /// A request with this reply subject was delivered to this client.
    pub fn record_request(&self, reply: &[u8]) {
        if let (Some(tracker), Ok(reply)) = (self.responses.get(), std::str::from_utf8(reply)) {
            lock(tracker).record(reply, tokio::time::Instant::now());
        }
    }

    /// May this client publish to `subject` as a response?
    pub fn response_allowed(&self, subject: &str) -> bool {
        self.responses
            .get()
            .is_some_and(|tracker| lock(tracker).allow(subject, tokio::time::Instant::now()))
    }

    /// The account of the accepted CONNECT (already counted in it).
    pub fn set_account(&self, account: Arc<Account>) {
        *lock(&self.account) = Some(account);
    }

    /// The account of the accepted CONNECT, if any.
    pub fn account(&self) -> Option<Arc<Account>> {
        lock(&self.account).clone()
    }

    /// The account's name for monitoring (`$G` before CONNECT).
    pub fn account_name(&self) -> String {
        lock(&self.account).as_ref().map_or_else(
            || starling_proto::account::GLOBAL_ACCOUNT.to_owned(),
            |account| account.name.to_string(),
        )
    }

    /// Record inbound activity now.
    pub fn touch(&self) {
        self.last_activity_ms.store(now_millis(), Ordering::Relaxed);
    }
}

/// Lock ignoring poisoning: every critical section here leaves its data
/// consistent at each step, so a panic elsewhere cannot corrupt it.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Milliseconds since the Unix epoch (wall clock, for monitoring only).
pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
