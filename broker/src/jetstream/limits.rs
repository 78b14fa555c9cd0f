//! JetStream resource limits as nats-server enforces them on one node:
//! the server's `max_memory_store`/`max_file_store` (default 75 % of RAM
//! and 75 % of the store directory's free disk), and an account's
//! `jetstream { max_mem, max_file, max_streams, max_consumers, ... }`.
//!
//! - Stream create/update (`check_stream`): `max_bytes` required (10113)
//!   and under the account's per-stream cap (10122), the stream count
//!   (10027), `max_consumers` under the account's (10026), and the bytes
//!   reserved by `max_bytes` (or 1 byte when unset) under the account's
//!   and the server's limit (10028 memory, 10047 file).
//! - Publish (`StreamGate`): usage is counted per account and per server
//!   in atomics each stream's worker adjusts by its own change after a
//!   batch, so the check takes no other stream's lock. A message that
//!   would take the account past its limit gets an error PubAck 10002,
//!   past the server's 10023.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use starling_jetstream::api::account::AccountLimits;
use starling_jetstream::api::{ApiError, StorageType, StreamConfig};

/// 10002: a publish would exceed the account's storage.
pub(super) fn account_resources_exceeded() -> ApiError {
    ApiError::new(400, 10002, "resource limits exceeded for account")
}

/// 10023: a publish would exceed the server's storage.
pub(super) fn insufficient_resources() -> ApiError {
    ApiError::new(503, 10023, "insufficient resources")
}

/// 10026.
pub(super) fn maximum_consumers() -> ApiError {
    ApiError::new(400, 10026, "maximum consumers limit reached")
}

/// 10027.
pub(super) fn maximum_streams() -> ApiError {
    ApiError::new(400, 10027, "maximum number of streams reached")
}

/// 10028 / 10047: a reservation does not fit.
pub(super) fn resources_exceeded(storage: StorageType) -> ApiError {
    match storage {
        StorageType::Memory => ApiError::new(500, 10028, "insufficient memory resources available"),
        StorageType::File => ApiError::new(500, 10047, "insufficient storage resources available"),
    }
}

/// 10113.
pub(super) fn max_bytes_required() -> ApiError {
    ApiError::new(
        400,
        10113,
        "account requires a stream config to have max bytes set",
    )
}

/// 10122.
pub(super) fn max_stream_bytes_exceeded() -> ApiError {
    ApiError::new(
        400,
        10122,
        "stream max bytes exceeds account limit max stream bytes",
    )
}

/// The server's storage limits in force, bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ServerLimits {
    /// Memory storage.
    pub max_memory: i64,
    /// File storage.
    pub max_storage: i64,
}

/// nats-server's fallbacks when it cannot measure: 256 MiB, 1 TiB.
const FALLBACK_MEMORY: i64 = 256 * 1024 * 1024;
const FALLBACK_STORAGE: i64 = 1024 * 1024 * 1024 * 1024;

impl ServerLimits {
    /// The configured limits, or (as nats-server's `dynJetStreamConfig`)
    /// 75 % of the machine's memory and of the free disk under `store`.
    pub fn resolve(
        max_memory: Option<i64>,
        max_storage: Option<i64>,
        store: &std::path::Path,
    ) -> Self {
        ServerLimits {
            max_memory: max_memory
                .filter(|max| *max >= 0)
                .unwrap_or_else(|| total_memory().map_or(FALLBACK_MEMORY, |m| m / 4 * 3)),
            max_storage: max_storage
                .filter(|max| *max >= 0)
                .unwrap_or_else(|| free_disk(store).map_or(FALLBACK_STORAGE, |d| d / 4 * 3)),
        }
    }

    fn of(&self, storage: StorageType) -> i64 {
        match storage {
            StorageType::Memory => self.max_memory,
            StorageType::File => self.max_storage,
        }
    }
}

/// `MemTotal` of `/proc/meminfo`, bytes.
fn total_memory() -> Option<i64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|line| line.starts_with("MemTotal:"))?;
    let kib: i64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Bytes available to unprivileged users on the file system of `dir`.
