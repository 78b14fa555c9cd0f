//! The bench's own NATS client: a raw TCP connection speaking the text
//! protocol, and an incremental scanner for what servers send.
//!
//! The client is deliberately tiny and identical for every server under test,
//! so differences in the numbers come from the servers and not from a client
//! library's buffering or task model.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bytes::{Buf, BytesMut};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::limits::{HANDSHAKE_TIMEOUT, MAX_CONTROL_LINE, READ_BUFFER_BYTES};

/// The CONNECT every bench connection sends: no `+OK` acks (verbose off) and
/// protocol 1, as current client libraries do.
pub const CONNECT: &[u8] = b"CONNECT {\"verbose\":false,\"pedantic\":false,\"tls_required\":false,\
\"lang\":\"starling-bench\",\"version\":\"0.1.0\",\"protocol\":1,\"echo\":true,\
\"headers\":false,\"no_responders\":false}\r\nPING\r\n";

/// One operation a server sent, borrowed from the read buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Op<'a> {
    /// A delivered message. `payload` is `None` when the scanner skips payloads.
    Msg {
        /// Subject the message was published to.
        subject: &'a [u8],
        /// Subscription id the server matched.
        sid: &'a [u8],
        /// Reply subject, when the publisher gave one.
        reply: Option<&'a [u8]>,
        /// Payload bytes (only in [`PayloadMode::Keep`]).
        payload: Option<&'a [u8]>,
    },
    /// Server keep-alive; must be answered with PONG.
    Ping,
    /// Answer to one of our PINGs.
    Pong,
    /// `+OK` (only with verbose on; tolerated anyway).
    Ok,
    /// `-ERR '...'`, the whole line.
    Err(&'a [u8]),
    /// INFO (initial or async cluster update); contents ignored.
    Info,
}

/// Whether the scanner hands payloads to the caller or skips over them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadMode {
    /// Count-only: payload bytes are skipped, even across reads.
    Skip,
    /// The caller needs the payload: wait until the whole message is buffered.
    Keep,
}

/// Incremental scanner over server-to-client bytes.
///
/// Keeps the number of payload bytes still to skip between calls, so a
/// payload split over reads is never buffered in [`PayloadMode::Skip`].
#[derive(Debug)]
pub struct Scanner {
    mode: PayloadMode,
    skip: usize,
}

impl Scanner {
    /// A scanner in the given payload mode.
    pub fn new(mode: PayloadMode) -> Self {
        Self { mode, skip: 0 }
    }

    /// Scans every complete operation in `buf`, calls `on_op` for each, and
    /// consumes what was scanned. An incomplete trailing operation stays in
    /// `buf` for the next call.
    pub fn scan(
        &mut self,
        buf: &mut BytesMut,
        mut on_op: impl FnMut(Op<'_>) -> Result<()>,
    ) -> Result<()> {
        let data: &[u8] = &buf[..];
        let mut pos = 0;
        if self.skip > 0 {
            let n = self.skip.min(data.len());
            pos = n;
            self.skip -= n;
        }
        while self.skip == 0 && pos < data.len() {
            let rest = &data[pos..];
            let Some(newline) = memchr::memchr(b'\n', rest) else {
                if rest.len() > MAX_CONTROL_LINE {
                    bail!("control line longer than {MAX_CONTROL_LINE} bytes");
                }
                break;
            };
            let line = strip_cr(&rest[..newline]);
            let body_start = pos + newline + 1;
            if starts_with_op(line, b"MSG ") {
                let header = parse_msg_header(line)?;
                let total = header.size + 2;
                let available = data.len() - body_start;
                match self.mode {
                    PayloadMode::Keep => {
                        if available < total {
                            break;
                        }
                        let payload = &data[body_start..body_start + header.size];
                        on_op(Op::Msg {
                            subject: header.subject,
                            sid: header.sid,
                            reply: header.reply,
                            payload: Some(payload),
                        })?;
                        pos = body_start + total;
                    }
                    PayloadMode::Skip => {
                        on_op(Op::Msg {
                            subject: header.subject,
                            sid: header.sid,
                            reply: header.reply,
                            payload: None,
                        })?;
                        if available >= total {
                            pos = body_start + total;
                        } else {
                            self.skip = total - available;
                            pos = data.len();
                        }
                    }
                }
                continue;
            }
            let op = if line.eq_ignore_ascii_case(b"PING") {
                Op::Ping
            } else if line.eq_ignore_ascii_case(b"PONG") {
                Op::Pong
            } else if line.eq_ignore_ascii_case(b"+OK") {
                Op::Ok
            } else if starts_with_op(line, b"-ERR") {
                Op::Err(line)
            } else if starts_with_op(line, b"INFO") {
                Op::Info
            } else {
                bail!(
                    "unexpected line from server: {:?}",
                    String::from_utf8_lossy(line)
                );
            };
            on_op(op)?;
            pos = body_start;
        }
        buf.advance(pos);
        Ok(())
    }
}

struct MsgHeader<'a> {
    subject: &'a [u8],
    sid: &'a [u8],
    reply: Option<&'a [u8]>,
    size: usize,
}

