//! Rewriting blocks (compaction, truncation) through a temp file, and
//! purging everything by starting a fresh tail.

use std::collections::BTreeSet;

use crate::error::StoreError;
use crate::record::{self, Record};

use super::block::{block_path, Loc};
use super::{FileStore, SNAPSHOT_FILE};

/// The new content of a block and where its kept messages moved.
pub(super) struct RewritePlan {
    content: Vec<u8>,
    moved: Vec<(u64, Loc)>,
    tombstones: BTreeSet<u64>,
    last_record: Option<(u64, u32)>,
    dropped_any: bool,
}

impl FileStore {
    /// True when the index holds `seq` at this block and offset.
    pub(super) fn is_live_at(&self, seq: u64, block: u32, offset: u64) -> bool {
        self.index
            .get(seq)
            .is_some_and(|entry| entry.loc.block == block && u64::from(entry.loc.offset) == offset)
    }

    /// Decide block `id`'s new content, keeping the records `keep` accepts.
    pub(super) fn plan_rewrite(
        &self,
        id: u32,
        keep: impl Fn(&Record<'_>, u64) -> bool,
    ) -> Result<RewritePlan, StoreError> {
        let bytes = self.storage.read_all(&block_path(&self.msgs_dir, id))?;
        let mut plan = RewritePlan {
            content: Vec::new(),
            moved: Vec::new(),
            tombstones: BTreeSet::new(),
            last_record: None,
            dropped_any: false,
        };
        let mut offset = 0usize;
        while offset < bytes.len() {
            let (record, len, checksum) =
                record::decode_record(&bytes[offset..]).map_err(|error| {
                    StoreError::Corrupt(format!("block {id} at offset {offset}: {error:?}"))
                })?;
            if keep(&record, offset as u64) {
                let new_offset = plan.content.len();
                plan.content.extend_from_slice(&bytes[offset..offset + len]);
                plan.last_record = Some((new_offset as u64, checksum));
                match record {
                    Record::Message { seq, .. } => plan.moved.push((
                        seq,
                        Loc {
                            block: id,
                            offset: new_offset as u32,
                            len: len as u32,
                        },
                    )),
                    Record::Tombstone { seq, .. } => {
                        plan.tombstones.insert(seq);
                    }
                    Record::Marker { .. } => {}
                }
            } else {
                plan.dropped_any = true;
            }
            offset += len;
        }
        Ok(plan)
    }

    /// Remove the snapshot before any block it describes changes in place.
    fn invalidate_snapshot(&mut self) -> Result<(), StoreError> {
        if self.snapshot_on_disk {
            let path = self.dir.join(SNAPSHOT_FILE);
            match self.storage.remove(&path) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(error.into()),
            }
            self.storage.sync_dir(&self.dir)?;
            self.snapshot_on_disk = false;
        }
        Ok(())
    }

    /// Replace block `id` with the plan's content: temp file, fsync, rename,
    /// fsync the directory. A sealed block left empty is unlinked.
    pub(super) fn apply_rewrite(&mut self, id: u32, plan: RewritePlan) -> Result<(), StoreError> {
        if plan.content.is_empty() && id != self.tail {
            return self.unlink_block(id);
        }
        let path = block_path(&self.msgs_dir, id);
        let temp = path.with_extension("blk.tmp");
        let written = (|| -> std::io::Result<()> {
            let mut file = self.storage.open(&temp, true)?;
            file.set_len(0)?;
            file.append(&plan.content)?;
            file.sync()
        })();
        if let Err(error) = written {
            // Best effort: the old block is untouched; a leftover temp file
            // is ignored by recovery and overwritten next time.
            let _ = self.storage.remove(&temp);
            return Err(error.into());
        }
        self.invalidate_snapshot()?;
        self.storage.rename(&temp, &path)?;
        self.storage.sync_dir(&self.msgs_dir)?;
        self.forget_reads(Some(id));
        let file = self.storage.open(&path, false)?;
        let Some(block) = self.blocks.get_mut(&id) else {
            return Ok(());
        };
        block.file = file;
        block.len = plan.content.len() as u64;
        block.live = plan.moved.len() as u64;
        block.live_bytes = plan.moved.iter().map(|(_, loc)| u64::from(loc.len)).sum();
        block.dead.clear();
        block.tombstones = plan.tombstones;
        block.last_record = plan.last_record;
        self.unsynced.remove(&id);
        if id == self.tail {
            self.buffered_from = block.len;
        }
        for (seq, loc) in plan.moved {
            if let Some(entry) = self.index.msgs.get_mut(seq) {
                entry.loc = loc;
            }
        }
        Ok(())
    }

    /// Remove every message: a fresh tail (with a marker of the last
    /// sequence) and every other block unlinked. Durable on return.
    pub(super) fn purge_all(&mut self) -> Result<u64, StoreError> {
        let purged = self.index.len();
        self.index.clear();
        self.new_block()?;
        let old: Vec<u32> = self
            .blocks
            .keys()
            .copied()
            .filter(|id| *id != self.tail)
            .collect();
        for id in old {
            self.unlink_block(id)?;
        }
        self.sync_all()?;
        Ok(purged)
    }

    /// Drop every record above `seq` from every block (rare: a rewrite of
    /// each block holding such records or dead ones), then mark `seq` last.
    pub(super) fn truncate_to(&mut self, seq: u64) -> Result<(), StoreError> {
        self.flush()?;
        let doomed: Vec<u64> = self
            .index
            .msgs
            .range(seq + 1..)
            .map(|(seq, _)| seq)
            .collect();
        for doomed_seq in doomed {
            self.index.remove(doomed_seq);
        }
        let ts = self.index.get(seq).map_or(0, |entry| entry.ts);
        self.index.set_last(seq, ts);
        let ids: Vec<u32> = self.blocks.keys().copied().collect();
        for id in ids {
            let plan = self.plan_rewrite(id, |record, offset| match record {
                Record::Message { seq: at, .. } => *at <= seq && self.is_live_at(*at, id, offset),
                Record::Tombstone { seq: at, .. } => *at <= seq && self.is_dead_elsewhere(*at, id),
                Record::Marker { seq: at, .. } => *at <= seq,
            })?;
            if plan.dropped_any {
                self.apply_rewrite(id, plan)?;
            }
        }
        self.append_marker(seq, ts)?;
        self.sync_all()
    }
}
