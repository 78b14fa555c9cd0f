//! A connection's outbound queue: bytes waiting for its writer task.
//!
//! Publishers on other connections append encoded messages and move on; they
//! never await this connection's socket. The writer swaps the whole buffer
//! out and writes it in one call, so a burst of messages costs one syscall.
//! The queue is capped in bytes: past `max_pending` the push fails and the
//! caller closes the connection as a slow consumer.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use bytes::BytesMut;
use tokio::sync::Notify;

/// Buffers larger than this are not kept for reuse once written, so an
/// idle connection does not hold on to the memory of a past burst.
const MAX_RETAINED_CAPACITY: usize = 256 * 1024;

/// The push would take the queue past `max_pending`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlowConsumer;

/// Bytes queued for one connection.
#[derive(Debug)]
pub struct Outbound {
    /// The pending bytes. Held only to append or to swap the buffer out;
    /// never across an await.
    buffer: Mutex<BytesMut>,
    /// Bytes queued or being written: what `max_pending` is checked against.
    pending_bytes: AtomicUsize,
    /// Wakes the writer task when bytes were queued.
    wake: Notify,
    /// Cap on `pending_bytes`.
    max_pending: AtomicUsize,
}

impl Outbound {
    /// An empty queue (no allocation until the first push).
    pub fn new(max_pending: usize) -> Self {
        Outbound {
            buffer: Mutex::new(BytesMut::new()),
            pending_bytes: AtomicUsize::new(0),
            wake: Notify::new(),
            max_pending: AtomicUsize::new(max_pending),
        }
    }

    /// Append with `encode`, which must add exactly `len` bytes. Does not wake
    /// the writer: call [`Outbound::wake`] once the batch is done.
    pub fn push_with(
        &self,
        len: usize,
        encode: impl FnOnce(&mut BytesMut),
    ) -> Result<(), SlowConsumer> {
        let pending = self.pending_bytes.load(Ordering::Relaxed);
        if pending + len > self.max_pending.load(Ordering::Relaxed) {
            return Err(SlowConsumer);
        }
        let mut buffer = self.lock();
        let before = buffer.len();
        encode(&mut buffer);
        let added = buffer.len() - before;
        drop(buffer);
        self.pending_bytes.fetch_add(added, Ordering::Relaxed);
        Ok(())
    }

    /// Append raw protocol bytes (INFO, PONG, -ERR ...) and wake the writer.
    /// Protocol replies are never refused: they are small and bounded by
    /// what the client itself sends.
    pub fn push_proto(&self, bytes: &[u8]) {
        self.lock().extend_from_slice(bytes);
        self.pending_bytes.fetch_add(bytes.len(), Ordering::Relaxed);
        self.wake.notify_one();
    }

    /// Wake the writer task.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Wait until woken (cancel-safe: a wake-up before the wait is kept as a permit).
    pub async fn woken(&self) {
        self.wake.notified().await
    }

    /// Swap the queued bytes out into `spare` (which must be empty) and return
    /// them; the queue keeps `spare`'s allocation for the next appends.
    pub fn take(&self, spare: BytesMut) -> BytesMut {
        let mut buffer = self.lock();
        std::mem::replace(&mut *buffer, spare)
    }

    /// The writer finished writing `written` bytes of a taken batch; returns
    /// the emptied buffer for reuse when it is not too large.
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

    /// Change the cap (config reload).
    pub fn set_max_pending(&self, max_pending: usize) {
        self.max_pending.store(max_pending, Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BytesMut> {
        // A panic while holding this lock cannot leave the buffer invalid
        // (appends are whole or absent from the reader's point of view), so
        // poisoning is ignored.
        self.buffer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_past_max_pending_is_refused_and_writing_frees_room() {
        let outbound = Outbound::new(10);
        assert_eq!(
            outbound.push_with(6, |b| b.extend_from_slice(b"123456")),
            Ok(())
        );
        assert_eq!(
            outbound.push_with(6, |b| b.extend_from_slice(b"123456")),
            Err(SlowConsumer)
        );
        let batch = outbound.take(BytesMut::new());
        assert_eq!(&batch[..], b"123456");
        assert_eq!(outbound.pending_bytes(), 6, "in flight still counts");
        let spare = outbound.written(batch);
        assert!(spare.is_empty());
        assert_eq!(outbound.pending_bytes(), 0);
        assert_eq!(
            outbound.push_with(6, |b| b.extend_from_slice(b"abcdef")),
            Ok(())
        );
    }
}
