//! Giving disk back: unlinking blocks with nothing left in them, compacting
//! sparse ones, and rotating away a drained tail.

use crate::error::StoreError;
use crate::record::Record;

use super::block::block_path;
use super::FileStore;

impl FileStore {
    /// True when some tombstone in block `id` still hides a record that
    /// exists in another block.
    pub(super) fn has_needed_tombstones(&self, id: u32) -> bool {
        let Some(block) = self.blocks.get(&id) else {
            return false;
        };
        block
            .tombstones
            .iter()
            .any(|seq| self.is_dead_elsewhere(*seq, id))
    }

    /// True when a removed record `seq` still exists in a block other than `id`.
    pub(super) fn is_dead_elsewhere(&self, seq: u64, id: u32) -> bool {
        self.blocks
            .iter()
            .any(|(other, block)| *other != id && block.dead.contains(&seq))
    }

    /// Remove block `id`'s file.
    pub(super) fn unlink_block(&mut self, id: u32) -> Result<(), StoreError> {
        if self.blocks.remove(&id).is_none() {
            return Ok(());
        }
        self.forget_reads(Some(id));
        self.unsynced.remove(&id);
        self.reclaim.remove(&id);
        self.dir_dirty = true;
        self.storage.remove(&block_path(&self.msgs_dir, id))?;
        // Tombstones elsewhere that hid this block's records are free now.
        let empty: Vec<u32> = self
            .blocks
            .iter()
            .filter(|(_, b)| b.live == 0)
            .map(|(id, _)| *id)
            .collect();
        self.reclaim.extend(empty);
        Ok(())
    }

    /// Work through the blocks that lost records: unlink empty ones, compact
    /// those less than half live, rotate away a drained tail of at least a
    /// quarter block. Best effort: a failure is logged and retried later.
    pub(super) fn reclaim_space(&mut self) {
        let mut rounds = 0;
        while let Some(id) = self.reclaim.pop_first() {
            rounds += 1;
            if rounds > 10_000 {
                break;
            }
            if let Err(error) = self.reclaim_block(id) {
                tracing::warn!(%error, block = id, "file store: reclaiming a block failed; will retry");
                self.reclaim.insert(id);
                break;
            }
        }
    }

    fn reclaim_block(&mut self, id: u32) -> Result<(), StoreError> {
        let Some(block) = self.blocks.get(&id) else {
            return Ok(());
        };
        let (live, live_bytes, len) = (block.live, block.live_bytes, block.len);
        if id == self.tail {
            let drained = live == 0 && len >= self.config.block_size / 4;
            if drained {
                self.new_block()?;
                self.sync_all()?;
                self.reclaim.insert(id);
            }
            return Ok(());
        }
        if live == 0 && !self.has_needed_tombstones(id) {
            return self.unlink_block(id);
        }
        let tombstone_bytes = block.tombstones.len() as u64 * crate::record::MIN_RECORD_LEN as u64;
        if (live_bytes + tombstone_bytes) * 2 < len {
            self.compact_block(id)?;
        }
        Ok(())
    }

    /// Rewrite sealed block `id` with only its held messages and needed
    /// tombstones.
    pub(super) fn compact_block(&mut self, id: u32) -> Result<(), StoreError> {
        let needed: std::collections::BTreeSet<u64> = match self.blocks.get(&id) {
            Some(block) => block
                .tombstones
                .iter()
                .copied()
                .filter(|seq| self.is_dead_elsewhere(*seq, id))
                .collect(),
            None => return Ok(()),
        };
        let plan = self.plan_rewrite(id, |record, offset| match record {
            Record::Message { seq, .. } => self.is_live_at(*seq, id, offset),
            Record::Tombstone { seq, .. } => needed.contains(seq),
            Record::Marker { .. } => false,
        })?;
        self.apply_rewrite(id, plan)
    }
}
