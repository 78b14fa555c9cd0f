//! Atomic batch publish (nats-server 2.12, ADR-50): the staging before
//! the commit. Messages with `Nats-Batch-Id` and `Nats-Batch-Sequence`
//! are held by a [`BatchStager`] (the stream's leader side, before
//! anything is proposed or applied) until the one with
//! `Nats-Batch-Commit`; the whole batch then becomes one
//! [`super::Operation::AtomicBatch`], which [`super::Stream::apply`]
//! stores all together or not at all. So a Raft log can later carry a
//! batch as one entry, and a lost leader loses only uncommitted batches,
//! as in nats-server (`processJetStreamBatchMsg` in `server/stream.go`).
//!
//! Pure: time is an argument (ns since the epoch); the caller abandons
//! idle batches with [`BatchStager::expire`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::headers::{self, header_value};
use super::machine::Publish;
use crate::api::{ApiError, StreamConfig};

/// Longest `Nats-Batch-Id` (nats-server: 64 characters).
pub const MAX_BATCH_ID_LEN: usize = 64;

/// Most messages in one batch (nats-server `streamDefaultMaxBatchSize`).
pub const MAX_BATCH_SIZE: u64 = 1000;

/// Most uncommitted batches of one stream
/// (`streamDefaultMaxBatchInflightPerStream`).
pub const MAX_INFLIGHT_PER_STREAM: usize = 50;

/// Most uncommitted batches on the server (`streamDefaultMaxBatchInflightTotal`).
pub const MAX_INFLIGHT_TOTAL: usize = 1000;

/// A batch with no message for this long is abandoned, ns
/// (`streamDefaultMaxBatchTimeout`: 10 s).
pub const BATCH_TIMEOUT_NANOS: i64 = 10_000_000_000;

/// The error codes of atomic batch publish (nats-server `errors.json`).
impl ApiError {
    /// 10174: the stream does not have `allow_atomic`.
    pub fn atomic_publish_disabled() -> Self {
        Self::new(400, 10174, "atomic publish is disabled")
    }

    /// 10175: `Nats-Batch-Sequence` is missing or not a number.
    pub fn atomic_publish_missing_seq() -> Self {
        Self::new(400, 10175, "atomic publish sequence is missing")
    }

    /// 10176: the batch is unknown, has a gap, or was abandoned.
    pub fn atomic_publish_incomplete() -> Self {
        Self::new(400, 10176, "atomic publish batch is incomplete")
    }

    /// 10177: a header a batch may not use.
    pub fn atomic_publish_unsupported_header(header: &str) -> Self {
        Self::new(
            400,
            10177,
            format!("atomic publish unsupported header used: {header}"),
        )
    }

    /// 10179: the batch id is longer than [`MAX_BATCH_ID_LEN`].
    pub fn atomic_publish_invalid_id() -> Self {
        Self::new(400, 10179, "atomic publish batch ID is invalid")
    }

    /// 10199: the batch has more than `size` messages.
    pub fn atomic_publish_too_large(size: u64) -> Self {
        Self::new(
            400,
            10199,
            format!("atomic publish batch is too large: {size}"),
        )
    }

    /// 10200: `Nats-Batch-Commit` is neither `1` nor `eob`.
    pub fn atomic_publish_invalid_commit() -> Self {
        Self::new(400, 10200, "atomic publish batch commit is invalid")
    }

    /// 10201: two messages of the batch, or one and a message in the
    /// duplicate window, share a `Nats-Msg-Id`.
    pub fn atomic_publish_duplicate_msg_id() -> Self {
        Self::new(
            400,
            10201,
            "atomic publish batch contains duplicate message id",
        )
    }

    /// 10210: too many uncommitted batches on the stream or the server.
    pub fn atomic_publish_too_many_inflight() -> Self {
        Self::new(429, 10210, "atomic publish too many inflight")
    }

    /// 10164: an expectation a batch cannot check (a last sequence after
    /// the first message, a subject the batch already wrote).
    pub fn wrong_last_sequence_constant() -> Self {
        Self::new(400, 10164, "wrong last sequence")
    }
}

/// A committed batch: what [`super::Operation::AtomicBatch`] stores.
#[derive(Debug, Clone)]
pub struct AtomicBatch {
    /// `Nats-Batch-Id`.
    pub id: String,
    /// The messages, in batch order (an `eob` commit message is not one).
    pub messages: Vec<Publish>,
}

