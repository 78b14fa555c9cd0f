//! Scenario tests of the consumer state machine against a memory store.

use starling_store::{MemStore, MessageStore, StoreConfig};

use super::*;
use crate::api::consumer::{AckPolicy, ConsumerConfig, DeliverPolicy};

const SECOND: i64 = 1_000_000_000;

fn store_with(subjects: &[&str]) -> MemStore {
    let mut store = MemStore::new(StoreConfig::default());
    for (index, subject) in subjects.iter().enumerate() {
        let stored = store.store_msg(subject, b"", b"data", (index as i64 + 1) * SECOND, None);
        assert!(stored.is_ok());
    }
    store
}

fn consumer(store: &MemStore, mut config: ConsumerConfig) -> Consumer {
    let stream = StreamContext {
        subjects: vec![">".into()],
        replicas: 1,
        ..StreamContext::default()
    };
    config.durable_name = Some("C".into());
    apply_defaults(&mut config, &stream);
    assert_eq!(validate(&config, &stream), Ok(()));
    Consumer::new("S", "C", config, store, 0)
}

fn explicit() -> ConsumerConfig {
    ConsumerConfig {
        ack_policy: AckPolicy::Explicit,
        ..ConsumerConfig::default()
    }
}

fn deliveries(out: &[Outbound]) -> Vec<(u64, u64)> {
    out.iter()
        .filter_map(|item| match item {
            Outbound::Message { delivery, .. } => {
                Some((delivery.message.seq, delivery.delivery_count))
            }
            _ => None,
        })
        .collect()
}

fn statuses(out: &[Outbound]) -> Vec<String> {
    out.iter()
        .filter_map(|item| match item {
            Outbound::Status { headers, .. } => Some(String::from_utf8_lossy(headers).into_owned()),
            _ => None,
        })
        .collect()
}

#[test]
fn defaults_match_nats_server() {
    let store = store_with(&[]);
    let consumer = consumer(&store, explicit());
    let config = consumer.config();
    assert_eq!(config.ack_wait, 30 * SECOND);
    assert_eq!(config.max_deliver, -1);
    assert_eq!(config.max_waiting, 512);
    assert_eq!(config.max_ack_pending, 1000);
    assert_eq!(config.name.as_deref(), Some("C"));
    let json = serde_json::to_value(config).unwrap_or_default();
    assert_eq!(json["deliver_policy"], "all");
    assert_eq!(json["ack_policy"], "explicit");
    assert_eq!(json["replay_policy"], "instant");
    assert_eq!(json["num_replicas"], 0);
    assert!(
        json.get("filter_subject").is_none(),
        "empty fields are omitted"
    );
}

