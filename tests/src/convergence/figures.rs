//! The four convergence figures of issue 8, each measured against real
//! server processes on loopback.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{bail, Result};
use tokio::time::{sleep, Instant};

use super::client::{Client, Event};
use super::mesh::{Mesh, MESH_TIMEOUT};
use super::node::ServerSpec;

/// Longest one "is the SUB usable yet" probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// Subject of the wire-bytes figure: 15 characters.
pub const WIRE_SUBJECT: &str = "conv.wire.bytes";
/// Payload of the wire-bytes figure: 16 bytes.
const WIRE_PAYLOAD: &[u8] = b"0123456789abcdef";
/// Messages published for the wire-bytes figure per batch write.
const WIRE_BATCH: usize = 1_000;

/// Time from `SUB subject` written on `sub` until a message that `publisher`
/// keeps publishing (publish, PING, PONG, again) arrives on it.
async fn probe(
    sub: &mut Client,
    publisher: &mut Client,
    subject: &str,
    sid: u64,
) -> Result<Duration> {
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    sub.send(format!("SUB {subject} {sid}\r\n").as_bytes())
        .await?;
    let publish = format!("PUB {subject} 2\r\nhi\r\n");
    let publishing = async {
        while !stop.load(Ordering::SeqCst) {
            if started.elapsed() > PROBE_TIMEOUT {
                bail!("no message on {subject} within {PROBE_TIMEOUT:?}");
            }
            publisher.flush(publish.as_bytes()).await?;
        }
        anyhow::Ok(())
    };
    let receiving = async {
        let result = loop {
            match sub.next().await {
                Ok(Event::Msg(got)) if got == subject => break Ok(started.elapsed()),
                Ok(_) => {}
                Err(error) => break Err(error),
            }
        };
        stop.store(true, Ordering::SeqCst);
        result
    };
    let (published, received) = tokio::join!(publishing, receiving);
    published?;
    let elapsed = received?;
    // Drop the interest again so the next probe starts from the same state.
    sub.flush(format!("UNSUB {sid}\r\n").as_bytes()).await?;
    Ok(elapsed)
}

/// Figure 1: a SUB on node C (of three) usable by a publisher on node A.
pub async fn interest(spec: &ServerSpec, log_dir: &Path, samples: usize) -> Result<Vec<Duration>> {
    let mesh = Mesh::start(spec, 3, None, log_dir, "interest").await?;
    let result = async {
        mesh.wait_formed().await?;
        let mut publisher = Client::connect(mesh.nodes[0].ports.client_addr()).await?;
        let mut sub = Client::connect(mesh.nodes[2].ports.client_addr()).await?;
        let warmup = samples / 10 + 5;
        let mut times = Vec::with_capacity(samples);
        for index in 0..warmup + samples {
            let subject = format!("conv.interest.{index}");
            let elapsed = probe(&mut sub, &mut publisher, &subject, index as u64 + 1).await?;
            if index >= warmup {
                times.push(elapsed);
            }
        }
        Ok(times)
    }
    .await;
    mesh.stop().await;
    result
}

/// Figure 2: node B holds `subs` subscriptions; the route to node A comes
/// up; time from the route connection's accept until A counts them all.
/// One round of the snapshot figure.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotRound {
    /// From the route connection's accept until A counted every subscription.
    pub elapsed: Duration,
    /// CPU time node A (the receiver) used meanwhile.
    pub receiver_cpu: Duration,
    /// CPU time node B (the sender) used meanwhile.
    pub sender_cpu: Duration,
}

/// Interval of the `/subsz` polls while waiting for the count (each poll
/// costs the node a little CPU, so not too often).
const COUNT_POLL: Duration = Duration::from_millis(5);

