//! `SeqMap`: an ordered map from sequence to value for the index, compact
//! when the sequences are dense and bounded when they are not.
//!
//! Sequences are grouped in chunks of [`CHUNK_SLOTS`] consecutive numbers
//! (`seq >> CHUNK_BITS`), kept in a `BTreeMap` by chunk number. A chunk
//! holds a bitmap of which of its slots are present and only the present
//! values, packed in slot order in a `VecDeque` (the value of a slot is at
//! the count of present slots below it). So memory follows the number of
//! entries, never the span of the sequences: a dense stream costs the value
//! plus a fraction of a byte per entry, a chunk holding one entry costs a
//! bitmap, a deque and one value, and a chunk is freed when it empties.
//! Appends at the end are a push at the back of the last chunk, removal
//! from the front a pop at the front of the first; the first and last keys
//! are kept, so asking for them is free.

use std::collections::{btree_map, vec_deque, BTreeMap, VecDeque};
use std::ops::{Bound, RangeBounds};

/// Bits of a sequence that pick its slot in a chunk.
const CHUNK_BITS: u32 = 8;
/// Slots per chunk: 256, so a dense chunk's per-entry overhead (bitmap,
/// deque header, tree slot: ~100 bytes) is under half a byte per entry and
/// a removal from the middle of a chunk shifts at most 128 values.
pub(crate) const CHUNK_SLOTS: usize = 1 << CHUNK_BITS;
const WORDS: usize = CHUNK_SLOTS / 64;

/// A chunk whose values use less than 1/`SHRINK_RATIO` of its deque's
/// capacity gives the rest back: bounds the memory of a thinned chunk
/// without reallocating on every removal.
const SHRINK_RATIO: usize = 8;

#[derive(Debug, Clone)]
struct Chunk<V> {
    /// Bit `i` set: slot `i` is present.
    present: [u64; WORDS],
    /// The present slots' values, in slot order.
    values: VecDeque<V>,
}

impl<V> Chunk<V> {
    fn with_capacity(capacity: usize) -> Self {
        Chunk {
            present: [0; WORDS],
            values: VecDeque::with_capacity(capacity),
        }
    }

    fn is_present(&self, slot: usize) -> bool {
        self.present[slot / 64] & (1 << (slot % 64)) != 0
    }

    /// How many present slots are below `slot`: the index of its value.
    fn rank(&self, slot: usize) -> usize {
        let word = slot / 64;
        let below: u32 = self.present[..word]
            .iter()
            .map(|bits| bits.count_ones())
            .sum();
        let partial = self.present[word] & ((1u64 << (slot % 64)) - 1);
        (below + partial.count_ones()) as usize
    }

    fn first_slot(&self) -> Option<usize> {
        first_bit(&self.present)
    }

    fn last_slot(&self) -> Option<usize> {
        (0..WORDS)
            .rev()
            .find(|word| self.present[*word] != 0)
            .map(|word| word * 64 + 63 - self.present[word].leading_zeros() as usize)
    }

    fn get(&self, slot: usize) -> Option<&V> {
        if !self.is_present(slot) {
            return None;
        }
        self.values.get(self.rank(slot))
    }

    fn get_mut(&mut self, slot: usize) -> Option<&mut V> {
        if !self.is_present(slot) {
            return None;
        }
        let at = self.rank(slot);
        self.values.get_mut(at)
    }

    fn insert(&mut self, slot: usize, value: V) -> Option<V> {
        let at = self.rank(slot);
        if self.is_present(slot) {
            return self
                .values
                .get_mut(at)
                .map(|held| std::mem::replace(held, value));
        }
        self.present[slot / 64] |= 1 << (slot % 64);
        if at == self.values.len() {
            self.values.push_back(value);
        } else if at == 0 {
            self.values.push_front(value);
        } else {
            self.values.insert(at, value);
        }
        None
    }

    fn remove(&mut self, slot: usize) -> Option<V> {
        if !self.is_present(slot) {
            return None;
        }
        let at = self.rank(slot);
        self.present[slot / 64] &= !(1 << (slot % 64));
        let value = if at == 0 {
            self.values.pop_front()
        } else {
            self.values.remove(at)
        };
        let len = self.values.len();
        if len > 0 && len * SHRINK_RATIO <= self.values.capacity() {
            self.values.shrink_to(len * 2);
        }
        value
    }
}

