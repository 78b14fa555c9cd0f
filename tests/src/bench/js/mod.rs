//! JetStream scenarios. The load generator is async-nats, the official Rust
//! client, so every server is driven through the same JetStream client code
//! a user would run (unlike the core scenarios' raw-TCP clients).
//!
//! Each server runs with `-js -sd DIR` on a fresh temporary store directory.
//! Measured loops are bounded by a message count and by a time budget
//! ([`super::limits::JS_BUDGET`]): a server that fsyncs before every PubAck reports its
//! rate over what it did in the budget instead of stretching the run.
//!
//! Module map:
//! - [`client`]: connecting, stream names, windowed publishing, STREAM.INFO.
//! - [`publish`]: async publish (file and memory) and sync publish latency.
//! - [`consume`]: pull fetch with acks, and push delivery, from a pre-filled
//!   stream kept on the long-lived target.
//! - [`kv`]: sequential KV put and get.
//! - [`restart`]: SIGKILL a server holding a large stream, time its recovery;
//!   disk bytes per message.
//! - [`footprint`]: RSS per stream and per consumer on a fresh server.

pub mod client;
pub mod consume;
pub mod footprint;
pub mod kv;
pub mod publish;
pub mod restart;

use std::path::Path;

use anyhow::{anyhow, Result};
use async_nats::jetstream::stream::StorageType;
use tokio::time::timeout;

use super::limits::JS_RUN_TIMEOUT;
use super::server::{ServerSpec, Target};

/// One JetStream scenario and its sizes.
#[derive(Debug, Clone, Copy)]
pub enum JetStream {
    /// Publish with `window` PubAcks outstanding.
    PubAsync {
        /// Payload bytes.
        payload: usize,
        /// PubAcks outstanding.
        window: usize,
        /// File or memory stream.
        storage: StorageType,
        /// Messages at most.
        messages: u64,
    },
    /// Publish one message at a time, waiting for its PubAck.
    PubSync {
        /// Messages at most.
        messages: u64,
    },
    /// Pull fetch in batches, acking every message.
    Fetch {
        /// Messages in the pre-filled stream (consumed at most).
        messages: u64,
    },
    /// Push delivery (no acks, flow control on).
    Push {
        /// Messages in the pre-filled stream.
        messages: u64,
    },
    /// Sequential KV puts.
    KvPut {
        /// Operations at most.
        ops: u64,
    },
    /// Sequential KV gets of existing keys.
    KvGet {
        /// Operations at most.
        ops: u64,
    },
    /// Fill a stream, SIGKILL, restart, time until STREAM.INFO has it all.
    Restart {
        /// Messages stored before the kill.
        messages: u64,
    },
    /// RSS per stream and per consumer.
    Footprint {
        /// Streams created.
        streams: usize,
        /// Consumers created (on one stream).
        consumers: usize,
    },
}

impl JetStream {
    /// Whether the scenario runs on the long-lived JetStream target (restart
    /// and footprint start fresh servers of their own).
    pub fn needs_target(&self) -> bool {
        !matches!(self, Self::Restart { .. } | Self::Footprint { .. })
    }

    /// Runs once; one value per report row of the scenario.
    pub async fn run(
        self,
        target: Option<&Target>,
        spec: &ServerSpec,
        log_dir: &Path,
    ) -> Result<Vec<f64>> {
        let addr = || {
            target
                .map(|target| target.endpoints().publish)
                .ok_or_else(|| anyhow!("no running JetStream target (it failed to start)"))
        };
        let run = async {
            match self {
                Self::PubAsync {
                    payload,
                    window,
                    storage,
                    messages,
                } => Ok(vec![
                    publish::run_async(addr()?, payload, storage, messages, window).await?,
                ]),
                Self::PubSync { messages } => {
                    let result = publish::run_sync(addr()?, messages).await?;
                    Ok(vec![result.rate, result.p50, result.p99])
                }
                Self::Fetch { messages } => Ok(vec![consume::run_fetch(addr()?, messages).await?]),
                Self::Push { messages } => Ok(vec![consume::run_push(addr()?, messages).await?]),
                Self::KvPut { ops } => Ok(vec![kv::run_put(addr()?, ops).await?]),
                Self::KvGet { ops } => Ok(vec![kv::run_get(addr()?, ops).await?]),
                Self::Restart { messages } => {
                    let result = restart::run(spec, log_dir, messages).await?;
                    Ok(vec![result.restart_ms, result.disk_bytes_per_message])
                }
                Self::Footprint { streams, consumers } => {
                    let result = footprint::run(spec, log_dir, streams, consumers).await?;
                    Ok(vec![result.per_stream_kib, result.per_consumer_kib])
                }
            }
        };
        timeout(JS_RUN_TIMEOUT, run)
            .await
            .map_err(|_| anyhow!("run exceeded {JS_RUN_TIMEOUT:?}"))?
    }
}
