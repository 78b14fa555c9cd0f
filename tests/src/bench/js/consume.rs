//! Consuming a pre-filled file stream: pull fetch with an ack per message,
//! and push delivery. The stream is filled once per server and kept on the
//! long-lived JetStream target (refilled only when its count is off), so
//! each run pays for a fresh consumer, not for a fresh fill.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};
use async_nats::jetstream::consumer::{pull, push, AckPolicy, PushConsumer};
use async_nats::jetstream::stream::StorageType;
use async_nats::jetstream::Context;
use async_nats::Client;
use bytes::Bytes;
use futures::StreamExt;
use tokio::time::{timeout, Instant};

use super::client::{
    connect, create_stream, delete_stream, publish_window, rate, stream_messages, unique_names,
};
use crate::bench::limits::{
    JS_BUDGET, JS_FETCH_BATCH, JS_FILL_WINDOW, JS_REQUEST_TIMEOUT, STALL_TIMEOUT,
};

/// Payload of the pre-filled stream's messages.
const PAYLOAD: &[u8] = b"0123456789abcdef";

/// Pull request expiry; a full batch is there long before.
const FETCH_EXPIRES: Duration = Duration::from_secs(2);

/// Idle heartbeat of the push consumer.
const PUSH_HEARTBEAT: Duration = Duration::from_secs(2);

/// Pull fetch in batches of [`JS_FETCH_BATCH`], acking every message, from a
/// durable explicit-ack consumer; msgs/s.
pub async fn run_fetch(addr: SocketAddr, messages: u64) -> Result<f64> {
    let (client, js) = connect(addr).await?;
    let stream_name = ensure_filled(&client, &js, messages).await?;
    let stream = js.get_stream(&stream_name).await.context("get stream")?;
    let (consumer_name, _) = unique_names();
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some(consumer_name.clone()),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .context("create pull consumer")?;
    let started = Instant::now();
    let fetched = async {
        let mut received = 0u64;
        while received < messages && started.elapsed() < JS_BUDGET {
            let want = JS_FETCH_BATCH.min((messages - received) as usize);
            let mut batch = consumer
                .batch()
                .max_messages(want)
                .expires(FETCH_EXPIRES)
                .messages()
                .await
                .context("pull request")?;
            let mut got = 0u64;
            while let Some(message) = batch.next().await {
                let message = message.map_err(|error| anyhow!("fetch: {error}"))?;
                message
                    .ack()
                    .await
                    .map_err(|error| anyhow!("ack: {error}"))?;
                got += 1;
            }
            if got == 0 {
                bail!("a pull request returned nothing after {received} messages");
            }
            received += got;
        }
        Ok(received)
    }
    .await;
    let elapsed = started.elapsed();
    let _ = stream.delete_consumer(&consumer_name).await;
    rate(fetched?, elapsed)
}

/// Push delivery to an inbox (no acks, flow control and heartbeats on, as
/// an ordered consumer runs); msgs/s from subscribing to the last message.
pub async fn run_push(addr: SocketAddr, messages: u64) -> Result<f64> {
    let (client, js) = connect(addr).await?;
    let stream_name = ensure_filled(&client, &js, messages).await?;
    let stream = js.get_stream(&stream_name).await.context("get stream")?;
    let (consumer_name, _) = unique_names();
    let consumer: PushConsumer = stream
        .create_consumer(push::Config {
            durable_name: Some(consumer_name.clone()),
            deliver_subject: client.new_inbox(),
            ack_policy: AckPolicy::None,
            flow_control: true,
            idle_heartbeat: PUSH_HEARTBEAT,
            ..Default::default()
        })
        .await
        .context("create push consumer")?;
    let started = Instant::now();
    let delivered = async {
        let mut deliveries = consumer.messages().await.context("subscribe")?;
        let mut received = 0u64;
        while received < messages && started.elapsed() < JS_BUDGET {
            match timeout(STALL_TIMEOUT, deliveries.next()).await {
                Ok(Some(Ok(_))) => received += 1,
                Ok(Some(Err(error))) => bail!("push: {error}"),
                Ok(None) => bail!("push subscription ended after {received} messages"),
                Err(_) => bail!("push stalled after {received} messages"),
            }
        }
        Ok(received)
    }
    .await;
    let elapsed = started.elapsed();
    let _ = stream.delete_consumer(&consumer_name).await;
    rate(delivered?, elapsed)
}

/// The pre-filled stream's name, (re)filling it with exactly `messages`
/// 16-byte messages unless it already holds that many.
async fn ensure_filled(client: &Client, js: &Context, messages: u64) -> Result<String> {
    let pid = std::process::id();
    let name = format!("BENCH_CONSUME_{pid}");
    let subject = format!("bench.{pid}.consume");
    if let Ok(Some(count)) = stream_messages(client, &name, JS_REQUEST_TIMEOUT).await {
        if count == messages {
            return Ok(name);
        }
    }
    delete_stream(js, &name).await;
    create_stream(js, &name, &subject, StorageType::File).await?;
    let (acked, _) = publish_window(
        js,
        &subject,
        Bytes::from_static(PAYLOAD),
        messages,
        JS_FILL_WINDOW,
        None,
    )
    .await
    .context("fill the stream")?;
    let stored = stream_messages(client, &name, JS_REQUEST_TIMEOUT).await?;
    if stored != Some(acked) || acked != messages {
        bail!("filled {messages}, {acked} acked, stream holds {stored:?}");
    }
    Ok(name)
}
