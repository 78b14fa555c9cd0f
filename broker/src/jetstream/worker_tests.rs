//! The batch logic of the stream worker over a file store on the
//! fault-injecting storage: PubAcks only for what is durable.

use std::sync::{Arc, Mutex};

use starling_jetstream::api::StreamConfig;
use starling_jetstream::stream::Stream;
use starling_store::{FileStore, FileStoreConfig, SimStorage};

use super::*;

const NOW: i64 = 1_700_000_000_000_000_000;

fn stream_on(storage: &Arc<SimStorage>) -> Mutex<Stream> {
    let config: StreamConfig =
        serde_json::from_str::<StreamConfig>(r#"{"name":"S","subjects":["s.>"]}"#)
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

#[test]
fn a_batch_is_acknowledged_after_one_sync() {
    let storage = Arc::new(SimStorage::new(1));
    let stream = stream_on(&storage);
    let syncs = storage.sync_count();
    let answers = apply_batch(
        &stream,
        publishes(100, 16),
        true,
        Some("hub"),
        None,
        None,
        NOW,
    );
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
    let first = apply_batch(&stream, publishes(3, 16), true, None, None, None, NOW);
    assert!(first.acks.iter().all(|(_, ack)| ack.error.is_none()));
    storage.set_space_limit(Some(storage.used_bytes()));
    let mut jobs = publishes(10, 1024);
    jobs.push(publish_with_id("retry-me"));
    let answers = apply_batch(&stream, jobs, true, None, None, None, NOW);
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
        None,
        None,
        None,
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
    let answers = apply_batch(&stream, publishes(10, 16), false, None, None, None, NOW);
    assert!(answers.acks.iter().all(|(_, ack)| ack.error.is_none()));
    assert_eq!(storage.sync_count(), syncs);
}
