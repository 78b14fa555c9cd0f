//! [`Sublist`]: the trie and the match cache behind their locks, and the
//! counters `/subsz` reports.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread;

use super::cache::MatchCache;
use super::result::MatchResult;
use super::trie::Trie;

/// Tokens a subject has before tokenising it needs more than one allocation.
const TYPICAL_TOKENS: usize = 16;

/// Largest batch whose cache invalidation is targeted per subject; a larger
/// one (a snapshot frame) empties the cache once instead.
const TARGETED_BATCH: usize = 16;

/// Most cache shards: one per core up to this. Each shard holds up to
/// [`super::CACHE_MAX_ENTRIES`] results, so this also bounds the memory.
pub const MAX_CACHE_SHARDS: usize = 8;

/// The subscription index. See the module doc for the design.
///
/// Lock order: `trie`, then one shard's `cache` (never two shards at once).
/// Nothing else is locked while either is held, and none is held when a
/// method returns.
pub struct Sublist<T> {
    /// The subscriptions. Exclusive for insert and remove; shared for a cache
    /// miss, which also keeps it while storing its result so no insert or
    /// remove can slip between computing a result and caching it.
    trie: RwLock<Trie<T>>,
    /// The match cache, one shard per core: a thread always uses the same
    /// shard, so threads never write to a shared cache line on a hit.
    shards: Box<[CacheShard<T>]>,
    /// False: `shards` keep their counters but never cache anything.
    cache_enabled: bool,
    /// Shared result for every subject nobody is interested in.
    empty: Arc<MatchResult<T>>,
    /// Bumped by every insert and remove, under the trie's write lock.
    generation: AtomicU64,
    /// Subscriptions in the index; changed under the trie's write lock.
    subscriptions: AtomicU64,
    /// Subscriptions ever added.
    inserts: AtomicU64,
    /// Subscriptions ever removed.
    removes: AtomicU64,
}

/// One shard of the match cache with its lookup counters, aligned to its
/// own cache lines (128 bytes covers adjacent-line prefetch).
#[repr(align(128))]
struct CacheShard<T> {
    /// Literal subject -> result. Shared for a hit; exclusive for one map
    /// operation on a miss or a subscription change.
    cache: RwLock<MatchCache<T>>,
    /// Lookups this shard answered. Hits and misses are counted apart so a
    /// lookup costs one atomic increment, not two.
    hits: AtomicU64,
    /// Lookups that walked the trie (or had an empty token).
    misses: AtomicU64,
}

impl<T> CacheShard<T> {
    fn new() -> Self {
        CacheShard {
            cache: RwLock::new(MatchCache::new()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }
}

/// This thread's shard number: threads are numbered (process-wide) in the
/// order they first look something up, so `n` publishing threads that start
/// together (the runtime's workers) get distinct shards of `n`.
fn thread_shard(shards: usize) -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    SHARD.with(|shard| *shard) % shards
}

/// Counters and cache figures, with nats-server's `/subsz` meaning.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SublistStats {
    /// Subscriptions in the index.
    pub num_subscriptions: u64,
    /// Results in the match cache, summed over its shards.
    pub num_cache: u64,
    /// Subscriptions ever added (duplicates not counted).
    pub num_inserts: u64,
    /// Subscriptions ever removed.
    pub num_removes: u64,
    /// Lookups ever made.
    pub num_matches: u64,
    /// Share of lookups answered by the cache, 0.0 to 1.0.
    pub cache_hit_rate: f64,
    /// Largest fanout (plain subscribers + queue groups) among cached subjects.
    pub max_fanout: u64,
    /// Average fanout over cached subjects.
    pub avg_fanout: f64,
}

