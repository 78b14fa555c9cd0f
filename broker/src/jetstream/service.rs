//! [`JetStream`]: enabled at bind, restores every account's file streams,
//! starts the API task per account and a worker per stream.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use starling_jetstream::api::account::AccountLimits;
use starling_jetstream::api::{ApiError, StorageType, StreamConfig};
use starling_jetstream::stream::{BatchLimits, BatchStager, Stream};
use starling_store::{FileStore, FileStoreConfig, MemStore, MessageStore};
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;

use super::account::{AccountCommand, AccountJetStream};
use super::consumer_api::subscribe_restored;
use super::consumer_store::restore_all;
use super::consumers::{ConsumerEntry, ConsumerSet};
use super::handle::StreamHandle;
use super::limits::{Reserved, ServerLimits, StreamGate, Usage};
use super::meta::read_meta;
use super::persist::read_dedup;
use super::publish::now_nanos;
use super::source::{SourceLinks, Sourcing};
use super::stats::SyncHistogram;
use super::worker::{self, Worker};
use crate::account::Account;
use crate::client::handle::lock;
use crate::options::JetStreamOptions;
use crate::server::ServerState;

/// Captured publishes queued per stream before the router drops them
/// (the publisher then gets no PubAck and retries): bounds memory, and a
/// slow disk never makes a publisher wait.
pub const CAPTURE_CHANNEL_CAPACITY: usize = 8192;

/// API operations queued per stream (the API thread waits for room).
const CONTROL_CHANNEL_CAPACITY: usize = 64;

/// API requests queued per account before they are dropped.
const API_CHANNEL_CAPACITY: usize = 1024;

/// How long shutdown waits for the workers' final syncs.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// JetStream of one server.
pub struct JetStream {
    /// The settings it started with.
    pub(super) options: JetStreamOptions,
    /// `<store_dir>/jetstream`.
    pub(super) root: PathBuf,
    /// The API subject prefixes (`$JS.API`, and `$JS.<domain>.API`).
    pub(super) prefixes: Vec<String>,
    /// Per account, by name.
    pub(super) accounts: Mutex<BTreeMap<String, Arc<AccountJetStream>>>,
    /// The API tasks and stream workers, waited for at shutdown.
    tasks: TaskTracker,
    /// Where workers are spawned from the API's blocking threads.
    runtime: tokio::runtime::Handle,
    /// `max_memory_store` / `max_file_store` in force.
    pub(super) server_limits: ServerLimits,
    /// Bytes stored on this server, by storage type.
    pub(super) usage: Arc<Usage>,
    /// Fsync latencies of every stream's batches.
    pub(super) fsync: Arc<SyncHistogram>,
    /// Uncommitted atomic batches of every stream, for the server-wide
    /// limit (each stream's stager adds and removes its own).
    batches_inflight: Arc<AtomicUsize>,
}

impl std::fmt::Debug for JetStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStream")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

