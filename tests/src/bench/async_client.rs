//! The core scenarios driven by async-nats, the official Rust client
//! (`--clients async-nats`): pub-only, pub/sub 1:1, fan-out 1:N, queue group
//! and request/reply, as a user's application would run them.
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

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};
use async_nats::{Client, Subject, Subscriber};
use bytes::Bytes;
use futures::{FutureExt as _, StreamExt as _};
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinSet;
use tokio::time::{timeout, Instant};

use super::latency::{percentiles, Percentiles, RequestReply};
use super::limits::{
    CLIENT_BUDGET, CLIENT_WINDOW_MESSAGES, FLOW_WINDOW_BYTES, FLUSH_TIMEOUT, HANDSHAKE_TIMEOUT,
    MSG_OVERHEAD_BYTES, REQUEST_TIMEOUT, RUN_TIMEOUT, STALL_TIMEOUT, STARTUP_TIMEOUT, SYNC_RETRY,
};
use super::server::Endpoints;
use super::throughput::{Pattern, Throughput};
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
        let mut last_floor = delivered_floor(self.pattern, &self.counts());
        let mut last_change = Instant::now();
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let floor = delivered_floor(self.pattern, &self.counts());
            if condition(floor) {
                return Ok(());
            }
            if let Some(failure) = self.failure() {
                bail!("subscriber failed: {failure}");
            }
            if floor != last_floor {
                last_floor = floor;
                last_change = Instant::now();
            } else if last_change.elapsed() > STALL_TIMEOUT {
                bail!("deliveries stalled at {floor} while waiting for {what}");
            }
            let _ = timeout(Duration::from_millis(100), notified).await;
        }
    }
}

/// A client with default options (a connect timeout aside, so a dead
/// server fails the run instead of hanging it).
async fn connect(addr: SocketAddr) -> Result<Client> {
    async_nats::ConnectOptions::new()
        .connection_timeout(HANDSHAKE_TIMEOUT)
        .connect(format!("nats://{addr}"))
        .await
        .with_context(|| format!("connect to {addr}"))
}

async fn flush(client: &Client) -> Result<()> {
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

/// Request/reply: a responder on the subscribe endpoint answers with the
/// request's payload; a requester on the publish endpoint sends sequential
/// `Client::request`s (the client's shared wildcard inbox), each timed.
/// Each client runs on a thread of its own ([`on_own_thread`]). Stops after
/// the measured count or [`CLIENT_BUDGET`].
pub async fn run_request_reply(endpoints: Endpoints, spec: RequestReply) -> Result<Percentiles> {
    if endpoints.tls {
        bail!("the async-nats clients do not speak TLS to the bench's certificate");
    }
    timeout(RUN_TIMEOUT, request_reply_inner(endpoints, spec))
        .await
        .map_err(|_| anyhow!("run exceeded {RUN_TIMEOUT:?}"))?
}

async fn request_reply_inner(endpoints: Endpoints, spec: RequestReply) -> Result<Percentiles> {
    let service = Subject::from(format!("{}.service", unique_prefix()));
    // Sending (or dropping) this ends the responder.
    let (stop, stopped) = oneshot::channel::<()>();
    let responder = on_own_thread({
        let service = service.clone();
        move || respond(endpoints.subscribe, service, stopped)
    });
    let measured = on_own_thread(move || measure(endpoints.publish, service, spec)).await;
    let _ = stop.send(());
    let responder = responder.await;
    let mut samples = match (measured, responder) {
        (Ok(samples), _) => samples,
        (Err(error), Err(responder)) => {
            return Err(error.context(format!("responder: {responder:#}")))
        }
        (Err(error), Ok(())) => return Err(error),
    };
    percentiles(&mut samples)
}

/// Runs `make()` on a thread of its own with a current-thread runtime, so a
/// client's connection task and the code using it share one thread: a reply
/// wakes that thread straight from the kernel, without the hand-over
/// between worker threads that made round trips bimodal (about 30 us or
/// about 110 us per run, whichever the server) on a multi-thread runtime.
///
/// The thread starts at the call, not at the first poll of the result.
fn on_own_thread<F, Fut, T>(make: F) -> impl Future<Output = Result<T>>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<T>>,
    T: Send + 'static,
{
    let (result_tx, result_rx) = oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("bench-client".to_string())
        .spawn(move || {
            let result = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(make()),
                Err(error) => Err(anyhow::Error::from(error).context("client runtime")),
            };
            let _ = result_tx.send(result);
        });
    async move {
        spawned.context("spawn a client thread")?;
        result_rx
            .await
            .map_err(|_| anyhow!("client thread ended without a result"))?
    }
}

/// Responder: answers every request with its payload until `stopped`
/// resolves (sent or dropped).
async fn respond(
    addr: SocketAddr,
    service: Subject,
    mut stopped: oneshot::Receiver<()>,
) -> Result<()> {
    let responder = connect(addr).await?;
    let mut requests = responder.subscribe(service).await.context("subscribe")?;
    flush(&responder).await?;
    loop {
        // Both branches are cancel-safe: a oneshot receiver polled by
        // reference, and `Subscriber::next` (a channel receive).
        let request = tokio::select! {
            _ = &mut stopped => return Ok(()),
            request = requests.next() => request,
        };
        let Some(request) = request else {
            bail!("responder subscription ended");
        };
        if let Some(reply) = request.reply {
            responder
                .publish(reply, request.payload)
                .await
                .context("publish reply")?;
        }
    }
}

/// Requester: sequential requests, the measured ones timed.
async fn measure(addr: SocketAddr, service: Subject, spec: RequestReply) -> Result<Vec<Duration>> {
    let requester = connect(addr).await?;
    let payload = Bytes::from(vec![b'r'; spec.payload]);
    let request = |limit: Duration| {
        let requester = requester.clone();
        let service = service.clone();
        let payload = payload.clone();
        async move {
            timeout(limit, requester.request(service, payload))
                .await
                .map_err(|_| anyhow!("no reply within {limit:?}"))?
                .context("request")?;
            anyhow::Ok(())
        }
    };
    // The responder subscribes on its own thread, and on a cluster its
    // interest must reach the requester's node: retry until answered.
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        match request(SYNC_RETRY * 10).await {
            Ok(()) => break,
            Err(_) if Instant::now() < deadline => tokio::time::sleep(SYNC_RETRY).await,
            Err(error) => return Err(error.context("service not reachable")),
        }
    }
    for _ in 0..spec.warmup {
        request(REQUEST_TIMEOUT).await?;
    }
    let mut samples = Vec::with_capacity(spec.requests);
    let started = Instant::now();
    while samples.len() < spec.requests && started.elapsed() < CLIENT_BUDGET {
        let sent = Instant::now();
        request(REQUEST_TIMEOUT).await?;
        samples.push(sent.elapsed());
    }
    if samples.len() < spec.requests {
        eprintln!(
            "note: the {CLIENT_BUDGET:?} budget ended requests after {} of {}",
            samples.len(),
            spec.requests
        );
    }
    Ok(samples)
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
