//! [`Stream`]: one stream's state machine over its message store.

use bytes::Bytes;
use starling_store::{MessageStore, StoreError, StoredMsg};

use super::batch::AtomicBatch;
use super::dedup::{DedupWindow, SavedDedup};
use super::headers::{self, header_value};
use super::pub_ack::PubAck;
use super::republish::{Republished, Republisher};
use super::source::Mirrored;
use super::ttl;
use crate::api::stream::{
    MsgDeleteRequest, MsgGetRequest, PurgeRequest, StreamInfoRequest, SUBJECTS_PAGE_LIMIT,
};
use crate::api::{ApiError, StreamConfig, StreamInfo, StreamState};
use crate::subject;
use crate::time::rfc3339_nanos;
use crate::transform::SubjectTransform;

/// Largest header block a publish may carry (nats-server: 64 KiB).
pub const MAX_HEADER_SIZE: usize = 64 * 1024;

/// Most messages scanned to rebuild the duplicate window on open.
pub const MAX_DEDUP_REBUILD: u64 = 1_000_000;

/// A message published to one of the stream's subjects.
#[derive(Debug, Clone)]
pub struct Publish {
    /// Subject it was published on.
    pub subject: String,
    /// Raw header block, empty when none.
    pub headers: Bytes,
    /// Payload.
    pub payload: Bytes,
}

/// A change to the stream, applied in order.
#[derive(Debug, Clone)]
pub enum Operation {
    /// Store a message (subject to the headers' conditions).
    Publish(Publish),
    /// `STREAM.PURGE`.
    Purge(PurgeRequest),
    /// `STREAM.MSG.DELETE`.
    DeleteMsg(MsgDeleteRequest),
    /// `STREAM.UPDATE` with a normalized config (subjects already checked
    /// against the other streams).
    UpdateConfig(Box<StreamConfig>),
    /// Remove what `max_age` and the duplicate window let go at `now`.
    Expire,
    /// A message taken from a source (`Nats-Stream-Source` in its headers):
    /// stored as a publish is.
    Sourced(Publish),
    /// A message of the mirror's origin, stored at its origin sequence.
    Mirrored(Box<Mirrored>),
    /// A committed atomic batch: every message stored, or none.
    AtomicBatch(Box<AtomicBatch>),
}

/// What applying an operation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The PubAck to send (stored, duplicate or refused).
    Published(PubAck),
    /// Messages purged.
    Purged(u64),
    /// The message was deleted.
    MsgDeleted,
    /// The new config is in force.
    ConfigUpdated,
    /// Messages expired.
    Expired(u64),
    /// A non-publish operation failed.
    Failed(ApiError),
}

/// One stream: its config, store and duplicate window.
pub struct Stream {
    config: StreamConfig,
    /// Creation time, ns since the epoch.
    created: i64,
    store: Box<dyn MessageStore + Send>,
    dedup: DedupWindow,
    /// `Nats-Msg-Id` of the last stored message (empty if it had none).
    last_msg_id: String,
    /// `subject_transform`, applied to every publish.
    transform: Option<SubjectTransform>,
    /// `republish`.
    republisher: Option<Republisher>,
    /// Republished messages waiting for the batch to be durable.
    republished: Vec<Republished>,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("name", &self.config.name)
            .field("state", &self.store.state())
            .finish()
    }
}

impl Stream {
    /// A stream over `store` (new or reopened) with a normalized `config`;
    /// the duplicate window is rebuilt from the stored `Nats-Msg-Id`s
    /// newer than `now - duplicate_window`.
    pub fn open(
        config: StreamConfig,
        created: i64,
        store: Box<dyn MessageStore + Send>,
        now: i64,
    ) -> Self {
        Self::open_with_dedup(config, created, store, now, None)
    }

