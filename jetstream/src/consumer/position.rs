//! Where a consumer starts (every deliver policy) and how many messages it
//! has yet to see (`num_pending`), from the store's per-subject index.

use std::cell::Cell;

use starling_store::MessageStore;

use crate::api::consumer::{ConsumerConfig, DeliverPolicy};
use crate::consumer::subject::subjects_collide;

/// The consumer's filters, with what counting needs to know about them.
#[derive(Debug, Clone)]
pub struct Filters {
    /// Empty = every subject.
    subjects: Vec<String>,
    /// No subject matches two filters, so per-filter counts add up.
    disjoint: bool,
}

impl Filters {
    /// The filters of a config.
    pub fn of(config: &ConsumerConfig) -> Filters {
        let subjects = config.filters();
        let disjoint = subjects.iter().enumerate().all(|(i, left)| {
            subjects
                .iter()
                .skip(i + 1)
                .all(|right| !subjects_collide(left, right))
        });
        Filters { subjects, disjoint }
    }

    /// The first matching sequence at or after `start`, if any.
    pub fn next_seq(&self, store: &impl MessageStore, start: u64) -> Option<u64> {
        if self.subjects.is_empty() {
            let state = store.filtered_state("", start);
            return (state.msgs > 0).then_some(state.first);
        }
        self.subjects
            .iter()
            .map(|filter| store.filtered_state(filter, start))
            .filter(|state| state.msgs > 0)
            .map(|state| state.first)
            .min()
    }

    /// Matching messages at or after `start`.
    pub fn count_from(&self, store: &impl MessageStore, start: u64) -> u64 {
        if self.subjects.is_empty() {
            return store.num_pending("", start, false);
        }
        if self.disjoint {
            return self
                .subjects
                .iter()
                .map(|filter| store.num_pending(filter, start, false))
                .sum();
        }
        // Colliding filters (e.g. `a.*` and `*.b`): count each message once.
        let mut count = 0;
        let mut seq = start;
        while let Some(next) = self.next_seq(store, seq) {
            count += 1;
            seq = next + 1;
        }
        count
    }

    /// The newest matching sequence, if any.
    fn last_seq(&self, store: &impl MessageStore) -> Option<u64> {
        if self.subjects.is_empty() {
            return store.load_last_msg("").ok().map(|msg| msg.seq);
        }
        self.subjects
            .iter()
            .filter_map(|filter| store.load_last_msg(filter).ok().map(|msg| msg.seq))
            .max()
    }

    /// The last message of every matching subject, in sequence order.
    fn last_per_subject(&self, store: &impl MessageStore) -> Vec<(u64, String)> {
        let filters: Vec<&str> = if self.subjects.is_empty() {
            vec![""]
        } else {
            self.subjects.iter().map(String::as_str).collect()
        };
        let mut lasts: Vec<(u64, String)> = Vec::new();
        for filter in filters {
            for (subject, state) in store.subjects_state(filter) {
                lasts.push((state.last, subject));
            }
        }
        lasts.sort();
        lasts.dedup();
        lasts
    }
}

/// `deliver_policy: last_per_subject`: the messages to send first, then
/// the consumer continues at `resume` (the stream's end at creation).
#[derive(Debug, Clone)]
pub struct SkipList {
    /// `(sequence, subject)`, ascending.
    pub entries: Vec<(u64, String)>,
    /// Entries before this were delivered (or found gone).
    pub next: usize,
    /// Where ordinary delivery continues afterwards.
    pub resume: u64,
    /// `(store msgs, store last_seq, next, present)`: the count of entries
    /// still stored, valid while the store and `next` have not changed.
    present_cache: Cell<Option<(u64, u64, usize, u64)>>,
}

impl SkipList {
    fn new(entries: Vec<(u64, String)>, resume: u64) -> SkipList {
        SkipList {
            entries,
            next: 0,
            resume,
            present_cache: Cell::new(None),
        }
    }

    /// Remaining entries still in the store. A removal changes `msgs`, an
    /// append changes `last_seq`, so the pair detects any change.
    pub fn present(&self, store: &impl MessageStore) -> u64 {
        let state = store.state();
        if let Some((msgs, last, next, present)) = self.present_cache.get() {
            if msgs == state.msgs && last == state.last_seq && next == self.next {
                return present;
            }
        }
        let present = self.entries[self.next..]
            .iter()
            .filter(|(seq, subject)| store.filtered_state(subject, *seq).first == *seq)
            .count() as u64;
        self.present_cache
            .set(Some((state.msgs, state.last_seq, self.next, present)));
        present
    }
}

/// The first stream sequence a new consumer considers, and its skip list.
pub fn start_position(
    config: &ConsumerConfig,
    filters: &Filters,
    store: &impl MessageStore,
) -> (u64, Option<SkipList>) {
    let state = store.state();
    let end = state.last_seq + 1;
    let start = match config.deliver_policy {
        DeliverPolicy::All => state.first_seq.max(1),
        DeliverPolicy::Last => filters.last_seq(store).unwrap_or(end),
        DeliverPolicy::New => end,
        DeliverPolicy::ByStartSequence => config.opt_start_seq.max(1),
        DeliverPolicy::ByStartTime => {
            first_at_or_after(store, config.opt_start_time.unwrap_or(0)).unwrap_or(end)
        }
        DeliverPolicy::LastPerSubject => {
            let entries = filters.last_per_subject(store);
            let start = entries.first().map_or(end, |(seq, _)| *seq);
            let skip = (!entries.is_empty()).then(|| SkipList::new(entries, end));
            return (start, skip);
        }
    };
    (start, None)
}

/// The first message stored at or after `time`, by binary search over the
/// sequence (store times do not go backwards).
fn first_at_or_after(store: &impl MessageStore, time: i64) -> Option<u64> {
    let state = store.state();
    let (mut low, mut high) = (state.first_seq.max(1), state.last_seq + 1);
    while low < high {
        let middle = low + (high - low) / 2;
        match store.load_next_msg("", middle) {
            Ok(msg) if msg.timestamp >= time => high = middle,
            Ok(msg) => low = msg.seq + 1,
            Err(_) => high = middle,
        }
    }
    store.load_next_msg("", low).ok().map(|msg| msg.seq)
}
