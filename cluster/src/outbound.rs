//! A connection's outbound queue: encoded bytes waiting for its writer
//! task. Routes use it here, and the broker uses the same queue for client
//! connections.
//!
//! Publishers append and move on; they never await the connection's socket.
//! The writer swaps the whole buffer out and writes it in one call. Messages
//! are capped by `max_pending` bytes (past it the caller treats the
//! connection as a slow consumer); control bytes (PONG, INFO, -ERR; route
//! Pong, Members, Interest, Close) are never refused: they are small and
//! bounded by what the other side itself sends, and refusing an interest
//! frame would desynchronise the peer's view.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use bytes::BytesMut;
use tokio::sync::Notify;

use crate::limits::MAX_RETAINED_CAPACITY;

/// The push would take the queue past `max_pending`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

/// Bytes queued for one route.
#[derive(Debug)]
pub struct Outbound {
    /// The pending bytes. Held only to append or to swap the buffer out;
    /// never across an await.
    buffer: Mutex<BytesMut>,
    /// Bytes queued or being written: what `max_pending` is checked against.
    pending_bytes: AtomicUsize,
    /// Wakes the writer task when bytes were queued.
    wake: Notify,
    /// Cap on `pending_bytes` for messages.
    max_pending: usize,
}

impl Outbound {
    /// An empty queue (no allocation until the first push).
    pub fn new(max_pending: usize) -> Self {
        Outbound {
            buffer: Mutex::new(BytesMut::new()),
            pending_bytes: AtomicUsize::new(0),
            wake: Notify::new(),
            max_pending,
        }
    }

    /// Append `len` bytes written by `encode` (which must write exactly
    /// `len`), unless that would pass `max_pending`. Does not wake the writer.
    pub fn push_with(&self, len: usize, encode: impl FnOnce(&mut BytesMut)) -> Result<(), Full> {
        if self.pending_bytes.load(Ordering::Relaxed) + len > self.max_pending {
            return Err(Full);
        }
        let mut buffer = self.lock();
        let before = buffer.len();
        encode(&mut buffer);
        let added = buffer.len() - before;
        drop(buffer);
        self.pending_bytes.fetch_add(added, Ordering::Relaxed);
        Ok(())
    }

    /// Append a control frame with `encode` regardless of the cap, and wake
    /// the writer.
    pub fn push_control(&self, encode: impl FnOnce(&mut BytesMut)) {
        let mut buffer = self.lock();
        let before = buffer.len();
        encode(&mut buffer);
        let added = buffer.len() - before;
        drop(buffer);
        self.pending_bytes.fetch_add(added, Ordering::Relaxed);
        self.wake.notify_one();
    }

    /// Append control bytes regardless of the cap, and wake the writer.
    pub fn push_control_bytes(&self, bytes: &[u8]) {
        self.push_control(|buffer| buffer.extend_from_slice(bytes));
    }

    /// Wake the writer task.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Wait until woken. Cancel-safe: a wake-up that comes before the wait
    /// is kept as a permit.
    pub async fn woken(&self) {
        self.wake.notified().await
    }

    /// Swap the queued bytes out for `spare` (empty) and return them.
    pub fn take(&self, spare: BytesMut) -> BytesMut {
        std::mem::replace(&mut *self.lock(), spare)
    }

    /// A taken batch was written; returns the emptied buffer for reuse
    /// unless it grew too large.
    pub fn written(&self, mut batch: BytesMut) -> BytesMut {
        self.pending_bytes.fetch_sub(batch.len(), Ordering::Relaxed);
        if batch.capacity() > MAX_RETAINED_CAPACITY {
            return BytesMut::new();
        }
        batch.clear();
        batch
    }

    /// Bytes queued or in flight.
    pub fn pending_bytes(&self) -> usize {
        self.pending_bytes.load(Ordering::Relaxed)
    }

    /// The cap on queued message bytes.
    pub fn max_pending(&self) -> usize {
        self.max_pending
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BytesMut> {
        // Appends are whole or absent, so a panic elsewhere cannot leave the
        // buffer half-written: poisoning is ignored.
        self.buffer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_past_max_pending_are_refused_but_control_frames_are_not() {
        let outbound = Outbound::new(10);
        assert_eq!(
            outbound.push_with(6, |b| b.extend_from_slice(b"123456")),
            Ok(())
        );
        assert_eq!(
            outbound.push_with(6, |b| b.extend_from_slice(b"abcdef")),
            Err(Full)
        );
        outbound.push_control(|b| b.extend_from_slice(b"PINGPONG"));
        assert_eq!(outbound.pending_bytes(), 14);
        let batch = outbound.take(BytesMut::new());
        assert_eq!(&batch[..], b"123456PINGPONG");
        assert_eq!(outbound.pending_bytes(), 14, "in flight still counts");
        let spare = outbound.written(batch);
        assert!(spare.is_empty());
        assert_eq!(outbound.pending_bytes(), 0);
    }
}
