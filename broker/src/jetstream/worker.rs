//! The worker of one stream: a task that takes everything queued for the
//! stream (captured publishes, API operations, expiry), applies it in
//! order on a blocking thread, makes the batch durable with one sync
//! (group commit), and only then sends the PubAcks and outcomes. A
//! failed sync turns every answer of the batch into an error.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use starling_jetstream::api::consumer::ConsumerInfo;
use starling_jetstream::api::{ApiError, RetentionPolicy};
use starling_jetstream::stream::batch::batch_id;
use starling_jetstream::stream::{
    AbandonReason, BatchStager, Operation, Outcome, PubAck, Publish, Republished, Staged, Stream,
};
use starling_store::{stored_size, MAX_BATCH};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::advisory::Advisories;
use super::checkpoint::{self, CheckpointClock};
use super::consumer_pass::{self, NextPass, PassContext};
use super::consumers::ConsumerSet;
use super::handle::Control;
use super::limits::StreamGate;
use super::publish::{now_nanos, publish, publish_with_headers};
use super::source::{self, Applied, Sourcing, Taken};
use super::stats::SyncHistogram;
use crate::account::Account;
use crate::client::handle::lock;
use crate::interest::InternalMessage;
use crate::server::ServerState;

/// One queued piece of work.
enum Job {
    Publish(InternalMessage),
    Apply {
        operation: Operation,
        done: oneshot::Sender<Outcome>,
    },
    Expire,
    /// Abandon the atomic batches idle for too long.
    ExpireBatches,
    /// A pull request, ack or flow control reply for a consumer.
    Consumer(InternalMessage),
    /// Consumer timers are due, or consumers changed.
    Wake,
    /// What the stream's mirror or sources took for this batch.
    Sourced(Taken),
    /// A consumer's info, after the pass.
    ConsumerInfo {
        name: String,
        done: oneshot::Sender<Option<ConsumerInfo>>,
    },
    Stop(oneshot::Sender<()>),
}

impl From<Control> for Job {
    fn from(control: Control) -> Self {
        match control {
            Control::Apply { operation, done } => Job::Apply { operation, done },
            Control::Wake => Job::Wake,
            Control::ConsumerInfo { name, done } => Job::ConsumerInfo { name, done },
            Control::Stop { done } => Job::Stop(done),
        }
    }
}

/// What a worker runs with.
pub(super) struct Worker {
    /// For replies and shutdown.
    pub server: Arc<ServerState>,
    /// The stream's account (replies are published there).
    pub account: Arc<Account>,
    /// The state machine.
    pub stream: Arc<Mutex<Stream>>,
    /// Captured publishes (bounded; the router drops and counts when full).
    pub capture: mpsc::Receiver<InternalMessage>,
    /// API operations.
    pub control: mpsc::Receiver<Control>,
    /// The stream's consumers.
    pub consumers: Arc<Mutex<ConsumerSet>>,
    /// Messages for the consumers (pull requests, acks).
    pub consumer_inbox: mpsc::Receiver<InternalMessage>,
    /// None: sync every batch before answering; Some: lazy sync.
    pub sync_interval: Option<Duration>,
    /// Named in PubAcks when configured.
    pub domain: Option<String>,
    /// The stream's mirror or sources.
    pub sourcing: Arc<Sourcing>,
    /// The stream directory of a file stream (shutdown saves state there).
    pub dir: Option<std::path::PathBuf>,
    /// The account's and server's storage limits.
    pub gate: Arc<StreamGate>,
    /// Where batch sync latencies are counted.
    pub fsync: Arc<SyncHistogram>,
    /// Uncommitted atomic batches (`Nats-Batch-Id`), staged here until the
    /// commit makes them one operation. A lock of its own, taken inside
    /// the stream's (lock order: stream -> stager), so the run loop reads
    /// the next timeout without the state machine.
    pub stager: Arc<Mutex<BatchStager>>,
}

