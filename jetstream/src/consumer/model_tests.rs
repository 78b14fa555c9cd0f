//! Property test: the consumer against a small, obviously-correct model.
//!
//! Random configs (ack policy, filters including colliding ones, deliver
//! policy, max_deliver, max_ack_pending, backoff) and random operations
//! (publish, remove, no-wait pulls, ack/nak/progress/term, time passing,
//! ticks, restart through encode/decode). After every operation the
//! consumer's counters, floors, pending set, delivery counts and ack
//! deadlines must equal the model's, every delivery must be the one the
//! model expects (a due redelivery, or the next matching message) with a
//! correct ack subject, and every advisory event must be expected.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use proptest::prelude::*;
use starling_store::{subject_matches, MemStore, MessageStore, StoreConfig};

use super::*;
use crate::api::consumer::{AckPolicy, ConsumerConfig, DeliverPolicy};

const SECOND: i64 = 1_000_000_000;
const SUBJECTS: [&str; 5] = ["a.1", "a.2", "b.1", "b.2", "c.1"];

#[derive(Debug, Clone)]
enum Op {
    Publish(usize),
    Remove(usize),
    Purge,
    Pull(i64),
    Ack(usize),
    Nak(usize, i64),
    Progress(usize),
    Term(usize),
    Advance(i64),
    Tick,
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..SUBJECTS.len()).prop_map(Op::Publish),
        1 => any::<usize>().prop_map(Op::Remove),
        1 => Just(Op::Purge),
        4 => (1i64..5).prop_map(Op::Pull),
        3 => any::<usize>().prop_map(Op::Ack),
        2 => (any::<usize>(), prop_oneof![Just(0i64), 1i64..4]).prop_map(|(i, d)| Op::Nak(i, d)),
        1 => any::<usize>().prop_map(Op::Progress),
        1 => any::<usize>().prop_map(Op::Term),
        2 => (1i64..4).prop_map(Op::Advance),
        1 => Just(Op::Tick),
        1 => Just(Op::Restart),
    ]
}

#[derive(Debug, Clone)]
struct Setup {
    policy: AckPolicy,
    filters: Vec<String>,
    deliver: DeliverPolicy,
    start_seq: u64,
    max_deliver: i64,
    max_ack_pending: i64,
    ack_wait: i64,
    backoff: Vec<i64>,
    initial: Vec<usize>,
}

fn setup() -> impl Strategy<Value = Setup> {
    let policy = prop_oneof![
        Just(AckPolicy::None),
        Just(AckPolicy::All),
        Just(AckPolicy::Explicit)
    ];
    let filters = prop_oneof![
        Just(vec![]),
        Just(vec!["a.*".to_string()]),
        Just(vec!["a.*".to_string(), "b.1".to_string()]),
        Just(vec!["a.*".to_string(), "*.1".to_string()]),
    ];
    let deliver = prop_oneof![
        Just(DeliverPolicy::All),
        Just(DeliverPolicy::LastPerSubject),
        Just(DeliverPolicy::New),
        Just(DeliverPolicy::ByStartSequence),
    ];
    let backoff = prop_oneof![Just(vec![]), Just(vec![SECOND, 3 * SECOND])];
    (
        policy,
        filters,
        deliver,
        1u64..6,
        prop_oneof![Just(-1i64), 2i64..5],
        prop_oneof![Just(0i64), 1i64..5],
        (1i64..4).prop_map(|s| s * SECOND),
        backoff,
        proptest::collection::vec(0..SUBJECTS.len(), 0..8),
    )
        .prop_map(
            |(
                policy,
                filters,
                deliver,
                start_seq,
                max_deliver,
                max_ack_pending,
                ack_wait,
                backoff,
                initial,
            )| Setup {
                policy,
                filters,
                deliver,
                start_seq,
                max_deliver,
                max_ack_pending,
                ack_wait,
                backoff,
                initial,
            },
        )
}

#[derive(Debug, Clone)]
struct ModelPending {
    consumer_seq: u64,
    deliveries: u64,
    /// `None` while queued for redelivery.
    deadline: Option<i64>,
}

