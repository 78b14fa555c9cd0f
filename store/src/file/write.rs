//! The write path: records into the write buffer, buffer to the OS, one
//! sync for everything, block rotation, and rollback when a write fails.

use crate::error::StoreError;
use crate::record;
use crate::sync::PendingSync;

use super::block::{block_path, Block, Loc};
use super::FileStore;

impl FileStore {
    /// Append an encoded record of `len` bytes to the tail; returns where.
    fn append_record(
        &mut self,
        len: usize,
        encode: impl FnOnce(&mut Vec<u8>) -> u32,
    ) -> Result<Loc, StoreError> {
        let tail_len = self.blocks.get(&self.tail).map_or(0, |block| block.len);
        if tail_len > 0 && tail_len + len as u64 > self.config.block_size {
            self.new_block()?;
        }
        let offset = self.blocks.get(&self.tail).map_or(0, |block| block.len);
        let checksum = encode(&mut self.write_buf);
        if let Some(tail) = self.blocks.get_mut(&self.tail) {
            tail.len += len as u64;
            tail.last_record = Some((offset, checksum));
        }
        if self.write_buf.len() >= self.config.write_buffer {
            self.flush()?;
        }
        Ok(Loc {
            block: self.tail,
            offset: offset as u32,
            len: len as u32,
        })
    }

    /// Append a message record.
    pub(super) fn append_message(
        &mut self,
        seq: u64,
        subject: &str,
        headers: &[u8],
        payload: &[u8],
        ts: i64,
        ttl: i64,
    ) -> Result<Loc, StoreError> {
        let len = record::message_len(subject, headers, payload, ttl);
        self.append_record(len, |out| {
            record::encode_message(out, seq, ts, ttl, subject, headers, payload)
        })
    }

    /// Append a tombstone for `seq` (a message removed from the index).
    pub(super) fn append_tombstone(&mut self, seq: u64, ts: i64) -> Result<(), StoreError> {
        let loc = self.append_record(record::MIN_RECORD_LEN, |out| {
            record::encode_tombstone(out, seq, ts)
        })?;
        if let Some(block) = self.blocks.get_mut(&loc.block) {
            block.tombstones.insert(seq);
        }
        Ok(())
    }

    /// Append a marker: the last sequence is at least `seq`.
    pub(super) fn append_marker(&mut self, seq: u64, ts: i64) -> Result<(), StoreError> {
        self.append_record(record::MIN_RECORD_LEN, |out| {
            record::encode_marker(out, seq, ts)
        })?;
        Ok(())
    }

    /// Start a new tail block, beginning with a marker of the last sequence.
    pub(super) fn new_block(&mut self) -> Result<(), StoreError> {
        self.flush()?;
        let id = self.tail + 1;
        let file = match self.storage.open(&block_path(&self.msgs_dir, id), true) {
            Ok(file) => file,
            Err(error) => return Err(self.fail_write(error)),
        };
        self.forget_reads(Some(id));
        self.blocks.insert(id, Block::new(file));
        self.reclaim.insert(self.tail);
        self.tail = id;
        self.buffered_from = 0;
        self.dir_dirty = true;
        if self.index.last_seq() > 0 {
            self.append_marker(self.index.last_seq(), self.index.last_ts())?;
        }
        Ok(())
    }

    /// Hand buffered records to the OS, without rollback on failure.
    pub(super) fn write_buffered(&mut self) -> std::io::Result<()> {
        if self.write_buf.is_empty() {
            return Ok(());
        }
        let Some(tail) = self.blocks.get_mut(&self.tail) else {
            return Ok(());
        };
        tail.file.append(&self.write_buf)?;
        self.write_buf.clear();
        self.buffered_from = tail.len;
        self.unsynced.insert(self.tail);
        Ok(())
    }

