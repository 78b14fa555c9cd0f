//! Property test of pull request serving: many waiting requests with
//! batches, `max_bytes`, `expires` and `no_wait`, messages of random sizes,
//! time passing, cancelled requests, a small `max_waiting`.
//!
//! Checked after every call: every message is delivered exactly once and in
//! order; no request gets more than its batch or its bytes, or anything
//! after it ended; each status is justified and carries the right pending
//! headers; expired requests are gone; and nothing is stuck (never an
//! undelivered message and a live request at once).

use std::collections::BTreeMap;

use proptest::prelude::*;
use starling_store::{MemStore, MessageStore, StoreConfig};

use super::pull::status;
use super::*;
use crate::api::consumer::ConsumerConfig;

const SECOND: i64 = 1_000_000_000;
const MAX_WAITING: i64 = 3;

#[derive(Debug, Clone)]
enum Op {
    Request {
        batch: i64,
        max_bytes: i64,
        expires: i64,
        no_wait: bool,
    },
    Publish(usize),
    Advance(i64),
    Tick,
    Cancel(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let request = (
        1i64..5,
        prop_oneof![Just(0i64), 40i64..200],
        prop_oneof![Just(0i64), 1i64..4],
        any::<bool>(),
    )
        .prop_map(|(batch, max_bytes, expires, no_wait)| Op::Request {
            batch,
            max_bytes,
            expires: expires * SECOND,
            no_wait,
        });
    prop_oneof![
        3 => request,
        3 => (0usize..120).prop_map(Op::Publish),
        1 => (1i64..3).prop_map(Op::Advance),
        1 => Just(Op::Tick),
        1 => any::<usize>().prop_map(Op::Cancel),
    ]
}

#[derive(Debug)]
struct Request {
    batch: i64,
    max_bytes: i64,
    expires_at: Option<i64>,
    no_wait: bool,
    got: i64,
    bytes: i64,
}

struct Model {
    now: i64,
    next_reply: usize,
    alive: BTreeMap<String, Request>,
    ended: Vec<String>,
    next_to_deliver: u64,
    last_seq: u64,
}

impl Model {
    /// Check one call's outputs against the requests; `refused` is the
    /// reply of a request refused at admission, if any.
    fn apply(&mut self, out: &[Outbound], store: &MemStore) -> Result<(), TestCaseError> {
        for item in out {
            match item {
                Outbound::Message { to, delivery } => {
                    let request = self.alive.get_mut(to);
                    let Some(request) = request else {
                        return Err(TestCaseError::fail(format!(
                            "message to ended/unknown {to}"
                        )));
                    };
                    prop_assert_eq!(delivery.message.seq, self.next_to_deliver, "in order, once");
                    self.next_to_deliver += 1;
                    request.got += 1;
                    request.bytes += delivery.size();
                    prop_assert!(request.got <= request.batch, "over batch");
                    if request.max_bytes > 0 {
                        prop_assert!(request.bytes <= request.max_bytes, "over max_bytes");
                    }
                    let bytes_done = request.max_bytes > 0 && request.bytes == request.max_bytes;
                    if request.got == request.batch || bytes_done {
                        self.alive.remove(to);
                        self.ended.push(to.clone());
                    }
                }
                Outbound::Status { to, headers } => {
                    let Some(request) = self.alive.remove(to) else {
                        return Err(TestCaseError::fail(format!("status to ended/unknown {to}")));
                    };
                    self.ended.push(to.clone());
                    let left = request.batch - request.got;
                    let left_bytes = if request.max_bytes > 0 {
                        request.max_bytes - request.bytes
                    } else {
                        0
                    };
                    if *headers == status::request_timeout(left, left_bytes) {
                        prop_assert!(request.expires_at.is_some_and(|at| at <= self.now));
                    } else if *headers == status::no_messages() {
                        let ends = request.got > 0 || request.expires_at.is_none();
                        prop_assert!(request.no_wait && ends, "404 to a waiting request");
                        prop_assert!(
                            self.next_to_deliver > self.last_seq,
                            "404 with messages left"
                        );
                    } else if *headers == status::message_size_exceeds_max_bytes(left, left_bytes) {
                        let next = store.load_next_msg("", self.next_to_deliver);
                        prop_assert!(next.is_ok(), "409 size with nothing to send");
                    } else {
                        return Err(TestCaseError::fail(format!(
                            "unexpected status {:?}",
                            String::from_utf8_lossy(headers)
                        )));
                    }
                }
                Outbound::FlowControl { .. } => {
                    return Err(TestCaseError::fail("flow control on a pull consumer"));
                }
            }
        }
        Ok(())
    }

