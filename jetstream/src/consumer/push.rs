//! Push consumers: deliveries to `deliver_subject` while it has interest,
//! flow control (`100 FlowControl Request` with a `$JS.FC…` reply, window
//! doubling up to 32 MiB / 16 per reply as nats-server's
//! `needFlowControl`/`processFlowControl`), and idle heartbeats
//! (`100 Idle Heartbeat`, with `Nats-Consumer-Stalled` while a flow control
//! reply is outstanding), and `rate_limit_bps` pacing (`rate`).

use starling_store::MessageStore;

use crate::consumer::deliver::Peek;
use crate::consumer::machine::Consumer;
use crate::consumer::rate::RatePacing;
use crate::consumer::serve::Outbound;

/// nats-server's `JsFlowControlMaxPending`: the largest flow control
/// window; a consumer starts at a sixteenth of it.
pub const FLOW_CONTROL_MAX_PENDING: i64 = 32 * 1024 * 1024;

/// The flow control and heartbeat state of a push consumer (leader-local).
#[derive(Debug, Clone, Default)]
pub struct PushState {
    /// The deliver subject has interest (`push_bound`); set by the caller.
    pub bound: bool,
    /// Bytes sent and not yet covered by a flow control reply.
    pending_bytes: i64,
    /// Current window: delivery pauses above it.
    window: i64,
    /// The outstanding flow control subject, if any.
    outstanding: Option<String>,
    /// `pending_bytes` when the outstanding request was sent.
    outstanding_bytes: i64,
    /// Flow control requests sent, for unique subjects.
    requests_sent: u64,
    /// Last delivery or heartbeat to the deliver subject.
    last_sent_at: Option<i64>,
    /// `rate_limit_bps` token bucket.
    pub(super) rate: RatePacing,
}

impl Consumer {
    /// The deliver subject gained or lost interest.
    pub fn set_push_bound(&mut self, bound: bool) {
        self.push.bound = bound;
    }

    /// The `rate_limit_bps` burst in bytes: nats-server uses the stream's
    /// `max_msg_size`, else the account's or server's `max_payload`.
    pub fn set_rate_burst(&mut self, bytes: i64) {
        self.push.rate.set_burst(bytes);
    }

    /// Push consumers: up to `limit` deliveries (with flow control requests
    /// between them) to send now. Nothing while unbound, paused, over
    /// `max_ack_pending` or waiting for a flow control reply; with
    /// `rate_limit_bps`, a message waits until the token bucket covers it
    /// (`next_wakeup` then says when).
    pub fn push(
        &mut self,
        store: &(impl MessageStore + ?Sized),
        now: i64,
        limit: usize,
    ) -> Vec<Outbound> {
        let mut out = Vec::new();
        if self.config.is_pull() || !self.push.bound {
            return out;
        }
        self.expire_deadlines(now);
        if self.config.flow_control && self.push.window == 0 {
            self.push.window = FLOW_CONTROL_MAX_PENDING / 16;
        }
        let deliver_subject = self.config.deliver_subject.clone();
        let rate = self.config.rate_limit_bps;
        self.push.rate.held_until = None;
        while out.len() < limit {
            if self.config.flow_control && self.push.pending_bytes > self.push.window {
                break;
            }
            let candidate = match self.peek(store, now) {
                Peek::Message(candidate) => candidate,
                Peek::Stalled | Peek::Empty => break,
            };
            let delivery = self.prepare(store, *candidate);
            if rate > 0 {
                // nats-server's reservation size: message subject, deliver
                // subject, ack reply, headers and payload.
                let reserved = (delivery.message.subject.len()
                    + deliver_subject.len()
                    + delivery.ack_subject.len()
                    + delivery.message.headers.len()
                    + delivery.message.payload.len()) as i64;
                let due = self.push.rate.due(reserved, rate, now);
                if due > now {
                    // Not recorded: the same message is peeked again then.
                    self.push.rate.held_until = Some(due);
                    break;
                }
                self.push.rate.take(reserved, rate, now);
            }
            self.commit(&delivery, now);
            let size = (deliver_subject.len()
                + delivery.ack_subject.len()
                + delivery.message.headers.len()
                + delivery.message.payload.len()) as i64;
            self.push.last_sent_at = Some(now);
            out.push(Outbound::Message {
                to: deliver_subject.clone(),
                delivery: Box::new(delivery),
            });
            if self.config.flow_control {
                self.push.pending_bytes += size;
                if let Some(request) = self.flow_control_needed(size) {
                    out.push(request);
                }
            }
        }
        out
    }