/// Run until the stream is deleted or the server shuts down; the store is
/// synced before the task ends.
pub(super) async fn run(mut worker: Worker) {
    let mut last_sync = Instant::now();
    let mut stop = None;
    // Lazy mode syncs on this tick even when no publish comes.
    let mut sync_tick =
        tokio::time::interval(worker.sync_interval.unwrap_or(Duration::from_secs(3600)));
    sync_tick.tick().await;
    let mut consumer_wake: Option<i64> = None;
    // File streams write their index snapshot as they grow, not only at
    // shutdown (`checkpoint`: a crash then rescans a bounded tail).
    let checkpoints = worker.dir.as_ref().map(|_| {
        let state = lock(&worker.stream).store().state();
        Arc::new(Mutex::new(CheckpointClock::new(
            &state,
            Instant::now(),
            checkpoint::MIN_NEW,
        )))
    });
    // A pass left deliveries for the next one: run it without a timer.
    let mut pass_again = false;
    loop {
        let expiry = lock(&worker.stream).next_expiry();
        let batch_timeout = lock(&worker.stager).next_timeout();
        let mut jobs = Vec::new();
        let mut tick = false;
        // Every branch is cancel-safe: `recv` loses nothing when another
        // branch wins, and the timers are recomputed each round.
        tokio::select! {
            () = worker.server.shutdown.cancelled() => break,
            Some(control) = worker.control.recv() => jobs.push(Job::from(control)),
            Some(message) = worker.capture.recv() => jobs.push(Job::Publish(message)),
            Some(message) = worker.consumer_inbox.recv() => jobs.push(Job::Consumer(message)),
            () = sleep_until_expiry(expiry) => jobs.push(Job::Expire),
            () = sleep_until_expiry(batch_timeout) => jobs.push(Job::ExpireBatches),
            () = sleep_until_expiry(consumer_wake), if !pass_again => jobs.push(Job::Wake),
            () = std::future::ready(()), if pass_again => jobs.push(Job::Wake),
            _ = sync_tick.tick(), if worker.sync_interval.is_some() => tick = true,
            else => break,
        }
        while jobs.len() < MAX_BATCH {
            if let Ok(control) = worker.control.try_recv() {
                jobs.push(Job::from(control));
            } else if let Ok(message) = worker.capture.try_recv() {
                jobs.push(Job::Publish(message));
            } else if let Ok(message) = worker.consumer_inbox.try_recv() {
                jobs.push(Job::Consumer(message));
            } else {
                break;
            }
        }
        let sync_now = match worker.sync_interval {
            None => true,
            Some(interval) => tick || last_sync.elapsed() >= interval,
        };
        if sync_now {
            last_sync = Instant::now();
        }
        let batch = Batch {
            server: worker.server.clone(),
            account: worker.account.clone(),
            stream: worker.stream.clone(),
            consumers: worker.consumers.clone(),
            domain: worker.domain.clone(),
            sourcing: worker.sourcing.clone(),
            gate: worker.gate.clone(),
            fsync: worker.fsync.clone(),
            stager: worker.stager.clone(),
            checkpoints: checkpoints.clone(),
            dir: worker.dir.clone(),
        };
        match tokio::task::spawn_blocking(move || batch.run(jobs, sync_now)).await {
            Ok(Ran::Stopped(done)) => {
                stop = Some(done);
                break;
            }
            Ok(Ran::Done { next }) => {
                consumer_wake = next.at;
                pass_again = next.now;
            }
            Err(error) => {
                tracing::error!(%error, "stream batch task failed");
                break;
            }
        }
    }
    let stream = worker.stream.clone();
    if stop.is_some() {
        // Deleted: its files go; only the final sync matters.
        let synced = tokio::task::spawn_blocking(move || lock(&stream).store_mut().sync()).await;
        if let Ok(Err(error)) = synced {
            tracing::warn!(%error, "stream: final sync failed");
        }
    } else {
        let (consumers, dir) = (worker.consumers.clone(), worker.dir.clone());
        let _ = tokio::task::spawn_blocking(move || {
            super::persist::persist_on_shutdown(&stream, &consumers, dir.as_deref())
        })
        .await;
    }
    if let Some(done) = stop {
        let _ = done.send(());
    }
}

async fn sleep_until_expiry(expiry: Option<i64>) {
    match expiry {
        Some(at) => {
            let wait = u64::try_from(at.saturating_sub(now_nanos())).unwrap_or(0);
            // Never spin: at least 1 ms between expiry passes.
            tokio::time::sleep(Duration::from_nanos(wait).max(Duration::from_millis(1))).await;
        }
        None => std::future::pending().await,
    }
}

