//! The stager (what is held, what commits, nats-server's refusals) and
//! the stream's all-or-nothing [`Operation::AtomicBatch`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use starling_store::MemStore;

use super::*;
use crate::api::stream_config::DiscardPolicy;
use crate::api::StreamConfig;
use crate::stream::{Operation, Outcome, PubAck, Stream};

const NOW: i64 = 1_700_000_000_000_000_000;

fn config(json: &str) -> StreamConfig {
    serde_json::from_str::<StreamConfig>(json)
        .unwrap()
        .normalized()
        .unwrap()
}

fn atomic() -> StreamConfig {
    config(r#"{"name":"S","subjects":["foo.*"],"allow_atomic":true,"storage":"memory"}"#)
}

fn message(subject: &str, pairs: &[(&str, &str)]) -> Publish {
    let mut block = String::from("NATS/1.0\r\n");
    for (name, value) in pairs {
        block.push_str(&format!("{name}: {value}\r\n"));
    }
    block.push_str("\r\n");
    Publish {
        subject: subject.to_string(),
        headers: Bytes::from(block),
        payload: Bytes::from(subject.to_string()),
    }
}

fn member(subject: &str, id: &str, seq: u64, extra: &[(&str, &str)]) -> Publish {
    let seq = seq.to_string();
    let mut pairs = vec![
        (headers::BATCH_ID, id),
        (headers::BATCH_SEQUENCE, seq.as_str()),
    ];
    pairs.extend_from_slice(extra);
    message(subject, &pairs)
}

fn stager() -> (BatchStager, Arc<AtomicUsize>) {
    let inflight = Arc::new(AtomicUsize::new(0));
    (
        BatchStager::new(BatchLimits::default(), inflight.clone()),
        inflight,
    )
}

fn refused(staged: Staged) -> u16 {
    match staged {
        Staged::Refused(error) => error.err_code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn commit(staged: Staged) -> AtomicBatch {
    match staged {
        Staged::Commit(batch) => batch,
        other => panic!("expected a commit, got {other:?}"),
    }
}

fn stream(config: StreamConfig) -> Stream {
    let store = MemStore::new(config.store_config());
    Stream::open(config, NOW, Box::new(store), NOW)
}

fn apply(stream: &mut Stream, batch: AtomicBatch) -> PubAck {
    match stream.apply(Operation::AtomicBatch(Box::new(batch)), NOW) {
        Outcome::Published(ack) => ack,
        other => panic!("expected a PubAck, got {other:?}"),
    }
}

/// Stage `count` messages on `foo.<n>` and commit with the last.
fn full_batch(
    id: &str,
    count: u64,
    extra: &dyn Fn(u64) -> Vec<(&'static str, &'static str)>,
) -> AtomicBatch {
    let (mut stager, _) = stager();
    let config = atomic();
    for seq in 1..count {
        let staged = stager.stage(
            &config,
            member(&format!("foo.{seq}"), id, seq, &extra(seq)),
            NOW,
        );
        assert!(matches!(staged, Staged::Pending), "{staged:?}");
    }
    let mut last = extra(count);
    last.push((headers::BATCH_COMMIT, "1"));
    commit(stager.stage(
        &config,
        member(&format!("foo.{count}"), id, count, &last),
        NOW,
    ))
}

#[test]
fn refusals_carry_nats_server_codes() {
    let (mut stager, inflight) = stager();
    let off = config(r#"{"name":"S","subjects":["foo.*"]}"#);
    let only_id = message("foo.1", &[(headers::BATCH_ID, "b")]);
    assert_eq!(refused(stager.stage(&off, only_id.clone(), NOW)), 10174);
    assert_eq!(refused(stager.stage(&atomic(), only_id, NOW)), 10175);
    let long = "A".repeat(65);
    assert_eq!(
        refused(stager.stage(&atomic(), member("foo.1", &long, 1, &[]), NOW)),
        10179
    );
    let ok_len = "A".repeat(64);
    let staged = stager.stage(
        &atomic(),
        member("foo.1", &ok_len, 1, &[(headers::BATCH_COMMIT, "1")]),
        NOW,
    );
    assert_eq!(commit(staged).messages.len(), 1);
    // Not started at 1: incomplete.
    assert_eq!(
        refused(stager.stage(&atomic(), member("foo.1", "b", 2, &[]), NOW)),
        10176
    );
    // A gap abandons the batch.
    assert!(matches!(
        stager.stage(&atomic(), member("foo.1", "b", 1, &[]), NOW),
        Staged::Pending
    ));
    assert_eq!(
        refused(stager.stage(&atomic(), member("foo.1", "b", 3, &[]), NOW)),
        10176
    );
    assert_eq!(stager.len(), 0);
    // An unknown commit value abandons it too.
    assert!(matches!(
        stager.stage(&atomic(), member("foo.1", "b", 1, &[]), NOW),
        Staged::Pending
    ));
    let bad = member("foo.1", "b", 2, &[(headers::BATCH_COMMIT, "yes")]);
    assert_eq!(refused(stager.stage(&atomic(), bad, NOW)), 10200);
    let unsupported = member("foo.1", "c", 1, &[(headers::EXPECTED_LAST_MSG_ID, "x")]);
    assert_eq!(refused(stager.stage(&atomic(), unsupported, NOW)), 10177);
    assert_eq!(stager.len(), 0);
    assert_eq!(inflight.load(Ordering::Relaxed), 0);
}

#[test]
fn inflight_and_size_limits() {
    let inflight = Arc::new(AtomicUsize::new(0));
    let limits = BatchLimits {
        max_inflight_per_stream: 1,
        max_inflight_total: 2,
        max_size: 2,
        ..BatchLimits::default()
    };
    let mut first = BatchStager::new(limits, inflight.clone());
    let mut other = BatchStager::new(limits, inflight.clone());
    assert!(matches!(
        first.stage(&atomic(), member("foo.1", "a", 1, &[]), NOW),
        Staged::Pending
    ));
    assert_eq!(
        refused(first.stage(&atomic(), member("foo.1", "b", 1, &[]), NOW)),
        10210
    );
    assert!(matches!(
        other.stage(&atomic(), member("foo.1", "c", 1, &[]), NOW),
        Staged::Pending
    ));
    // The server-wide limit: a third stream's stager is refused.
    let mut third = BatchStager::new(limits, inflight.clone());
    assert_eq!(
        refused(third.stage(&atomic(), member("foo.1", "d", 1, &[]), NOW)),
        10210
    );
    // Batch "a" goes past max_size.
    assert!(matches!(
        first.stage(&atomic(), member("foo.1", "a", 2, &[]), NOW),
        Staged::Pending
    ));
    let error = match first.stage(
        &atomic(),
        member("foo.1", "a", 3, &[(headers::BATCH_COMMIT, "1")]),
        NOW,
    ) {
        Staged::Refused(error) => error,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        (error.err_code, error.description.as_str()),
        (10199, "atomic publish batch is too large: 2")
    );
    drop(other);
    assert_eq!(inflight.load(Ordering::Relaxed), 0);
}

#[test]
fn idle_batches_are_abandoned_after_ten_seconds() {
    let (mut stager, inflight) = stager();
    assert!(matches!(
        stager.stage(&atomic(), member("foo.1", "a", 1, &[]), NOW),
        Staged::Pending
    ));
    let later = NOW + 5_000_000_000;
    assert!(matches!(
        stager.stage(&atomic(), member("foo.1", "a", 2, &[]), later),
        Staged::Pending
    ));
    assert_eq!(stager.next_timeout(), Some(later + BATCH_TIMEOUT_NANOS));
    assert!(stager.expire(later + BATCH_TIMEOUT_NANOS - 1).is_empty());
    assert!(stager.take_abandoned().is_empty());
    assert_eq!(
        stager.expire(later + BATCH_TIMEOUT_NANOS),
        vec!["a".to_string()]
    );
    assert_eq!(
        stager.take_abandoned(),
        vec![("a".to_string(), AbandonReason::Timeout)]
    );
    assert!(stager.take_abandoned().is_empty(), "taken once");
    assert_eq!(inflight.load(Ordering::Relaxed), 0);
    let resumed = member("foo.1", "a", 3, &[(headers::BATCH_COMMIT, "1")]);
    assert_eq!(
        refused(stager.stage(&atomic(), resumed, later + BATCH_TIMEOUT_NANOS)),
        10176
    );
}

#[test]
fn disabling_drops_staged_batches() {
    let (mut stager, inflight) = stager();
    assert!(matches!(
        stager.stage(&atomic(), member("foo.1", "a", 1, &[]), NOW),
        Staged::Pending
    ));
    let off = config(r#"{"name":"S","subjects":["foo.*"]}"#);
    assert_eq!(
        refused(stager.stage(&off, member("foo.1", "a", 2, &[]), NOW)),
        10174
    );
    assert_eq!((stager.len(), inflight.load(Ordering::Relaxed)), (0, 0));
}

#[test]
fn end_of_batch_commit_does_not_store_the_marker() {
    let (mut stager, _) = stager();
    assert!(matches!(
        stager.stage(&atomic(), member("foo.1", "e", 1, &[]), NOW),
        Staged::Pending
    ));
    assert!(matches!(
        stager.stage(&atomic(), member("foo.2", "e", 2, &[]), NOW),
        Staged::Pending
    ));
    let eob = member("foo.3", "e", 3, &[(headers::BATCH_COMMIT, "eob")]);
    let batch = commit(stager.stage(&atomic(), eob, NOW));
    assert_eq!(batch.messages.len(), 2);
    let mut stream = stream(atomic());
    let ack = apply(&mut stream, batch);
    assert_eq!(
        (ack.seq, ack.count, ack.batch.as_deref()),
        (2, 2, Some("e"))
    );
    // `eob` alone commits nothing.
    let alone = member("foo.3", "f", 1, &[(headers::BATCH_COMMIT, "eob")]);
    assert_eq!(refused(stager.stage(&atomic(), alone, NOW)), 10200);
}

#[test]
fn a_batch_is_stored_whole_with_one_ack() {
    let mut stream = stream(atomic());
    let ack = apply(&mut stream, full_batch("b", 5, &|_| Vec::new()));
    assert_eq!(ack, PubAck::batch("S", 5, "b", 5));
    let state = stream.store().state();
    assert_eq!((state.msgs, state.first_seq, state.last_seq), (5, 1, 5));
    for seq in 1..=5 {
        assert_eq!(
            stream.store().load_msg(seq).unwrap().subject,
            format!("foo.{seq}")
        );
    }
}

#[test]
fn one_failing_message_stores_nothing() {
    let mut stream = stream(atomic());
    // The third message expects a last sequence: only the first may.
    let ack = apply(
        &mut stream,
        full_batch("b", 4, &|seq| match seq {
            3 => vec![(headers::EXPECTED_LAST_SEQUENCE, "0")],
            _ => Vec::new(),
        }),
    );
    assert_eq!(ack.error.map(|e| e.err_code), Some(10164));
    assert_eq!(stream.store().state().msgs, 0);
    // On the first message it is checked against the stream before the batch.
    let ack = apply(
        &mut stream,
        full_batch("c", 3, &|seq| match seq {
            1 => vec![(headers::EXPECTED_LAST_SEQUENCE, "7")],
            _ => Vec::new(),
        }),
    );
    assert_eq!(ack.error.map(|e| e.err_code), Some(10071));
    let ack = apply(
        &mut stream,
        full_batch("d", 3, &|seq| match seq {
            1 => vec![(headers::EXPECTED_LAST_SEQUENCE, "0")],
            _ => Vec::new(),
        }),
    );
    assert_eq!((ack.error, ack.seq, ack.count), (None, 3, 3));
}

#[test]
fn duplicate_msg_ids_refuse_the_batch() {
    let mut stream = stream(atomic());
    let same = apply(
        &mut stream,
        full_batch("b", 3, &|seq| match seq {
            1 | 3 => vec![(headers::MSG_ID, "m1")],
            _ => Vec::new(),
        }),
    );
    assert_eq!(same.error.map(|e| e.err_code), Some(10201));
    assert_eq!(stream.store().state().msgs, 0);
    let stored = apply(
        &mut stream,
        full_batch("c", 2, &|seq| {
            if seq == 2 {
                vec![(headers::MSG_ID, "m2")]
            } else {
                Vec::new()
            }
        }),
    );
    assert_eq!(stored.error, None);
    // m2 is in the duplicate window now.
    let again = apply(
        &mut stream,
        full_batch("d", 2, &|seq| {
            if seq == 1 {
                vec![(headers::MSG_ID, "m2")]
            } else {
                Vec::new()
            }
        }),
    );
    assert_eq!(again.error.map(|e| e.err_code), Some(10201));
    assert_eq!(stream.store().state().msgs, 2);
}

#[test]
fn expected_subject_sequence_on_a_subject_the_batch_wrote_is_refused() {
    let mut stream = stream(atomic());
    let (mut stager, _) = stager();
    let config = atomic();
    assert!(matches!(
        stager.stage(&config, member("foo.a", "b", 1, &[]), NOW),
        Staged::Pending
    ));
    let second = member(
        "foo.a",
        "b",
        2,
        &[
            (headers::EXPECTED_LAST_SUBJECT_SEQUENCE, "0"),
            (headers::BATCH_COMMIT, "1"),
        ],
    );
    let ack = apply(&mut stream, commit(stager.stage(&config, second, NOW)));
    assert_eq!(ack.error.map(|e| e.err_code), Some(10164));
    assert_eq!(stream.store().state().msgs, 0);
}

#[test]
fn discard_new_limits_count_the_whole_batch() {
    let config = config(
        r#"{"name":"S","subjects":["foo.*"],"allow_atomic":true,"storage":"memory","max_msgs":3,"discard":"new"}"#,
    );
    assert_eq!(config.discard, DiscardPolicy::New);
    let mut stream = stream(config);
    let ack = apply(&mut stream, full_batch("b", 4, &|_| Vec::new()));
    assert_eq!(ack.error.map(|e| e.err_code), Some(10077));
    assert_eq!(stream.store().state().msgs, 0);
    let ack = apply(&mut stream, full_batch("c", 3, &|_| Vec::new()));
    assert_eq!(ack.error, None);
}
