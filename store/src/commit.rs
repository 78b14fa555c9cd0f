//! Group commit: one writer thread per stream drains a queue of appends,
//! stores them all, syncs once, then answers every one of them.

use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;

use crate::config::SyncPolicy;
use crate::error::StoreError;
use crate::store::MessageStore;

/// Most appends stored under one sync: bounds the latency of the first one.
pub const MAX_BATCH: usize = 4096;

/// A message to append.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// Subject.
    pub subject: String,
    /// Raw header block, empty if none.
    pub headers: Bytes,
    /// Payload.
    pub payload: Bytes,
    /// Store time, ns since the epoch.
    pub timestamp: i64,
    /// Per-message TTL in ns.
    pub ttl_nanos: Option<i64>,
}

/// Called once per append with its sequence, after it is durable under the
/// policy (or with the error that refused it).
pub type Completion = Box<dyn FnOnce(Result<u64, StoreError>) + Send>;

struct Pending {
    message: NewMessage,
    done: Completion,
}

/// Why an append could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmitError {
    /// The bounded queue is full.
    Full,
    /// The writer thread has stopped.
    Closed,
}

/// A writer thread doing group commit for one store.
pub struct GroupCommitter {
    /// Bounded so a slow disk pushes back on publishers instead of queueing
    /// without limit.
    queue: Option<SyncSender<Pending>>,
    worker: Option<JoinHandle<()>>,
}

impl GroupCommitter {
    /// Start the writer thread. `queue_depth` bounds the appends waiting.
    /// Readers share `store` through the mutex; the writer holds it while it
    /// appends and syncs a batch.
    pub fn start<S>(
        store: Arc<Mutex<S>>,
        policy: SyncPolicy,
        queue_depth: usize,
    ) -> std::io::Result<Self>
    where
        S: MessageStore + Send + 'static,
    {
        let (queue, receiver) = mpsc::sync_channel(queue_depth.max(1));
        let worker = std::thread::Builder::new()
            .name("store-commit".into())
            .spawn(move || run(store, policy, receiver))?;
        Ok(GroupCommitter {
            queue: Some(queue),
            worker: Some(worker),
        })
    }

    /// Queue an append; `done` runs on the writer thread once it is durable.
    pub fn submit(&self, message: NewMessage, done: Completion) -> Result<(), SubmitError> {
        let queue = self.queue.as_ref().ok_or(SubmitError::Closed)?;
        match queue.try_send(Pending { message, done }) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(SubmitError::Full),
            Err(TrySendError::Disconnected(_)) => Err(SubmitError::Closed),
        }
    }

    /// Queue an append, waiting for room, and wait until it is durable.
    pub fn append(&self, message: NewMessage) -> Result<u64, StoreError> {
        let (reply, result) = mpsc::sync_channel(1);
        let done: Completion = Box::new(move |outcome| {
            // The caller may have gone; nothing to tell then.
            let _ = reply.send(outcome);
        });
        let closed = || StoreError::Io(std::io::Error::other("group committer stopped"));
        let queue = self.queue.as_ref().ok_or_else(closed)?;
        queue
            .send(Pending { message, done })
            .map_err(|_| closed())?;
        result.recv().map_err(|_| closed())?
    }

    /// Stop after the queued appends are done.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.queue = None;
        if let Some(worker) = self.worker.take() {
            if worker.join().is_err() {
                tracing::error!("store commit thread panicked");
            }
        }
    }
}

impl Drop for GroupCommitter {
    fn drop(&mut self) {
        self.stop();
    }
}

// The interval timer is wall-clock time in a plain thread: there is no
// Tokio clock here, and tests do not need to pause it.
#[allow(clippy::disallowed_types)]
fn run<S: MessageStore>(store: Arc<Mutex<S>>, policy: SyncPolicy, receiver: Receiver<Pending>) {
    let mut last_sync = std::time::Instant::now();
    let mut batch: Vec<Pending> = Vec::new();
    let mut outcomes: Vec<Result<u64, StoreError>> = Vec::new();
    loop {
        let wait = match policy {
            SyncPolicy::Always => None,
            SyncPolicy::Interval(interval) => Some(
                interval
                    .saturating_sub(last_sync.elapsed())
                    .max(Duration::from_millis(1)),
            ),
        };
        let first = match wait {
            None => receiver.recv().ok(),
            Some(timeout) => match receiver.recv_timeout(timeout) {
                Ok(pending) => Some(pending),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            },
        };
        if first.is_none() && wait.is_none() {
            break;
        }
        batch.extend(first);
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(pending) => batch.push(pending),
                Err(_) => break,
            }
        }
        let mut guard = store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for pending in &batch {
            let message = &pending.message;
            outcomes.push(guard.store_msg(
                &message.subject,
                &message.headers,
                &message.payload,
                message.timestamp,
                message.ttl_nanos,
            ));
        }
        let sync_now = match policy {
            SyncPolicy::Always => true,
            SyncPolicy::Interval(interval) => last_sync.elapsed() >= interval,
        };
        let durable = if sync_now {
            last_sync = std::time::Instant::now();
            // The fdatasyncs run with the lock released so readers go on.
            match guard.begin_sync() {
                Ok(pending) => {
                    drop(guard);
                    let outcome = pending.run();
                    let mut guard = store
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    guard.finish_sync(&outcome);
                    outcome.map(|_| ())
                }
                Err(error) => Err(error),
            }
        } else {
            let flushed = guard.flush();
            drop(guard);
            flushed
        };
        let failure = durable.err().map(|error| error.to_string());
        for (pending, outcome) in batch.drain(..).zip(outcomes.drain(..)) {
            let outcome = match (&failure, outcome) {
                (Some(why), Ok(_)) => Err(StoreError::Io(std::io::Error::other(format!(
                    "sync failed: {why}"
                )))),
                (_, outcome) => outcome,
            };
            (pending.done)(outcome);
        }
    }
    let mut guard = store
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Err(error) = guard.sync() {
        tracing::warn!(%error, "store commit thread: final sync failed");
    }
}