/// One batch, run on a blocking thread.
struct Batch {
    server: Arc<ServerState>,
    account: Arc<Account>,
    stream: Arc<Mutex<Stream>>,
    consumers: Arc<Mutex<ConsumerSet>>,
    domain: Option<String>,
    sourcing: Arc<Sourcing>,
    gate: Arc<StreamGate>,
    fsync: Arc<SyncHistogram>,
    stager: Arc<Mutex<BatchStager>>,
    /// File streams: when the next index snapshot is due.
    checkpoints: Option<Arc<Mutex<CheckpointClock>>>,
    /// The stream directory (the duplicate window is saved there).
    dir: Option<std::path::PathBuf>,
}

/// How a batch ended.
enum Ran {
    /// The stream is stopping; told once the worker has ended.
    Stopped(oneshot::Sender<()>),
    /// Done; when the next consumer pass is due.
    Done { next: NextPass },
}

impl Batch {
    /// Apply `jobs` in order, sync (when `sync_now`, else hand to the OS),
    /// then answer, then run a consumer pass.
    fn run(self, mut jobs: Vec<Job>, sync_now: bool) -> Ran {
        let now = now_nanos();
        let (taken, source_wake) = self.sourcing.collect(&self.stream, now);
        jobs.extend(taken.map(Job::Sourced));
        let context = BatchContext {
            domain: self.domain.as_deref(),
            gate: Some(&self.gate),
            fsync: Some(&self.fsync),
            stager: Some(&self.stager),
            consumers: Some(&self.consumers),
        };
        let mut answers = apply_batch(&self.stream, jobs, sync_now, &context, now);
        if answers.durable {
            self.sourcing
                .commit(std::mem::take(&mut answers.sourced), now);
            self.sourcing.links.notify_followers(*answers.stored.end());
        } else {
            self.sourcing.forget_positions();
        }
        // As nats-server: republished before the PubAck goes out.
        for message in std::mem::take(&mut answers.republished) {
            publish_with_headers(
                &self.server,
                &self.account,
                &message.subject,
                &message.headers,
                &message.payload,
            );
        }
        for (reply, ack) in answers.acks {
            publish(&self.server, &self.account, &reply, &ack.encode());
        }
        for reply in answers.empty_replies {
            publish(&self.server, &self.account, &reply, b"");
        }
        if !answers.abandoned.is_empty() {
            let stream = lock(&self.stream).name().to_string();
            let advisories = Advisories {
                server: &self.server,
                account: &self.account,
                domain: self.domain.as_deref(),
            };
            for (batch, reason) in &answers.abandoned {
                advisories.batch_abandoned(&stream, batch, *reason);
            }
        }
        for (done, outcome) in answers.outcomes {
            // The API caller may have gone; nothing to tell then.
            let _ = done.send(outcome);
        }
        if let Some(done) = answers.stop {
            return Ran::Stopped(done);
        }
        let pass = PassContext {
            server: &self.server,
            account: &self.account,
            stream: &self.stream,
            consumers: &self.consumers,
            domain: self.domain.as_deref(),
        };
        let mut next = consumer_pass::run(
            &pass,
            &answers.consumer_messages,
            answers.removed,
            answers.stored,
        );
        next.at = match (next.at, source_wake) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if !answers.info_requests.is_empty() {
            let stream = lock(&self.stream);
            let set = lock(&self.consumers);
            let now = now_nanos();
            for (name, done) in answers.info_requests {
                let info = set
                    .entries
                    .get(&name)
                    .map(|entry| entry.consumer.info(stream.store(), now));
                let _ = done.send(info);
            }
        }
        let state = lock(&self.stream).store().state();
        self.gate.report(state.bytes);
        if let (true, Some(clock)) = (answers.durable, &self.checkpoints) {
            checkpoint::checkpoint_if_due(clock, &state, &self.stream, self.dir.as_deref());
        }
        Ran::Done { next }
    }
}

