//! Request/reply latency: one responder, one requester doing sequential
//! requests, each round trip timed on its own.
//!
//! The requester subscribes once to `_INBOX.<id>.*` and sends each request
//! with a fresh reply subject `_INBOX.<id>.<seq>`, as client libraries do, so
//! a late reply to an earlier request can never be mistaken for the current
//! one. The responder connects to the subscribe endpoint, the requester to
//! the publish endpoint: across nodes on a cluster target.
//!
//! Both sides use blocking sockets on their own threads: a thread blocked in
//! `read` is woken straight by the kernel, so the client adds no async
//! runtime wake-up latency to what the servers are measured on.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bytes::BytesMut;
use tokio::time::Instant;

use super::limits::{
    FLUSH_TIMEOUT, HANDSHAKE_TIMEOUT, READ_BUFFER_BYTES, REQUEST_TIMEOUT, STARTUP_TIMEOUT,
    SYNC_RETRY,
};
use super::server::Endpoints;
use super::unique_prefix;
use super::wire::{Op, PayloadMode, Scanner, CONNECT};

/// One latency measurement to take.
#[derive(Debug, Clone, Copy)]
pub struct RequestReply {
    /// Request (and reply) payload size in bytes.
    pub payload: usize,
    /// Requests before measuring, to warm caches and connections.
    pub warmup: usize,
    /// Measured requests.
    pub requests: usize,
}

/// Round-trip percentiles, in microseconds.
#[derive(Debug, Clone, Copy)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
}

/// Runs one measurement and returns the round-trip percentiles. Every
/// blocking read has a timeout, so the threads always finish.
pub async fn run(endpoints: Endpoints, spec: RequestReply) -> Result<Percentiles> {
    tokio::task::spawn_blocking(move || run_blocking(endpoints, spec)).await?
}

fn run_blocking(endpoints: Endpoints, spec: RequestReply) -> Result<Percentiles> {
    let prefix = unique_prefix();
    let service = format!("{prefix}.service");
    let mut responder = Client::connect(endpoints.subscribe)?;
    responder.flush_with(format!("SUB {service} 1\r\n").as_bytes())?;
    // Shutting this handle down ends the responder thread's blocking read.
    let responder_socket = responder.stream.try_clone()?;
    let responder_thread = std::thread::spawn(move || respond(responder));

    let measured = measure(endpoints.publish, &prefix, &service, spec);
    let _ = responder_socket.shutdown(Shutdown::Both);
    let responder_result = responder_thread
        .join()
        .map_err(|_| anyhow!("responder thread panicked"))?;
    // The responder always ends with an error (our shutdown); it only
    // explains a failed measurement.
    let mut samples = match (measured, responder_result) {
        (Ok(samples), _) => samples,
        (Err(error), Err(responder)) => {
            return Err(error.context(format!("responder: {responder:#}")))
        }
        (Err(error), Ok(())) => return Err(error),
    };
    percentiles(&mut samples)
}

fn measure(
    addr: SocketAddr,
    prefix: &str,
    service: &str,
    spec: RequestReply,
) -> Result<Vec<Duration>> {
    let mut requester = Requester::connect(addr, prefix, service, spec.payload)?;
    // On a cluster the service's interest may not have reached the
    // requester's node yet: retry the first request until it is answered.
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        match requester.request(SYNC_RETRY * 10) {
            Ok(()) => break,
            Err(_) if Instant::now() < deadline => continue,
            Err(error) => return Err(error.context("service not reachable")),
        }
    }
    for _ in 0..spec.warmup {
        requester.request(REQUEST_TIMEOUT)?;
    }
    let mut samples = Vec::with_capacity(spec.requests);
    for _ in 0..spec.requests {
        let started = Instant::now();
        requester.request(REQUEST_TIMEOUT)?;
        samples.push(started.elapsed());
    }
    Ok(samples)
}

/// Nearest-rank percentiles of the samples, in microseconds.
pub fn percentiles(samples: &mut [Duration]) -> Result<Percentiles> {
    if samples.is_empty() {
        bail!("no samples");
    }
    samples.sort_unstable();
    let at = |quantile: f64| {
        let rank = (quantile * samples.len() as f64).ceil() as usize;
        samples[rank.clamp(1, samples.len()) - 1].as_secs_f64() * 1e6
    };
    Ok(Percentiles {
        p50: at(0.50),
        p99: at(0.99),
        p999: at(0.999),
    })
}

/// A blocking client connection that finished the handshake.
struct Client {
    stream: TcpStream,
    buf: BytesMut,
    scanner: Scanner,
    /// Landing area for one read, copied into `buf`.
    scratch: Vec<u8>,
    /// The socket's current read timeout, to skip redundant setsockopt calls.
    read_timeout: Duration,
}

impl Client {
    fn connect(addr: SocketAddr) -> Result<Self> {
        let stream = TcpStream::connect_timeout(&addr, HANDSHAKE_TIMEOUT)
            .with_context(|| format!("connect to {addr}"))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
        stream.set_write_timeout(Some(FLUSH_TIMEOUT))?;
        let mut client = Self {
            stream,
            buf: BytesMut::with_capacity(READ_BUFFER_BYTES),
            scanner: Scanner::new(PayloadMode::Keep),
            scratch: vec![0; READ_BUFFER_BYTES / 4],
            read_timeout: HANDSHAKE_TIMEOUT,
        };
        client.flush_with(CONNECT)?;
        Ok(client)
    }