    /// nats-server's `needFlowControl`: ask when over half the window with
    /// none outstanding; while one is outstanding, grow what it covers.
    fn flow_control_needed(&mut self, size: i64) -> Option<Outbound> {
        let push = &mut self.push;
        if push.outstanding.is_none() && push.pending_bytes > push.window / 2 {
            push.requests_sent += 1;
            let subject = format!(
                "$JS.FC.{}.{}.{}",
                self.stream_name, self.name, push.requests_sent
            );
            push.outstanding = Some(subject.clone());
            push.outstanding_bytes = push.pending_bytes;
            return Some(Outbound::FlowControl {
                to: self.config.deliver_subject.clone(),
                reply: subject,
            });
        }
        if push.outstanding.is_some() && push.pending_bytes - push.outstanding_bytes >= push.window
        {
            push.outstanding_bytes += size;
        }
        None
    }

    /// A reply arrived on a `$JS.FC…` subject; false if it is not the
    /// outstanding one. The window doubles up to its maximum.
    pub fn flow_control_reply(&mut self, subject: &str) -> bool {
        let push = &mut self.push;
        if push.outstanding.as_deref() != Some(subject) {
            return false;
        }
        push.window = (push.window * 2).min(FLOW_CONTROL_MAX_PENDING);
        push.pending_bytes = (push.pending_bytes - push.outstanding_bytes).max(0);
        push.outstanding = None;
        push.outstanding_bytes = 0;
        true
    }

    /// Push consumers: the idle heartbeat due at `now`, if any.
    pub fn push_heartbeat(&mut self, now: i64) -> Option<Outbound> {
        let interval = self.config.idle_heartbeat;
        if self.config.is_pull() || interval <= 0 || !self.push.bound {
            return None;
        }
        let last = *self.push.last_sent_at.get_or_insert(now);
        if now - last < interval {
            return None;
        }
        self.push.last_sent_at = Some(now);
        let mut headers = format!(
            "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: {}\r\nNats-Last-Stream: {}\r\n",
            self.state.delivered.consumer, self.state.delivered.stream
        );
        if let Some(subject) = &self.push.outstanding {
            headers.push_str(&format!("Nats-Consumer-Stalled: {subject}\r\n"));
        }
        headers.push_str("\r\n");
        Some(Outbound::Status {
            to: self.config.deliver_subject.clone(),
            headers: headers.into_bytes(),
        })
    }

    /// When the next push heartbeat is due, if any.
    pub(super) fn next_push_heartbeat(&self) -> Option<i64> {
        let interval = self.config.idle_heartbeat;
        if self.config.is_pull() || interval <= 0 || !self.push.bound {
            return None;
        }
        self.push.last_sent_at.map(|last| last + interval)
    }
}

#[cfg(test)]
mod tests {
    use starling_store::{MemStore, MessageStore, StoreConfig};

    use super::*;
    use crate::api::consumer::{AckPolicy, ConsumerConfig};
    use crate::consumer::{apply_defaults, StreamContext};

    const SECOND: i64 = 1_000_000_000;

    fn push_consumer(store: &MemStore, flow_control: bool) -> Consumer {
        let mut config = ConsumerConfig {
            deliver_subject: "deliver".into(),
            ack_policy: AckPolicy::None,
            flow_control,
            idle_heartbeat: 5 * SECOND,
            ..ConsumerConfig::default()
        };
        apply_defaults(&mut config, &StreamContext::default());
        Consumer::new("S", "C", config, store, 0)
    }

    fn store_of(count: usize, size: usize) -> MemStore {
        let mut store = MemStore::new(StoreConfig::default());
        for _ in 0..count {
            assert!(store.store_msg("s", b"", &vec![0; size], 1, None).is_ok());
        }
        store
    }

    #[test]
    fn nothing_is_pushed_until_bound() {
        let store = store_of(3, 10);
        let mut consumer = push_consumer(&store, false);
        assert!(consumer.push(&store, 0, 10).is_empty());
        consumer.set_push_bound(true);
        assert_eq!(consumer.push(&store, 0, 10).len(), 3);
        assert!(consumer.info(&store, 0).push_bound);
    }