/// The model: plain maps and a linear scan, nothing clever.
struct Model {
    now: i64,
    present: BTreeMap<u64, String>,
    filters: Vec<String>,
    policy: AckPolicy,
    max_deliver: i64,
    max_ack_pending: i64,
    ack_wait: i64,
    backoff: Vec<i64>,
    skip: Option<(VecDeque<u64>, u64)>,
    next: u64,
    delivered_consumer: u64,
    delivered_stream: u64,
    pending: BTreeMap<u64, ModelPending>,
    events: Vec<ConsumerEvent>,
}

impl Model {
    fn matches(&self, subject: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| subject_matches(f, subject))
    }

    fn wait(&self, deliveries: u64) -> i64 {
        if self.backoff.is_empty() {
            return self.ack_wait;
        }
        self.backoff[((deliveries - 1) as usize).min(self.backoff.len() - 1)]
    }

    fn num_pending(&self) -> u64 {
        let count_from = |start: u64| {
            self.present
                .range(start..)
                .filter(|(_, subject)| self.matches(subject))
                .count() as u64
        };
        match &self.skip {
            Some((entries, resume)) => {
                entries
                    .iter()
                    .filter(|seq| self.present.contains_key(seq))
                    .count() as u64
                    + count_from(*resume)
            }
            None => count_from(self.next),
        }
    }

    fn floor(&self) -> (u64, u64) {
        match self.pending.iter().next() {
            Some((seq, pending)) => (pending.consumer_seq - 1, seq - 1),
            None => (self.delivered_consumer, self.delivered_stream),
        }
    }

    fn finish_skip(&mut self) {
        if let Some((_, resume)) = self.skip.take() {
            self.next = self.next.max(resume);
            self.delivered_stream = self.delivered_stream.max(resume - 1);
        }
    }

    fn queued(&self) -> BTreeSet<u64> {
        self.pending
            .iter()
            .filter(|(_, p)| p.deadline.is_none())
            .map(|(seq, _)| *seq)
            .collect()
    }

    fn process_due(&mut self) {
        let due: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline.is_some_and(|at| at <= self.now))
            .map(|(seq, _)| *seq)
            .collect();
        for seq in due {
            self.make_due(seq);
        }
    }

    fn make_due(&mut self, seq: u64) {
        let Some(pending) = self.pending.get_mut(&seq) else {
            return;
        };
        if self.max_deliver > 0 && pending.deliveries >= self.max_deliver as u64 {
            let deliveries = pending.deliveries;
            self.pending.remove(&seq);
            self.events.push(ConsumerEvent::MaxDeliveries {
                stream_seq: seq,
                deliveries,
            });
        } else {
            pending.deadline = None;
        }
    }

    fn stalled(&self) -> bool {
        self.policy != AckPolicy::None
            && self.max_ack_pending > 0
            && self.pending.len() as i64 >= self.max_ack_pending
    }

    /// The next first delivery, dropping skip entries that are gone.
    fn next_first(&mut self) -> Option<u64> {
        if let Some((entries, _)) = &mut self.skip {
            while let Some(&seq) = entries.front() {
                if self.present.contains_key(&seq) {
                    return Some(seq);
                }
                entries.pop_front();
            }
            self.finish_skip();
        }
        self.present
            .range(self.next..)
            .find(|(_, subject)| self.matches(subject))
            .map(|(seq, _)| *seq)
    }

    fn record_first(&mut self, seq: u64) {
        self.delivered_consumer += 1;
        if let Some((entries, _)) = &mut self.skip {
            entries.pop_front();
            if entries.is_empty() {
                self.finish_skip();
            }
        } else {
            self.next = seq + 1;
        }
        self.delivered_stream = self.delivered_stream.max(seq);
        if self.policy != AckPolicy::None {
            let deadline = Some(self.now + self.wait(1));
            let consumer_seq = self.delivered_consumer;
            self.pending.insert(
                seq,
                ModelPending {
                    consumer_seq,
                    deliveries: 1,
                    deadline,
                },
            );
        }
    }

    fn record_redelivery(&mut self, seq: u64) {
        self.delivered_consumer += 1;
        let deliveries = self.pending.get(&seq).map_or(1, |p| p.deliveries + 1);
        let deadline = Some(self.now + self.wait(deliveries));
        if let Some(pending) = self.pending.get_mut(&seq) {
            pending.deliveries = deliveries;
            pending.deadline = deadline;
        }
    }

    fn pick(&self, index: usize) -> u64 {
        let seqs: Vec<u64> = self.pending.keys().copied().collect();
        if seqs.is_empty() {
            return (index % 12) as u64;
        }
        seqs[index % seqs.len()]
    }
}

