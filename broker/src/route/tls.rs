//! Route TLS behind the cluster crate's transport abstraction: a
//! [`Transport`] that dials TCP and a [`RouteListener`] that accepts TCP,
//! each handing the cluster a stream that runs its TLS handshake on first
//! use (mutual: both sides present a certificate and verify the peer's
//! against `cluster { tls { ca_file } }`).
//!
//! The handshake runs lazily in the route's own task, under the route
//! handshake timeout and the TLS timeout, so the accept loop never waits
//! on a peer. A failed handshake (an untrusted certificate, a peer that
//! does not speak TLS) is logged here and surfaces to the cluster as an
//! I/O error, which refuses the route before any Hello is read.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use rustls_pki_types::ServerName;
use starling_cluster::transport::BoxFuture;
use starling_cluster::{BoxedStream, RouteListener, Transport};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsStream;

use crate::tls::RouteTls;

/// The handshake in progress.
type Handshake = Pin<Box<dyn Future<Output = io::Result<TlsStream<TcpStream>>> + Send>>;

enum State {
    Handshaking(Handshake),
    Ready(Box<TlsStream<TcpStream>>),
    /// The handshake failed; every later operation fails the same way.
    Failed(io::ErrorKind, String),
}

/// A route stream whose TLS handshake runs on its first read or write.
pub struct LazyTlsStream {
    state: State,
}

impl LazyTlsStream {
    fn new(handshake: Handshake) -> LazyTlsStream {
        LazyTlsStream {
            state: State::Handshaking(handshake),
        }
    }

    /// Drives the handshake to its end; then the TLS stream.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<&mut TlsStream<TcpStream>>> {
        if let State::Handshaking(handshake) = &mut self.state {
            self.state = match ready!(handshake.as_mut().poll(cx)) {
                Ok(stream) => State::Ready(Box::new(stream)),
                Err(error) => State::Failed(error.kind(), error.to_string()),
            };
        }
        match &mut self.state {
            State::Ready(stream) => Poll::Ready(Ok(stream)),
            State::Failed(kind, message) => {
                Poll::Ready(Err(io::Error::new(*kind, message.clone())))
            }
            State::Handshaking(_) => Poll::Pending,
        }
    }
}

impl AsyncRead for LazyTlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let stream = ready!(self.get_mut().poll_ready(cx))?;
        Pin::new(stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for LazyTlsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let stream = ready!(self.get_mut().poll_ready(cx))?;
        Pin::new(stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let stream = ready!(self.get_mut().poll_ready(cx))?;
        Pin::new(stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let stream = ready!(self.get_mut().poll_ready(cx))?;
        Pin::new(stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if matches!(this.state, State::Failed(..)) {
            return Poll::Ready(Ok(()));
        }
        let stream = ready!(this.poll_ready(cx))?;
        Pin::new(stream).poll_shutdown(cx)
    }
}

/// Bounds `handshake` by the TLS timeout and logs a failure (nats-server:
/// `TLS route handshake error`).
fn bounded(
    tls: &RouteTls,
    remote: SocketAddr,
    role: &'static str,
    handshake: impl Future<Output = io::Result<TlsStream<TcpStream>>> + Send + 'static,
) -> Handshake {
    let limit = tls.timeout;
    Box::pin(async move {
        let result = match tokio::time::timeout(limit, handshake).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "TLS route handshake timeout",
            )),
        };
        if let Err(error) = &result {
            tracing::warn!(%remote, role, %error, "TLS route handshake error");
        }
        result
    })
}

/// Dials routes over TCP, then TLS (the route URL's host is the name the
/// peer's certificate must carry).
#[derive(Debug, Clone)]
pub struct TlsTransport {
    tls: RouteTls,
}

impl TlsTransport {
    /// A transport presenting and verifying with `tls`.
    pub fn new(tls: RouteTls) -> TlsTransport {
        TlsTransport { tls }
    }
}

impl Transport for TlsTransport {
    fn dial<'a>(
        &'a self,
        host_port: &'a str,
    ) -> BoxFuture<'a, io::Result<(BoxedStream, SocketAddr)>> {
        self.dial_named(host_port, host_of(host_port))
    }

    /// The peer's certificate must carry `name` (the route URL's host name,
    /// when the address was resolved from it), not the dialed address.
    fn dial_named<'a>(
        &'a self,
        host_port: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, io::Result<(BoxedStream, SocketAddr)>> {
        Box::pin(async move {
            let name = server_name(name)?;
            let stream = TcpStream::connect(host_port).await?;
            stream.set_nodelay(true)?;
            let remote = stream.peer_addr()?;
            let connector = self.tls.connector.clone();
            let handshake = async move {
                let stream = connector.connect(name, stream).await?;
                Ok(TlsStream::Client(stream))
            };
            let lazy = LazyTlsStream::new(bounded(&self.tls, remote, "dialed", handshake));
            Ok((Box::new(lazy) as BoxedStream, remote))
        })
    }
}

/// The host of `host:port` (`[v6]:port` too).
fn host_of(host_port: &str) -> &str {
    match host_port.rsplit_once(':') {
        Some((host, _port)) => host,
        None => host_port,
    }
}

/// A host (a name, an IP, `[v6]`) as a TLS server name.
fn server_name(host: &str) -> io::Result<ServerName<'static>> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string())
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))
}

/// Accepts routes over TCP; the TLS handshake runs in the route's task.
pub struct TlsRouteListener {
    listener: TcpListener,
    local_addr: SocketAddr,
    tls: RouteTls,
}

impl TlsRouteListener {
    /// Wrap a bound listener.
    pub fn new(listener: TcpListener, tls: RouteTls) -> TlsRouteListener {
        // A bound socket always has a local address; the fallback only
        // affects the derived route URL (as in the cluster's TCP listener).
        let local_addr = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        TlsRouteListener {
            listener,
            local_addr,
            tls,
        }
    }
}

impl RouteListener for TlsRouteListener {
    fn accept(&mut self) -> BoxFuture<'_, io::Result<(BoxedStream, SocketAddr)>> {
        // Cancel-safe: only TcpListener::accept is awaited here.
        Box::pin(async move {
            let (stream, remote) = self.listener.accept().await?;
            // Nagle only delays frames; a failure here is harmless.
            let _ = stream.set_nodelay(true);
            let acceptor = self.tls.acceptor.clone();
            let handshake = async move {
                let stream = acceptor.accept(stream).await?;
                Ok(TlsStream::Server(stream))
            };
            let lazy = LazyTlsStream::new(bounded(&self.tls, remote, "accepted", handshake));
            Ok((Box::new(lazy) as BoxedStream, remote))
        })
    }

    fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}