pub async fn snapshot(
    spec: &ServerSpec,
    log_dir: &Path,
    subs: usize,
    rounds: usize,
) -> Result<Vec<SnapshotRound>> {
    let mesh = Mesh::start(spec, 2, Some(false), log_dir, "snapshot").await?;
    let result = async {
        let mut client = Client::connect(mesh.nodes[1].ports.client_addr()).await?;
        let mut ops = Vec::new();
        for index in 0..subs {
            ops.extend_from_slice(format!("SUB conv.snap.{index} {}\r\n", index + 1).as_bytes());
            if ops.len() > 256 * 1024 {
                client.send(&ops).await?;
                ops.clear();
            }
        }
        client.flush(&ops).await?;
        let (a, b) = (&mesh.nodes[0], &mesh.nodes[1]);
        if b.subscriptions().await? < subs as u64 {
            bail!("node B does not count its {subs} subscriptions");
        }
        // nats-server counts its own internal subscriptions too.
        let base = a.subscriptions().await?;
        let mut times = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let cpu_before = (
                a.cpu_time().unwrap_or_default(),
                b.cpu_time().unwrap_or_default(),
            );
            mesh.heal();
            let deadline = Instant::now() + MESH_TIMEOUT;
            while a.subscriptions().await? < base + subs as u64 {
                if Instant::now() >= deadline {
                    bail!("node A never counted {subs} subscriptions");
                }
                sleep(COUNT_POLL).await;
            }
            let done = Instant::now();
            let Some(accepted) = mesh.first_accept() else {
                bail!("no route connection was accepted");
            };
            times.push(SnapshotRound {
                elapsed: done - accepted,
                receiver_cpu: a
                    .cpu_time()
                    .unwrap_or_default()
                    .saturating_sub(cpu_before.0),
                sender_cpu: b
                    .cpu_time()
                    .unwrap_or_default()
                    .saturating_sub(cpu_before.1),
            });
            mesh.partition().await?;
            let deadline = Instant::now() + MESH_TIMEOUT;
            let mut left = a.subscriptions().await?;
            while left > base {
                if Instant::now() >= deadline {
                    bail!(
                        "node A kept {} of B's subscriptions after the partition",
                        left - base
                    );
                }
                left = a.subscriptions().await?;
                sleep(Duration::from_millis(5)).await;
            }
        }
        drop(client);
        Ok(times)
    }
    .await;
    mesh.stop().await;
    result
}

/// Figure 3: route bytes that reach node A per 16-byte message published on
/// node B to a 15-character subject A's subscriber listens on.
pub async fn wire_bytes(spec: &ServerSpec, log_dir: &Path, messages: usize) -> Result<f64> {
    let mesh = Mesh::start(spec, 2, Some(true), log_dir, "wire").await?;
    let result = async {
        mesh.wait_formed().await?;
        let mut sub = Client::connect(mesh.nodes[0].ports.client_addr()).await?;
        let mut publisher = Client::connect(mesh.nodes[1].ports.client_addr()).await?;
        sub.flush(format!("SUB {WIRE_SUBJECT} 1\r\n").as_bytes())
            .await?;
        // Publish until the interest has crossed (and any per-route state,
        // such as an interned subject, is set up), then drain.
        let one = [
            format!("PUB {WIRE_SUBJECT} {}\r\n", WIRE_PAYLOAD.len()).as_bytes(),
            WIRE_PAYLOAD,
            b"\r\n",
        ]
        .concat();
        let started = Instant::now();
        loop {
            publisher.flush(&one).await?;
            sub.send(b"PING\r\n").await?;
            let mut got = 0;
            while let Event::Msg(_) = sub.next().await? {
                got += 1;
            }
            if got > 0 {
                break;
            }
            if started.elapsed() > PROBE_TIMEOUT {
                bail!("interest never crossed the route");
            }
        }
        let before = mesh.bytes_into_first();
        let batch = one.repeat(WIRE_BATCH);
        let mut sent = 0;
        let receiving = async {
            let mut received = 0;
            while received < messages {
                if let Event::Msg(_) = sub.next().await? {
                    received += 1;
                }
            }
            anyhow::Ok(())
        };
        let publishing = async {
            while sent < messages {
                publisher.send(&batch).await?;
                sent += WIRE_BATCH;
            }
            publisher.flush(b"").await
        };
        let (received, published) = tokio::join!(receiving, publishing);
        received?;
        published?;
        let bytes = mesh.bytes_into_first() - before;
        Ok(bytes as f64 / sent as f64)
    }
    .await;
    mesh.stop().await;
    result
}

/// Figure 4: three nodes, every route cut for `partition`; from the heal
/// until a new SUB on node C receives what node A publishes.
pub async fn partition_heal(
    spec: &ServerSpec,
    log_dir: &Path,
    partition: Duration,
    rounds: usize,
) -> Result<Vec<Duration>> {
    let mesh = Mesh::start(spec, 3, Some(true), log_dir, "partition").await?;
    let result = async {
        mesh.wait_formed().await?;
        let mut publisher = Client::connect(mesh.nodes[0].ports.client_addr()).await?;
        let mut sub = Client::connect(mesh.nodes[2].ports.client_addr()).await?;
        let mut times = Vec::with_capacity(rounds);
        for round in 0..rounds {
            mesh.partition().await?;
            // The partition's length is the experiment, not a synchronisation.
            sleep(partition).await;
            let healed = mesh.heal();
            let subject = format!("conv.healed.{round}");
            let offset = healed.elapsed();
            let usable = probe(&mut sub, &mut publisher, &subject, round as u64 + 1).await?;
            times.push(offset + usable);
            // Let the whole mesh re-form before the next round.
            mesh.wait_formed().await?;
        }
        Ok(times)
    }
    .await;
    mesh.stop().await;
    result
}
