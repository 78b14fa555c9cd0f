//! One consumer pass of a stream's worker, after each batch (and after
//! the batch's sync, so consumers only ever deliver durable messages):
//! apply the pull requests, acks and flow control replies that arrived,
//! fill waiting pull requests, push to bound push consumers, let timers
//! run (ack waits, request expiry, heartbeats), apply interest and work
//! queue retention, remove inactive consumers, persist changed states,
//! and finally publish everything with no lock held.

use std::ops::RangeInclusive;
use std::sync::Mutex;

use starling_jetstream::api::RetentionPolicy;
use starling_jetstream::consumer::Outbound;
use starling_jetstream::stream::Stream;

use super::advisory::{has_interest, Advisories, ConsumerChange};
use super::consumer_store::write_state;
use super::consumers::{take_pause_end, ConsumerSet, Sends};
use super::publish::{now_nanos, publish, publish_full, Outgoing};
use crate::account::Account;
use crate::client::handle::lock;
use crate::interest::InternalMessage;
use crate::server::ServerState;

/// Push deliveries per consumer per pass; more wait for the next pass
/// (which comes at once), so one consumer cannot hold the worker long.
const PUSH_PER_PASS: usize = 1024;

/// How often an unbound push consumer looks for interest again.
const PUSH_INTEREST_POLL: i64 = 50_000_000;

/// What a pass needs.
pub(super) struct PassContext<'a> {
    pub server: &'a ServerState,
    pub account: &'a Account,
    pub stream: &'a Mutex<Stream>,
    pub consumers: &'a Mutex<ConsumerSet>,
    /// The server's JetStream domain (for advisories).
    pub domain: Option<&'a str>,
}

/// When the next pass is due.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct NextPass {
    /// At this time (ns since the epoch), if ever.
    pub at: Option<i64>,
    /// At once: a push consumer stopped at [`PUSH_PER_PASS`] with more to
    /// send (real progress, so running again at once cannot spin).
    pub now: bool,
}

/// Run one pass; `removed` says the batch purged or deleted messages,
/// `stored` is what it stored. Returns when the next pass is due.
pub(super) fn run(
    context: &PassContext<'_>,
    messages: &[InternalMessage],
    removed: bool,
    stored: RangeInclusive<u64>,
) -> NextPass {
    // Publish-only streams skip the pass (and its locks) entirely; an
    // interest stream without consumers dropped what it stored already
    // (`worker::apply_batch`).
    if messages.is_empty() && lock(context.consumers).entries.is_empty() {
        return NextPass::default();
    }
    let mut more = false;
    let now = now_nanos();
    let mut sends = Sends::default();
    let mut events = Vec::new();
    let mut closed = Vec::new();
    let mut pause_ends = Vec::new();
    let mut wake: Option<i64> = None;
    let mut earliest = |at: i64| wake = Some(wake.map_or(at, |w| w.min(at)));
    {
        let mut stream = lock(context.stream);
        let mut set = lock(context.consumers);
        let retention = stream.config().retention;
        let burst = rate_burst(context, stream.config().max_msg_size);
        let store = stream.store();
        for message in messages {
            set.apply(store, message, now, &mut sends);
        }
        // A requester that is gone gives up its place (and a pinned client
        // its pin) before anything is delivered to it (nats-server checks
        // interest the same way); a sublist match per waiting request.
        for entry in set.entries.values_mut() {
            for reply in entry.consumer.waiting_replies() {
                if !has_interest(context.account, &reply) {
                    entry.consumer.cancel_request(&reply);
                }
            }
        }
        let mut acked = Vec::new();
        for (name, entry) in &mut set.entries {
            let consumer = &mut entry.consumer;
            if removed {
                consumer.on_messages_removed(store);
            }
            let active = if consumer.config().is_pull() {
                sends.outbound.extend(consumer.fill(store, now));
                consumer.num_waiting() > 0
            } else {
                let bound = has_interest(context.account, &consumer.config().deliver_subject);
                consumer.set_push_bound(bound);
                consumer.set_rate_burst(burst);
                sends.outbound.extend(consumer.tick(store, now));
                let pushed = consumer.push(store, now, PUSH_PER_PASS);
                more |= pushed.len() >= PUSH_PER_PASS;
                sends.outbound.extend(pushed);
                if !bound {
                    earliest(now + PUSH_INTEREST_POLL);
                }
                bound
            };
            for event in consumer.take_events() {
                events.push((name.clone(), event));
            }
            if let Some(until) = take_pause_end(consumer, &mut entry.pause_end_advised, now) {
                pause_ends.push((name.clone(), until));
            }
            acked.extend(consumer.take_acked());
            entry.idle_since = if active {
                None
            } else {
                entry.idle_since.or(Some(now))
            };
            let threshold = consumer.config().inactive_threshold;
            if threshold > 0 {
                if let Some(idle) = entry.idle_since {
                    let deadline = idle.max(consumer.last_activity()).saturating_add(threshold);
                    if deadline <= now {
                        closed.push(name.clone());
                    } else {
                        earliest(deadline);
                    }
                }
            }
            if let Some(at) = consumer.next_wakeup(now) {
                earliest(at);
            }
        }
        for name in &closed {
            if let Some(mut entry) = set.entries.remove(name) {
                tracing::debug!(consumer = %name, "inactive consumer removed");
                sends.outbound.extend(entry.consumer.close());
                for sub in entry.subscriptions.drain(..) {
                    context
                        .server
                        .remove_internal_subscription(context.account, &sub, true);
                }
                if let Some(dir) = &entry.dir {
                    let _ = std::fs::remove_dir_all(dir);
                }
            }
        }
        if retention == RetentionPolicy::Interest {
            acked.extend(stored);
        }
        if retention != RetentionPolicy::Limits && !acked.is_empty() {
            remove_unneeded(&mut stream, &set, &acked);
        }
        for entry in set.entries.values_mut() {
            if let Some(dir) = &entry.dir {
                let encoded = entry.consumer.state().encode();
                if encoded != entry.written {
                    match write_state(dir, &encoded) {
                        Ok(()) => entry.written = encoded,
                        Err(error) => {
                            tracing::warn!(dir = %dir.display(), %error, "consumer state not written")
                        }
                    }
                }
            }
        }
        let stream_name = stream.name().to_string();
        drop(set);
        drop(stream);
        let advisories = Advisories {
            server: context.server,
            account: context.account,
            domain: context.domain,
        };
        for (consumer, event) in events {
            advisories.consumer_event(&stream_name, &consumer, &event);
        }
        for (consumer, until) in pause_ends {
            advisories.consumer_pause(&stream_name, &consumer, Some(until), now);
        }
        for consumer in &closed {
            advisories.consumer_action(&stream_name, consumer, ConsumerChange::Deleted);
        }
    }
    send(context, sends);
    NextPass {
        at: wake,
        now: more,
    }
}

