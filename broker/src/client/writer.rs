//! A connection's writer task: the only code that writes to its socket.
//!
//! Generic over the write half, so plain TCP (`OwnedWriteHalf`) and TLS
//! (`WriteHalf<TlsStream>`) share it; each batch is flushed after it is
//! written, which is a no-op on TCP and pushes out the last TLS records.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::handle::ClientHandle;
use crate::close::CloseReason;
use crate::router::slow_consumer;
use crate::server::ServerState;

/// How long a closing connection may take to flush its last bytes (an
/// `-ERR` explaining the close, or messages queued before a shutdown).
const FINAL_FLUSH_TIMEOUT: Duration = Duration::from_millis(500);

/// Write everything queued, whenever woken, until the connection closes.
pub async fn run<W: AsyncWrite + Unpin>(
    server: Arc<ServerState>,
    client: Arc<ClientHandle>,
    mut socket: W,
    write_deadline: Duration,
) {
    let mut spare = BytesMut::new();
    loop {
        tokio::select! {
            biased;
            _ = client.outbound.woken() => {}
            _ = client.closed.cancelled() => break,
        }
        loop {
            let batch = client.outbound.take(spare);
            if batch.is_empty() {
                spare = batch;
                break;
            }
            match write_batch(&client, &mut socket, &batch, write_deadline).await {
                Ok(Ok(())) => spare = client.outbound.written(batch),
                Ok(Err(error)) => {
                    tracing::debug!(cid = client.cid, %error, "write error");
                    client.close(CloseReason::WriteError);
                    return;
                }
                Err(_) => {
                    tracing::debug!(
                        cid = client.cid,
                        bytes = batch.len(),
                        "write deadline exceeded"
                    );
                    slow_consumer(&server, &client, CloseReason::SlowConsumerWriteDeadline);
                    return;
                }
            }
        }
    }
    final_flush(&client, &mut socket, spare).await;
}

/// Write one batch within `write_deadline`. If the connection is closed
/// meanwhile, a slow consumer's write is abandoned at once; any other
/// close gets a short final chance to finish it.
async fn write_batch<W: AsyncWrite + Unpin>(
    client: &ClientHandle,
    socket: &mut W,
    batch: &[u8],
    write_deadline: Duration,
) -> Result<std::io::Result<()>, tokio::time::error::Elapsed> {
    let write = tokio::time::timeout(write_deadline, write_and_flush(socket, batch));
    tokio::pin!(write);
    tokio::select! {
        biased;
        result = &mut write => result,
        _ = client.closed.cancelled() => {
            if client.close_reason().is_some_and(CloseReason::is_slow_consumer) {
                return Ok(Ok(()));
            }
            match tokio::time::timeout(FINAL_FLUSH_TIMEOUT, write).await {
                Ok(result) => result,
                Err(_) => Ok(Ok(())),
            }
        }
    }
}

/// Best effort: write what is still queued (unless the client is a slow
/// consumer, whose queue is what got it closed), then shut the socket down.
/// `write_all` then `flush` (TLS keeps encrypted records buffered until
/// flushed; TCP's flush does nothing).
async fn write_and_flush<W: AsyncWrite + Unpin>(
    socket: &mut W,
    batch: &[u8],
) -> std::io::Result<()> {
    socket.write_all(batch).await?;
    socket.flush().await
}

async fn final_flush<W: AsyncWrite + Unpin>(
    client: &ClientHandle,
    socket: &mut W,
    spare: BytesMut,
) {
    let slow = client
        .close_reason()
        .is_some_and(CloseReason::is_slow_consumer);
    if !slow {
        let batch = client.outbound.take(spare);
        if !batch.is_empty() {
            let _ =
                tokio::time::timeout(FINAL_FLUSH_TIMEOUT, write_and_flush(socket, &batch)).await;
        }
        client.outbound.written(batch);
    }
    let _ = tokio::time::timeout(FINAL_FLUSH_TIMEOUT, socket.shutdown()).await;
}
