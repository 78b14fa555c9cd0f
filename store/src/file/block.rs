//! A block (segment) file and what the store knows about it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::storage::SegmentFile;

/// Where a message record lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Loc {
    /// Block id.
    pub block: u32,
    /// Byte offset of the record in the block.
    pub offset: u32,
    /// Record length.
    pub len: u32,
}

/// One `msgs/<id>.blk` file.
pub(crate) struct Block {
    pub file: Box<dyn SegmentFile>,
    /// Bytes in the block, including any still in the store's write buffer.
    pub len: u64,
    /// Held messages whose records are here.
    pub live: u64,
    /// Record bytes of those messages.
    pub live_bytes: u64,
    /// Removed messages whose records are still here (nats `dmap`).
    pub dead: BTreeSet<u64>,
    /// Targets of the tombstone records here.
    pub tombstones: BTreeSet<u64>,
    /// Offset and checksum of the last record, checked against the snapshot.
    pub last_record: Option<(u64, u32)>,
}

impl Block {
    pub(crate) fn new(file: Box<dyn SegmentFile>) -> Self {
        Block {
            file,
            len: 0,
            live: 0,
            live_bytes: 0,
            dead: BTreeSet::new(),
            tombstones: BTreeSet::new(),
            last_record: None,
        }
    }
}

/// The file name of block `id`.
pub(crate) fn block_file_name(id: u32) -> String {
    format!("{id}.blk")
}

/// The path of block `id` under `msgs_dir`.
pub(crate) fn block_path(msgs_dir: &Path, id: u32) -> PathBuf {
    msgs_dir.join(block_file_name(id))
}

/// The id in a block file name (`<id>.blk`), if it is one.
pub(crate) fn parse_block_name(name: &str) -> Option<u32> {
    name.strip_suffix(".blk")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::Loc;
    use crate::index::Entry;

    #[test]
    fn file_store_index_entry_is_32_bytes() {
        assert!(std::mem::size_of::<Entry<Loc>>() <= 32);
    }
}