impl SublistStats {
    /// The figures of two indexes together (for `/subsz` over accounts):
    /// counts add, rates are weighted by what they are rates of.
    pub fn combined(self, other: SublistStats) -> SublistStats {
        let num_matches = self.num_matches + other.num_matches;
        let num_cache = self.num_cache + other.num_cache;
        let hits = self.cache_hit_rate * self.num_matches as f64
            + other.cache_hit_rate * other.num_matches as f64;
        let fanout =
            self.avg_fanout * self.num_cache as f64 + other.avg_fanout * other.num_cache as f64;
        SublistStats {
            num_subscriptions: self.num_subscriptions + other.num_subscriptions,
            num_cache,
            num_inserts: self.num_inserts + other.num_inserts,
            num_removes: self.num_removes + other.num_removes,
            num_matches,
            cache_hit_rate: ratio(hits, num_matches as f64),
            max_fanout: self.max_fanout.max(other.max_fanout),
            avg_fanout: ratio(fanout, num_cache as f64),
        }
    }
}

/// Subjects published once by construction are not cached: a JetStream
/// ack (`$JS.ACK.<stream>.<consumer>.<counts>.<seqs>...`) and a reply to
/// a request through a client's muxed inbox (`_INBOX.<prefix>.<token>`:
/// async-nats and nats.go make a new token per request). Caching them costs
/// an insert per message and pushes the hot subjects out of the bounded
/// cache (a pull consumer acking 200k messages a second would sweep it
/// every few ms). A plain `_INBOX.<token>` is kept: it is also what push
/// consumers deliver to, the same subject for every message.
fn worth_caching(subject: &str) -> bool {
    if subject.starts_with("$JS.ACK.") {
        return false;
    }
    match subject.strip_prefix("_INBOX.") {
        Some(rest) => !rest.contains('.'),
        None => true,
    }
}

/// A poisoned lock is recovered: every critical section drops cache entries
/// before it changes the trie, so a panic inside one (only `T::clone` or
/// `T::eq` could) leaves at worst a missing cache entry or an empty trie
/// node, both harmless.
fn read<L>(lock: &RwLock<L>) -> RwLockReadGuard<'_, L> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<L>(lock: &RwLock<L>) -> RwLockWriteGuard<'_, L> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

/// Splits a publish subject into `tokens`; false if a token is empty, as in
/// `foo..bar`, `.foo` or `foo.` (such a subject matches nothing).
fn tokenize<'a>(subject: &'a str, tokens: &mut Vec<&'a str>) -> bool {
    for token in subject.split('.') {
        if token.is_empty() {
            return false;
        }
        tokens.push(token);
    }
    true
}

impl<T: Clone + PartialEq + Send + Sync> Sublist<T> {
    /// An empty index, with the match cache on or off (nats-server turns it
    /// off where subscriptions change far more often than messages flow).
    pub fn new(cache_enabled: bool) -> Self {
        let cores = thread::available_parallelism().map_or(1, NonZeroUsize::get);
        Self::with_shards(cache_enabled, cores.min(MAX_CACHE_SHARDS))
    }

    /// `new` with a given number of cache shards (at least one).
    pub(super) fn with_shards(cache_enabled: bool, shards: usize) -> Self {
        Sublist {
            trie: RwLock::new(Trie::new()),
            shards: (0..shards.max(1)).map(|_| CacheShard::new()).collect(),
            cache_enabled,
            empty: Arc::new(MatchResult::empty()),
            generation: AtomicU64::new(0),
            subscriptions: AtomicU64::new(0),
            inserts: AtomicU64::new(0),
            removes: AtomicU64::new(0),
        }
    }

