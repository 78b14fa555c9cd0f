//! What every JetStream scenario needs: a client and context, unique names,
//! streams, windowed publishing and a raw STREAM.INFO.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};
use async_nats::jetstream::context::{Context, ContextBuilder, PublishAckFuture};
use async_nats::jetstream::stream::{Config, StorageType};
use async_nats::Client;
use bytes::Bytes;
use tokio::time::{timeout, Instant};

use crate::bench::limits::{HANDSHAKE_TIMEOUT, JS_REQUEST_TIMEOUT};

/// PubAcks the context lets be outstanding (above every window we use).
const MAX_ACK_INFLIGHT: usize = 8192;

/// A connected client and its JetStream context.
pub async fn connect(addr: SocketAddr) -> Result<(Client, Context)> {
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(HANDSHAKE_TIMEOUT)
        .request_timeout(Some(JS_REQUEST_TIMEOUT))
        .connect(format!("nats://{addr}"))
        .await
        .with_context(|| format!("connect to {addr}"))?;
    let context = ContextBuilder::new()
        .timeout(JS_REQUEST_TIMEOUT)
        .ack_timeout(JS_REQUEST_TIMEOUT)
        .max_ack_inflight(MAX_ACK_INFLIGHT)
        .build(client.clone());
    Ok((client, context))
}

/// A stream (or bucket, or consumer) name and a subject no other run of this
/// bench process uses: `BENCH_<pid>_<n>` and `bench.<pid>.<n>.js`.
pub fn unique_names() -> (String, String) {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    (format!("BENCH_{pid}_{n}"), format!("bench.{pid}.{n}.js"))
}

/// Creates a stream of one subject with default limits.
pub async fn create_stream(
    js: &Context,
    name: &str,
    subject: &str,
    storage: StorageType,
) -> Result<()> {
    js.create_stream(Config {
        name: name.to_string(),
        subjects: vec![subject.to_string()],
        storage,
        ..Default::default()
    })
    .await
    .with_context(|| format!("create stream {name}"))?;
    Ok(())
}

/// Deletes a stream, ignoring errors (cleanup after a run).
pub async fn delete_stream(js: &Context, name: &str) {
    let _ = js.delete_stream(name).await;
}

/// Publishes up to `count` copies of `payload` to `subject` with at most
/// `window` PubAcks outstanding, stopping early once `budget` has passed.
/// Returns the messages acknowledged and the time taken.
pub async fn publish_window(
    js: &Context,
    subject: &str,
    payload: Bytes,
    count: u64,
    window: usize,
    budget: Option<Duration>,
) -> Result<(u64, Duration)> {
    let started = Instant::now();
    let mut pending: VecDeque<PublishAckFuture> = VecDeque::with_capacity(window);
    let mut acked = 0u64;
    for sent in 0..count {
        if pending.len() >= window {
            await_ack(pending.pop_front()).await?;
            acked += 1;
        }
        // Checking the clock every 256 messages is cheap enough.
        if sent % 256 == 0 && budget.is_some_and(|budget| started.elapsed() >= budget) {
            break;
        }
        let ack = js
            .publish(subject.to_string(), payload.clone())
            .await
            .context("publish")?;
        pending.push_back(ack);
    }
    while let Some(ack) = pending.pop_front() {
        await_ack(Some(ack)).await?;
        acked += 1;
    }
    Ok((acked, started.elapsed()))
}

async fn await_ack(ack: Option<PublishAckFuture>) -> Result<()> {
    let ack = ack.ok_or_else(|| anyhow!("no ack to wait for"))?;
    ack.await.context("PubAck")?;
    Ok(())
}

/// The stream's message count from `$JS.API.STREAM.INFO.<name>`, or `None`
/// when the server answers without one (an error: not ready, no stream).
/// Raw request and JSON, so it works on any server version.
pub async fn stream_messages(client: &Client, name: &str, limit: Duration) -> Result<Option<u64>> {
    let subject = format!("$JS.API.STREAM.INFO.{name}");
    let reply = timeout(limit, client.request(subject, Bytes::new()))
        .await
        .map_err(|_| anyhow!("STREAM.INFO timed out"))?
        .context("STREAM.INFO")?;
    let info: serde_json::Value =
        serde_json::from_slice(&reply.payload).context("STREAM.INFO reply is not JSON")?;
    Ok(info
        .get("state")
        .and_then(|state| state.get("messages"))
        .and_then(serde_json::Value::as_u64))
}

/// Messages per second, failing when nothing was done.
pub fn rate(done: u64, elapsed: Duration) -> Result<f64> {
    if done == 0 || elapsed.is_zero() {
        bail!("nothing completed");
    }
    Ok(done as f64 / elapsed.as_secs_f64())
}
