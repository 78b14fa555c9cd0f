//! Damaged files on a real disk: torn tails at every offset, garbage after
//! the tail, a corrupt block in the middle, and bad or stale snapshots.
//! Recovery never panics, drops only what is damaged, and says so.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use starling_store::{
    decode_record, FileStore, FileStoreConfig, MessageStore, MSGS_DIR, SNAPSHOT_FILE,
};

fn config(block_size: u64) -> FileStoreConfig {
    FileStoreConfig {
        block_size,
        ..FileStoreConfig::default()
    }
}

fn fill(dir: &Path, count: u64, block_size: u64) {
    let mut store = FileStore::open(dir, config(block_size)).expect("open");
    for i in 1..=count {
        let seq = store
            .store_msg(
                &format!("s.{}", i % 3),
                b"",
                format!("payload-{i:04}").as_bytes(),
                i as i64,
                None,
            )
            .expect("store");
        assert_eq!(seq, i);
    }
    store.flush_and_sync().expect("sync");
}

fn block(dir: &Path, id: u32) -> PathBuf {
    dir.join(MSGS_DIR).join(format!("{id}.blk"))
}

/// Offsets of the records in a block file.
fn record_offsets(path: &Path) -> Vec<usize> {
    let bytes = fs::read(path).expect("read block");
    let mut offsets = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        offsets.push(at);
        let (_, len, _) = decode_record(&bytes[at..]).expect("clean block decodes");
        at += len;
    }
    offsets
}

fn assert_payloads(store: &FileStore, seqs: impl Iterator<Item = u64>) {
    for seq in seqs {
        let msg = store
            .load_msg(seq)
            .unwrap_or_else(|e| panic!("seq {seq} missing: {e}"));
        assert_eq!(&msg.payload[..], format!("payload-{seq:04}").as_bytes());
    }
}

#[test]
fn a_torn_tail_at_any_offset_drops_only_the_last_record() {
    let template = tempfile::tempdir().expect("tempdir");
    fill(template.path(), 20, 1 << 20);
    let path = block(template.path(), 1);
    let full = fs::read(&path).expect("read");
    let last_start = *record_offsets(&path).last().expect("records");
    for cut in last_start..full.len() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::create_dir_all(dir.path().join(MSGS_DIR)).expect("mkdir");
        fs::write(block(dir.path(), 1), &full[..cut]).expect("write torn block");
        let mut store = FileStore::open(dir.path(), config(1 << 20)).expect("open torn store");
        let state = store.state();
        assert_eq!((state.msgs, state.last_seq), (19, 19), "cut at {cut}");
        let report = store.recovery_report().clone();
        assert_eq!(
            report.torn_tail.is_some(),
            cut > last_start,
            "cut at {cut}: {report:?}"
        );
        assert!(report.damaged.is_empty());
        assert_payloads(&store, 1..=19);
        // The torn bytes are gone: the next append lands cleanly and survives a reopen.
        assert_eq!(
            store
                .store_msg("s.x", b"", b"payload-0020", 20, None)
                .expect("append"),
            20
        );
        store.flush_and_sync().expect("sync");
        drop(store);
        let store = FileStore::open(dir.path(), config(1 << 20)).expect("reopen");
        assert!(store.recovery_report().torn_tail.is_none());
        assert_payloads(&store, 1..=20);
    }
}

#[test]
fn garbage_after_the_tail_is_dropped_and_logged_in_the_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    fill(dir.path(), 10, 1 << 20);
    let mut file = OpenOptions::new()
        .append(true)
        .open(block(dir.path(), 1))
        .expect("open block");
    file.write_all(&[0xAB; 37]).expect("garbage");
    drop(file);
    let store = FileStore::open(dir.path(), config(1 << 20)).expect("open");
    let (_, _, dropped) = store
        .recovery_report()
        .torn_tail
        .expect("torn tail reported");
    assert_eq!(dropped, 37);
    assert_eq!(store.state().msgs, 10);
    assert_payloads(&store, 1..=10);
}