    /// [`Stream::open`] starting from the window saved at the last clean
    /// shutdown: only messages stored after `saved.last_seq` are read. A
    /// saved window newer than the store (it lost messages) is ignored.
    pub fn open_with_dedup(
        config: StreamConfig,
        created: i64,
        store: Box<dyn MessageStore + Send>,
        now: i64,
        saved: Option<SavedDedup>,
    ) -> Self {
        let mut stream = Stream {
            dedup: DedupWindow::new(config.duplicate_window),
            transform: ingest_transform(&config),
            republisher: Republisher::from_config(&config),
            republished: Vec::new(),
            config,
            created,
            store,
            last_msg_id: String::new(),
        };
        let saved = saved.filter(|saved| saved.last_seq <= stream.store.state().last_seq);
        let mut from = 0;
        if let Some(saved) = saved {
            for (id, seq, stored) in &saved.entries {
                stream.dedup.record(id, *seq, *stored);
            }
            stream.last_msg_id = saved.last_msg_id;
            from = saved.last_seq + 1;
        }
        stream.rebuild_dedup(now, from);
        stream
    }

    /// What [`Stream::open_with_dedup`] takes back after a restart.
    pub fn saved_dedup(&self) -> SavedDedup {
        SavedDedup {
            last_seq: self.store.state().last_seq,
            last_msg_id: self.last_msg_id.clone(),
            entries: self.dedup.entries(),
        }
    }

    /// Add the `Nats-Msg-Id`s of messages from `from_seq` on stored inside
    /// the window (at most the newest [`MAX_DEDUP_REBUILD`]), in one pass
    /// over the store.
    fn rebuild_dedup(&mut self, now: i64, from_seq: u64) {
        let state = self.store.state();
        if state.msgs == 0 || from_seq > state.last_seq {
            return;
        }
        let horizon = now.saturating_sub(self.dedup.window());
        let start = from_seq
            .max(state.first_seq)
            .max(state.last_seq.saturating_sub(MAX_DEDUP_REBUILD - 1));
        let (dedup, last_msg_id) = (&mut self.dedup, &mut self.last_msg_id);
        let last_seq = state.last_seq;
        let scanned = self
            .store
            .scan_headers(start, horizon, &mut |seq, stored, block| {
                let id = header_value(block, headers::MSG_ID).filter(|id| !id.is_empty());
                if let Some(id) = id {
                    dedup.record(id, seq, stored);
                }
                // As before a restart only when the last message is in the window.
                if seq == last_seq {
                    *last_msg_id = id.unwrap_or_default().to_string();
                }
            });
        if let Err(error) = scanned {
            tracing::warn!(stream = %self.config.name, %error, "duplicate window rebuild stopped early");
        }
    }

    /// The store failed to make the last batch durable and cut it back:
    /// forget what this stream derived from the lost messages (their
    /// `Nats-Msg-Id`s, the last msg id), so a retry is stored, not taken
    /// for a duplicate of a message that is gone.
    pub fn reload_after_store_failure(&mut self, now: i64) {
        self.dedup = DedupWindow::new(self.config.duplicate_window);
        self.last_msg_id.clear();
        self.republished.clear();
        self.rebuild_dedup(now, 0);
    }

    /// The stream's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The config in force.
    pub fn config(&self) -> &StreamConfig {
        &self.config
    }

    /// Creation time, ns since the epoch.
    pub fn created(&self) -> i64 {
        self.created
    }

    /// The store (for reads and for the caller's sync).
    pub fn store(&self) -> &dyn MessageStore {
        self.store.as_ref()
    }

    /// The store, mutably (the caller's `begin_sync`/`finish_sync`).
    pub fn store_mut(&mut self) -> &mut (dyn MessageStore + Send) {
        self.store.as_mut()
    }

    /// The messages to republish for what was stored since the last
    /// call; the caller publishes them once the batch is durable (and
    /// drops them if it is not).
    pub fn take_republished(&mut self) -> Vec<Republished> {
        std::mem::take(&mut self.republished)
    }

    /// When [`Operation::Expire`] next has work, if ever (ns).
    pub fn next_expiry(&self) -> Option<i64> {
        self.store.next_expiry()
    }

