//! Store micro-benchmark (no criterion). Run with
//! `cargo bench -p starling-store --bench store_bench` (release profile).
//! Reports appends/s with one fdatasync per batch, group-commit throughput,
//! reopen time of 1,000,000 messages with and without the index snapshot,
//! and disk bytes per 16-byte message; resident memory per held message
//! (`memory`: 1,000,000 messages in a `FileStore` and in a `MemStore`, each
//! in a fresh child process so freed heap of one does not hide the other's)
//! and 1,000,000 `store_msg` calls (`ingest`: unlimited, and with
//! `max_msgs` 100,000 so every append also drops the oldest). `STORE_BENCH_DIR`
//! picks the disk (default: the system temp dir);
//! `STORE_BENCH=append|commit|reopen|memory|ingest` runs one part.

// Wall-clock timing is the point of a benchmark; there is no Tokio clock here.
#![allow(clippy::disallowed_types)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use starling_store::{
    FileStore, FileStoreConfig, GroupCommitter, MemStore, MessageStore, NewMessage, StoreConfig,
    StoreLimits, SubmitError, SyncPolicy, SNAPSHOT_FILE,
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
    // Three opens each way; the snapshot is written again by each close.
    for run in 1..=3 {
        let started = Instant::now();
        let cpu = thread_cpu_seconds();
        let store = FileStore::open(dir.path(), FileStoreConfig::default()).expect("reopen");
        let with_snapshot = started.elapsed();
        let with_snapshot_cpu = thread_cpu_seconds() - cpu;
        assert!(store.recovery_report().used_snapshot);
        assert_eq!(store.state().msgs, count);
        store.close().expect("close");
        std::fs::remove_file(dir.path().join(SNAPSHOT_FILE)).expect("remove snapshot");
        let started = Instant::now();
        let cpu = thread_cpu_seconds();
        let store = FileStore::open(dir.path(), FileStoreConfig::default()).expect("reopen");
        let without = started.elapsed();
        let without_cpu = thread_cpu_seconds() - cpu;
        assert!(!store.recovery_report().used_snapshot);
        assert_eq!(store.state().msgs, count);
        store.close().expect("close");
        println!(
            "reopen {count} msgs (run {run}): {:.3} s wall / {:.3} s CPU with snapshot, {:.3} s wall / {:.3} s CPU scanning all blocks (page cache warm)",
            with_snapshot.as_secs_f64(),
            with_snapshot_cpu,
            without.as_secs_f64(),
            without_cpu
        );
    }
}

/// Resident bytes of this process, from `/proc/self/statm` (pages of 4 KiB,
/// the page size of the x86-64 and arm64 Linux this runs on).
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|text| text.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Store `count` 16-byte messages on subjects orders.0..999, as the other
/// parts do.
fn fill(store: &mut dyn MessageStore, count: u64, sync_every: u64) {
    let subjects = subjects();
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
        if sync_every > 0 && i % sync_every == sync_every - 1 {
            store.sync().expect("sync");
        }
    }
}

/// Run in a child process (`STORE_BENCH=memory-file|memory-mem`): resident
/// bytes added by holding `count` messages.
fn memory_child(kind: &str, count: u64) {
    let dir = temp_dir();
    let before = resident_bytes();
    let mut store: Box<dyn MessageStore> = match kind {
        "file" => Box::new(FileStore::open(dir.path(), FileStoreConfig::default()).expect("open")),
        _ => Box::new(MemStore::new(StoreConfig::default())),
    };
    fill(store.as_mut(), count, 4096);
    let after = resident_bytes();
    assert_eq!(store.state().msgs, count);
    println!(
        "memory {kind:>4} store, {count} x 16 B msgs on 1000 subjects: {:.1} resident bytes/msg ({:.1} MB)",
        after.saturating_sub(before) as f64 / count as f64,
        after.saturating_sub(before) as f64 / 1e6
    );
}

fn memory() {
    let exe = std::env::current_exe().expect("current exe");
    for kind in ["memory-file", "memory-mem"] {
        let status = std::process::Command::new(&exe)
            .args(std::env::args_os().skip(1))
            .env("STORE_BENCH", kind)
            .status()
            .expect("run child");
        assert!(status.success(), "{kind} child failed");
    }
}

/// 1,000,000 `store_msg` calls, timed (the file store syncs every 4096).
fn ingest(count: u64) {
    for max_msgs in [0, 100_000] {
        let limits = StoreLimits {
            max_msgs,
            ..StoreLimits::default()
        };
        let dir = temp_dir();
        let config = FileStoreConfig {
            store: StoreConfig {
                limits,
                ..StoreConfig::default()
            },
            ..FileStoreConfig::default()
        };
        let stores: [(&str, Box<dyn MessageStore>); 2] = [
            (
                "file",
                Box::new(FileStore::open(dir.path(), config.clone()).expect("open")),
            ),
            ("mem", Box::new(MemStore::new(config.store.clone()))),
        ];
        for (kind, mut store) in stores {
            let started = Instant::now();
            let cpu = thread_cpu_seconds();
            fill(store.as_mut(), count, 4096);
            let secs = started.elapsed().as_secs_f64();
            let cpu = thread_cpu_seconds() - cpu;
            println!(
                "ingest {kind:>4} store, {count} x 16 B, max_msgs {max_msgs:>6}: {:>10.0} msgs/s ({:.3} s wall, {:.3} us CPU/msg)",
                count as f64 / secs,
                secs,
                cpu * 1e6 / count as f64
            );
        }
    }
}

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return;
    }
    // STORE_BENCH=append|commit|reopen|memory|ingest runs one part; default
    // all but memory (it runs children).
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
    if run("ingest") {
        ingest(1_000_000);
    }
    if part == "memory" {
        memory();
    }
    if let Some(kind) = part.strip_prefix("memory-") {
        memory_child(kind, 1_000_000);
    }
}
