//! The group committer: many concurrent appends, few syncs, every
//! completion after its record is durable, errors reported per append.

use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use starling_store::{
    DiscardPolicy, FileStore, FileStoreConfig, GroupCommitter, MessageStore, NewMessage,
    SimStorage, Storage, StoreConfig, StoreLimits, SyncPolicy,
};

fn message(i: u64) -> NewMessage {
    NewMessage {
        subject: format!("orders.{}", i % 7),
        headers: Bytes::new(),
        payload: Bytes::from(format!("m{i}")),
        timestamp: i as i64,
        ttl_nanos: None,
    }
}

#[test]
fn concurrent_appends_share_syncs_and_each_is_durable_when_acked() {
    let sim = SimStorage::new(5);
    let storage: Arc<dyn Storage> = Arc::new(sim.clone());
    let store = FileStore::open_with(
        storage.clone(),
        Path::new("/gc"),
        FileStoreConfig::default(),
    )
    .expect("open");
    let store = Arc::new(Mutex::new(store));
    let committer =
        Arc::new(GroupCommitter::start(store.clone(), SyncPolicy::Always, 1024).expect("start"));
    let syncs_before = sim.sync_count();
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let committer = committer.clone();
            std::thread::spawn(move || {
                (0..250u64)
                    .map(|i| committer.append(message(t * 1000 + i)).expect("append"))
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let mut seqs: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("thread"))
        .collect();
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=2000).collect::<Vec<u64>>(),
        "every append got its own sequence"
    );
    let syncs = sim.sync_count() - syncs_before;
    assert!(syncs < 2000, "{syncs} syncs for 2000 appends: no grouping");
    assert!(syncs >= 1);
    // Everything acked is durable: crash now and all 2000 are there.
    sim.crash(true);
    drop(committer);
    drop(store);
    let store = FileStore::open_with(storage, Path::new("/gc"), FileStoreConfig::default())
        .expect("reopen");
    assert_eq!(store.state().msgs, 2000);
    println!("group commit: 2000 appends from 8 threads took {syncs} file syncs");
}

#[test]
fn a_refused_append_gets_its_own_error_and_the_others_succeed() {
    let limits = StoreLimits {
        max_msgs: 3,
        discard: DiscardPolicy::New,
        ..StoreLimits::default()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let config = FileStoreConfig {
        store: StoreConfig {
            limits,
            first_seq: 1,
        },
        ..FileStoreConfig::default()
    };
    let store = Arc::new(Mutex::new(
        FileStore::open(dir.path(), config).expect("open"),
    ));
    let committer = GroupCommitter::start(store.clone(), SyncPolicy::Always, 16).expect("start");
    let results: Vec<_> = (0..5).map(|i| committer.append(message(i))).collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 3);
    assert!(matches!(
        results[4],
        Err(starling_store::StoreError::MaxMsgs)
    ));
    committer.shutdown();
    assert_eq!(store.lock().expect("lock").state().msgs, 3);
}

#[test]
fn interval_mode_syncs_lazily_but_a_shutdown_syncs_everything() {
    let sim = SimStorage::new(9);
    let storage: Arc<dyn Storage> = Arc::new(sim.clone());
    let store = FileStore::open_with(
        storage.clone(),
        Path::new("/lazy"),
        FileStoreConfig::default(),
    )
    .expect("open");
    let store = Arc::new(Mutex::new(store));
    let committer = GroupCommitter::start(
        store.clone(),
        SyncPolicy::Interval(std::time::Duration::from_secs(3600)),
        64,
    )
    .expect("start");
    let before = sim.sync_count();
    for i in 0..100 {
        committer.append(message(i)).expect("append");
    }
    assert_eq!(
        sim.sync_count(),
        before,
        "lazy mode synced inside the interval"
    );
    committer.shutdown();
    assert!(sim.sync_count() > before, "shutdown did not sync");
    sim.crash(false);
    drop(store);
    let store = FileStore::open_with(storage, Path::new("/lazy"), FileStoreConfig::default())
        .expect("reopen");
    assert_eq!(store.state().msgs, 100);
}
