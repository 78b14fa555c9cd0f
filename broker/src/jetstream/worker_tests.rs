//! The batch logic of the stream worker over a file store on the
//! fault-injecting storage: PubAcks only for what is durable.

use std::sync::{Arc, Mutex};

use starling_jetstream::api::StreamConfig;
use starling_jetstream::stream::Stream;
use starling_store::{FileStore, FileStoreConfig, SimStorage};

use super::*;

const NOW: i64 = 1_700_000_000_000_000_000;

fn stream_on(storage: &Arc<SimStorage>) -> Mutex<Stream> {
    stream_with(
        storage,
        r#"{"name":"S","subjects":["s.>"],"allow_atomic":true}"#,
    )
}

fn stream_with(storage: &Arc<SimStorage>, json: &str) -> Mutex<Stream> {
    let config: StreamConfig = serde_json::from_str::<StreamConfig>(json)
        .unwrap()
        .normalized()
        .unwrap();
    let file_config = FileStoreConfig {
        store: config.store_config(),
        ..FileStoreConfig::default()
    };
    let store = FileStore::open_with(storage.clone(), "/streams/S", file_config).unwrap();
    Mutex::new(Stream::open(config, NOW, Box::new(store), NOW))
}

fn publishes(count: usize, size: usize) -> Vec<Job> {
    (0..count)
        .map(|n| {
            Job::Publish(InternalMessage {
                subject: "s.a".into(),
                reply: Some(format!("_INBOX.{n}")),
                payload: vec![b'x'; size],
                header_len: None,
                publisher: None,
            })
        })
        .collect()
}

/// A publish with `Nats-Msg-Id: id`.
fn publish_with_id(id: &str) -> Job {
    let headers = format!("NATS/1.0\r\nNats-Msg-Id: {id}\r\n\r\n");
    let mut payload = headers.clone().into_bytes();
    payload.extend_from_slice(b"body");
    Job::Publish(InternalMessage {
        subject: "s.a".into(),
        reply: Some("_INBOX.id".into()),
        payload,
        header_len: Some(headers.len()),
        publisher: None,
    })
}

/// Message `seq` of atomic batch `id`, committing when `commit`.
fn batch_member(id: &str, seq: u64, commit: bool) -> Job {
    let commit = if commit {
        "Nats-Batch-Commit: 1\r\n"
    } else {
        ""
    };
    let headers =
        format!("NATS/1.0\r\nNats-Batch-Id: {id}\r\nNats-Batch-Sequence: {seq}\r\n{commit}\r\n");
    let mut payload = headers.clone().into_bytes();
    payload.extend_from_slice(b"body");
    Job::Publish(InternalMessage {
        subject: "s.a".into(),
        reply: Some(format!("_INBOX.{id}.{seq}")),
        payload,
        header_len: Some(headers.len()),
        publisher: None,
    })
}

fn stager() -> Mutex<BatchStager> {
    let inflight = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    Mutex::new(BatchStager::new(
        starling_jetstream::stream::BatchLimits::default(),
        inflight,
    ))
}

#[test]
fn an_atomic_batch_gets_empty_replies_then_one_pub_ack() {
    let storage = Arc::new(SimStorage::new(5));
    let stream = stream_on(&storage);
    let stager = stager();
    let context = BatchContext {
        stager: Some(&stager),
        ..BatchContext::default()
    };
    let jobs = vec![batch_member("b", 1, false), batch_member("b", 2, false)];
    let staged = apply_batch(&stream, jobs, true, &context, NOW);
    assert!(staged.acks.is_empty());
    assert_eq!(staged.empty_replies, vec!["_INBOX.b.1", "_INBOX.b.2"]);
    assert_eq!(lock(&stream).store().state().msgs, 0);
    let committed = apply_batch(
        &stream,
        vec![batch_member("b", 3, true)],
        true,
        &context,
        NOW,
    );
    assert_eq!(committed.acks.len(), 1);
    let (reply, ack) = &committed.acks[0];
    assert_eq!(reply, "_INBOX.b.3");
    assert_eq!((ack.error.as_ref(), ack.seq, ack.count), (None, 3, 3));
    assert_eq!(ack.batch.as_deref(), Some("b"));
    assert_eq!(lock(&stream).store().state().msgs, 3);
    // Without a stager (or `allow_atomic`) a batch message is refused.
    let refused = apply_batch(
        &stream,
        vec![batch_member("c", 1, true)],
        true,
        &BatchContext::default(),
        NOW,
    );
    let code = refused.acks[0].1.error.as_ref().map(|e| e.err_code);
    assert_eq!(code, Some(10174));
}