/// What staging one message did.
#[derive(Debug)]
pub enum Staged {
    /// Held until the commit; a publisher that asked for a reply gets an
    /// empty one (nats-server's flow-control ack).
    Pending,
    /// The batch is complete: apply it.
    Commit(AtomicBatch),
    /// Refused (and its batch abandoned): the error PubAck.
    Refused(ApiError),
}

/// The limits a stager enforces (nats-server's defaults unless a test
/// lowers them).
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    /// Most uncommitted batches of the stream.
    pub max_inflight_per_stream: usize,
    /// Most uncommitted batches on the server.
    pub max_inflight_total: usize,
    /// Most messages per batch.
    pub max_size: u64,
    /// Idle time after which a batch is abandoned, ns.
    pub timeout_nanos: i64,
}

impl Default for BatchLimits {
    fn default() -> Self {
        BatchLimits {
            max_inflight_per_stream: MAX_INFLIGHT_PER_STREAM,
            max_inflight_total: MAX_INFLIGHT_TOTAL,
            max_size: MAX_BATCH_SIZE,
            timeout_nanos: BATCH_TIMEOUT_NANOS,
        }
    }
}

/// One uncommitted batch.
#[derive(Debug)]
struct Staging {
    messages: Vec<Publish>,
    /// The last `Nats-Batch-Sequence` taken.
    last_seq: u64,
    /// When the last message came, ns.
    last_activity: i64,
}

/// Why a staged batch was dropped (nats-server's `BatchAbandonReason`,
/// the `reason` of its `stream_batch_abandoned` advisory).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbandonReason {
    /// Idle for the timeout.
    Timeout,
    /// Past the largest batch.
    Large,
    /// A gap, a missing sequence or a bad commit.
    Incomplete,
    /// A header a batch may not carry.
    Unsupported,
}

impl AbandonReason {
    /// The advisory's `reason` string.
    pub fn as_str(self) -> &'static str {
        match self {
            AbandonReason::Timeout => "timeout",
            AbandonReason::Large => "large",
            AbandonReason::Incomplete => "incomplete",
            AbandonReason::Unsupported => "unsupported",
        }
    }
}

/// The uncommitted batches of one stream.
#[derive(Debug)]
pub struct BatchStager {
    batches: HashMap<String, Staging>,
    /// Staged batches dropped since the last `take_abandoned`.
    abandoned: Vec<(String, AbandonReason)>,
    limits: BatchLimits,
    /// Uncommitted batches of every stream on the server, shared by their
    /// stagers so [`BatchLimits::max_inflight_total`] holds server-wide.
    inflight: Arc<AtomicUsize>,
}

/// The batch id of a publish, if it is part of one (an empty id is not).
pub fn batch_id(publish: &Publish) -> Option<&str> {
    header_value(&publish.headers, headers::BATCH_ID).filter(|id| !id.is_empty())
}

impl BatchStager {
    /// A stager counting its batches in the server-wide `inflight`.
    pub fn new(limits: BatchLimits, inflight: Arc<AtomicUsize>) -> Self {
        BatchStager {
            batches: HashMap::new(),
            abandoned: Vec::new(),
            limits,
            inflight,
        }
    }

    /// Uncommitted batches.
    pub fn len(&self) -> usize {
        self.batches.len()
    }

