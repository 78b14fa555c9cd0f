//! The `MessageStore` trait: what a JetStream stream needs from its storage.

use std::collections::BTreeMap;

use crate::config::StoreLimits;
use crate::error::StoreError;
use crate::sync::PendingSync;
use crate::types::{FilteredState, StoredMsg, StreamState, SubjectState};

/// A stream's message store. Synchronous; time is always an argument.
///
/// Filters are NATS subjects with `*` and `>` wildcards; an empty filter or
/// `>` matches every subject.
pub trait MessageStore {
    /// Store a message, apply the limits, and return its sequence.
    /// `timestamp` is nanoseconds since the Unix epoch; `ttl_nanos` is the
    /// message's own time to live (`Nats-TTL`), enforced by `expire`; a
    /// negative TTL is "never": the message outlives `max_age` too.
    fn store_msg(
        &mut self,
        subject: &str,
        headers: &[u8],
        payload: &[u8],
        timestamp: i64,
        ttl_nanos: Option<i64>,
    ) -> Result<u64, StoreError>;

    /// The message at `seq` (`MsgNotFound` if not held).
    fn load_msg(&self, seq: u64) -> Result<StoredMsg, StoreError>;

    /// The first message at or after `start_seq` whose subject matches
    /// `filter` (`Eof` if none).
    fn load_next_msg(&self, filter: &str, start_seq: u64) -> Result<StoredMsg, StoreError>;

    /// The newest message whose subject matches `filter` (`MsgNotFound` if none).
    fn load_last_msg(&self, filter: &str) -> Result<StoredMsg, StoreError>;

    /// Remove one message; false if it was not held.
    fn remove_msg(&mut self, seq: u64) -> Result<bool, StoreError>;

    /// Remove one message and make sure its bytes are gone from storage too.
    fn erase_msg(&mut self, seq: u64) -> Result<bool, StoreError>;

    /// Remove every message; returns how many. Sequences continue.
    fn purge(&mut self) -> Result<u64, StoreError>;

    /// Remove messages matching `filter` (empty = all): those with sequence
    /// below `up_to_seq` when it is non-zero, otherwise all but the newest
    /// `keep` matching ones (`keep` 0 = none kept). Returns how many.
    fn purge_ex(&mut self, filter: &str, up_to_seq: u64, keep: u64) -> Result<u64, StoreError>;

    /// Remove every message below `seq`; if `seq` is past the end, the
    /// stream continues at `seq`. Returns how many were removed.
    fn compact(&mut self, seq: u64) -> Result<u64, StoreError>;

    /// Remove every message above `seq` and make `seq` the last sequence.
    fn truncate(&mut self, seq: u64) -> Result<(), StoreError>;

    /// Make the next message get `next_seq` (when it is past the end),
    /// keeping what is stored: the sequences skipped count as deleted. A
    /// mirror keeps its origin's sequence numbers this way. `timestamp`
    /// becomes the last timestamp.
    fn skip_msgs(&mut self, next_seq: u64, timestamp: i64) -> Result<(), StoreError>;

    /// Remove messages older than `max_age` or past their TTL at `now`
    /// (nanoseconds since the epoch). Returns how many.
    fn expire(&mut self, now: i64) -> Result<u64, StoreError>;

    /// The sequences `expire(now)` would remove, ascending (the stream
    /// removes them itself when it must place subject delete markers).
    fn expiring(&self, now: i64) -> Vec<u64>;

    /// When `expire` next has work to do, if ever.
    fn next_expiry(&self) -> Option<i64>;

    /// Replace the limits and apply them at once.
    fn update_limits(&mut self, limits: StoreLimits) -> Result<(), StoreError>;

    /// The stream-wide state.
    fn state(&self) -> StreamState;

    /// Sequences between first and last that are not held, in order.
    fn deleted(&self) -> Vec<u64>;

    /// Messages matching `filter` at or after `start_seq`.
    fn filtered_state(&self, filter: &str, start_seq: u64) -> FilteredState;

    /// Messages a consumer starting at `start_seq` with this filter has yet
    /// to see; with `last_per_subject`, only each subject's newest counts.
    fn num_pending(&self, filter: &str, start_seq: u64, last_per_subject: bool) -> u64;

    /// Per-subject counts of the subjects matching `filter`.
    fn subjects_state(&self, filter: &str) -> BTreeMap<String, SubjectState>;

    /// Make everything stored so far durable; returns the last sequence
    /// that is now durable. A memory store returns its last sequence.
    fn sync(&mut self) -> Result<u64, StoreError>;

    /// Hand buffered writes to the OS without waiting for the disk (lazy
    /// sync between syncs). A memory store has nothing to do.
    fn flush(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Write everything buffered and return the syncs that make it durable,
    /// to run without the store borrowed (see [`PendingSync`]).
    fn begin_sync(&mut self) -> Result<PendingSync, StoreError> {
        Ok(PendingSync::done(self.sync()?))
    }

    /// Record the outcome of a [`PendingSync::run`] from `begin_sync`.
    fn finish_sync(&mut self, outcome: &Result<u64, StoreError>) {
        let _ = outcome;
    }

    /// Make everything durable and write whatever lets the next open skip
    /// work (the file store's index snapshot). Called at clean shutdown;
    /// the store stays usable. A memory store only syncs.
    fn checkpoint(&mut self) -> Result<(), StoreError> {
        self.sync().map(|_| ())
    }

    /// Visit `(seq, timestamp, headers)` of every held message with
    /// sequence `>= start_seq` and timestamp `>= min_ts`, in sequence
    /// order (rebuilding the duplicate window on open). The file store
    /// reads each block once instead of once per message.
    fn scan_headers(
        &self,
        start_seq: u64,
        min_ts: i64,
        visit: &mut dyn FnMut(u64, i64, &[u8]),
    ) -> Result<(), StoreError> {
        let mut seq = start_seq;
        loop {
            let message = match self.load_next_msg("", seq) {
                Ok(message) => message,
                Err(StoreError::Eof | StoreError::MsgNotFound) => return Ok(()),
                Err(error) => return Err(error),
            };
            if message.timestamp >= min_ts {
                visit(message.seq, message.timestamp, &message.headers);
            }
            seq = message.seq + 1;
        }
    }
}
