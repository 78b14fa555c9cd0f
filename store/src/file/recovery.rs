//! Opening a store: load the snapshot if it still matches the blocks, scan
//! what it does not cover, cut torn tails, and report damage.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::StoreError;
use crate::index::{entry_size, normalize_ttl, Entry, Index};
use crate::limits::stored_size;
use crate::record::{self, Record, RecordError};
use crate::storage::Storage;

use super::block::{block_path, parse_block_name, Block, Loc};
use super::snapshot::{self, Snapshot};

/// Damage found in a block before the tail: its records from `offset` on
/// were lost (the block was cut there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockDamage {
    /// Block id.
    pub block: u32,
    /// Offset of the first bad record.
    pub offset: u64,
    /// Bytes dropped from that offset to the end of the block.
    pub dropped_bytes: u64,
    /// What was wrong.
    pub reason: String,
}

/// What opening the store found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The index snapshot was used (only newer data was scanned).
    pub used_snapshot: bool,
    /// Why a snapshot on disk was not used, if one was there.
    pub snapshot_rejected: Option<String>,
    /// Blocks read record by record (fully or from the snapshot's end).
    pub blocks_scanned: usize,
    /// Records decoded while scanning.
    pub records_scanned: u64,
    /// A torn or corrupt tail record was dropped: (block, offset, bytes).
    pub torn_tail: Option<(u32, u64, u64)>,
    /// Damage before the tail; each entry lost records and says so.
    pub damaged: Vec<BlockDamage>,
}

pub(super) struct Recovered {
    pub index: Index<Loc>,
    pub blocks: BTreeMap<u32, Block>,
    pub report: RecoveryReport,
    pub snapshot_on_disk: bool,
}

struct Scan<'a> {
    storage: &'a dyn Storage,
    msgs_dir: &'a Path,
    index: Index<Loc>,
    blocks: BTreeMap<u32, Block>,
    report: RecoveryReport,
}

pub(super) fn recover(
    storage: &dyn Storage,
    dir: &Path,
    msgs_dir: &Path,
    first_seq: u64,
) -> Result<Recovered, StoreError> {
    let mut ids = Vec::new();
    for name in storage.list(msgs_dir)? {
        match parse_block_name(&name) {
            Some(id) => ids.push(id),
            None if name.ends_with(".tmp") => {
                // An interrupted compaction; the block it would replace is intact.
                let _ = storage.remove(&msgs_dir.join(&name));
            }
            None => tracing::warn!(file = %name, "file store: ignoring unknown file in msgs/"),
        }
    }
    ids.sort_unstable();
    let mut scan = Scan {
        storage,
        msgs_dir,
        index: Index::new(first_seq),
        blocks: BTreeMap::new(),
        report: RecoveryReport::default(),
    };
    let (snapshot, mut snapshot_on_disk) = match snapshot::load(storage, dir) {
        Ok(found) => {
            let exists = found.is_some();
            (found, exists)
        }
        Err(reason) => {
            scan.report.snapshot_rejected = reason;
            discard_snapshot(storage, dir);
            (None, false)
        }
    };
    let last_id = ids.last().copied();
    let mut from_snapshot: BTreeMap<u32, u64> = BTreeMap::new();
    if let Some(snapshot) = snapshot {
        match scan.adopt(snapshot, &ids) {
            Ok(covered) => {
                from_snapshot = covered;
                scan.report.used_snapshot = true;
            }
            Err(reason) => {
                tracing::info!(%reason, "file store: index snapshot does not match the blocks; scanning all");
                scan.report.snapshot_rejected = Some(reason);
                scan.index = Index::new(first_seq);
                scan.blocks.clear();
                discard_snapshot(storage, dir);
                snapshot_on_disk = false;
            }
        }
    }
    for id in ids {
        let start = from_snapshot.get(&id).copied().unwrap_or(0);
        scan.scan_block(id, start, Some(id) == last_id)?;
    }
    Ok(Recovered {
        index: scan.index,
        blocks: scan.blocks,
        report: scan.report,
        snapshot_on_disk,
    })
}

/// Remove a snapshot that cannot be used, so it can never be mistaken for
/// a current one later. Best effort: a leftover one is rejected again.
fn discard_snapshot(storage: &dyn Storage, dir: &Path) {
    if let Err(error) = storage.remove(&dir.join(super::SNAPSHOT_FILE)) {
        tracing::warn!(%error, "file store: cannot remove an unusable index snapshot");
    }
}

