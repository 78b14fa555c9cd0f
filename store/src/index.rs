//! The in-memory index shared by both stores: sequence → entry (a
//! [`SeqMap`]), the subject table, TTLs and their deadlines, and the queries
//! answered from them alone.
//!
//! `L` is where a message lives: the message itself in the memory store, a
//! block and offset in the file store. An entry is kept small (32 bytes in
//! the file store): the few messages with a TTL keep it in a side map.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::seqmap::SeqMap;
use crate::subject;
use crate::subjects::SubjectTable;
use crate::types::{FilteredState, StreamState, SubjectState};

/// One held message, as indexed.
#[derive(Debug, Clone)]
pub(crate) struct Entry<L> {
    /// Interned subject id.
    pub subject: u32,
    /// Store timestamp (ns since epoch).
    pub ts: i64,
    /// Accounted size ([`crate::stored_size`]); a record is at most
    /// [`crate::record::MAX_RECORD_LEN`] and a memory store refuses a
    /// message over 4 GiB ([`entry_size`]).
    pub size: u32,
    /// Where the message lives.
    pub loc: L,
}

/// A `store_msg` TTL as the index keeps it: the nanoseconds, 0 for none,
/// -1 for any negative value ("never expires").
pub(crate) fn normalize_ttl(ttl_nanos: Option<i64>) -> i64 {
    match ttl_nanos {
        Some(ttl) if ttl < 0 => -1,
        Some(ttl) => ttl,
        None => 0,
    }
}

/// The accounted size of a message as an entry keeps it, or
/// `MaxMsgSize` when it does not fit in 32 bits.
pub(crate) fn entry_size(stored_size: u64) -> Result<u32, crate::StoreError> {
    u32::try_from(stored_size).map_err(|_| crate::StoreError::MaxMsgSize)
}

/// Above this many matching subjects a wildcard scan walks the sequences
/// instead of asking each subject.
const SUBJECT_FANOUT_LIMIT: usize = 64;

/// Sequence and subject index of a stream.
#[derive(Debug, Clone)]
pub(crate) struct Index<L> {
    pub msgs: SeqMap<Entry<L>>,
    pub subjects: SubjectTable,
    /// Per-message TTL in ns of the messages that have one: -1 never to
    /// expire (not even by `max_age`: `Nats-TTL: never`). Absent is none.
    ttls: BTreeMap<u64, i64>,
    /// (deadline, seq) of each positive TTL, soonest first.
    ttl_deadlines: BTreeSet<(i64, u64)>,
    first_seq: u64,
    last_seq: u64,
    last_ts: i64,
    bytes: u64,
}

impl<L> Index<L> {
    /// An empty index whose first message will get `first_seq`.
    pub(crate) fn new(first_seq: u64) -> Self {
        let first_seq = first_seq.max(1);
        Index {
            msgs: SeqMap::new(),
            subjects: SubjectTable::default(),
            ttls: BTreeMap::new(),
            ttl_deadlines: BTreeSet::new(),
            first_seq,
            last_seq: first_seq - 1,
            last_ts: 0,
            bytes: 0,
        }
    }

    pub(crate) fn last_seq(&self) -> u64 {
        self.last_seq
    }

    pub(crate) fn last_ts(&self) -> i64 {
        self.last_ts
    }

    pub(crate) fn first_seq(&self) -> u64 {
        self.first_seq
    }

