//! Publish to delivery: match the subject, append to each destination's
//! outbound queue, and remember whom to wake once the read buffer is done.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rand::RngExt;
use starling_proto::client::encode;
use starling_proto::subject;

use super::handle::{ClientHandle, Subscription};
use crate::close::CloseReason;
use crate::server::ServerState;
use crate::stats::LocalTraffic;

/// Source of unique batch marks (see [`ClientHandle::flush_mark`]).
static NEXT_BATCH_MARK: AtomicU64 = AtomicU64::new(1);

/// State of one publisher's read buffer: destinations to wake and counts to
/// add to the server totals, both applied once in [`Batch::finish`].
#[derive(Debug)]
pub struct Batch {
    mark: u64,
    to_wake: Vec<Arc<ClientHandle>>,
    /// Counts for the server-wide totals.
    pub traffic: LocalTraffic,
}

impl Default for Batch {
    fn default() -> Self {
        Batch {
            mark: NEXT_BATCH_MARK.fetch_add(1, Ordering::Relaxed),
            to_wake: Vec::new(),
            traffic: LocalTraffic::default(),
        }
    }
}

impl Batch {
    /// Wake every destination once and add the counts to the publisher's
    /// and the server's totals.
    pub fn finish(&mut self, server: &ServerState, publisher: &ClientHandle) {
        for client in self.to_wake.drain(..) {
            client.outbound.wake();
        }
        if self.traffic.in_msgs != 0 {
            publisher
                .traffic
                .add_in(self.traffic.in_msgs, self.traffic.in_bytes);
        }
        self.traffic.flush_into(&server.traffic);
        self.mark = NEXT_BATCH_MARK.fetch_add(1, Ordering::Relaxed);
    }

    fn schedule_wake(&mut self, client: &Arc<ClientHandle>) {
        if client.flush_mark.swap(self.mark, Ordering::Relaxed) != self.mark {
            self.to_wake.push(client.clone());
        }
    }
}

/// A message being routed.
#[derive(Debug)]
pub struct Message<'a> {
    /// Publish subject.
    pub subject: &'a str,
    /// Reply subject.
    pub reply: Option<&'a [u8]>,
    /// `Some(header length)` for HPUB.
    pub header_len: Option<usize>,
    /// Headers (if any) then payload.
    pub payload: &'a [u8],
}

/// Deliver `message` from `publisher` to every matching local subscription.
/// Returns how many subscriptions it reached.
pub fn deliver_local(
    server: &ServerState,
    publisher: &ClientHandle,
    echo: bool,
    message: &Message<'_>,
    batch: &mut Batch,
) -> usize {
    let matches = server.sublist.match_subject(message.subject);
    let mut delivered = 0;
    for sub in &matches.plain {
        if (echo || sub.client.cid != publisher.cid) && deliver_to(server, sub, message, batch) {
            delivered += 1;
        }
    }
    for group in &matches.queues {
        if deliver_to_one_member(server, publisher.cid, echo, &group.members, message, batch) {
            delivered += 1;
        }
    }
    delivered
}

/// One member of a queue group gets the message: start at a random member
/// (as nats-server) and move on while delivery fails.
fn deliver_to_one_member(
    server: &ServerState,
    publisher: u64,
    echo: bool,
    members: &[Arc<Subscription>],
    message: &Message<'_>,
    batch: &mut Batch,
) -> bool {
    if members.is_empty() {
        return false;
    }
    let start = if members.len() == 1 {
        0
    } else {
        rand::rng().random_range(0..members.len())
    };
    for offset in 0..members.len() {
        let sub = &members[(start + offset) % members.len()];
        if (echo || sub.client.cid != publisher) && deliver_to(server, sub, message, batch) {
            return true;
        }
    }
    false
}

/// Queue the message on one subscription's connection. False if it was not
/// queued (closed, over its auto-unsubscribe limit, denied, slow consumer).
fn deliver_to(
    server: &ServerState,
    sub: &Arc<Subscription>,
    message: &Message<'_>,
    batch: &mut Batch,
) -> bool {
    let client = &sub.client;
    if client.is_closed() {
        return false;
    }
    if let Some(deny) = &sub.deny {
        if deny.deny_delivery(message.subject) {
            return false;
        }
    }
    let delivered = sub.delivered.fetch_add(1, Ordering::Relaxed) + 1;
    let max = sub.max.load(Ordering::Relaxed);
    if max > 0 && delivered > max {
        return false;
    }
    let subject = message.subject.as_bytes();
    let len = encode::msg_len(subject, &sub.sid, message.reply, message.payload.len());
    let pushed = client
        .outbound
        .push_with(len, |buf| match message.header_len {
            None => encode::encode_msg(buf, subject, &sub.sid, message.reply, message.payload),
            Some(header_len) => encode::encode_hmsg(
                buf,
                subject,
                &sub.sid,
                message.reply,
                header_len,
                message.payload,
            ),
        });
    if pushed.is_err() {
        slow_consumer(server, client, CloseReason::SlowConsumerPendingBytes);
        return false;
    }
    if let Some(reply) = message.reply {
        client.record_request(reply);
    }
    let bytes = message.payload.len() as u64;
    client.traffic.add_out(1, bytes);
    batch.traffic.out_msgs += 1;
    batch.traffic.out_bytes += bytes;
    batch.schedule_wake(client);
    if max > 0 && delivered == max {
        server.remove_subscription(sub);
    }
    true
}

/// Close `client` as a slow consumer, counting and logging it once.
pub fn slow_consumer(server: &ServerState, client: &ClientHandle, reason: CloseReason) {
    if client.close_slow_consumer(reason) {
        server.slow_consumers.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            cid = client.cid,
            peer = %client.peer,
            pending_bytes = client.outbound.pending_bytes(),
            reason = %reason,
            "slow consumer detected, closing connection"
        );
    }
}

/// The no-responders status for a request nobody received: sent to the
/// publisher's own subscription on the reply subject, if it has one.
pub fn send_no_responders(publisher: &Arc<ClientHandle>, reply: &[u8], batch: &mut Batch) {
    let Ok(reply_subject) = std::str::from_utf8(reply) else {
        return;
    };
    let sid = {
        let subs = publisher.subscriptions();
        subs.values()
            .find(|sub| sub.queue.is_none() && subject::matches(&sub.subject, reply_subject))
            .map(|sub| sub.sid.clone())
    };
    let Some(sid) = sid else {
        return;
    };
    let header = encode::NO_RESPONDERS_HEADER;
    let len = encode::msg_len(reply, &sid, None, header.len());
    if publisher
        .outbound
        .push_with(len, |buf| {
            encode::encode_hmsg(buf, reply, &sid, None, header.len(), header)
        })
        .is_ok()
    {
        batch.schedule_wake(publisher);
    }
}
