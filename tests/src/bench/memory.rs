//! Memory per idle client connection: a fresh server, its RSS before and
//! after opening many connections that each finished CONNECT + PING/PONG.
//!
//! A fresh process per measurement, so heap grown by earlier throughput runs
//! cannot absorb the connections' memory.

use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::timeout;

use super::limits::{CONNECT_CONCURRENCY, MEMORY_SETTLE, RUN_TIMEOUT};
use super::server::{rss_kib, ServerSpec, Target, Topology};
use super::wire::{Connection, Stream};

/// Result of one memory measurement.
#[derive(Debug, Clone, Copy)]
pub struct MemoryUse {
    /// Server RSS with no client connected, in KiB.
    pub idle_rss_kib: u64,
    /// Server RSS with all connections open, in KiB.
    pub loaded_rss_kib: u64,
    /// `(loaded - idle) / connections`, in KiB.
    pub per_connection_kib: f64,
}

/// Starts a fresh `spec` server, opens `connections` idle clients, measures.
pub async fn run(spec: &ServerSpec, connections: usize, log_dir: &Path) -> Result<MemoryUse> {
    let target = Target::start(spec, Topology::Single, log_dir).await?;
    let result = timeout(RUN_TIMEOUT, measure(&target, connections))
        .await
        .map_err(|_| anyhow!("memory run exceeded {RUN_TIMEOUT:?}"));
    target.stop().await;
    result?
}

async fn measure(target: &Target, connections: usize) -> Result<MemoryUse> {
    let pid = target.pid().context("server has no pid")?;
    let addr = target.endpoints().publish;
    tokio::time::sleep(MEMORY_SETTLE).await;
    let idle_rss_kib = rss_kib(pid)?;

    let permits = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let mut handshakes = JoinSet::new();
    for _ in 0..connections {
        let permits = Arc::clone(&permits);
        handshakes.spawn(async move {
            let _permit = permits.acquire_owned().await?;
            // Keep only the socket: the bench's read buffer is not needed
            // for an idle connection.
            Connection::connect(addr, false)
                .await
                .map(|connection| connection.stream)
        });
    }
    let mut open: Vec<Stream> = Vec::with_capacity(connections);
    let mut first_error = None;
    while let Some(joined) = handshakes.join_next().await {
        match joined
            .map_err(anyhow::Error::from)
            .and_then(|result| result)
        {
            Ok(stream) => open.push(stream),
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    if let Some(error) = first_error {
        bail!(
            "only {} of {connections} connections opened: {error:#}",
            open.len()
        );
    }
    tokio::time::sleep(MEMORY_SETTLE).await;
    let loaded_rss_kib = rss_kib(pid)?;
    drop(open);
    Ok(MemoryUse {
        idle_rss_kib,
        loaded_rss_kib,
        per_connection_kib: loaded_rss_kib.saturating_sub(idle_rss_kib) as f64 / connections as f64,
    })
}