    /// Writes `ops` and a PING, and reads until the PONG.
    fn flush_with(&mut self, ops: &[u8]) -> Result<()> {
        self.stream.write_all(ops)?;
        self.stream.write_all(b"PING\r\n")?;
        loop {
            let mut pong = false;
            self.scan(|op| {
                pong |= op == Op::Pong;
                Ok(())
            })?;
            if pong {
                return Ok(());
            }
            self.read_more()?;
        }
    }

    /// Scans buffered operations; answers server PINGs, fails on `-ERR`.
    fn scan(&mut self, mut on_op: impl FnMut(Op<'_>) -> Result<()>) -> Result<()> {
        let mut pings = 0usize;
        self.scanner.scan(&mut self.buf, |op| match op {
            Op::Ping => {
                pings += 1;
                Ok(())
            }
            Op::Err(line) => bail!("server error: {}", String::from_utf8_lossy(line)),
            op => on_op(op),
        })?;
        for _ in 0..pings {
            self.stream.write_all(b"PONG\r\n")?;
        }
        Ok(())
    }

    /// One blocking read (bounded by the socket's read timeout).
    fn read_more(&mut self) -> Result<()> {
        let n = self.stream.read(&mut self.scratch)?;
        if n == 0 {
            bail!("server closed the connection");
        }
        self.buf.extend_from_slice(&self.scratch[..n]);
        Ok(())
    }

    fn set_read_timeout(&mut self, limit: Duration) -> Result<()> {
        if limit != self.read_timeout {
            self.stream.set_read_timeout(Some(limit))?;
            self.read_timeout = limit;
        }
        Ok(())
    }
}

/// Responder loop: answers every request on its reply subject with the
/// request's payload, one write per read. Ends when the socket is shut down.
fn respond(mut client: Client) -> Result<()> {
    // Idle gaps (e.g. while the requester warms up a cluster) are normal.
    client.set_read_timeout(STARTUP_TIMEOUT + REQUEST_TIMEOUT)?;
    let mut out = Vec::with_capacity(4096);
    loop {
        out.clear();
        client.scan(|op| {
            if let Op::Msg {
                reply: Some(reply),
                payload: Some(payload),
                ..
            } = op
            {
                out.extend_from_slice(b"PUB ");
                out.extend_from_slice(reply);
                write!(out, " {}\r\n", payload.len())?;
                out.extend_from_slice(payload);
                out.extend_from_slice(b"\r\n");
            }
            Ok(())
        })?;
        if !out.is_empty() {
            client.stream.write_all(&out)?;
        }
        client.read_more()?;
    }
}

/// The requesting side: one connection, one wildcard inbox subscription.
struct Requester {
    client: Client,
    inbox: String,
    service: String,
    payload: Vec<u8>,
    sequence: u64,
    out: Vec<u8>,
    expected: Vec<u8>,
}

impl Requester {
    fn connect(addr: SocketAddr, prefix: &str, service: &str, payload: usize) -> Result<Self> {
        let inbox = format!("_INBOX.{prefix}");
        let mut client = Client::connect(addr)?;
        client.flush_with(format!("SUB {inbox}.* 1\r\n").as_bytes())?;
        Ok(Self {
            client,
            inbox,
            service: service.to_string(),
            payload: vec![b'r'; payload],
            sequence: 0,
            out: Vec::with_capacity(256 + payload),
            expected: Vec::with_capacity(64),
        })
    }

    /// Sends one request and waits up to `limit` for its reply; replies to
    /// earlier requests are ignored.
    fn request(&mut self, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        self.client.set_read_timeout(limit)?;
        self.sequence += 1;
        self.out.clear();
        write!(
            self.out,
            "PUB {} {}.{} {}\r\n",
            self.service,
            self.inbox,
            self.sequence,
            self.payload.len()
        )?;
        self.out.extend_from_slice(&self.payload);
        self.out.extend_from_slice(b"\r\n");
        self.expected.clear();
        write!(self.expected, "{}.{}", self.inbox, self.sequence)?;
        self.client.stream.write_all(&self.out)?;
        loop {
            let mut answered = false;
            let expected = &self.expected;
            self.client.scan(|op| {
                if let Op::Msg { subject, .. } = op {
                    answered |= subject == expected.as_slice();
                }
                Ok(())
            })?;
            if answered {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!("no reply within {limit:?}");
            }
            self.client
                .read_more()
                .with_context(|| format!("waiting up to {limit:?} for a reply"))?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let mut samples: Vec<Duration> = (1..=1000).map(Duration::from_micros).collect();
        let result = percentiles(&mut samples).expect("non-empty");
        for (got, want) in [
            (result.p50, 500.0),
            (result.p99, 990.0),
            (result.p999, 999.0),
        ] {
            assert!((got - want).abs() < 1e-6, "{got} != {want}");
        }
    }
}
