//! Choosing and recording deliveries: redeliveries first, then the
//! last-per-subject skip list, then new messages, within `max_ack_pending`.

use bytes::Bytes;
use starling_store::{MessageStore, StoredMsg};

use crate::api::consumer::AckPolicy;
use crate::consumer::ack::AckReply;
use crate::consumer::machine::Consumer;

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The stored message (with `headers_only`: headers plus
    /// `Nats-Msg-Size`, empty payload).
    pub message: StoredMsg,
    /// Consumer sequence of this delivery.
    pub consumer_seq: u64,
    /// 1 for a first delivery, n for the n-th.
    pub delivery_count: u64,
    /// Messages still pending after this one.
    pub pending: u64,
    /// The reply subject (`$JS.ACK…`).
    pub ack_subject: String,
}

impl Delivery {
    /// The size nats-server counts against a pull's `max_bytes`: subject,
    /// reply, headers and payload.
    pub fn size(&self) -> i64 {
        (self.message.subject.len()
            + self.ack_subject.len()
            + self.message.headers.len()
            + self.message.payload.len()) as i64
    }
}

/// Where the next delivery comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    Redelivery,
    SkipList,
    New,
}

/// A message chosen but not yet recorded.
#[derive(Debug)]
pub(super) struct Candidate {
    pub(super) message: StoredMsg,
    pub(super) delivery_count: u64,
    pub(super) source: Source,
}

/// What `peek` found.
#[derive(Debug)]
pub(super) enum Peek {
    /// This message is next.
    Message(Box<Candidate>),
    /// Messages wait but `max_ack_pending` (or a pause) holds them back.
    Stalled,
    /// Nothing to deliver.
    Empty,
}

impl Consumer {
    /// Record and return the next delivery, if any (push delivery, or a
    /// caller managing its own pull requests).
    pub fn next_delivery(
        &mut self,
        store: &(impl MessageStore + ?Sized),
        now: i64,
    ) -> Option<Delivery> {
        self.expire_deadlines(now);
        match self.peek(store, now) {
            Peek::Message(candidate) => {
                let delivery = self.prepare(store, *candidate);
                self.commit(&delivery, now);
                Some(delivery)
            }
            Peek::Stalled | Peek::Empty => None,
        }
    }

    /// Move every pending message whose ack wait ended to the redelivery
    /// queue (or out, at `max_deliver`), in stream order as nats-server does.
    pub(super) fn expire_deadlines(&mut self, now: i64) {
        let mut due: Vec<u64> = self
            .deadlines
            .iter()
            .take_while(|(deadline, _)| *deadline <= now)
            .map(|(_, seq)| *seq)
            .collect();
        due.sort_unstable();
        for seq in due {
            self.make_due(seq);
        }
    }

    /// The next message to deliver, without recording it. Drops queue
    /// entries and pending messages the stream no longer holds.
    pub(super) fn peek(&mut self, store: &(impl MessageStore + ?Sized), now: i64) -> Peek {
        if self.is_paused(now) {
            return Peek::Stalled;
        }
        while let Some(&seq) = self.redeliver.front() {
            if !self.redeliver_set.contains(&seq) {
                self.redeliver.pop_front();
                continue;
            }
            match store.load_msg(seq) {
                Ok(message) => {
                    return Peek::Message(Box::new(Candidate {
                        message,
                        delivery_count: self.state.delivery_count(seq) + 1,
                        source: Source::Redelivery,
                    }))
                }
                Err(_) => {
                    // Removed from the stream while pending: nothing to redeliver.
                    self.redeliver.pop_front();
                    self.remove_pending(seq);
                }
            }
        }
        let max_ack_pending = self.config.max_ack_pending;
        if self.config.ack_policy != AckPolicy::None
            && max_ack_pending > 0
            && self.state.pending.len() as i64 >= max_ack_pending
        {
            return if self.num_pending(store) > 0 {
                Peek::Stalled
            } else {
                Peek::Empty
            };
        }
        let mut first = None;
        if let Some(skip) = &mut self.skip {
            while let Some((seq, _)) = skip.entries.get(skip.next) {
                if let Ok(message) = store.load_msg(*seq) {
                    first = Some((message, Source::SkipList));
                    break;
                }
                skip.advance(false);
            }
            if first.is_none() {
                self.finish_skip_list();
            }
        }
        if first.is_none() {
            first = self
                .filters
                .next_message(store, self.next_seq)
                .map(|message| (message, Source::New));
        }
        let Some((message, source)) = first else {
            return Peek::Empty;
        };
        if self.held_by_replay(&message, now) {
            return Peek::Stalled;
        }
        Peek::Message(Box::new(Candidate {
            message,
            delivery_count: 1,
            source,
        }))
    }