    fn check(&self, consumer: &Consumer) -> Result<(), TestCaseError> {
        prop_assert_eq!(consumer.num_waiting(), self.alive.len(), "num_waiting");
        for (reply, request) in &self.alive {
            prop_assert!(
                request.expires_at.is_none_or(|at| at > self.now),
                "{} expired but alive",
                reply
            );
            prop_assert!(
                !request.no_wait || self.next_to_deliver <= self.last_seq || request.got == 0
            );
        }
        if self.next_to_deliver <= self.last_seq {
            prop_assert!(self.alive.is_empty(), "a message and a live request: stuck");
        }
        Ok(())
    }
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut store = MemStore::new(StoreConfig::default());
    let mut config = ConsumerConfig {
        durable_name: Some("C".into()),
        max_waiting: MAX_WAITING,
        ..ConsumerConfig::default()
    };
    apply_defaults(&mut config, &StreamContext::default());
    let mut consumer = Consumer::new("S", "C", config, &store, 0);
    let mut model = Model {
        now: 0,
        next_reply: 0,
        alive: BTreeMap::new(),
        ended: Vec::new(),
        next_to_deliver: 1,
        last_seq: 0,
    };
    for op in ops {
        let out = match op {
            Op::Request {
                batch,
                max_bytes,
                expires,
                no_wait,
            } => {
                let reply = format!("r{}", model.next_reply);
                model.next_reply += 1;
                let body = format!(
                    r#"{{"batch":{batch},"max_bytes":{max_bytes},"expires":{expires},"no_wait":{no_wait}}}"#
                );
                let out = consumer.add_pull_request(&store, &reply, body.as_bytes(), model.now);
                // Expired requests are answered first; then this one is
                // admitted, refused as over max_waiting, or answered 404.
                let alive_after_expiry = model
                    .alive
                    .values()
                    .filter(|r| r.expires_at.is_none_or(|at| at > model.now))
                    .count() as i64;
                let refused = out.iter().any(|item| {
                    matches!(item, Outbound::Status { to, headers }
                        if *to == reply && *headers == status::exceeded_max_waiting())
                });
                let answered_at_once =
                    no_wait && expires == 0 && model.next_to_deliver > model.last_seq;
                let expect_refused = alive_after_expiry >= MAX_WAITING && !answered_at_once;
                prop_assert_eq!(refused, expect_refused, "max_waiting");
                let admitted: Vec<Outbound> = if refused {
                    out.into_iter()
                        .filter(|item| !matches!(item, Outbound::Status { to, .. } if *to == reply))
                        .collect()
                } else {
                    model.alive.insert(
                        reply.clone(),
                        Request {
                            batch,
                            max_bytes,
                            expires_at: (expires > 0).then_some(model.now + expires),
                            no_wait,
                            got: 0,
                            bytes: 0,
                        },
                    );
                    out
                };
                admitted
            }
            Op::Publish(size) => {
                model.now += 1;
                let payload = vec![b'x'; size];
                let stored = store.store_msg("s.x", b"", &payload, model.now, None);
                prop_assert!(stored.is_ok());
                model.last_seq += 1;
                consumer.fill(&store, model.now)
            }
            Op::Advance(seconds) => {
                model.now += seconds * SECOND;
                Vec::new()
            }
            Op::Tick => consumer.tick(&store, model.now),
            Op::Cancel(index) => {
                let replies: Vec<String> = model.alive.keys().cloned().collect();
                if let Some(reply) = replies.get(index % replies.len().max(1)) {
                    prop_assert!(consumer.cancel_request(reply));
                    model.alive.remove(reply);
                }
                Vec::new()
            }
        };
        model.apply(&out, &store)?;
        if !matches!(op, Op::Advance(_) | Op::Cancel(_)) {
            model.check(&consumer)?;
        }
    }
    let closed = consumer.close();
    prop_assert_eq!(closed.len(), model.alive.len());
    for item in &closed {
        let deleted = matches!(item, Outbound::Status { to, headers }
            if model.alive.contains_key(to) && *headers == status::consumer_deleted());
        prop_assert!(deleted, "close: {:?}", item);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn pull_requests_are_served_exactly(ops in proptest::collection::vec(op(), 1..60)) {
        run(ops)?;
    }
}