/// Parses `MSG <subject> <sid> [reply] <size>`.
fn parse_msg_header(line: &[u8]) -> Result<MsgHeader<'_>> {
    let mut tokens = line[4..]
        .split(|byte| *byte == b' ' || *byte == b'\t')
        .filter(|token| !token.is_empty());
    let bad = || anyhow!("malformed MSG line: {:?}", String::from_utf8_lossy(line));
    let subject = tokens.next().ok_or_else(bad)?;
    let sid = tokens.next().ok_or_else(bad)?;
    let third = tokens.next().ok_or_else(bad)?;
    let (reply, size) = match tokens.next() {
        Some(size) => (Some(third), size),
        None => (None, third),
    };
    if tokens.next().is_some() {
        return Err(bad());
    }
    let size = parse_size(size).ok_or_else(bad)?;
    Ok(MsgHeader {
        subject,
        sid,
        reply,
        size,
    })
}

fn parse_size(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > 10 {
        return None;
    }
    digits.iter().try_fold(0usize, |acc, digit| {
        digit
            .is_ascii_digit()
            .then(|| acc * 10 + usize::from(digit - b'0'))
    })
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn starts_with_op(line: &[u8], op: &[u8]) -> bool {
    line.len() >= op.len() && line[..op.len()].eq_ignore_ascii_case(op)
}

/// A client socket: plain TCP, or TLS over TCP (the TLS scenario).
#[derive(Debug)]
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS, after the server's plain-text INFO.
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Reads the server's plain-text INFO line byte by byte (nothing after it
/// may be consumed: the TLS handshake follows), then upgrades.
async fn upgrade(mut stream: TcpStream, addr: SocketAddr) -> Result<Stream> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.last() != Some(&b'\n') {
        if stream.read(&mut byte).await? == 0 {
            bail!("{addr} closed before its INFO");
        }
        line.push(byte[0]);
        if line.len() > MAX_CONTROL_LINE {
            bail!("{addr}: INFO longer than {MAX_CONTROL_LINE} bytes");
        }
    }
    let connector = TlsConnector::from(super::tls::client_config()?);
    let name = ServerName::from(addr.ip());
    let stream = connector
        .connect(name, stream)
        .await
        .with_context(|| format!("TLS handshake with {addr}"))?;
    Ok(Stream::Tls(Box::new(stream)))
}

/// A client connection that finished the INFO/CONNECT/PING/PONG handshake.
#[derive(Debug)]
pub struct Connection {
    /// The socket; Nagle is off so small request/reply writes go out at once.
    pub stream: Stream,
    /// Bytes read but not yet scanned.
    pub buf: BytesMut,
}

impl Connection {
    /// Connects to `addr` (over TLS when `tls`), reads INFO, sends CONNECT
    /// and PING, waits for PONG.
    pub async fn connect(addr: SocketAddr, tls: bool) -> Result<Self> {
        let handshake = async {
            let stream = TcpStream::connect(addr)
                .await
                .with_context(|| format!("connect to {addr}"))?;
            stream.set_nodelay(true)?;
            let stream = if tls {
                upgrade(stream, addr).await?
            } else {
                Stream::Plain(stream)
            };
            let mut connection = Self {
                stream,
                buf: BytesMut::with_capacity(READ_BUFFER_BYTES),
            };
            connection.send(CONNECT).await?;
            connection.wait_for_pong().await?;
            Ok(connection)
        };
        timeout(HANDSHAKE_TIMEOUT, handshake)
            .await
            .map_err(|_| anyhow!("handshake with {addr} timed out"))?
    }

    /// Writes `bytes` and flushes (TLS keeps records buffered until then;
    /// on TCP the flush does nothing).
    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }

    /// Sends `ops` followed by PING and waits for the PONG, so the server has
    /// processed everything sent before (subscriptions registered, publishes
    /// routed).
    pub async fn flush_with(&mut self, ops: &[u8], limit: Duration) -> Result<()> {
        let exchange = async {
            let mut out = Vec::with_capacity(ops.len() + 6);
            out.extend_from_slice(ops);
            out.extend_from_slice(b"PING\r\n");
            self.send(&out).await?;
            self.wait_for_pong().await
        };
        timeout(limit, exchange)
            .await
            .map_err(|_| anyhow!("no PONG within {limit:?}"))?
    }

    /// Reads until a PONG arrives. Messages before it are skipped; server
    /// PINGs are answered; `-ERR` is an error.
    async fn wait_for_pong(&mut self) -> Result<()> {
        let mut scanner = Scanner::new(PayloadMode::Skip);
        loop {
            let mut got_pong = false;
            let mut pings = 0;
            scanner.scan(&mut self.buf, |op| match op {
                Op::Pong => {
                    got_pong = true;
                    Ok(())
                }
                Op::Ping => {
                    pings += 1;
                    Ok(())
                }
                Op::Err(line) => bail!("server error: {}", String::from_utf8_lossy(line)),
                _ => Ok(()),
            })?;
            for _ in 0..pings {
                self.send(b"PONG\r\n").await?;
            }
            if got_pong {
                return Ok(());
            }
            self.read_more().await?;
        }
    }

    /// Reads once into the buffer; end of stream is an error.
    pub async fn read_more(&mut self) -> Result<()> {
        if self.buf.capacity() - self.buf.len() < READ_BUFFER_BYTES / 4 {
            self.buf.reserve(READ_BUFFER_BYTES);
        }
        let n = self.stream.read_buf(&mut self.buf).await?;
        if n == 0 {
            bail!("server closed the connection");
        }
        Ok(())
    }
}

