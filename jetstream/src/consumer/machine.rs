//! `Consumer`: the state machine of one consumer. It borrows the stream's
//! store for every call and takes the time as an argument; deliveries,
//! statuses and advisories come back as values for the caller to send.
//!
//! Persistent part: [`ConsumerState`]. Leader-local part (rebuilt on
//! restore): the ack deadlines, the redelivery queue, the waiting pull
//! requests, the last-per-subject skip list.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use starling_store::MessageStore;

use crate::api::consumer::{AckPolicy, ConsumerConfig, ConsumerInfo, ReplayPolicy, SequenceInfo};
use crate::consumer::ack::AckKind;
use crate::consumer::position::{start_position, Filters, PendingCache, SkipList};
use crate::consumer::priority::Pin;
use crate::consumer::pull::WaitQueue;
use crate::consumer::push::PushState;
use crate::consumer::state::ConsumerState;

/// Something the caller should announce (`$JS.EVENT.ADVISORY.CONSUMER.…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsumerEvent {
    /// `MAX_DELIVERIES`: the message was delivered `deliveries` times
    /// without an ack and will not be delivered again.
    MaxDeliveries {
        /// Stream sequence.
        stream_seq: u64,
        /// Deliveries made.
        deliveries: u64,
    },
    /// `MSG_TERMINATED`: a `+TERM` stopped the message's redelivery.
    Terminated {
        /// Stream sequence.
        stream_seq: u64,
        /// Consumer sequence of its first delivery.
        consumer_seq: u64,
        /// Deliveries made.
        deliveries: u64,
        /// The reason in the `+TERM`, if any.
        reason: Option<String>,
    },
    /// `PINNED`: a `pinned_client` group pinned a new client.
    Pinned {
        /// The priority group.
        group: String,
        /// The new pin (`Nats-Pin-Id`).
        pin_id: String,
    },
    /// `UNPINNED`: a group's pinned client was released.
    Unpinned {
        /// The priority group.
        group: String,
        /// `admin` (`CONSUMER.UNPIN`) or `timeout` (`priority_timeout`).
        reason: &'static str,
    },
}

/// A consumer of one stream.
#[derive(Debug)]
pub struct Consumer {
    pub(super) stream_name: String,
    pub(super) name: String,
    pub(super) config: ConsumerConfig,
    pub(super) created: i64,
    pub(super) filters: Filters,
    pub(super) state: ConsumerState,
    /// Next stream sequence to consider for a first delivery.
    pub(super) next_seq: u64,
    pub(super) skip: Option<SkipList>,
    /// `(deadline, stream seq)` of pending messages waiting for an ack.
    pub(super) deadlines: BTreeSet<(i64, u64)>,
    pub(super) deadline_of: HashMap<u64, i64>,
    /// Pending messages due for redelivery, oldest due first; entries not
    /// in `redeliver_set` were acked meanwhile and are skipped.
    pub(super) redeliver: VecDeque<u64>,
    pub(super) redeliver_set: HashSet<u64>,
    pub(super) waiting: WaitQueue,
    pub(super) events: Vec<ConsumerEvent>,
    pub(super) last_delivery_at: Option<i64>,
    pub(super) last_ack_at: Option<i64>,
    /// `num_pending` kept between calls (see `Filters::count_from_cached`).
    pub(super) pending_cache: PendingCache,
    /// Stream sequences acknowledged (or `+TERM`ed, or delivered under
    /// `ack_policy: none`) since the last `take_acked`, for interest and
    /// work queue retention.
    pub(super) acked: Vec<u64>,
    pub(super) last_request_at: Option<i64>,
    /// Push consumers: interest, flow control, heartbeats.
    pub(super) push: PushState,
    /// `replay_policy: original` pacing.
    pub(super) replay: Replay,
    /// Pinned clients by priority group (leader-local).
    pub(super) pins: BTreeMap<String, Pin>,
    /// Pins handed out, to make each id unique.
    pub(super) pins_made: u64,
}

