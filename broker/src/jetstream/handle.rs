//! A running stream: the state machine (shared with the API readers), the
//! capture subscriptions on its subjects, and the channel to its worker.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use starling_jetstream::api::{ApiError, StreamConfig};
use starling_jetstream::stream::{Operation, Outcome, Stream};
use tokio::sync::{mpsc, oneshot};

use starling_jetstream::api::consumer::ConsumerInfo;
use starling_jetstream::consumer::Outbound;

use super::consumers::ConsumerSet;
use super::publish::publish_with_headers;
use super::source::SourceLinks;
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
    /// The consumers changed (created, updated): run a consumer pass.
    Wake,
    /// A consumer's info, answered after the batch's consumer pass, so
    /// acks that arrived before the request are counted.
    ConsumerInfo {
        /// The consumer.
        name: String,
        /// `None` if there is no such consumer.
        done: oneshot::Sender<Option<ConsumerInfo>>,
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
    /// The stream's consumers (lock order: `stream` first).
    pub consumers: Arc<Mutex<ConsumerSet>>,
    /// Pull requests, acks and flow control replies for the consumers go
    /// to the worker through here.
    pub consumer_inbox: mpsc::Sender<InternalMessage>,
    /// The `$JS.ACK.<stream>.>` and `$JS.FC.<stream>.>` subscriptions.
    consumer_subscriptions: Mutex<Vec<Arc<InternalSubscription>>>,
    /// Its mirror or sources, and the streams taking from it.
    pub sources: Arc<SourceLinks>,
}

impl StreamHandle {
    /// A handle; nothing is subscribed yet.
    pub fn new(
        stream: Arc<Mutex<Stream>>,
        control: mpsc::Sender<Control>,
        capture: mpsc::Sender<InternalMessage>,
        dir: Option<PathBuf>,
        consumers: Arc<Mutex<ConsumerSet>>,
        consumer_inbox: mpsc::Sender<InternalMessage>,
        sources: Arc<SourceLinks>,
    ) -> Self {
        let name = lock(&stream).name().to_string();
        StreamHandle {
            name,
            stream,
            control,
            capture,
            captures: Mutex::new(Vec::new()),
            dir,
            consumers,
            consumer_inbox,
            consumer_subscriptions: Mutex::new(Vec::new()),
            sources,
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

    /// Receive the acks and flow control replies of the stream's consumers.
    pub fn subscribe_consumer_subjects(&self, server: &ServerState, account: &Account) {
        let mut subscriptions = lock(&self.consumer_subscriptions);
        for prefix in ["$JS.ACK", "$JS.FC"] {
            let subject = format!("{prefix}.{}.>", self.name);
            let sub = Arc::new(InternalSubscription::new(
                &subject,
                None,
                self.consumer_inbox.clone(),
            ));
            server.add_internal_subscription(account, sub.clone(), true);
            subscriptions.push(sub);
        }
    }

    /// Drop every consumer subscription (stream delete); waiting pull
    /// requests are told `409 Consumer Deleted`. Returns the names of the
    /// consumers dropped.
    pub fn release_consumers(&self, server: &ServerState, account: &Account) -> Vec<String> {
        for sub in lock(&self.consumer_subscriptions).drain(..) {
            server.remove_internal_subscription(account, &sub, true);
        }
        let entries = std::mem::take(&mut lock(&self.consumers).entries);
        let names = entries.keys().cloned().collect();
        for (_, mut entry) in entries {
            for sub in entry.subscriptions.drain(..) {
                server.remove_internal_subscription(account, &sub, true);
            }
            for outbound in entry.consumer.close() {
                if let Outbound::Status { to, headers } = outbound {
                    publish_with_headers(server, account, &to, &headers, b"");
                }
            }
        }
        names
    }

    /// Ask the worker for a consumer pass (never waits: a full channel
    /// means the worker is busy and makes a pass anyway).
    pub fn wake(&self) {
        let _ = self.control.try_send(Control::Wake);
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

    /// The info of consumer `name` from the worker (see
    /// [`Control::ConsumerInfo`]). Blocking: only from a blocking thread.
    pub fn consumer_info_blocking(&self, name: &str) -> Result<Option<ConsumerInfo>, ApiError> {
        let gone = || ApiError::stream_general("stream is stopping");
        let (done, info) = oneshot::channel();
        self.control
            .blocking_send(Control::ConsumerInfo {
                name: name.to_string(),
                done,
            })
            .map_err(|_| gone())?;
        info.blocking_recv().map_err(|_| gone())
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
