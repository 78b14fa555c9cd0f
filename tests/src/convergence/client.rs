//! A minimal raw NATS client: enough to subscribe, publish, flush and see
//! which subjects messages arrive on.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

const CONNECT: &[u8] =
    b"CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1,\"headers\":true}\r\nPING\r\n";
/// Bound on one read while waiting for something specific.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// What the server sent.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// A message on `subject`.
    Msg(String),
    /// Answer to our PING.
    Pong,
}

/// A connected client.
#[derive(Debug)]
pub struct Client {
    stream: TcpStream,
    buf: BytesMut,
}

impl Client {
    /// Connect and complete the handshake.
    pub async fn connect(addr: SocketAddr) -> Result<Client> {
        let stream = timeout(READ_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| anyhow!("connect to {addr} timed out"))?
            .with_context(|| format!("connect to {addr}"))?;
        stream.set_nodelay(true)?;
        let mut client = Client {
            stream,
            buf: BytesMut::with_capacity(256 * 1024),
        };
        client.send(CONNECT).await?;
        client.wait_pong().await?;
        Ok(client)
    }

    /// Write raw protocol bytes.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream.write_all(bytes).await?;
        Ok(())
    }

    /// Send `ops` then PING, and wait for the PONG (messages in between are
    /// dropped).
    pub async fn flush(&mut self, ops: &[u8]) -> Result<()> {
        let mut out = ops.to_vec();
        out.extend_from_slice(b"PING\r\n");
        self.send(&out).await?;
        self.wait_pong().await
    }

    async fn wait_pong(&mut self) -> Result<()> {
        loop {
            if self.next().await? == Event::Pong {
                return Ok(());
            }
        }
    }

    /// The next message or PONG (server PINGs are answered here).
    pub async fn next(&mut self) -> Result<Event> {
        loop {
            if let Some(event) = self.parse().await? {
                return Ok(event);
            }
            if self.buf.capacity() - self.buf.len() < 16 * 1024 {
                self.buf.reserve(256 * 1024);
            }
            let n = timeout(READ_TIMEOUT, self.stream.read_buf(&mut self.buf))
                .await
                .map_err(|_| anyhow!("nothing from the server in {READ_TIMEOUT:?}"))??;
            if n == 0 {
                bail!("server closed the connection");
            }
        }
    }

    /// One event from the buffer, if a whole one is there.
    async fn parse(&mut self) -> Result<Option<Event>> {
        loop {
            let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") else {
                return Ok(None);
            };
            let line = String::from_utf8_lossy(&self.buf[..end]).to_string();
            if let Some(rest) = line.strip_prefix("MSG ").or(line.strip_prefix("HMSG ")) {
                let fields: Vec<&str> = rest.split(' ').collect();
                let size: usize = fields
                    .last()
                    .and_then(|size| size.parse().ok())
                    .ok_or_else(|| anyhow!("bad MSG line {line}"))?;
                if self.buf.len() < end + 2 + size + 2 {
                    return Ok(None);
                }
                self.buf.advance(end + 2 + size + 2);
                return Ok(Some(Event::Msg(fields[0].to_string())));
            }
            self.buf.advance(end + 2);
            match line.as_str() {
                "PONG" => return Ok(Some(Event::Pong)),
                "PING" => self.send(b"PONG\r\n").await?,
                line if line.starts_with("-ERR") => bail!("server error: {line}"),
                _ => {}
            }
        }
    }
}
