//! A TCP proxy this process controls, put in front of a node's route port:
//! it counts the bytes it forwards, and can cut every connection and refuse
//! new ones (a partition) or forward again (the partition heals).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Result;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Bytes one direction's copy loop reads per call.
const COPY_BUFFER: usize = 64 * 1024;

#[derive(Debug)]
struct State {
    /// New connections are forwarded (else accepted and closed at once).
    forward: AtomicBool,
    /// Bumped to cut every open connection.
    cut: watch::Sender<u64>,
    /// Bytes from dialers to the upstream node.
    to_upstream: AtomicU64,
    /// Bytes from the upstream node back to dialers.
    from_upstream: AtomicU64,
    /// When the first connection forwarded since the last [`Proxy::heal`]
    /// was accepted.
    first_accept: Mutex<Option<Instant>>,
}

/// A running proxy; dropping it stops accepting (open pipes end with their
/// connections or at the next cut).
#[derive(Debug)]
pub struct Proxy {
    /// Where dialers connect.
    pub addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl Proxy {
    /// Listens on an ephemeral loopback port and forwards to `upstream`
    /// once `forwarding` (else refuses until [`Proxy::heal`]).
    pub async fn start(upstream: SocketAddr, forwarding: bool) -> Result<Proxy> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            forward: AtomicBool::new(forwarding),
            cut: watch::channel(0).0,
            to_upstream: AtomicU64::new(0),
            from_upstream: AtomicU64::new(0),
            first_accept: Mutex::new(None),
        });
        let task = tokio::spawn(accept_loop(listener, upstream, Arc::clone(&state)));
        Ok(Proxy { addr, state, task })
    }

    /// Cut every connection and refuse new ones.
    pub fn partition(&self) {
        self.state.forward.store(false, Ordering::SeqCst);
        self.state.cut.send_modify(|generation| *generation += 1);
    }

    /// Forward new connections again; forgets the last first-accept time.
    pub fn heal(&self) {
        *lock(&self.state.first_accept) = None;
        self.state.forward.store(true, Ordering::SeqCst);
    }

    /// When the first connection since the last heal was accepted.
    pub fn first_accept(&self) -> Option<Instant> {
        *lock(&self.state.first_accept)
    }

    /// Bytes forwarded (to the upstream node, back from it) so far.
    pub fn bytes(&self) -> (u64, u64) {
        (
            self.state.to_upstream.load(Ordering::SeqCst),
            self.state.from_upstream.load(Ordering::SeqCst),
        )
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.partition();
        self.task.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, state: Arc<State>) {
    loop {
        let Ok((inbound, _)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        if !state.forward.load(Ordering::SeqCst) {
            drop(inbound);
            continue;
        }
        lock(&state.first_accept).get_or_insert_with(Instant::now);
        tokio::spawn(pipe(inbound, upstream, Arc::clone(&state)));
    }
}

/// Forward one connection both ways until either side ends or a cut.
async fn pipe(inbound: TcpStream, upstream: SocketAddr, state: Arc<State>) {
    let mut cut = state.cut.subscribe();
    let Ok(outbound) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (in_read, in_write) = inbound.into_split();
    let (out_read, out_write) = outbound.into_split();
    tokio::select! {
        _ = cut.changed() => {}
        _ = copy(in_read, out_write, &state.to_upstream) => {}
        _ = copy(out_read, in_write, &state.from_upstream) => {}
    }
}

async fn copy(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    counter: &AtomicU64,
) {
    let mut buf = vec![0u8; COPY_BUFFER];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
        counter.fetch_add(n as u64, Ordering::SeqCst);
    }
}