    /// Apply one operation at `now` (ns since the epoch).
    pub fn apply(&mut self, operation: Operation, now: i64) -> Outcome {
        match operation {
            Operation::Publish(publish) | Operation::Sourced(publish) => {
                Outcome::Published(self.publish(publish, now))
            }
            Operation::Mirrored(message) => Outcome::Published(self.store_mirrored(&message)),
            Operation::AtomicBatch(batch) => Outcome::Published(self.store_batch(&batch, now)),
            Operation::Purge(request) => match self.purge(&request) {
                Ok(purged) => Outcome::Purged(purged),
                Err(error) => Outcome::Failed(error),
            },
            Operation::DeleteMsg(request) => match self.delete_msg(&request) {
                Ok(()) => Outcome::MsgDeleted,
                Err(error) => Outcome::Failed(error),
            },
            Operation::UpdateConfig(config) => match self.update_config(*config) {
                Ok(()) => Outcome::ConfigUpdated,
                Err(error) => Outcome::Failed(error),
            },
            Operation::Expire => {
                self.dedup.expire(now);
                match self.expire(now) {
                    Ok(expired) => Outcome::Expired(expired),
                    Err(error) => Outcome::Failed(ApiError::stream_general(&error.to_string())),
                }
            }
        }
    }

    fn publish(&mut self, publish: Publish, now: i64) -> PubAck {
        let name = self.config.name.clone();
        match self.check_and_store(&publish, now) {
            Ok(Stored::New(seq)) => PubAck::stored(&name, seq),
            Ok(Stored::Duplicate(seq)) => PubAck::duplicate(&name, seq),
            Err(error) => PubAck::refused(&name, error),
        }
    }

    /// nats-server's order (`processJetStreamMsg`): sealed, sizes, rollup
    /// permission, duplicate, expected stream / last sequence / last msg
    /// id / last subject sequence, then store and roll up.
    fn check_and_store(&mut self, publish: &Publish, now: i64) -> Result<Stored, ApiError> {
        let checked = match self.check_publish(publish, now, None)? {
            Checked::Store(checked) => checked,
            Checked::Duplicate(seq) => return Ok(Stored::Duplicate(seq)),
        };
        let last_subject_seq = match self.republisher {
            Some(_) => self.last_subject_seq(&checked.subject),
            None => 0,
        };
        let seq = self
            .store
            .store_msg(
                &checked.subject,
                &publish.headers,
                &publish.payload,
                now,
                checked.ttl,
            )
            .map_err(|error| store_refusal(&error))?;
        self.after_store(publish, &checked, seq, now, last_subject_seq);
        self.roll_up(&checked, seq);
        Ok(Stored::New(seq))
    }

    fn purge(&mut self, request: &PurgeRequest) -> Result<u64, ApiError> {
        if self.config.sealed {
            return Err(ApiError::stream_sealed());
        }
        if self.config.deny_purge {
            return Err(ApiError::purge_failed("stream purge not permitted"));
        }
        if request.seq > 0 && request.keep > 0 {
            return Err(ApiError::bad_request(
                "can not specify both sequence and keep",
            ));
        }
        let filter = request.filter.as_deref().unwrap_or("");
        if !filter.is_empty() && !subject::is_valid_filter(filter) {
            return Err(ApiError::purge_failed("invalid subject filter"));
        }
        let everything =
            (filter.is_empty() || filter == ">") && request.seq == 0 && request.keep == 0;
        let purged = if everything {
            self.store.purge()
        } else {
            self.store.purge_ex(filter, request.seq, request.keep)
        };
        purged.map_err(|error| ApiError::purge_failed(&error.to_string()))
    }

    fn delete_msg(&mut self, request: &MsgDeleteRequest) -> Result<(), ApiError> {
        if self.config.sealed {
            return Err(ApiError::stream_sealed());
        }
        if self.config.deny_delete {
            return Err(ApiError::msg_delete_failed("message delete not permitted"));
        }
        let removed = if request.no_erase {
            self.store.remove_msg(request.seq)
        } else {
            self.store.erase_msg(request.seq)
        };
        match removed {
            Ok(true) => Ok(()),
            Ok(false) | Err(StoreError::MsgNotFound) => {
                Err(ApiError::msg_delete_failed("no message found"))
            }
            Err(error) => Err(ApiError::msg_delete_failed(&error.to_string())),
        }
    }