/// What a batch has to answer, once durable.
struct Answers {
    /// (reply subject, PubAck) of each publish that asked for one.
    acks: Vec<(String, PubAck)>,
    /// Replies to staged atomic batch messages: empty, as nats-server's.
    empty_replies: Vec<String>,
    /// Atomic batches dropped by this batch (refused or timed out).
    abandoned: Vec<(String, AbandonReason)>,
    /// Each API operation's outcome.
    outcomes: Vec<(oneshot::Sender<Outcome>, Outcome)>,
    /// The stop request, if the batch held one.
    stop: Option<oneshot::Sender<()>>,
    /// Pull requests, acks and flow control replies, for the consumer pass.
    consumer_messages: Vec<InternalMessage>,
    /// Consumer info requests, answered after the pass.
    info_requests: Vec<(String, oneshot::Sender<Option<ConsumerInfo>>)>,
    /// Messages left the stream (purge, delete, expiry, limits).
    removed: bool,
    /// The sequences stored by this batch, for interest retention.
    stored: std::ops::RangeInclusive<u64>,
    /// `republish` copies of what the batch stored, sent once durable.
    republished: Vec<Republished>,
    /// What the mirror or sources stored, to move them on.
    sourced: Applied,
    /// The batch is durable (false: a failed sync refused it).
    durable: bool,
}

/// What [`apply_batch`] works with besides the stream (all optional for
/// tests).
#[derive(Default)]
struct BatchContext<'a> {
    /// Named in PubAcks.
    domain: Option<&'a str>,
    /// The account's and server's storage limits.
    gate: Option<&'a StreamGate>,
    /// Sync latencies.
    fsync: Option<&'a SyncHistogram>,
    /// Atomic batches; without one a batch message is refused (10174).
    stager: Option<&'a Mutex<BatchStager>>,
    /// The stream's consumers (an interest stream without any keeps
    /// nothing it stores).
    consumers: Option<&'a Mutex<ConsumerSet>>,
}

