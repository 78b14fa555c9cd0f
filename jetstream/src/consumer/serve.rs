//! Serving pull requests: admission (limits, `max_waiting`, `no_wait`),
//! filling waiting requests round-robin within `max_bytes`, expiry with
//! `408`, heartbeats, and `409 Consumer Deleted` on close.

use starling_store::MessageStore;

use crate::consumer::deliver::{Delivery, Peek};
use crate::consumer::machine::{Consumer, ConsumerEvent};
use crate::consumer::priority::with_pin_header;
use crate::consumer::pull::{status, PullRequest, WaitingRequest};

/// What to publish on behalf of the consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    /// Deliver a message to `to` (a pull request's reply subject).
    Message {
        /// Destination subject.
        to: String,
        /// The delivery; its `ack_subject` is the reply subject.
        delivery: Box<Delivery>,
    },
    /// A header-only status message to `to`.
    Status {
        /// Destination subject.
        to: String,
        /// The raw header block (`NATS/1.0 408 Request Timeout\r\n…`).
        headers: Vec<u8>,
    },
    /// Push flow control: `NATS/1.0 100 FlowControl Request\r\n\r\n` to
    /// `to` with reply `reply`; the client answers on `reply`, which goes
    /// to [`Consumer::flow_control_reply`].
    FlowControl {
        /// The deliver subject.
        to: String,
        /// The `$JS.FC.<stream>.<consumer>.<n>` subject to answer on.
        reply: String,
    },
}

/// The header block of a flow control request.
pub const FLOW_CONTROL_REQUEST: &[u8] = b"NATS/1.0 100 FlowControl Request\r\n\r\n";

fn status_to(to: &str, headers: Vec<u8>) -> Outbound {
    Outbound::Status {
        to: to.to_string(),
        headers,
    }
}

impl Consumer {
    /// A pull request arrived on `CONSUMER.MSG.NEXT` with reply `reply`.
    /// Returns refusals or the deliveries it got at once.
    pub fn add_pull_request(
        &mut self,
        store: &(impl MessageStore + ?Sized),
        reply: &str,
        body: &[u8],
        now: i64,
    ) -> Vec<Outbound> {
        if !self.config.is_pull() {
            return vec![status_to(reply, status::push_based())];
        }
        let request = match PullRequest::parse(body) {
            Ok(request) => request,
            Err(why) => return vec![status_to(reply, status::bad_request(&why))],
        };
        self.add_parsed_request(store, reply, request, now)
    }

    /// As [`Consumer::add_pull_request`] with a parsed request (`+NXT`).
    pub fn add_parsed_request(
        &mut self,
        store: &(impl MessageStore + ?Sized),
        reply: &str,
        request: PullRequest,
        now: i64,
    ) -> Vec<Outbound> {
        let config = &self.config;
        if config.max_batch > 0 && request.batch > config.max_batch {
            return vec![status_to(
                reply,
                status::exceeded_max_batch(config.max_batch),
            )];
        }
        if config.max_expires > 0 && request.expires > config.max_expires {
            return vec![status_to(
                reply,
                status::exceeded_max_expires(config.max_expires),
            )];
        }
        if config.max_bytes > 0 && request.max_bytes > config.max_bytes {
            return vec![status_to(
                reply,
                status::exceeded_max_bytes(config.max_bytes),
            )];
        }
        if let Some(refusal) = self.admit_priority(&request, now) {
            return vec![status_to(reply, refusal)];
        }
        self.last_request_at = Some(now);
        // Answer expired requests first, so they free their places.
        let mut out = Vec::new();
        self.expire_requests(now, &mut out);
        if request.no_wait && request.expires == 0 {
            self.expire_deadlines(now);
            let due = self.redeliver_set.len() as u64;
            if due + self.num_pending(store) == 0 {
                out.push(status_to(reply, status::no_messages()));
                return out;
            }
        }
        let waiting = WaitingRequest {
            reply: reply.to_string(),
            remaining: request.batch,
            remaining_bytes: request.max_bytes,
            delivered: 0,
            expires_at: (request.expires > 0).then(|| now.saturating_add(request.expires)),
            no_wait: request.no_wait,
            heartbeat: request.idle_heartbeat,
            next_heartbeat: (request.idle_heartbeat > 0)
                .then(|| now.saturating_add(request.idle_heartbeat)),
            group: request.group.clone(),
            pin_id: request.id.clone(),
            min_pending: request.min_pending,
            min_ack_pending: request.min_ack_pending,
            priority: request.priority,
        };
        if !self.waiting.push(waiting) {
            // nats-server stays quiet to requests with heartbeats here.
            if request.idle_heartbeat == 0 {
                out.push(status_to(reply, status::exceeded_max_waiting()));
            }
            return out;
        }
        out.extend(self.fill(store, now));
        out
    }

    /// Deliver to waiting requests what there is; end `no_wait` requests
    /// with `404` when nothing more is available.
    pub fn fill(&mut self, store: &(impl MessageStore + ?Sized), now: i64) -> Vec<Outbound> {
        let mut out = Vec::new();
        self.expire_requests(now, &mut out);
        self.expire_deadlines(now);
        while !self.waiting.is_empty() {
            let candidate = match self.peek(store, now) {
                Peek::Message(candidate) => candidate,
                Peek::Stalled => return out,
                Peek::Empty => break,
            };
            let mut delivery = self.prepare(store, *candidate);
            let Some((to, pin)) = self.take_request_for(store, delivery.size(), now, &mut out)
            else {
                return out;
            };
            if let Some(pin) = pin {
                delivery.message.headers = with_pin_header(&delivery.message.headers, &pin);
            }
            self.commit(&delivery, now);
            out.push(Outbound::Message {
                to,
                delivery: Box::new(delivery),
            });
        }
        // A `no_wait` request with `expires` that got nothing yet keeps
        // waiting for its first message or its expiry (measured on 2.15.1).
        let ended = self.waiting.drain_where(|request| {
            request.no_wait && (request.delivered > 0 || request.expires_at.is_none())
        });
        for ended in ended {
            out.push(status_to(&ended.reply, status::no_messages()));
        }
        out
    }

