//! The JetStream file store's record reader and recovery over arbitrary
//! files (see `starling_fuzz::store_files` for the input format).
//!
//! Checked, besides "no panic, no hang":
//! - `decode_record` over each file, record by record: a decoded record
//!   lies inside the bytes, `record_checksum` agrees, and re-encoding it
//!   decodes to the same record.
//! - `FileStore::open_with` on a simulated disk holding those files (block
//!   files and an index snapshot): open either fails with an error or gives
//!   a store whose reads (`state`, `load_msg`, `load_next_msg`,
//!   `load_last_msg`, `subjects_state`, `filtered_state`, `num_pending`,
//!   `deleted`) answer, and that takes a new message at `last + 1`.
//! - When recovery read every record (no snapshot adopted): `state().msgs`
//!   is the number of loadable messages, each loads under its own
//!   sequence, `deleted()` has `num_deleted` entries, and a clean close
//!   (index snapshot) and reopen give the same state, as does a reopen
//!   from the blocks alone. An adopted snapshot is trusted for what it
//!   covers (CRC-checked, written by the store), so a snapshot the fuzzer
//!   made to disagree with its blocks is only checked for "no panic".

#![no_main]

use std::path::Path;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use starling_fuzz::store_files::{self, StoreFiles};
use starling_store::record::{decode_record, encode_marker, encode_message, encode_tombstone};
use starling_store::{
    FileStore, FileStoreConfig, MessageStore, Record, SimStorage, Storage, StoreConfig,
    StreamState, MSGS_DIR, SNAPSHOT_FILE,
};

/// Most sequences read one by one after an open (a record may claim any
/// sequence; the walk stays bounded).
const MAX_WALK: u64 = 2048;

/// The stream directory on the simulated disk.
const DIR: &str = "/stream";

fuzz_target!(|data: &[u8]| {
    let files = store_files::parse(data);
    for (_, bytes) in &files.blocks {
        check_records(bytes);
    }
    if let Some(snapshot) = &files.snapshot {
        check_records(snapshot);
    }
    check_recovery(&files);
});

/// Walk `bytes` record by record, as recovery does.
fn check_records(bytes: &[u8]) {
    let mut offset = 0;
    while offset < bytes.len() {
        let rest = &bytes[offset..];
        let Ok((record, len, checksum)) = decode_record(rest) else {
            return;
        };
        assert!(
            (starling_store::record::MIN_RECORD_LEN..=rest.len()).contains(&len),
            "record length {len} outside the input"
        );
        assert_eq!(
            starling_store::record::record_checksum(rest),
            Some(checksum),
            "record_checksum disagrees with decode_record"
        );
        let mut encoded = Vec::new();
        match record {
            Record::Message {
                seq,
                ts,
                ttl,
                subject,
                headers,
                payload,
            } => {
                encode_message(&mut encoded, seq, ts, ttl, subject, headers, payload);
            }
            Record::Tombstone { seq, ts } => {
                encode_tombstone(&mut encoded, seq, ts);
            }
            Record::Marker { seq, ts } => {
                encode_marker(&mut encoded, seq, ts);
            }
        }
        let (again, again_len, _) = decode_record(&encoded).expect("a re-encoded record decodes");
        assert_eq!(again, record, "a record changed when re-encoded");
        assert_eq!(again_len, encoded.len());
        offset += len;
    }
}

fn config(files: &StoreFiles) -> FileStoreConfig {
    FileStoreConfig {
        store: StoreConfig {
            first_seq: files.first_seq,
            ..StoreConfig::default()
        },
        block_size: files.block_size,
        write_buffer: 256,
    }
}

fn check_recovery(files: &StoreFiles) {
    let storage = SimStorage::new(1);
    let dir = Path::new(DIR);
    let msgs = dir.join(MSGS_DIR);
    let write = |path: &Path, bytes: &[u8]| {
        let mut file = storage.open(path, true).expect("sim open");
        file.append(bytes).expect("sim append");
        file.sync().expect("sim sync");
    };
    for (id, bytes) in &files.blocks {
        write(&msgs.join(format!("{id}.blk")), bytes);
    }
    if let Some(snapshot) = &files.snapshot {
        write(&dir.join(SNAPSHOT_FILE), snapshot);
    }
    storage.sync_dir(&msgs).expect("sim sync_dir");
    storage.sync_dir(dir).expect("sim sync_dir");
    let shared: Arc<dyn Storage> = Arc::new(storage.clone());

    let Ok(mut store) = FileStore::open_with(shared.clone(), dir, config(files)) else {
        return;
    };
    // Whether the index came from reading every record. An adopted
    // snapshot is trusted for the records it covers, which are not read
    // again (as in nats-server): with CRCs repaired the fuzzer writes
    // snapshots that disagree with their blocks, or with themselves, and
    // then only "no panic" is checked.
    let consistent = !store.recovery_report().used_snapshot;
    let state = store.state();
    read_everything(&store, &state, consistent);

    // It keeps working: the next message follows the last sequence.
    let next = store.store_msg("fuzz.next", b"", b"after recovery", state.last_ts, None);
    let Ok(seq) = next else {
        return;
    };
    assert_eq!(
        Some(seq),
        state.last_seq.checked_add(1),
        "a new message after recovery"
    );
    if store.sync().is_err() {
        return;
    }
    let before = store.state();
    if store.close().is_err() {
        return;
    }

    // Clean close, reopen: the snapshot must give the same state.
    let reopened = FileStore::open_with(shared.clone(), dir, config(files))
        .expect("a store closed cleanly reopens");
    let after = reopened.state();
    if consistent {
        assert_eq!(after, before, "state changed across a clean close");
    }
    read_everything(&reopened, &after, consistent);
    drop(reopened);
    if !consistent {
        return;
    }

    // The blocks alone (no snapshot) must give the same state too.
    let _ = storage.remove(&dir.join(SNAPSHOT_FILE));
    let rescanned = FileStore::open_with(shared, dir, config(files))
        .expect("a store closed cleanly reopens without its snapshot");
    assert_eq!(
        rescanned.state(),
        before,
        "state from the blocks differs from the state before close"
    );
    read_everything(&rescanned, &before, true);
}

/// Every read of an open store answers; with `consistent` (the index came
/// from the blocks, or from a snapshot the store wrote of such an index)
/// the counts must agree.
fn read_everything(store: &FileStore, state: &StreamState, consistent: bool) {
    let _ = store.load_next_msg(">", 0);
    let _ = store.load_next_msg("fuzz.*", state.first_seq);
    let _ = store.load_last_msg(">");
    let _ = store.subjects_state(">");
    let _ = store.filtered_state("*", 0);
    let _ = store.num_pending(">", state.first_seq, true);
    let _ = store.expiring(i64::MAX);
    let _ = store.next_expiry();
    let span = state.last_seq.saturating_sub(state.first_seq);
    if span > MAX_WALK {
        return;
    }
    let deleted = store.deleted();
    let mut loaded = 0u64;
    for seq in state.first_seq..=state.last_seq {
        if let Ok(message) = store.load_msg(seq) {
            loaded += 1;
            if consistent {
                assert_eq!(message.seq, seq, "load_msg({seq}) gave another sequence");
            }
        }
    }
    let _ = store.load_msg(state.last_seq.wrapping_add(1));
    if consistent {
        assert_eq!(
            loaded, state.msgs,
            "state.msgs differs from loadable messages"
        );
        assert_eq!(
            deleted.len() as u64,
            state.num_deleted,
            "deleted() differs from state.num_deleted"
        );
    }
}
