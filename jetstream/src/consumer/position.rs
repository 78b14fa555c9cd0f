//! Where a consumer starts (every deliver policy) and how many messages it
//! has yet to see (`num_pending`), from the store's per-subject index.

use std::cell::Cell;

use starling_store::{subject_matches, MessageStore, StoredMsg};

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

    /// True when `subject` passes the filters.
    pub fn matches(&self, subject: &str) -> bool {
        self.subjects.is_empty()
            || self
                .subjects
                .iter()
                .any(|filter| subject_matches(filter, subject))
    }

    /// The first matching message at or after `start`, if any (one index
    /// lookup per filter, no counting).
    pub fn next_message(
        &self,
        store: &(impl MessageStore + ?Sized),
        start: u64,
    ) -> Option<StoredMsg> {
        let next = store.load_next_msg("", start).ok();
        if self.subjects.is_empty() {
            return next;
        }
        // Fast path: the very next message usually matches a wildcard
        // filter, and a wildcard lookup in the index visits every subject.
        if let Some(message) = next {
            if self.matches(&message.subject) {
                return Some(message);
            }
        }
        self.subjects
            .iter()
            .filter_map(|filter| store.load_next_msg(filter, start).ok())
            .min_by_key(|msg| msg.seq)
    }

    /// Matching messages at or after `start`.
    pub fn count_from(&self, store: &(impl MessageStore + ?Sized), start: u64) -> u64 {
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
        while let Some(next) = self.next_message(store, seq) {
            count += 1;
            seq = next.seq + 1;
        }
        count
    }

    /// `count_from(start)` through `cache`: the store's counts walk the
    /// index, so a consumer keeps its count and only adds what was
    /// appended since (`nats-server` keeps `o.npc` the same way). Any
    /// removal shows as `msgs` short of the appended count and forces a
    /// recount.
    pub fn count_from_cached(
        &self,
        store: &(impl MessageStore + ?Sized),
        start: u64,
        cache: &PendingCache,
    ) -> u64 {
        let state = store.state();
        if let Some(cached) = cache.0.get() {
            if cached.cursor == start && state.last_seq >= cached.last {
                let appended = state.last_seq - cached.last;
                if state.msgs == cached.msgs + appended {
                    let count = if appended == 0 {
                        cached.count
                    } else {
                        cached.count + self.count_from(store, (cached.last + 1).max(start))
                    };
                    cache.store(start, count, state.msgs, state.last_seq);
                    return count;
                }
            }
        }
        let count = self.count_from(store, start);
        cache.store(start, count, state.msgs, state.last_seq);
        count
    }

    /// The newest matching sequence, if any.
    fn last_seq(&self, store: &(impl MessageStore + ?Sized)) -> Option<u64> {
        if self.subjects.is_empty() {
            return store.load_last_msg("").ok().map(|msg| msg.seq);
        }
        self.subjects
            .iter()
            .filter_map(|filter| store.load_last_msg(filter).ok().map(|msg| msg.seq))
            .max()
    }

    /// The last message of every matching subject, in sequence order.
    fn last_per_subject(&self, store: &(impl MessageStore + ?Sized)) -> Vec<(u64, String)> {
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

/// A consumer's last `count_from`: cursor, count, and the store's
/// `msgs`/`last_seq` when it was taken.
#[derive(Debug, Clone, Copy)]
struct CachedCount {
    cursor: u64,
    count: u64,
    msgs: u64,
    last: u64,
}

/// See [`Filters::count_from_cached`].
#[derive(Debug, Default)]
pub struct PendingCache(Cell<Option<CachedCount>>);

impl PendingCache {
    fn store(&self, cursor: u64, count: u64, msgs: u64, last: u64) {
        self.0.set(Some(CachedCount {
            cursor,
            count,
            msgs,
            last,
        }));
    }

    /// The cursor moved past one matching message (a first delivery)
    /// with the store unchanged since the count was taken.
    pub fn advance(&self, from: u64, to: u64) {
        if let Some(mut cached) = self.0.get() {
            if cached.cursor == from && cached.count > 0 {
                cached.cursor = to;
                cached.count -= 1;
                self.0.set(Some(cached));
                return;
            }
        }
        self.0.set(None);
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

    /// The entry at `next` was delivered (`was_present`) or found gone:
    /// step past it, keeping the count when the store has not changed.
    pub fn advance(&mut self, was_present: bool) {
        let cached = self.present_cache.get();
        self.next += 1;
        let taken = u64::from(was_present);
        self.present_cache.set(match cached {
            Some((msgs, last, next, present)) if next + 1 == self.next && present >= taken => {
                Some((msgs, last, self.next, present - taken))
            }
            _ => None,
        });
    }

    /// Remaining entries still in the store. A removal changes `msgs`, an
    /// append changes `last_seq`, so the pair detects any change.
    pub fn present(&self, store: &(impl MessageStore + ?Sized)) -> u64 {
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
    store: &(impl MessageStore + ?Sized),
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
fn first_at_or_after(store: &(impl MessageStore + ?Sized), time: i64) -> Option<u64> {
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