/// The `rate_limit_bps` burst (nats-server's `setRateLimit`): the
/// stream's `max_msg_size`, else the account's `max_payload`, else the
/// server's.
fn rate_burst(context: &PassContext<'_>, max_msg_size: i32) -> i64 {
    if max_msg_size > 0 {
        return i64::from(max_msg_size);
    }
    let payload = context
        .account
        .limits()
        .max_payload
        .unwrap_or_else(|| context.server.options().max_payload);
    i64::try_from(payload).unwrap_or(i64::MAX)
}

/// Interest and work queue retention: a message every consumer is done
/// with leaves the stream (for interest, also one none of them wants).
/// A work queue keeps messages no consumer matches.
fn remove_unneeded(stream: &mut Stream, set: &ConsumerSet, acked: &[u64]) {
    let mut gone = Vec::new();
    for seq in acked {
        let Ok(message) = stream.store().load_msg(*seq) else {
            continue;
        };
        let needed = set
            .entries
            .values()
            .any(|entry| entry.consumer.needs_ack(*seq, &message.subject));
        if !needed {
            gone.push(*seq);
        }
    }
    for seq in gone {
        if let Err(error) = stream.store_mut().remove_msg(seq) {
            tracing::warn!(seq, %error, "acknowledged message not removed");
        }
    }
}

/// Publish what the pass produced.
fn send(context: &PassContext<'_>, sends: Sends) {
    for outbound in sends.outbound {
        match outbound {
            Outbound::Message { to, delivery } => {
                let message = &delivery.message;
                let outgoing = Outgoing {
                    subject: &to,
                    reply: Some(&delivery.ack_subject),
                    deliver_as: Some(&message.subject),
                };
                publish_full(
                    context.server,
                    context.account,
                    &outgoing,
                    &message.headers,
                    &message.payload,
                );
            }
            Outbound::Status { to, headers } => {
                let outgoing = Outgoing {
                    subject: &to,
                    reply: None,
                    deliver_as: None,
                };
                publish_full(context.server, context.account, &outgoing, &headers, b"");
            }
            Outbound::FlowControl { to, reply } => {
                let outgoing = Outgoing {
                    subject: &to,
                    reply: Some(&reply),
                    deliver_as: None,
                };
                let headers = starling_jetstream::consumer::FLOW_CONTROL_REQUEST;
                publish_full(context.server, context.account, &outgoing, headers, b"");
            }
        }
    }
    for reply in sends.ack_replies {
        publish(context.server, context.account, &reply, b"");
    }
}
