//! `MessageStore` for `FileStore`: the stream operations on top of the
//! write path, the index and the block files.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::config::StoreLimits;
use crate::error::StoreError;
use crate::index::{entry_size, normalize_ttl};
use crate::limits::{self, stored_size};
use crate::record::{self, Record};
use crate::store::MessageStore;
use crate::types::{FilteredState, StoredMsg, StreamState, SubjectState};

use super::block::Loc;
use super::read_cache::{MAX_CACHED_RECORD, SPAN_BYTES};
use super::FileStore;

impl FileStore {
    /// Read the record at `loc` (from the write buffer if not yet written).
    fn read_record(&self, loc: Loc) -> Result<Vec<u8>, StoreError> {
        self.with_record(loc, |bytes| Ok(bytes.to_vec()))
    }

    /// Run `use_record` on the bytes of the record at `loc`: from the write
    /// buffer if not yet written, else from the read cache, which reads a
    /// whole span of the block on a miss when the reads go forward.
    fn with_record<T>(
        &self,
        loc: Loc,
        use_record: impl FnOnce(&[u8]) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let offset = u64::from(loc.offset);
        let len = loc.len as usize;
        if self.is_buffered(loc) {
            let start = (offset - self.buffered_from) as usize;
            let bytes = self.write_buf.get(start..start + len).ok_or_else(|| {
                StoreError::Corrupt(format!("buffered record at {offset} missing"))
            })?;
            return use_record(bytes);
        }
        let block = self
            .blocks
            .get(&loc.block)
            .ok_or_else(|| StoreError::Corrupt(format!("block {} missing", loc.block)))?;
        // What of the block is in its file (the tail's rest is buffered).
        let in_file = if loc.block == self.tail {
            self.buffered_from
        } else {
            block.len
        };
        let end = offset + len as u64;
        let mut cache = self
            .read_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let sequential = cache.note_read(loc);
        if cache.record(loc).is_none() {
            if !sequential || len > MAX_CACHED_RECORD || end > in_file {
                drop(cache);
                let mut bytes = vec![0u8; len];
                block.file.read_at(offset, &mut bytes)?;
                return use_record(&bytes);
            }
            let span_end = in_file.min(offset + SPAN_BYTES as u64);
            let mut span = vec![0u8; (span_end - offset) as usize];
            block.file.read_at(offset, &mut span)?;
            cache.insert(loc.block, offset, span);
        }
        match cache.record(loc) {
            Some(bytes) => use_record(bytes),
            None => Err(StoreError::Corrupt(format!(
                "record at {offset} of block {} outside its span",
                loc.block
            ))),
        }
    }

    fn message(&self, seq: u64) -> Result<StoredMsg, StoreError> {
        let entry = self.index.get(seq).ok_or(StoreError::MsgNotFound)?;
        self.with_record(entry.loc, |bytes| {
            Self::decode_message(seq, entry.loc, bytes)
        })
    }

    /// The message `seq` from its record's bytes, checked.
    fn decode_message(seq: u64, loc: Loc, bytes: &[u8]) -> Result<StoredMsg, StoreError> {
        match record::decode_record(bytes) {
            Ok((
                Record::Message {
                    seq: found,
                    ts,
                    ttl,
                    subject,
                    headers,
                    payload,
                },
                _,
                _,
            )) if found == seq => Ok(StoredMsg {
                seq,
                subject: subject.to_string(),
                headers: Bytes::copy_from_slice(headers),
                payload: Bytes::copy_from_slice(payload),
                timestamp: ts,
                ttl_nanos: (ttl != 0).then_some(ttl),
            }),
            Ok(_) => Err(StoreError::Corrupt(format!(
                "record at seq {seq} has another sequence"
            ))),
            Err(error) => {
                tracing::error!(
                    seq,
                    block = loc.block,
                    ?error,
                    "file store: stored record failed its checksum"
                );
                Err(StoreError::Corrupt(format!("seq {seq}: {error:?}")))
            }
        }
    }