    /// Adds a subscription to `subject` (validated by the caller; wildcards
    /// allowed), in queue group `queue` if given. Adding the same value to the
    /// same subject and queue again changes nothing: it is matched once.
    pub fn insert(&self, subject: &str, queue: Option<&str>, value: T) {
        let mut trie = write(&self.trie);
        self.invalidate_cache(subject);
        if trie.insert(subject, queue, value) {
            self.subscriptions.fetch_add(1, Ordering::Relaxed);
            self.inserts.fetch_add(1, Ordering::Relaxed);
        }
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// [`Sublist::insert`] for many subscriptions under one write lock (a
    /// peer's interest snapshot frame), bumping the counters once. A large
    /// batch empties the match cache once rather than searching it per
    /// entry; a small one (a peer's single SUB, an inbox) drops only the
    /// results it affects, so hot subjects stay cached.
    pub fn insert_batch<'a>(&self, items: impl IntoIterator<Item = (&'a str, Option<&'a str>, T)>) {
        let items: Vec<_> = items.into_iter().collect();
        let mut trie = write(&self.trie);
        let dropped = self.invalidate_for_batch(items.iter().map(|(subject, _, _)| *subject));
        let mut added = 0;
        for (subject, queue, value) in items {
            if trie.insert(subject, queue, value) {
                added += 1;
            }
        }
        self.subscriptions.fetch_add(added, Ordering::Relaxed);
        self.inserts.fetch_add(added, Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::Release);
        drop(trie);
        drop(dropped); // outside the locks: frees subscription handles
    }