fn free_disk(dir: &std::path::Path) -> Option<i64> {
    let stat = nix::sys::statvfs::statvfs(dir).ok()?;
    let bytes = u128::from(stat.blocks_available()) * u128::from(stat.fragment_size());
    i64::try_from(bytes).ok()
}

fn account_max(limits: &AccountLimits, storage: StorageType) -> i64 {
    match storage {
        StorageType::Memory => limits.max_memory,
        StorageType::File => limits.max_storage,
    }
}

/// An account's memory and file storage limits as its streams' gates
/// read them: changed in place when a JWT update changes the account's
/// limits, so running streams see the new limit at their next publish.
#[derive(Debug)]
pub(super) struct AccountCaps {
    memory: AtomicI64,
    storage: AtomicI64,
}

impl AccountCaps {
    /// The caps of `limits`.
    pub fn new(limits: &AccountLimits) -> Self {
        AccountCaps {
            memory: AtomicI64::new(limits.max_memory),
            storage: AtomicI64::new(limits.max_storage),
        }
    }

    /// Take `limits`' storage limits.
    pub fn set(&self, limits: &AccountLimits) {
        self.memory.store(limits.max_memory, Ordering::Relaxed);
        self.storage.store(limits.max_storage, Ordering::Relaxed);
    }

    fn of(&self, storage: StorageType) -> i64 {
        match storage {
            StorageType::Memory => self.memory.load(Ordering::Relaxed),
            StorageType::File => self.storage.load(Ordering::Relaxed),
        }
    }
}

/// Bytes in use, per storage type (an account's, or the server's).
#[derive(Debug, Default)]
pub(super) struct Usage {
    memory: AtomicI64,
    storage: AtomicI64,
}

impl Usage {
    fn counter(&self, storage: StorageType) -> &AtomicI64 {
        match storage {
            StorageType::Memory => &self.memory,
            StorageType::File => &self.storage,
        }
    }

    /// Bytes in use of `storage` (never negative).
    pub fn get(&self, storage: StorageType) -> u64 {
        u64::try_from(self.counter(storage).load(Ordering::Relaxed)).unwrap_or(0)
    }

    fn add(&self, storage: StorageType, delta: i64) {
        self.counter(storage).fetch_add(delta, Ordering::Relaxed);
    }
}

/// Bytes reserved by `max_bytes` of streams, per storage type.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Reserved {
    /// Memory streams.
    pub memory: i64,
    /// File streams.
    pub storage: i64,
}

impl Reserved {
    /// Add `config`'s reservation.
    pub fn add(&mut self, config: &StreamConfig) {
        if config.max_bytes > 0 {
            match config.storage {
                StorageType::Memory => self.memory += config.max_bytes,
                StorageType::File => self.storage += config.max_bytes,
            }
        }
    }

    fn of(&self, storage: StorageType) -> i64 {
        match storage {
            StorageType::Memory => self.memory,
            StorageType::File => self.storage,
        }
    }
}

/// What a stream create or update is checked against.
pub(super) struct StreamCheck {
    /// The account's limits.
    pub account: AccountLimits,
    /// The server's.
    pub server: ServerLimits,
    /// The account's streams other than this one.
    pub other_streams: usize,
    /// Reserved by the account's other streams.
    pub account_reserved: Reserved,
    /// Reserved by every other stream on the server.
    pub server_reserved: Reserved,
}

/// The checks nats-server's `checkStreamCfg` makes on the account's
/// per-stream byte limits (before anything else about the stream).
pub(super) fn check_max_bytes(
    limits: &AccountLimits,
    config: &StreamConfig,
) -> Result<(), ApiError> {
    if limits.max_bytes_required && config.max_bytes <= 0 {
        return Err(max_bytes_required());
    }
    let cap = match config.storage {
        StorageType::Memory => limits.memory_max_stream_bytes,
        StorageType::File => limits.storage_max_stream_bytes,
    };
    if cap > 0 && config.max_bytes > cap {
        return Err(max_stream_bytes_exceeded());
    }
    Ok(())
}