#[test]
fn a_corrupt_middle_block_loses_only_its_own_records_and_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    fill(dir.path(), 60, 400);
    let blocks = fs::read_dir(dir.path().join(MSGS_DIR))
        .expect("list")
        .count();
    assert!(blocks >= 4, "want several blocks, got {blocks}");
    let damaged = block(dir.path(), 2);
    let offsets = record_offsets(&damaged);
    let bad_offset = offsets[2];
    // Sequences before the damage in block 2 (record 0 is the block's marker).
    let kept_in_block: Vec<u64> = {
        let bytes = fs::read(&damaged).expect("read");
        offsets[..2]
            .iter()
            .filter_map(
                |at| match decode_record(&bytes[*at..]).expect("decodes").0 {
                    starling_store::Record::Message { seq, .. } => Some(seq),
                    _ => None,
                },
            )
            .collect()
    };
    let lost: Vec<u64> = {
        let bytes = fs::read(&damaged).expect("read");
        offsets[2..]
            .iter()
            .filter_map(
                |at| match decode_record(&bytes[*at..]).expect("decodes").0 {
                    starling_store::Record::Message { seq, .. } => Some(seq),
                    _ => None,
                },
            )
            .collect()
    };
    let mut bytes = fs::read(&damaged).expect("read");
    bytes[bad_offset + 15] ^= 0x40;
    fs::write(&damaged, &bytes).expect("write");
    let store = FileStore::open(dir.path(), config(400)).expect("open");
    let report = store.recovery_report();
    assert_eq!(report.damaged.len(), 1, "{report:?}");
    assert_eq!(
        (report.damaged[0].block, report.damaged[0].offset),
        (2, bad_offset as u64)
    );
    assert!(report.torn_tail.is_none());
    let state = store.state();
    assert_eq!(state.msgs, 60 - lost.len() as u64);
    assert_eq!(state.last_seq, 60);
    for seq in &lost {
        assert!(store.load_msg(*seq).is_err(), "seq {seq} should be lost");
    }
    assert_payloads(&store, (1..=60).filter(|seq| !lost.contains(seq)));
    assert!(!kept_in_block.is_empty());
}

#[test]
fn a_clean_close_reopens_from_the_snapshot_and_scans_only_newer_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    fill(dir.path(), 100, 1024);
    let store = FileStore::open(dir.path(), config(1024)).expect("open");
    let state = store.state();
    store.close().expect("close");
    let mut store = FileStore::open(dir.path(), config(1024)).expect("reopen");
    let report = store.recovery_report().clone();
    assert!(report.used_snapshot, "{report:?}");
    assert_eq!(report.records_scanned, 0, "{report:?}");
    assert_eq!(store.state(), state);
    assert_payloads(&store, 1..=100);
    for i in 101..=130u64 {
        store
            .store_msg(
                "s.new",
                b"",
                format!("payload-{i:04}").as_bytes(),
                i as i64,
                None,
            )
            .expect("store");
    }
    store.remove_msg(5).expect("remove");
    store.flush_and_sync().expect("sync");
    let state = store.state();
    drop(store);
    let store = FileStore::open(dir.path(), config(1024)).expect("reopen after more writes");
    let report = store.recovery_report().clone();
    assert!(report.used_snapshot, "{report:?}");
    assert!(
        report.records_scanned > 0 && report.records_scanned < 60,
        "{report:?}"
    );
    assert_eq!(store.state(), state);
    assert!(store.load_msg(5).is_err());
}

#[test]
fn a_corrupt_or_stale_snapshot_is_rejected_and_everything_is_rescanned() {
    let dir = tempfile::tempdir().expect("tempdir");
    fill(dir.path(), 50, 1024);
    let store = FileStore::open(dir.path(), config(1024)).expect("open");
    let state = store.state();
    store.close().expect("close");
    let snapshot = dir.path().join(SNAPSHOT_FILE);
    let mut bytes = fs::read(&snapshot).expect("read snapshot");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    fs::write(&snapshot, &bytes).expect("write");
    let store = FileStore::open(dir.path(), config(1024)).expect("open with bad snapshot");
    let report = store.recovery_report().clone();
    assert!(
        !report.used_snapshot && report.snapshot_rejected.is_some(),
        "{report:?}"
    );
    assert_eq!(store.state(), state);
    store.close().expect("close");
    // A block shorter than the snapshot says (its tail torn later) makes it stale.
    let tail = fs::read_dir(dir.path().join(MSGS_DIR))
        .expect("list")
        .count() as u32;
    let path = block(dir.path(), tail);
    let len = fs::metadata(&path).expect("meta").len();
    OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open")
        .set_len(len - 3)
        .expect("cut");
    let store = FileStore::open(dir.path(), config(1024)).expect("open with stale snapshot");
    let report = store.recovery_report().clone();
    assert!(
        !report.used_snapshot && report.torn_tail.is_some(),
        "{report:?}"
    );
    assert_eq!(store.state().msgs, state.msgs - 1);
}