    fn update_config(&mut self, config: StreamConfig) -> Result<(), ApiError> {
        self.config.check_update(&config)?;
        self.store
            .update_limits(config.store_limits())
            .map_err(|error| ApiError::stream_update(&error.to_string()))?;
        self.dedup.set_window(config.duplicate_window);
        self.transform = ingest_transform(&config);
        self.republisher = Republisher::from_config(&config);
        self.config = config;
        Ok(())
    }

    /// The message a `STREAM.MSG.GET` asks for.
    pub fn get_msg(&self, request: &MsgGetRequest) -> Result<StoredMsg, ApiError> {
        let found = match (&request.last_by_subj, &request.next_by_subj) {
            (Some(_), Some(_)) => return Err(ApiError::bad_request("")),
            (Some(_), None) if request.seq > 0 => return Err(ApiError::bad_request("")),
            (Some(subject), None) => self.store.load_last_msg(subject),
            (None, Some(subject)) => self.store.load_next_msg(subject, request.seq.max(1)),
            (None, None) if request.seq > 0 => self.store.load_msg(request.seq),
            (None, None) => return Err(ApiError::bad_request("")),
        };
        found.map_err(|error| match error {
            StoreError::MsgNotFound | StoreError::Eof => ApiError::no_message_found(),
            other => ApiError::stream_general(&other.to_string()),
        })
    }

    /// `StreamInfo` at `now`, with the details `request` asks for.
    pub fn info(&self, request: &StreamInfoRequest, now: i64) -> StreamInfo {
        let mut state = StreamState::from_store(&self.store.state());
        if request.deleted_details && state.num_deleted > 0 {
            state.deleted = Some(self.store.deleted());
        }
        let mut page = None;
        if let Some(filter) = request.subjects_filter.as_deref().filter(|f| !f.is_empty()) {
            // Sorted by subject, so pages at increasing offsets never
            // repeat or skip a subject (unless the stream changes between).
            let all = self.store.subjects_state(filter);
            page = Some(all.len());
            let subjects = all
                .into_iter()
                .skip(request.offset)
                .take(SUBJECTS_PAGE_LIMIT)
                .map(|(subject, counts)| (subject, counts.msgs))
                .collect();
            state.subjects = Some(subjects);
        }
        StreamInfo {
            config: self.config.clone(),
            created: rfc3339_nanos(self.created),
            state,
            cluster: None,
            ts: rfc3339_nanos(now),
            total: page,
            offset: page.map(|_| request.offset),
            limit: page.map(|_| SUBJECTS_PAGE_LIMIT),
            mirror: None,
            sources: Vec::new(),
        }
    }
}

/// The `subject_transform` of `config`, if it changes anything.
fn ingest_transform(config: &StreamConfig) -> Option<SubjectTransform> {
    let transform = config.subject_transform.as_ref()?;
    if transform.dest.is_empty() {
        return None;
    }
    SubjectTransform::new(&transform.src, &transform.dest).ok()
}

/// What a publish did.
enum Stored {
    New(u64),
    Duplicate(u64),
}

#[derive(Clone, Copy)]
enum Rollup {
    Subject,
    All,
}

fn parse_sequence(text: &str) -> Result<u64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_request("invalid expected sequence header"))
}

/// The error PubAck for a store refusal (nats-server's wording).
fn store_refusal(error: &StoreError) -> ApiError {
    match error {
        StoreError::MaxMsgSize => ApiError::message_too_large(),
        other => ApiError::store_failed(&other.to_string()),
    }
}

#[path = "expiry.rs"]
mod expiry;

#[path = "atomic.rs"]
mod atomic;

#[path = "checks.rs"]
mod checks;

use checks::{BatchChecks, Checked, CheckedPublish};

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "feature_tests.rs"]
mod feature_tests;
