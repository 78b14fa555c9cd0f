//! The core throughput scenarios driven by async-nats, the official Rust
//! client (`--clients async-nats`): pub-only, pub/sub 1:1, fan-out 1:N and
//! queue group, as a user's application would run them (request/reply:
//! [`super::async_request_reply`]).
//!
//! Like `nats bench`, every publisher and every subscriber has a connection
//! of its own, made with default connect options, all in this one process.
//! Each measured loop is bounded by a message count and by
//! [`CLIENT_BUDGET`]; the publisher flushes at the end, and subscribers
//! count until every published message arrived or deliveries stall for
//! [`STALL_TIMEOUT`]. As with the raw clients, the publisher stays at most a
//! window of messages ahead of the slowest subscriber
//! ([`flow_window`]), so no server's slow-consumer cutoff and no client-side
//! subscription channel (which drops when full) decides the figure.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};
use async_nats::{Client, Subject, Subscriber};
use bytes::Bytes;
use futures::{FutureExt as _, StreamExt as _};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::{timeout, Instant};

use super::limits::{
    CLIENT_BUDGET, CLIENT_WINDOW_MESSAGES, FLOW_WINDOW_BYTES, FLUSH_TIMEOUT, HANDSHAKE_TIMEOUT,
    MSG_OVERHEAD_BYTES, RUN_TIMEOUT, STARTUP_TIMEOUT, SYNC_RETRY,
};
use super::server::Endpoints;
use super::throughput::{wait_for_floor, Pattern, Throughput};
use super::unique_prefix;

/// Messages a subscriber counts locally before publishing its count (it also
/// publishes whenever its subscription has nothing more ready).
const RECORD_BATCH: u64 = 256;

/// Messages published between two checks of the clock and the flow window.
const PUBLISH_CHUNK: u64 = 256;

/// How far the publisher may run ahead of the slowest subscriber, in
/// messages: the raw clients' byte window, capped by
/// [`CLIENT_WINDOW_MESSAGES`] (async-nats buffers per subscription in
/// messages, not bytes).
pub fn flow_window(payload: usize) -> u64 {
    let by_bytes = (FLOW_WINDOW_BYTES / (payload + MSG_OVERHEAD_BYTES)).max(1) as u64;
    by_bytes.min(CLIENT_WINDOW_MESSAGES)
}

/// Deliveries a run expects: every subscriber gets each message of a
/// broadcast; a queue group gets each message once.
pub fn expected_deliveries(pattern: Pattern, published: u64) -> u64 {
    match pattern {
        Pattern::Broadcast(subscribers) => published * subscribers as u64,
        Pattern::Queue(_) | Pattern::PubOnly => published,
    }
}

/// Whether every expected message arrived, from the per-subscriber counts.
pub fn all_delivered(pattern: Pattern, counts: &[u64], published: u64) -> bool {
    delivered_floor(pattern, counts) >= published
}

/// Messages every subscriber is known to have: the slowest subscriber's
/// count for a broadcast, the group's total for a queue group.
pub fn delivered_floor(pattern: Pattern, counts: &[u64]) -> u64 {
    match pattern {
        Pattern::Broadcast(_) => counts.iter().copied().min().unwrap_or(0),
        Pattern::Queue(_) | Pattern::PubOnly => counts.iter().sum(),
    }
}

/// Counters shared by the subscriber tasks and the publisher.
struct Deliveries {
    pattern: Pattern,
    /// Messages delivered to each subscriber.
    per_subscriber: Vec<AtomicU64>,
    /// Subscribers that saw their sync probe: their data interest is live
    /// where the publisher is (also across a cluster).
    synced: Vec<AtomicBool>,
    /// First subscriber error.
    failure: Mutex<Option<String>>,
    /// Wakes the publisher and the run whenever a count or flag changes.
    changed: Notify,
}

impl Deliveries {
    fn new(pattern: Pattern, subscribers: usize) -> Self {
        Self {
            pattern,
            per_subscriber: (0..subscribers).map(|_| AtomicU64::new(0)).collect(),
            synced: (0..subscribers).map(|_| AtomicBool::new(false)).collect(),
            failure: Mutex::new(None),
            changed: Notify::new(),
        }
    }

    fn record(&self, index: usize, delivered: u64) {
        self.per_subscriber[index].fetch_add(delivered, Ordering::AcqRel);
        self.changed.notify_waiters();
    }

