//! Publish to delivery: match the subject once in the account's sublist,
//! append to each local destination's outbound queue, forward once to each
//! interested peer, and remember whom to wake once the read buffer is done.
//!
//! Queue groups: each message goes to one member of each matching group,
//! chosen uniformly at random over all members in the cluster (a peer weighs
//! as many as the members it announced), as nats-server does. A message that
//! came over a route is delivered locally only (one hop), to the groups the
//! sending node named.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use rand::RngExt;
use starling_proto::client::encode;
use starling_proto::route::MsgParts;
use starling_proto::subject;

use super::batch::Batch;
use crate::account::Account;
use crate::client::handle::{ClientHandle, Subscription};
use crate::close::CloseReason;
use crate::interest::{Interest, InternalMessage, InternalSubscription};
use crate::server::ServerState;

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
    /// The subject subscribers see instead of `subject`, which only
    /// routes: a JetStream delivery goes to the deliver or inbox subject
    /// but shows the stored message's subject (nats-server `pa.deliver`).
    pub deliver_as: Option<&'a str>,
}

/// Where a message comes from, which decides where it may go.
#[derive(Debug, Clone, Copy)]
pub enum Origin<'a> {
    /// A local client; with `echo` off it does not receive its own message.
    Client {
        /// The publishing connection.
        publisher: &'a ClientHandle,
        /// CONNECT `echo`.
        echo: bool,
    },
    /// A peer node: deliver locally only, and to a queue group only when
    /// the sending node chose this node for it (`queues`).
    Route {
        /// The queue groups this node must serve.
        queues: &'a [String],
    },
    /// The server itself (system account, JetStream): local subscribers
    /// and interested peers.
    Internal,
}

impl Origin<'_> {
    /// Whether `sub` may receive the message at all.
    fn wants(&self, sub: &Subscription) -> bool {
        match self {
            Origin::Client { publisher, echo } => *echo || sub.client.cid != publisher.cid,
            Origin::Route { .. } | Origin::Internal => true,
        }
    }

    /// Whether peers' interest counts (never for a message from a route).
    pub(super) fn forwards(&self) -> bool {
        !matches!(self, Origin::Route { .. })
    }

    /// Whether this node serves `group` for this message.
    fn serves_group(&self, group: &str) -> bool {
        match self {
            Origin::Route { queues } => queues.iter().any(|q| q == group),
            Origin::Client { .. } | Origin::Internal => true,
        }
    }
}

/// Route `message`, published in `account`, to its matching local
/// subscriptions and, once each, to peers with matching interest. Returns
/// how many destinations it reached (a peer counts as one).
pub fn route(
    server: &ServerState,
    account: &Account,
    origin: Origin<'_>,
    message: &Message<'_>,
    batch: &mut Batch,
) -> usize {
    let matches = account.sublist.match_subject(message.subject);
    let forwards = origin.forwards();
    let wanted = |sub: &Subscription| origin.wants(sub);
    let mut delivered = 0;
    let mut imports = false;
    for entry in &matches.plain {
        match entry {
            Interest::Local(sub) => {
                if wanted(sub) && deliver_to(server, sub, message, batch) {
                    delivered += 1;
                }
            }
            Interest::Remote(remote) if forwards => batch.forward_to(&remote.peer, None),
            Interest::Remote(_) => {}
            Interest::StreamImport(_)
            | Interest::ServiceImport(_)
            | Interest::ServiceResponse(_) => imports = true,
            Interest::Internal(internal) => {
                if deliver_internal(internal, &origin, message, batch) {
                    delivered += 1;
                }
            }
        }
    }
    for group in &matches.queues {
        if !origin.serves_group(&group.name) {
            continue;
        }
        match pick_member(&group.members, &wanted, forwards) {
            Some(Interest::Remote(remote)) => batch.forward_to(&remote.peer, Some(&group.name)),
            Some(Interest::Local(first))
                if deliver_to_local_member(
                    server,
                    &group.members,
                    first,
                    &wanted,
                    message,
                    batch,
                ) =>
            {
                delivered += 1;
            }
            Some(Interest::Internal(internal)) => {
                if deliver_internal(internal, &origin, message, batch) {
                    delivered += 1;
                }
            }
            Some(_) | None => {}
        }
    }
    if forwards {
        delivered += send_forwards(account, message, batch);
    }
    if imports {
        delivered += super::imports::follow(server, origin, message, &matches.plain, batch);
    }
    delivered
}