/// Apply `jobs` to `stream` in order at `now`, then make them durable
/// (`sync_now`) or hand them to the OS. If that fails, every answer of
/// the batch becomes an error: nothing is acknowledged that is not on disk.
fn apply_batch(
    stream: &Mutex<Stream>,
    jobs: Vec<Job>,
    sync_now: bool,
    context: &BatchContext<'_>,
    now: i64,
) -> Answers {
    let BatchContext {
        domain,
        gate,
        fsync,
        stager,
        consumers,
    } = *context;
    let mut answers = Answers {
        empty_replies: Vec::new(),
        abandoned: Vec::new(),
        acks: Vec::new(),
        outcomes: Vec::new(),
        stop: None,
        consumer_messages: Vec::new(),
        info_requests: Vec::new(),
        removed: false,
        stored: std::ops::RangeInclusive::new(1, 0),
        republished: Vec::new(),
        sourced: Applied::default(),
        durable: true,
    };
    let mut guard = lock(stream);
    let no_ack = guard.config().no_ack;
    let first_seq = guard.store().state().first_seq;
    let last_seq = guard.store().state().last_seq;
    for job in jobs {
        match job {
            Job::Publish(message) => {
                let reply = message.reply.clone();
                let publish = to_publish(message);
                let operation = if batch_id(&publish).is_some() {
                    match stage(&guard, stager, publish, now) {
                        Staged::Commit(batch) => Operation::AtomicBatch(Box::new(batch)),
                        Staged::Pending => {
                            if let (Some(reply), false) = (reply, no_ack) {
                                answers.empty_replies.push(reply);
                            }
                            continue;
                        }
                        Staged::Refused(error) => {
                            if let (Some(reply), false) = (reply, no_ack) {
                                let mut ack = PubAck::refused(guard.name(), error);
                                ack.domain = domain.map(str::to_string);
                                answers.acks.push((reply, ack));
                            }
                            continue;
                        }
                    }
                } else {
                    Operation::Publish(publish)
                };
                let admitted = gate.map_or(Ok(()), |gate| {
                    gate.admit(guard.store().state().bytes, operation_size(&operation))
                });
                let outcome = match admitted {
                    Ok(()) => guard.apply(operation, now),
                    Err(error) => Outcome::Published(PubAck::refused(guard.name(), error)),
                };
                if let (Some(reply), Outcome::Published(mut ack)) = (reply, outcome) {
                    if !no_ack {
                        ack.domain = domain.map(str::to_string);
                        answers.acks.push((reply, ack));
                    }
                }
            }
            Job::Apply { operation, done } => {
                answers.removed |=
                    matches!(operation, Operation::Purge(_) | Operation::DeleteMsg(_));
                let outcome = guard.apply(operation, now);
                answers.outcomes.push((done, outcome));
            }
            Job::Consumer(message) => answers.consumer_messages.push(message),
            Job::Sourced(taken) => answers.sourced = source::apply(&mut guard, taken, now),
            Job::Wake => {}
            Job::ConsumerInfo { name, done } => answers.info_requests.push((name, done)),
            Job::ExpireBatches => {
                if let Some(stager) = stager {
                    for id in lock(stager).expire(now) {
                        tracing::debug!(stream = guard.name(), batch = %id, "atomic batch abandoned: timeout");
                    }
                }
            }
            Job::Expire => {
                answers.removed = true;
                if let Outcome::Failed(error) = guard.apply(Operation::Expire, now) {
                    tracing::warn!(stream = guard.name(), %error, "expiry failed");
                }
            }
            Job::Stop(done) => {
                // Work queued after a delete is dropped with the stream.
                answers.stop = Some(done);
                break;
            }
        }
    }
    answers.removed |= guard.store().state().first_seq != first_seq;
    answers.stored = last_seq + 1..=guard.store().state().last_seq;
    // An interest stream without consumers keeps nothing: what the batch
    // stored goes again under the same lock, before the sync and the
    // PubAcks, so no STREAM.INFO after an ack sees it (nats-server does not
    // store such a message at all). Lock order: stream -> consumers.
    let interest = guard.config().retention == RetentionPolicy::Interest;
    if let (true, Some(consumers)) = (interest && !answers.stored.is_empty(), consumers) {
        if lock(consumers).entries.is_empty() {
            for seq in answers.stored.clone() {
                if let Err(error) = guard.store_mut().remove_msg(seq) {
                    tracing::warn!(seq, %error, "uninteresting message not removed");
                }
            }
        }
    }
    answers.republished = guard.take_republished();
    if let Some(stager) = stager {
        answers.abandoned = lock(stager).take_abandoned();
    }
    let durable = if sync_now {
        let begun = guard.store_mut().begin_sync();
        drop(guard);
        // The fdatasyncs run without the lock so readers go on.
        begun.and_then(|pending| {
            let started = tokio::time::Instant::now();
            let outcome = pending.run();
            if let Some(fsync) = fsync {
                fsync.observe(started.elapsed());
            }
            lock(stream).store_mut().finish_sync(&outcome);
            outcome.map(|_| ())
        })
    } else {
        let flushed = guard.store_mut().flush();
        drop(guard);
        flushed
    };
    if let Err(error) = durable {
        answers.durable = false;
        tracing::error!(%error, "stream sync failed; the batch is refused");
        answers.republished.clear();
        lock(stream).reload_after_store_failure(now);
        let why = format!("sync failed: {error}");
        for (_, ack) in &mut answers.acks {
            if ack.error.is_none() {
                *ack = PubAck::refused(&ack.stream, ApiError::store_failed(&why));
            }
        }
        for (_, outcome) in &mut answers.outcomes {
            *outcome = Outcome::Failed(ApiError::stream_general(&why));
        }
    }
    answers
}

/// Stage a batch message with the stream's config in force.
fn stage(
    stream: &Stream,
    stager: Option<&Mutex<BatchStager>>,
    publish: Publish,
    now: i64,
) -> Staged {
    match stager {
        Some(stager) => lock(stager).stage(stream.config(), publish, now),
        None => Staged::Refused(ApiError::atomic_publish_disabled()),
    }
}

/// What a publish or a committed batch adds to the store, for the limits.
fn operation_size(operation: &Operation) -> u64 {
    let size = |p: &Publish| stored_size(&p.subject, &p.headers, &p.payload);
    match operation {
        Operation::Publish(publish) => size(publish),
        Operation::AtomicBatch(batch) => batch.messages.iter().map(size).sum(),
        _ => 0,
    }
}

/// Split a captured message into headers and payload without copying.
fn to_publish(message: InternalMessage) -> Publish {
    let header_len = message.header_len.unwrap_or(0).min(message.payload.len());
    let mut payload = Bytes::from(message.payload);
    let headers = payload.split_to(header_len);
    Publish {
        subject: message.subject,
        headers,
        payload,
    }
}

#[cfg(test)]
#[path = "worker_tests.rs"]
mod tests;