fn check_same(consumer: &Consumer, model: &Model, store: &MemStore) -> Result<(), TestCaseError> {
    let info = consumer.info(store, model.now);
    prop_assert_eq!(
        (info.delivered.consumer_seq, info.delivered.stream_seq),
        (model.delivered_consumer, model.delivered_stream),
        "delivered"
    );
    prop_assert_eq!(
        (info.ack_floor.consumer_seq, info.ack_floor.stream_seq),
        model.floor(),
        "ack floor"
    );
    prop_assert_eq!(
        info.num_ack_pending,
        model.pending.len() as u64,
        "num_ack_pending"
    );
    let redelivered = model.pending.values().filter(|p| p.deliveries > 1).count() as u64;
    prop_assert_eq!(info.num_redelivered, redelivered, "num_redelivered");
    prop_assert_eq!(info.num_pending, model.num_pending(), "num_pending");
    prop_assert_eq!(info.num_waiting, 0);
    for (seq, pending) in &model.pending {
        prop_assert_eq!(
            consumer.state.delivery_count(*seq),
            pending.deliveries,
            "deliveries of {}",
            seq
        );
        let queued = consumer.redeliver_set.contains(seq);
        match pending.deadline {
            Some(deadline) => {
                prop_assert!(!queued, "{} should be waiting", seq);
                prop_assert_eq!(
                    consumer.deadline_of.get(seq).copied(),
                    Some(deadline),
                    "deadline of {}",
                    seq
                );
            }
            None => prop_assert!(queued, "{} should be queued", seq),
        }
    }
    prop_assert_eq!(consumer.state.pending.len(), model.pending.len());
    Ok(())
}