    /// Hand buffered records to the OS (survives a process kill, not a
    /// power cut). Used by lazy sync between syncs.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        self.check_usable()?;
        match self.write_buffered() {
            Ok(()) => Ok(()),
            Err(error) => Err(self.fail_write(error)),
        }
    }

    /// Write everything buffered, `fdatasync` every block written since the
    /// last sync and the directory if files came or went. Returns the last
    /// sequence now durable. One call covers every append before it.
    pub fn flush_and_sync(&mut self) -> Result<u64, StoreError> {
        self.sync_all()?;
        self.reclaim_space();
        Ok(self.synced_seq)
    }

    pub(super) fn sync_all(&mut self) -> Result<(), StoreError> {
        self.flush()?;
        let unsynced: Vec<u32> = std::mem::take(&mut self.unsynced).into_iter().collect();
        for id in unsynced {
            let Some(block) = self.blocks.get_mut(&id) else {
                continue;
            };
            if let Err(error) = block.file.sync() {
                // After a failed fsync the kernel may have dropped the dirty
                // pages: nothing in memory can be trusted to match the disk.
                tracing::error!(%error, block = id, "file store: fdatasync failed; store poisoned");
                self.poisoned = true;
                return Err(StoreError::Io(error));
            }
        }
        if self.dir_dirty {
            if let Err(error) = self.storage.sync_dir(&self.msgs_dir) {
                tracing::error!(%error, "file store: directory sync failed; store poisoned");
                self.poisoned = true;
                return Err(StoreError::Io(error));
            }
            self.dir_dirty = false;
        }
        self.synced_seq = self.index.last_seq();
        Ok(())
    }

    /// Flush and hand out the syncs that make everything so far durable.
    pub(super) fn begin_sync_files(&mut self) -> Result<PendingSync, StoreError> {
        self.flush()?;
        let mut files = Vec::new();
        for id in std::mem::take(&mut self.unsynced) {
            let Some(block) = self.blocks.get(&id) else {
                continue;
            };
            match block.file.try_clone() {
                Ok(file) => files.push(file),
                Err(error) => {
                    self.unsynced.insert(id);
                    return Err(error.into());
                }
            }
        }
        let dir = std::mem::take(&mut self.dir_dirty)
            .then(|| (self.storage.clone(), self.msgs_dir.clone()));
        Ok(PendingSync::new(files, dir, self.index.last_seq()))
    }

    /// Take the outcome of a sync begun with `begin_sync_files`.
    pub(super) fn finish_sync_files(&mut self, outcome: &Result<u64, StoreError>) {
        match outcome {
            Ok(seq) => {
                self.synced_seq = self.synced_seq.max(*seq);
                self.reclaim_space();
            }
            Err(error) => {
                tracing::error!(%error, "file store: sync failed; store poisoned");
                self.poisoned = true;
            }
        }
    }

    /// A write failed (e.g. ENOSPC): cut the tail back to the bytes written
    /// before this buffer, rebuild the index from the files, and return the
    /// error. If even that fails the store is poisoned until reopened.
    pub(super) fn fail_write(&mut self, error: std::io::Error) -> StoreError {
        tracing::warn!(%error, dir = %self.dir.display(), "file store: write failed, rolling back to the last good record");
        self.write_buf.clear();
        self.forget_reads(None);
        let good_len = self.buffered_from;
        let cut = match self.blocks.get_mut(&self.tail) {
            Some(tail) => tail.file.set_len(good_len),
            None => Ok(()),
        };
        if let Err(cut_error) = cut {
            tracing::error!(%cut_error, "file store: cannot cut the torn tail; store poisoned");
            self.poisoned = true;
            return StoreError::Io(error);
        }
        self.blocks.clear();
        if let Err(reload_error) = self.load() {
            tracing::error!(%reload_error, "file store: reload after a failed write failed; store poisoned");
            self.poisoned = true;
        }
        StoreError::Io(error)
    }

    /// Remove `seq` from the index and write its tombstone.
    pub(super) fn remove_one(&mut self, seq: u64) -> Result<bool, StoreError> {
        let Some(entry) = self.index.remove(seq) else {
            return Ok(false);
        };
        if let Some(block) = self.blocks.get_mut(&entry.loc.block) {
            block.live = block.live.saturating_sub(1);
            block.live_bytes = block.live_bytes.saturating_sub(u64::from(entry.loc.len));
            block.dead.insert(seq);
        }
        self.reclaim.insert(entry.loc.block);
        self.append_tombstone(seq, entry.ts)?;
        Ok(true)
    }

    /// Remove many messages. A sealed block losing all its messages (and
    /// holding no tombstone still needed) is unlinked without tombstones.
    pub(super) fn remove_many(&mut self, seqs: &[u64]) -> Result<u64, StoreError> {
        let mut by_block: std::collections::BTreeMap<u32, Vec<u64>> =
            std::collections::BTreeMap::new();
        for seq in seqs {
            if let Some(entry) = self.index.get(*seq) {
                by_block.entry(entry.loc.block).or_default().push(*seq);
            }
        }
        let mut removed = 0;
        for (block_id, seqs) in by_block {
            let whole = block_id != self.tail
                && self
                    .blocks
                    .get(&block_id)
                    .is_some_and(|block| block.live == seqs.len() as u64)
                && !self.has_needed_tombstones(block_id);
            if whole {
                for seq in &seqs {
                    self.index.remove(*seq);
                }
                self.unlink_block(block_id)?;
                removed += seqs.len() as u64;
            } else {
                for seq in seqs {
                    removed += u64::from(self.remove_one(seq)?);
                }
            }
        }
        Ok(removed)
    }
}