/// Start JetStream if enabled: refuse a cluster, restore the streams,
/// subscribe the API in every account but the system account. Called at
/// bind, inside the runtime, before clients are accepted.
pub fn start(server: &Arc<ServerState>) -> io::Result<()> {
    let options = server.options();
    if !options.jetstream.enabled {
        return Ok(());
    }
    if options.cluster.is_some() {
        return Err(io::Error::other(
            "JetStream with a cluster is not supported yet (replicated JetStream is a later \
             issue): remove the cluster block or disable JetStream",
        ));
    }
    let root = options.jetstream.jetstream_dir();
    fs::create_dir_all(&root).map_err(|error| {
        io::Error::new(
            error.kind(),
            format!(
                "cannot create JetStream store directory {}: {error}",
                root.display()
            ),
        )
    })?;
    let mut prefixes = vec![starling_jetstream::api::API_PREFIX.to_string()];
    if let Some(domain) = &options.jetstream.domain {
        prefixes.push(format!("$JS.{domain}.API"));
    }
    let root_for_limits = root.clone();
    let jetstream = Arc::new(JetStream {
        options: options.jetstream.clone(),
        root,
        prefixes,
        accounts: Mutex::new(BTreeMap::new()),
        tasks: TaskTracker::new(),
        runtime: tokio::runtime::Handle::current(),
        server_limits: ServerLimits::resolve(
            options.jetstream.max_memory_store,
            options.jetstream.max_file_store,
            &root_for_limits,
        ),
        usage: Arc::new(Usage::default()),
        fsync: Arc::new(SyncHistogram::default()),
        batches_inflight: Arc::new(AtomicUsize::new(0)),
    });
    let system = server.accounts.system_name().to_string();
    if let Some(operator) = server.operator_mode() {
        // Operator mode: JetStream comes from account JWTs. As
        // nats-server's `configAllJetStreamAccounts`, the accounts with a
        // directory in the store are resolved now and their streams
        // restored; the others are enabled when first resolved (a user's
        // CONNECT) or when a claims update reaches them.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| {
                i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
            });
        for name in stored_accounts(&jetstream.root) {
            if name == system {
                continue;
            }
            let Ok(claims) = operator.account(&name, now) else {
                tracing::warn!(account = %name, "JetStream directory of an account the resolver does not hold: not restored");
                continue;
            };
            let Some(limits) = crate::system::account_update::jetstream_limits(&claims) else {
                continue;
            };
            let account_limits = crate::system::account_update::account_limits(&claims);
            if let Some(account) = server
                .accounts
                .get_or_create_with_limits(&name, account_limits)
            {
                jetstream.enable_account(server, account, Some(limits), true)?;
            }
        }
    } else {
        for account in server.accounts.all() {
            if *account.name != *system && jetstream_account(&options, &account.name) {
                let limits = options
                    .accounts
                    .iter()
                    .find(|a| *a.name == *account.name)
                    .map(|a| a.jetstream_limits.clone())
                    .unwrap_or_default();
                jetstream.enable_account(server, account, Some(limits), true)?;
            }
        }
    }
    tracing::info!(store_dir = %jetstream.root.display(), sync = ?jetstream.options.sync_interval.map_or("always".to_string(), |d| format!("{d:?}")), "JetStream started");
    if server.jetstream.set(jetstream).is_err() {
        tracing::warn!("JetStream already started");
    }
    Ok(())
}

/// Whether `account` gets JetStream: when no configured account says
/// `jetstream`, every account does (`$G` included); otherwise (as
/// nats-server with configured accounts) only those that enable it.
fn jetstream_account(options: &crate::options::Options, account: &str) -> bool {
    if options.accounts.iter().all(|a| a.jetstream.is_none()) {
        return true;
    }
    options
        .accounts
        .iter()
        .any(|a| a.name == account && a.jetstream == Some(true))
}

/// The names of the account directories under the JetStream root.
fn stored_accounts(root: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(root) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| entry.path().join("streams").is_dir())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect()
}

