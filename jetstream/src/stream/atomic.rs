//! [`Operation::AtomicBatch`](super::Operation::AtomicBatch): a committed
//! batch is stored whole or not at all.
//!
//! Every message is checked first against the stream as it was before
//! the batch, with nats-server's batch rules
//! (`checkMsgHeadersPreClusteredProposal` in
//! `server/jetstream_batching.go`): only the first message may expect a
//! last sequence, a subject the batch already wrote cannot be expected or
//! rolled up, `Nats-Rollup: all` only on the first message, no
//! `Nats-Msg-Id` twice nor one in the duplicate window, and `discard: new`
//! limits counted with the whole batch. Only then are the messages
//! stored; should the store still refuse one (an I/O error), the stream
//! is truncated back to where it was before the batch.

use std::collections::HashMap;

use starling_store::{stored_size, StoreError};

use super::{store_refusal, AtomicBatch, BatchChecks, Checked, CheckedPublish, Stream};
use crate::api::stream_config::DiscardPolicy;
use crate::api::ApiError;
use crate::stream::PubAck;

impl Stream {
    /// Apply a committed batch: its PubAck names the batch, its size and
    /// the last sequence.
    pub(super) fn store_batch(&mut self, batch: &AtomicBatch, now: i64) -> PubAck {
        let name = self.config.name.clone();
        match self.try_store_batch(batch, now) {
            Ok(seq) => PubAck::batch(&name, seq, &batch.id, batch.messages.len() as u64),
            Err(error) => PubAck::refused(&name, error),
        }
    }

    fn try_store_batch(&mut self, batch: &AtomicBatch, now: i64) -> Result<u64, ApiError> {
        if batch.messages.is_empty() {
            return Err(ApiError::atomic_publish_invalid_commit());
        }
        let mut checks = BatchChecks::default();
        let mut checked = Vec::with_capacity(batch.messages.len());
        for publish in &batch.messages {
            match self.check_publish(publish, now, Some(&mut checks))? {
                Checked::Store(one) => checked.push(one),
                // Not returned for a batch; refused all the same.
                Checked::Duplicate(_) => return Err(ApiError::atomic_publish_duplicate_msg_id()),
            }
        }
        self.check_batch_limits(batch, &checked)?;
        // Each subject's last sequence before the batch, for `republish`.
        let mut last_on_subject: HashMap<&str, u64> = HashMap::new();
        if self.republisher.is_some() {
            for one in &checked {
                if !last_on_subject.contains_key(one.subject.as_str()) {
                    let last = self.last_subject_seq(&one.subject);
                    last_on_subject.insert(&one.subject, last);
                }
            }
        }
        let before = self.store.state().last_seq;
        let mut seqs = Vec::with_capacity(checked.len());
        for (publish, one) in batch.messages.iter().zip(&checked) {
            let stored = self.store.store_msg(
                &one.subject,
                &publish.headers,
                &publish.payload,
                now,
                one.ttl,
            );
            match stored {
                Ok(seq) => seqs.push(seq),
                Err(error) => {
                    if let Err(undo) = self.store.truncate(before) {
                        tracing::error!(stream = %self.config.name, %undo, "could not undo a refused batch");
                    }
                    return Err(store_refusal(&error));
                }
            }
        }
        // The batch is in: now what follows from each message, in order.
        for ((publish, one), &seq) in batch.messages.iter().zip(&checked).zip(&seqs) {
            let last_subject_seq = last_on_subject.insert(&one.subject, seq).unwrap_or(0);
            self.after_store(publish, one, seq, now, last_subject_seq);
        }
        for (one, &seq) in checked.iter().zip(&seqs) {
            self.roll_up(one, seq);
        }
        Ok(seqs.last().copied().unwrap_or(before))
    }

    /// `discard: new` refuses a batch the limits cannot take whole, before
    /// anything of it is stored (nats-server counts the batch inflight).
    fn check_batch_limits(
        &self,
        batch: &AtomicBatch,
        checked: &[CheckedPublish],
    ) -> Result<(), ApiError> {
        if self.config.discard != DiscardPolicy::New {
            return Ok(());
        }
        let state = self.store.state();
        let count = batch.messages.len() as u64;
        let max_msgs = self.config.max_msgs;
        if max_msgs > 0 && state.msgs + count > max_msgs as u64 {
            return Err(store_refusal(&StoreError::MaxMsgs));
        }
        let max_bytes = self.config.max_bytes;
        if max_bytes > 0 {
            let size: u64 = batch
                .messages
                .iter()
                .zip(checked)
                .map(|(publish, one)| stored_size(&one.subject, &publish.headers, &publish.payload))
                .sum();
            if state.bytes + size > max_bytes as u64 {
                return Err(store_refusal(&StoreError::MaxBytes));
            }
        }
        let per_subject = self.config.max_msgs_per_subject;
        if self.config.discard_new_per_subject && per_subject > 0 {
            let mut in_batch: HashMap<&str, u64> = HashMap::new();
            for one in checked {
                *in_batch.entry(one.subject.as_str()).or_default() += 1;
            }
            for (subject, added) in in_batch {
                let held = self.store.filtered_state(subject, 0).msgs;
                if held + added > per_subject as u64 {
                    return Err(store_refusal(&StoreError::MaxMsgsPerSubject));
                }
            }
        }
        Ok(())
    }
}
