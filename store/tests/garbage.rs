//! Arbitrary bytes never panic the record decoder or recovery: random
//! block files, random snapshots, and random damage to a valid store.

use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
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