/// The lowest set bit of a chunk bitmap.
fn first_bit(bits: &[u64; WORDS]) -> Option<usize> {
    bits.iter()
        .position(|word| *word != 0)
        .map(|word| word * 64 + bits[word].trailing_zeros() as usize)
}

fn split(seq: u64) -> (u64, usize) {
    (seq >> CHUNK_BITS, (seq as usize) & (CHUNK_SLOTS - 1))
}

fn join(chunk: u64, slot: usize) -> u64 {
    (chunk << CHUNK_BITS) | slot as u64
}

/// An ordered map from sequence to `V` (see the module doc).
#[derive(Debug, Clone)]
pub(crate) struct SeqMap<V> {
    chunks: BTreeMap<u64, Chunk<V>>,
    len: usize,
    /// The smallest and largest keys, when not empty.
    bounds: Option<(u64, u64)>,
}

impl<V> Default for SeqMap<V> {
    fn default() -> Self {
        SeqMap {
            chunks: BTreeMap::new(),
            len: 0,
            bounds: None,
        }
    }
}

impl<V> SeqMap<V> {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn first_key(&self) -> Option<u64> {
        self.bounds.map(|(first, _)| first)
    }

    pub(crate) fn last_key(&self) -> Option<u64> {
        self.bounds.map(|(_, last)| last)
    }

    /// The first entry.
    pub(crate) fn first(&self) -> Option<(u64, &V)> {
        let (chunk, held) = self.chunks.first_key_value()?;
        let slot = held.first_slot()?;
        Some((join(*chunk, slot), held.values.front()?))
    }

    pub(crate) fn get(&self, seq: u64) -> Option<&V> {
        let (chunk, slot) = split(seq);
        self.chunks.get(&chunk)?.get(slot)
    }

    pub(crate) fn get_mut(&mut self, seq: u64) -> Option<&mut V> {
        let (chunk, slot) = split(seq);
        self.chunks.get_mut(&chunk)?.get_mut(slot)
    }

    /// Insert `value` at `seq`, returning the value it replaces.
    pub(crate) fn insert(&mut self, seq: u64, value: V) -> Option<V> {
        let (chunk, slot) = split(seq);
        let replaced = match self.chunks.last_entry() {
            Some(mut last) if *last.key() == chunk => last.get_mut().insert(slot, value),
            Some(last) if *last.key() < chunk => {
                // A new chunk at the end: as large as the one before it
                // was full, so a dense stream allocates each chunk once and
                // a sparse one does not allocate 256 slots per entry.
                let capacity = last.get().values.len().next_power_of_two();
                let mut fresh = Chunk::with_capacity(capacity.min(CHUNK_SLOTS));
                fresh.insert(slot, value);
                self.chunks.insert(chunk, fresh);
                None
            }
            _ => self
                .chunks
                .entry(chunk)
                .or_insert_with(|| Chunk::with_capacity(0))
                .insert(slot, value),
        };
        if replaced.is_none() {
            self.len += 1;
            self.bounds = Some(match self.bounds {
                None => (seq, seq),
                Some((first, last)) => (first.min(seq), last.max(seq)),
            });
        }
        replaced
    }

    pub(crate) fn remove(&mut self, seq: u64) -> Option<V> {
        let (chunk, slot) = split(seq);
        let held = self.chunks.get_mut(&chunk)?;
        let value = held.remove(slot)?;
        if held.values.is_empty() {
            self.chunks.remove(&chunk);
        }
        self.len -= 1;
        if let Some((first, last)) = self.bounds {
            self.bounds = if self.len == 0 {
                None
            } else if seq == first {
                self.first_in_chunks().map(|first| (first, last))
            } else if seq == last {
                self.last_in_chunks().map(|last| (first, last))
            } else {
                Some((first, last))
            };
        }
        Some(value)
    }

    fn first_in_chunks(&self) -> Option<u64> {
        let (chunk, held) = self.chunks.first_key_value()?;
        Some(join(*chunk, held.first_slot()?))
    }

    fn last_in_chunks(&self) -> Option<u64> {
        let (chunk, held) = self.chunks.last_key_value()?;
        Some(join(*chunk, held.last_slot()?))
    }

    pub(crate) fn clear(&mut self) {
        *self = SeqMap::default();
    }

