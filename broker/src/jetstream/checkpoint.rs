//! When a file stream's worker writes the store's index snapshot (and the
//! duplicate window) while running, not only at a clean shutdown: after a
//! SIGKILL, recovery adopts the newest snapshot and scans only the records
//! stored after it, so a crash costs a bounded rescan instead of reading
//! the whole stream.
//!
//! The rule: a snapshot is due once the stream has stored at least as many
//! new messages as the last snapshot held (and at least [`MIN_NEW`]), so
//! snapshot writes cost O(1) per stored message (each one is paid for by as
//! many new messages as it writes) and the rescan after a crash is at most
//! about the snapshot's own size; or once [`MAX_AGE`] has passed with any
//! change, so a quiet stream's snapshot does not stay stale.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use starling_jetstream::stream::Stream;
use starling_store::StreamState;
use tokio::time::Instant;

use crate::client::handle::lock;

/// New messages below which no snapshot is written for their count alone.
pub(super) const MIN_NEW: u64 = 100_000;
/// A changed stream's snapshot is at most this old.
pub(super) const MAX_AGE: Duration = Duration::from_secs(120);

/// What the last snapshot covered.
#[derive(Debug)]
pub(super) struct CheckpointClock {
    last_seq: u64,
    msgs: u64,
    first_seq: u64,
    at: Instant,
    /// [`MIN_NEW`] (smaller in tests).
    min_new: u64,
}

impl CheckpointClock {
    /// A clock for a store opened with `state` at `now` (what it holds was
    /// just recovered, so it counts as covered).
    pub(super) fn new(state: &StreamState, now: Instant, min_new: u64) -> Self {
        CheckpointClock {
            last_seq: state.last_seq,
            msgs: state.msgs,
            first_seq: state.first_seq,
            at: now,
            min_new,
        }
    }

    /// Whether a snapshot of a store in `state` is due at `now`.
    pub(super) fn due(&self, state: &StreamState, now: Instant) -> bool {
        let new = state.last_seq.saturating_sub(self.last_seq);
        if new >= self.min_new.max(self.msgs) {
            return true;
        }
        let changed = new > 0 || state.first_seq != self.first_seq || state.msgs != self.msgs;
        changed && now.duration_since(self.at) >= MAX_AGE
    }

    /// A snapshot of `state` was written at `now`.
    pub(super) fn written(&mut self, state: &StreamState, now: Instant) {
        *self = CheckpointClock::new(state, now, self.min_new);
    }
}

/// Write the index snapshot and the duplicate window (into `dir`) when
/// `clock` says a store in `state` is due. Called by the worker after a
/// batch's answers went out, with the state it read anyway, so a batch
/// that is not due takes no further lock of the stream. A failure is
/// logged: only a restart after a crash is slower. Lock order: the clock
/// (only the worker's batch takes it), then the stream.
pub(super) fn checkpoint_if_due(
    clock: &Mutex<CheckpointClock>,
    state: &StreamState,
    stream: &Mutex<Stream>,
    dir: Option<&Path>,
) {
    let mut clock = lock(clock);
    let now = Instant::now();
    if !clock.due(state, now) {
        return;
    }
    let mut stream = lock(stream);
    let name = stream.name().to_string();
    if let Err(error) = stream.store_mut().checkpoint() {
        tracing::warn!(stream = %name, %error, "stream: index snapshot failed");
    } else if let Some(dir) = dir {
        if let Err(error) = super::persist::write_dedup(dir, &stream.saved_dedup()) {
            tracing::warn!(stream = %name, %error, "duplicate window not saved");
        }
    }
    // Written or not, wait for the next due point (no retry loop).
    clock.written(&stream.store().state(), now);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(last_seq: u64, msgs: u64) -> StreamState {
        StreamState {
            msgs,
            last_seq,
            first_seq: last_seq + 1 - msgs,
            ..StreamState::default()
        }
    }

    #[test]
    fn due_after_as_many_new_messages_as_the_snapshot_held() {
        let now = Instant::now();
        let mut clock = CheckpointClock::new(&state(0, 0), now, MIN_NEW);
        assert!(!clock.due(&state(MIN_NEW - 1, MIN_NEW - 1), now));
        assert!(clock.due(&state(MIN_NEW, MIN_NEW), now));
        clock.written(&state(300_000, 300_000), now);
        assert!(!clock.due(&state(599_999, 599_999), now));
        assert!(clock.due(&state(600_000, 600_000), now));
    }

    #[test]
    fn a_changed_stream_is_due_after_max_age_and_an_unchanged_one_never() {
        let now = Instant::now();
        let clock = CheckpointClock::new(&state(10, 10), now, MIN_NEW);
        let later = now + MAX_AGE;
        assert!(!clock.due(&state(10, 10), later));
        assert!(!clock.due(&state(11, 11), now));
        assert!(clock.due(&state(11, 11), later));
        // Removals change the stream too.
        assert!(clock.due(&state(10, 4), later));
    }
}
