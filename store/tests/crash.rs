//! Fault injection: random operations on the file store over the simulated
//! file system, then a crash that drops or tears unsynced bytes and forgets
//! unsynced directory changes. After reopening, every message held at the
//! last sync (and not removed since) is present and intact, nothing removed
//! before it is back, nothing else is corrupt, and the store keeps working.
//! Also: a full disk (ENOSPC) is an error and loses nothing durable.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use common::{apply, op_strategy, Op};
use proptest::prelude::*;
use starling_store::{
    FileStore, FileStoreConfig, MemStore, MessageStore, SimStorage, Storage, StoreConfig,
    StoreLimits, StoredMsg,
};

fn config(limits: StoreLimits, block_size: u64) -> FileStoreConfig {
    FileStoreConfig {
        store: StoreConfig {
            limits,
            first_seq: 1,
        },
        block_size,
        write_buffer: 61,
    }
}

fn held(store: &dyn MessageStore) -> BTreeMap<u64, StoredMsg> {
    let state = store.state();
    (state.first_seq..=state.last_seq)
        .filter_map(|seq| store.load_msg(seq).ok().map(|m| (seq, m)))
        .collect()
}

fn crash_round(seed: u64, limits: StoreLimits, block_size: u64, ops: &[Op], garbage: bool) {
    let sim = SimStorage::new(seed);
    let storage: Arc<dyn Storage> = Arc::new(sim.clone());
    let dir = Path::new("/crash");
    let mut model = MemStore::new(StoreConfig {
        limits,
        first_seq: 1,
    });
    let mut store =
        FileStore::open_with(storage.clone(), dir, config(limits, block_size)).expect("open");
    let mut ever_stored: BTreeMap<u64, StoredMsg> = BTreeMap::new();
    let mut synced_held: BTreeMap<u64, StoredMsg> = BTreeMap::new();
    let mut synced_last = 0u64;
    let mut now = 1_000i64;
    for (number, op) in ops.iter().enumerate() {
        now += 7;
        let want = apply(&mut model, op, number, now);
        let got = if matches!(op, Op::Sync) && number % 2 == 0 {
            // The split sync the group committer uses: fdatasyncs on cloned handles.
            let outcome = store.begin_sync().and_then(|pending| pending.run());
            store.finish_sync(&outcome);
            outcome
                .map(|_| "()".to_string())
                .map_err(|e| common::error_kind(&e))
        } else {
            apply(&mut store, op, number, now)
        };
        assert_eq!(want, got, "op #{number} {op:?}");
        if let (Op::Store { .. }, Ok(seq)) = (op, &got) {
            let seq: u64 = seq.parse().expect("seq");
            ever_stored.insert(
                seq,
                model.load_msg(seq).expect("model holds what it stored"),
            );
        }
        // Purge, purge_ex, compact and erase sync before they return, as a sync does.
        let erased = matches!(op, Op::Erase(_)) && got.as_deref() == Ok("true");
        if (matches!(
            op,
            Op::Sync | Op::Purge | Op::PurgeEx { .. } | Op::Compact(_)
        ) && got.is_ok())
            || erased
        {
            synced_held = held(&model);
            synced_last = model.state().last_seq;
        }
    }
    sim.crash(garbage);
    drop(store);
    let mut store = FileStore::open_with(storage.clone(), dir, config(limits, block_size))
        .expect("reopen after crash");
    let recovered = held(&store);
    let now_held = held(&model);
    for (seq, msg) in &synced_held {
        if now_held.contains_key(seq) {
            assert_eq!(
                recovered.get(seq),
                Some(msg),
                "synced message {seq} lost or changed"
            );
        }
    }
    for (seq, msg) in &recovered {
        assert_eq!(
            ever_stored.get(seq),
            Some(msg),
            "recovered message {seq} was never stored like this"
        );
        if *seq <= synced_last {
            assert!(
                synced_held.contains_key(seq),
                "message {seq} removed before the last sync is back"
            );
        }
    }
    assert!(
        store.state().last_seq >= synced_last,
        "last sequence went back past a sync"
    );
    // The store keeps working and a clean reopen agrees with it.
    let next = store.store_msg("after.crash", b"", b"x", now + 1, None);
    if let Ok(seq) = next {
        assert!(seq > synced_last);
    }
    store.sync().expect("sync after crash");
    let before = held(&store);
    let state = store.state();
    drop(store);
    let store =
        FileStore::open_with(storage, dir, config(limits, block_size)).expect("second reopen");
    assert_eq!(state, store.state());
    assert_eq!(before, held(&store));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn synced_messages_survive_a_crash(
        seed in any::<u64>(),
        limits in prop_oneof![3 => Just(StoreLimits::default()), 1 => common::limits_strategy()],
        block_size in prop_oneof![Just(200u64), Just(700u64), Just(1u64 << 20)],
        ops in proptest::collection::vec(op_strategy(false, false), 1..100),
        garbage in any::<bool>(),
    ) {
        crash_round(seed, limits, block_size, &ops, garbage);
    }
}

#[test]
fn disk_full_is_an_error_and_loses_nothing_durable() {
    for limit in [300u64, 1_000, 2_345, 5_000] {
        let sim = SimStorage::new(limit);
        let storage: Arc<dyn Storage> = Arc::new(sim.clone());
        let dir = Path::new("/full");
        let mut store =
            FileStore::open_with(storage.clone(), dir, config(StoreLimits::default(), 1024))
                .expect("open");
        let mut stored = BTreeMap::new();
        for i in 0..5u64 {
            let seq = store
                .store_msg("k", b"", &[i as u8; 20], i as i64, None)
                .expect("store");
            stored.insert(seq, i);
        }
        store.sync().expect("sync");
        let durable = held(&store);
        sim.set_space_limit(Some(sim.used_bytes() + limit / 10));
        let mut saw_full = false;
        for i in 5..500u64 {
            let result = store
                .store_msg("k", b"", &[i as u8; 20], i as i64, None)
                .and_then(|seq| store.sync().map(|_| seq));
            match result {
                Ok(_) => {}
                Err(error) => {
                    assert!(error.is_disk_full(), "unexpected error {error}");
                    saw_full = true;
                    break;
                }
            }
        }
        assert!(saw_full, "the disk never filled");
        // Memory matches disk: everything durable is there, every held message reads back intact.
        let after = held(&store);
        for (seq, msg) in &durable {
            assert_eq!(
                after.get(seq),
                Some(msg),
                "durable message {seq} lost after ENOSPC"
            );
        }
        let state = store.state();
        assert_eq!(state.msgs as usize, after.len());
        // Space comes back: the store works again and reopens to the same state.
        sim.set_space_limit(None);
        let seq = store
            .store_msg("k", b"", b"again", 999, None)
            .expect("store after space freed");
        assert_eq!(seq, state.last_seq + 1);
        store.sync().expect("sync");
        let final_state = store.state();
        let final_held = held(&store);
        drop(store);
        let store = FileStore::open_with(storage, dir, config(StoreLimits::default(), 1024))
            .expect("reopen");
        assert_eq!(final_state, store.state());
        assert_eq!(final_held, held(&store));
        let report = store.recovery_report();
        assert!(report.damaged.is_empty(), "{report:?}");
        let _: BTreeSet<u64> = stored.keys().copied().collect();
    }
}
