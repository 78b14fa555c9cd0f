//! The checks of a publish before it is stored (`Stream::check_publish`,
//! nats-server's order in `processJetStreamMsg`, with the atomic batch
//! rules of `checkMsgHeadersPreClusteredProposal`), and what follows a
//! store (republish, duplicate window, rollups).

use starling_store::StoreError;

use super::{headers, parse_sequence, ttl, Publish, Rollup, Stream, MAX_HEADER_SIZE};
use crate::api::ApiError;
use crate::stream::headers::header_value;
use crate::stream::republish::StoredInfo;

/// A publish that passed its checks.
pub(super) struct CheckedPublish {
    /// After `subject_transform`.
    pub(super) subject: String,
    pub(super) ttl: Option<i64>,
    pub(super) rollup: Option<Rollup>,
    pub(super) msg_id: Option<String>,
}

/// What the checks of a publish decided.
pub(super) enum Checked {
    Store(CheckedPublish),
    /// A duplicate of the message at this sequence (not in a batch).
    Duplicate(u64),
}

/// What the earlier messages of an atomic batch did, for the checks of
/// the next one.
#[derive(Default)]
pub(super) struct BatchChecks {
    /// Subjects written (after the transform).
    pub(super) subjects: std::collections::HashSet<String>,
    /// `Nats-Msg-Id`s used.
    pub(super) msg_ids: std::collections::HashSet<String>,
}