    pub(crate) fn len(&self) -> u64 {
        self.msgs.len() as u64
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Add a message. Sequences normally grow; recovery may insert in any
    /// order, so `last_seq` is the maximum seen.
    pub(crate) fn insert(&mut self, seq: u64, subject: &str, ts: i64, size: u32, ttl: i64, loc: L) {
        if seq <= self.last_seq {
            self.remove(seq);
        }
        let id = self.subjects.intern(subject);
        self.insert_interned(seq, id, ts, size, ttl, loc);
    }

    /// Add a message whose subject id came from `subjects.intern` and whose
    /// sequence is not held (recovery from a snapshot: no hashing per entry).
    pub(crate) fn insert_interned(
        &mut self,
        seq: u64,
        id: u32,
        ts: i64,
        size: u32,
        ttl: i64,
        loc: L,
    ) {
        self.subjects.add(id, seq);
        self.add_ttl(seq, ts, ttl);
        self.msgs.insert(
            seq,
            Entry {
                subject: id,
                ts,
                size,
                loc,
            },
        );
        self.bytes += u64::from(size);
        if seq > self.last_seq {
            self.last_seq = seq;
            self.last_ts = ts;
        }
        if self.msgs.len() == 1 || seq < self.first_seq {
            self.first_seq = seq;
        }
    }

    /// Load many messages into an empty index at once (snapshot recovery):
    /// one bulk build of the sequence map instead of a tree insert each.
    /// Subject ids must come from `subjects.intern`; each entry comes with
    /// its TTL. False on a duplicate.
    pub(crate) fn bulk_insert(&mut self, mut entries: Vec<(u64, Entry<L>, i64)>) -> bool {
        if !self.msgs.is_empty() {
            return false;
        }
        entries.sort_by_key(|(seq, _, _)| *seq);
        if entries.windows(2).any(|pair| pair[0].0 == pair[1].0) {
            return false;
        }
        let mut sorted = Vec::with_capacity(entries.len());
        for (seq, entry, ttl) in entries {
            self.subjects.add(entry.subject, seq);
            self.add_ttl(seq, entry.ts, ttl);
            self.bytes += u64::from(entry.size);
            if seq > self.last_seq {
                self.last_seq = seq;
                self.last_ts = entry.ts;
            }
            sorted.push((seq, entry));
        }
        match SeqMap::from_sorted(sorted) {
            Some(msgs) => self.msgs = msgs,
            None => return false,
        }
        self.refresh_first();
        true
    }

    fn add_ttl(&mut self, seq: u64, ts: i64, ttl: i64) {
        if ttl == 0 {
            return;
        }
        self.ttls.insert(seq, ttl);
        if ttl > 0 {
            self.ttl_deadlines.insert((ts.saturating_add(ttl), seq));
        }
    }

    /// The TTL of held message `seq`: ns, 0 for none, -1 for never.
    pub(crate) fn ttl(&self, seq: u64) -> i64 {
        if self.ttls.is_empty() {
            return 0;
        }
        self.ttls.get(&seq).copied().unwrap_or(0)
    }

    /// A marker record at `seq` (recovery): raise `last_seq` to it. A
    /// marker at the last sequence still sets the time: a truncation to a
    /// removed message writes one with that message's time gone (0), and
    /// it must win over the removed record still on disk.
    pub(crate) fn note_seq(&mut self, seq: u64, ts: i64) {
        if seq > self.last_seq {
            self.last_seq = seq;
            self.last_ts = ts;
            self.refresh_first();
        } else if seq == self.last_seq {
            self.last_ts = ts;
        }
    }

    /// Set the last sequence outright (truncate, compact past the end).
    pub(crate) fn set_last(&mut self, seq: u64, ts: i64) {
        self.last_seq = seq;
        self.last_ts = ts;
        self.refresh_first();
    }

    /// Set the first sequence of an empty index (compact past the end).
    pub(crate) fn set_empty_floor(&mut self, first_seq: u64) {
        if self.msgs.is_empty() && first_seq > self.last_seq {
            self.last_seq = first_seq - 1;
            self.first_seq = first_seq;
        }
    }

    /// Remove `seq`, returning its entry.
    pub(crate) fn remove(&mut self, seq: u64) -> Option<Entry<L>> {
        let entry = self.msgs.remove(seq)?;
        self.subjects.remove(entry.subject, seq);
        if !self.ttls.is_empty() {
            if let Some(ttl) = self.ttls.remove(&seq) {
                if ttl > 0 {
                    self.ttl_deadlines
                        .remove(&(entry.ts.saturating_add(ttl), seq));
                }
            }
        }
        self.bytes -= u64::from(entry.size);
        self.refresh_first();
        Some(entry)
    }

    /// Forget every message; sequences stay.
    pub(crate) fn clear(&mut self) {
        self.msgs.clear();
        self.subjects.clear();
        self.ttls.clear();
        self.ttl_deadlines.clear();
        self.bytes = 0;
        self.refresh_first();
    }

    fn refresh_first(&mut self) {
        self.first_seq = match self.msgs.first_key() {
            Some(seq) => seq,
            None => self.last_seq + 1,
        };
    }

    pub(crate) fn get(&self, seq: u64) -> Option<&Entry<L>> {
        self.msgs.get(seq)
    }

    pub(crate) fn subject_name(&self, id: u32) -> &str {
        self.subjects.name(id)
    }

    /// First sequence at or after `start` matching `filter`.
    pub(crate) fn next_matching(&self, filter: &str, start: u64) -> Option<u64> {
        if subject::is_full_wildcard(filter) {
            return self.msgs.range(start..).next().map(|(seq, _)| seq);
        }
        let ids = self.subjects.matching(filter);
        if ids.len() <= SUBJECT_FANOUT_LIMIT {
            return ids
                .iter()
                .filter_map(|id| self.subjects.seqs(*id)?.range_from(start).next().copied())
                .min();
        }
        let ids: HashSet<u32> = ids.into_iter().collect();
        self.msgs
            .range(start..)
            .find(|(_, entry)| ids.contains(&entry.subject))
            .map(|(seq, _)| seq)
    }

    /// Newest sequence matching `filter`.
    pub(crate) fn last_matching(&self, filter: &str) -> Option<u64> {
        if subject::is_full_wildcard(filter) {
            return self.msgs.last_key();
        }
        self.subjects
            .matching(filter)
            .iter()
            .filter_map(|id| self.subjects.seqs(*id)?.iter().next_back().copied())
            .max()
    }

    /// Sequences at or after `start` matching `filter`, ascending.
    pub(crate) fn matching_seqs(&self, filter: &str, start: u64) -> Vec<u64> {
        if subject::is_full_wildcard(filter) {
            return self.msgs.range(start..).map(|(seq, _)| seq).collect();
        }
        let mut seqs: Vec<u64> = self
            .subjects
            .matching(filter)
            .iter()
            .filter_map(|id| self.subjects.seqs(*id))
            .flat_map(|set| set.range_from(start).copied())
            .collect();
        seqs.sort_unstable();
        seqs
    }

    pub(crate) fn state(&self) -> StreamState {
        let msgs = self.len();
        let span = (self.last_seq + 1).saturating_sub(self.first_seq);
        StreamState {
            msgs,
            bytes: self.bytes,
            first_seq: self.first_seq,
            first_ts: self.msgs.first().map_or(0, |(_, entry)| entry.ts),
            last_seq: self.last_seq,
            last_ts: self.last_ts,
            num_subjects: self.subjects.len() as u64,
            num_deleted: span.saturating_sub(msgs),
        }
    }

    pub(crate) fn deleted(&self) -> Vec<u64> {
        let mut deleted = Vec::new();
        let mut expected = self.first_seq;
        for seq in self.msgs.keys() {
            deleted.extend(expected..seq);
            expected = seq + 1;
        }
        if !self.msgs.is_empty() {
            deleted.extend(expected..=self.last_seq);
        }
        deleted
    }

    pub(crate) fn filtered_state(&self, filter: &str, start: u64) -> FilteredState {
        let start = start.max(self.first_seq);
        if subject::is_full_wildcard(filter) {
            let first = self.msgs.range(start..).next().map(|(seq, _)| seq);
            let Some(first) = first else {
                return FilteredState::default();
            };
            let last = self.msgs.last_key().unwrap_or(first);
            let msgs = self.msgs.count_from(start) as u64;
            return FilteredState { msgs, first, last };
        }
        let mut state = FilteredState::default();
        for id in self.subjects.matching(filter) {
            let Some(set) = self.subjects.seqs(id) else {
                continue;
            };
            let Some(first) = set.range_from(start).next().copied() else {
                continue;
            };
            let set_first = set.iter().next().copied().unwrap_or(first);
            let last = set.iter().next_back().copied().unwrap_or(first);
            let count = count_from(set.iter(), set.range_from(start), start, set_first, last);
            state.msgs += count;
            state.first = if state.first == 0 {
                first
            } else {
                state.first.min(first)
            };
            state.last = state.last.max(last);
        }
        state
    }

    pub(crate) fn num_pending(&self, filter: &str, start: u64, last_per_subject: bool) -> u64 {
        if !last_per_subject {
            return self.filtered_state(filter, start).msgs;
        }
        self.subjects
            .matching(filter)
            .iter()
            .filter_map(|id| self.subjects.seqs(*id)?.iter().next_back())
            .filter(|last| **last >= start)
            .count() as u64
    }

    pub(crate) fn subjects_state(&self, filter: &str) -> BTreeMap<String, SubjectState> {
        self.subjects
            .matching(filter)
            .into_iter()
            .filter_map(|id| {
                let set = self.subjects.seqs(id)?;
                let state = SubjectState {
                    msgs: set.len() as u64,
                    first: *set.iter().next()?,
                    last: *set.iter().next_back()?,
                };
                Some((self.subjects.name(id).to_string(), state))
            })
            .collect()
    }

    /// Sequences to remove at `now` for `max_age` (0 = none) and TTLs.
    pub(crate) fn expired(&self, now: i64, max_age: i64) -> Vec<u64> {
        let mut expired: BTreeSet<u64> = BTreeSet::new();
        if max_age > 0 {
            let cutoff = now.saturating_sub(max_age);
            for (seq, entry) in self.msgs.iter() {
                if entry.ts > cutoff {
                    break;
                }
                if self.ttl(seq) >= 0 {
                    expired.insert(seq);
                }
            }
        }
        for (deadline, seq) in &self.ttl_deadlines {
            if *deadline > now {
                break;
            }
            expired.insert(*seq);
        }
        expired.into_iter().collect()
    }

    /// The next time `expired` returns something.
    pub(crate) fn next_expiry(&self, max_age: i64) -> Option<i64> {
        // Messages that never expire do not hold the age deadline back.
        let oldest = || {
            self.msgs
                .iter()
                .find(|(seq, _)| self.ttl(*seq) >= 0)
                .map(|(_, entry)| entry)
        };
        let by_age = (max_age > 0)
            .then(oldest)
            .flatten()
            .map(|first| first.ts.saturating_add(max_age));
        let by_ttl = self
            .ttl_deadlines
            .iter()
            .next()
            .map(|(deadline, _)| *deadline);
        match (by_age, by_ttl) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// How many of the ascending `all` are at or after `start`, walking
/// whichever side of `start` looks shorter (consumers ask near the end,
/// new ones near the start; both should not walk a million entries).
fn count_from<'a>(
    all: impl ExactSizeIterator<Item = &'a u64>,
    from_start: impl Iterator<Item = &'a u64>,
    start: u64,
    first: u64,
    last: u64,
) -> u64 {
    let total = all.len() as u64;
    if start.saturating_sub(first) < last.saturating_sub(start) {
        let before = all.take_while(|seq| **seq < start).count() as u64;
        total - before
    } else {
        from_start.count() as u64
    }
}
