//! Upgrading a client connection to TLS, under `tls { timeout }`, before
//! the reader and writer start (nats-server `server/client.go`
//! `doTLSHandshake`, `server.go` `tlsTimeout`).
//!
//! INFO first (the default): INFO goes out in plain text with
//! `tls_required`, then the client's first byte must open a TLS record.
//! A client that sends plain text instead (a `CONNECT`) gets
//! `-ERR 'Secure Connection - TLS Required'` at once and is closed; one
//! that sends nothing gets the same error when the TLS timeout expires,
//! which is when nats-server sends it (`tlsTimeout`). With
//! `handshake_first` the handshake comes first and INFO follows encrypted;
//! with a fallback delay, a client silent for that long gets the plain INFO
//! and upgrades as usual.

use std::io;
use std::time::Duration;

use starling_proto::client::encode;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::{timeout, timeout_at, Instant};
use tokio_rustls::server::TlsStream;

use super::handle::ClientHandle;
use crate::close::CloseReason;
use crate::options::HandshakeFirst;
use crate::tls::{ClientTls, TLS_HANDSHAKE_RECORD};

/// nats-server's text for a client that does not speak TLS to a TLS-only
/// server (server.go `tlsTimeout`).
pub const TLS_REQUIRED_ERROR: &str = "Secure Connection - TLS Required";

/// Longest the plain-text INFO or error may take to write.
const PLAIN_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// What the client's first byte says.
enum FirstByte {
    /// It opens a TLS handshake record.
    Tls,
    /// Anything else: plain text.
    Plain,
    /// The client closed (or the socket failed) before sending anything.
    Closed,
}

/// Waits for the client's first byte without consuming it (cancel-safe).
async fn first_byte(stream: &TcpStream) -> FirstByte {
    let mut byte = [0u8; 1];
    match stream.peek(&mut byte).await {
        Ok(0) | Err(_) => FirstByte::Closed,
        Ok(_) if byte[0] == TLS_HANDSHAKE_RECORD => FirstByte::Tls,
        Ok(_) => FirstByte::Plain,
    }
}

/// Writes `bytes` in plain text, bounded; errors are left to the caller's
/// next step (the handshake or the close) to notice.
async fn write_plain(stream: &mut TcpStream, bytes: &[u8]) {
    let _ = timeout(PLAIN_WRITE_TIMEOUT, stream.write_all(bytes)).await;
}

/// Sends the TLS-required error in plain text and closes.
async fn refuse_plain_text(mut stream: TcpStream, client: &ClientHandle, why: &str) -> CloseReason {
    tracing::debug!(cid = client.cid, peer = %client.peer, why, "client did not start TLS");
    let mut line = bytes::BytesMut::new();
    encode::encode_err(&mut line, TLS_REQUIRED_ERROR);
    write_plain(&mut stream, &line).await;
    let _ = timeout(PLAIN_WRITE_TIMEOUT, stream.shutdown()).await;
    CloseReason::TlsHandshakeFailure
}

/// Runs INFO (when it goes first) and the server side of the handshake.
/// Returns the TLS stream and whether INFO was already sent in plain text;
/// on failure the connection is to be closed with the returned reason
/// (anything the client should read was written already).
pub(super) async fn upgrade(
    tls: &ClientTls,
    mut stream: TcpStream,
    info_line: &[u8],
    client: &ClientHandle,
) -> Result<(TlsStream<TcpStream>, bool), CloseReason> {
    let deadline = Instant::now() + tls.timeout;
    let info_first = match tls.handshake_first {
        HandshakeFirst::Off => true,
        HandshakeFirst::Required => false,
        HandshakeFirst::Fallback(delay) => {
            match timeout(delay.min(tls.timeout), first_byte(&stream)).await {
                Ok(FirstByte::Tls) => false,
                Ok(FirstByte::Plain) => {
                    return Err(refuse_plain_text(stream, client, "plain text before INFO").await)
                }
                Ok(FirstByte::Closed) => return Err(CloseReason::ClientClosed),
                Err(_) => true,
            }
        }
    };
    if info_first {
        write_plain(&mut stream, info_line).await;
        match timeout_at(deadline, first_byte(&stream)).await {
            Ok(FirstByte::Tls) => {}
            Ok(FirstByte::Plain) => {
                return Err(refuse_plain_text(stream, client, "plain text after INFO").await)
            }
            Ok(FirstByte::Closed) => return Err(CloseReason::ClientClosed),
            Err(_) => return Err(refuse_plain_text(stream, client, "TLS handshake timeout").await),
        }
    }
    match timeout_at(deadline, tls.acceptor.accept(stream)).await {
        Ok(Ok(stream)) => {
            let leaf = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first());
            if tls.pinned.rejects(leaf) {
                // nats-server's words, at its level (error).
                tracing::error!(cid = client.cid, peer = %client.peer, "TLS handshake error: certificate not pinned");
                return Err(CloseReason::TlsHandshakeFailure);
            }
            Ok((stream, info_first))
        }
        Ok(Err(error)) => {
            log_handshake_error(client, &error);
            Err(CloseReason::TlsHandshakeFailure)
        }
        Err(_) => {
            // The handshake started, so a plain-text error would only be
            // noise inside TLS records: close (nats-server's close discards
            // it too).
            tracing::info!(cid = client.cid, peer = %client.peer, "TLS handshake timeout");
            Err(CloseReason::TlsHandshakeFailure)
        }
    }
}

/// nats-server logs `TLS handshake error: ...` for clients at error level;
/// a refused certificate is worth an operator's attention, a client that
/// hung up is not.
fn log_handshake_error(client: &ClientHandle, error: &io::Error) {
    if matches!(
        error.kind(),
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
    ) {
        tracing::debug!(cid = client.cid, peer = %client.peer, %error, "TLS handshake error");
    } else {
        tracing::warn!(cid = client.cid, peer = %client.peer, %error, "TLS handshake error");
    }
}
