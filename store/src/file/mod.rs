//! `FileStore`: a stream kept in `msgs/<n>.blk` segment files with an
//! in-memory index, tombstones, compaction and an index snapshot.
//!
//! Invariants the code relies on (see the crate doc for the format):
//! - Records are in write order across blocks (block id, then offset);
//!   compaction keeps that order, so a tombstone always follows the record
//!   it removes and recovery applies it to earlier records only.
//! - The tail block always holds a message or marker record at the last
//!   sequence, so sealed blocks never need markers and can drop them.
//! - A tombstone is kept while its target record still exists somewhere.

mod api;
mod block;
mod read_cache;
mod reclaim;
mod recovery;
mod rewrite;
mod snapshot;
mod write;

pub use recovery::{BlockDamage, RecoveryReport};

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::config::FileStoreConfig;
use crate::error::StoreError;
use crate::index::Index;
use crate::storage::{OsStorage, Storage};
use block::{Block, Loc};
use read_cache::ReadCache;

/// Name of the index snapshot file in the stream directory.
pub const SNAPSHOT_FILE: &str = "index.snap";
/// Name of the directory holding the block files.
pub const MSGS_DIR: &str = "msgs";

/// A stream stored in files. Not thread-safe by itself: one writer owns it
/// (the broker's per-stream writer thread, or a [`crate::GroupCommitter`]).
pub struct FileStore {
    storage: Arc<dyn Storage>,
    dir: PathBuf,
    msgs_dir: PathBuf,
    config: FileStoreConfig,
    index: Index<Loc>,
    blocks: BTreeMap<u32, Block>,
    /// Id of the block appended to.
    tail: u32,
    /// Encoded records not yet handed to the OS; they belong at the end of
    /// the tail block, from offset `buffered_from`.
    write_buf: Vec<u8>,
    buffered_from: u64,
    /// Blocks written since the last sync.
    unsynced: BTreeSet<u32>,
    /// Block files were created or removed since the last directory sync.
    dir_dirty: bool,
    synced_seq: u64,
    /// Blocks that lost records and may be compacted or removed.
    reclaim: BTreeSet<u32>,
    poisoned: bool,
    report: RecoveryReport,
    /// An index snapshot file exists (it must go before a block is rewritten).
    snapshot_on_disk: bool,
    /// Spans of block files recently read (readers borrow the store shared).
    read_cache: Mutex<ReadCache>,
}

impl FileStore {
    /// Open (or create) the store in `dir` on the real file system.
    pub fn open(dir: impl AsRef<Path>, config: FileStoreConfig) -> Result<Self, StoreError> {
        Self::open_with(Arc::new(OsStorage), dir, config)
    }

    /// Open (or create) the store in `dir` on `storage`.
    pub fn open_with(
        storage: Arc<dyn Storage>,
        dir: impl AsRef<Path>,
        config: FileStoreConfig,
    ) -> Result<Self, StoreError> {
        crate::limits::check_next_seq(config.store.first_seq)?;
        let dir = dir.as_ref().to_path_buf();
        let msgs_dir = dir.join(MSGS_DIR);
        storage.create_dir_all(&msgs_dir)?;
        let mut store = FileStore {
            storage,
            dir,
            msgs_dir,
            index: Index::new(config.store.first_seq),
            config,
            blocks: BTreeMap::new(),
            tail: 0,
            write_buf: Vec::new(),
            buffered_from: 0,
            unsynced: BTreeSet::new(),
            dir_dirty: false,
            synced_seq: 0,
            reclaim: BTreeSet::new(),
            poisoned: false,
            report: RecoveryReport::default(),
            snapshot_on_disk: false,
            read_cache: Mutex::new(ReadCache::default()),
        };
        store.load()?;
        Ok(store)
    }

    /// Rebuild the index and block table from the files (open, and after a
    /// failed write, so memory matches exactly what is on disk).
    fn load(&mut self) -> Result<(), StoreError> {
        let recovered = recovery::recover(
            self.storage.as_ref(),
            &self.dir,
            &self.msgs_dir,
            self.config.store.first_seq,
        )?;
        self.index = recovered.index;
        self.blocks = recovered.blocks;
        self.forget_reads(None);
        self.report = recovered.report;
        self.snapshot_on_disk = recovered.snapshot_on_disk;
        self.write_buf.clear();
        self.unsynced.clear();
        self.reclaim = self.blocks.keys().copied().collect();
        self.synced_seq = self.index.last_seq();
        match self.blocks.keys().next_back().copied() {
            Some(tail) => {
                self.tail = tail;
                self.buffered_from = self.blocks.get(&tail).map_or(0, |block| block.len);
                self.reclaim.remove(&tail);
            }
            None => {
                self.tail = 0;
                self.new_block()?;
                self.sync_all()?;
            }
        }
        Ok(())
    }

    /// What recovery found when the store was opened.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.report
    }

    /// The last sequence known durable.
    pub fn synced_seq(&self) -> u64 {
        self.synced_seq
    }

    /// Number of block files.
    pub fn block_count(&self) -> usize {
        self.blocks.len()
    }

    /// Bytes in all block files (including buffered appends).
    pub fn disk_bytes(&self) -> u64 {
        self.blocks.values().map(|block| block.len).sum()
    }

    /// Sync, write the index snapshot and close.
    pub fn close(mut self) -> Result<(), StoreError> {
        self.sync_all()?;
        self.write_snapshot()
    }

    /// Drop the cached reads of block `id` (every block: `None`) before its
    /// file changes other than by an append.
    fn forget_reads(&mut self, id: Option<u32>) {
        let cache = self
            .read_cache
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match id {
            Some(id) => cache.forget(id),
            None => cache.clear(),
        }
    }

    fn check_usable(&self) -> Result<(), StoreError> {
        if self.poisoned {
            return Err(StoreError::Poisoned);
        }
        Ok(())
    }
}

impl Drop for FileStore {
    fn drop(&mut self) {
        // Best effort: hand buffered records to the OS so a clean drop (not
        // a crash) loses nothing a process kill would not lose anyway.
        if !self.poisoned {
            if let Err(error) = self.write_buffered() {
                tracing::warn!(%error, dir = %self.dir.display(), "file store: flush on drop failed");
            }
        }
    }
}
