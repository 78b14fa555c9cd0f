//! Throughput scenarios: pub-only, pub/sub 1:1, fan-out 1:N and queue group.
//!
//! One publisher writes a fixed number of messages in large batches of PUB
//! ops. Subscribers count MSG headers and skip payloads. The publisher stays
//! at most a bounded window ahead of the slowest subscriber, so the figure is
//! sustained end-to-end delivery, never a server's slow-consumer cutoff.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::{timeout, Instant};

use super::limits::{
    FLOW_WINDOW_BYTES, FLUSH_TIMEOUT, MSG_OVERHEAD_BYTES, PUBLISH_BATCH_BYTES, RUN_TIMEOUT,
    STALL_TIMEOUT, STARTUP_TIMEOUT, SYNC_RETRY,
};
use super::server::Endpoints;
use super::unique_prefix;
use super::wire::{Connection, Op, PayloadMode, Scanner};

/// Who receives the published messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// Nobody: the server routes each message to no interest.
    PubOnly,
    /// `n` plain subscribers; each gets every message.
    Broadcast(usize),
    /// `n` members of one queue group; each message goes to exactly one.
    Queue(usize),
}

/// One throughput measurement to take.
#[derive(Debug, Clone, Copy)]
pub struct Throughput {
    /// Delivery pattern.
    pub pattern: Pattern,
    /// Payload size in bytes.
    pub payload: usize,
    /// Messages published.
    pub messages: u64,
}

/// Shared delivery counters, updated by subscriber tasks once per read.
struct Progress {
    pattern: Pattern,
    messages: u64,
    /// Messages delivered to each subscriber.
    per_subscriber: Vec<AtomicU64>,
    /// Messages delivered to all subscribers together.
    total: AtomicU64,
    /// Subscribers that saw their sync probe, i.e. whose interest is live
    /// where the publisher is.
    synced: Vec<AtomicBool>,
    /// Broadcast subscribers that received every message.
    finished_subscribers: AtomicUsize,
    /// When the last expected delivery arrived.
    finished_at: Mutex<Option<Instant>>,
    /// First subscriber error (e.g. the server closed a slow consumer).
    failure: Mutex<Option<String>>,
    /// Wakes the publisher waiting for flow-control room or sync.
    changed: Notify,
    /// Wakes the run once all deliveries arrived or a subscriber failed.
    done: Notify,
}

impl Progress {
    fn new(pattern: Pattern, subscribers: usize, messages: u64) -> Self {
        Self {
            pattern,
            messages,
            per_subscriber: (0..subscribers).map(|_| AtomicU64::new(0)).collect(),
            total: AtomicU64::new(0),
            synced: (0..subscribers).map(|_| AtomicBool::new(false)).collect(),
            finished_subscribers: AtomicUsize::new(0),
            finished_at: Mutex::new(None),
            failure: Mutex::new(None),
            changed: Notify::new(),
            done: Notify::new(),
        }
    }

    fn record(&self, index: usize, delivered: u64) {
        let before = self.per_subscriber[index].fetch_add(delivered, Ordering::AcqRel);
        let before_total = self.total.fetch_add(delivered, Ordering::AcqRel);
        let finished = match self.pattern {
            Pattern::Broadcast(subscribers) => {
                before < self.messages
                    && before + delivered >= self.messages
                    && self.finished_subscribers.fetch_add(1, Ordering::AcqRel) + 1 == subscribers
            }
            Pattern::Queue(_) => {
                before_total < self.messages && before_total + delivered >= self.messages
            }
            Pattern::PubOnly => false,
        };
        if finished {
            if let Ok(mut at) = self.finished_at.lock() {
                *at = Some(Instant::now());
            }
            self.done.notify_one();
        }
        self.changed.notify_waiters();
    }

    fn fail(&self, error: &anyhow::Error) {
        if let Ok(mut failure) = self.failure.lock() {
            failure.get_or_insert_with(|| format!("{error:#}"));
        }
        self.done.notify_one();
        self.changed.notify_waiters();
    }

    fn failure(&self) -> Option<String> {
        self.failure.lock().ok().and_then(|failure| failure.clone())
    }

    /// Messages every subscriber is known to have (broadcast: the slowest
    /// subscriber's count; queue: the group's total).
    fn delivered_floor(&self) -> u64 {
        match self.pattern {
            Pattern::Broadcast(_) => self
                .per_subscriber
                .iter()
                .map(|count| count.load(Ordering::Acquire))
                .min()
                .unwrap_or(0),
            Pattern::Queue(_) | Pattern::PubOnly => self.total.load(Ordering::Acquire),
        }
    }