    /// [`Sublist::remove`] for many subscriptions under one write lock (a
    /// lost peer's interest), invalidating the match cache as
    /// [`Sublist::insert_batch`] does. Returns how many were there.
    pub fn remove_batch<'a>(
        &self,
        items: impl IntoIterator<Item = (&'a str, Option<&'a str>, T)>,
    ) -> usize {
        let items: Vec<_> = items.into_iter().collect();
        let mut trie = write(&self.trie);
        let dropped = self.invalidate_for_batch(items.iter().map(|(subject, _, _)| *subject));
        let mut removed = 0;
        for (subject, queue, value) in items {
            if trie.remove(subject, queue, &value) {
                removed += 1;
            }
        }
        self.subscriptions.fetch_sub(removed, Ordering::Relaxed);
        self.removes.fetch_add(removed, Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::Release);
        drop(trie);
        drop(dropped); // outside the locks: frees subscription handles
        usize::try_from(removed).unwrap_or(usize::MAX)
    }

    /// Cache invalidation for a batch changing `subjects`: targeted for at
    /// most [`TARGETED_BATCH`] subjects, else every shard emptied (returned,
    /// to be dropped once the locks are released). Caller holds the trie's
    /// write lock.
    fn invalidate_for_batch<'a>(
        &self,
        subjects: impl ExactSizeIterator<Item = &'a str>,
    ) -> Vec<MatchCache<T>> {
        if subjects.len() > TARGETED_BATCH {
            return self.take_caches();
        }
        for subject in subjects {
            self.invalidate_cache(subject);
        }
        Vec::new()
    }

    /// Empties every cache shard, returning the old contents to be dropped
    /// once the locks are released. Caller holds the trie's write lock.
    fn take_caches(&self) -> Vec<MatchCache<T>> {
        self.shards
            .iter()
            .map(|shard| std::mem::replace(&mut *write(&shard.cache), MatchCache::new()))
            .collect()
    }

    /// Removes a subscription; true if it was there. Nodes left empty are
    /// pruned.
    pub fn remove(&self, subject: &str, queue: Option<&str>, value: &T) -> bool {
        let mut trie = write(&self.trie);
        self.invalidate_cache(subject);
        let found = trie.remove(subject, queue, value);
        if found {
            self.subscriptions.fetch_sub(1, Ordering::Relaxed);
            self.removes.fetch_add(1, Ordering::Relaxed);
        }
        self.generation.fetch_add(1, Ordering::Release);
        found
    }

    /// Drops the cached results a change to `pattern` affects, in every
    /// shard. Caller holds the trie's write lock, so nothing else can change
    /// a cache (every cache write happens under a trie lock): scanning under
    /// the shared lock and then removing under the exclusive one is
    /// consistent, and hits go on during the scan.
    fn invalidate_cache(&self, pattern: &str) {
        if !self.cache_enabled {
            return;
        }
        for shard in self.shards.iter() {
            let affected = read(&shard.cache).affected_by(pattern);
            if !affected.is_empty() {
                let removed = write(&shard.cache).remove_all(&affected);
                drop(removed); // outside the lock: frees subscription handles
            }
        }
    }

    /// Every subscription interested in the published `subject`. A `*` or `>`
    /// token in it is an ordinary token here (non-pedantic publishers), so
    /// only wildcard subscriptions match it. A subject with an empty token
    /// matches nothing.
    pub fn match_subject(&self, subject: &str) -> Arc<MatchResult<T>> {
        self.match_in_shard(thread_shard(self.shards.len()), subject)
    }

    /// `match_subject` through the given cache shard.
    pub(super) fn match_in_shard(&self, shard: usize, subject: &str) -> Arc<MatchResult<T>> {
        let shard = &self.shards[shard % self.shards.len()];
        let cached = self.cache_enabled && worth_caching(subject);
        if cached {
            if let Some(hit) = read(&shard.cache).get(subject) {
                shard.hits.fetch_add(1, Ordering::Relaxed);
                return hit;
            }
        }
        shard.misses.fetch_add(1, Ordering::Relaxed);
        let mut tokens = Vec::with_capacity(TYPICAL_TOKENS);
        if !tokenize(subject, &mut tokens) {
            return Arc::clone(&self.empty);
        }
        let trie = read(&self.trie);
        let found = trie.matches(&tokens);
        let result = if found.is_empty() {
            Arc::clone(&self.empty)
        } else {
            Arc::new(found)
        };
        if cached {
            // Still under the trie's read lock: see the `trie` field.
            let evicted = write(&shard.cache).insert(subject, Arc::clone(&result));
            drop(trie);
            drop(evicted); // outside both locks: frees subscription handles
        }
        result
    }

    /// Number of subscriptions.
    pub fn count(&self) -> usize {
        usize::try_from(self.subscriptions.load(Ordering::Relaxed)).unwrap_or(usize::MAX)
    }

    /// Changes on every insert and remove. A caller may keep its own cache of
    /// match results and drop it when this moves (nats-server's per-client
    /// L1 cache).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Counters and cache figures for `/subsz`. `num_cache` and the fanout
    /// figures count every shard's entries (a hot subject is cached once per
    /// shard that published it).
    pub fn stats(&self) -> SublistStats {
        let (mut hits, mut num_matches, mut num_cache) = (0, 0, 0);
        let (mut max_fanout, mut total_fanout) = (0, 0);
        for shard in self.shards.iter() {
            let shard_hits = shard.hits.load(Ordering::Relaxed);
            hits += shard_hits;
            num_matches += shard_hits + shard.misses.load(Ordering::Relaxed);
            let cache = read(&shard.cache);
            let (shard_max, shard_total) = cache.fanout();
            num_cache += cache.len();
            max_fanout = max_fanout.max(shard_max);
            total_fanout += shard_total;
        }
        SublistStats {
            num_subscriptions: self.subscriptions.load(Ordering::Relaxed),
            num_cache: num_cache as u64,
            num_inserts: self.inserts.load(Ordering::Relaxed),
            num_removes: self.removes.load(Ordering::Relaxed),
            num_matches,
            cache_hit_rate: ratio(hits as f64, num_matches as f64),
            max_fanout: max_fanout as u64,
            avg_fanout: ratio(total_fanout as f64, num_cache as f64),
        }
    }

    /// Every subscription as (subject, queue group, value), in no particular
    /// order, for `/subsz?subs=1`.
    pub fn all(&self) -> Vec<(String, Option<String>, T)> {
        read(&self.trie).all()
    }

    #[cfg(test)]
    pub(super) fn node_count(&self) -> usize {
        read(&self.trie).node_count()
    }
}

fn ratio(numerator: f64, denominator: f64) -> f64 {
    if denominator > 0.0 {
        numerator / denominator
    } else {
        0.0
    }
}