/// Whether `name` can be a directory of the store.
fn is_directory_name(name: &str) -> bool {
    !(name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\']))
}

impl JetStream {
    /// Start the account's JetStream: its API subscriptions and task, and
    /// (`limits` Some) its streams. `restore_now`: restore them before
    /// returning (at start); otherwise the API task restores them before
    /// it answers its first request (an account resolved at run time, on
    /// a client's task). `limits` None: JetStream is not enabled for the
    /// account; every API request is answered 10039.
    pub(super) fn enable_account(
        self: &Arc<Self>,
        server: &Arc<ServerState>,
        account: Arc<Account>,
        limits: Option<AccountLimits>,
        restore_now: bool,
    ) -> io::Result<()> {
        let name = account.name.to_string();
        if !is_directory_name(&name) {
            tracing::warn!(account = %name, "account name is not a directory name; no JetStream for it");
            return Ok(());
        }
        let dir = self.root.join(&name).join("streams");
        let (requests, receiver) = mpsc::channel(API_CHANNEL_CAPACITY);
        let (commands, command_receiver) = mpsc::unbounded_channel();
        let enable_later = if restore_now { None } else { limits.clone() };
        let state = Arc::new(AccountJetStream::new(
            account,
            dir,
            requests,
            commands,
            if restore_now { limits } else { None },
        ));
        {
            let mut accounts = lock(&self.accounts);
            if accounts.contains_key(&name) {
                // Another CONNECT of the account got here first.
                return Ok(());
            }
            accounts.insert(name.clone(), state.clone());
        }
        state.subscribe_api(server, &self.prefixes);
        if state.is_enabled() {
            self.restore_streams(server, &state)?;
            tracing::info!(account = %name, "JetStream enabled for account");
        }
        if let Some(limits) = enable_later {
            let _ = state.commands.send(AccountCommand::Enable(limits));
        }
        let jetstream = self.clone();
        self.tasks.spawn_on(
            super::api::serve(jetstream, server.clone(), state, receiver, command_receiver),
            &self.runtime,
        );
        Ok(())
    }

    /// Reopen every stream found under the account's directory. A stream
    /// whose meta cannot be read is skipped and logged, never fatal.
    pub(super) fn restore_streams(
        &self,
        server: &Arc<ServerState>,
        account: &Arc<AccountJetStream>,
    ) -> io::Result<()> {
        let entries = match fs::read_dir(&account.dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(error),
        };
        for entry in entries.flatten() {
            let dir = entry.path();
            let meta = match read_meta(&dir) {
                Ok(meta) => meta,
                Err(error) => {
                    tracing::error!(dir = %dir.display(), %error, "stream not restored: unreadable meta.json");
                    continue;
                }
            };
            let name = meta.config.name.clone();
            match open_store(&meta.config, Some(&dir)) {
                Ok(store) => {
                    let saved = read_dedup(&dir);
                    let stream = Stream::open_with_dedup(
                        meta.config,
                        meta.created,
                        store,
                        now_nanos(),
                        saved,
                    );
                    let state = stream.store().state();
                    tracing::info!(account = %account.account.name, stream = %name, messages = state.msgs, last_seq = state.last_seq, "stream restored");
                    self.launch(server, account, stream, Some(dir));
                }
                Err(error) => {
                    tracing::error!(stream = %name, %error, "stream not restored: store did not open");
                }
            }
        }
        Ok(())
    }

    /// Start the worker of `stream` and capture its subjects.
    pub(super) fn launch(
        &self,
        server: &Arc<ServerState>,
        account: &Arc<AccountJetStream>,
        stream: Stream,
        dir: Option<PathBuf>,
    ) -> Arc<StreamHandle> {
        let config = stream.config().clone();
        let stream = Arc::new(Mutex::new(stream));
        let (capture_sender, capture) = mpsc::channel(CAPTURE_CHANNEL_CAPACITY);
        let (control_sender, control) = mpsc::channel(CONTROL_CHANNEL_CAPACITY);
        let (inbox_sender, consumer_inbox) = mpsc::channel(CAPTURE_CHANNEL_CAPACITY);
        let consumers = Arc::new(Mutex::new(ConsumerSet::default()));
        let links = Arc::new(SourceLinks::new(lock(&stream).store().state().last_seq));
        if let Some(dir) = &dir {
            let name = lock(&stream).name().to_string();
            let mut set = lock(&consumers);
            for (consumer, consumer_dir, written) in restore_all(dir, &name, now_nanos()) {
                let mut entry = ConsumerEntry::new(consumer, Some(consumer_dir), now_nanos());
                entry.written = written;
                set.entries.insert(entry.consumer.name().to_string(), entry);
            }
        }
        let gate = Arc::new(StreamGate::new(
            config.storage,
            account.caps.clone(),
            self.server_limits,
            account.usage.clone(),
            self.usage.clone(),
            lock(&stream).store().state().bytes,
        ));
        let handle = Arc::new(StreamHandle::new(
            stream.clone(),
            control_sender,
            capture_sender,
            dir,
            consumers.clone(),
            inbox_sender,
            links.clone(),
        ));
        let worker = Worker {
            server: server.clone(),
            account: account.account.clone(),
            stream,
            capture,
            control,
            consumers,
            consumer_inbox,
            sync_interval: self.options.sync_interval,
            domain: self.options.domain.clone(),
            sourcing: Arc::new(Sourcing {
                registry: account.clone(),
                links,
                wake: handle.control.clone(),
            }),
            dir: handle.dir.clone(),
            gate,
            fsync: self.fsync.clone(),
            stager: Arc::new(Mutex::new(BatchStager::new(
                BatchLimits::default(),
                self.batches_inflight.clone(),
            ))),
        };
        self.tasks.spawn_on(worker::run(worker), &self.runtime);
        if config.has_sources() {
            handle.wake();
        }
        handle.subscribe_consumer_subjects(server, &account.account);
        subscribe_restored(server, &account.account, &self.prefixes, &handle);
        handle.capture_subjects(server, &account.account, &config.subjects);
        account.set_direct_get(server, &self.prefixes, &config.name, config.allow_direct);
        lock(&account.streams).insert(config.name.clone(), handle.clone());
        handle
    }

    /// Every account's JetStream state, of the accounts it is enabled for.
    pub(super) fn all_accounts(&self) -> Vec<Arc<AccountJetStream>> {
        lock(&self.accounts)
            .values()
            .filter(|account| account.is_enabled())
            .cloned()
            .collect()
    }

    /// Bytes reserved by `max_bytes` of every stream on the server but
    /// `account`'s `name`.
    pub(super) fn reserved_except(&self, account: &str, name: &str) -> Reserved {
        let mut reserved = Reserved::default();
        for other in self.all_accounts() {
            for handle in other.all_streams() {
                if *other.account.name != *account || handle.name != name {
                    reserved.add(&handle.config());
                }
            }
        }
        reserved
    }

    /// The fsync latency histogram now.
    pub fn fsync_latency(&self) -> super::stats::SyncSnapshot {
        self.fsync.snapshot()
    }

    /// Every stream's worker is running (`/healthz`); the first one that
    /// is not, in nats-server's words.
    pub fn health(&self) -> Result<(), String> {
        for account in self.all_accounts() {
            for handle in account.all_streams() {
                if handle.control.is_closed() {
                    return Err(format!(
                        "JetStream stream '{} > {}' is not current",
                        account.account.name, handle.name
                    ));
                }
            }
        }
        Ok(())
    }

    /// The directory of a file stream.
    pub(super) fn stream_dir(account: &AccountJetStream, name: &str) -> PathBuf {
        account.dir.join(name)
    }

    /// Wait (bounded) for every worker's final sync after shutdown began.
    pub async fn wait_stopped(&self) {
        self.tasks.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("JetStream workers still syncing after {SHUTDOWN_GRACE:?}");
        }
    }
}

/// Open the store of a stream: memory, or the file store in `dir`.
pub(super) fn open_store(
    config: &StreamConfig,
    dir: Option<&Path>,
) -> Result<Box<dyn MessageStore + Send>, ApiError> {
    match (config.storage, dir) {
        (StorageType::Memory, _) => Ok(Box::new(MemStore::new(config.store_config()))),
        (StorageType::File, Some(dir)) => {
            let file_config = FileStoreConfig {
                store: config.store_config(),
                ..FileStoreConfig::default()
            };
            let store = FileStore::open(dir, file_config).map_err(|error| {
                ApiError::stream_create(&format!("could not open store: {error}"))
            })?;
            let report = store.recovery_report();
            if report.torn_tail.is_some() || !report.damaged.is_empty() {
                tracing::warn!(stream = %config.name, ?report, "stream store recovered with damage");
            }
            Ok(Box::new(store))
        }
        (StorageType::File, None) => {
            Err(ApiError::stream_create("file stream without a directory"))
        }
    }
}