    #[test]
    fn flow_control_asks_at_half_window_and_stalls_above_it() {
        let store = store_of(40, 100 * 1024);
        let mut consumer = push_consumer(&store, true);
        consumer.set_push_bound(true);
        let out = consumer.push(&store, 0, 100);
        let messages = out
            .iter()
            .filter(|item| matches!(item, Outbound::Message { .. }))
            .count();
        let requests: Vec<&String> = out
            .iter()
            .filter_map(|item| match item {
                Outbound::FlowControl { reply, .. } => Some(reply),
                _ => None,
            })
            .collect();
        assert_eq!(requests, vec!["$JS.FC.S.C.1"]);
        assert_eq!(messages, 21, "2 MiB window of 100 KiB messages, one over");
        let Some(Outbound::Status { headers, .. }) = consumer.push_heartbeat(5 * SECOND) else {
            panic!("no heartbeat");
        };
        let text = String::from_utf8_lossy(&headers).into_owned();
        assert!(
            text.contains("Nats-Consumer-Stalled: $JS.FC.S.C.1\r\n"),
            "{text}"
        );
        assert!(!consumer.flow_control_reply("$JS.FC.S.C.9"));
        assert!(consumer.flow_control_reply("$JS.FC.S.C.1"));
        let more = consumer.push(&store, 5 * SECOND, 100);
        assert!(more
            .iter()
            .any(|item| matches!(item, Outbound::Message { .. })));
    }

    #[test]
    fn idle_heartbeat_after_the_interval_without_deliveries() {
        let store = store_of(1, 1);
        let mut consumer = push_consumer(&store, false);
        consumer.set_push_bound(true);
        assert_eq!(consumer.push(&store, 0, 10).len(), 1);
        assert!(consumer.push_heartbeat(4 * SECOND).is_none());
        assert_eq!(consumer.next_wakeup(4 * SECOND), Some(5 * SECOND));
        let Some(Outbound::Status { to, headers }) = consumer.push_heartbeat(5 * SECOND) else {
            panic!("no heartbeat");
        };
        assert_eq!(to, "deliver");
        assert_eq!(
            headers,
            b"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 1\r\nNats-Last-Stream: 1\r\n\r\n"
        );
    }

    #[test]
    fn rate_limit_paces_deliveries_and_next_wakeup_says_when() {
        let store = store_of(5, 980);
        let mut consumer = push_consumer(&store, false);
        let mut config = consumer.config().clone();
        config.rate_limit_bps = 8000; // 1000 bytes a second
        consumer.update_config(config);
        consumer.set_rate_burst(2500);
        consumer.set_push_bound(true);
        let sizes = |out: &[Outbound]| -> Vec<i64> {
            out.iter()
                .filter_map(|item| match item {
                    Outbound::Message { to, delivery } => Some(delivery.size() + to.len() as i64),
                    _ => None,
                })
                .collect()
        };
        let first = consumer.push(&store, 0, 10);
        assert_eq!(first.len(), 2, "the burst covers two messages");
        let size = sizes(&first)[0];
        assert!(size > 1000 && size < 1100, "{size}");
        // The bucket holds 2500 - 2 * size; the third needs the rest.
        let debt = 3 * size - 2500;
        let due = debt * SECOND / 1000;
        assert_eq!(consumer.next_wakeup(0), Some(due));
        assert!(consumer.push(&store, due - 1, 10).is_empty());
        assert_eq!(consumer.push(&store, due, 10).len(), 1);
        // From now on one message per `size` milliseconds.
        assert_eq!(consumer.next_wakeup(due), Some(due + size * SECOND / 1000));
        assert!(consumer.push(&store, due + 1, 10).is_empty());
        let later = due + 2 * size * SECOND / 1000;
        assert_eq!(consumer.push(&store, later, 10).len(), 2, "caught up");
        assert_eq!(consumer.info(&store, later).delivered.stream_seq, 5);
    }

    #[test]
    fn pull_requests_on_a_push_consumer_are_refused() {
        let store = store_of(1, 1);
        let mut consumer = push_consumer(&store, false);
        let out = consumer.add_pull_request(&store, "r", b"", 0);
        assert_eq!(
            out,
            vec![Outbound::Status {
                to: "r".into(),
                headers: b"NATS/1.0 409 Consumer is push based\r\n\r\n".to_vec()
            }]
        );
    }
}