/// `replay_policy: original`: messages stored before the consumer was
/// created go out at the pace they were stored, measured from the first
/// one; newer messages go out at once (nats-server `loopAndGatherMsgs`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Replay {
    /// The stream's last sequence at creation; 0 = no pacing.
    pub(super) end: u64,
    /// `(when it was sent, its store time)` of the first paced message.
    pub(super) anchor: Option<(i64, i64)>,
    /// When the held-back message is due.
    pub(super) due_at: Option<i64>,
}

impl Consumer {
    /// A new consumer. `config` must have been through
    /// [`crate::consumer::apply_defaults`] and [`crate::consumer::validate`].
    pub fn new(
        stream_name: &str,
        name: &str,
        config: ConsumerConfig,
        store: &(impl MessageStore + ?Sized),
        now: i64,
    ) -> Consumer {
        let filters = Filters::of(&config);
        let (start, skip) = start_position(&config, &filters, store);
        let mut consumer = Consumer::empty(stream_name, name, config, filters, now);
        consumer.state = ConsumerState::starting_at(start);
        consumer.next_seq = start;
        consumer.skip = skip;
        if consumer.config.replay_policy == ReplayPolicy::Original {
            consumer.replay.end = store.state().last_seq;
        }
        consumer
    }

    /// A consumer resumed from a persisted state at `now`: deliveries
    /// continue after `delivered`, and each pending message's ack wait runs
    /// from its recorded timestamp (those already over are due at once).
    /// `replay_policy: original` pacing does not resume: the rest goes out
    /// at once.
    pub fn restore(
        stream_name: &str,
        name: &str,
        config: ConsumerConfig,
        created: i64,
        state: ConsumerState,
        now: i64,
    ) -> Consumer {
        let filters = Filters::of(&config);
        let mut consumer = Consumer::empty(stream_name, name, config, filters, created);
        consumer.next_seq = state.delivered.stream + 1;
        let waits: Vec<(u64, i64)> = state
            .pending
            .iter()
            .map(|(seq, pending)| {
                let wait = consumer.ack_wait_for(state.delivery_count(*seq));
                (*seq, pending.timestamp.saturating_add(wait))
            })
            .collect();
        consumer.state = state;
        for (seq, deadline) in waits {
            consumer.set_deadline(seq, deadline);
        }
        consumer.expire_deadlines(now);
        consumer
    }

    fn empty(
        stream_name: &str,
        name: &str,
        config: ConsumerConfig,
        filters: Filters,
        created: i64,
    ) -> Consumer {
        let capacity = usize::try_from(config.max_waiting.max(0)).unwrap_or(usize::MAX);
        Consumer {
            stream_name: stream_name.to_string(),
            name: name.to_string(),
            config,
            created,
            filters,
            state: ConsumerState::default(),
            next_seq: 1,
            skip: None,
            deadlines: BTreeSet::new(),
            deadline_of: HashMap::new(),
            redeliver: VecDeque::new(),
            redeliver_set: HashSet::new(),
            waiting: WaitQueue::new(capacity),
            events: Vec::new(),
            last_delivery_at: None,
            last_ack_at: None,
            pending_cache: PendingCache::default(),
            acked: Vec::new(),
            last_request_at: None,
            push: PushState::default(),
            replay: Replay::default(),
            pins: BTreeMap::new(),
            pins_made: 0,
        }
    }

    /// The consumer's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its config (defaults applied).
    pub fn config(&self) -> &ConsumerConfig {
        &self.config
    }

    /// Its persistent state, to encode and store.
    pub fn state(&self) -> &ConsumerState {
        &self.state
    }

    /// Advisories raised since the last call.
    pub fn take_events(&mut self) -> Vec<ConsumerEvent> {
        std::mem::take(&mut self.events)
    }

