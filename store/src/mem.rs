//! `MemStore`: the memory storage of a stream, and the model the file store
//! is property-tested against.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::config::{StoreConfig, StoreLimits};
use crate::error::StoreError;
use crate::index::{entry_size, normalize_ttl, Index};
use crate::limits::{self, stored_size};
use crate::store::MessageStore;
use crate::types::{FilteredState, StoredMsg, StreamState, SubjectState};

/// Headers and payload of a message held in memory: one buffer (one
/// allocation, one handle in the entry), the headers first.
#[derive(Debug, Clone)]
struct Body {
    bytes: Bytes,
    headers_len: u32,
}

impl Body {
    fn headers(&self) -> Bytes {
        self.bytes.slice(..self.headers_len as usize)
    }

    fn payload(&self) -> Bytes {
        self.bytes.slice(self.headers_len as usize..)
    }
}

/// A stream held in memory.
#[derive(Debug, Clone)]
pub struct MemStore {
    limits: StoreLimits,
    index: Index<Body>,
}

impl MemStore {
    /// An empty store.
    pub fn new(config: StoreConfig) -> Self {
        MemStore {
            limits: config.limits,
            index: Index::new(config.first_seq),
        }
    }

    fn message(&self, seq: u64) -> Option<StoredMsg> {
        let entry = self.index.get(seq)?;
        Some(StoredMsg {
            seq,
            subject: self.index.subject_name(entry.subject).to_string(),
            headers: entry.loc.headers(),
            payload: entry.loc.payload(),
            timestamp: entry.ts,
            ttl_nanos: Some(self.index.ttl(seq)).filter(|ttl| *ttl != 0),
        })
    }

    fn remove_all(&mut self, seqs: &[u64]) -> u64 {
        seqs.iter()
            .filter(|seq| self.index.remove(**seq).is_some())
            .count() as u64
    }

    fn enforce(&mut self, subject: Option<&str>) {
        while let Some(seq) = limits::next_over_limit(&self.index, &self.limits, subject) {
            self.index.remove(seq);
        }
    }
}

impl MessageStore for MemStore {
    fn store_msg(
        &mut self,
        subject: &str,
        headers: &[u8],
        payload: &[u8],
        timestamp: i64,
        ttl_nanos: Option<i64>,
    ) -> Result<u64, StoreError> {
        limits::check_admission(&self.index, &self.limits, subject, headers, payload)?;
        let size = entry_size(stored_size(subject, headers, payload))?;
        let headers_len = u32::try_from(headers.len()).map_err(|_| StoreError::MaxMsgSize)?;
        let seq = self.index.last_seq() + 1;
        let mut bytes = Vec::with_capacity(headers.len() + payload.len());
        bytes.extend_from_slice(headers);
        bytes.extend_from_slice(payload);
        let body = Body {
            bytes: Bytes::from(bytes),
            headers_len,
        };
        self.index.insert(
            seq,
            subject,
            timestamp,
            size,
            normalize_ttl(ttl_nanos),
            body,
        );
        self.enforce(Some(subject));
        Ok(seq)
    }

    fn load_msg(&self, seq: u64) -> Result<StoredMsg, StoreError> {
        self.message(seq).ok_or(StoreError::MsgNotFound)
    }

    fn load_next_msg(&self, filter: &str, start_seq: u64) -> Result<StoredMsg, StoreError> {
        let seq = self
            .index
            .next_matching(filter, start_seq)
            .ok_or(StoreError::Eof)?;
        self.load_msg(seq)
    }

    fn load_last_msg(&self, filter: &str) -> Result<StoredMsg, StoreError> {
        let seq = self
            .index
            .last_matching(filter)
            .ok_or(StoreError::MsgNotFound)?;
        self.load_msg(seq)
    }

    fn remove_msg(&mut self, seq: u64) -> Result<bool, StoreError> {
        Ok(self.index.remove(seq).is_some())
    }

    fn erase_msg(&mut self, seq: u64) -> Result<bool, StoreError> {
        self.remove_msg(seq)
    }

    fn purge(&mut self) -> Result<u64, StoreError> {
        let purged = self.index.len();
        self.index.clear();
        Ok(purged)
    }

    fn purge_ex(&mut self, filter: &str, up_to_seq: u64, keep: u64) -> Result<u64, StoreError> {
        let seqs = limits::purge_selection(&self.index, filter, up_to_seq, keep);
        Ok(self.remove_all(&seqs))
    }

    fn compact(&mut self, seq: u64) -> Result<u64, StoreError> {
        limits::check_next_seq(seq)?;
        let seqs: Vec<u64> = self.index.msgs.range(..seq).map(|(seq, _)| seq).collect();
        let removed = self.remove_all(&seqs);
        self.index.set_empty_floor(seq);
        Ok(removed)
    }

    fn truncate(&mut self, seq: u64) -> Result<(), StoreError> {
        if seq >= self.index.last_seq() {
            return Ok(());
        }
        let seqs: Vec<u64> = self
            .index
            .msgs
            .range(seq + 1..)
            .map(|(seq, _)| seq)
            .collect();
        self.remove_all(&seqs);
        let ts = self.index.get(seq).map_or(0, |entry| entry.ts);
        self.index.set_last(seq, ts);
        Ok(())
    }

    fn skip_msgs(&mut self, next_seq: u64, timestamp: i64) -> Result<(), StoreError> {
        limits::check_next_seq(next_seq)?;
        if next_seq > self.index.last_seq() + 1 {
            self.index.note_seq(next_seq - 1, timestamp);
        }
        Ok(())
    }

    fn expire(&mut self, now: i64) -> Result<u64, StoreError> {
        let seqs = self.index.expired(now, self.limits.max_age_nanos);
        Ok(self.remove_all(&seqs))
    }

    fn expiring(&self, now: i64) -> Vec<u64> {
        self.index.expired(now, self.limits.max_age_nanos)
    }

    fn next_expiry(&self) -> Option<i64> {
        self.index.next_expiry(self.limits.max_age_nanos)
    }

    fn update_limits(&mut self, limits: StoreLimits) -> Result<(), StoreError> {
        self.limits = limits;
        let excess = limits::per_subject_excess(&self.index, &self.limits);
        self.remove_all(&excess);
        self.enforce(None);
        Ok(())
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
        Ok(self.index.last_seq())
    }
}
