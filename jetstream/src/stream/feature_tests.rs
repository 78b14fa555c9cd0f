//! Unit tests of per-message TTLs, subject delete markers, republish and
//! the ingest transform, over the memory store (values as nats-server
//! 2.15.1 gave them on the wire).

use super::*;
use starling_store::{MemStore, StoreConfig};

const SECOND: i64 = 1_000_000_000;
const T0: i64 = 1_700_000_000 * SECOND;

fn stream(json: &str) -> Stream {
    let config = serde_json::from_str::<StreamConfig>(json)
        .unwrap_or_else(|e| panic!("{json}: {e}"))
        .normalized()
        .unwrap_or_else(|e| panic!("{json}: {e}"));
    let store = MemStore::new(StoreConfig {
        limits: config.store_limits(),
        first_seq: 1,
    });
    Stream::open(config, T0, Box::new(store), T0)
}

fn publish(stream: &mut Stream, subject: &str, headers: &str, now: i64) -> PubAck {
    let block = if headers.is_empty() {
        Bytes::new()
    } else {
        Bytes::from(format!("NATS/1.0\r\n{headers}\r\n\r\n"))
    };
    let operation = Operation::Publish(Publish {
        subject: subject.into(),
        headers: block,
        payload: Bytes::from_static(b"data"),
    });
    match stream.apply(operation, now) {
        Outcome::Published(ack) => ack,
        other => panic!("not a publish outcome: {other:?}"),
    }
}

fn code(ack: &PubAck) -> u16 {
    ack.error.as_ref().map_or(0, |e| e.err_code)
}

fn expire(stream: &mut Stream, now: i64) -> u64 {
    match stream.apply(Operation::Expire, now) {
        Outcome::Expired(n) => n,
        other => panic!("not an expiry: {other:?}"),
    }
}

#[test]
fn ttl_values_are_checked_before_the_stream_allows_them() {
    let mut off = stream(r#"{"name":"NT","subjects":["nt"]}"#);
    assert_eq!(code(&publish(&mut off, "nt", "Nats-TTL: 1", T0)), 10166);
    assert_eq!(code(&publish(&mut off, "nt", "Nats-TTL: 500ms", T0)), 10165);
    assert_eq!(code(&publish(&mut off, "nt", "Nats-TTL: 0", T0)), 10165);
    assert_eq!(code(&publish(&mut off, "nt", "Nats-TTL:", T0)), 0);
    let mut on = stream(r#"{"name":"T","subjects":["t"],"allow_msg_ttl":true}"#);
    assert_eq!(code(&publish(&mut on, "t", "Nats-TTL: -1", T0)), 10165);
    assert_eq!(code(&publish(&mut on, "t", "Nats-TTL: 2", T0)), 0);
    assert_eq!(
        on.store().load_msg(1).map(|m| m.ttl_nanos).ok(),
        Some(Some(2 * SECOND))
    );
}

#[test]
fn a_message_expires_at_its_ttl_and_never_outlives_max_age() {
    let mut s =
        stream(r#"{"name":"T","subjects":["t.*"],"allow_msg_ttl":true,"max_age":10000000000}"#);
    publish(&mut s, "t.short", "Nats-TTL: 1s", T0);
    publish(&mut s, "t.never", "Nats-TTL: never", T0);
    publish(&mut s, "t.long", "Nats-TTL: 60", T0);
    assert_eq!(s.next_expiry(), Some(T0 + SECOND));
    assert_eq!(expire(&mut s, T0 + SECOND), 1, "the 1 s TTL");
    assert_eq!(
        expire(&mut s, T0 + 10 * SECOND),
        1,
        "max_age wins over a longer TTL"
    );
    assert_eq!(expire(&mut s, T0 + 1000 * SECOND), 0);
    let left: Vec<String> = s.store().subjects_state(">").into_keys().collect();
    assert_eq!(left, vec!["t.never".to_string()]);
}

#[test]
fn max_age_leaves_a_marker_for_a_subjects_last_message_only() {
    let mut s = stream(
        r#"{"name":"MK","subjects":["mk.>"],"subject_delete_marker_ttl":2000000000,"max_age":1000000000}"#,
    );
    publish(&mut s, "mk.a", "", T0);
    publish(&mut s, "mk.a", "", T0);
    publish(&mut s, "mk.b", "KV-Operation: PURGE", T0);
    assert_eq!(expire(&mut s, T0 + SECOND), 3);
    // nats-server 2.15.1: markers 4 (mk.a), nothing for the purge marker.
    let state = s.store().state();
    assert_eq!((state.msgs, state.last_seq), (1, 4));
    let marker = s.store().load_msg(4).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(marker.subject, "mk.a");
    assert_eq!(
        &marker.headers[..],
        b"NATS/1.0\r\nNats-Marker-Reason: MaxAge\r\nNats-TTL: 2s\r\nNats-Rollup: sub\r\n\r\n"
    );
    assert!(marker.payload.is_empty());
    // The marker expires by its own TTL and leaves nothing behind.
    assert_eq!(s.next_expiry(), Some(T0 + 2 * SECOND));
    assert_eq!(expire(&mut s, T0 + 3 * SECOND), 1);
    assert_eq!(s.store().state().msgs, 0);
}

#[test]
fn a_ttl_removal_leaves_a_marker_too() {
    let mut s =
        stream(r#"{"name":"MK2","subjects":["mk2.>"],"subject_delete_marker_ttl":1000000000}"#);
    publish(&mut s, "mk2.a", "Nats-TTL: 1s", T0);
    assert_eq!(expire(&mut s, T0 + SECOND), 1);
    let marker = s
        .store()
        .load_last_msg("mk2.a")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((marker.seq, marker.ttl_nanos), (2, Some(SECOND)));
}

#[test]
fn republish_after_store_with_per_subject_last_sequence() {
    let mut s =
        stream(r#"{"name":"RP","subjects":["rp.>"],"republish":{"src":"rp.>","dest":"out.>"}}"#);
    publish(&mut s, "rp.a", "", T0);
    publish(&mut s, "rp.b", "", T0);
    publish(&mut s, "rp.a", "Nats-Msg-Id: m", T0);
    publish(&mut s, "rp.a", "Nats-Msg-Id: m", T0);
    let out = s.take_republished();
    assert_eq!(out.len(), 3, "a duplicate is not republished");
    assert_eq!(out[2].subject, "out.a");
    let text = String::from_utf8_lossy(&out[2].headers).to_string();
    assert!(
        text.starts_with("NATS/1.0\r\nNats-Msg-Id: m\r\nNats-Stream: RP\r\n"),
        "{text}"
    );
    assert!(text.contains("Nats-Sequence: 3\r\n"), "{text}");
    assert!(text.contains("Nats-Last-Sequence: 1\r\n"), "{text}");
    assert!(s.take_republished().is_empty());
}

#[test]
fn the_ingest_transform_renames_before_anything_else() {
    let mut s = stream(
        r#"{"name":"TR","subjects":["tr.*"],"subject_transform":{"src":"tr.*","dest":"moved.$1"},"republish":{"src":">","dest":"rout.>"}}"#,
    );
    assert_eq!(code(&publish(&mut s, "tr.k", "", T0)), 0);
    let stored = s.store().load_msg(1).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stored.subject, "moved.k");
    let out = s.take_republished();
    assert_eq!(
        out.first().map(|m| m.subject.as_str()),
        Some("rout.moved.k")
    );
    // Expected-last-subject-sequence is about the stored subject.
    let ack = publish(&mut s, "tr.k", "Nats-Expected-Last-Subject-Sequence: 1", T0);
    assert_eq!(code(&ack), 0);
}