    /// Build from entries in strictly ascending order; None if they are not.
    pub(crate) fn from_sorted(entries: Vec<(u64, V)>) -> Option<Self> {
        if entries.windows(2).any(|pair| pair[0].0 >= pair[1].0) {
            return None;
        }
        let mut map = SeqMap {
            chunks: BTreeMap::new(),
            len: entries.len(),
            bounds: entries
                .first()
                .zip(entries.last())
                .map(|(first, last)| (first.0, last.0)),
        };
        let mut entries = entries.into_iter().peekable();
        while let Some((seq, value)) = entries.next() {
            let (chunk, slot) = split(seq);
            let mut held = Chunk::with_capacity(0);
            held.present[slot / 64] |= 1 << (slot % 64);
            let mut values = vec![value];
            while let Some((seq, value)) = entries.next_if(|(next, _)| next >> CHUNK_BITS == chunk)
            {
                let slot = seq as usize & (CHUNK_SLOTS - 1);
                held.present[slot / 64] |= 1 << (slot % 64);
                values.push(value);
            }
            values.shrink_to_fit();
            held.values = VecDeque::from(values);
            map.chunks.insert(chunk, held);
        }
        Some(map)
    }

    /// Entries in ascending order.
    pub(crate) fn iter(&self) -> Iter<'_, V> {
        self.range(..)
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = u64> + '_ {
        self.iter().map(|(seq, _)| seq)
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.iter().map(|(_, value)| value)
    }

    /// Entries whose keys are in `range`, ascending.
    pub(crate) fn range(&self, range: impl RangeBounds<u64>) -> Iter<'_, V> {
        let start = match range.start_bound() {
            Bound::Included(start) => Some(*start),
            Bound::Excluded(start) => start.checked_add(1),
            Bound::Unbounded => Some(0),
        };
        // Exclusive end; None when unbounded.
        let (end, empty_end) = match range.end_bound() {
            Bound::Included(end) => (end.checked_add(1), false),
            Bound::Excluded(end) => (Some(*end), *end == 0),
            Bound::Unbounded => (None, false),
        };
        let start = start.filter(|start| {
            !empty_end
                && match end {
                    Some(end) => *start < end,
                    None => true,
                }
        });
        let Some(start) = start else {
            return Iter {
                chunks: self.chunks.range(0..0),
                current: None,
                end: Some(0),
            };
        };
        let (first_chunk, first_slot) = split(start);
        let mut chunks = self.chunks.range(first_chunk..);
        let mut current = None;
        if let Some((chunk, held)) = chunks.next() {
            if *chunk == first_chunk {
                let mut bits = held.present;
                for word in bits.iter_mut().take(first_slot / 64) {
                    *word = 0;
                }
                bits[first_slot / 64] &= !((1u64 << (first_slot % 64)) - 1);
                current = Some(ChunkIter {
                    chunk: *chunk,
                    bits,
                    values: held.values.range(held.rank(first_slot)..),
                });
            } else {
                current = Some(ChunkIter::whole(*chunk, held));
            }
        }
        Iter {
            chunks,
            current,
            end,
        }
    }

    /// How many keys are at or after `start`: one count per chunk, not per
    /// entry, walking the side of `start` nearer to its end of the key span
    /// (consumers ask near the end, new ones near the start).
    pub(crate) fn count_from(&self, start: u64) -> usize {
        let Some((first, last)) = self.bounds else {
            return 0;
        };
        if start <= first {
            return self.len;
        }
        if start > last {
            return 0;
        }
        let (start_chunk, start_slot) = split(start);
        let partial = |held: &Chunk<V>| held.values.len() - held.rank(start_slot);
        if start - first < last - start {
            let before: usize = self
                .chunks
                .range(..start_chunk)
                .map(|(_, held)| held.values.len())
                .sum();
            let in_start = self
                .chunks
                .get(&start_chunk)
                .map_or(0, |held| held.rank(start_slot));
            self.len - before - in_start
        } else {
            let mut after = self.chunks.range(start_chunk..);
            let mut count = 0;
            if let Some((chunk, held)) = after.next() {
                count += if *chunk == start_chunk {
                    partial(held)
                } else {
                    held.values.len()
                };
            }
            count + after.map(|(_, held)| held.values.len()).sum::<usize>()
        }
    }

    /// Heap bytes held (chunk values and the chunk tree, estimated from
    /// capacities and a B-tree node's typical fill); for tests.
    #[cfg(test)]
    pub(crate) fn heap_bytes(&self) -> usize {
        let values: usize = self
            .chunks
            .values()
            .map(|held| held.values.capacity() * std::mem::size_of::<V>())
            .sum();
        // A B-tree leaf holds up to 11 entries; count each entry at 2/3 fill.
        let per_chunk = (std::mem::size_of::<u64>() + std::mem::size_of::<Chunk<V>>()) * 3 / 2;
        values + self.chunks.len() * per_chunk
    }
}