    /// No uncommitted batch.
    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    /// Take `publish` (a message with a batch id) for the stream with
    /// `config` at `now`; nats-server's checks in its order.
    pub fn stage(&mut self, config: &StreamConfig, publish: Publish, now: i64) -> Staged {
        let block = publish.headers.clone();
        let header = |name: &str| header_value(&block, name);
        let Some(id) = header(headers::BATCH_ID).filter(|id| !id.is_empty()) else {
            return Staged::Refused(ApiError::atomic_publish_incomplete());
        };
        let id = id.to_string();
        if !config.allow_atomic {
            // Turned off by an update: what was staged is gone.
            self.clear();
            return Staged::Refused(ApiError::atomic_publish_disabled());
        }
        if id.len() > MAX_BATCH_ID_LEN {
            return Staged::Refused(ApiError::atomic_publish_invalid_id());
        }
        let Some(seq) = header(headers::BATCH_SEQUENCE).and_then(|s| s.parse::<u64>().ok()) else {
            return self.refuse(
                &id,
                ApiError::atomic_publish_missing_seq(),
                AbandonReason::Incomplete,
            );
        };
        if header(headers::EXPECTED_LAST_MSG_ID).is_some() {
            return self.refuse(
                &id,
                ApiError::atomic_publish_unsupported_header(headers::EXPECTED_LAST_MSG_ID),
                AbandonReason::Unsupported,
            );
        }
        if !self.batches.contains_key(&id) {
            if seq != 1 {
                return Staged::Refused(ApiError::atomic_publish_incomplete());
            }
            if self.batches.len() >= self.limits.max_inflight_per_stream
                || self.inflight.load(Ordering::Relaxed) >= self.limits.max_inflight_total
            {
                return Staged::Refused(ApiError::atomic_publish_too_many_inflight());
            }
            self.inflight.fetch_add(1, Ordering::Relaxed);
            let staging = Staging {
                messages: Vec::new(),
                last_seq: 0,
                last_activity: now,
            };
            self.batches.insert(id.clone(), staging);
        }
        let commit = match header(headers::BATCH_COMMIT) {
            None => None,
            Some("1") => Some(Commit::Store),
            Some("eob") => Some(Commit::EndOfBatch),
            Some(_) => {
                return self.refuse(
                    &id,
                    ApiError::atomic_publish_invalid_commit(),
                    AbandonReason::Incomplete,
                )
            }
        };
        let Some(staging) = self.batches.get_mut(&id) else {
            return Staged::Refused(ApiError::atomic_publish_incomplete());
        };
        if seq != staging.last_seq + 1 {
            return self.refuse(
                &id,
                ApiError::atomic_publish_incomplete(),
                AbandonReason::Incomplete,
            );
        }
        if seq > self.limits.max_size {
            let max = self.limits.max_size;
            return self.refuse(
                &id,
                ApiError::atomic_publish_too_large(max),
                AbandonReason::Large,
            );
        }
        staging.last_seq = seq;
        staging.last_activity = now;
        if commit != Some(Commit::EndOfBatch) {
            staging.messages.push(publish);
        }
        if commit.is_none() {
            return Staged::Pending;
        }
        let messages = self.remove(&id).unwrap_or_default();
        if messages.is_empty() {
            // `eob` as the first message: nothing to commit.
            return Staged::Refused(ApiError::atomic_publish_invalid_commit());
        }
        Staged::Commit(AtomicBatch { id, messages })
    }

    /// Abandon the batches idle for the timeout at `now`; their ids.
    pub fn expire(&mut self, now: i64) -> Vec<String> {
        let timeout = self.limits.timeout_nanos;
        let idle: Vec<String> = self
            .batches
            .iter()
            .filter(|(_, staging)| now.saturating_sub(staging.last_activity) >= timeout)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &idle {
            if self.remove(id).is_some() {
                self.abandoned.push((id.clone(), AbandonReason::Timeout));
            }
        }
        idle
    }

    /// The staged batches dropped (refused or timed out) since the last
    /// call, for the `BATCH_ABANDONED` advisory.
    pub fn take_abandoned(&mut self) -> Vec<(String, AbandonReason)> {
        std::mem::take(&mut self.abandoned)
    }

    /// When the next batch times out, if any is staged (ns).
    pub fn next_timeout(&self) -> Option<i64> {
        self.batches
            .values()
            .map(|staging| {
                staging
                    .last_activity
                    .saturating_add(self.limits.timeout_nanos)
            })
            .min()
    }

    /// Abandon every batch.
    pub fn clear(&mut self) {
        let ids: Vec<String> = self.batches.keys().cloned().collect();
        for id in ids {
            self.remove(&id);
        }
    }

    /// Refuse a message of batch `id`, dropping the batch if it was staged.
    fn refuse(&mut self, id: &str, error: ApiError, reason: AbandonReason) -> Staged {
        if self.remove(id).is_some() {
            self.abandoned.push((id.to_string(), reason));
        }
        Staged::Refused(error)
    }

    fn remove(&mut self, id: &str) -> Option<Vec<Publish>> {
        let staging = self.batches.remove(id)?;
        self.inflight.fetch_sub(1, Ordering::Relaxed);
        Some(staging.messages)
    }
}

impl Drop for BatchStager {
    /// A deleted stream's batches no longer count server-wide.
    fn drop(&mut self) {
        self.clear();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Commit {
    /// `1`: store the message and commit.
    Store,
    /// `eob`: commit without storing the message (2.14, API level 3).
    EndOfBatch,
}

#[cfg(test)]
#[path = "batch_tests.rs"]
mod tests;