    /// Waits until `published` is within `window` of the delivered floor.
    async fn wait_for_room(&self, published: u64, window: u64) -> Result<()> {
        wait_for_floor(
            &self.changed,
            || self.delivered_floor(),
            || self.failure(),
            |floor| published <= floor + window,
            |floor| format!("deliveries stalled at {floor} of {published} published"),
        )
        .await
    }
}

/// Waits, woken by `changed`, until `condition(floor())` holds; fails with
/// the first subscriber `failure()`, or with `stalled(floor)` when the
/// floor does not move for [`STALL_TIMEOUT`]. Both client modes' publishers
/// and runs wait this way.
pub(super) async fn wait_for_floor(
    changed: &Notify,
    floor: impl Fn() -> u64,
    failure: impl Fn() -> Option<String>,
    condition: impl Fn(u64) -> bool,
    stalled: impl Fn(u64) -> String,
) -> Result<()> {
    let mut last_floor = floor();
    let mut last_change = Instant::now();
    loop {
        let notified = changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let now_floor = floor();
        if condition(now_floor) {
            return Ok(());
        }
        if let Some(failure) = failure() {
            bail!("subscriber failed: {failure}");
        }
        if now_floor != last_floor {
            last_floor = now_floor;
            last_change = Instant::now();
        } else if last_change.elapsed() > STALL_TIMEOUT {
            bail!("{}", stalled(now_floor));
        }
        let _ = timeout(Duration::from_millis(100), notified).await;
    }
}

/// Runs one measurement; returns delivered messages per second (pub-only:
/// published messages per second, acknowledged by a final PING/PONG).
pub async fn run(endpoints: Endpoints, spec: Throughput) -> Result<f64> {
    timeout(RUN_TIMEOUT, run_inner(endpoints, spec))
        .await
        .map_err(|_| anyhow!("run exceeded {RUN_TIMEOUT:?}"))?
}

async fn run_inner(endpoints: Endpoints, spec: Throughput) -> Result<f64> {
    let prefix = unique_prefix();
    let subject = format!("{prefix}.data");
    let (subscribers, queue) = match spec.pattern {
        Pattern::PubOnly => (0, None),
        Pattern::Broadcast(n) => (n, None),
        Pattern::Queue(n) => (n, Some("workers")),
    };
    let progress = Arc::new(Progress::new(spec.pattern, subscribers, spec.messages));
    // Dropping the set aborts every subscriber task, on success and error.
    let mut tasks = JoinSet::new();
    for index in 0..subscribers {
        let mut connection = Connection::connect(endpoints.subscribe, endpoints.tls).await?;
        let subscribe = match queue {
            Some(group) => format!("SUB {subject} {group} 1\r\nSUB {prefix}.sync.{index} 2\r\n"),
            None => format!("SUB {subject} 1\r\nSUB {prefix}.sync.{index} 2\r\n"),
        };
        connection
            .flush_with(subscribe.as_bytes(), FLUSH_TIMEOUT)
            .await?;
        let progress = Arc::clone(&progress);
        tasks.spawn(async move {
            if let Err(error) = count_deliveries(connection, index, &progress).await {
                progress.fail(&error);
            }
        });
    }
    let mut publisher = Connection::connect(endpoints.publish, endpoints.tls).await?;
    sync_subscribers(&mut publisher, &prefix, &progress).await?;

    let one = encode_pub(&subject, spec.payload);
    let per_batch = (PUBLISH_BATCH_BYTES / one.len()).max(1);
    let batch = one.repeat(per_batch);
    let window = (FLOW_WINDOW_BYTES / (spec.payload + MSG_OVERHEAD_BYTES)).max(1) as u64;

    let started = Instant::now();
    let mut published = 0u64;
    while published < spec.messages {
        let count = (spec.messages - published).min(per_batch as u64);
        if subscribers > 0 {
            progress.wait_for_room(published + count, window).await?;
        }
        // `count` is at most `per_batch`, so the slice is within `batch`.
        let bytes = count as usize * one.len();
        publisher.send(&batch[..bytes]).await?;
        published += count;
    }
    publisher.flush_with(b"", FLUSH_TIMEOUT).await?;
    if subscribers == 0 {
        return Ok(spec.messages as f64 / started.elapsed().as_secs_f64());
    }

    wait_until_done(&progress).await?;
    let finished_at = progress
        .finished_at
        .lock()
        .ok()
        .and_then(|at| *at)
        .ok_or_else(|| anyhow!("finished without a finish time"))?;
    let elapsed = finished_at.duration_since(started).as_secs_f64();
    verify_counts(&progress, &mut publisher).await?;
    let deliveries = match spec.pattern {
        Pattern::Broadcast(n) => spec.messages * n as u64,
        _ => spec.messages,
    };
    tasks.abort_all();
    Ok(deliveries as f64 / elapsed)
}