/// A new stream (`creating`) or an update raising `max_bytes`: the stream
/// count, `max_consumers` and the reservation (nats-server `checkLimits`).
pub(super) fn check_stream(
    check: &StreamCheck,
    config: &StreamConfig,
    creating: bool,
) -> Result<(), ApiError> {
    let limits = &check.account;
    if creating && limits.max_streams > 0 && check.other_streams as i64 >= limits.max_streams {
        return Err(maximum_streams());
    }
    if config.max_consumers > 0
        && limits.max_consumers > 0
        && config.max_consumers > limits.max_consumers
    {
        return Err(maximum_consumers());
    }
    let add = config.max_bytes.max(1);
    let storage = config.storage;
    let account_max = account_max(limits, storage);
    if account_max >= 0 && check.account_reserved.of(storage).saturating_add(add) > account_max {
        return Err(resources_exceeded(storage));
    }
    if check.server_reserved.of(storage).saturating_add(add) > check.server.of(storage) {
        return Err(resources_exceeded(storage));
    }
    Ok(())
}

/// A stream's view of the usage counters: admits publishes and reports
/// its own size after each batch.
pub(super) struct StreamGate {
    storage: StorageType,
    account_max: Arc<AccountCaps>,
    server_max: i64,
    account: Arc<Usage>,
    server: Arc<Usage>,
    /// The stream's bytes as last added to both counters.
    reported: AtomicI64,
}

impl StreamGate {
    /// The gate of a stream of `storage`, counting its `bytes` now.
    pub fn new(
        storage: StorageType,
        account_limits: Arc<AccountCaps>,
        server_limits: ServerLimits,
        account: Arc<Usage>,
        server: Arc<Usage>,
        bytes: u64,
    ) -> Self {
        let gate = StreamGate {
            storage,
            account_max: account_limits,
            server_max: server_limits.of(storage),
            account,
            server,
            reported: AtomicI64::new(0),
        };
        gate.report(bytes);
        gate
    }

    /// Whether a message of `size` bytes may be stored in a stream now
    /// holding `bytes` (which the counters may not have caught up with).
    pub fn admit(&self, bytes: u64, size: u64) -> Result<(), ApiError> {
        let own = i64::try_from(bytes).unwrap_or(i64::MAX);
        let size = i64::try_from(size).unwrap_or(i64::MAX);
        let unreported = own - self.reported.load(Ordering::Relaxed);
        let total = |usage: &Usage| {
            i64::try_from(usage.get(self.storage))
                .unwrap_or(i64::MAX)
                .saturating_add(unreported)
                .saturating_add(size)
        };
        let account_max = self.account_max.of(self.storage);
        if account_max >= 0 && total(&self.account) > account_max {
            return Err(account_resources_exceeded());
        }
        if self.server_max >= 0 && total(&self.server) > self.server_max {
            return Err(insufficient_resources());
        }
        Ok(())
    }

    /// The stream now holds `bytes`.
    pub fn report(&self, bytes: u64) {
        let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
        let delta = bytes - self.reported.swap(bytes, Ordering::Relaxed);
        if delta != 0 {
            self.account.add(self.storage, delta);
            self.server.add(self.storage, delta);
        }
    }
}

