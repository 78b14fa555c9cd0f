//! An in-memory [`Transport`] for tests: nodes "listen" on made-up socket
//! addresses of one [`MemoryNetwork`], and the test can cut the link between
//! two addresses and heal it again.
//!
//! A cut behaves like a network partition, not like a reset: dials between
//! the two addresses fail, and connections that were open go silent in both
//! directions (writes are swallowed, reads never complete, not even with an
//! end of stream), so only the routes' liveness pings can notice. A
//! connection that lived through a cut stays silent after the heal (a real
//! TCP connection would usually have been given up by then anyway).

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};
use tokio::sync::mpsc;

use crate::transport::{BoxFuture, BoxedStream, RouteListener, Transport};

/// Bytes buffered in each direction of an in-memory connection.
const PIPE_CAPACITY: usize = 256 * 1024;
/// Connections waiting to be accepted per listener.
const ACCEPT_BACKLOG: usize = 128;

/// An unordered pair of node addresses.
type Link = (SocketAddr, SocketAddr);

fn link(a: SocketAddr, b: SocketAddr) -> Link {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

#[derive(Default)]
struct NetworkState {
    listeners: HashMap<SocketAddr, mpsc::Sender<(BoxedStream, SocketAddr)>>,
    /// Links cut right now.
    cut: HashSet<Link>,
    /// Bumped at each cut: a connection opened at another epoch is dead.
    epochs: HashMap<Link, u64>,
    next_port: u16,
}

/// A simulated network of nodes.
#[derive(Default)]
pub struct MemoryNetwork {
    /// Listeners and cuts. Locked briefly by dials, cuts and every read or
    /// write of an in-memory stream; never across an await.
    state: Mutex<NetworkState>,
}

impl MemoryNetwork {
    /// An empty network.
    pub fn new() -> Arc<MemoryNetwork> {
        Arc::new(MemoryNetwork::default())
    }

    /// Listen on `addr`.
    pub fn bind(self: &Arc<Self>, addr: SocketAddr) -> io::Result<MemoryListener> {
        let (sender, receiver) = mpsc::channel(ACCEPT_BACKLOG);
        let mut state = self.lock();
        if state.listeners.contains_key(&addr) {
            return Err(io::ErrorKind::AddrInUse.into());
        }
        state.listeners.insert(addr, sender);
        Ok(MemoryListener {
            network: Arc::clone(self),
            local_addr: addr,
            receiver,
        })
    }

    /// A dialer for the node listening on `local` (its connections belong
    /// to the link between `local` and the dialed address).
    pub fn transport(self: &Arc<Self>, local: SocketAddr) -> MemoryTransport {
        MemoryTransport {
            network: Arc::clone(self),
            local,
        }
    }

    /// Cut the link between `a` and `b`.
    pub fn partition(&self, a: SocketAddr, b: SocketAddr) {
        let mut state = self.lock();
        let link = link(a, b);
        state.cut.insert(link);
        *state.epochs.entry(link).or_default() += 1;
    }

    /// Restore the link between `a` and `b` for new connections.
    pub fn heal(&self, a: SocketAddr, b: SocketAddr) {
        self.lock().cut.remove(&link(a, b));
    }

    fn connect(
        self: &Arc<Self>,
        from: SocketAddr,
        to: SocketAddr,
    ) -> io::Result<(BoxedStream, SocketAddr)> {
        let mut state = self.lock();
        let link = link(from, to);
        if state.cut.contains(&link) {
            return Err(io::ErrorKind::TimedOut.into());
        }
        let sender = state
            .listeners
            .get(&to)
            .ok_or(io::ErrorKind::ConnectionRefused)?
            .clone();
        let epoch = state.epochs.get(&link).copied().unwrap_or_default();
        state.next_port = state.next_port.wrapping_add(1);
        let ephemeral = SocketAddr::new(from.ip(), 40_000 + state.next_port % 20_000);
        drop(state);
        let (near, far) = tokio::io::duplex(PIPE_CAPACITY);
        let stream = |inner| MemoryStream {
            inner,
            network: Arc::clone(self),
            link,
            epoch,
        };
        sender
            .try_send((Box::new(stream(far)), ephemeral))
            .map_err(|_| io::Error::from(io::ErrorKind::ConnectionRefused))?;
        Ok((Box::new(stream(near)), to))
    }

    fn is_cut(&self, link: Link, epoch: u64) -> bool {
        let state = self.lock();
        state.cut.contains(&link) || state.epochs.get(&link).copied().unwrap_or_default() != epoch
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, NetworkState> {
        // Plain maps, whole after any panic.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Dials over a [`MemoryNetwork`].
pub struct MemoryTransport {
    network: Arc<MemoryNetwork>,
    local: SocketAddr,
}

impl Transport for MemoryTransport {
    fn dial<'a>(
        &'a self,
        host_port: &'a str,
    ) -> BoxFuture<'a, io::Result<(BoxedStream, SocketAddr)>> {
        Box::pin(async move {
            let to: SocketAddr = host_port
                .parse()
                .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
            self.network.connect(self.local, to)
        })
    }
}

/// Accepts connections dialed to its address.
pub struct MemoryListener {
    network: Arc<MemoryNetwork>,
    local_addr: SocketAddr,
    receiver: mpsc::Receiver<(BoxedStream, SocketAddr)>,
}

impl RouteListener for MemoryListener {
    fn accept(&mut self) -> BoxFuture<'_, io::Result<(BoxedStream, SocketAddr)>> {
        // mpsc::Receiver::recv is cancel-safe.
        Box::pin(async move {
            self.receiver
                .recv()
                .await
                .ok_or(io::ErrorKind::NotConnected.into())
        })
    }

    fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

impl Drop for MemoryListener {
    fn drop(&mut self) {
        self.network.lock().listeners.remove(&self.local_addr);
    }
}

/// One end of an in-memory connection.
struct MemoryStream {
    inner: DuplexStream,
    network: Arc<MemoryNetwork>,
    link: Link,
    epoch: u64,
}

impl AsyncRead for MemoryStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.network.is_cut(self.link, self.epoch) {
            // Silence: never ready. The route's other select branches (its
            // ping timer, its close token) still run.
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for MemoryStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.network.is_cut(self.link, self.epoch) {
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.network.is_cut(self.link, self.epoch) {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
