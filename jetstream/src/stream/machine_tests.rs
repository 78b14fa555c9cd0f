//! Unit tests of the stream state machine over the memory store.

use super::*;
use crate::api::StorageType;
use starling_store::{MemStore, StoreConfig};

const SECOND: i64 = 1_000_000_000;
const T0: i64 = 1_700_000_000 * SECOND;

fn config(json: &str) -> StreamConfig {
    serde_json::from_str::<StreamConfig>(json)
        .unwrap()
        .normalized()
        .unwrap()
}

fn stream(json: &str) -> Stream {
    let config = config(json);
    let store = MemStore::new(config.store_config());
    Stream::open(config, T0, Box::new(store), T0)
}

fn headers(pairs: &[(&str, &str)]) -> Bytes {
    let mut block = String::from("NATS/1.0\r\n");
    for (name, value) in pairs {
        block.push_str(&format!("{name}: {value}\r\n"));
    }
    block.push_str("\r\n");
    Bytes::from(block)
}

fn publish(stream: &mut Stream, subject: &str, pairs: &[(&str, &str)], now: i64) -> PubAck {
    let operation = Operation::Publish(Publish {
        subject: subject.into(),
        headers: if pairs.is_empty() {
            Bytes::new()
        } else {
            headers(pairs)
        },
        payload: Bytes::from_static(b"data"),
    });
    match stream.apply(operation, now) {
        Outcome::Published(ack) => ack,
        other => panic!("not a publish outcome: {other:?}"),
    }
}

fn error_code(ack: &PubAck) -> u16 {
    ack.error.as_ref().map_or(0, |e| e.err_code)
}

