//! `ConsumerState`: what a consumer must remember across a restart (and
//! what a Raft log would replicate): delivered, ack floor, pending acks with
//! their delivery timestamps, redelivery counts. Its transitions are plain
//! functions of their arguments, so replaying the same calls gives the same
//! state. Encoded with varints and a CRC-32 so a torn write is detected.

use std::collections::BTreeMap;

use crate::api::consumer::AckPolicy;

/// A consumer sequence and a stream sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SequencePair {
    /// Consumer (delivery) sequence.
    pub consumer: u64,
    /// Stream sequence.
    pub stream: u64,
}

/// One delivery awaiting its ack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    /// Consumer sequence of its first delivery (kept across redeliveries,
    /// as nats-server does, so the ack floor's consumer side is stable).
    pub consumer_seq: u64,
    /// When the ack wait started, nanoseconds since the epoch: its last
    /// delivery, or a `+WPI`/`-NAK delay` moved it.
    pub timestamp: i64,
}

/// The persistent state of a consumer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsumerState {
    /// Consumer sequence of the last delivery; highest stream sequence
    /// delivered for the first time (or the start position minus one).
    pub delivered: SequencePair,
    /// Everything at or below is acknowledged (or will never be delivered).
    pub ack_floor: SequencePair,
    /// Deliveries awaiting an ack, by stream sequence.
    pub pending: BTreeMap<u64, Pending>,
    /// Redeliveries so far (delivery count - 1) of pending messages
    /// delivered more than once, by stream sequence.
    pub redelivered: BTreeMap<u64, u64>,
}

impl ConsumerState {
    /// A state positioned so the first message considered is `start_seq`.
    pub fn starting_at(start_seq: u64) -> ConsumerState {
        let floor = SequencePair {
            consumer: 0,
            stream: start_seq.saturating_sub(1),
        };
        ConsumerState {
            delivered: floor,
            ack_floor: floor,
            ..ConsumerState::default()
        }
    }

    /// Delivery count of a pending message (1 + its redeliveries).
    pub fn delivery_count(&self, stream_seq: u64) -> u64 {
        self.redelivered.get(&stream_seq).copied().unwrap_or(0) + 1
    }

    /// Record a delivery with consumer sequence `consumer_seq` of stream
    /// message `stream_seq`, its `delivery_count`-th, at `now`.
    pub fn record_delivery(
        &mut self,
        consumer_seq: u64,
        stream_seq: u64,
        delivery_count: u64,
        now: i64,
        policy: AckPolicy,
    ) {
        self.delivered.consumer = self.delivered.consumer.max(consumer_seq);
        if policy == AckPolicy::None {
            self.delivered.stream = self.delivered.stream.max(stream_seq);
            self.ack_floor = self.delivered;
            return;
        }
        if stream_seq <= self.delivered.stream {
            if let Some(pending) = self.pending.get_mut(&stream_seq) {
                pending.timestamp = now;
            }
        } else {
            self.pending.insert(
                stream_seq,
                Pending {
                    consumer_seq,
                    timestamp: now,
                },
            );
            self.delivered.stream = stream_seq;
        }
        if delivery_count > 1 && self.pending.contains_key(&stream_seq) {
            let count = self.redelivered.entry(stream_seq).or_insert(0);
            *count = (*count).max(delivery_count - 1);
        }
        self.recompute_ack_floor();
    }

    /// Messages up to `stream_seq` were passed over without a delivery
    /// (the end of a last-per-subject skip list, nats `updateSkipped`), so
    /// a restart resumes after them.
    pub fn record_skipped(&mut self, stream_seq: u64) {
        if stream_seq > self.delivered.stream {
            self.delivered.stream = stream_seq;
            self.recompute_ack_floor();
        }
    }

    /// Move a pending message's ack wait start (`+WPI`, `-NAK` with delay).
    pub fn record_wait_start(&mut self, stream_seq: u64, timestamp: i64) {
        if let Some(pending) = self.pending.get_mut(&stream_seq) {
            pending.timestamp = timestamp;
        }
    }

    /// Remove one pending message (ack, term, max deliveries reached, gone
    /// from the stream); false if it was not pending.
    pub fn record_removal(&mut self, stream_seq: u64) -> bool {
        let removed = self.pending.remove(&stream_seq).is_some();
        if removed {
            self.redelivered.remove(&stream_seq);
            self.recompute_ack_floor();
        }
        removed
    }

    /// `ack_policy: all`: remove every pending message up to `stream_seq`;
    /// returns the removed sequences.
    pub fn record_ack_all(&mut self, stream_seq: u64) -> Vec<u64> {
        let removed: Vec<u64> = self
            .pending
            .range(..=stream_seq)
            .map(|(seq, _)| *seq)
            .collect();
        for seq in &removed {
            self.pending.remove(seq);
            self.redelivered.remove(seq);
        }
        if !removed.is_empty() {
            self.recompute_ack_floor();
        }
        removed
    }

    /// The floor is just below the oldest pending message, or everything
    /// delivered when nothing is pending. First deliveries are in stream
    /// order and pending keep their first consumer sequence, so both sides
    /// move forward only.
    fn recompute_ack_floor(&mut self) {
        match self.pending.iter().next() {
            Some((stream_seq, pending)) => {
                self.ack_floor = SequencePair {
                    consumer: pending.consumer_seq.saturating_sub(1),
                    stream: stream_seq.saturating_sub(1),
                }
            }
            None => self.ack_floor = self.delivered,
        }
    }