    /// `replay_policy: original`: true while `message` is not due yet.
    fn held_by_replay(&mut self, message: &StoredMsg, now: i64) -> bool {
        self.replay.due_at = None;
        if message.seq > self.replay.end {
            return false;
        }
        let Some((sent_at, stored_at)) = self.replay.anchor else {
            return false;
        };
        let due = sent_at.saturating_add(message.timestamp.saturating_sub(stored_at));
        if now < due {
            self.replay.due_at = Some(due);
            return true;
        }
        false
    }

    /// Build the delivery of a candidate: consumer sequence, pending after
    /// it, ack subject, `headers_only` conversion.
    pub(super) fn prepare(
        &self,
        store: &(impl MessageStore + ?Sized),
        candidate: Candidate,
    ) -> Delivery {
        let Candidate {
            mut message,
            delivery_count,
            source,
        } = candidate;
        // The candidate is the first matching message at or after the
        // cursor (or a present skip entry), so one fewer remains after it.
        let pending = match source {
            Source::Redelivery => self.num_pending(store),
            Source::SkipList | Source::New => self.num_pending(store).saturating_sub(1),
        };
        let consumer_seq = self.state.delivered.consumer + 1;
        let ack_subject = AckReply {
            stream: self.stream_name.clone(),
            consumer: self.name.clone(),
            delivery_count,
            stream_seq: message.seq,
            consumer_seq,
            timestamp: message.timestamp,
            pending,
        }
        .subject();
        if self.config.headers_only {
            message.headers = headers_only(&message.headers, message.payload.len());
            message.payload = Bytes::new();
        }
        Delivery {
            message,
            consumer_seq,
            delivery_count,
            pending,
            ack_subject,
        }
    }

    /// Record a prepared delivery as sent at `now`.
    pub(super) fn commit(&mut self, delivery: &Delivery, now: i64) {
        let seq = delivery.message.seq;
        if delivery.delivery_count > 1 {
            self.redeliver_set.remove(&seq);
            if self.redeliver.front() == Some(&seq) {
                self.redeliver.pop_front();
            }
        } else if let Some(skip) = &mut self.skip {
            skip.advance(true);
        } else {
            self.pending_cache.advance(self.next_seq, seq + 1);
            self.next_seq = seq + 1;
        }
        let policy = self.config.ack_policy;
        self.state.record_delivery(
            delivery.consumer_seq,
            seq,
            delivery.delivery_count,
            now,
            policy,
        );
        if policy == AckPolicy::None {
            self.acked.push(seq);
        } else {
            let deadline = now.saturating_add(self.ack_wait_for(delivery.delivery_count));
            self.set_deadline(seq, deadline);
        }
        self.last_delivery_at = Some(now);
        if delivery.delivery_count == 1 && seq <= self.replay.end && self.replay.anchor.is_none() {
            self.replay.anchor = Some((now, delivery.message.timestamp));
        }
        if self
            .skip
            .as_ref()
            .is_some_and(|skip| skip.next >= skip.entries.len())
        {
            self.finish_skip_list();
        }
    }

    /// The skip list is done: continue at its `resume` and record the
    /// messages passed over as delivered, as nats-server does.
    fn finish_skip_list(&mut self) {
        if let Some(skip) = self.skip.take() {
            self.next_seq = self.next_seq.max(skip.resume);
            self.state.record_skipped(skip.resume.saturating_sub(1));
        }
    }
}

/// The headers of a `headers_only` delivery: the original ones plus
/// `Nats-Msg-Size: <payload length>` (nats-server `convertToHeadersOnly`).
fn headers_only(headers: &[u8], payload_len: usize) -> Bytes {
    let mut out = Vec::with_capacity(headers.len() + 32);
    if headers.is_empty() {
        out.extend_from_slice(b"NATS/1.0\r\n");
    } else {
        out.extend_from_slice(headers.strip_suffix(b"\r\n").unwrap_or(headers));
    }
    out.extend_from_slice(format!("Nats-Msg-Size: {payload_len}\r\n\r\n").as_bytes());
    Bytes::from(out)
}
