//! Priority groups (2.11+): a pull request names one of the consumer's
//! `priority_groups`. The `overflow` policy serves a request only while the
//! consumer has at least its `min_pending` pending or `min_ack_pending`
//! unacknowledged messages. `pinned_client` serves one client per group,
//! the one holding the group's `Nats-Pin-Id` (sent on each of its
//! deliveries), until it stops pulling for `priority_timeout` or is
//! unpinned; other requests wait, and a request with another pin gets
//! `423 Nats-Pin-Id mismatch`. `prioritized` serves the lowest `priority`
//! first.

use bytes::Bytes;
use starling_store::MessageStore;

use crate::api::consumer::{PriorityGroupState, PriorityPolicy};
use crate::consumer::machine::{Consumer, ConsumerEvent};
use crate::consumer::pull::{status, PullRequest};
use crate::consumer::serve::Outbound;

/// The pinned client of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// Its `Nats-Pin-Id`.
    pub id: String,
    /// When it was pinned.
    pub pinned_at: i64,
    /// Its last sign of life (a request with its id).
    pub last_seen: i64,
}

impl Consumer {
    /// The status refusing `request` under the priority rules, if any.
    pub(super) fn admit_priority(&mut self, request: &PullRequest, now: i64) -> Option<Vec<u8>> {
        if self.config.priority_policy == PriorityPolicy::None {
            return None;
        }
        let Some(group) = &request.group else {
            return Some(status::bad_request("Priority Group missing"));
        };
        if !self.config.priority_groups.contains(group) {
            return Some(status::bad_request("Invalid Priority Group"));
        }
        if self.config.priority_policy == PriorityPolicy::PinnedClient {
            if let (Some(pin), Some(id)) = (self.pins.get_mut(group), &request.id) {
                if *id != pin.id {
                    return Some(status::pin_id_mismatch());
                }
                pin.last_seen = now;
            }
        }
        None
    }

    /// The index of the waiting request to serve next; `None` when none may
    /// be served now.
    pub(super) fn choose_request(&self, store: &(impl MessageStore + ?Sized)) -> Option<usize> {
        if self.waiting.is_empty() {
            return None;
        }
        match self.config.priority_policy {
            PriorityPolicy::None => Some(0),
            PriorityPolicy::Overflow => {
                let pending = self.num_pending(store) as i64;
                let ack_pending = self.state.pending.len() as i64;
                self.waiting.iter().position(|request| {
                    (request.min_pending == 0 && request.min_ack_pending == 0)
                        || (request.min_pending > 0 && pending >= request.min_pending)
                        || (request.min_ack_pending > 0 && ack_pending >= request.min_ack_pending)
                })
            }
            PriorityPolicy::Prioritized => self
                .waiting
                .iter()
                .enumerate()
                .min_by_key(|(index, request)| (request.priority, *index))
                .map(|(index, _)| index),
            PriorityPolicy::PinnedClient => self.waiting.iter().position(|request| {
                let pin = request
                    .group
                    .as_ref()
                    .and_then(|group| self.pins.get(group));
                match pin {
                    Some(pin) => request.pin_id.as_deref() == Some(pin.id.as_str()),
                    None => true,
                }
            }),
        }
    }

    /// The front request is about to be served: pin it when its group has
    /// no pinned client. Returns the pin its deliveries carry.
    pub(super) fn pin_front(&mut self, now: i64) -> Option<String> {
        if self.config.priority_policy != PriorityPolicy::PinnedClient {
            return None;
        }
        let group = self.waiting.front_mut()?.group.clone()?;
        let pin = match self.pins.get_mut(&group) {
            Some(pin) => {
                pin.last_seen = now;
                pin.id.clone()
            }
            None => {
                self.pins_made += 1;
                let id = format!("{:016x}{:06x}", now, self.pins_made);
                self.events.push(ConsumerEvent::Pinned {
                    group: group.clone(),
                    pin_id: id.clone(),
                });
                self.pins.insert(
                    group,
                    Pin {
                        id: id.clone(),
                        pinned_at: now,
                        last_seen: now,
                    },
                );
                id
            }
        };
        if let Some(front) = self.waiting.front_mut() {
            front.pin_id = Some(pin.clone());
        }
        Some(pin)
    }

    /// Unpin the clients that stopped pulling for `priority_timeout`.
    pub(super) fn expire_pins(&mut self, now: i64, out: &mut Vec<Outbound>) {
        let timeout = self.config.priority_timeout;
        if self.pins.is_empty() || timeout <= 0 {
            return;
        }
        let waiting_ids: Vec<String> = self
            .waiting
            .iter()
            .filter_map(|request| request.pin_id.clone())
            .collect();
        let mut expired = Vec::new();
        for (group, pin) in &mut self.pins {
            if waiting_ids.contains(&pin.id) {
                pin.last_seen = pin.last_seen.max(now);
            } else if now.saturating_sub(pin.last_seen) >= timeout {
                expired.push(group.clone());
            }
        }
        for group in expired {
            self.release_pin(&group, "timeout", out);
        }
    }

    /// When a pin may time out next.
    pub(super) fn next_pin_expiry(&self) -> Option<i64> {
        let timeout = self.config.priority_timeout;
        (timeout > 0)
            .then(|| {
                self.pins
                    .values()
                    .map(|pin| pin.last_seen.saturating_add(timeout))
                    .min()
            })
            .flatten()
    }

    /// `CONSUMER.UNPIN`: the group's pinned client is released; its
    /// waiting requests get `423` so it pulls again without the old pin.
    pub fn unpin(&mut self, group: &str, out: &mut Vec<Outbound>) -> bool {
        self.release_pin(group, "admin", out)
    }

