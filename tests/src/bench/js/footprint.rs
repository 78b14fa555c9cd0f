//! Memory per stream and per consumer: on a fresh JetStream server, the RSS
//! growth from creating many empty file streams, then many durable pull
//! consumers on one stream, divided by the count.

use std::path::Path;

use anyhow::{Context as _, Result};
use async_nats::jetstream::consumer::{pull, AckPolicy};
use async_nats::jetstream::stream::StorageType;

use super::client::{connect, create_stream};
use crate::bench::limits::MEMORY_SETTLE;
use crate::bench::server::{rss_kib, ServerSpec, Target, Topology};

/// Result of one footprint measurement.
#[derive(Debug, Clone, Copy)]
pub struct Footprint {
    /// RSS growth per empty file stream, KiB.
    pub per_stream_kib: f64,
    /// RSS growth per durable pull consumer, KiB.
    pub per_consumer_kib: f64,
}

/// Starts a fresh `spec` server and measures.
pub async fn run(
    spec: &ServerSpec,
    log_dir: &Path,
    streams: usize,
    consumers: usize,
) -> Result<Footprint> {
    let target = Target::start(spec, Topology::JetStream, log_dir).await?;
    let result = measure(&target, streams, consumers).await;
    target.stop().await;
    result
}

async fn measure(target: &Target, streams: usize, consumers: usize) -> Result<Footprint> {
    let pid = target.pid().context("server has no pid")?;
    let (_client, js) = connect(target.endpoints().publish).await?;
    // One stream first, so the JetStream account's first-use cost is not
    // charged to the streams.
    create_stream(&js, "FP_HOST", "bench.fp.host", StorageType::File).await?;
    let settled_rss = move || async move {
        tokio::time::sleep(MEMORY_SETTLE).await;
        rss_kib(pid)
    };
    let before = settled_rss().await?;
    for n in 0..streams {
        create_stream(
            &js,
            &format!("FP_{n}"),
            &format!("bench.fp.{n}"),
            StorageType::File,
        )
        .await?;
    }
    let with_streams = settled_rss().await?;
    let host = js.get_stream("FP_HOST").await.context("get stream")?;
    for n in 0..consumers {
        host.create_consumer(pull::Config {
            durable_name: Some(format!("C_{n}")),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .with_context(|| format!("create consumer {n}"))?;
    }
    let with_consumers = settled_rss().await?;
    Ok(Footprint {
        per_stream_kib: with_streams.saturating_sub(before) as f64 / streams.max(1) as f64,
        per_consumer_kib: with_consumers.saturating_sub(with_streams) as f64
            / consumers.max(1) as f64,
    })
}