    fn fail(&self, error: &anyhow::Error) {
        if let Ok(mut failure) = self.failure.lock() {
            failure.get_or_insert_with(|| format!("{error:#}"));
        }
        self.changed.notify_waiters();
    }

    fn failure(&self) -> Option<String> {
        self.failure.lock().ok().and_then(|failure| failure.clone())
    }

    fn counts(&self) -> Vec<u64> {
        self.per_subscriber
            .iter()
            .map(|count| count.load(Ordering::Acquire))
            .collect()
    }

    /// Waits until `condition(floor)` holds for the delivered floor; fails
    /// on a subscriber error or when the floor does not move for
    /// [`STALL_TIMEOUT`].
    async fn wait_for(&self, what: &str, condition: impl Fn(u64) -> bool) -> Result<()> {
        wait_for_floor(
            &self.changed,
            || delivered_floor(self.pattern, &self.counts()),
            || self.failure(),
            condition,
            |floor| format!("deliveries stalled at {floor} while waiting for {what}"),
        )
        .await
    }
}

/// A client with default options (a connect timeout aside, so a dead
/// server fails the run instead of hanging it).
pub(super) async fn connect(addr: SocketAddr) -> Result<Client> {
    async_nats::ConnectOptions::new()
        .connection_timeout(HANDSHAKE_TIMEOUT)
        .connect(format!("nats://{addr}"))
        .await
        .with_context(|| format!("connect to {addr}"))
}

pub(super) async fn flush(client: &Client) -> Result<()> {
    timeout(FLUSH_TIMEOUT, client.flush())
        .await
        .map_err(|_| anyhow!("flush exceeded {FLUSH_TIMEOUT:?}"))?
        .context("flush")
}

/// Runs one throughput measurement; returns delivered messages per second
/// (pub-only: published messages per second, up to the final flush).
pub async fn run_throughput(endpoints: Endpoints, spec: Throughput) -> Result<f64> {
    if endpoints.tls {
        bail!("the async-nats clients do not speak TLS to the bench's certificate");
    }
    timeout(RUN_TIMEOUT, throughput_inner(endpoints, spec))
        .await
        .map_err(|_| anyhow!("run exceeded {RUN_TIMEOUT:?}"))?
}

async fn throughput_inner(endpoints: Endpoints, spec: Throughput) -> Result<f64> {
    let prefix = unique_prefix();
    let subject = format!("{prefix}.data");
    let (subscribers, queue) = match spec.pattern {
        Pattern::PubOnly => (0, None),
        Pattern::Broadcast(n) => (n, None),
        Pattern::Queue(n) => (n, Some("workers")),
    };
    let deliveries = Arc::new(Deliveries::new(spec.pattern, subscribers));
    // Dropping the set aborts every subscriber task, on success and error.
    let mut tasks = JoinSet::new();
    for index in 0..subscribers {
        let client = connect(endpoints.subscribe).await?;
        let data = match queue {
            Some(group) => {
                client
                    .queue_subscribe(subject.clone(), group.to_string())
                    .await
            }
            None => client.subscribe(subject.clone()).await,
        }
        .context("subscribe")?;
        // Subscribed after the data subject, so a probe seen here means the
        // data interest is live at the publisher's node too.
        let sync = client
            .subscribe(format!("{prefix}.sync.{index}"))
            .await
            .context("subscribe")?;
        flush(&client).await?;
        let counter = Arc::clone(&deliveries);
        tasks.spawn(async move {
            if let Err(error) = count_deliveries(data, index, &counter).await {
                counter.fail(&error);
            }
        });
        let counter = Arc::clone(&deliveries);
        tasks.spawn(note_sync(sync, index, counter));
    }
    let publisher = connect(endpoints.publish).await?;
    sync_subscribers(&publisher, &prefix, &deliveries).await?;

    let subject = Subject::from(subject);
    let payload = Bytes::from(vec![b'x'; spec.payload]);
    let window = flow_window(spec.payload);
    let started = Instant::now();
    let mut published = 0u64;
    while published < spec.messages {
        if started.elapsed() >= CLIENT_BUDGET {
            break;
        }
        let chunk = (spec.messages - published).min(PUBLISH_CHUNK);
        if subscribers > 0 {
            let wanted = published + chunk;
            deliveries
                .wait_for("flow-control room", |floor| wanted <= floor + window)
                .await?;
        }
        for _ in 0..chunk {
            publisher
                .publish(subject.clone(), payload.clone())
                .await
                .context("publish")?;
        }
        published += chunk;
    }
    if published < spec.messages {
        eprintln!(
            "note: the {CLIENT_BUDGET:?} budget ended publishing after {published} of {} messages",
            spec.messages
        );
    }
    flush(&publisher).await?;
    if subscribers == 0 {
        return rate(published, started.elapsed());
    }
    deliveries
        .wait_for("the last message", |floor| floor >= published)
        .await?;
    let elapsed = started.elapsed();
    // A round trip through the publisher's server and a short settle let any
    // duplicate still in flight arrive before the counts are checked.
    flush(&publisher).await?;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let counts = deliveries.counts();
    let total: u64 = counts.iter().sum();
    let expected = expected_deliveries(spec.pattern, published);
    if total != expected || !all_delivered(spec.pattern, &counts, published) {
        bail!("delivered {total} messages ({counts:?}), expected {expected}");
    }
    tasks.abort_all();
    rate(expected, elapsed)
}

