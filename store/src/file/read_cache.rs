//! Recently read spans of block files. Consumers read a stream in sequence
//! order, so one `read_at` of a span serves the next few thousand small
//! records instead of one `pread` (and one allocation) per message, as
//! nats-server's per-block cache does. A span is only ever a copy of
//! bytes already handed to the OS: appends never change them, and the
//! store forgets a block's spans whenever it rewrites, truncates or
//! removes that block's file.

use super::block::Loc;

/// Bytes read at once on a miss.
pub(super) const SPAN_BYTES: usize = 256 * 1024;
/// Spans kept per store (a few consumers at different positions).
const SPANS: usize = 4;
/// Records larger than this are read on their own, never cached.
pub(super) const MAX_CACHED_RECORD: usize = SPAN_BYTES / 4;

struct Span {
    block: u32,
    start: u64,
    bytes: Vec<u8>,
    last_used: u64,
}

impl Span {
    /// The record at `loc`, if this span holds all of it.
    fn record(&self, loc: Loc) -> Option<&[u8]> {
        if self.block != loc.block {
            return None;
        }
        let from = usize::try_from(u64::from(loc.offset).checked_sub(self.start)?).ok()?;
        self.bytes.get(from..from.checked_add(loc.len as usize)?)
    }
}

/// At most [`SPANS`] spans, the least recently used replaced first.
#[derive(Default)]
pub(super) struct ReadCache {
    spans: Vec<Span>,
    clock: u64,
    /// Where the last record asked for ended: (block, offset).
    last_end: Option<(u32, u64)>,
}

impl ReadCache {
    /// Note a read of `loc`; true when it follows the previous one closely
    /// (a reader going forward through the block), so a miss is worth a
    /// whole span. A lone lookup (a KV get) reads just its record.
    pub(super) fn note_read(&mut self, loc: Loc) -> bool {
        let offset = u64::from(loc.offset);
        let sequential = matches!(self.last_end,
            Some((block, end)) if block == loc.block && end <= offset && offset - end <= SPAN_BYTES as u64);
        self.last_end = Some((loc.block, offset + u64::from(loc.len)));
        sequential
    }

    /// The cached bytes of the record at `loc`.
    pub(super) fn record(&mut self, loc: Loc) -> Option<&[u8]> {
        self.clock += 1;
        let clock = self.clock;
        let span = self
            .spans
            .iter_mut()
            .find(|span| span.record(loc).is_some())?;
        span.last_used = clock;
        span.record(loc)
    }

    /// Keep `bytes`, read from `block` at `start`.
    pub(super) fn insert(&mut self, block: u32, start: u64, bytes: Vec<u8>) {
        self.clock += 1;
        let span = Span {
            block,
            start,
            bytes,
            last_used: self.clock,
        };
        if self.spans.len() < SPANS {
            self.spans.push(span);
        } else if let Some(oldest) = self.spans.iter_mut().min_by_key(|span| span.last_used) {
            *oldest = span;
        }
    }

    /// Drop every span of `block` (its file was rewritten or removed).
    pub(super) fn forget(&mut self, block: u32) {
        self.spans.retain(|span| span.block != block);
    }

    /// Drop everything (the block table was rebuilt).
    pub(super) fn clear(&mut self) {
        self.spans.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(block: u32, offset: u32, len: u32) -> Loc {
        Loc { block, offset, len }
    }

    #[test]
    fn serves_records_inside_a_span_only() {
        let mut cache = ReadCache::default();
        cache.insert(1, 100, (0u8..50).collect());
        assert_eq!(cache.record(loc(1, 100, 3)), Some(&[0u8, 1, 2][..]));
        assert_eq!(cache.record(loc(1, 147, 3)), Some(&[47u8, 48, 49][..]));
        // Past the end, before the start, another block.
        assert_eq!(cache.record(loc(1, 148, 3)), None);
        assert_eq!(cache.record(loc(1, 99, 3)), None);
        assert_eq!(cache.record(loc(2, 100, 3)), None);
    }

    #[test]
    fn replaces_the_least_recently_used_and_forgets_blocks() {
        let mut cache = ReadCache::default();
        for block in 0..SPANS as u32 {
            cache.insert(block, 0, vec![block as u8; 10]);
        }
        // Touch block 0, so block 1 is now the oldest.
        assert!(cache.record(loc(0, 0, 1)).is_some());
        cache.insert(9, 0, vec![9; 10]);
        assert!(cache.record(loc(1, 0, 1)).is_none());
        assert!(cache.record(loc(0, 0, 1)).is_some());
        assert!(cache.record(loc(9, 0, 1)).is_some());
        cache.forget(9);
        assert!(cache.record(loc(9, 0, 1)).is_none());
        cache.clear();
        assert!(cache.record(loc(0, 0, 1)).is_none());
    }

    #[test]
    fn only_forward_reads_count_as_sequential() {
        let mut cache = ReadCache::default();
        assert!(!cache.note_read(loc(1, 0, 10)));
        assert!(cache.note_read(loc(1, 10, 10)));
        assert!(
            cache.note_read(loc(1, 40, 10)),
            "a small gap (a deleted record)"
        );
        assert!(!cache.note_read(loc(1, 0, 10)), "backwards");
        assert!(!cache.note_read(loc(2, 10, 10)), "another block");
        assert!(
            !cache.note_read(loc(2, 10 + 2 * SPAN_BYTES as u32, 10)),
            "far ahead"
        );
    }
}