impl Drop for StreamGate {
    /// The stream is gone (deleted, or the server stops).
    fn drop(&mut self) {
        self.report(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_storage: i64, max_streams: i64) -> AccountLimits {
        AccountLimits {
            max_storage,
            max_streams,
            max_consumers: 2,
            ..AccountLimits::default()
        }
    }

    fn file_stream(max_bytes: i64) -> StreamConfig {
        StreamConfig {
            name: "S".into(),
            max_bytes,
            storage: StorageType::File,
            ..StreamConfig::default()
        }
    }

    const SERVER: ServerLimits = ServerLimits {
        max_memory: 1000,
        max_storage: 10_000,
    };

    #[test]
    fn stream_checks_use_nats_server_codes() {
        let account = limits(5000, 2);
        let check = |other_streams, reserved: i64| StreamCheck {
            account: account.clone(),
            server: SERVER,
            other_streams,
            account_reserved: Reserved {
                memory: 0,
                storage: reserved,
            },
            server_reserved: Reserved::default(),
        };
        assert!(check_stream(&check(1, 0), &file_stream(-1), true).is_ok());
        assert_eq!(
            check_stream(&check(2, 0), &file_stream(-1), true).map_err(|e| e.err_code),
            Err(10027)
        );
        assert_eq!(
            check_stream(&check(0, 0), &file_stream(6000), true).map_err(|e| e.err_code),
            Err(10047)
        );
        assert_eq!(
            check_stream(&check(0, 4000), &file_stream(1001), true).map_err(|e| e.err_code),
            Err(10047)
        );
        let mut memory = file_stream(2000);
        memory.storage = StorageType::Memory;
        assert_eq!(
            check_stream(&check(0, 0), &memory, true).map_err(|e| e.err_code),
            Err(10028),
            "over the server's memory"
        );
        let mut consumers = file_stream(-1);
        consumers.max_consumers = 5;
        assert_eq!(
            check_stream(&check(0, 0), &consumers, true).map_err(|e| e.err_code),
            Err(10026)
        );
        let required = AccountLimits {
            max_bytes_required: true,
            storage_max_stream_bytes: 100,
            ..AccountLimits::default()
        };
        assert_eq!(
            check_max_bytes(&required, &file_stream(-1)).map_err(|e| e.err_code),
            Err(10113)
        );
        assert_eq!(
            check_max_bytes(&required, &file_stream(101)).map_err(|e| e.err_code),
            Err(10122)
        );
        assert!(check_max_bytes(&required, &file_stream(100)).is_ok());
    }

    #[test]
    fn gate_counts_every_stream_of_the_account() {
        let (account, server) = (Arc::new(Usage::default()), Arc::new(Usage::default()));
        let caps = Arc::new(AccountCaps::new(&limits(100, -1)));
        let gate = |bytes| {
            StreamGate::new(
                StorageType::File,
                caps.clone(),
                SERVER,
                account.clone(),
                server.clone(),
                bytes,
            )
        };
        let first = gate(60);
        let second = gate(0);
        assert_eq!(account.get(StorageType::File), 60);
        assert!(second.admit(0, 40).is_ok());
        assert_eq!(second.admit(0, 41).map_err(|e| e.err_code), Err(10002));
        // Stored in this batch, not reported yet: still counted.
        assert_eq!(second.admit(30, 20).map_err(|e| e.err_code), Err(10002));
        second.report(30);
        assert_eq!(account.get(StorageType::File), 90);
        drop(first);
        assert_eq!(account.get(StorageType::File), 30);
        assert!(second.admit(30, 70).is_ok());
        // A JWT update lowers the account's limit: running gates see it.
        caps.set(&limits(50, -1));
        assert_eq!(second.admit(30, 21).map_err(|e| e.err_code), Err(10002));
        caps.set(&limits(100, -1));
        let tight = ServerLimits {
            max_memory: 0,
            max_storage: 50,
        };
        let unlimited = Arc::new(AccountCaps::new(&AccountLimits::default()));
        let third = StreamGate::new(
            StorageType::File,
            unlimited,
            tight,
            Arc::new(Usage::default()),
            server.clone(),
            0,
        );
        assert_eq!(third.admit(0, 21).map_err(|e| e.err_code), Err(10023));
    }

    #[test]
    fn server_limits_default_to_three_quarters() {
        let dir = std::env::temp_dir();
        let resolved = ServerLimits::resolve(None, None, &dir);
        assert!(resolved.max_memory > 0 && resolved.max_storage > 0);
        let set = ServerLimits::resolve(Some(10), Some(20), &dir);
        assert_eq!(
            set,
            ServerLimits {
                max_memory: 10,
                max_storage: 20
            }
        );
    }
}