    /// Release the group's pin (an `Unpinned` event with `reason`); its
    /// waiting requests get `423`.
    fn release_pin(&mut self, group: &str, reason: &'static str, out: &mut Vec<Outbound>) -> bool {
        let Some(pin) = self.pins.remove(group) else {
            return false;
        };
        self.events.push(ConsumerEvent::Unpinned {
            group: group.to_string(),
            reason,
        });
        let ended = self
            .waiting
            .drain_where(|request| request.pin_id.as_deref() == Some(pin.id.as_str()));
        for request in ended {
            out.push(Outbound::Status {
                to: request.reply,
                headers: status::pin_id_mismatch(),
            });
        }
        true
    }

    /// The `priority_groups` of `ConsumerInfo`.
    pub(super) fn priority_group_states(&self) -> Vec<PriorityGroupState> {
        if self.config.priority_policy == PriorityPolicy::None {
            return Vec::new();
        }
        self.config
            .priority_groups
            .iter()
            .map(|group| {
                let pin = self.pins.get(group);
                PriorityGroupState {
                    group: group.clone(),
                    pinned_client_id: pin.map(|pin| pin.id.clone()),
                    pinned_ts: pin.map(|pin| pin.pinned_at),
                }
            })
            .collect()
    }
}

/// `headers` with `Nats-Pin-Id: <id>` appended (a stored one stays
/// before it; clients read the last).
pub(super) fn with_pin_header(headers: &Bytes, id: &str) -> Bytes {
    let line = format!("Nats-Pin-Id: {id}\r\n");
    if headers.is_empty() {
        return Bytes::from(format!("NATS/1.0\r\n{line}\r\n"));
    }
    let body = headers.strip_suffix(b"\r\n").unwrap_or(headers);
    let mut block = Vec::with_capacity(headers.len() + line.len());
    block.extend_from_slice(body);
    block.extend_from_slice(line.as_bytes());
    block.extend_from_slice(b"\r\n");
    Bytes::from(block)
}

#[cfg(test)]
mod tests {
    use super::with_pin_header;
    use bytes::Bytes;
    use starling_store::{MemStore, MessageStore, StoreConfig};

    use crate::api::consumer::{AckPolicy, ConsumerConfig, PriorityPolicy};
    use crate::consumer::{apply_defaults, Consumer, ConsumerEvent, StreamContext};

    const SECOND: i64 = 1_000_000_000;

    #[test]
    fn pinning_a_client_and_releasing_the_pin_are_events() {
        let mut store = MemStore::new(StoreConfig::default());
        for seq in 1..=2 {
            assert!(store.store_msg("s", b"", b"m", seq, None).is_ok());
        }
        let mut config = ConsumerConfig {
            durable_name: Some("C".into()),
            ack_policy: AckPolicy::None,
            priority_policy: PriorityPolicy::PinnedClient,
            priority_groups: vec!["A".into()],
            priority_timeout: 2 * SECOND,
            ..ConsumerConfig::default()
        };
        apply_defaults(&mut config, &StreamContext::default());
        let mut consumer = Consumer::new("S", "C", config, &store, 0);
        let body = br#"{"batch":1,"group":"A"}"#;
        assert_eq!(consumer.add_pull_request(&store, "r1", body, 0).len(), 1);
        let pin_id = match consumer.take_events().as_slice() {
            [ConsumerEvent::Pinned { group, pin_id }] if group == "A" => pin_id.clone(),
            other => panic!("{other:?}"),
        };
        // The same client again: no new pin.
        let again = format!(r#"{{"batch":1,"group":"A","id":"{pin_id}"}}"#);
        assert_eq!(
            consumer
                .add_pull_request(&store, "r2", again.as_bytes(), SECOND)
                .len(),
            1
        );
        assert!(consumer.take_events().is_empty());
        // No pull for `priority_timeout`: unpinned, `timeout`.
        consumer.tick(&store, 3 * SECOND + 1);
        assert_eq!(
            consumer.take_events(),
            vec![ConsumerEvent::Unpinned {
                group: "A".into(),
                reason: "timeout"
            }]
        );
        let mut out = Vec::new();
        assert!(!consumer.unpin("A", &mut out), "nothing pinned");
        assert!(consumer.take_events().is_empty());
        // Pinned again; the client's waiting request loses its interest.
        assert!(store.store_msg("s", b"", b"m", 3, None).is_ok());
        let body = br#"{"batch":2,"group":"A"}"#;
        let now = 4 * SECOND;
        assert_eq!(consumer.add_pull_request(&store, "r3", body, now).len(), 1);
        assert!(matches!(
            consumer.take_events().as_slice(),
            [ConsumerEvent::Pinned { .. }]
        ));
        assert!(consumer.cancel_request("r3"));
        assert_eq!(
            consumer.take_events(),
            vec![ConsumerEvent::Unpinned {
                group: "A".into(),
                reason: "timeout"
            }]
        );
    }

    #[test]
    fn pin_header_is_appended() {
        assert_eq!(
            &with_pin_header(&Bytes::new(), "p")[..],
            b"NATS/1.0\r\nNats-Pin-Id: p\r\n\r\n"
        );
        assert_eq!(
            &with_pin_header(&Bytes::from_static(b"NATS/1.0\r\nA: b\r\n\r\n"), "p")[..],
            b"NATS/1.0\r\nA: b\r\nNats-Pin-Id: p\r\n\r\n"
        );
    }
}