impl Scan<'_> {
    /// Take the snapshot's state if every block it names that still exists
    /// is at least as long and ends with the same record. Returns the
    /// offset up to which each block is covered.
    fn adopt(&mut self, snapshot: Snapshot, ids: &[u32]) -> Result<BTreeMap<u32, u64>, String> {
        if snapshot.last_seq > record::MAX_SEQ || snapshot.first_seq > record::MAX_SEQ + 1 {
            return Err("snapshot sequence past the record format's limit".into());
        }
        let snapshot_ids: std::collections::BTreeSet<u32> =
            snapshot.blocks.iter().map(|b| b.id).collect();
        let newest = snapshot_ids.iter().next_back().copied().unwrap_or(0);
        if let Some(unknown) = ids
            .iter()
            .find(|id| **id <= newest && !snapshot_ids.contains(id))
        {
            return Err(format!("block {unknown} is not in the snapshot"));
        }
        let mut covered = BTreeMap::new();
        self.index = Index::new(snapshot.first_seq);
        self.index.set_last(snapshot.last_seq, snapshot.last_ts);
        let mut interned: Vec<Option<u32>> = vec![None; snapshot.subjects.len()];
        let mut loaded = Vec::new();
        for saved in snapshot.blocks {
            if !ids.contains(&saved.id) {
                // Removed after the snapshot: every record in it was dead.
                continue;
            }
            let path = block_path(self.msgs_dir, saved.id);
            let file = self
                .storage
                .open(&path, false)
                .map_err(|e| format!("block {}: {e}", saved.id))?;
            let len = file
                .size()
                .map_err(|e| format!("block {}: {e}", saved.id))?;
            if len < saved.len {
                return Err(format!(
                    "block {} is shorter than in the snapshot",
                    saved.id
                ));
            }
            if let Some((offset, checksum)) = saved.last_record {
                let mut head = [0u8; 4];
                file.read_at(offset, &mut head)
                    .map_err(|e| format!("block {}: {e}", saved.id))?;
                let record_len = u32::from_le_bytes(head) as usize;
                if !(record::MIN_RECORD_LEN..=record::MAX_RECORD_LEN).contains(&record_len) {
                    return Err(format!("block {} last record length changed", saved.id));
                }
                let mut bytes = vec![0u8; record_len];
                file.read_at(offset, &mut bytes)
                    .map_err(|e| format!("block {}: {e}", saved.id))?;
                match record::decode_record(&bytes) {
                    Ok((_, _, found)) if found == checksum => {}
                    _ => {
                        return Err(format!(
                            "block {} last record differs from the snapshot",
                            saved.id
                        ))
                    }
                }
            }
            let mut block = Block::new(file);
            block.len = saved.len;
            block.dead = saved.dead;
            block.tombstones = saved.tombstones;
            block.last_record = saved.last_record;
            for entry in saved.entries {
                // The index keeps every message inside first..=last (state,
                // `deleted` and the next sequence rely on it).
                if entry.seq == 0 || entry.seq > snapshot.last_seq {
                    return Err(format!(
                        "snapshot entry {} is past its last sequence {}",
                        entry.seq, snapshot.last_seq
                    ));
                }
                let Some(subject) = snapshot.subjects.get(entry.subject as usize) else {
                    return Err(format!(
                        "snapshot entry {} names an unknown subject",
                        entry.seq
                    ));
                };
                // Intern each subject once; nothing is removed while loading,
                // so an id stays valid.
                let id = match interned[entry.subject as usize] {
                    Some(id) => id,
                    None => {
                        let id = self.index.subjects.intern(subject);
                        interned[entry.subject as usize] = Some(id);
                        id
                    }
                };
                block.live += 1;
                block.live_bytes += u64::from(entry.len);
                let loc = Loc {
                    block: saved.id,
                    offset: entry.offset,
                    len: entry.len,
                };
                loaded.push((
                    entry.seq,
                    Entry {
                        subject: id,
                        ts: entry.ts,
                        size: entry.size,
                        loc,
                    },
                    entry.ttl,
                ));
            }
            covered.insert(saved.id, saved.len);
            self.blocks.insert(saved.id, block);
        }
        if !self.index.bulk_insert(loaded) {
            return Err("snapshot lists a sequence twice".into());
        }
        self.index.set_last(snapshot.last_seq, snapshot.last_ts);
        Ok(covered)
    }

    /// Read block `id` from `start`, applying every record; cut the block at
    /// the first bad record.
    fn scan_block(&mut self, id: u32, start: u64, is_tail: bool) -> Result<(), StoreError> {
        let path = block_path(self.msgs_dir, id);
        let bytes = self.storage.read_all(&path)?;
        if !self.blocks.contains_key(&id) {
            let file = self.storage.open(&path, false)?;
            self.blocks.insert(id, Block::new(file));
        }
        if start as usize >= bytes.len() {
            return Ok(());
        }
        self.report.blocks_scanned += 1;
        let mut offset = start as usize;
        while offset < bytes.len() {
            match record::decode_record(&bytes[offset..]) {
                Ok((record, len, checksum)) => {
                    self.apply(id, &record, offset as u64, len, checksum);
                    self.report.records_scanned += 1;
                    offset += len;
                }
                Err(error) => {
                    self.cut(id, offset as u64, bytes.len() as u64, is_tail, &error)?;
                    break;
                }
            }
        }
        Ok(())
    }

    fn cut(
        &mut self,
        id: u32,
        offset: u64,
        len: u64,
        is_tail: bool,
        error: &RecordError,
    ) -> Result<(), StoreError> {
        let dropped = len - offset;
        if is_tail {
            tracing::warn!(
                block = id,
                offset,
                dropped,
                ?error,
                "file store: dropped a torn or corrupt tail record"
            );
            self.report.torn_tail = Some((id, offset, dropped));
        } else {
            tracing::error!(
                block = id,
                offset,
                dropped,
                ?error,
                "file store: corrupt block; its records from this offset are lost"
            );
            self.report.damaged.push(BlockDamage {
                block: id,
                offset,
                dropped_bytes: dropped,
                reason: format!("{error:?}"),
            });
        }
        if let Some(block) = self.blocks.get_mut(&id) {
            block.file.set_len(offset)?;
            block.file.sync()?;
            block.len = offset;
        }
        Ok(())
    }

    fn apply(&mut self, id: u32, record: &Record<'_>, offset: u64, len: usize, checksum: u32) {
        if let Some(block) = self.blocks.get_mut(&id) {
            block.len = offset + len as u64;
            block.last_record = Some((offset, checksum));
        }
        match *record {
            Record::Message {
                seq,
                ts,
                ttl,
                subject,
                headers,
                payload,
            } => {
                self.drop_entry(seq);
                let loc = Loc {
                    block: id,
                    offset: offset as u32,
                    len: len as u32,
                };
                // A decoded record is at most MAX_RECORD_LEN (64 MiB), so
                // its size always fits and this never saturates.
                let size = entry_size(stored_size(subject, headers, payload)).unwrap_or(u32::MAX);
                self.index
                    .insert(seq, subject, ts, size, normalize_ttl(Some(ttl)), loc);
                if let Some(block) = self.blocks.get_mut(&id) {
                    block.live += 1;
                    block.live_bytes += len as u64;
                }
            }
            Record::Tombstone { seq, .. } => {
                if let Some(block) = self.blocks.get_mut(&id) {
                    block.tombstones.insert(seq);
                }
                self.drop_entry(seq);
            }
            // A marker at the last sequence carries its timestamp (0 after
            // a truncation to a removed message), whatever records before
            // it said.
            Record::Marker { seq, ts } if seq == self.index.last_seq() => {
                self.index.set_last(seq, ts);
            }
            Record::Marker { seq, ts } => self.index.note_seq(seq, ts),
        }
    }

    /// Remove `seq` from the index, counting its record dead in its block.
    fn drop_entry(&mut self, seq: u64) {
        if let Some(entry) = self.index.remove(seq) {
            if let Some(block) = self.blocks.get_mut(&entry.loc.block) {
                block.live = block.live.saturating_sub(1);
                block.live_bytes = block.live_bytes.saturating_sub(u64::from(entry.loc.len));
                block.dead.insert(seq);
            }
        }
    }
}