/// Pick one member, uniformly over local members (weight 1 each) and, when
/// `include_remote`, remote members (their announced weight).
fn pick_member<'a>(
    members: &'a [Interest],
    wanted: &dyn Fn(&Subscription) -> bool,
    include_remote: bool,
) -> Option<&'a Interest> {
    let weight = |m: &Interest| -> u64 {
        match m {
            Interest::Local(sub) => u64::from(wanted(sub) && !sub.client.is_closed()),
            Interest::Remote(remote) if include_remote => u64::from(remote.weight()),
            Interest::Remote(_) => 0,
            Interest::StreamImport(_)
            | Interest::ServiceImport(_)
            | Interest::ServiceResponse(_) => 0,
            Interest::Internal(internal) => u64::from(internal.is_open()),
        }
    };
    if let [only] = members {
        return (weight(only) > 0).then_some(only);
    }
    let total: u64 = members.iter().map(weight).sum();
    if total == 0 {
        return None;
    }
    let mut point = rand::rng().random_range(0..total);
    for member in members {
        let w = weight(member);
        if point < w {
            return Some(member);
        }
        point -= w;
    }
    None
}

/// Deliver to `first`, or if that fails (closed, slow, limit reached) to
/// the next local member that takes it.
fn deliver_to_local_member(
    server: &ServerState,
    members: &[Interest],
    first: &Arc<Subscription>,
    wanted: &dyn Fn(&Subscription) -> bool,
    message: &Message<'_>,
    batch: &mut Batch,
) -> bool {
    if deliver_to(server, first, message, batch) {
        return true;
    }
    members.iter().any(|m| match m {
        Interest::Local(sub) => {
            !Arc::ptr_eq(sub, first) && wanted(sub) && deliver_to(server, sub, message, batch)
        }
        _ => false,
    })
}

/// Hand the message to a server-internal subscription (never blocks: a
/// full channel drops it and counts the drop).
fn deliver_internal(
    internal: &InternalSubscription,
    origin: &Origin<'_>,
    message: &Message<'_>,
    batch: &mut Batch,
) -> bool {
    let publisher = match origin {
        Origin::Client { publisher, .. } => Some(publisher.cid),
        Origin::Route { .. } | Origin::Internal => None,
    };
    let offered = internal.offer(InternalMessage {
        subject: message.subject.to_string(),
        reply: message
            .reply
            .map(|reply| String::from_utf8_lossy(reply).into_owned()),
        payload: message.payload.to_vec(),
        header_len: message.header_len,
        publisher,
    });
    if offered {
        batch.traffic.out_msgs += 1;
        batch.traffic.out_bytes += message.payload.len() as u64;
    }
    offered
}

/// Send the current message once to each peer in the batch's forwards.
fn send_forwards(account: &Account, message: &Message<'_>, batch: &mut Batch) -> usize {
    if batch.forwards.is_empty() {
        return 0;
    }
    let subject = message.subject.as_bytes();
    let mut sent = 0;
    let forwards = std::mem::take(&mut batch.forwards);
    for forward in &forwards {
        let queues: Vec<&str> = forward.queues.iter().map(|q| &**q).collect();
        match forward.peer.send_msg(&MsgParts {
            account: account.name.as_bytes(),
            subject,
            reply: message.reply,
            queues: &queues,
            header_len: message.header_len,
            payload: message.payload,
        }) {
            Ok(()) => {
                batch.schedule_peer_wake(&forward.peer);
                // nats-server counts forwards to routes in its out totals.
                batch.traffic.out_msgs += 1;
                batch.traffic.out_bytes += message.payload.len() as u64;
                sent += 1;
            }
            Err(_) => {
                tracing::warn!(peer = %forward.peer.node_name, "route is a slow consumer; message not forwarded");
            }
        }
    }
    batch.forwards = forwards;
    batch.forwards.clear();
    sent
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
    let subject = message.deliver_as.unwrap_or(message.subject).as_bytes();
    // nats-server strips headers for a client that did not ask for them.
    let header_len = message
        .header_len
        .filter(|_| client.headers.load(Ordering::Relaxed));
    let payload = match (message.header_len, header_len) {
        (Some(stripped), None) => message.payload.get(stripped..).unwrap_or_default(),
        _ => message.payload,
    };
    let len = encode::msg_len(subject, &sub.sid, message.reply, message.payload.len());
    let pushed = client.outbound.push_with(len, |buf| match header_len {
        None => encode::encode_msg(buf, subject, &sub.sid, message.reply, payload),
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
