//! The index snapshot (`index.snap`): the whole in-memory index in one
//! checksummed file, so a restart reads it and scans only newer records.
//!
//! ```text
//! "STSNAP01"
//! last_seq (varint) last_ts (zigzag varint) first_seq (varint)
//! subjects: count, then each as length + UTF-8 bytes (position = id)
//! blocks: count, then per block:
//!   id, len, has_last (1 byte) [last_offset, last_crc (4 bytes LE)],
//!   dead: count + delta-coded seqs, tombstones: count + delta-coded seqs,
//!   entries: count + per entry seq delta, offset, len, size,
//!            ts delta (zigzag), subject id, ttl (zigzag)
//! CRC-32 of everything before it (4 bytes LE)
//! ```
//! Written only right after a full sync (on close, or on request), through
//! a temp file, fsync, rename and a directory fsync.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::error::StoreError;
use crate::storage::Storage;

use super::{FileStore, SNAPSHOT_FILE};

const MAGIC: &[u8; 8] = b"STSNAP01";

pub(super) struct SnapshotEntry {
    pub seq: u64,
    pub offset: u32,
    pub len: u32,
    pub size: u32,
    pub ts: i64,
    pub subject: u32,
    pub ttl: i64,
}

pub(super) struct SnapshotBlock {
    pub id: u32,
    pub len: u64,
    pub last_record: Option<(u64, u32)>,
    pub dead: BTreeSet<u64>,
    pub tombstones: BTreeSet<u64>,
    pub entries: Vec<SnapshotEntry>,
}

pub(super) struct Snapshot {
    pub last_seq: u64,
    pub last_ts: i64,
    pub first_seq: u64,
    pub subjects: Vec<String>,
    pub blocks: Vec<SnapshotBlock>,
}

