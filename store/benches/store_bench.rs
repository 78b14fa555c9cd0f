//! Store micro-benchmark (no criterion). Run with
//! `cargo bench -p starling-store --bench store_bench` (release profile).
//! Reports appends/s with one fdatasync per batch, group-commit throughput,
//! reopen time of 1,000,000 messages with and without the index snapshot,
//! and disk bytes per 16-byte message. `STORE_BENCH_DIR` picks the disk
//! (default: the system temp dir); `STORE_BENCH=append|commit|reopen` runs
//! one part.

// Wall-clock timing is the point of a benchmark; there is no Tokio clock here.
#![allow(clippy::disallowed_types)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use starling_store::{
    FileStore, FileStoreConfig, GroupCommitter, MessageStore, NewMessage, SubmitError, SyncPolicy,
    SNAPSHOT_FILE,
};

fn temp_dir() -> tempfile::TempDir {
    match std::env::var_os("STORE_BENCH_DIR") {
        Some(base) => tempfile::tempdir_in(base).expect("tempdir"),
        None => tempfile::tempdir().expect("tempdir"),
    }
}

/// CPU time this thread has run, from `/proc/thread-self/schedstat` (ns):
/// the machine is shared, so wall time alone overstates the cost.
fn thread_cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(f64::NAN, |ns| ns as f64 / 1e9)
}

fn subjects() -> Vec<String> {
    (0..1000).map(|i| format!("orders.{i}")).collect()
}

fn appends(size: usize, batch: usize) {
    let dir = temp_dir();
    let mut store = FileStore::open(dir.path(), FileStoreConfig::default()).expect("open");
    let subjects = subjects();
    let payload = vec![b'x'; size];
    let total = (batch * 1500).clamp(1500, 400_000);
    let started = Instant::now();
    let cpu = thread_cpu_seconds();
    let mut stored = 0usize;
    let mut syncs = 0usize;
    while stored < total {
        for _ in 0..batch {
            store
                .store_msg(
                    &subjects[stored % subjects.len()],
                    b"",
                    &payload,
                    stored as i64,
                    None,
                )
                .expect("store");
            stored += 1;
        }
        store.flush_and_sync().expect("sync");
        syncs += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu = thread_cpu_seconds() - cpu;
    println!(
        "append {size:>5} B, batch {batch:>5}: {:>10.0} msgs/s  ({stored} msgs, {syncs} fdatasyncs, {:.1} us/batch wall, {:.2} us CPU/msg)",
        stored as f64 / secs,
        secs * 1e6 / syncs as f64,
        cpu * 1e6 / stored as f64
    );
}

fn group_commit(size: usize, total: u64) {
    let dir = temp_dir();
    let store = Arc::new(Mutex::new(
        FileStore::open(dir.path(), FileStoreConfig::default()).expect("open"),
    ));
    let committer = GroupCommitter::start(store, SyncPolicy::Always, 8192).expect("start");
    let done = Arc::new(AtomicU64::new(0));
    let payload = Bytes::from(vec![b'x'; size]);
    let started = Instant::now();
    for i in 0..total {
        let message = NewMessage {
            subject: format!("orders.{}", i % 1000),
            headers: Bytes::new(),
            payload: payload.clone(),
            timestamp: i as i64,
            ttl_nanos: None,
        };
        let counter = done.clone();
        let mut pending = Some(message);
        while let Some(message) = pending.take() {
            let counter = counter.clone();
            let completion = Box::new(move |result: Result<u64, _>| {
                if result.is_ok() {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            });
            match committer.submit(message.clone(), completion) {
                Ok(()) => {}
                Err(SubmitError::Full) => {
                    std::thread::yield_now();
                    pending = Some(message);
                }
                Err(SubmitError::Closed) => panic!("committer closed"),
            }
        }
    }
    committer.shutdown();
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(done.load(Ordering::Relaxed), total);
    println!("group committer {size:>5} B, pipelined (8192 queue): {:>10.0} msgs/s acked after fdatasync", total as f64 / secs);
}

fn reopen(count: u64) {
    let dir = temp_dir();
    let subjects = subjects();
    let mut store = FileStore::open(dir.path(), FileStoreConfig::default()).expect("open");
    let payload = [b'x'; 16];
    for i in 0..count {
        store
            .store_msg(
                &subjects[i as usize % subjects.len()],
                b"",
                &payload,
                i as i64,
                None,
            )
            .expect("store");
        if i % 4096 == 4095 {
            store.flush_and_sync().expect("sync");
        }
    }
    let disk = store.disk_bytes();
    store.close().expect("close");
    let snapshot_bytes = std::fs::metadata(dir.path().join(SNAPSHOT_FILE)).map_or(0, |m| m.len());
    println!(
        "disk: {:.1} bytes per 16 B message on subjects orders.0..999 ({} bytes in blocks; snapshot {:.1} bytes/msg)",
        disk as f64 / count as f64,
        disk,
        snapshot_bytes as f64 / count as f64
    );
    let started = Instant::now();
    let cpu = thread_cpu_seconds();
    let store = FileStore::open(dir.path(), FileStoreConfig::default()).expect("reopen");
    let with_snapshot = started.elapsed();
    let with_snapshot_cpu = thread_cpu_seconds() - cpu;
    assert!(store.recovery_report().used_snapshot);
    assert_eq!(store.state().msgs, count);
    drop(store);
    std::fs::remove_file(dir.path().join(SNAPSHOT_FILE)).expect("remove snapshot");
    let started = Instant::now();
    let cpu = thread_cpu_seconds();
    let store = FileStore::open(dir.path(), FileStoreConfig::default()).expect("reopen");
    let without = started.elapsed();
    let without_cpu = thread_cpu_seconds() - cpu;
    assert_eq!(store.state().msgs, count);
    println!(
        "reopen {count} msgs: {:.3} s wall / {:.3} s CPU with snapshot, {:.3} s wall / {:.3} s CPU scanning all blocks (page cache warm)",
        with_snapshot.as_secs_f64(),
        with_snapshot_cpu,
        without.as_secs_f64(),
        without_cpu
    );
}

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return;
    }
    // STORE_BENCH=append|commit|reopen runs one part; default all.
    let part = std::env::var("STORE_BENCH").unwrap_or_default();
    let run = |name: &str| part.is_empty() || part == name;
    if run("append") {
        for size in [16, 1024] {
            for batch in [1, 64, 1024] {
                appends(size, batch);
            }
        }
    }
    if run("commit") {
        group_commit(16, 300_000);
        group_commit(1024, 200_000);
    }
    if run("reopen") {
        reopen(1_000_000);
    }
}