    /// [`MessageStore::scan_headers`]: the wanted records of each block
    /// are read with one `read_at` of the span they cover.
    fn scan_records(
        &self,
        start_seq: u64,
        min_ts: i64,
        visit: &mut dyn FnMut(u64, i64, &[u8]),
    ) -> Result<(), StoreError> {
        let mut wanted = self
            .index
            .msgs
            .range(start_seq..)
            .filter(|(_, entry)| entry.ts >= min_ts)
            .map(|(seq, entry)| (seq, entry.loc))
            .peekable();
        while let Some(&(_, first)) = wanted.peek() {
            // One block's run of wanted records (records are in write order).
            let mut run = Vec::new();
            while let Some(&(seq, loc)) = wanted.peek() {
                if loc.block != first.block {
                    break;
                }
                run.push((seq, loc));
                wanted.next();
            }
            let on_disk: Vec<&(u64, Loc)> = run
                .iter()
                .filter(|(_, loc)| !self.is_buffered(*loc))
                .collect();
            let start = on_disk.iter().map(|(_, loc)| u64::from(loc.offset)).min();
            let end = on_disk
                .iter()
                .map(|(_, loc)| u64::from(loc.offset) + u64::from(loc.len))
                .max();
            let mut span = Vec::new();
            if let (Some(start), Some(end)) = (start, end) {
                let block = self
                    .blocks
                    .get(&first.block)
                    .ok_or_else(|| StoreError::Corrupt(format!("block {} missing", first.block)))?;
                span = vec![0u8; (end - start) as usize];
                block.file.read_at(start, &mut span)?;
            }
            let base = start.unwrap_or(0);
            for (seq, loc) in run {
                let owned;
                let bytes: &[u8] = if self.is_buffered(loc) {
                    owned = self.read_record(loc)?;
                    &owned
                } else {
                    let at = (u64::from(loc.offset) - base) as usize;
                    span.get(at..at + loc.len as usize).ok_or_else(|| {
                        StoreError::Corrupt(format!("record of seq {seq} out of its block"))
                    })?
                };
                match record::decode_record(bytes) {
                    Ok((
                        Record::Message {
                            seq: found,
                            ts,
                            headers,
                            ..
                        },
                        _,
                        _,
                    )) if found == seq => visit(seq, ts, headers),
                    _ => return Err(StoreError::Corrupt(format!("seq {seq}: bad record"))),
                }
            }
        }
        Ok(())
    }

    /// Whether the record at `loc` is still in the write buffer.
    fn is_buffered(&self, loc: Loc) -> bool {
        loc.block == self.tail && u64::from(loc.offset) >= self.buffered_from
    }

    fn enforce(&mut self, subject: Option<&str>) -> Result<(), StoreError> {
        while let Some(seq) =
            limits::next_over_limit(&self.index, &self.config.store.limits, subject)
        {
            self.remove_one(seq)?;
        }
        Ok(())
    }
}

impl MessageStore for FileStore {
    fn store_msg(
        &mut self,
        subject: &str,
        headers: &[u8],
        payload: &[u8],
        timestamp: i64,
        ttl_nanos: Option<i64>,
    ) -> Result<u64, StoreError> {
        self.check_usable()?;
        limits::check_admission(
            &self.index,
            &self.config.store.limits,
            subject,
            headers,
            payload,
        )?;
        if subject.len() > usize::from(u16::MAX) || headers.len() > u32::MAX as usize {
            return Err(StoreError::MaxMsgSize);
        }
        let ttl = normalize_ttl(ttl_nanos);
        let record_len = record::message_len(subject, headers, payload, ttl);
        if record_len > record::MAX_RECORD_LEN {
            return Err(StoreError::MaxMsgSize);
        }
        let size = entry_size(stored_size(subject, headers, payload))?;
        let seq = self.index.last_seq() + 1;
        let loc = self.append_message(seq, subject, headers, payload, timestamp, ttl)?;
        self.index.insert(seq, subject, timestamp, size, ttl, loc);
        if let Some(block) = self.blocks.get_mut(&loc.block) {
            block.live += 1;
            block.live_bytes += u64::from(loc.len);
        }
        self.enforce(Some(subject))?;
        Ok(seq)
    }

    fn load_msg(&self, seq: u64) -> Result<StoredMsg, StoreError> {
        self.message(seq)
    }

    fn load_next_msg(&self, filter: &str, start_seq: u64) -> Result<StoredMsg, StoreError> {
        let seq = self
            .index
            .next_matching(filter, start_seq)
            .ok_or(StoreError::Eof)?;
        self.message(seq)
    }

    fn load_last_msg(&self, filter: &str) -> Result<StoredMsg, StoreError> {
        let seq = self
            .index
            .last_matching(filter)
            .ok_or(StoreError::MsgNotFound)?;
        self.message(seq)
    }

    fn remove_msg(&mut self, seq: u64) -> Result<bool, StoreError> {
        self.check_usable()?;
        self.remove_one(seq)
    }

