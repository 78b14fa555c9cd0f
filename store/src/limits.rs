//! Stream limits: admission on store, what to drop when over a limit, and
//! which messages a purge selects. Pure functions over the index, shared by
//! both stores so they cannot disagree.

use crate::config::{DiscardPolicy, StoreLimits};
use crate::error::StoreError;
use crate::index::Index;
use crate::record::MAX_SEQ;

/// Refuse a `next_seq` (of `compact`, `skip_msgs`, a new store's
/// `first_seq`) that would make the last sequence pass [`MAX_SEQ`].
pub(crate) fn check_next_seq(next_seq: u64) -> Result<(), StoreError> {
    if next_seq > MAX_SEQ + 1 {
        return Err(StoreError::SequenceExhausted);
    }
    Ok(())
}

/// Bytes a message counts for in `max_bytes` and `StreamState::bytes`:
/// nats-server's file store formula (22-byte header, 4-byte header length
/// when there are headers, 8-byte hash) so limits mean what they mean there.
pub fn stored_size(subject: &str, headers: &[u8], payload: &[u8]) -> u64 {
    let header_len = if headers.is_empty() {
        0
    } else {
        4 + headers.len()
    };
    (22 + subject.len() + header_len + payload.len() + 8) as u64
}

/// Refuse a message the limits do not admit (the sequence limit and
/// `max_msg_size` always; `max_msgs`/`max_bytes`/per-subject with
/// `discard: new`).
pub(crate) fn check_admission<L>(
    index: &Index<L>,
    limits: &StoreLimits,
    subject: &str,
    headers: &[u8],
    payload: &[u8],
) -> Result<(), StoreError> {
    if index.last_seq() >= MAX_SEQ {
        return Err(StoreError::SequenceExhausted);
    }
    if limits.max_msg_size > 0 && (headers.len() + payload.len()) as u64 > limits.max_msg_size {
        return Err(StoreError::MaxMsgSize);
    }
    if limits.discard != DiscardPolicy::New {
        return Ok(());
    }
    if limits.discard_new_per_subject && limits.max_msgs_per_subject > 0 {
        let held = index
            .subjects
            .lookup(subject)
            .and_then(|id| index.subjects.seqs(id))
            .map_or(0, |seqs| seqs.len() as u64);
        if held >= limits.max_msgs_per_subject {
            return Err(StoreError::MaxMsgsPerSubject);
        }
    }
    if limits.max_msgs > 0 && index.len() >= limits.max_msgs {
        return Err(StoreError::MaxMsgs);
    }
    if limits.max_bytes > 0
        && index.bytes() + stored_size(subject, headers, payload) > limits.max_bytes
    {
        return Err(StoreError::MaxBytes);
    }
    Ok(())
}

/// The next message to drop because a limit is exceeded after storing on
/// `subject` (its per-subject limit first, then the stream totals), or None.
pub(crate) fn next_over_limit<L>(
    index: &Index<L>,
    limits: &StoreLimits,
    subject: Option<&str>,
) -> Option<u64> {
    if limits.max_msgs_per_subject > 0 {
        let seqs = subject
            .and_then(|name| index.subjects.lookup(name))
            .and_then(|id| index.subjects.seqs(id));
        if let Some(seqs) = seqs {
            if seqs.len() as u64 > limits.max_msgs_per_subject {
                return seqs.iter().next().copied();
            }
        }
    }
    let over_msgs = limits.max_msgs > 0 && index.len() > limits.max_msgs;
    let over_bytes = limits.max_bytes > 0 && index.bytes() > limits.max_bytes;
    if over_msgs || over_bytes {
        return index.msgs.first_key();
    }
    None
}

/// Every message over the per-subject limit, oldest of each subject first
/// (used when limits change).
pub(crate) fn per_subject_excess<L>(index: &Index<L>, limits: &StoreLimits) -> Vec<u64> {
    if limits.max_msgs_per_subject == 0 {
        return Vec::new();
    }
    let max = limits.max_msgs_per_subject as usize;
    let mut excess = Vec::new();
    for id in index.subjects.matching(">") {
        if let Some(seqs) = index.subjects.seqs(id) {
            if seqs.len() > max {
                excess.extend(seqs.iter().take(seqs.len() - max).copied());
            }
        }
    }
    excess.sort_unstable();
    excess
}

/// The messages `purge_ex(filter, up_to_seq, keep)` removes.
pub(crate) fn purge_selection<L>(
    index: &Index<L>,
    filter: &str,
    up_to_seq: u64,
    keep: u64,
) -> Vec<u64> {
    let mut seqs = index.matching_seqs(filter, 0);
    if keep > 0 {
        let kept = (keep as usize).min(seqs.len());
        seqs.truncate(seqs.len() - kept);
    }
    if up_to_seq > 0 {
        seqs.retain(|seq| *seq < up_to_seq);
    }
    seqs
}
