//! A route's writer task: drains the peer's outbound queue in one write per
//! wake-up, and on close flushes what is left plus a Close frame.

use std::sync::Arc;

use bytes::BytesMut;
use starling_proto::route::{encode_frame_as, RouteFrame};
use tokio::io::{AsyncWriteExt, WriteHalf};
use tokio::time::timeout;

use crate::close::CloseReason;
use crate::limits::{CLOSE_FLUSH_TIMEOUT, WRITE_DEADLINE};
use crate::peer::Peer;
use crate::transport::BoxedStream;

/// Write until the route closes.
pub(crate) async fn write_loop(peer: Arc<Peer>, mut writer: WriteHalf<BoxedStream>) {
    let token = peer.close_token().clone();
    let mut spare = BytesMut::new();
    loop {
        let batch = peer.outbound().take(spare);
        if batch.is_empty() {
            spare = batch;
            // Both branches are cancel-safe (a token wait; Notify keeps a
            // wake-up that comes in between as a permit).
            tokio::select! {
                biased;
                _ = token.cancelled() => break,
                _ = peer.outbound().woken() => continue,
            }
        }
        // Cancelling the write may cut a frame in half; that only happens
        // when the route is closing, and then no Close frame follows.
        let written = tokio::select! {
            biased;
            _ = token.cancelled() => return,
            written = timeout(WRITE_DEADLINE, writer.write_all(&batch)) => written,
        };
        match written {
            Ok(Ok(())) => spare = peer.outbound().written(batch),
            Ok(Err(_)) => {
                peer.close_with(CloseReason::ConnectionClosed);
                return;
            }
            Err(_) => {
                peer.close_with(CloseReason::WriteDeadline);
                return;
            }
        }
    }
    // Closing between writes: flush what is queued (in-flight messages at a
    // graceful shutdown) and tell the peer why, briefly.
    let reason = peer.close_reason().unwrap_or_default();
    let mut batch = peer.outbound().take(BytesMut::new());
    let peer_gone = [
        CloseReason::RemoteClosed,
        CloseReason::ConnectionClosed,
        CloseReason::StaleConnection,
    ]
    .iter()
    .any(|r| r.as_str() == reason);
    if !peer_gone {
        encode_frame_as(&mut batch, &RouteFrame::Close(reason), peer.framing());
    }
    let flush = async {
        writer.write_all(&batch).await?;
        writer.shutdown().await
    };
    let _ = timeout(CLOSE_FLUSH_TIMEOUT, flush).await;
}