fn put(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_signed(out: &mut Vec<u8>, value: i64) {
    put(out, ((value << 1) ^ (value >> 63)) as u64);
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn get(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.bytes.get(self.at).ok_or("snapshot ends early")?;
            self.at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("varint too long".into())
    }

    fn get_signed(&mut self) -> Result<i64, String> {
        let raw = self.get()?;
        Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
    }

    fn take(&mut self, len: usize) -> Result<&[u8], String> {
        let end = self
            .at
            .checked_add(len)
            .filter(|end| *end <= self.bytes.len())
            .ok_or("snapshot ends early")?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn seqs(&mut self) -> Result<BTreeSet<u64>, String> {
        let count = self.get()?;
        let mut seqs = BTreeSet::new();
        let mut previous = 0u64;
        for _ in 0..count {
            previous = previous.wrapping_add(self.get()?);
            seqs.insert(previous);
        }
        Ok(seqs)
    }
}

fn put_seqs(out: &mut Vec<u8>, seqs: &BTreeSet<u64>) {
    put(out, seqs.len() as u64);
    let mut previous = 0u64;
    for seq in seqs {
        put(out, seq - previous);
        previous = *seq;
    }
}

/// Read and check the snapshot. `Ok(None)`: there is none. `Err(reason)`:
/// there is one but it cannot be used.
pub(super) fn load(storage: &dyn Storage, dir: &Path) -> Result<Option<Snapshot>, Option<String>> {
    let bytes = match storage.read_all(&dir.join(SNAPSHOT_FILE)) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(Some(format!("cannot read snapshot: {error}"))),
    };
    decode(&bytes).map(Some).map_err(|reason| {
        tracing::warn!(%reason, "file store: index snapshot unusable; scanning all blocks");
        Some(reason)
    })
}

fn decode(bytes: &[u8]) -> Result<Snapshot, String> {
    if bytes.len() < MAGIC.len() + 4 || &bytes[..MAGIC.len()] != MAGIC {
        return Err("not a snapshot".into());
    }
    let (body, tail) = bytes.split_at(bytes.len() - 4);
    let mut stored = [0u8; 4];
    stored.copy_from_slice(tail);
    if crc32fast::hash(body) != u32::from_le_bytes(stored) {
        return Err("snapshot checksum mismatch".into());
    }
    let mut reader = Reader {
        bytes: body,
        at: MAGIC.len(),
    };
    let last_seq = reader.get()?;
    let last_ts = reader.get_signed()?;
    let first_seq = reader.get()?;
    let subject_count = reader.get()?;
    let mut subjects = Vec::new();
    for _ in 0..subject_count {
        let len = reader.get()? as usize;
        let raw = reader.take(len)?;
        subjects.push(String::from_utf8(raw.to_vec()).map_err(|_| "subject is not UTF-8")?);
    }
    let block_count = reader.get()?;
    let mut blocks = Vec::new();
    for _ in 0..block_count {
        let id = reader.get()? as u32;
        let len = reader.get()?;
        let has_last = reader.take(1)?[0] == 1;
        let last_record = if has_last {
            let offset = reader.get()?;
            let mut raw = [0u8; 4];
            raw.copy_from_slice(reader.take(4)?);
            Some((offset, u32::from_le_bytes(raw)))
        } else {
            None
        };
        let dead = reader.seqs()?;
        let tombstones = reader.seqs()?;
        let entry_count = reader.get()?;
        let mut entries = Vec::with_capacity(entry_count.min(1 << 24) as usize);
        let (mut seq, mut ts) = (0u64, 0i64);
        for _ in 0..entry_count {
            seq = seq.wrapping_add(reader.get()?);
            let offset = reader.get()? as u32;
            let len = reader.get()? as u32;
            let size = u32::try_from(reader.get()?).map_err(|_| "entry size out of range")?;
            ts = ts.wrapping_add(reader.get_signed()?);
            let subject = reader.get()? as u32;
            let ttl = reader.get_signed()?;
            entries.push(SnapshotEntry {
                seq,
                offset,
                len,
                size,
                ts,
                subject,
                ttl,
            });
        }
        blocks.push(SnapshotBlock {
            id,
            len,
            last_record,
            dead,
            tombstones,
            entries,
        });
    }
    Ok(Snapshot {
        last_seq,
        last_ts,
        first_seq,
        subjects,
        blocks,
    })
}

impl FileStore {
    /// Sync, then write the index snapshot so the next open scans only what
    /// comes after it. The broker may call this periodically; `close` does.
    pub fn write_snapshot(&mut self) -> Result<(), StoreError> {
        self.sync_all()?;
        let bytes = self.encode_snapshot();
        let path = self.dir.join(SNAPSHOT_FILE);
        let temp = self.dir.join(format!("{SNAPSHOT_FILE}.tmp"));
        let written = (|| -> std::io::Result<()> {
            let mut file = self.storage.open(&temp, true)?;
            file.set_len(0)?;
            file.append(&bytes)?;
            file.sync()?;
            self.storage.rename(&temp, &path)?;
            self.storage.sync_dir(&self.dir)
        })();
        if let Err(error) = written {
            let _ = self.storage.remove(&temp);
            return Err(error.into());
        }
        self.snapshot_on_disk = true;
        Ok(())
    }

    fn encode_snapshot(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.index.msgs.len() * 12);
        out.extend_from_slice(MAGIC);
        put(&mut out, self.index.last_seq());
        put_signed(&mut out, self.index.last_ts());
        put(&mut out, self.index.first_seq());
        let mut subject_ids: BTreeMap<u32, u32> = BTreeMap::new();
        let mut names: Vec<&str> = Vec::new();
        for entry in self.index.msgs.values() {
            subject_ids.entry(entry.subject).or_insert_with(|| {
                names.push(self.index.subject_name(entry.subject));
                (names.len() - 1) as u32
            });
        }
        put(&mut out, names.len() as u64);
        for name in &names {
            put(&mut out, name.len() as u64);
            out.extend_from_slice(name.as_bytes());
        }
        let mut per_block: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
        for (seq, entry) in self.index.msgs.iter() {
            per_block.entry(entry.loc.block).or_default().push(seq);
        }
        put(&mut out, self.blocks.len() as u64);
        for (id, block) in &self.blocks {
            put(&mut out, u64::from(*id));
            put(&mut out, block.len);
            match block.last_record {
                Some((offset, checksum)) => {
                    out.push(1);
                    put(&mut out, offset);
                    out.extend_from_slice(&checksum.to_le_bytes());
                }
                None => out.push(0),
            }
            put_seqs(&mut out, &block.dead);
            put_seqs(&mut out, &block.tombstones);
            let seqs = per_block.get(id).map(Vec::as_slice).unwrap_or(&[]);
            put(&mut out, seqs.len() as u64);
            let (mut previous_seq, mut previous_ts) = (0u64, 0i64);
            for seq in seqs {
                let Some(entry) = self.index.get(*seq) else {
                    continue;
                };
                put(&mut out, seq - previous_seq);
                put(&mut out, u64::from(entry.loc.offset));
                put(&mut out, u64::from(entry.loc.len));
                put(&mut out, u64::from(entry.size));
                put_signed(&mut out, entry.ts.wrapping_sub(previous_ts));
                put(
                    &mut out,
                    u64::from(subject_ids.get(&entry.subject).copied().unwrap_or(0)),
                );
                put_signed(&mut out, self.index.ttl(*seq));
                previous_seq = *seq;
                previous_ts = entry.ts;
            }
        }
        let checksum = crc32fast::hash(&out);
        out.extend_from_slice(&checksum.to_le_bytes());
        out
    }
}