impl Stream {
    /// Every check of a publish, storing nothing. `batch` is the atomic
    /// batch it belongs to (what the batch's earlier messages did).
    pub(super) fn check_publish(
        &mut self,
        publish: &Publish,
        now: i64,
        mut batch: Option<&mut BatchChecks>,
    ) -> Result<Checked, ApiError> {
        let subject = match self
            .transform
            .as_ref()
            .and_then(|t| t.apply(&publish.subject))
        {
            Some(transformed) => transformed,
            None => publish.subject.clone(),
        };
        if self.config.sealed {
            return Err(ApiError::stream_sealed());
        }
        let block = &publish.headers[..];
        if block.len() > MAX_HEADER_SIZE {
            return Err(ApiError::header_too_large());
        }
        if self.config.max_msg_size >= 0
            && block.len() + publish.payload.len() > self.config.max_msg_size as usize
        {
            return Err(ApiError::message_too_large());
        }
        let header = |name: &str| header_value(block, name);
        let rollup = match header(headers::ROLLUP) {
            None => None,
            Some(_) if !self.config.allow_rollup_hdrs || self.config.deny_purge => {
                return Err(ApiError::rollup_failed("rollup not permitted"));
            }
            Some(value) if value.eq_ignore_ascii_case("sub") => Some(Rollup::Subject),
            Some(value) if value.eq_ignore_ascii_case("all") => Some(Rollup::All),
            Some(value) => {
                return Err(ApiError::rollup_failed(&format!(
                    "rollup value invalid: {value:?}"
                )))
            }
        };
        // nats-server (measured): an unreadable TTL is 10165 even where
        // TTLs are disabled; an empty value is no TTL.
        let ttl = match header(headers::TTL).filter(|value| !value.is_empty()) {
            None => None,
            Some(value) => match ttl::parse(value) {
                None => return Err(ApiError::msg_ttl_invalid()),
                Some(_) if !self.config.allow_msg_ttl => return Err(ApiError::msg_ttl_disabled()),
                Some(nanos) => Some(nanos),
            },
        };
        self.dedup.expire(now);
        let msg_id = header(headers::MSG_ID).filter(|id| !id.is_empty());
        if let Some(id) = msg_id {
            let stored = self.dedup.lookup(id);
            match batch.as_deref_mut() {
                // A batch is refused whole for a duplicate (10201).
                Some(batch) => {
                    if stored.is_some() || !batch.msg_ids.insert(id.to_string()) {
                        return Err(ApiError::atomic_publish_duplicate_msg_id());
                    }
                }
                None => {
                    if let Some(seq) = stored {
                        return Ok(Checked::Duplicate(seq));
                    }
                }
            }
        }
        if let Some(expected) = header(headers::EXPECTED_STREAM) {
            if !expected.is_empty() && expected != self.config.name {
                return Err(ApiError::expected_stream_mismatch());
            }
        }
        // In a batch nothing is stored before every message is checked, so
        // the store shows the stream as it was before the batch.
        let state = self.store.state();
        if let Some(expected) = header(headers::EXPECTED_LAST_SEQUENCE) {
            if parse_sequence(expected)? != state.last_seq {
                return Err(ApiError::wrong_last_sequence(state.last_seq));
            }
            // Only the first message of a batch may expect a last sequence.
            if batch
                .as_ref()
                .is_some_and(|batch| !batch.subjects.is_empty())
            {
                return Err(ApiError::wrong_last_sequence_constant());
            }
        }
        if let Some(expected) = header(headers::EXPECTED_LAST_MSG_ID) {
            if batch.is_some() {
                return Err(ApiError::atomic_publish_unsupported_header(
                    headers::EXPECTED_LAST_MSG_ID,
                ));
            }
            if expected != self.last_msg_id {
                return Err(ApiError::wrong_last_msg_id(&self.last_msg_id));
            }
        }
        if let Some(expected) = header(headers::EXPECTED_LAST_SUBJECT_SEQUENCE) {
            let expected = parse_sequence(expected)?;
            let on = header(headers::EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT)
                .filter(|s| !s.is_empty())
                .unwrap_or(&subject);
            // A subject the batch already wrote cannot be checked.
            if batch
                .as_ref()
                .is_some_and(|batch| batch.subjects.contains(on))
            {
                return Err(ApiError::wrong_last_sequence_constant());
            }
            let last = match self.store.load_last_msg(on) {
                Ok(message) => message.seq,
                Err(StoreError::MsgNotFound | StoreError::Eof) => 0,
                Err(error) => return Err(ApiError::stream_general(&error.to_string())),
            };
            if expected != last {
                return Err(ApiError::wrong_last_sequence(last));
            }
        }
        if let Some(batch) = batch {
            match rollup {
                Some(Rollup::Subject) if batch.subjects.contains(&subject) => {
                    return Err(ApiError::rollup_failed("batch rollup sub invalid"));
                }
                Some(Rollup::All) if !batch.subjects.is_empty() => {
                    return Err(ApiError::rollup_failed("batch rollup all invalid"));
                }
                _ => {}
            }
            batch.subjects.insert(subject.clone());
        }
        Ok(Checked::Store(CheckedPublish {
            subject,
            ttl,
            rollup,
            msg_id: msg_id.map(str::to_string),
        }))
    }

    /// What storing `publish` at `seq` changes besides the store: the
    /// republished copy, the duplicate window, the last msg id.
    pub(super) fn after_store(
        &mut self,
        publish: &Publish,
        checked: &CheckedPublish,
        seq: u64,
        now: i64,
        last_subject_seq: u64,
    ) {
        self.republish(&StoredInfo {
            subject: &checked.subject,
            headers: &publish.headers,
            payload: &publish.payload,
            seq,
            timestamp: now,
            last_subject_seq,
        });
        if let Some(id) = &checked.msg_id {
            self.dedup.record(id, seq, now);
        }
        self.last_msg_id = checked.msg_id.clone().unwrap_or_default();
    }

    /// `Nats-Rollup` of the message stored at `seq`.
    pub(super) fn roll_up(&mut self, checked: &CheckedPublish, seq: u64) {
        let rolled = match checked.rollup {
            Some(Rollup::Subject) => self.store.purge_ex(&checked.subject, seq, 0),
            Some(Rollup::All) => self.store.purge_ex("", seq, 0),
            None => Ok(0),
        };
        if let Err(error) = rolled {
            tracing::warn!(stream = %self.config.name, %error, "rollup failed after store");
        }
    }
}