    /// Pick the request that gets a message of `size` bytes, ending those
    /// whose `max_bytes` it would exceed (`409 Message Size Exceeds MaxBytes`).
    fn take_request_for(
        &mut self,
        store: &(impl MessageStore + ?Sized),
        size: i64,
        now: i64,
        out: &mut Vec<Outbound>,
    ) -> Option<(String, Option<String>)> {
        loop {
            let index = self.choose_request(store)?;
            self.waiting.move_to_front(index);
            let pin = self.pin_front(now);
            let request = self.waiting.front_mut()?;
            if request.remaining_bytes > 0 {
                if size > request.remaining_bytes {
                    let headers = status::message_size_exceeds_max_bytes(
                        request.remaining,
                        request.remaining_bytes,
                    );
                    out.push(status_to(&request.reply, headers));
                    self.waiting.pop_front();
                    continue;
                }
                request.remaining_bytes -= size;
                if request.remaining_bytes == 0 {
                    request.remaining = 1;
                }
            }
            if request.heartbeat > 0 {
                // A delivery is a sign of life: the next heartbeat waits.
                request.next_heartbeat = Some(now.saturating_add(request.heartbeat));
            }
            let to = request.reply.clone();
            self.waiting.served_front();
            return Some((to, pin));
        }
    }

    /// End expired requests (`408 Request Timeout`) and send due heartbeats.
    fn expire_requests(&mut self, now: i64, out: &mut Vec<Outbound>) {
        let expired = self
            .waiting
            .drain_where(|request| request.expires_at.is_some_and(|at| at <= now));
        for request in expired {
            let headers = status::request_timeout(request.remaining, request.remaining_bytes);
            out.push(status_to(&request.reply, headers));
        }
        self.expire_pins(now, out);
        let (last_consumer, last_stream) =
            (self.state.delivered.consumer, self.state.delivered.stream);
        for request in self.waiting.iter_mut() {
            if request.heartbeat <= 0 {
                continue;
            }
            match request.next_heartbeat {
                Some(at) if at <= now => {
                    out.push(status_to(
                        &request.reply,
                        status::idle_heartbeat(last_consumer, last_stream),
                    ));
                    request.next_heartbeat = Some(now.saturating_add(request.heartbeat));
                }
                None => request.next_heartbeat = Some(now.saturating_add(request.heartbeat)),
                Some(_) => {}
            }
        }
    }

    /// Time passes: ack waits end, requests expire, heartbeats fall due.
    /// For a push consumer this returns only its heartbeat; deliveries come
    /// from [`Consumer::push`].
    pub fn tick(&mut self, store: &(impl MessageStore + ?Sized), now: i64) -> Vec<Outbound> {
        if !self.config.is_pull() {
            self.expire_deadlines(now);
            return self.push_heartbeat(now).into_iter().collect();
        }
        self.fill(store, now)
    }

    /// When `tick` next has something to do, if ever.
    pub fn next_wakeup(&self, now: i64) -> Option<i64> {
        let deadline = self.deadlines.iter().next().map(|(at, _)| *at);
        let requests = self
            .waiting
            .iter()
            .flat_map(|request| [request.expires_at, request.next_heartbeat])
            .flatten();
        let pause = self.config.pause_until.filter(|until| *until > now);
        let heartbeat = self.next_push_heartbeat();
        let replay = self.replay.due_at.filter(|at| *at > now);
        let rate = self.push.rate.held_until.filter(|at| *at > now);
        let pin = self.next_pin_expiry();
        deadline
            .into_iter()
            .chain(pin)
            .chain(requests)
            .chain(pause)
            .chain(heartbeat)
            .chain(replay)
            .chain(rate)
            .min()
    }

    /// The requester of `reply` is gone (no interest): drop its request.
    /// A pinned client that is gone loses its pin, so another takes over.
    pub fn cancel_request(&mut self, reply: &str) -> bool {
        let cancelled = self.waiting.drain_where(|request| request.reply == reply);
        for request in &cancelled {
            if let Some(id) = &request.pin_id {
                // The pinned client is gone: its pin is released (advised
                // as `timeout`, the only reason besides `admin`).
                let groups: Vec<String> = self
                    .pins
                    .iter()
                    .filter(|(_, pin)| pin.id == *id)
                    .map(|(group, _)| group.clone())
                    .collect();
                for group in groups {
                    self.pins.remove(&group);
                    self.events.push(ConsumerEvent::Unpinned {
                        group,
                        reason: "timeout",
                    });
                }
            }
        }
        !cancelled.is_empty()
    }

    /// The reply subjects of the waiting requests.
    pub fn waiting_replies(&self) -> Vec<String> {
        self.waiting
            .iter()
            .map(|request| request.reply.clone())
            .collect()
    }

    /// The consumer is deleted: tell every waiting request.
    pub fn close(&mut self) -> Vec<Outbound> {
        self.waiting
            .drain_where(|_| true)
            .into_iter()
            .map(|request| status_to(&request.reply, status::consumer_deleted()))
            .collect()
    }
}
