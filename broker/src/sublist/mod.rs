//! The subscription index ("sublist"): which subscriptions want a published
//! subject. Every published message does one lookup, so this is the hot path.
//! Modelled on nats-server `server/sublist.go`.
//!
//! # Module map
//! - `index`: [`Sublist`], the locks, counters and [`SublistStats`].
//! - `trie`: the token trie. One level per token; each level keeps literal
//!   children in a hash map and the `*` and `>` subscriptions in two separate
//!   slots, so a lookup follows the literal token, collects the `>` node, and
//!   recurses into the `*` node. Each node keeps plain subscriptions apart
//!   from queue subscriptions, which are grouped by queue name.
//! - `cache`: literal publish subject -> `Arc<MatchResult>`, at most
//!   [`CACHE_MAX_ENTRIES`] per shard, swept down to [`CACHE_SWEEP_TO`] when
//!   full.
//! - `result`: [`MatchResult`] and [`QueueMatch`]; a queue group matched
//!   through several subscribed subjects is merged into one entry.
//!
//! # Design
//! - `std::sync::RwLock`s: one over the trie, and one per cache shard. The
//!   cache has one shard per core (at most [`MAX_CACHE_SHARDS`]); a thread
//!   always uses the same shard, picked by the order in which threads first
//!   look something up, so the runtime's workers get distinct shards. A hit
//!   takes its shard's lock shared, bumps its shard's counter and clones an
//!   `Arc`: publishers never take an exclusive lock on a hit, and on
//!   different cores they write no shared cache line. (With one shared
//!   lock, two threads hitting the cache took ~70 ns per lookup each against
//!   ~36 ns sharded, the single-thread figure; see `benches/sublist.rs`.)
//! - A miss walks the trie under its read lock and stores the result in its
//!   shard (exclusive, one map insert) *before* releasing that read lock.
//!   Insert and remove hold the trie's write lock, so they cannot run between
//!   a miss computing its result and caching it: no stale entry can survive.
//!   Lock order: trie, then a shard.
//! - Invalidation is targeted rather than by a global generation: insert and
//!   remove of subject S drop, in every shard, the cached subjects S matches
//!   (one hash lookup when S is literal, a scan of the shard when it has
//!   wildcards). They hold the trie's write lock, and every cache write
//!   happens under a trie lock, so the scan runs under the shard's shared
//!   lock (hits go on) and only the removal takes it exclusively.
//!   Request/reply inbox subscriptions come and go all the time; a global
//!   generation would flush every hot subject on each of them. nats-server
//!   patches cached results in place on insert; dropping the entry costs one
//!   recomputation and keeps results immutable. [`Sublist::generation`]
//!   still moves on every change, for callers that keep their own
//!   per-connection cache.
//! - Results evicted or invalidated are dropped after the locks are released:
//!   freeing a result releases every subscription handle it holds.
//! - Subscriptions are compared with `PartialEq` (identity for the broker's
//!   handles), so removing one is linear in the subscribers of its subject.
//!   Inserting the same value twice for the same subject and queue stores it
//!   once.
//! - Counters are relaxed atomics; `/subsz` figures are a snapshot.

mod cache;
mod index;
mod result;
mod trie;

#[cfg(test)]
mod tests;

pub use cache::{CACHE_MAX_ENTRIES, CACHE_SWEEP_TO};
pub use index::{Sublist, SublistStats, MAX_CACHE_SHARDS};
pub use result::{MatchResult, QueueMatch};
