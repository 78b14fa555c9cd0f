//! Values the store hands back: messages and state summaries.

use bytes::Bytes;

/// A message as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMsg {
    /// Stream sequence.
    pub seq: u64,
    /// Subject it was published to.
    pub subject: String,
    /// Raw NATS header block (`NATS/1.0\r\n...`), empty when none.
    pub headers: Bytes,
    /// Payload.
    pub payload: Bytes,
    /// Store time, nanoseconds since the Unix epoch (given by the caller).
    pub timestamp: i64,
    /// Per-message time to live in nanoseconds (`Nats-TTL`), if any.
    pub ttl_nanos: Option<i64>,
}

/// The stream-wide state (JetStream `StreamInfo.state`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamState {
    /// Messages held.
    pub msgs: u64,
    /// Bytes held, counted with [`crate::stored_size`].
    pub bytes: u64,
    /// Sequence of the first message; `last_seq + 1` when empty.
    pub first_seq: u64,
    /// Timestamp of the first message, 0 when empty.
    pub first_ts: i64,
    /// Highest sequence ever assigned (kept when messages are removed).
    pub last_seq: u64,
    /// Timestamp of the message at `last_seq` when it was stored, 0 if none.
    pub last_ts: i64,
    /// Distinct subjects held.
    pub num_subjects: u64,
    /// Sequences between first and last that are not held.
    pub num_deleted: u64,
}

/// Messages matching a filter from a start sequence (nats `SimpleState`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FilteredState {
    /// Matching messages.
    pub msgs: u64,
    /// First matching sequence, 0 when none.
    pub first: u64,
    /// Last matching sequence, 0 when none.
    pub last: u64,
}

/// One subject's messages (for `subjects_state`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubjectState {
    /// Messages on the subject.
    pub msgs: u64,
    /// Its first sequence.
    pub first: u64,
    /// Its last sequence.
    pub last: u64,
}