    /// Encode for persistence.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.pending.len() * 12);
        out.extend_from_slice(STATE_MAGIC);
        for value in [
            self.delivered.consumer,
            self.delivered.stream,
            self.ack_floor.consumer,
            self.ack_floor.stream,
            self.pending.len() as u64,
        ] {
            put_varint(&mut out, value);
        }
        let mut previous = 0;
        for (seq, pending) in &self.pending {
            put_varint(&mut out, seq - previous);
            put_varint(&mut out, pending.consumer_seq);
            put_varint(&mut out, zigzag(pending.timestamp));
            previous = *seq;
        }
        put_varint(&mut out, self.redelivered.len() as u64);
        previous = 0;
        for (seq, count) in &self.redelivered {
            put_varint(&mut out, seq - previous);
            put_varint(&mut out, *count);
            previous = *seq;
        }
        let checksum = crc32fast::hash(&out);
        out.extend_from_slice(&checksum.to_le_bytes());
        out
    }

    /// Decode what `encode` wrote; any damage is an error, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<ConsumerState, StateError> {
        if bytes.len() < STATE_MAGIC.len() + 4 {
            return Err(StateError::Truncated);
        }
        let (body, tail) = bytes.split_at(bytes.len() - 4);
        let mut stored = [0u8; 4];
        stored.copy_from_slice(tail);
        if crc32fast::hash(body) != u32::from_le_bytes(stored) {
            return Err(StateError::Checksum);
        }
        let Some(mut rest) = body.strip_prefix(STATE_MAGIC.as_slice()) else {
            return Err(StateError::BadMagic);
        };
        let mut next = || take_varint(&mut rest);
        let delivered = SequencePair {
            consumer: next()?,
            stream: next()?,
        };
        let ack_floor = SequencePair {
            consumer: next()?,
            stream: next()?,
        };
        let mut state = ConsumerState {
            delivered,
            ack_floor,
            ..ConsumerState::default()
        };
        let count = take_varint(&mut rest)?;
        let mut seq = 0u64;
        for _ in 0..count {
            seq = seq
                .checked_add(take_varint(&mut rest)?)
                .ok_or(StateError::Malformed)?;
            let consumer_seq = take_varint(&mut rest)?;
            let timestamp = unzigzag(take_varint(&mut rest)?);
            state.pending.insert(
                seq,
                Pending {
                    consumer_seq,
                    timestamp,
                },
            );
        }
        let count = take_varint(&mut rest)?;
        seq = 0;
        for _ in 0..count {
            seq = seq
                .checked_add(take_varint(&mut rest)?)
                .ok_or(StateError::Malformed)?;
            state.redelivered.insert(seq, take_varint(&mut rest)?);
        }
        if !rest.is_empty() {
            return Err(StateError::Malformed);
        }
        Ok(state)
    }
}

/// First bytes of an encoded state: name and format version.
const STATE_MAGIC: &[u8; 4] = b"SJC1";

/// Why an encoded consumer state was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateError {
    /// Shorter than a header and a checksum, or a field runs past the end.
    Truncated,
    /// The CRC-32 does not match: torn or corrupt.
    Checksum,
    /// Not a consumer state of a known version.
    BadMagic,
    /// The checksum matches but the fields do not make sense.
    Malformed,
}

impl std::fmt::Display for StateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            StateError::Truncated => "consumer state truncated",
            StateError::Checksum => "consumer state checksum mismatch",
            StateError::BadMagic => "not a consumer state",
            StateError::Malformed => "consumer state malformed",
        };
        f.write_str(text)
    }
}

impl std::error::Error for StateError {}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn take_varint(input: &mut &[u8]) -> Result<u64, StateError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = input.split_first().ok_or(StateError::Truncated)?;
        *input = rest;
        if shift == 63 && byte > 1 {
            return Err(StateError::Malformed);
        }
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(StateError::Malformed)
}

fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ConsumerState {
        let mut state = ConsumerState::starting_at(5);
        state.record_delivery(1, 5, 1, 100, AckPolicy::Explicit);
        state.record_delivery(2, 7, 1, 200, AckPolicy::Explicit);
        state.record_delivery(3, 9, 1, -300, AckPolicy::Explicit);
        state.record_delivery(4, 7, 2, 400, AckPolicy::Explicit);
        state
    }

    #[test]
    fn floor_follows_the_oldest_pending() {
        let mut state = sample();
        assert_eq!(
            state.ack_floor,
            SequencePair {
                consumer: 0,
                stream: 4
            }
        );
        assert_eq!(
            state.delivered,
            SequencePair {
                consumer: 4,
                stream: 9
            }
        );
        assert!(state.record_removal(7));
        assert_eq!(
            state.ack_floor,
            SequencePair {
                consumer: 0,
                stream: 4
            }
        );
        assert!(state.record_removal(5));
        assert_eq!(
            state.ack_floor,
            SequencePair {
                consumer: 2,
                stream: 8
            }
        );
        assert!(state.record_removal(9));
        assert_eq!(state.ack_floor, state.delivered);
        assert!(state.redelivered.is_empty());
        assert!(!state.record_removal(9));
    }

    #[test]
    fn encode_decode_round_trip() {
        let state = sample();
        assert_eq!(ConsumerState::decode(&state.encode()), Ok(state));
        let empty = ConsumerState::default();
        assert_eq!(ConsumerState::decode(&empty.encode()), Ok(empty));
    }

    #[test]
    fn any_damage_is_detected() {
        let bytes = sample().encode();
        for cut in 0..bytes.len() {
            assert!(
                ConsumerState::decode(&bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        for index in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[index] ^= 0x10;
            assert!(ConsumerState::decode(&damaged).is_err(), "flip at {index}");
        }
    }
}
