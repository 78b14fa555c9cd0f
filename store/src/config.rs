//! Limits and durability settings of a stream's store.

use std::time::Duration;

/// What a full stream does with a new message (JetStream `discard`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DiscardPolicy {
    /// Remove the oldest messages to make room (the default).
    #[default]
    Old,
    /// Refuse the new message.
    New,
}

/// The limits a store applies itself. Zero means unlimited for every count,
/// size and age, as JetStream's `-1`/`0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreLimits {
    /// Most messages kept (`max_msgs`).
    pub max_msgs: u64,
    /// Most bytes kept, counted with [`crate::stored_size`] (`max_bytes`).
    pub max_bytes: u64,
    /// Oldest message age in nanoseconds, enforced by `expire(now)` (`max_age`).
    pub max_age_nanos: i64,
    /// Most messages kept per subject (`max_msgs_per_subject`).
    pub max_msgs_per_subject: u64,
    /// Largest headers + payload in bytes (`max_msg_size`).
    pub max_msg_size: u64,
    /// Old: drop the oldest; new: refuse the publish.
    pub discard: DiscardPolicy,
    /// With `discard: new`, refuse a message whose subject is at
    /// `max_msgs_per_subject` instead of dropping that subject's oldest.
    pub discard_new_per_subject: bool,
}

/// When the [`crate::GroupCommitter`] makes appended records durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncPolicy {
    /// The caller syncs (`flush_and_sync`) before acknowledging; the
    /// [`crate::GroupCommitter`] does it once per batch. The default.
    #[default]
    Always,
    /// nats-server's lazy mode (`sync_interval`): records reach the OS on
    /// every batch but are fsynced only when this much time has passed since
    /// the last sync. A process kill loses nothing; a power cut may lose the
    /// interval.
    Interval(Duration),
}

/// Settings of one stream's store, given when it is created or opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// Limits applied on store and by `expire`.
    pub limits: StoreLimits,
    /// Sequence of the first message of a new, empty stream (`first_seq`).
    pub first_seq: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            limits: StoreLimits::default(),
            first_seq: 1,
        }
    }
}

/// Settings specific to the file store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStoreConfig {
    /// The stream's limits and first sequence.
    pub store: StoreConfig,
    /// A block is sealed and a new one started when it reaches this size.
    pub block_size: u64,
    /// Appended bytes buffered in memory before they are written to the OS.
    pub write_buffer: usize,
}

/// Default block size: 4 MiB, nats-server's size for work queues and KV
/// (`defaultKVBlockSize`); small enough that one drained block is little
/// wasted disk, large enough that a stream has few files.
pub const DEFAULT_BLOCK_SIZE: u64 = 4 * 1024 * 1024;

/// Default write buffer: 64 KiB, so a batch of small appends costs one
/// `write` system call, not one per message.
pub const DEFAULT_WRITE_BUFFER: usize = 64 * 1024;

impl Default for FileStoreConfig {
    fn default() -> Self {
        FileStoreConfig {
            store: StoreConfig::default(),
            block_size: DEFAULT_BLOCK_SIZE,
            write_buffer: DEFAULT_WRITE_BUFFER,
        }
    }
}
