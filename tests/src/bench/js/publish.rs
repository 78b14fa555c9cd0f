//! Publishing to a stream: async (a window of outstanding PubAcks) and
//! sync (one message at a time, each ack timed).

use std::net::SocketAddr;

use anyhow::{Context as _, Result};
use async_nats::jetstream::stream::StorageType;
use bytes::Bytes;
use tokio::time::Instant;

use super::client::{connect, create_stream, delete_stream, publish_window, rate, unique_names};
use crate::bench::latency::percentiles;
use crate::bench::limits::JS_BUDGET;

/// Async publish of up to `messages` payloads of `payload` bytes to a fresh
/// stream with `window` PubAcks outstanding; msgs/s.
pub async fn run_async(
    addr: SocketAddr,
    payload: usize,
    storage: StorageType,
    messages: u64,
    window: usize,
) -> Result<f64> {
    let (_client, js) = connect(addr).await?;
    let (name, subject) = unique_names();
    create_stream(&js, &name, &subject, storage).await?;
    let body = Bytes::from(vec![b'x'; payload]);
    let result = publish_window(&js, &subject, body, messages, window, Some(JS_BUDGET)).await;
    delete_stream(&js, &name).await;
    let (acked, elapsed) = result?;
    rate(acked, elapsed)
}

/// Result of the sync publish scenario.
#[derive(Debug, Clone, Copy)]
pub struct SyncPublish {
    /// Messages per second.
    pub rate: f64,
    /// Median publish-to-PubAck time, microseconds.
    pub p50: f64,
    /// 99th percentile, microseconds.
    pub p99: f64,
}

/// Sequential publish of up to `messages` 16-byte payloads, each waiting for
/// its PubAck, to a fresh file stream.
pub async fn run_sync(addr: SocketAddr, messages: u64) -> Result<SyncPublish> {
    let (_client, js) = connect(addr).await?;
    let (name, subject) = unique_names();
    create_stream(&js, &name, &subject, StorageType::File).await?;
    let body = Bytes::from_static(b"0123456789abcdef");
    let mut samples = Vec::with_capacity(messages as usize);
    let started = Instant::now();
    let mut result = Ok(());
    while (samples.len() as u64) < messages && started.elapsed() < JS_BUDGET {
        let sent = Instant::now();
        let acked = async {
            js.publish(subject.clone(), body.clone())
                .await
                .context("publish")?
                .await
                .context("PubAck")
        };
        if let Err(error) = acked.await {
            result = Err(error);
            break;
        }
        samples.push(sent.elapsed());
    }
    let elapsed = started.elapsed();
    delete_stream(&js, &name).await;
    result?;
    let rate = rate(samples.len() as u64, elapsed)?;
    let percentiles = percentiles(&mut samples)?;
    Ok(SyncPublish {
        rate,
        p50: percentiles.p50,
        p99: percentiles.p99,
    })
}
