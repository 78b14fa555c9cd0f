//! An account's JetStream: its streams, its API subscriptions and
//! counters.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::handle::StreamHandle;
use super::limits::{AccountCaps, Usage};
use crate::account::Account;
use crate::client::handle::lock;
use crate::interest::{InternalMessage, InternalSubscription};
use crate::server::ServerState;
use starling_jetstream::api::account::AccountLimits;

/// The `$JS.API` subjects served per account (relative to the prefix).
/// `CONSUMER.MSG.NEXT` is subscribed per consumer (see `consumer_api`).
pub(super) const API_SUBJECTS: &[&str] = &[
    "INFO",
    "STREAM.CREATE.*",
    "STREAM.UPDATE.*",
    "STREAM.INFO.*",
    "STREAM.NAMES",
    "STREAM.LIST",
    "STREAM.DELETE.*",
    "STREAM.PURGE.*",
    "STREAM.MSG.GET.*",
    "STREAM.MSG.DELETE.*",
    "STREAM.LEADER.STEPDOWN.*",
    "CONSUMER.LEADER.STEPDOWN.*.*",
    "CONSUMER.CREATE.*",
    "CONSUMER.CREATE.*.>",
    "CONSUMER.DURABLE.CREATE.*.*",
    "CONSUMER.INFO.*.*",
    "CONSUMER.DELETE.*.*",
    "CONSUMER.PAUSE.*.*",
    "CONSUMER.RESET.*.*",
    "CONSUMER.UNPIN.*.*",
    "CONSUMER.NAMES.*",
    "CONSUMER.LIST.*",
];

/// One account's JetStream state.
pub(super) struct AccountJetStream {
    /// The account.
    pub account: Arc<Account>,
    /// `<jetstream dir>/<account>/streams`.
    pub dir: PathBuf,
    /// Streams by name. Only the account's API thread changes it.
    pub streams: Mutex<BTreeMap<String, Arc<StreamHandle>>>,
    /// The account's API requests (also DIRECT.GET of its streams).
    pub requests: mpsc::Sender<InternalMessage>,
    /// API subscriptions, and each stream's DIRECT.GET ones (by stream).
    subscriptions: Mutex<Vec<Arc<InternalSubscription>>>,
    direct: Mutex<BTreeMap<String, Vec<Arc<InternalSubscription>>>>,
    /// API requests answered (`api.total`).
    pub api_total: AtomicU64,
    /// Of those, with an error (`api.errors`).
    pub api_errors: AtomicU64,
    /// Its `jetstream { ... }` limits (or its JWT's): a JWT update
    /// replaces them while the account runs. A leaf lock.
    limits: Mutex<AccountLimits>,
    /// The storage limits of `limits`, as the streams' gates read them.
    pub caps: Arc<AccountCaps>,
    /// Whether JetStream is enabled for it: a JWT account whose claims
    /// grant none (or no longer do) keeps its API subscriptions, answered
    /// with 10039, and no streams.
    enabled: AtomicBool,
    /// Enable/disable commands for its API task, so they are ordered with
    /// the requests. Unbounded: one per account JWT update or CONNECT
    /// that changes the account's JetStream, a bounded rate.
    pub commands: mpsc::UnboundedSender<AccountCommand>,
    /// Bytes its streams hold, by storage type.
    pub usage: Arc<Usage>,
}

/// A change of an account's JetStream, applied by its API task between
/// two requests.
#[derive(Debug)]
pub(super) enum AccountCommand {
    /// Enable JetStream with these limits: restore the streams on disk.
    Enable(AccountLimits),
    /// Disable it: stop the streams (their files stay), answer 10039.
    Disable,
}

impl AccountJetStream {
    /// State for `account`, not yet subscribed.
    pub fn new(
        account: Arc<Account>,
        dir: PathBuf,
        requests: mpsc::Sender<InternalMessage>,
        commands: mpsc::UnboundedSender<AccountCommand>,
        limits: Option<AccountLimits>,
    ) -> Self {
        let enabled = limits.is_some();
        let limits = limits.unwrap_or_default();
        AccountJetStream {
            account,
            dir,
            streams: Mutex::new(BTreeMap::new()),
            requests,
            subscriptions: Mutex::new(Vec::new()),
            direct: Mutex::new(BTreeMap::new()),
            api_total: AtomicU64::new(0),
            api_errors: AtomicU64::new(0),
            caps: Arc::new(AccountCaps::new(&limits)),
            limits: Mutex::new(limits),
            enabled: AtomicBool::new(enabled),
            commands,
            usage: Arc::new(Usage::default()),
        }
    }

    /// Its limits now.
    pub fn limits(&self) -> AccountLimits {
        lock(&self.limits).clone()
    }

    /// New limits (a JWT update): new streams and consumers are checked
    /// against them, running streams' publishes at once.
    pub fn set_limits(&self, limits: AccountLimits) {
        self.caps.set(&limits);
        *lock(&self.limits) = limits;
    }

    /// Whether JetStream is enabled for the account.
    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Acquire)
    }

    /// Mark JetStream enabled or disabled (its API task, or at start).
    pub fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::Release);
    }

    /// Stop serving `DIRECT.GET` for every stream.
    pub fn clear_direct_gets(&self, server: &ServerState) {
        let all = std::mem::take(&mut *lock(&self.direct));
        for sub in all.into_values().flatten() {
            server.remove_internal_subscription(&self.account, &sub, true);
        }
    }

    /// Subscribe the API under each prefix (`$JS.API`, `$JS.<domain>.API`).
    pub fn subscribe_api(&self, server: &ServerState, prefixes: &[String]) {
        let mut subscriptions = lock(&self.subscriptions);
        for prefix in prefixes {
            for subject in API_SUBJECTS {
                let subject = format!("{prefix}.{subject}");
                let sub = Arc::new(InternalSubscription::new(
                    &subject,
                    None,
                    self.requests.clone(),
                ));
                server.add_internal_subscription(&self.account, sub.clone(), true);
                subscriptions.push(sub);
            }
        }
    }

    /// Serve (or stop serving) `DIRECT.GET` for `stream`.
    pub fn set_direct_get(
        &self,
        server: &ServerState,
        prefixes: &[String],
        stream: &str,
        enabled: bool,
    ) {
        let mut direct = lock(&self.direct);
        let present = direct.contains_key(stream);
        if enabled && !present {
            let mut subs = Vec::new();
            for prefix in prefixes {
                for subject in [
                    format!("{prefix}.DIRECT.GET.{stream}"),
                    format!("{prefix}.DIRECT.GET.{stream}.>"),
                ] {
                    let sub = Arc::new(InternalSubscription::new(
                        &subject,
                        None,
                        self.requests.clone(),
                    ));
                    server.add_internal_subscription(&self.account, sub.clone(), true);
                    subs.push(sub);
                }
            }
            direct.insert(stream.to_string(), subs);
        } else if !enabled && present {
            for sub in direct.remove(stream).unwrap_or_default() {
                server.remove_internal_subscription(&self.account, &sub, true);
            }
        }
    }

    /// The stream called `name`.
    pub fn stream(&self, name: &str) -> Option<Arc<StreamHandle>> {
        lock(&self.streams).get(name).cloned()
    }

    /// Every stream, by name.
    pub fn all_streams(&self) -> Vec<Arc<StreamHandle>> {
        lock(&self.streams).values().cloned().collect()
    }
}
