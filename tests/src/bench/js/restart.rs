//! Recovery after a crash: a fresh server stores a stream of N 16-byte
//! messages, is SIGKILLed, and is started again on the same store directory;
//! the time from the new spawn until `$JS.API.STREAM.INFO` reports all N
//! messages. Before the kill, the store directory's allocated size gives the
//! disk bytes per message.

use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use async_nats::jetstream::stream::StorageType;
use bytes::Bytes;
use tokio::time::Instant;

use super::client::{connect, create_stream, publish_window, stream_messages};
use crate::bench::limits::{
    JS_FILL_WINDOW, JS_POLL, JS_RECOVERY_TIMEOUT, JS_REQUEST_TIMEOUT, JS_WRITE_SETTLE,
    STARTUP_TIMEOUT,
};
use crate::bench::server::{ServerSpec, Target, Topology};

const STREAM: &str = "BENCH_RESTART";
const SUBJECT: &str = "bench.restart";
const PAYLOAD: &[u8] = b"0123456789abcdef";

/// Result of one restart measurement.
#[derive(Debug, Clone, Copy)]
pub struct Restart {
    /// Spawn to a STREAM.INFO with the full count, milliseconds.
    pub restart_ms: f64,
    /// Allocated bytes of the store directory per stored message.
    pub disk_bytes_per_message: f64,
}

/// Starts a fresh `spec` server with JetStream, fills, kills, restarts.
pub async fn run(spec: &ServerSpec, log_dir: &Path, messages: u64) -> Result<Restart> {
    let mut target = Target::start(spec, Topology::JetStream, log_dir).await?;
    let result = measure(&mut target, messages).await;
    target.stop().await;
    result
}

async fn measure(target: &mut Target, messages: u64) -> Result<Restart> {
    fill(target.endpoints().publish, messages).await?;
    tokio::time::sleep(JS_WRITE_SETTLE).await;
    let store = target
        .store_dir()
        .context("JetStream target without a store dir")?;
    let disk_bytes = allocated_bytes(store)?;
    let spawned = target.kill_and_relaunch().await?;
    let restart = wait_recovered(target, messages, spawned).await?;
    Ok(Restart {
        restart_ms: restart.as_secs_f64() * 1e3,
        disk_bytes_per_message: disk_bytes as f64 / messages as f64,
    })
}

async fn fill(addr: SocketAddr, messages: u64) -> Result<()> {
    let (client, js) = connect(addr).await?;
    create_stream(&js, STREAM, SUBJECT, StorageType::File).await?;
    let payload = Bytes::from_static(PAYLOAD);
    let (acked, _) = publish_window(&js, SUBJECT, payload, messages, JS_FILL_WINDOW, None)
        .await
        .context("fill the stream")?;
    let stored = stream_messages(&client, STREAM, JS_REQUEST_TIMEOUT).await?;
    if acked != messages || stored != Some(messages) {
        bail!("filled {messages}, {acked} acked, stream holds {stored:?}");
    }
    Ok(())
}

/// Polls the relaunched server (connect, then STREAM.INFO) every
/// [`JS_POLL`] until it reports `messages`; the time since `spawned`.
async fn wait_recovered(target: &mut Target, messages: u64, spawned: Instant) -> Result<Duration> {
    let addr = target.endpoints().publish;
    let mut client = None;
    let mut last_count = None;
    let mut first_answer: Option<Instant> = None;
    loop {
        if target.any_exited() {
            bail!("the server exited while recovering");
        }
        if spawned.elapsed() > STARTUP_TIMEOUT + JS_RECOVERY_TIMEOUT
            || first_answer.is_some_and(|at| at.elapsed() > JS_RECOVERY_TIMEOUT)
        {
            bail!(
                "not recovered after {:?}: STREAM.INFO says {last_count:?} of {messages} messages",
                spawned.elapsed()
            );
        }
        if client.is_none() {
            client = async_nats::ConnectOptions::new()
                .connection_timeout(Duration::from_secs(1))
                .connect(format!("nats://{addr}"))
                .await
                .ok();
        }
        if let Some(connected) = &client {
            if let Ok(Some(count)) =
                stream_messages(connected, STREAM, Duration::from_secs(1)).await
            {
                if count == messages {
                    return Ok(spawned.elapsed());
                }
                first_answer.get_or_insert_with(Instant::now);
                last_count = Some(count);
            }
        }
        tokio::time::sleep(JS_POLL).await;
    }
}

/// Bytes allocated to the files under `dir` (what `du` reports).
fn allocated_bytes(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).with_context(|| format!("read {}", dir.display()))? {
        let entry = entry?;
        let metadata = entry.metadata()?;
        total += if metadata.is_dir() {
            allocated_bytes(&entry.path())?
        } else {
            metadata.blocks() * 512
        };
    }
    Ok(total)
}