/// A subject prefix no other run in this process (or another bench process)
/// uses, so runs never see each other's messages.
pub fn unique_prefix() -> String {
    static NEXT_RUN: AtomicU64 = AtomicU64::new(0);
    let run = NEXT_RUN.fetch_add(1, Ordering::Relaxed);
    format!("bench.{}.{run}", std::process::id())
}

/// Waits until `addr` completes a client handshake (over TLS when `tls`),
/// polling until `deadline`.
pub async fn wait_until_ready(addr: SocketAddr, tls: bool, deadline: Instant) -> Result<()> {
    loop {
        match Connection::connect(addr, tls).await {
            Ok(_) => return Ok(()),
            Err(error) if Instant::now() >= deadline => {
                return Err(error.context(format!("{addr} not ready in time")))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Owned copy of an [`Op`], to compare results across split points.
    #[derive(Debug, PartialEq, Eq)]
    enum Owned {
        Msg(Vec<u8>, Vec<u8>, Option<Vec<u8>>, Option<Vec<u8>>),
        Ping,
        Pong,
        Ok,
        Err(Vec<u8>),
        Info,
    }

    fn own(op: Op<'_>) -> Owned {
        match op {
            Op::Msg {
                subject,
                sid,
                reply,
                payload,
            } => Owned::Msg(
                subject.to_vec(),
                sid.to_vec(),
                reply.map(<[u8]>::to_vec),
                payload.map(<[u8]>::to_vec),
            ),
            Op::Ping => Owned::Ping,
            Op::Pong => Owned::Pong,
            Op::Ok => Owned::Ok,
            Op::Err(line) => Owned::Err(line.to_vec()),
            Op::Info => Owned::Info,
        }
    }

    fn scan_in_two(input: &[u8], split: usize, mode: PayloadMode) -> Vec<Owned> {
        let mut scanner = Scanner::new(mode);
        let mut buf = BytesMut::new();
        let mut seen = Vec::new();
        for chunk in [&input[..split], &input[split..]] {
            buf.extend_from_slice(chunk);
            scanner
                .scan(&mut buf, |op| {
                    seen.push(own(op));
                    Ok(())
                })
                .expect("valid input");
        }
        assert!(buf.is_empty(), "everything consumed at split {split}");
        seen
    }

    const STREAM: &[u8] = b"INFO {\"server_id\":\"x\"}\r\nPONG\r\nMSG a.b 1 5\r\nhello\r\n\
MSG a.b  2 _INBOX.x.1 3\r\nr\r\n\r\nPING\r\n+OK\r\nMSG e 1 0\r\n\r\n-ERR 'Unknown'\r\n";

    #[test]
    fn scanner_keep_mode_yields_same_ops_at_every_split() {
        let expected = scan_in_two(STREAM, STREAM.len(), PayloadMode::Keep);
        assert_eq!(expected.len(), 8);
        assert_eq!(
            expected[3],
            Owned::Msg(
                b"a.b".to_vec(),
                b"2".to_vec(),
                Some(b"_INBOX.x.1".to_vec()),
                Some(b"r\r\n".to_vec())
            )
        );
        for split in 0..=STREAM.len() {
            assert_eq!(scan_in_two(STREAM, split, PayloadMode::Keep), expected);
        }
    }

    #[test]
    fn scanner_skip_mode_counts_same_messages_at_every_split() {
        let expected = scan_in_two(STREAM, STREAM.len(), PayloadMode::Skip);
        assert_eq!(
            expected[2],
            Owned::Msg(b"a.b".to_vec(), b"1".to_vec(), None, None)
        );
        for split in 0..=STREAM.len() {
            assert_eq!(scan_in_two(STREAM, split, PayloadMode::Skip), expected);
        }
    }

    #[test]
    fn scanner_rejects_malformed_msg_line() {
        let mut scanner = Scanner::new(PayloadMode::Skip);
        let mut buf = BytesMut::from(&b"MSG a 1 x\r\n"[..]);
        assert!(scanner.scan(&mut buf, |_| Ok(())).is_err());
    }
}
