//! Property test: the file store behaves exactly like the memory store
//! (the model) under random appends, removals, purges, limits, expiry,
//! compaction, truncation, and close/reopen with and without a snapshot.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{apply, assert_same, limits_strategy, op_strategy, Op};
use proptest::prelude::*;
use starling_store::{
    FileStore, FileStoreConfig, MemStore, MessageStore, SimStorage, Storage, StoreConfig,
    StoreLimits,
};

fn config(
    limits: StoreLimits,
    first_seq: u64,
    block_size: u64,
    write_buffer: usize,
) -> FileStoreConfig {
    FileStoreConfig {
        store: StoreConfig { limits, first_seq },
        block_size,
        write_buffer,
    }
}

fn run(
    storage: Arc<dyn Storage>,
    dir: &Path,
    limits: StoreLimits,
    first_seq: u64,
    block_size: u64,
    ops: &[Op],
) {
    let mut current_limits = limits;
    let file_config = |limits| config(limits, first_seq, block_size, 97);
    let mut model = MemStore::new(StoreConfig { limits, first_seq });
    let mut store = FileStore::open_with(storage.clone(), dir, file_config(limits)).expect("open");
    let mut now = 1_000i64;
    for (number, op) in ops.iter().enumerate() {
        now += 7;
        match op {
            Op::Reopen => {
                drop(store);
                store = FileStore::open_with(storage.clone(), dir, file_config(current_limits))
                    .expect("reopen");
            }
            Op::CloseReopen => {
                store.close().expect("close");
                store = FileStore::open_with(storage.clone(), dir, file_config(current_limits))
                    .expect("reopen");
                let report = store.recovery_report();
                assert!(
                    report.used_snapshot,
                    "snapshot not used after a clean close: {report:?}"
                );
            }
            _ => {
                if let Op::Limits(new_limits) = op {
                    current_limits = *new_limits;
                }
                let want = apply(&mut model, op, number, now);
                let got = apply(&mut store, op, number, now);
                assert_eq!(want, got, "op #{number} {op:?}");
            }
        }
        let report = store.recovery_report();
        assert!(
            report.damaged.is_empty() && report.torn_tail.is_none(),
            "clean files reported damage: {report:?}"
        );
        assert_same(&model, &store, &format!("after op #{number} {op:?}"));
        let (start, min_ts) = (
            first_seq + number as u64 % 5,
            now - 40 * (number as i64 % 3),
        );
        assert_eq!(
            scan(&model, start, min_ts),
            scan(&store, start, min_ts),
            "scan_headers after op #{number} {op:?}"
        );
    }
}

/// Everything `scan_headers` visits.
fn scan(store: &dyn MessageStore, start: u64, min_ts: i64) -> Vec<(u64, i64, Vec<u8>)> {
    let mut seen = Vec::new();
    store
        .scan_headers(start, min_ts, &mut |seq, ts, headers| {
            seen.push((seq, ts, headers.to_vec()))
        })
        .expect("scan");
    seen
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn file_store_matches_memory_store(
        limits in limits_strategy(),
        first_seq in prop_oneof![Just(1u64), 1u64..1000],
        block_size in prop_oneof![Just(256u64), Just(1024u64), Just(1u64 << 20)],
        ops in proptest::collection::vec(op_strategy(true, true), 1..120),
    ) {
        let storage = SimStorage::new(1);
        run(Arc::new(storage), Path::new("/stream"), limits, first_seq, block_size, &ops);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn file_store_on_a_real_disk_matches_memory_store(
        limits in limits_strategy(),
        ops in proptest::collection::vec(op_strategy(true, true), 1..80),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        run(Arc::new(starling_store::OsStorage), dir.path(), limits, 1, 512, &ops);
    }
}

#[test]
fn unlimited_store_round_trips_every_field() {
    let storage: Arc<dyn Storage> = Arc::new(SimStorage::new(3));
    let dir = Path::new("/s");
    let mut store =
        FileStore::open_with(storage.clone(), dir, FileStoreConfig::default()).expect("open");
    use starling_store::MessageStore;
    let seq = store
        .store_msg(
            "orders.1",
            b"NATS/1.0\r\nA: b\r\n\r\n",
            b"body",
            42,
            Some(9),
        )
        .expect("store");
    assert_eq!(seq, 1);
    store.close().expect("close");
    let store = FileStore::open_with(storage, dir, FileStoreConfig::default()).expect("reopen");
    let msg = store.load_msg(1).expect("load");
    assert_eq!(msg.subject, "orders.1");
    assert_eq!(&msg.headers[..], b"NATS/1.0\r\nA: b\r\n\r\n");
    assert_eq!(&msg.payload[..], b"body");
    assert_eq!((msg.timestamp, msg.ttl_nanos), (42, Some(9)));
}