#[test]
fn a_committed_batch_whose_sync_fails_is_refused_and_gone() {
    let storage = Arc::new(SimStorage::new(6));
    let stream = stream_on(&storage);
    let stager = stager();
    let context = BatchContext {
        stager: Some(&stager),
        ..BatchContext::default()
    };
    apply_batch(
        &stream,
        vec![batch_member("b", 1, false)],
        true,
        &context,
        NOW,
    );
    storage.set_space_limit(Some(storage.used_bytes()));
    let committed = apply_batch(
        &stream,
        vec![batch_member("b", 2, true)],
        true,
        &context,
        NOW,
    );
    let error = committed.acks[0].1.error.as_ref().expect("refused");
    assert_eq!(error.err_code, 10077);
    storage.set_space_limit(None);
    assert_eq!(lock(&stream).store().state().msgs, 0);
}

#[test]
fn a_batch_is_acknowledged_after_one_sync() {
    let storage = Arc::new(SimStorage::new(1));
    let stream = stream_on(&storage);
    let syncs = storage.sync_count();
    let context = BatchContext {
        domain: Some("hub"),
        ..BatchContext::default()
    };
    let answers = apply_batch(&stream, publishes(100, 16), true, &context, NOW);
    assert_eq!(answers.acks.len(), 100);
    for (n, (reply, ack)) in answers.acks.iter().enumerate() {
        assert_eq!(reply, &format!("_INBOX.{n}"));
        assert_eq!((ack.seq, ack.error.is_none()), (n as u64 + 1, true));
        assert_eq!(ack.domain.as_deref(), Some("hub"));
    }
    // One batch: a handful of syncs (block, directory), not one per message.
    let used = storage.sync_count() - syncs;
    assert!((1..=3).contains(&used), "{used} syncs");
}

#[test]
fn a_full_disk_refuses_the_whole_batch_and_keeps_nothing_of_it() {
    let storage = Arc::new(SimStorage::new(2));
    let stream = stream_on(&storage);
    let first = apply_batch(
        &stream,
        publishes(3, 16),
        true,
        &BatchContext::default(),
        NOW,
    );
    assert!(first.acks.iter().all(|(_, ack)| ack.error.is_none()));
    storage.set_space_limit(Some(storage.used_bytes()));
    let mut jobs = publishes(10, 1024);
    jobs.push(publish_with_id("retry-me"));
    let answers = apply_batch(&stream, jobs, true, &BatchContext::default(), NOW);
    assert_eq!(answers.acks.len(), 11);
    for (_, ack) in &answers.acks {
        let error = ack.error.as_ref().expect("refused");
        assert_eq!((error.err_code, ack.seq), (10077, 0));
    }
    storage.set_space_limit(None);
    let state = lock(&stream).store().state();
    assert_eq!((state.msgs, state.last_seq), (3, 3));
    // The refused message's id was forgotten: the retry is stored.
    let after = apply_batch(
        &stream,
        vec![publish_with_id("retry-me")],
        true,
        &BatchContext::default(),
        NOW,
    );
    let ack = &after.acks[0].1;
    assert_eq!(
        (ack.seq, ack.duplicate, ack.error.is_none()),
        (4, false, true)
    );
}

#[test]
fn lazy_mode_acknowledges_without_syncing() {
    let storage = Arc::new(SimStorage::new(3));
    let stream = stream_on(&storage);
    let syncs = storage.sync_count();
    let answers = apply_batch(
        &stream,
        publishes(10, 16),
        false,
        &BatchContext::default(),
        NOW,
    );
    assert!(answers.acks.iter().all(|(_, ack)| ack.error.is_none()));
    assert_eq!(storage.sync_count(), syncs);
}

/// A growing file stream writes its index snapshot while running, so after
/// a crash the store adopts it and scans only the records stored after it.
#[test]
fn a_due_checkpoint_lets_recovery_after_a_crash_scan_only_the_tail() {
    use super::checkpoint::{checkpoint_if_due, CheckpointClock};
    let storage = Arc::new(SimStorage::new(7));
    let stream = stream_on(&storage);
    let start = lock(&stream).store().state();
    let clock = Mutex::new(CheckpointClock::new(&start, Instant::now(), 50));
    let context = BatchContext::default();
    // 40 messages: not due yet (fewer than 50 new).
    apply_batch(&stream, publishes(40, 16), true, &context, NOW);
    let state = lock(&stream).store().state();
    checkpoint_if_due(&clock, &state, &stream, None);
    // 20 more: 60 new, due; the snapshot covers sequences 1..=60.
    apply_batch(&stream, publishes(20, 16), true, &context, NOW);
    let state = lock(&stream).store().state();
    checkpoint_if_due(&clock, &state, &stream, None);
    // 5 more, acknowledged, then the machine dies.
    let answers = apply_batch(&stream, publishes(5, 16), true, &context, NOW);
    assert_eq!(answers.acks.len(), 5);
    drop(stream);
    storage.crash(false);
    let file_config = FileStoreConfig::default();
    let store = FileStore::open_with(storage.clone(), "/streams/S", file_config).unwrap();
    let report = store.recovery_report();
    assert!(report.used_snapshot, "{report:?}");
    assert!(
        report.records_scanned < 10,
        "only the tail after the snapshot is scanned: {report:?}"
    );
    let state = starling_store::MessageStore::state(&store);
    assert_eq!((state.msgs, state.last_seq), (65, 65));
}
