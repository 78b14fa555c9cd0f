//! Disk space comes back: a drained work queue, a purge, and erase.

use starling_store::{FileStore, FileStoreConfig, MessageStore, MSGS_DIR};

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir.join(MSGS_DIR))
        .expect("list")
        .map(|e| e.expect("entry").metadata().expect("meta").len())
        .sum()
}

#[test]
fn a_drained_work_queue_gives_its_disk_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let block_size = 16 * 1024;
    let mut store = FileStore::open(
        dir.path(),
        FileStoreConfig {
            block_size,
            ..FileStoreConfig::default()
        },
    )
    .expect("open");
    let payload = [7u8; 200];
    let mut next_ack = 1u64;
    for round in 0..20u64 {
        for i in 0..100u64 {
            store
                .store_msg("jobs", b"", &payload, (round * 100 + i) as i64, None)
                .expect("store");
        }
        store.flush_and_sync().expect("sync");
        // The consumer acks everything published so far, in order.
        while next_ack <= store.state().last_seq {
            assert!(store.remove_msg(next_ack).expect("ack"));
            next_ack += 1;
        }
        store.flush_and_sync().expect("sync");
    }
    let written = 20 * 100 * 250u64;
    let left = dir_bytes(dir.path());
    assert_eq!(store.state().msgs, 0);
    assert!(
        left < block_size,
        "{left} bytes left after draining {written} bytes in {block_size}-byte blocks"
    );
    drop(store);
    let store = FileStore::open(
        dir.path(),
        FileStoreConfig {
            block_size,
            ..FileStoreConfig::default()
        },
    )
    .expect("reopen");
    assert_eq!(store.state().last_seq, 2000);
    assert_eq!(store.state().first_seq, 2001);
}

#[test]
fn purge_unlinks_everything_but_a_fresh_tail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = FileStoreConfig {
        block_size: 4096,
        ..FileStoreConfig::default()
    };
    let mut store = FileStore::open(dir.path(), config.clone()).expect("open");
    for i in 0..1000u64 {
        store
            .store_msg("p", b"", &[1u8; 100], i as i64, None)
            .expect("store");
    }
    store.flush_and_sync().expect("sync");
    assert!(dir_bytes(dir.path()) > 100_000);
    assert_eq!(store.purge().expect("purge"), 1000);
    assert!(dir_bytes(dir.path()) < 100, "{}", dir_bytes(dir.path()));
    drop(store);
    let store = FileStore::open(dir.path(), config).expect("reopen");
    assert_eq!(
        (
            store.state().msgs,
            store.state().last_seq,
            store.state().first_seq
        ),
        (0, 1000, 1001)
    );
}

#[test]
fn erase_removes_the_bytes_from_the_block_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = FileStore::open(dir.path(), FileStoreConfig::default()).expect("open");
    store
        .store_msg("a", b"", b"keep-me-1", 1, None)
        .expect("store");
    store
        .store_msg("a", b"", b"SECRET-PAYLOAD", 2, None)
        .expect("store");
    store
        .store_msg("a", b"", b"keep-me-3", 3, None)
        .expect("store");
    assert!(store.erase_msg(2).expect("erase"));
    let mut contents = Vec::new();
    for entry in std::fs::read_dir(dir.path().join(MSGS_DIR)).expect("list") {
        contents.extend(std::fs::read(entry.expect("entry").path()).expect("read"));
    }
    assert!(
        !contents.windows(14).any(|w| w == b"SECRET-PAYLOAD"),
        "erased payload still on disk"
    );
    assert_eq!(&store.load_msg(3).expect("load").payload[..], b"keep-me-3");
}

/// Sequential reads are served from a cached span of the block; a
/// compaction that rewrites the block (records move) must not serve the
/// old span's bytes afterwards.
#[test]
fn reads_after_a_block_is_compacted_see_the_moved_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = FileStoreConfig {
        block_size: 64 * 1024,
        ..FileStoreConfig::default()
    };
    let mut store = FileStore::open(dir.path(), config).expect("open");
    let payload = |i: u64| format!("payload-{i:06}").into_bytes();
    for i in 1..=2000u64 {
        store
            .store_msg(&format!("s.{}", i % 7), b"", &payload(i), i as i64, None)
            .expect("store");
    }
    store.flush_and_sync().expect("sync");
    let check = |store: &FileStore, seqs: &mut dyn Iterator<Item = u64>| {
        for seq in seqs {
            let msg = store.load_msg(seq).expect("load");
            assert_eq!(msg.seq, seq);
            assert_eq!(&msg.payload[..], &payload(seq)[..], "seq {seq}");
            assert_eq!(msg.subject, format!("s.{}", seq % 7));
        }
    };
    // Forward reads: the cache holds spans of the sealed blocks now.
    check(&store, &mut (1..=2000));
    // Remove most of the first blocks so they are compacted (rewritten).
    for seq in (1..=1500u64).filter(|seq| seq % 10 != 0) {
        assert!(store.remove_msg(seq).expect("remove"));
    }
    store.flush_and_sync().expect("sync");
    check(&store, &mut (10..=1500).step_by(10));
    check(&store, &mut (1501..=2000));
    // Lone lookups backwards, then forwards again.
    check(&store, &mut (1501..=2000).rev());
    check(&store, &mut (10..=1500).step_by(10));
}
