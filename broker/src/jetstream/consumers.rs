//! The consumers of one stream: each [`Consumer`] state machine with its
//! `CONSUMER.MSG.NEXT` subscriptions and its directory, and how the
//! messages addressed to them (pull requests, acks, flow control replies)
//! are applied. The set sits behind a mutex beside the stream's; lock
//! order: stream -> consumers. The stream's worker is the only one that
//! applies messages and deliveries (see `consumer_pass`); the API thread
//! adds, reads and removes consumers.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use starling_jetstream::consumer::ack::ACK_PREFIX;
use starling_jetstream::consumer::{AckKind, AckReply, Consumer, Outbound};
use starling_store::MessageStore;

use crate::interest::{InternalMessage, InternalSubscription};

/// The flow control reply prefix (`$JS.FC.<stream>.<consumer>.<n>`).
pub(super) const FLOW_CONTROL_PREFIX: &str = "$JS.FC.";

/// One consumer of a stream.
pub(super) struct ConsumerEntry {
    /// The state machine.
    pub consumer: Consumer,
    /// `<stream dir>/obs/<name>` when its state is persisted.
    pub dir: Option<PathBuf>,
    /// Its `CONSUMER.MSG.NEXT` subscriptions (one per API prefix).
    pub subscriptions: Vec<Arc<InternalSubscription>>,
    /// The state last written, so an unchanged state is not rewritten.
    pub written: Vec<u8>,
    /// Since when it has had no waiting request (pull) or no interest
    /// (push), for `inactive_threshold`; `None` while active.
    pub idle_since: Option<i64>,
    /// The `pause_until` whose end was advised (or was already over when
    /// the entry was made: nats-server advises only a pause it timed).
    pub pause_end_advised: Option<i64>,
}

impl ConsumerEntry {
    /// A new entry, idle from `now`.
    pub fn new(consumer: Consumer, dir: Option<PathBuf>, now: i64) -> Self {
        ConsumerEntry {
            dir,
            subscriptions: Vec::new(),
            written: Vec::new(),
            idle_since: Some(now),
            pause_end_advised: consumer_pause_over(&consumer, now),
            consumer,
        }
    }
}

/// The `pause_until` of `consumer` that ended at or before `now` and was
/// not advised yet (`advised`: the entry's `pause_end_advised`).
/// nats-server's pause timer sends a `consumer_pause` advisory, `paused:
/// false`, when the pause ends.
pub(super) fn take_pause_end(
    consumer: &Consumer,
    advised: &mut Option<i64>,
    now: i64,
) -> Option<i64> {
    let over = consumer_pause_over(consumer, now)?;
    if *advised == Some(over) {
        return None;
    }
    *advised = Some(over);
    Some(over)
}

/// The consumer's `pause_until`, if it is over at `now`.
fn consumer_pause_over(consumer: &Consumer, now: i64) -> Option<i64> {
    consumer.config().pause_until.filter(|until| *until <= now)
}

/// Everything a pass sends once the locks are released.
#[derive(Default)]
pub(super) struct Sends {
    /// Deliveries, statuses and flow control requests.
    pub outbound: Vec<Outbound>,
    /// Empty replies to acks that asked for one (double ack).
    pub ack_replies: Vec<String>,
}

/// A stream's consumers, by name.
#[derive(Default)]
pub(super) struct ConsumerSet {
    /// The consumers.
    pub entries: BTreeMap<String, ConsumerEntry>,
}

impl ConsumerSet {
    /// Apply one message that arrived on a consumer subject: a pull
    /// request (`...CONSUMER.MSG.NEXT.<stream>.<consumer>`), an ack
    /// (`$JS.ACK...`) or a flow control reply (`$JS.FC...`). Unknown or
    /// malformed messages are ignored, as nats-server does.
    pub fn apply(
        &mut self,
        store: &(impl MessageStore + ?Sized),
        message: &InternalMessage,
        now: i64,
        sends: &mut Sends,
    ) {
        let header_len = message.header_len.unwrap_or(0).min(message.payload.len());
        let body = &message.payload[header_len..];
        if message.subject.starts_with(ACK_PREFIX) {
            self.apply_ack(store, message, body, now, sends);
        } else if let Some(rest) = message.subject.strip_prefix(FLOW_CONTROL_PREFIX) {
            let consumer = rest.split('.').nth(1).unwrap_or_default();
            if let Some(entry) = self.entries.get_mut(consumer) {
                entry.consumer.flow_control_reply(&message.subject);
            }
        } else if let Some(consumer) = next_request_consumer(&message.subject) {
            let (Some(entry), Some(reply)) = (self.entries.get_mut(consumer), &message.reply)
            else {
                return;
            };
            sends
                .outbound
                .extend(entry.consumer.add_pull_request(store, reply, body, now));
        }
    }

    fn apply_ack(
        &mut self,
        store: &(impl MessageStore + ?Sized),
        message: &InternalMessage,
        body: &[u8],
        now: i64,
        sends: &mut Sends,
    ) {
        let Some(ack) = AckReply::parse(&message.subject) else {
            return;
        };
        let Some(entry) = self.entries.get_mut(&ack.consumer) else {
            return;
        };
        let Some(kind) = AckKind::parse(body) else {
            return;
        };
        entry.consumer.ack(ack.stream_seq, &kind, now);
        match (kind, &message.reply) {
            // `+NXT`: the reply is where the next messages go.
            (AckKind::Next(request), Some(reply)) => {
                sends.outbound.extend(
                    entry
                        .consumer
                        .add_parsed_request(store, reply, request, now),
                );
            }
            (_, Some(reply)) => sends.ack_replies.push(reply.clone()),
            (_, None) => {}
        }
    }
}

/// The consumer of a `CONSUMER.MSG.NEXT.<stream>.<consumer>` subject
/// (any API prefix): its last token.
fn next_request_consumer(subject: &str) -> Option<&str> {
    let mut tokens = subject.rsplit('.');
    let consumer = tokens.next()?;
    let _stream = tokens.next()?;
    let next = tokens.next()?;
    let msg = tokens.next()?;
    (next == "NEXT" && msg == "MSG").then_some(consumer)
}

#[cfg(test)]
mod tests {
    use super::next_request_consumer;

    #[test]
    fn next_request_subjects() {
        assert_eq!(
            next_request_consumer("$JS.API.CONSUMER.MSG.NEXT.ORDERS.worker"),
            Some("worker")
        );
        assert_eq!(
            next_request_consumer("$JS.hub.API.CONSUMER.MSG.NEXT.ORDERS.worker"),
            Some("worker")
        );
        assert_eq!(
            next_request_consumer("$JS.API.CONSUMER.INFO.ORDERS.worker"),
            None
        );
        assert_eq!(next_request_consumer("NEXT"), None);
    }
}
