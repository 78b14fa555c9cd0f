//! The input format of the `store_record` target: a stream directory's
//! files in one byte string, mutation-friendly.
//!
//! ```text
//! byte 0   flags: bit 0 = repair each record's CRC-32, bit 1 = repair the
//!          snapshot's CRC-32, bits 2-3 = block size (256 B, 1 KiB, 4 KiB,
//!          4 MiB)
//! byte 1   first_seq of the stream (0 is taken as 1)
//! then sections: tag (1 byte), length (2 bytes LE, cut to what is left),
//!          bytes. Tag < 0xF0: block file `<tag + 1>.blk`; tag >= 0xF0:
//!          `index.snap`. A later section with the same name replaces one.
//! ```
//!
//! Repairing the checksums lets the fuzzer change a record's fields (and
//! the snapshot's) without every mutation ending at the CRC check; without
//! it, the bytes reach the store exactly as given.

use std::collections::BTreeMap;

/// Tags from here on name the index snapshot.
pub const SNAPSHOT_TAG: u8 = 0xF0;
/// Flag: recompute the CRC-32 of each record (walking by length field).
pub const REPAIR_RECORDS: u8 = 1;
/// Flag: recompute the snapshot's trailing CRC-32.
pub const REPAIR_SNAPSHOT: u8 = 2;

/// A stream directory to recover.
#[derive(Debug, Default)]
pub struct StoreFiles {
    /// Block id -> content.
    pub blocks: BTreeMap<u32, Vec<u8>>,
    /// `index.snap`, if present.
    pub snapshot: Option<Vec<u8>>,
    /// The stream's first sequence.
    pub first_seq: u64,
    /// Block size of the store opened on them.
    pub block_size: u64,
}

/// Split the fuzz input into files (never fails: whatever is left over is
/// the last section's).
pub fn parse(data: &[u8]) -> StoreFiles {
    let flags = data.first().copied().unwrap_or(0);
    let first_seq = u64::from(data.get(1).copied().unwrap_or(1).max(1));
    let block_size = [256, 1024, 4096, 4 * 1024 * 1024][usize::from((flags >> 2) & 3)];
    let mut files = StoreFiles {
        first_seq,
        block_size,
        ..StoreFiles::default()
    };
    let mut rest = data.get(2..).unwrap_or(&[]);
    while let Some((&tag, after)) = rest.split_first() {
        let len = match after {
            [low, high, ..] => usize::from(u16::from_le_bytes([*low, *high])),
            _ => 0,
        };
        let body = after.get(2..).unwrap_or(&[]);
        let (content, next) = body.split_at(len.min(body.len()));
        let mut content = content.to_vec();
        if tag >= SNAPSHOT_TAG {
            if flags & REPAIR_SNAPSHOT != 0 {
                repair_snapshot(&mut content);
            }
            files.snapshot = Some(content);
        } else {
            if flags & REPAIR_RECORDS != 0 {
                repair_records(&mut content);
            }
            files.blocks.insert(u32::from(tag) + 1, content);
        }
        rest = next;
    }
    files
}

/// Encode files in the format [`parse`] reads (for seeds), with no repair.
pub fn encode(flags: u8, first_seq: u8, files: &[(u8, &[u8])]) -> Vec<u8> {
    let mut out = vec![flags, first_seq];
    for (tag, bytes) in files {
        out.push(*tag);
        let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&bytes[..usize::from(len)]);
    }
    out
}

/// Recompute each record's CRC, following the length fields while they
/// fit.
fn repair_records(bytes: &mut [u8]) {
    let mut offset = 0usize;
    while let Some(head) = bytes.get(offset..offset + 4) {
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        if len < starling_store::record::MIN_RECORD_LEN || offset + len > bytes.len() {
            return;
        }
        let body_end = offset + len - 4;
        let checksum = crc32fast::hash(&bytes[offset..body_end]);
        bytes[body_end..offset + len].copy_from_slice(&checksum.to_le_bytes());
        offset += len;
    }
}

/// Recompute the snapshot's trailing CRC.
fn repair_snapshot(bytes: &mut [u8]) {
    if bytes.len() < 4 {
        return;
    }
    let body_end = bytes.len() - 4;
    let checksum = crc32fast::hash(&bytes[..body_end]);
    bytes[body_end..].copy_from_slice(&checksum.to_le_bytes());
}