/// The entries of one chunk still to visit.
#[derive(Debug, Clone)]
struct ChunkIter<'a, V> {
    chunk: u64,
    /// Slots not yet visited.
    bits: [u64; WORDS],
    values: vec_deque::Iter<'a, V>,
}

impl<'a, V> ChunkIter<'a, V> {
    fn whole(chunk: u64, held: &'a Chunk<V>) -> Self {
        ChunkIter {
            chunk,
            bits: held.present,
            values: held.values.iter(),
        }
    }

    fn next(&mut self) -> Option<(u64, &'a V)> {
        let slot = first_bit(&self.bits)?;
        self.bits[slot / 64] &= !(1 << (slot % 64));
        Some((join(self.chunk, slot), self.values.next()?))
    }
}

/// Iterator over a [`SeqMap`] range, ascending.
#[derive(Debug, Clone)]
pub(crate) struct Iter<'a, V> {
    chunks: btree_map::Range<'a, u64, Chunk<V>>,
    current: Option<ChunkIter<'a, V>>,
    /// Exclusive end key; None when unbounded.
    end: Option<u64>,
}

impl<'a, V> Iterator for Iter<'a, V> {
    type Item = (u64, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let current = self.current.as_mut()?;
            if let Some((seq, value)) = current.next() {
                if self.end.is_some_and(|end| seq >= end) {
                    self.current = None;
                    return None;
                }
                return Some((seq, value));
            }
            self.current = self
                .chunks
                .next()
                .map(|(chunk, held)| ChunkIter::whole(*chunk, held));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u64),
        Remove(u64),
        RemoveFirst,
        RemoveLast,
        Append(u64),
    }

    /// Keys near a few bases far apart (huge gaps, chunk edges) or anywhere.
    fn key() -> impl Strategy<Value = u64> {
        prop_oneof![
            0u64..600,
            (0u64..600).prop_map(|k| (1 << 40) + k),
            (0u64..600).prop_map(|k| 1_000_000_000_000_000 + k),
            (0u64..8).prop_map(|k| u64::MAX - k),
            any::<u64>(),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => key().prop_map(Op::Insert),
            2 => key().prop_map(Op::Remove),
            1 => Just(Op::RemoveFirst),
            1 => Just(Op::RemoveLast),
            3 => (1u64..300).prop_map(Op::Append),
        ]
    }

    fn check(map: &SeqMap<u64>, model: &BTreeMap<u64, u64>, probes: &[u64]) {
        assert_eq!(map.len(), model.len());
        assert_eq!(map.is_empty(), model.is_empty());
        assert_eq!(map.first_key(), model.keys().next().copied());
        assert_eq!(map.last_key(), model.keys().next_back().copied());
        assert_eq!(
            map.first().map(|(k, v)| (k, *v)),
            model.iter().next().map(|(k, v)| (*k, *v))
        );
        let all: Vec<(u64, u64)> = map.iter().map(|(k, v)| (k, *v)).collect();
        let expected: Vec<(u64, u64)> = model.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(all, expected);
        for probe in probes {
            assert_eq!(map.get(*probe), model.get(probe));
            let from: Vec<u64> = map.range(*probe..).map(|(k, _)| k).collect();
            let want: Vec<u64> = model.range(*probe..).map(|(k, _)| *k).collect();
            assert_eq!(from, want, "range({probe}..)");
            assert_eq!(map.count_from(*probe), want.len(), "count_from({probe})");
            let below: Vec<u64> = map.range(..*probe).map(|(k, _)| k).collect();
            let want: Vec<u64> = model.range(..*probe).map(|(k, _)| *k).collect();
            assert_eq!(below, want, "range(..{probe})");
            let upto: Vec<u64> = map.range(..=*probe).map(|(k, _)| k).collect();
            let want: Vec<u64> = model.range(..=*probe).map(|(k, _)| *k).collect();
            assert_eq!(upto, want, "range(..={probe})");
            let window = probe.saturating_add(300);
            let mid: Vec<u64> = map.range(*probe..window).map(|(k, _)| k).collect();
            let want: Vec<u64> = model.range(*probe..window).map(|(k, _)| *k).collect();
            assert_eq!(mid, want, "range({probe}..{window})");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn seqmap_matches_btreemap_model(ops in proptest::collection::vec(op(), 1..300)) {
            let mut map = SeqMap::new();
            let mut model = BTreeMap::new();
            let mut probes = vec![0, 1, 255, 256, 257, u64::MAX];
            for (value, op) in ops.into_iter().enumerate() {
                let value = value as u64;
                match op {
                    Op::Insert(k) => {
                        prop_assert_eq!(map.insert(k, value), model.insert(k, value));
                        probes.push(k);
                    }
                    Op::Remove(k) => {
                        prop_assert_eq!(map.remove(k), model.remove(&k));
                        probes.push(k);
                    }
                    Op::RemoveFirst => {
                        let first = model.keys().next().copied();
                        if let Some(k) = first {
                            prop_assert_eq!(map.remove(k), model.remove(&k));
                        }
                    }
                    Op::RemoveLast => {
                        let last = model.keys().next_back().copied();
                        if let Some(k) = last {
                            prop_assert_eq!(map.remove(k), model.remove(&k));
                        }
                    }
                    Op::Append(gap) => {
                        let k = model.keys().next_back().map_or(gap, |last| last.saturating_add(gap));
                        prop_assert_eq!(map.insert(k, value), model.insert(k, value));
                    }
                }
                if let Some(k) = map.get_mut(value) {
                    *k += 1;
                    if let Some(v) = model.get_mut(&value) {
                        *v += 1;
                    }
                }
            }
            probes.extend(model.keys().flat_map(|k| [k.saturating_sub(1), *k, k.saturating_add(1)]));
            check(&map, &model, &probes);
            let rebuilt = SeqMap::from_sorted(model.iter().map(|(k, v)| (*k, *v)).collect());
            prop_assert!(rebuilt.is_some());
            if let Some(rebuilt) = rebuilt {
                check(&rebuilt, &model, &probes);
            }
        }
    }

    #[test]
    fn from_sorted_refuses_unsorted_or_duplicate_keys() {
        assert!(SeqMap::from_sorted(vec![(2, ()), (1, ())]).is_none());
        assert!(SeqMap::from_sorted(vec![(1, ()), (1, ())]).is_none());
        assert!(SeqMap::<()>::from_sorted(Vec::new()).is_some_and(|map| map.is_empty()));
    }

    #[test]
    fn sparse_map_over_a_trillion_sequences_stays_small() {
        let mut map = SeqMap::new();
        let base = 1_000_000_000_000_000u64;
        for i in 0..100u64 {
            map.insert(base + i * 10_000_000_000, [0u64; 4]);
        }
        assert_eq!(map.len(), 100);
        // One chunk per entry: its bitmap, deque and a few value slots.
        assert!(map.heap_bytes() < 100 * 512, "{} bytes", map.heap_bytes());
        assert_eq!(map.range(base + 1..).count(), 99);
        assert_eq!(map.count_from(base + 500 * 10_000_000_000), 0);
    }

    #[test]
    fn dense_map_costs_little_more_than_its_values() {
        let mut map = SeqMap::new();
        for seq in 1..=100_000u64 {
            map.insert(seq, [0u64; 4]);
        }
        let per_entry = map.heap_bytes() as f64 / 100_000.0;
        assert!(per_entry < 33.0, "{per_entry} bytes per 32-byte entry");
    }

    #[test]
    fn drained_front_and_thinned_chunks_give_memory_back() {
        let mut map = SeqMap::new();
        for seq in 1..=100_000u64 {
            map.insert(seq, [0u64; 4]);
        }
        // A work queue: the front is removed...
        for seq in 1..=50_000u64 {
            assert!(map.remove(seq).is_some());
            assert_eq!(map.first_key(), Some(seq + 1));
        }
        // ...and a KV stream thins the rest to one entry per 1000.
        for seq in 50_001..=100_000u64 {
            if seq % 1000 != 0 {
                map.remove(seq);
            }
        }
        assert_eq!(map.len(), 50);
        assert!(map.heap_bytes() < 50 * 1024, "{} bytes", map.heap_bytes());
        for seq in 50_001..=100_000u64 {
            map.remove(seq);
        }
        assert!(map.is_empty());
        assert_eq!(map.heap_bytes(), 0);
        assert_eq!(map.first_key(), None);
    }
}