/// `PUB subject size\r\n<payload>\r\n` with a filler payload.
fn encode_pub(subject: &str, payload: usize) -> Vec<u8> {
    let mut op = format!("PUB {subject} {payload}\r\n").into_bytes();
    op.resize(op.len() + payload, b'x');
    op.extend_from_slice(b"\r\n");
    op
}

/// Publishes a probe to each subscriber's sync subject until every one has
/// seen it: then the data interest (subscribed before the sync subject) is
/// live at the publisher's node too, also across a cluster.
async fn sync_subscribers(
    publisher: &mut Connection,
    prefix: &str,
    progress: &Progress,
) -> Result<()> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        let mut probes = String::new();
        for (index, synced) in progress.synced.iter().enumerate() {
            if !synced.load(Ordering::Acquire) {
                probes.push_str(&format!("PUB {prefix}.sync.{index} 0\r\n\r\n"));
            }
        }
        if probes.is_empty() {
            return Ok(());
        }
        if let Some(failure) = progress.failure() {
            bail!("subscriber failed during sync: {failure}");
        }
        if Instant::now() >= deadline {
            bail!("subscriptions did not reach the publisher's server in time");
        }
        publisher
            .flush_with(probes.as_bytes(), FLUSH_TIMEOUT)
            .await?;
        tokio::time::sleep(SYNC_RETRY).await;
    }
}

async fn wait_until_done(progress: &Progress) -> Result<()> {
    let mut last_total = progress.total.load(Ordering::Acquire);
    loop {
        if let Some(failure) = progress.failure() {
            bail!("subscriber failed: {failure}");
        }
        if progress
            .finished_at
            .lock()
            .ok()
            .is_some_and(|at| at.is_some())
        {
            return Ok(());
        }
        if timeout(STALL_TIMEOUT, progress.done.notified())
            .await
            .is_err()
        {
            let total = progress.total.load(Ordering::Acquire);
            if total == last_total {
                bail!("deliveries stalled at {total}");
            }
            last_total = total;
        }
    }
}

/// Checks nothing was delivered twice (and, for a queue group, that the
/// members together got each message exactly once).
async fn verify_counts(progress: &Progress, publisher: &mut Connection) -> Result<()> {
    // A round trip through the publisher's server, then a short settle, lets
    // any duplicate still in flight arrive before counting.
    publisher.flush_with(b"", FLUSH_TIMEOUT).await?;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let total = progress.total.load(Ordering::Acquire);
    match progress.pattern {
        Pattern::Broadcast(n) => {
            let expected = progress.messages * n as u64;
            if total != expected {
                bail!("broadcast delivered {total} messages, expected {expected}");
            }
        }
        Pattern::Queue(_) => {
            if total != progress.messages {
                bail!(
                    "queue group delivered {total} messages, expected exactly {}",
                    progress.messages
                );
            }
        }
        Pattern::PubOnly => {}
    }
    Ok(())
}

/// Subscriber loop: counts data messages (sid 1), notes the sync probe
/// (sid 2), answers server PINGs. Runs until aborted or the connection fails.
async fn count_deliveries(
    mut connection: Connection,
    index: usize,
    progress: &Progress,
) -> Result<()> {
    let mut scanner = Scanner::new(PayloadMode::Skip);
    loop {
        let mut delivered = 0u64;
        let mut synced = false;
        let mut pings = 0usize;
        scanner.scan(&mut connection.buf, |op| {
            match op {
                Op::Msg { sid: b"1", .. } => delivered += 1,
                Op::Msg { .. } => synced = true,
                Op::Ping => pings += 1,
                Op::Err(line) => bail!("server error: {}", String::from_utf8_lossy(line)),
                Op::Pong | Op::Ok | Op::Info => {}
            }
            Ok(())
        })?;
        if synced {
            progress.synced[index].store(true, Ordering::Release);
        }
        if delivered > 0 || synced {
            progress.record(index, delivered);
        }
        for _ in 0..pings {
            connection.send(b"PONG\r\n").await?;
        }
        connection.read_more().await?;
    }
}
