//! A running stream: the state machine (shared with the API readers), the
//! capture subscriptions on its subjects, and the channel to its worker.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use starling_jetstream::api::{ApiError, StreamConfig};
use starling_jetstream::stream::{Operation, Outcome, Stream};
use tokio::sync::{mpsc, oneshot};

use crate::account::Account;
use crate::client::handle::lock;
use crate::interest::{InternalMessage, InternalSubscription};
use crate::server::ServerState;

/// Work for a stream's worker from the API.
pub(super) enum Control {
    /// Apply an operation (ordered with publishes), answer after the sync.
    Apply {
        /// The operation.
        operation: Operation,
        /// Where the outcome goes.
        done: oneshot::Sender<Outcome>,
    },
    /// Finish, sync and stop (stream delete).
    Stop {
        /// Told once the worker has stopped.
        done: oneshot::Sender<()>,
    },
}

/// One stream of an account.
pub(super) struct StreamHandle {
    /// The stream name.
    pub name: String,
    /// The state machine. The worker holds it while applying a batch; API
    /// readers (info, get) hold it briefly; never held across a wait.
    pub stream: Arc<Mutex<Stream>>,
    /// To the worker, for API operations; bounded (the API waits for room).
    pub control: mpsc::Sender<Control>,
    /// Captured messages go here; kept to subscribe new subjects on update.
    capture: mpsc::Sender<InternalMessage>,
    /// The capture subscriptions (one per stream subject).
    captures: Mutex<Vec<Arc<InternalSubscription>>>,
    /// The stream directory, for a file stream.
    pub dir: Option<PathBuf>,
}

impl StreamHandle {
    /// A handle; nothing is subscribed yet.
    pub fn new(
        stream: Arc<Mutex<Stream>>,
        control: mpsc::Sender<Control>,
        capture: mpsc::Sender<InternalMessage>,
        dir: Option<PathBuf>,
    ) -> Self {
        let name = lock(&stream).name().to_string();
        StreamHandle {
            name,
            stream,
            control,
            capture,
            captures: Mutex::new(Vec::new()),
            dir,
        }
    }

    /// The config in force.
    pub fn config(&self) -> StreamConfig {
        lock(&self.stream).config().clone()
    }

    /// Capture exactly `subjects` from now on (adding and removing
    /// subscriptions as needed). Announced as local interest, so on a
    /// cluster peers would forward publishes here.
    pub fn capture_subjects(&self, server: &ServerState, account: &Account, subjects: &[String]) {
        let mut captures = lock(&self.captures);
        captures.retain(|sub| {
            let keep = subjects.iter().any(|s| **s == *sub.subject);
            if !keep {
                server.remove_internal_subscription(account, sub, true);
            }
            keep
        });
        for subject in subjects {
            if captures.iter().any(|sub| *sub.subject == **subject) {
                continue;
            }
            let sub = Arc::new(InternalSubscription::new(
                subject,
                None,
                self.capture.clone(),
            ));
            server.add_internal_subscription(account, sub.clone(), true);
            captures.push(sub);
        }
    }

    /// Stop capturing anything.
    pub fn release_subjects(&self, server: &ServerState, account: &Account) {
        self.capture_subjects(server, account, &[]);
    }

    /// Apply `operation` through the worker and wait for its outcome
    /// (after the batch's sync). Blocking: only from a blocking thread.
    pub fn apply_blocking(&self, operation: Operation) -> Result<Outcome, ApiError> {
        let gone = || ApiError::stream_general("stream is stopping");
        let (done, outcome) = oneshot::channel();
        self.control
            .blocking_send(Control::Apply { operation, done })
            .map_err(|_| gone())?;
        outcome.blocking_recv().map_err(|_| gone())
    }

    /// Stop the worker and wait until it has synced and ended. Blocking.
    pub fn stop_blocking(&self) {
        let (done, stopped) = oneshot::channel();
        if self.control.blocking_send(Control::Stop { done }).is_ok() {
            // An error means the worker already ended: stopped either way.
            let _ = stopped.blocking_recv();
        }
    }
}