#[test]
fn pull_acks_move_the_floor_and_counters() {
    let store = store_with(&["a", "b", "a", "c"]);
    let mut consumer = consumer(&store, explicit());
    assert_eq!(consumer.num_pending(&store), 4);
    let out = consumer.add_pull_request(&store, "r1", br#"{"batch":3}"#, SECOND);
    assert_eq!(deliveries(&out), vec![(1, 1), (2, 1), (3, 1)]);
    let info = consumer.info(&store, SECOND);
    assert_eq!(
        (info.delivered.consumer_seq, info.delivered.stream_seq),
        (3, 3)
    );
    assert_eq!((info.num_ack_pending, info.num_pending), (3, 1));
    assert!(consumer.ack(2, &AckKind::Ack, SECOND));
    assert_eq!(consumer.state().ack_floor.stream, 0, "1 still pending");
    assert!(consumer.ack(1, &AckKind::Ack, SECOND));
    assert_eq!(
        consumer.state().ack_floor,
        SequencePair {
            consumer: 2,
            stream: 2
        }
    );
    assert!(
        !consumer.ack(1, &AckKind::Ack, SECOND),
        "double ack is a no-op"
    );
    assert!(!consumer.ack(4, &AckKind::Ack, SECOND), "not delivered yet");
}

#[test]
fn ack_reply_subject_carries_pending_after_the_delivery() {
    let store = store_with(&["a", "b"]);
    let mut consumer = consumer(&store, explicit());
    let delivery = consumer
        .next_delivery(&store, SECOND)
        .map(|d| d.ack_subject);
    assert_eq!(delivery.as_deref(), Some("$JS.ACK.S.C.1.1.1.1000000000.1"));
}

#[test]
fn redelivery_after_ack_wait_and_max_deliver_event() {
    let store = store_with(&["a"]);
    let mut config = explicit();
    config.ack_wait = 2 * SECOND;
    config.max_deliver = 2;
    let mut consumer = consumer(&store, config);
    assert_eq!(
        deliveries(&consumer.add_pull_request(&store, "r", b"5", 0)),
        vec![(1, 1)]
    );
    assert!(deliveries(&consumer.tick(&store, SECOND)).is_empty());
    assert_eq!(deliveries(&consumer.tick(&store, 2 * SECOND)), vec![(1, 2)]);
    assert_eq!(consumer.info(&store, 2 * SECOND).num_redelivered, 1);
    assert_eq!(consumer.state().delivered.consumer, 2);
    assert!(deliveries(&consumer.tick(&store, 4 * SECOND)).is_empty());
    assert_eq!(
        consumer.take_events(),
        vec![ConsumerEvent::MaxDeliveries {
            stream_seq: 1,
            deliveries: 2
        }]
    );
    let info = consumer.info(&store, 4 * SECOND);
    assert_eq!((info.num_ack_pending, info.num_redelivered), (0, 0));
    assert_eq!(info.ack_floor.stream_seq, 1);
}

#[test]
fn nak_with_delay_progress_and_term() {
    let store = store_with(&["a", "b"]);
    let mut consumer = consumer(&store, explicit());
    let out = consumer.add_pull_request(&store, "r", b"2", 0);
    assert_eq!(deliveries(&out), vec![(1, 1), (2, 1)]);
    assert!(consumer.ack(1, &AckKind::Nak { delay: 5 * SECOND }, 0));
    assert!(deliveries(&consumer.add_pull_request(&store, "r", b"1", 4 * SECOND)).is_empty());
    let out = consumer.tick(&store, 5 * SECOND);
    assert_eq!(deliveries(&out), vec![(1, 2)]);
    assert!(consumer.ack(2, &AckKind::Progress, 29 * SECOND));
    assert!(deliveries(&consumer.add_pull_request(&store, "q", b"1", 31 * SECOND)).is_empty());
    let term = AckKind::Term {
        reason: Some("bad".into()),
    };
    assert!(consumer.ack(2, &term, 31 * SECOND));
    assert_eq!(
        consumer.take_events(),
        vec![ConsumerEvent::Terminated {
            stream_seq: 2,
            consumer_seq: 2,
            deliveries: 1,
            reason: Some("bad".into())
        }]
    );
}

#[test]
fn backoff_sets_each_redelivery_wait() {
    let store = store_with(&["a"]);
    let mut config = explicit();
    config.backoff = vec![SECOND, 3 * SECOND];
    let mut consumer = consumer(&store, config);
    assert_eq!(consumer.config().ack_wait, SECOND);
    consumer.next_delivery(&store, 0);
    assert_eq!(
        consumer
            .next_delivery(&store, SECOND)
            .map(|d| d.delivery_count),
        Some(2)
    );
    assert!(consumer.next_delivery(&store, 3 * SECOND).is_none());
    assert_eq!(
        consumer
            .next_delivery(&store, 4 * SECOND)
            .map(|d| d.delivery_count),
        Some(3)
    );
    assert!(
        consumer.next_delivery(&store, 6 * SECOND).is_none(),
        "last backoff repeats"
    );
    assert!(consumer.next_delivery(&store, 7 * SECOND).is_some());
}

#[test]
fn ack_all_acks_everything_below() {
    let store = store_with(&["a", "a", "a"]);
    let mut config = explicit();
    config.ack_policy = AckPolicy::All;
    let mut consumer = consumer(&store, config);
    consumer.add_pull_request(&store, "r", b"3", 0);
    assert!(consumer.ack(2, &AckKind::Ack, 0));
    assert_eq!(consumer.info(&store, 0).num_ack_pending, 1);
    assert_eq!(consumer.state().ack_floor.stream, 2);
}

#[test]
fn max_ack_pending_stalls_new_deliveries() {
    let store = store_with(&["a", "a", "a"]);
    let mut config = explicit();
    config.max_ack_pending = 2;
    let mut consumer = consumer(&store, config);
    let out = consumer.add_pull_request(&store, "r", br#"{"batch":3,"expires":5000000000}"#, 0);
    assert_eq!(deliveries(&out).len(), 2);
    assert_eq!(consumer.num_waiting(), 1, "the request waits for room");
    consumer.ack(1, &AckKind::Ack, 0);
    assert_eq!(deliveries(&consumer.fill(&store, 0)), vec![(3, 1)]);
}

#[test]
fn filtered_and_multi_filtered_num_pending() {
    let store = store_with(&["a.1", "b.1", "a.2", "c.1", "b.2"]);
    let mut config = explicit();
    config.filter_subject = "a.*".into();
    let consumer_a = consumer(&store, config);
    assert_eq!(consumer_a.num_pending(&store), 2);
    let mut config = explicit();
    config.filter_subjects = vec!["a.*".into(), "b.2".into()];
    let mut consumer_ab = consumer(&store, config);
    assert_eq!(consumer_ab.num_pending(&store), 3);
    let seqs: Vec<u64> = (0..4)
        .filter_map(|_| consumer_ab.next_delivery(&store, 0).map(|d| d.message.seq))
        .collect();
    assert_eq!(seqs, vec![1, 3, 5]);
    assert_eq!(consumer_ab.num_pending(&store), 0);
}

#[test]
fn colliding_filters_count_each_message_once() {
    let store = store_with(&["a.b", "a.c", "x.b"]);
    let mut config = explicit();
    config.filter_subjects = vec!["a.*".into(), "*.b".into()];
    let consumer = consumer(&store, config);
    assert_eq!(consumer.num_pending(&store), 3);
}

#[test]
fn deliver_policies_start_where_nats_server_starts() {
    let store = store_with(&["a", "b", "a", "b"]);
    let start = |policy, seq, time| {
        let mut config = explicit();
        config.deliver_policy = policy;
        config.opt_start_seq = seq;
        config.opt_start_time = time;
        let mut consumer = consumer(&store, config);
        let pending = consumer.num_pending(&store);
        (
            consumer.next_delivery(&store, 0).map(|d| d.message.seq),
            pending,
        )
    };
    assert_eq!(start(DeliverPolicy::All, 0, None), (Some(1), 4));
    assert_eq!(start(DeliverPolicy::Last, 0, None), (Some(4), 1));
    assert_eq!(start(DeliverPolicy::New, 0, None), (None, 0));
    assert_eq!(start(DeliverPolicy::ByStartSequence, 3, None), (Some(3), 2));
    assert_eq!(
        start(DeliverPolicy::ByStartTime, 0, Some(2 * SECOND + 1)),
        (Some(3), 2)
    );
}

#[test]
fn last_per_subject_counts_and_delivers_each_subjects_last() {
    let mut store = store_with(&["k.a", "k.b", "k.a", "k.c", "k.b"]);
    let mut config = explicit();
    config.deliver_policy = DeliverPolicy::LastPerSubject;
    config.filter_subject = "k.*".into();
    let mut consumer = consumer(&store, config);
    assert_eq!(consumer.num_pending(&store), 3);
    let first = consumer.next_delivery(&store, 0);
    assert_eq!(
        first.as_ref().map(|d| (d.message.seq, d.pending)),
        Some((3, 2))
    );
    assert!(store
        .store_msg("k.a", b"", b"new", 10 * SECOND, None)
        .is_ok());
    assert!(store.remove_msg(4).is_ok_and(|removed| removed));
    assert_eq!(
        consumer.num_pending(&store),
        2,
        "5 and the new 6; 4 is gone"
    );
    let rest: Vec<u64> = (0..3)
        .filter_map(|_| consumer.next_delivery(&store, 0).map(|d| d.message.seq))
        .collect();
    assert_eq!(rest, vec![5, 6]);
    assert_eq!(consumer.num_pending(&store), 0);
}

#[test]
fn pull_status_messages() {
    let store = store_with(&["a"]);
    let mut consumer = consumer(&store, explicit());
    let out = consumer.add_pull_request(&store, "r", br#"{"batch":2,"no_wait":true}"#, 0);
    assert_eq!(deliveries(&out), vec![(1, 1)]);
    assert_eq!(statuses(&out), vec!["NATS/1.0 404 No Messages\r\n\r\n"]);
    let out = consumer.add_pull_request(&store, "r", br#"{"batch":1,"no_wait":true}"#, 0);
    assert_eq!(statuses(&out), vec!["NATS/1.0 404 No Messages\r\n\r\n"]);
    let out = consumer.add_pull_request(&store, "r", br#"{"batch":4,"expires":1000000000}"#, 0);
    assert!(out.is_empty());
    assert_eq!(consumer.next_wakeup(0), Some(SECOND));
    assert_eq!(
        statuses(&consumer.tick(&store, SECOND)),
        vec!["NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 4\r\nNats-Pending-Bytes: 0\r\n\r\n"]
    );
    let out =
        consumer.add_pull_request(&store, "w", br#"{"no_wait":true,"expires":1000000000}"#, 0);
    assert!(
        out.is_empty(),
        "no_wait with expires waits for a first message"
    );
    assert_eq!(consumer.num_waiting(), 1);
    assert!(consumer.cancel_request("w"));
    consumer.add_pull_request(&store, "gone", b"1", 0);
    assert_eq!(
        statuses(&consumer.close()),
        vec!["NATS/1.0 409 Consumer Deleted\r\n\r\n"]
    );
    let out = consumer.add_pull_request(&store, "r", b"{bad", 0);
    assert!(statuses(&out)[0].starts_with("NATS/1.0 400 Bad Request - "));
}

#[test]
fn max_bytes_ends_a_request_whose_budget_a_message_exceeds() {
    let store = store_with(&["a", "a"]);
    let mut consumer = consumer(&store, explicit());
    let first = consumer
        .next_delivery(&store, 0)
        .map(|d| d.size())
        .unwrap_or(0);
    let body = format!(r#"{{"batch":5,"max_bytes":{}}}"#, first + 1);
    let out = consumer.add_pull_request(&store, "r", body.as_bytes(), 0);
    assert_eq!(deliveries(&out), vec![(2, 1)]);
    assert_eq!(consumer.num_waiting(), 1);
    let mut store = store;
    assert!(store.store_msg("a", b"", b"data", 0, None).is_ok());
    let out = consumer.fill(&store, 0);
    assert_eq!(
        statuses(&out),
        vec!["NATS/1.0 409 Message Size Exceeds MaxBytes\r\nNats-Pending-Messages: 4\r\nNats-Pending-Bytes: 1\r\n\r\n"]
    );
}

#[test]
fn max_waiting_refuses_the_extra_request() {
    let store = store_with(&[]);
    let mut config = explicit();
    config.max_waiting = 1;
    let mut consumer = consumer(&store, config);
    assert!(consumer.add_pull_request(&store, "r1", b"1", 0).is_empty());
    assert_eq!(
        statuses(&consumer.add_pull_request(&store, "r2", b"1", 0)),
        vec!["NATS/1.0 409 Exceeded MaxWaiting\r\n\r\n"]
    );
}

#[test]
fn restore_resumes_deliveries_and_deadlines() {
    let store = store_with(&["a", "a", "a"]);
    let mut consumer = consumer(&store, explicit());
    consumer.add_pull_request(&store, "r", b"2", 0);
    consumer.ack(1, &AckKind::Ack, 0);
    let encoded = consumer.state().encode();
    let Ok(state) = ConsumerState::decode(&encoded) else {
        panic!("state did not decode");
    };
    let mut restored = Consumer::restore("S", "C", consumer.config().clone(), 0, state, 0);
    let before = consumer.info(&store, 0);
    let after = restored.info(&store, 0);
    let sequences = |info: &crate::api::consumer::ConsumerInfo| {
        let (delivered, floor) = (info.delivered, info.ack_floor);
        (
            delivered.consumer_seq,
            delivered.stream_seq,
            floor.consumer_seq,
            floor.stream_seq,
        )
    };
    assert_eq!(sequences(&after), sequences(&before));
    assert_eq!((after.num_pending, after.num_ack_pending), (1, 1));
    assert_eq!(
        restored.next_delivery(&store, 0).map(|d| d.message.seq),
        Some(3)
    );
    let redelivered = restored.next_delivery(&store, 30 * SECOND);
    assert_eq!(
        redelivered.map(|d| (d.message.seq, d.delivery_count)),
        Some((2, 2))
    );
}

#[test]
fn ack_none_delivers_once_and_floor_follows() {
    let store = store_with(&["a", "a"]);
    let mut consumer = consumer(&store, ConsumerConfig::default());
    consumer.add_pull_request(&store, "r", b"2", 0);
    let info = consumer.info(&store, 0);
    assert_eq!((info.ack_floor.stream_seq, info.num_ack_pending), (2, 0));
    assert!(consumer.next_delivery(&store, 100 * SECOND).is_none());
}

#[test]
fn headers_only_adds_the_size_header() {
    let store = store_with(&["a"]);
    let mut config = explicit();
    config.headers_only = true;
    let mut consumer = consumer(&store, config);
    let delivery = consumer.next_delivery(&store, 0);
    assert_eq!(
        delivery
            .as_ref()
            .map(|d| (&d.message.headers[..], d.message.payload.len())),
        Some((&b"NATS/1.0\r\nNats-Msg-Size: 4\r\n\r\n"[..], 0))
    );
}

#[test]
fn paused_consumer_delivers_nothing_until_the_pause_ends() {
    let store = store_with(&["a"]);
    let mut config = explicit();
    config.pause_until = Some(10 * SECOND);
    let mut consumer = consumer(&store, config);
    assert!(consumer.next_delivery(&store, 0).is_none());
    let info = consumer.info(&store, 0);
    assert!(info.paused);
    assert_eq!(info.pause_remaining, 10 * SECOND);
    assert!(consumer.next_delivery(&store, 10 * SECOND).is_some());
}

#[test]
fn config_errors_carry_nats_server_codes() {
    let stream = StreamContext {
        subjects: vec!["orders.>".into()],
        replicas: 1,
        ..StreamContext::default()
    };
    let check = |config: ConsumerConfig| {
        let mut config = config;
        apply_defaults(&mut config, &stream);
        validate(&config, &stream).map_err(|error| error.err_code())
    };
    let base = explicit;
    assert_eq!(
        check(ConsumerConfig {
            filter_subject: "other".into(),
            ..base()
        }),
        Ok(()),
        "nats-server 2.15.1 accepts a filter outside the stream's subjects (measured)"
    );
    assert_eq!(
        check(ConsumerConfig {
            filter_subject: "orders.a".into(),
            filter_subjects: vec!["orders.b".into()],
            ..base()
        }),
        Err(10136)
    );
    assert_eq!(
        check(ConsumerConfig {
            filter_subjects: vec!["orders.*".into(), "orders.a".into()],
            ..base()
        }),
        Err(10138)
    );
    assert_eq!(
        check(ConsumerConfig {
            deliver_policy: DeliverPolicy::ByStartSequence,
            ..base()
        }),
        Err(10094)
    );
    assert_eq!(
        check(ConsumerConfig {
            idle_heartbeat: SECOND,
            ..base()
        }),
        Err(10088)
    );
    assert_eq!(
        check(ConsumerConfig {
            backoff: vec![SECOND, SECOND],
            max_deliver: 1,
            ..base()
        }),
        Err(10116)
    );
    assert_eq!(
        check(ConsumerConfig {
            deliver_subject: "orders.x".into(),
            ..base()
        }),
        Err(10081)
    );
    assert_eq!(
        check(ConsumerConfig {
            durable_name: Some("a".into()),
            name: Some("b".into()),
            ..base()
        }),
        Err(10132)
    );
    assert_eq!(
        check(ConsumerConfig {
            durable_name: Some("a.b".into()),
            ..base()
        }),
        Err(10052)
    );
    assert_eq!(check(base()), Ok(()));
}

#[test]
fn acked_sequences_and_needs_ack_for_retention() {
    let store = store_with(&["a", "b", "a"]);
    let mut config = explicit();
    config.filter_subject = "a".into();
    let mut consumer = consumer(&store, config);
    assert!(consumer.needs_ack(1, "a") && !consumer.needs_ack(2, "b"));
    consumer.add_pull_request(&store, "r", b"2", SECOND);
    assert!(consumer.needs_ack(3, "a"), "delivered, not acked");
    consumer.ack(3, &AckKind::Ack, 2 * SECOND);
    consumer.ack(1, &AckKind::Term { reason: None }, 2 * SECOND);
    assert_eq!(consumer.take_acked(), vec![3, 1]);
    assert!(!consumer.needs_ack(1, "a") && !consumer.needs_ack(3, "a"));
    assert!(consumer.needs_ack(4, "a"), "not stored yet, still wanted");
    assert_eq!(consumer.last_activity(), 2 * SECOND);
    let mut none = consumer_with_policy(&store, AckPolicy::None);
    none.next_delivery(&store, 0);
    assert_eq!(none.take_acked(), vec![1]);
}

fn consumer_with_policy(store: &MemStore, policy: AckPolicy) -> Consumer {
    consumer(
        store,
        ConsumerConfig {
            ack_policy: policy,
            ..ConsumerConfig::default()
        },
    )
}

#[test]
fn async_nats_ordered_consumer_config_is_accepted() {
    // What async-nats 0.51's `OrderedConfig` sends (push/ordered), on an
    // interest stream whose context gives no replica count.
    let text = r#"{"deliver_subject":"_INBOX.x","deliver_policy":"all","ack_policy":"none",
        "max_deliver":1,"replay_policy":"instant","flow_control":true,
        "idle_heartbeat":5000000000,"inactive_threshold":30000000000,
        "num_replicas":1,"mem_storage":true}"#;
    let mut config: ConsumerConfig = serde_json::from_str(text).unwrap_or_default();
    let stream = StreamContext {
        retention: Retention::Interest,
        ..StreamContext::default()
    };
    apply_defaults(&mut config, &stream);
    assert_eq!(validate(&config, &stream), Ok(()));
    assert_eq!(config.max_waiting, 0, "push consumers get no max_waiting");
}

#[test]
fn pull_heartbeats_when_idle_and_not_after_a_delivery() {
    let mut store = store_with(&[]);
    let mut consumer = consumer(&store, explicit());
    let body = br#"{"batch":2,"expires":10000000000,"idle_heartbeat":2000000000}"#;
    assert!(consumer.add_pull_request(&store, "r", body, 0).is_empty());
    assert_eq!(
        statuses(&consumer.tick(&store, 2 * SECOND)),
        vec!["NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 0\r\nNats-Last-Stream: 0\r\n\r\n"]
    );
    assert!(store.store_msg("a", b"", b"x", 3 * SECOND, None).is_ok());
    assert_eq!(deliveries(&consumer.fill(&store, 3 * SECOND)), vec![(1, 1)]);
    assert!(
        consumer.tick(&store, 4 * SECOND).is_empty(),
        "delivered at 3 s"
    );
    assert_eq!(statuses(&consumer.tick(&store, 5 * SECOND)).len(), 1);
}

#[test]
fn replay_original_paces_stored_messages_then_goes_instant() {
    // store_with stamps message n at n seconds.
    let mut store = store_with(&["a", "a", "a"]);
    let mut config = explicit();
    config.replay_policy = crate::api::consumer::ReplayPolicy::Original;
    let mut consumer = consumer(&store, config);
    let at = 100 * SECOND;
    assert_eq!(
        consumer.next_delivery(&store, at).map(|d| d.message.seq),
        Some(1)
    );
    assert!(consumer.next_delivery(&store, at).is_none(), "held for 1 s");
    assert_eq!(consumer.next_wakeup(at), Some(at + SECOND));
    assert_eq!(
        consumer
            .next_delivery(&store, at + SECOND)
            .map(|d| d.message.seq),
        Some(2)
    );
    assert!(consumer.next_delivery(&store, at + SECOND).is_none());
    assert_eq!(
        consumer
            .next_delivery(&store, at + 2 * SECOND)
            .map(|d| d.message.seq),
        Some(3)
    );
    assert!(store.store_msg("a", b"", b"x", 500 * SECOND, None).is_ok());
    assert_eq!(
        consumer
            .next_delivery(&store, at + 2 * SECOND)
            .map(|d| d.message.seq),
        Some(4),
        "stored after creation: at once"
    );
}