#[test]
fn publishes_get_consecutive_sequences() {
    let mut s = stream(r#"{"name":"S","subjects":["s.>"]}"#);
    assert_eq!(publish(&mut s, "s.a", &[], T0), PubAck::stored("S", 1));
    assert_eq!(publish(&mut s, "s.b", &[], T0), PubAck::stored("S", 2));
    let info = s.info(&StreamInfoRequest::default(), T0);
    assert_eq!(info.state.messages, 2);
    assert_eq!(info.state.first_seq, 1);
    assert_eq!(info.state.last_seq, 2);
    assert_eq!(info.state.num_subjects, 2);
    assert_eq!(info.config.storage, StorageType::File);
}

#[test]
fn duplicate_msg_id_within_the_window_is_not_stored_again() {
    let mut s = stream(r#"{"name":"S","duplicate_window":10000000000}"#);
    let id = [(headers::MSG_ID, "m1")];
    assert_eq!(publish(&mut s, "S", &id, T0), PubAck::stored("S", 1));
    assert_eq!(
        publish(&mut s, "S", &id, T0 + SECOND),
        PubAck::duplicate("S", 1)
    );
    assert_eq!(s.store().state().msgs, 1);
    // Past the 10 s window the id is new again.
    assert_eq!(
        publish(&mut s, "S", &id, T0 + 11 * SECOND),
        PubAck::stored("S", 2)
    );
}

#[test]
fn duplicate_window_is_rebuilt_from_the_store_on_open() {
    let config = config(r#"{"name":"S"}"#);
    let mut store = MemStore::new(StoreConfig::default());
    let block = headers(&[(headers::MSG_ID, "m1")]);
    store.store_msg("S", &block, b"x", T0, None).unwrap();
    let mut s = Stream::open(config, T0, Box::new(store), T0 + SECOND);
    let ack = publish(&mut s, "S", &[(headers::MSG_ID, "m1")], T0 + 2 * SECOND);
    assert_eq!(ack, PubAck::duplicate("S", 1));
    let ack = publish(
        &mut s,
        "S",
        &[(headers::EXPECTED_LAST_MSG_ID, "m1")],
        T0 + 2 * SECOND,
    );
    assert_eq!(ack, PubAck::stored("S", 2));
}

#[test]
fn expected_last_sequence_mismatch_is_10071_with_the_last_sequence() {
    let mut s = stream(r#"{"name":"S"}"#);
    publish(&mut s, "S", &[], T0);
    let ack = publish(&mut s, "S", &[(headers::EXPECTED_LAST_SEQUENCE, "7")], T0);
    assert_eq!(error_code(&ack), 10071);
    assert_eq!(ack.seq, 0);
    assert_eq!(
        ack.error.as_ref().map(|e| e.description.as_str()),
        Some("wrong last sequence: 1")
    );
    let ack = publish(&mut s, "S", &[(headers::EXPECTED_LAST_SEQUENCE, "1")], T0);
    assert_eq!(ack, PubAck::stored("S", 2));
    assert_eq!(s.store().state().msgs, 2);
}

#[test]
fn expected_last_subject_sequence_zero_means_subject_empty() {
    let mut s = stream(r#"{"name":"KV","subjects":["kv.>"]}"#);
    let create = [(headers::EXPECTED_LAST_SUBJECT_SEQUENCE, "0")];
    assert_eq!(publish(&mut s, "kv.a", &create, T0).seq, 1);
    assert_eq!(error_code(&publish(&mut s, "kv.a", &create, T0)), 10071);
    assert_eq!(publish(&mut s, "kv.b", &create, T0).seq, 2);
    let update = [(headers::EXPECTED_LAST_SUBJECT_SEQUENCE, "1")];
    assert_eq!(publish(&mut s, "kv.a", &update, T0).seq, 3);
    assert_eq!(error_code(&publish(&mut s, "kv.a", &update, T0)), 10071);
    // The 2.11 form names the subject to check.
    let other = [
        (headers::EXPECTED_LAST_SUBJECT_SEQUENCE, "2"),
        (headers::EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT, "kv.b"),
    ];
    assert_eq!(publish(&mut s, "kv.c", &other, T0).seq, 4);
}

#[test]
fn expected_stream_and_last_msg_id() {
    let mut s = stream(r#"{"name":"S"}"#);
    assert_eq!(
        error_code(&publish(
            &mut s,
            "S",
            &[(headers::EXPECTED_STREAM, "T")],
            T0
        )),
        10060
    );
    assert_eq!(
        publish(&mut s, "S", &[(headers::EXPECTED_STREAM, "S")], T0).seq,
        1
    );
    publish(&mut s, "S", &[(headers::MSG_ID, "a")], T0);
    let wrong = publish(&mut s, "S", &[(headers::EXPECTED_LAST_MSG_ID, "b")], T0);
    assert_eq!(error_code(&wrong), 10070);
    assert_eq!(
        publish(&mut s, "S", &[(headers::EXPECTED_LAST_MSG_ID, "a")], T0).seq,
        3
    );
}

#[test]
fn size_limits_and_discard_new() {
    let mut s = stream(r#"{"name":"S","max_msg_size":3}"#);
    assert_eq!(error_code(&publish(&mut s, "S", &[], T0)), 10054);
    let mut s = stream(r#"{"name":"S","max_msgs":1,"discard":"new"}"#);
    assert_eq!(publish(&mut s, "S", &[], T0).seq, 1);
    let full = publish(&mut s, "S", &[], T0);
    assert_eq!(error_code(&full), 10077);
    assert_eq!(full.error.map(|e| e.code), Some(503));
    let mut s = stream(r#"{"name":"S","max_msgs":1}"#);
    publish(&mut s, "S", &[], T0);
    publish(&mut s, "S", &[], T0);
    assert_eq!(s.store().state().msgs, 1);
    assert_eq!(s.store().state().first_seq, 2);
}

#[test]
fn rollup_needs_permission_and_removes_older_messages() {
    let mut s = stream(r#"{"name":"S","subjects":["s.*"]}"#);
    let rollup = [(headers::ROLLUP, "sub")];
    assert_eq!(error_code(&publish(&mut s, "s.a", &rollup, T0)), 10111);
    let mut s = stream(r#"{"name":"S","subjects":["s.*"],"allow_rollup_hdrs":true}"#);
    publish(&mut s, "s.a", &[], T0);
    publish(&mut s, "s.a", &[], T0);
    publish(&mut s, "s.b", &[], T0);
    assert_eq!(publish(&mut s, "s.a", &rollup, T0).seq, 4);
    assert_eq!(s.store().state().msgs, 2);
    assert_eq!(
        publish(&mut s, "s.c", &[(headers::ROLLUP, "all")], T0).seq,
        5
    );
    assert_eq!(s.store().state().msgs, 1);
    assert_eq!(
        error_code(&publish(&mut s, "s.c", &[(headers::ROLLUP, "x")], T0)),
        10111
    );
}

#[test]
fn ttl_header_refused_without_allow_msg_ttl() {
    let mut s = stream(r#"{"name":"S"}"#);
    assert_eq!(
        error_code(&publish(&mut s, "S", &[(headers::TTL, "5s")], T0)),
        10166
    );
}

#[test]
fn purge_all_by_subject_keep_and_sequence() {
    let mut s = stream(r#"{"name":"S","subjects":["s.*"]}"#);
    for subject in ["s.a", "s.b", "s.a", "s.b", "s.a"] {
        publish(&mut s, subject, &[], T0);
    }
    let purge = |s: &mut Stream, json: &str| {
        s.apply(Operation::Purge(serde_json::from_str(json).unwrap()), T0)
    };
    assert_eq!(
        purge(&mut s, r#"{"filter":"s.a","keep":1}"#),
        Outcome::Purged(2)
    );
    assert_eq!(purge(&mut s, r#"{"seq":4}"#), Outcome::Purged(1));
    assert_eq!(purge(&mut s, r#"{"filter":"s.b"}"#), Outcome::Purged(1));
    assert_eq!(s.store().state().msgs, 1);
    assert_eq!(purge(&mut s, "{}"), Outcome::Purged(1));
    let state = s.store().state();
    assert_eq!((state.msgs, state.first_seq, state.last_seq), (0, 6, 5));
    assert_eq!(publish(&mut s, "s.a", &[], T0).seq, 6);
    match purge(&mut s, r#"{"seq":2,"keep":1}"#) {
        Outcome::Failed(error) => assert_eq!(error.err_code, 10003),
        other => panic!("{other:?}"),
    }
}

#[test]
fn deny_purge_deny_delete_and_sealed() {
    let mut s = stream(r#"{"name":"S","deny_purge":true,"deny_delete":true}"#);
    publish(&mut s, "S", &[], T0);
    let failed = |outcome: Outcome| match outcome {
        Outcome::Failed(error) => error.err_code,
        _ => 0,
    };
    assert_eq!(
        failed(s.apply(Operation::Purge(PurgeRequest::default()), T0)),
        10110
    );
    let delete = MsgDeleteRequest {
        seq: 1,
        no_erase: false,
    };
    assert_eq!(
        failed(s.apply(Operation::DeleteMsg(delete.clone()), T0)),
        10057
    );
    let mut sealed = s.config().clone();
    sealed.sealed = true;
    assert_eq!(
        s.apply(Operation::UpdateConfig(Box::new(sealed)), T0),
        Outcome::ConfigUpdated
    );
    assert_eq!(error_code(&publish(&mut s, "S", &[], T0)), 10109);
    assert_eq!(failed(s.apply(Operation::DeleteMsg(delete), T0)), 10109);
}

#[test]
fn delete_msg_and_get_msg() {
    let mut s = stream(r#"{"name":"S","subjects":["s.*"]}"#);
    for subject in ["s.a", "s.b", "s.a"] {
        publish(&mut s, subject, &[], T0);
    }
    let get = |s: &Stream, json: &str| s.get_msg(&serde_json::from_str(json).unwrap());
    assert_eq!(
        get(&s, r#"{"seq":2}"#).map(|m| m.subject).ok(),
        Some("s.b".into())
    );
    assert_eq!(
        get(&s, r#"{"last_by_subj":"s.a"}"#).map(|m| m.seq).ok(),
        Some(3)
    );
    assert_eq!(
        get(&s, r#"{"next_by_subj":"s.a","seq":2}"#)
            .map(|m| m.seq)
            .ok(),
        Some(3)
    );
    let delete = MsgDeleteRequest {
        seq: 2,
        no_erase: true,
    };
    assert_eq!(
        s.apply(Operation::DeleteMsg(delete.clone()), T0),
        Outcome::MsgDeleted
    );
    assert_eq!(
        get(&s, r#"{"seq":2}"#).err().map(|e| e.err_code),
        Some(10037)
    );
    assert_eq!(
        get(&s, r#"{"seq":99}"#).err().map(|e| e.err_code),
        Some(10037)
    );
    assert_eq!(get(&s, "{}").err().map(|e| e.err_code), Some(10003));
    match s.apply(Operation::DeleteMsg(delete), T0) {
        Outcome::Failed(error) => assert_eq!(error.err_code, 10057),
        other => panic!("{other:?}"),
    }
    let info = s.info(
        &StreamInfoRequest {
            deleted_details: true,
            ..Default::default()
        },
        T0,
    );
    assert_eq!(info.state.num_deleted, 1);
    assert_eq!(info.state.deleted, Some(vec![2]));
    let info = s.info(
        &StreamInfoRequest {
            subjects_filter: Some(">".into()),
            ..Default::default()
        },
        T0,
    );
    assert_eq!(
        info.state.subjects.and_then(|m| m.get("s.a").copied()),
        Some(2)
    );
}

#[test]
fn config_update_applies_new_limits_at_once() {
    let mut s = stream(r#"{"name":"S"}"#);
    for _ in 0..5 {
        publish(&mut s, "S", &[], T0);
    }
    let smaller = config(r#"{"name":"S","max_msgs":2}"#);
    assert_eq!(
        s.apply(Operation::UpdateConfig(Box::new(smaller)), T0),
        Outcome::ConfigUpdated
    );
    assert_eq!(s.store().state().msgs, 2);
    assert_eq!(s.config().max_msgs, 2);
    let memory = config(r#"{"name":"S","storage":"memory"}"#);
    match s.apply(Operation::UpdateConfig(Box::new(memory)), T0) {
        Outcome::Failed(error) => assert_eq!(error.err_code, 10069),
        other => panic!("{other:?}"),
    }
}

#[test]
fn expire_removes_messages_past_max_age() {
    let mut s = stream(r#"{"name":"S","max_age":5000000000}"#);
    publish(&mut s, "S", &[], T0);
    publish(&mut s, "S", &[], T0 + 3 * SECOND);
    assert!(s.next_expiry().is_some());
    assert_eq!(
        s.apply(Operation::Expire, T0 + 6 * SECOND),
        Outcome::Expired(1)
    );
    assert_eq!(s.store().state().msgs, 1);
}
