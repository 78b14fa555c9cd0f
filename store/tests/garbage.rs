//! Arbitrary bytes never panic the record decoder or recovery: random
//! block files, random snapshots, and random damage to a valid store.

use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use starling_store::record::encode_message;
use starling_store::{
    decode_record, FileStore, FileStoreConfig, MessageStore, SimStorage, Storage,
};

fn write_file(storage: &SimStorage, path: &Path, bytes: &[u8]) {
    let mut file = storage.open(path, true).expect("create");
    file.append(bytes).expect("append");
    file.sync().expect("sync");
    storage
        .sync_dir(path.parent().expect("parent"))
        .expect("sync dir");
}

fn open_and_read_everything(storage: SimStorage) {
    let storage: Arc<dyn Storage> = Arc::new(storage);
    if let Ok(mut store) = FileStore::open_with(
        storage,
        Path::new("/g"),
        FileStoreConfig {
            block_size: 512,
            ..FileStoreConfig::default()
        },
    ) {
        let state = store.state();
        for seq in state.first_seq..=state.last_seq.min(state.first_seq + 2_000) {
            let _ = store.load_msg(seq);
        }
        let _ = store.load_next_msg("a.*", 0);
        store
            .store_msg("after", b"", b"ok", 1, None)
            .expect("a recovered store accepts writes");
        store.flush_and_sync().expect("sync");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn decode_record_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok((record, len, _)) = decode_record(&bytes) {
            prop_assert!(len <= bytes.len());
            prop_assert!(record.seq() < (1 << 63));
        }
    }

    #[test]
    fn random_block_and_snapshot_files_never_panic_recovery(
        block in proptest::collection::vec(any::<u8>(), 0..600),
        snapshot in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200)),
    ) {
        let storage = SimStorage::new(1);
        write_file(&storage, Path::new("/g/msgs/1.blk"), &block);
        if let Some(snapshot) = snapshot {
            let mut bytes = b"STSNAP01".to_vec();
            bytes.extend(snapshot);
            write_file(&storage, Path::new("/g/index.snap"), &bytes);
        }
        open_and_read_everything(storage);
    }

    #[test]
    fn random_damage_to_a_valid_store_never_panics(
        flips in proptest::collection::vec((0usize..4, any::<usize>(), any::<u8>()), 1..6),
        snapshot in any::<bool>(),
    ) {
        let storage = SimStorage::new(2);
        let shared: Arc<dyn Storage> = Arc::new(storage.clone());
        let config = FileStoreConfig { block_size: 512, ..FileStoreConfig::default() };
        let mut store = FileStore::open_with(shared, Path::new("/g"), config).expect("open");
        for i in 0..60u64 {
            store.store_msg(&format!("a.{}", i % 4), b"NATS/1.0\r\n\r\n", &[i as u8; 17], i as i64, None).expect("store");
            if i % 7 == 0 {
                store.remove_msg(i / 2).expect("remove");
            }
        }
        if snapshot { store.close().expect("close") } else { store.flush_and_sync().expect("sync"); drop(store) }
        for (file, offset, value) in flips {
            let path = if file == 0 { Path::new("/g/index.snap").to_path_buf() } else { Path::new("/g/msgs").join(format!("{file}.blk")) };
            if let Ok(bytes) = storage.read_all(&path) {
                if !bytes.is_empty() {
                    storage.corrupt(&path, offset % bytes.len(), &[value]).expect("corrupt");
                }
            }
        }
        open_and_read_everything(storage);
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Found by the `store_record` fuzz target: a snapshot (checksum right)
/// listing a message past its own last sequence was adopted, and
/// `deleted()` then tried to list a trillion sequences (an abort, out of
/// memory). It is rejected now and the block is scanned instead.
#[test]
fn a_snapshot_entry_past_its_last_sequence_is_rejected() {
    let storage = SimStorage::new(9);
    let mut block = Vec::new();
    let checksum = encode_message(&mut block, 1, 5, 0, "a", b"", b"one");
    write_file(&storage, Path::new("/g/msgs/1.blk"), &block);
    let mut snapshot = b"STSNAP01".to_vec();
    for value in [1, 0, 1, 1, 1] {
        // last_seq, last_ts (zigzag), first_seq, one subject of length 1
        put_varint(&mut snapshot, value);
    }
    snapshot.push(b'a');
    for value in [1, 1, block.len() as u64] {
        // one block: id 1 and its length
        put_varint(&mut snapshot, value);
    }
    snapshot.push(1);
    put_varint(&mut snapshot, 0);
    snapshot.extend_from_slice(&checksum.to_le_bytes());
    for value in [0, 0, 2] {
        // no dead, no tombstones, two entries
        put_varint(&mut snapshot, value);
    }
    for seq_delta in [1, 1_000_000_000_000] {
        for value in [seq_delta, 0, block.len() as u64, 30, 0, 0, 0] {
            put_varint(&mut snapshot, value);
        }
    }
    let crc = crc32(&snapshot);
    snapshot.extend_from_slice(&crc.to_le_bytes());
    write_file(&storage, Path::new("/g/index.snap"), &snapshot);

    let shared: Arc<dyn Storage> = Arc::new(storage);
    let store =
        FileStore::open_with(shared, Path::new("/g"), FileStoreConfig::default()).expect("open");
    assert!(!store.recovery_report().used_snapshot);
    assert!(store.recovery_report().snapshot_rejected.is_some());
    let state = store.state();
    assert_eq!((state.msgs, state.first_seq, state.last_seq), (1, 1, 1));
    assert!(store.deleted().is_empty());
}

/// CRC-32 (IEEE), as the snapshot's trailer.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
