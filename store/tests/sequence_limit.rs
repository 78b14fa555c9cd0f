//! The sequence limit: a record holds sequences up to `MAX_SEQ` (2^63 - 1;
//! bit 63 marks a tombstone), so neither store goes past it. Found by the
//! `store_record` fuzz target: a store recovered with its last message at
//! `MAX_SEQ` stored the next one as 2^63, written to disk as sequence 0,
//! and a reopen from the blocks gave another stream.

use std::path::Path;
use std::sync::Arc;

use starling_store::record::{encode_message, MAX_SEQ};
use starling_store::{
    FileStore, FileStoreConfig, MemStore, MessageStore, SimStorage, Storage, StoreConfig,
    StoreError, StreamState, SNAPSHOT_FILE,
};

const DIR: &str = "/s";

fn open(storage: &SimStorage) -> FileStore {
    FileStore::open_with(Arc::new(storage.clone()), DIR, FileStoreConfig::default()).expect("open")
}

/// The state from the blocks alone (snapshot removed).
fn rescanned(storage: &SimStorage) -> StreamState {
    let _ = storage.remove(&Path::new(DIR).join(SNAPSHOT_FILE));
    open(storage).state()
}

#[test]
fn a_message_at_the_last_sequence_refuses_the_next_one_and_reopens_the_same() {
    let storage = SimStorage::new(1);
    let mut block = Vec::new();
    encode_message(&mut block, MAX_SEQ, 7, 0, "a", b"", b"last");
    let path = Path::new(DIR).join("msgs/1.blk");
    let mut file = storage.open(&path, true).expect("create");
    file.append(&block).expect("append");
    file.sync().expect("sync");
    storage
        .sync_dir(path.parent().expect("dir"))
        .expect("sync dir");

    let mut store = open(&storage);
    assert_eq!(store.state().last_seq, MAX_SEQ);
    assert!(matches!(
        store.store_msg("a", b"", b"next", 8, None),
        Err(StoreError::SequenceExhausted)
    ));
    let before = store.state();
    store.close().expect("close");
    assert_eq!(open(&storage).state(), before);
    assert_eq!(rescanned(&storage), before);
    assert_eq!(
        open(&storage).load_msg(MAX_SEQ).expect("load").payload,
        "last"
    );
}

#[test]
fn compact_and_skip_past_the_last_sequence_are_refused_by_both_stores() {
    let storage = SimStorage::new(2);
    let mut file_store = open(&storage);
    let mut mem_store = MemStore::new(StoreConfig::default());
    let stores: [&mut dyn MessageStore; 2] = [&mut file_store, &mut mem_store];
    for store in stores {
        store.store_msg("a", b"", b"1", 1, None).expect("store");
        assert!(matches!(
            store.compact(MAX_SEQ + 2),
            Err(StoreError::SequenceExhausted)
        ));
        assert!(matches!(
            store.compact(u64::MAX),
            Err(StoreError::SequenceExhausted)
        ));
        assert!(matches!(
            store.skip_msgs(u64::MAX, 2),
            Err(StoreError::SequenceExhausted)
        ));
        assert_eq!(store.state().msgs, 1, "a refused compact removes nothing");
        // Right up to the limit is allowed; then the stream is full.
        assert_eq!(store.compact(MAX_SEQ + 1).expect("compact"), 1);
        assert_eq!(store.state().last_seq, MAX_SEQ);
        assert!(matches!(
            store.store_msg("a", b"", b"2", 3, None),
            Err(StoreError::SequenceExhausted)
        ));
    }
    let before = file_store.state();
    file_store.close().expect("close");
    assert_eq!(open(&storage).state(), before);
    assert_eq!(rescanned(&storage), before);
}

#[test]
fn a_first_sequence_past_the_limit_is_refused() {
    let config = FileStoreConfig {
        store: StoreConfig {
            first_seq: MAX_SEQ + 2,
            ..StoreConfig::default()
        },
        ..FileStoreConfig::default()
    };
    let opened = FileStore::open_with(Arc::new(SimStorage::new(3)), DIR, config);
    assert!(matches!(opened, Err(StoreError::SequenceExhausted)));
}