/// Subscriber loop: counts messages, publishing the count in batches so the
/// shared counters are not touched once per message.
async fn count_deliveries(
    mut data: Subscriber,
    index: usize,
    deliveries: &Deliveries,
) -> Result<()> {
    loop {
        if data.next().await.is_none() {
            bail!("subscription {index} ended");
        }
        let mut batch = 1u64;
        while batch < RECORD_BATCH {
            match data.next().now_or_never() {
                Some(Some(_)) => batch += 1,
                Some(None) => {
                    deliveries.record(index, batch);
                    bail!("subscription {index} ended");
                }
                None => break,
            }
        }
        deliveries.record(index, batch);
    }
}

async fn note_sync(mut sync: Subscriber, index: usize, deliveries: Arc<Deliveries>) {
    if sync.next().await.is_some() {
        deliveries.synced[index].store(true, Ordering::Release);
        deliveries.changed.notify_waiters();
    }
}

/// Publishes a probe to each subscriber's sync subject until every one has
/// seen it.
async fn sync_subscribers(publisher: &Client, prefix: &str, deliveries: &Deliveries) -> Result<()> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        let pending: Vec<usize> = (0..deliveries.synced.len())
            .filter(|&index| !deliveries.synced[index].load(Ordering::Acquire))
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        if let Some(failure) = deliveries.failure() {
            bail!("subscriber failed during sync: {failure}");
        }
        if Instant::now() >= deadline {
            bail!("subscriptions did not reach the publisher's server in time");
        }
        for index in pending {
            publisher
                .publish(format!("{prefix}.sync.{index}"), Bytes::new())
                .await
                .context("publish sync probe")?;
        }
        flush(publisher).await?;
        tokio::time::sleep(SYNC_RETRY).await;
    }
}

fn rate(done: u64, elapsed: Duration) -> Result<f64> {
    if done == 0 || elapsed.is_zero() {
        bail!("nothing completed");
    }
    Ok(done as f64 / elapsed.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_window_is_the_byte_window_capped_in_messages() {
        // 4 MiB / (1024 + 32) B.
        assert_eq!(flow_window(1024), 3971);
        // 4 MiB / 48 B is above the cap.
        assert_eq!(flow_window(16), CLIENT_WINDOW_MESSAGES);
        assert!(flow_window(usize::MAX / 2) >= 1);
    }

    #[test]
    fn broadcast_waits_for_the_slowest_subscriber() {
        let pattern = Pattern::Broadcast(3);
        assert_eq!(delivered_floor(pattern, &[10, 7, 12]), 7);
        assert!(!all_delivered(pattern, &[10, 9, 10], 10));
        assert!(all_delivered(pattern, &[10, 10, 10], 10));
        assert_eq!(expected_deliveries(pattern, 10), 30);
    }

    #[test]
    fn queue_group_counts_the_members_together() {
        let pattern = Pattern::Queue(4);
        assert_eq!(delivered_floor(pattern, &[3, 0, 4, 3]), 10);
        assert!(all_delivered(pattern, &[3, 0, 4, 3], 10));
        assert!(!all_delivered(pattern, &[3, 0, 4, 2], 10));
        assert_eq!(expected_deliveries(pattern, 10), 10);
    }

    #[test]
    fn rate_rejects_empty_runs() {
        assert!(rate(0, Duration::from_secs(1)).is_err());
        assert!(rate(10, Duration::ZERO).is_err());
        let per_second = rate(500, Duration::from_millis(250)).expect("rate");
        assert!((per_second - 2000.0).abs() < 1e-9);
    }
}