fn run_pull(
    consumer: &mut Consumer,
    model: &mut Model,
    store: &MemStore,
    batch: i64,
) -> Result<(), TestCaseError> {
    let body = format!(r#"{{"batch":{batch},"no_wait":true}}"#);
    let out = consumer.add_pull_request(store, "reply", body.as_bytes(), model.now);
    consumer.cancel_request("reply");
    model.process_due();
    let mut expect_404 = false;
    let mut outputs = out.iter();
    if model.queued().is_empty() && model.num_pending() == 0 {
        expect_404 = true;
    } else {
        let mut delivered = 0;
        loop {
            if delivered == batch {
                break;
            }
            let queued = model.queued();
            let expected_first = if queued.is_empty() {
                if model.stalled() {
                    expect_404 = model.num_pending() == 0;
                    break;
                }
                match model.next_first() {
                    Some(seq) => Some(seq),
                    None => {
                        expect_404 = true;
                        break;
                    }
                }
            } else {
                None
            };
            let Some(Outbound::Message { to, delivery }) = outputs.next() else {
                return Err(TestCaseError::fail(format!(
                    "expected a delivery, got {out:?}"
                )));
            };
            prop_assert_eq!(to.as_str(), "reply");
            let seq = delivery.message.seq;
            match expected_first {
                Some(first) => {
                    prop_assert_eq!(seq, first, "first delivery");
                    prop_assert_eq!(delivery.delivery_count, 1);
                    model.record_first(seq);
                }
                None => {
                    prop_assert!(queued.contains(&seq), "redelivery of {} not due", seq);
                    model.record_redelivery(seq);
                    prop_assert_eq!(delivery.delivery_count, model.pending[&seq].deliveries);
                }
            }
            let reply = AckReply::parse(&delivery.ack_subject);
            let expected = AckReply {
                stream: "S".into(),
                consumer: "C".into(),
                delivery_count: delivery.delivery_count,
                stream_seq: seq,
                consumer_seq: model.delivered_consumer,
                timestamp: delivery.message.timestamp,
                pending: model.num_pending(),
            };
            prop_assert_eq!(reply, Some(expected), "ack subject");
            delivered += 1;
        }
    }
    let rest: Vec<&Outbound> = outputs.collect();
    if expect_404 {
        let headers = status::no_messages();
        prop_assert!(
            matches!(rest.as_slice(), [Outbound::Status { headers: h, .. }] if *h == headers),
            "expected 404, got {:?}",
            rest
        );
    } else {
        prop_assert!(rest.is_empty(), "unexpected {:?}", rest);
    }
    Ok(())
}

use crate::consumer::pull::status;

fn publish(store: &mut MemStore, model: &mut Model, subject: &str) -> Result<(), TestCaseError> {
    model.now += 1;
    let seq = store.store_msg(subject, b"", b"x", model.now, None);
    prop_assert!(seq.is_ok());
    model.present.insert(seq.unwrap_or(0), subject.to_string());
    Ok(())
}

fn run(setup: Setup, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut store = MemStore::new(StoreConfig::default());
    let mut model = Model {
        now: 0,
        present: BTreeMap::new(),
        filters: setup.filters.clone(),
        policy: setup.policy,
        max_deliver: setup.max_deliver,
        max_ack_pending: 0,
        ack_wait: 0,
        backoff: setup.backoff.clone(),
        skip: None,
        next: 1,
        delivered_consumer: 0,
        delivered_stream: 0,
        pending: BTreeMap::new(),
        events: Vec::new(),
    };
    for index in &setup.initial {
        publish(&mut store, &mut model, SUBJECTS[*index])?;
    }
    let mut filters = setup.filters.clone();
    if setup.deliver == DeliverPolicy::LastPerSubject && filters.is_empty() {
        filters = vec![">".into()];
        model.filters = filters.clone();
    }
    let mut config = ConsumerConfig {
        durable_name: Some("C".into()),
        ack_policy: setup.policy,
        deliver_policy: setup.deliver,
        opt_start_seq: if setup.deliver == DeliverPolicy::ByStartSequence {
            setup.start_seq
        } else {
            0
        },
        max_deliver: setup.max_deliver,
        max_ack_pending: setup.max_ack_pending,
        ack_wait: setup.ack_wait,
        backoff: setup.backoff.clone(),
        ..ConsumerConfig::default()
    };
    if filters.len() == 1 {
        config.filter_subject = filters[0].clone();
    } else {
        config.filter_subjects = filters.clone();
    }
    let stream = StreamContext {
        subjects: vec![">".into()],
        replicas: 1,
        ..StreamContext::default()
    };
    apply_defaults(&mut config, &stream);
    if validate(&config, &stream).is_err() {
        // Colliding filters are refused as overlapping only when one is a
        // subset; `a.*` and `*.1` collide without either being a subset.
        return Ok(());
    }
    model.ack_wait = config.ack_wait;
    model.max_ack_pending = if setup.policy == AckPolicy::None {
        0
    } else {
        config.max_ack_pending
    };
    let last = model.present.keys().next_back().copied().unwrap_or(0);
    match setup.deliver {
        DeliverPolicy::All => model.next = 1,
        DeliverPolicy::New => model.next = last + 1,
        DeliverPolicy::ByStartSequence => model.next = setup.start_seq,
        DeliverPolicy::LastPerSubject => {
            let mut lasts: BTreeMap<String, u64> = BTreeMap::new();
            for (seq, subject) in &model.present {
                if model.matches(subject) {
                    lasts.insert(subject.clone(), *seq);
                }
            }
            let mut entries: Vec<u64> = lasts.into_values().collect();
            entries.sort_unstable();
            model.next = entries.first().copied().unwrap_or(last + 1);
            if !entries.is_empty() {
                model.skip = Some((entries.into_iter().collect(), last + 1));
            }
        }
        _ => {}
    }
    model.delivered_stream = model.next - 1;
    let mut consumer = Consumer::new("S", "C", config, &store, model.now);
    check_same(&consumer, &model, &store)?;

    for op in ops {
        match op {
            Op::Publish(index) => publish(&mut store, &mut model, SUBJECTS[index])?,
            Op::Remove(index) => {
                let removable: Vec<u64> = model
                    .present
                    .keys()
                    .filter(|seq| !model.pending.contains_key(seq))
                    .copied()
                    .collect();
                if let Some(seq) = removable.get(index % removable.len().max(1)) {
                    prop_assert!(store.remove_msg(*seq).unwrap_or(false));
                    model.present.remove(seq);
                }
            }
            Op::Purge => {
                prop_assert!(store.purge().is_ok());
                consumer.on_messages_removed(&store);
                model.present.clear();
                model.pending.clear();
                let first = store.state().first_seq;
                if first > model.next {
                    model.next = first;
                    model.delivered_stream = model.delivered_stream.max(first - 1);
                }
            }
            Op::Pull(batch) => run_pull(&mut consumer, &mut model, &store, batch)?,
            Op::Ack(index) => {
                let seq = model.pick(index);
                let applied = consumer.ack(seq, &AckKind::Ack, model.now);
                let mut expected = false;
                if model.policy != AckPolicy::None && seq <= model.delivered_stream {
                    let acked: Vec<u64> = match model.policy {
                        AckPolicy::All => model.pending.range(..=seq).map(|(s, _)| *s).collect(),
                        _ => model
                            .pending
                            .contains_key(&seq)
                            .then_some(seq)
                            .into_iter()
                            .collect(),
                    };
                    expected = !acked.is_empty();
                    for seq in acked {
                        model.pending.remove(&seq);
                    }
                }
                prop_assert_eq!(applied, expected, "ack {}", seq);
            }
            Op::Nak(index, delay_seconds) => {
                let seq = model.pick(index);
                let delay = delay_seconds * SECOND;
                let applied = consumer.ack(seq, &AckKind::Nak { delay }, model.now);
                let waiting = model
                    .pending
                    .get(&seq)
                    .is_some_and(|p| p.deadline.is_some());
                let expected =
                    model.policy != AckPolicy::None && seq <= model.delivered_stream && waiting;
                if expected {
                    if delay > 0 {
                        let now = model.now;
                        if let Some(p) = model.pending.get_mut(&seq) {
                            p.deadline = Some(now + delay);
                        }
                    } else {
                        model.make_due(seq);
                    }
                }
                prop_assert_eq!(applied, expected, "nak {}", seq);
            }
            Op::Progress(index) => {
                let seq = model.pick(index);
                let applied = consumer.ack(seq, &AckKind::Progress, model.now);
                let waiting = model
                    .pending
                    .get(&seq)
                    .is_some_and(|p| p.deadline.is_some());
                let expected =
                    model.policy != AckPolicy::None && seq <= model.delivered_stream && waiting;
                if expected {
                    let deadline = model.now + model.wait(model.pending[&seq].deliveries);
                    if let Some(p) = model.pending.get_mut(&seq) {
                        p.deadline = Some(deadline);
                    }
                }
                prop_assert_eq!(applied, expected, "progress {}", seq);
            }
            Op::Term(index) => {
                let seq = model.pick(index);
                let applied = consumer.ack(seq, &AckKind::Term { reason: None }, model.now);
                let expected = model.policy != AckPolicy::None && seq <= model.delivered_stream;
                let removed = if expected {
                    model.pending.remove(&seq)
                } else {
                    None
                };
                if let Some(p) = &removed {
                    model.events.push(ConsumerEvent::Terminated {
                        stream_seq: seq,
                        consumer_seq: p.consumer_seq,
                        deliveries: p.deliveries,
                        reason: None,
                    });
                }
                prop_assert_eq!(applied, removed.is_some(), "term {}", seq);
            }
            Op::Advance(seconds) => model.now += seconds * SECOND,
            Op::Tick => {
                let out = consumer.tick(&store, model.now);
                prop_assert!(out.is_empty());
                model.process_due();
            }
            Op::Restart => {
                if model.skip.is_some() {
                    continue;
                }
                let encoded = consumer.state().encode();
                let decoded = ConsumerState::decode(&encoded);
                prop_assert_eq!(decoded.as_ref().ok(), Some(consumer.state()));
                let state = decoded.unwrap_or_default();
                let mut restored =
                    Consumer::restore("S", "C", consumer.config().clone(), 0, state, model.now);
                let mut events = consumer.take_events();
                events.extend(restored.take_events());
                restored.events = events;
                consumer = restored;
                model.process_due();
            }
        }
        let mut got = consumer.take_events();
        let mut want = std::mem::take(&mut model.events);
        got.sort_by_key(|event| format!("{event:?}"));
        want.sort_by_key(|event| format!("{event:?}"));
        prop_assert_eq!(got, want, "events");
        check_same(&consumer, &model, &store)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn consumer_counters_match_the_model(setup in setup(), ops in proptest::collection::vec(op(), 1..80)) {
        run(setup, ops)?;
    }
}
