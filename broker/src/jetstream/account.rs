//! An account's JetStream: its streams, its API subscriptions and
//! counters.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::handle::StreamHandle;
use super::limits::Usage;
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
    /// Its `jetstream { ... }` limits.
    pub limits: AccountLimits,
    /// Bytes its streams hold, by storage type.
    pub usage: Arc<Usage>,
}

impl AccountJetStream {
    /// State for `account`, not yet subscribed.
    pub fn new(
        account: Arc<Account>,
        dir: PathBuf,
        requests: mpsc::Sender<InternalMessage>,
        limits: AccountLimits,
    ) -> Self {
        AccountJetStream {
            account,
            dir,
            streams: Mutex::new(BTreeMap::new()),
            requests,
            subscriptions: Mutex::new(Vec::new()),
            direct: Mutex::new(BTreeMap::new()),
            api_total: AtomicU64::new(0),
            api_errors: AtomicU64::new(0),
            limits,
            usage: Arc::new(Usage::default()),
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
