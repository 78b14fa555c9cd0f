//! How route connections are made: a transport trait with a TCP
//! implementation (production) and an in-memory one (`crate::memory`, for
//! partition tests).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

/// A byte stream a route runs over.
pub trait RouteStream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> RouteStream for T {}

/// A boxed route stream.
pub type BoxedStream = Box<dyn RouteStream>;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Dials routes.
pub trait Transport: Send + Sync + 'static {
    /// Connect to `host_port`; returns the stream and the remote address.
    /// The caller bounds it with a timeout.
    fn dial<'a>(
        &'a self,
        host_port: &'a str,
    ) -> BoxFuture<'a, io::Result<(BoxedStream, SocketAddr)>>;

    /// Connect to `host_port`, an address resolved from the name `name`
    /// (DNS discovery): a TLS transport verifies the peer against `name`.
    /// The default ignores the name.
    fn dial_named<'a>(
        &'a self,
        host_port: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, io::Result<(BoxedStream, SocketAddr)>> {
        let _ = name;
        self.dial(host_port)
    }
}

/// Accepts routes.
pub trait RouteListener: Send + 'static {
    /// Wait for the next connection. Must be cancel-safe: the accept loop
    /// selects on it against shutdown.
    fn accept(&mut self) -> BoxFuture<'_, io::Result<(BoxedStream, SocketAddr)>>;
    /// The bound address.
    fn local_addr(&self) -> SocketAddr;
}

/// Routes over TCP, with Nagle off (frames are batched by the writer).
#[derive(Debug, Default, Clone, Copy)]
pub struct TcpTransport;

impl Transport for TcpTransport {
    fn dial<'a>(
        &'a self,
        host_port: &'a str,
    ) -> BoxFuture<'a, io::Result<(BoxedStream, SocketAddr)>> {
        Box::pin(async move {
            let stream = TcpStream::connect(host_port).await?;
            stream.set_nodelay(true)?;
            let remote = stream.peer_addr()?;
            Ok((Box::new(stream) as BoxedStream, remote))
        })
    }
}

/// A bound TCP route listener.
#[derive(Debug)]
pub struct TcpRouteListener {
    listener: TcpListener,
    local_addr: SocketAddr,
}

impl TcpRouteListener {
    /// Wrap a bound listener.
    pub fn new(listener: TcpListener) -> Self {
        // A bound socket always has a local address; the fallback only
        // affects the derived route URL.
        let local_addr = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        TcpRouteListener {
            listener,
            local_addr,
        }
    }
}

impl RouteListener for TcpRouteListener {
    fn accept(&mut self) -> BoxFuture<'_, io::Result<(BoxedStream, SocketAddr)>> {
        Box::pin(async move {
            // TcpListener::accept is cancel-safe.
            let (stream, remote) = self.listener.accept().await?;
            // Nagle only delays frames; a failure here is harmless.
            let _ = stream.set_nodelay(true);
            Ok((Box::new(stream) as BoxedStream, remote))
        })
    }

    fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}
