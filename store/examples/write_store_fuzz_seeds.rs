//! Writes the seeds of the `store_record` fuzz target (fuzz/README.md):
//! real stream directories made by a `FileStore` on the simulated disk, in
//! the target's input format (`fuzz/src/store_files.rs`).
//!
//! `cargo run -p starling-store --example write_store_fuzz_seeds -- fuzz/seeds`

use std::path::{Path, PathBuf};
use std::sync::Arc;

use starling_store::{
    FileStore, FileStoreConfig, MessageStore, SimStorage, Storage, StoreConfig, MSGS_DIR,
    SNAPSHOT_FILE,
};

/// Flag bits and tags of the input format (see `fuzz/src/store_files.rs`).
const REPAIR_RECORDS: u8 = 1;
const REPAIR_SNAPSHOT: u8 = 2;
/// Bits 2-3 = 0: 256-byte blocks, so a few messages fill several.
const SMALL_BLOCKS: u8 = 0;
/// Bits 2-3 = 3: 4 MiB blocks.
const DEFAULT_BLOCKS: u8 = 3 << 2;
const SNAPSHOT_TAG: u8 = 0xF0;
const DIR: &str = "/stream";

fn config(block_size: u64) -> FileStoreConfig {
    FileStoreConfig {
        store: StoreConfig::default(),
        block_size,
        write_buffer: 256,
    }
}

/// The files of the stream directory, as `(tag, bytes)` sections.
fn sections(storage: &SimStorage) -> Vec<(u8, Vec<u8>)> {
    let dir = Path::new(DIR);
    let msgs = dir.join(MSGS_DIR);
    let mut out = Vec::new();
    let mut names = storage.list(&msgs).expect("list");
    names.sort_by_key(|name| {
        name.trim_end_matches(".blk")
            .parse::<u32>()
            .unwrap_or(u32::MAX)
    });
    for name in names {
        let Some(id) = name
            .strip_suffix(".blk")
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let tag = u8::try_from(id - 1).expect("few blocks");
        out.push((tag, storage.read_all(&msgs.join(&name)).expect("read")));
    }
    if let Ok(snapshot) = storage.read_all(&dir.join(SNAPSHOT_FILE)) {
        out.push((SNAPSHOT_TAG, snapshot));
    }
    out
}

fn encode(flags: u8, sections: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut out = vec![flags, 1];
    for (tag, bytes) in sections {
        out.push(*tag);
        let len = u16::try_from(bytes.len()).expect("small file");
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(bytes);
    }
    out
}

fn store(storage: &SimStorage, block_size: u64) -> FileStore {
    FileStore::open_with(Arc::new(storage.clone()), DIR, config(block_size)).expect("open")
}

fn main() {
    let root: PathBuf = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fuzz/seeds".into())
        .into();
    let out = root.join("store_record");
    std::fs::create_dir_all(&out).expect("seed dir");
    let write = |name: &str, bytes: Vec<u8>| {
        std::fs::write(out.join(name), bytes).expect("write seed");
    };
    const T: i64 = 1_700_000_000_000_000_000;

    // One block, a few messages with and without headers, no snapshot.
    let storage = SimStorage::new(1);
    let mut s = store(&storage, 4 * 1024 * 1024);
    for (n, subject) in ["orders.a", "orders.b", "orders.a"].iter().enumerate() {
        let headers: &[u8] = if n == 1 {
            b"NATS/1.0\r\nNats-Msg-Id: x\r\n\r\n"
        } else {
            b""
        };
        s.store_msg(subject, headers, b"payload", T + n as i64, None)
            .expect("store");
    }
    s.sync().expect("sync");
    drop(s);
    write(
        "one_block",
        encode(REPAIR_RECORDS | DEFAULT_BLOCKS, &sections(&storage)),
    );

    // Several small blocks, removals (tombstones), TTLs, then a clean
    // close: blocks plus an index snapshot.
    let storage = SimStorage::new(2);
    let mut s = store(&storage, 256);
    for n in 0..12i64 {
        let ttl = (n % 4 == 0).then_some(5_000_000_000);
        s.store_msg(&format!("kv.k{}", n % 3), b"", b"v", T + n, ttl)
            .expect("store");
    }
    s.remove_msg(2).expect("remove");
    s.remove_msg(7).expect("remove");
    s.close().expect("close");
    let files = sections(&storage);
    write(
        "blocks_tombstones_snapshot",
        encode(REPAIR_RECORDS | REPAIR_SNAPSHOT | SMALL_BLOCKS, &files),
    );

    // The same blocks without the snapshot, and with a torn tail record.
    let blocks: Vec<(u8, Vec<u8>)> = files
        .iter()
        .filter(|(tag, _)| *tag < SNAPSHOT_TAG)
        .cloned()
        .collect();
    write("blocks_only", encode(SMALL_BLOCKS, &blocks));
    let mut torn = blocks.clone();
    if let Some((_, last)) = torn.last_mut() {
        last.truncate(last.len().saturating_sub(5));
    }
    write("torn_tail", encode(SMALL_BLOCKS, &torn));

    // A purge and a compaction past the end: markers.
    let storage = SimStorage::new(3);
    let mut s = store(&storage, 4 * 1024 * 1024);
    for n in 0..4i64 {
        s.store_msg("events.x", b"", b"e", T + n, None)
            .expect("store");
    }
    s.purge().expect("purge");
    s.compact(10).expect("compact");
    s.store_msg("events.y", b"", b"after", T + 9, None)
        .expect("store");
    s.close().expect("close");
    write(
        "purge_compact_markers",
        encode(
            REPAIR_RECORDS | REPAIR_SNAPSHOT | DEFAULT_BLOCKS,
            &sections(&storage),
        ),
    );
    println!("seeds written to {}", out.display());
}