    fn erase_msg(&mut self, seq: u64) -> Result<bool, StoreError> {
        self.check_usable()?;
        let Some(block) = self.index.get(seq).map(|entry| entry.loc.block) else {
            return Ok(false);
        };
        self.remove_one(seq)?;
        if block == self.tail {
            self.new_block()?;
        }
        self.sync_all()?;
        self.compact_block(block)?;
        Ok(true)
    }

    fn purge(&mut self) -> Result<u64, StoreError> {
        self.check_usable()?;
        self.purge_all()
    }

    fn purge_ex(&mut self, filter: &str, up_to_seq: u64, keep: u64) -> Result<u64, StoreError> {
        self.check_usable()?;
        let seqs = limits::purge_selection(&self.index, filter, up_to_seq, keep);
        if seqs.len() as u64 == self.index.len() && seqs.len() > 1 {
            return self.purge_all();
        }
        let removed = self.remove_many(&seqs)?;
        self.flush_and_sync()?;
        Ok(removed)
    }

    fn compact(&mut self, seq: u64) -> Result<u64, StoreError> {
        self.check_usable()?;
        limits::check_next_seq(seq)?;
        let seqs: Vec<u64> = self.index.msgs.range(..seq).map(|(seq, _)| seq).collect();
        let removed = self.remove_many(&seqs)?;
        if self.index.len() == 0 && seq > self.index.last_seq() + 1 {
            self.index.set_empty_floor(seq);
            self.append_marker(seq - 1, self.index.last_ts())?;
        }
        self.flush_and_sync()?;
        Ok(removed)
    }

    fn truncate(&mut self, seq: u64) -> Result<(), StoreError> {
        self.check_usable()?;
        if seq >= self.index.last_seq() {
            return Ok(());
        }
        self.truncate_to(seq)
    }

    fn skip_msgs(&mut self, next_seq: u64, timestamp: i64) -> Result<(), StoreError> {
        self.check_usable()?;
        limits::check_next_seq(next_seq)?;
        if next_seq > self.index.last_seq() + 1 {
            // The index first: a marker that starts a new block records the
            // raised last sequence too.
            self.index.note_seq(next_seq - 1, timestamp);
            self.append_marker(next_seq - 1, timestamp)?;
        }
        Ok(())
    }

    fn expire(&mut self, now: i64) -> Result<u64, StoreError> {
        self.check_usable()?;
        let seqs = self
            .index
            .expired(now, self.config.store.limits.max_age_nanos);
        self.remove_many(&seqs)
    }

    fn expiring(&self, now: i64) -> Vec<u64> {
        self.index
            .expired(now, self.config.store.limits.max_age_nanos)
    }

    fn next_expiry(&self) -> Option<i64> {
        self.index
            .next_expiry(self.config.store.limits.max_age_nanos)
    }

    fn update_limits(&mut self, limits: StoreLimits) -> Result<(), StoreError> {
        self.check_usable()?;
        self.config.store.limits = limits;
        let excess = limits::per_subject_excess(&self.index, &self.config.store.limits);
        self.remove_many(&excess)?;
        self.enforce(None)
    }

    fn state(&self) -> StreamState {
        self.index.state()
    }

    fn deleted(&self) -> Vec<u64> {
        self.index.deleted()
    }

    fn filtered_state(&self, filter: &str, start_seq: u64) -> FilteredState {
        self.index.filtered_state(filter, start_seq)
    }

    fn num_pending(&self, filter: &str, start_seq: u64, last_per_subject: bool) -> u64 {
        self.index.num_pending(filter, start_seq, last_per_subject)
    }

    fn subjects_state(&self, filter: &str) -> BTreeMap<String, SubjectState> {
        self.index.subjects_state(filter)
    }

    fn sync(&mut self) -> Result<u64, StoreError> {
        self.flush_and_sync()
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        FileStore::flush(self)
    }

    fn begin_sync(&mut self) -> Result<crate::sync::PendingSync, StoreError> {
        self.check_usable()?;
        self.begin_sync_files()
    }

    fn finish_sync(&mut self, outcome: &Result<u64, StoreError>) {
        self.finish_sync_files(outcome);
    }

    fn checkpoint(&mut self) -> Result<(), StoreError> {
        self.check_usable()?;
        self.write_snapshot()
    }

    fn scan_headers(
        &self,
        start_seq: u64,
        min_ts: i64,
        visit: &mut dyn FnMut(u64, i64, &[u8]),
    ) -> Result<(), StoreError> {
        self.scan_records(start_seq, min_ts, visit)
    }
}