    /// Stream sequences this consumer is done with since the last call:
    /// acked, terminated, or delivered without acks. An interest or work
    /// queue stream removes a message once no consumer needs it.
    pub fn take_acked(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.acked)
    }

    /// True while this consumer still needs stream message `stream_seq` on
    /// `subject` (nats-server `needAck`): it matches the filters and is
    /// either not yet delivered or delivered and awaiting its ack.
    pub fn needs_ack(&self, stream_seq: u64, subject: &str) -> bool {
        if !self.filters.matches(subject) || stream_seq <= self.state.ack_floor.stream {
            return false;
        }
        if self.config.ack_policy == AckPolicy::None || stream_seq > self.state.delivered.stream {
            return stream_seq > self.state.delivered.stream;
        }
        self.state.pending.contains_key(&stream_seq)
    }

    /// Messages left the stream (purge, compact, delete): forget pending
    /// messages that are gone, and when the stream now starts past the
    /// cursor, move delivered there (nats-server `consumer.purge`).
    pub fn on_messages_removed(&mut self, store: &(impl MessageStore + ?Sized)) {
        let first = store.state().first_seq;
        if first > self.next_seq {
            self.next_seq = first;
            self.state.record_skipped(first - 1);
        }
        let gone: Vec<u64> = self
            .state
            .pending
            .keys()
            .copied()
            .filter(|seq| store.load_msg(*seq).is_err())
            .collect();
        for seq in gone {
            self.remove_pending(seq);
        }
    }

    /// Last delivery, ack or pull request, for `inactive_threshold`.
    pub fn last_activity(&self) -> i64 {
        [
            self.last_delivery_at,
            self.last_ack_at,
            self.last_request_at,
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(self.created)
    }

    /// Pull requests waiting.
    pub fn num_waiting(&self) -> usize {
        self.waiting.len()
    }

    /// True while `pause_until` is in the future.
    pub fn is_paused(&self, now: i64) -> bool {
        self.config.pause_until.is_some_and(|until| until > now)
    }

    /// Messages matching the filters the consumer has yet to deliver.
    pub fn num_pending(&self, store: &(impl MessageStore + ?Sized)) -> u64 {
        match &self.skip {
            Some(skip) => {
                skip.present(store)
                    + self
                        .filters
                        .count_from_cached(store, skip.resume, &self.pending_cache)
            }
            None => self
                .filters
                .count_from_cached(store, self.next_seq, &self.pending_cache),
        }
    }

    /// The `ConsumerInfo` report.
    pub fn info(&self, store: &(impl MessageStore + ?Sized), now: i64) -> ConsumerInfo {
        let paused = self.is_paused(now);
        ConsumerInfo {
            stream_name: self.stream_name.clone(),
            name: self.name.clone(),
            created: self.created,
            config: self.config.clone(),
            delivered: SequenceInfo {
                consumer_seq: self.state.delivered.consumer,
                stream_seq: self.state.delivered.stream,
                last_active: self.last_delivery_at,
            },
            ack_floor: SequenceInfo {
                consumer_seq: self.state.ack_floor.consumer,
                stream_seq: self.state.ack_floor.stream,
                last_active: self.last_ack_at,
            },
            num_ack_pending: self.state.pending.len() as u64,
            num_redelivered: self.state.redelivered.len() as u64,
            num_waiting: self.waiting.len() as u64,
            num_pending: self.num_pending(store),
            cluster: None,
            push_bound: !self.config.is_pull() && self.push.bound,
            paused,
            pause_remaining: match self.config.pause_until {
                Some(until) if paused => until - now,
                _ => 0,
            },
            priority_groups: self.priority_group_states(),
            ts: now,
        }
    }

    /// Apply an update already checked by [`crate::consumer::check_update`]:
    /// limits, waits, filters, pause, metadata take effect at once.
    pub fn update_config(&mut self, config: ConsumerConfig) {
        let filters_changed = config.filters() != self.config.filters();
        self.config = config;
        if filters_changed {
            self.filters = Filters::of(&self.config);
            self.pending_cache = PendingCache::default();
        }
    }

    /// Ack wait of the `delivery_count`-th delivery: `backoff` (its last
    /// value repeating) or `ack_wait`.
    pub(super) fn ack_wait_for(&self, delivery_count: u64) -> i64 {
        let backoff = &self.config.backoff;
        if backoff.is_empty() {
            return self.config.ack_wait;
        }
        let index = usize::try_from(delivery_count.saturating_sub(1))
            .unwrap_or(usize::MAX)
            .min(backoff.len() - 1);
        backoff[index]
    }

    pub(super) fn set_deadline(&mut self, seq: u64, deadline: i64) {
        self.clear_deadline(seq);
        self.deadlines.insert((deadline, seq));
        self.deadline_of.insert(seq, deadline);
    }

    pub(super) fn clear_deadline(&mut self, seq: u64) {
        if let Some(old) = self.deadline_of.remove(&seq) {
            self.deadlines.remove(&(old, seq));
        }
    }

    /// Forget a message that left pending.
    pub(super) fn forget(&mut self, seq: u64) {
        self.clear_deadline(seq);
        self.redeliver_set.remove(&seq);
    }

    /// Make a pending message due for redelivery now, unless it has had
    /// its `max_deliver` deliveries: then it leaves pending with an event.
    pub(super) fn make_due(&mut self, seq: u64) {
        self.clear_deadline(seq);
        let deliveries = self.state.delivery_count(seq);
        let max_deliver = self.config.max_deliver;
        if max_deliver > 0 && deliveries >= max_deliver as u64 {
            self.state.record_removal(seq);
            self.forget(seq);
            self.events.push(ConsumerEvent::MaxDeliveries {
                stream_seq: seq,
                deliveries,
            });
            return;
        }
        if self.redeliver_set.insert(seq) {
            self.redeliver.push_back(seq);
        }
    }

    /// Apply an ack body for the delivery of stream message `stream_seq`.
    /// Returns false when it changed nothing (not pending, already acked,
    /// `ack_policy: none`). `+NXT` acks; the caller then adds its request.
    pub fn ack(&mut self, stream_seq: u64, kind: &AckKind, now: i64) -> bool {
        if self.config.ack_policy == AckPolicy::None || stream_seq > self.state.delivered.stream {
            return false;
        }
        let applied = match kind {
            AckKind::Ack | AckKind::Next(_) => match self.config.ack_policy {
                AckPolicy::All => {
                    let removed = self.state.record_ack_all(stream_seq);
                    for seq in &removed {
                        self.forget(*seq);
                    }
                    let applied = !removed.is_empty();
                    self.acked.extend(removed);
                    applied
                }
                _ => {
                    let applied = self.remove_pending(stream_seq);
                    if applied {
                        self.acked.push(stream_seq);
                    }
                    applied
                }
            },
            AckKind::Nak { delay } => {
                if !self.is_waiting_for_ack(stream_seq) {
                    return false;
                }
                if *delay > 0 {
                    let wait = self.ack_wait_for(self.state.delivery_count(stream_seq));
                    let deadline = now.saturating_add(*delay);
                    // Stored so a restore computes the same deadline.
                    self.state
                        .record_wait_start(stream_seq, deadline.saturating_sub(wait));
                    self.set_deadline(stream_seq, deadline);
                } else {
                    // Stored as "ack wait over now", so a restore finds it due.
                    let wait = self.ack_wait_for(self.state.delivery_count(stream_seq));
                    self.state
                        .record_wait_start(stream_seq, now.saturating_sub(wait));
                    self.make_due(stream_seq);
                }
                true
            }
            AckKind::Progress => {
                if !self.is_waiting_for_ack(stream_seq) {
                    return false;
                }
                let wait = self.ack_wait_for(self.state.delivery_count(stream_seq));
                self.state.record_wait_start(stream_seq, now);
                self.set_deadline(stream_seq, now.saturating_add(wait));
                true
            }
            AckKind::Term { reason } => {
                let Some(pending) = self.state.pending.get(&stream_seq).copied() else {
                    return false;
                };
                let deliveries = self.state.delivery_count(stream_seq);
                self.remove_pending(stream_seq);
                self.acked.push(stream_seq);
                self.events.push(ConsumerEvent::Terminated {
                    stream_seq,
                    consumer_seq: pending.consumer_seq,
                    deliveries,
                    reason: reason.clone(),
                });
                true
            }
        };
        if applied {
            self.last_ack_at = Some(now);
        }
        applied
    }

    /// Pending and not already queued for redelivery.
    fn is_waiting_for_ack(&self, seq: u64) -> bool {
        self.state.pending.contains_key(&seq) && !self.redeliver_set.contains(&seq)
    }

    pub(super) fn remove_pending(&mut self, seq: u64) -> bool {
        let removed = self.state.record_removal(seq);
        if removed {
            self.forget(seq);
        }
        removed
    }
}
