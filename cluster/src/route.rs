//! One route connection from handshake to close: the task that owns the
//! read half (the read loop, the ping timer) and spawns the writer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use starling_proto::route::RouteFrame;
use tokio::io::AsyncReadExt;
use tokio::sync::oneshot;
use tokio::time::{interval_at, timeout, Instant, MissedTickBehavior};
use tokio_util::codec::Decoder;

use crate::close::CloseReason;
use crate::driver::{Event, Registration};
use crate::handshake::{handshake, Connection, Established, Failure, Role};
use crate::limits::{CLOSE_FLUSH_TIMEOUT, MIN_READ_SPACE, READ_BUFFER_SIZE};
use crate::membership::{DialId, Verdict};
use crate::peer::{Peer, PeerInit};
use crate::shared::{next_route_id, Shared};
use crate::transport::BoxedStream;
use crate::url::RouteUrl;
use crate::writer::write_loop;

/// What a dialed connection was for.
pub(crate) struct Dialed {
    pub dial: DialId,
    pub url: RouteUrl,
    pub is_seed: bool,
}

/// Run a route connection to its end. `dialed` is set when we dialed it.
pub(crate) async fn run_route(
    shared: Arc<Shared>,
    stream: BoxedStream,
    remote_addr: SocketAddr,
    dialed: Option<Dialed>,
) {
    let mut conn = Connection::new(stream);
    let role = match &dialed {
        Some(dialed) => Role::Dialer(&dialed.url),
        None => Role::Acceptor,
    };
    let handshake_timeout = shared.settings.handshake_timeout;
    // Both branches are dropped whole on exit; the connection is dropped
    // after a shutdown or timeout, so a half-read frame does not matter.
    let result = tokio::select! {
        biased;
        _ = shared.shutdown.cancelled() => Err(Failure::timeout()),
        result = timeout(handshake_timeout, handshake(&shared, &mut conn, role, remote_addr)) => {
            result.unwrap_or_else(|_| Err(Failure::timeout()))
        }
    };
    let established = match result {
        Ok(established) => established,
        Err(failure) => {
            handshake_failed(&shared, &mut conn, remote_addr, dialed.as_ref(), failure).await;
            return;
        }
    };
    let rid = next_route_id();
    let peer = Arc::new(Peer::new(
        PeerInit {
            rid,
            remote_addr,
            did_solicit: dialed.is_some(),
            is_configured: dialed.as_ref().is_some_and(|d| d.is_seed),
            max_pending: shared.settings.max_pending,
            close: shared.shutdown.child_token(),
        },
        &established.hello,
        established.route_url.clone(),
    ));
    // The writer runs before the verdict: what the driver queues with it
    // (Members, then the interest snapshot peer_up encodes) goes out as it
    // is queued, so the peer applies the first frames of a 100,000-entry
    // snapshot while the rest is still being encoded. Nothing is queued
    // before the verdict.
    let writer = shared
        .routes
        .spawn(write_loop(Arc::clone(&peer), conn.writer));
    let verdict = register(&shared, &peer, dialed.as_ref(), &established).await;
    match verdict {
        Some(Verdict::Keep) => {
            let (reason, detail) =
                read_loop(&shared, &peer, conn.reader, conn.buf, conn.codec).await;
            peer.close_with(reason);
            // The writer ends once the close token is cancelled.
            let _ = writer.await;
            let reason = peer.close_reason().unwrap_or_default();
            tracing::info!(
                node = %shared.settings.node_id,
                rid,
                peer = %peer.node_id,
                remote = %remote_addr,
                %reason,
                detail,
                "route closed"
            );
        }
        Some(Verdict::Reject(reason)) => {
            tracing::debug!(node = %shared.settings.node_id, rid, peer = %peer.node_id, remote = %remote_addr, %reason, "route refused");
            // The writer sends Close with this reason (bounded by its own
            // flush timeout) and ends.
            peer.close_with(reason);
            let _ = writer.await;
        }
        None => {
            peer.close_with(CloseReason::ServerShutdown);
            let _ = writer.await;
        }
    }
    // Always report, so the driver never keeps a registration or a peer
    // whose task is gone.
    let _ = shared.events.send(Event::RouteClosed { rid }).await;
}

/// Log a failed handshake, tell the peer when we have not yet, and report a
/// failed dial.
async fn handshake_failed(
    shared: &Shared,
    conn: &mut Connection,
    remote_addr: SocketAddr,
    dialed: Option<&Dialed>,
    failure: Failure,
) {
    if failure.notify_peer {
        let close = RouteFrame::Close(failure.reason.as_str().to_string());
        let _ = timeout(CLOSE_FLUSH_TIMEOUT, conn.write_frame(&close)).await;
    }
    let expected = matches!(
        failure.reason,
        CloseReason::DuplicateRoute | CloseReason::SelfRoute | CloseReason::ConnectionClosed
    ) || shared.shutdown.is_cancelled();
    let url = dialed.map(|d| d.url.to_string());
    if expected {
        tracing::debug!(node = %shared.settings.node_id, remote = %remote_addr, url, reason = %failure.reason, detail = %failure.detail, "route handshake ended");
    } else {
        tracing::warn!(node = %shared.settings.node_id, remote = %remote_addr, url, reason = %failure.reason, detail = %failure.detail, "route handshake failed");
    }
    if let Some(dialed) = dialed {
        let outcome = failure.outcome();
        let _ = shared
            .events
            .send(Event::DialEnded {
                dial: dialed.dial,
                outcome,
            })
            .await;
    }
}

/// Ask the driver whether this route is kept; `None` at shutdown.
async fn register(
    shared: &Shared,
    peer: &Arc<Peer>,
    dialed: Option<&Dialed>,
    established: &Established,
) -> Option<Verdict> {
    let (reply, verdict) = oneshot::channel();
    let registration = Registration {
        rid: peer.rid,
        dial: dialed.map(|d| d.dial),
        peer: Arc::clone(peer),
        info: established.member(),
        authority: established.authority,
        members: established.members.clone(),
        reply,
    };
    if shared
        .events
        .send(Event::Registered(registration))
        .await
        .is_err()
    {
        return None;
    }
    tokio::select! {
        biased;
        _ = shared.shutdown.cancelled() => None,
        verdict = verdict => verdict.ok(),
    }
}

/// Read frames until the route closes; returns why (and details for the
/// log). Calls the handler once per read with every message decoded from
/// it, and sends pings on the ping interval.
async fn read_loop(
    shared: &Shared,
    peer: &Arc<Peer>,
    mut reader: tokio::io::ReadHalf<BoxedStream>,
    mut buf: bytes::BytesMut,
    mut codec: starling_proto::route::RouteCodec,
) -> (CloseReason, String) {
    let settings = &shared.settings;
    let ping_max = settings.ping_max.max(1);
    let mut pings = interval_at(
        Instant::now() + settings.ping_interval,
        settings.ping_interval,
    );
    pings.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut messages = Vec::new();
    // The InterestSync read last in this buffer: answered once the buffer's
    // interest and messages are handed over.
    let mut sync: Option<(u64, bool)> = None;
    loop {
        loop {
            let frame = match codec.decode(&mut buf) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(error) => {
                    deliver(shared, peer, &mut messages);
                    return (CloseReason::ProtocolError, error.to_string());
                }
            };
            peer.heard_from();
            match frame {
                RouteFrame::Msg(message) => {
                    peer.stats
                        .in_msgs
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let len = message.payload.len() as u64;
                    peer.stats
                        .in_bytes
                        .fetch_add(len, std::sync::atomic::Ordering::Relaxed);
                    messages.push(message);
                }
                RouteFrame::Interest(changes) => shared.handler.interest(peer, changes),
                RouteFrame::Members(members) => {
                    let event = Event::Members {
                        rid: peer.rid,
                        members,
                    };
                    if shared.events.send(event).await.is_err() {
                        return (CloseReason::ServerShutdown, String::new());
                    }
                }
                RouteFrame::InterestSync { seq, snapshot_end } => {
                    let snapshot_end = snapshot_end || sync.is_some_and(|(_, end)| end);
                    sync = Some((seq, snapshot_end));
                }
                RouteFrame::InterestAck(seq) => peer.interest_ack_received(seq),
                RouteFrame::Ping => peer.send_frame(&RouteFrame::Pong),
                RouteFrame::Pong => peer.pong(Instant::now()),
                RouteFrame::Close(reason) => {
                    deliver(shared, peer, &mut messages);
                    return (CloseReason::RemoteClosed, reason);
                }
                RouteFrame::Hello(_) => {
                    deliver(shared, peer, &mut messages);
                    return (
                        CloseReason::ProtocolError,
                        "Hello on an established route".into(),
                    );
                }
            }
        }
        deliver(shared, peer, &mut messages);
        if let Some((seq, snapshot_end)) = sync.take() {
            // Every Interest frame before the sync has been applied.
            if snapshot_end {
                peer.mark_snapshot_received();
            }
            peer.send_frame(&RouteFrame::InterestAck(seq));
        }
        if buf.capacity() - buf.len() < MIN_READ_SPACE {
            buf.reserve(READ_BUFFER_SIZE);
        }
        // All three branches are cancel-safe: a token wait, an interval tick
        // and AsyncReadExt::read_buf (no bytes are lost when it is dropped).
        tokio::select! {
            biased;
            _ = peer.close_token().cancelled() => {
                let reason = if shared.shutdown.is_cancelled() {
                    CloseReason::ServerShutdown
                } else {
                    CloseReason::Requested
                };
                return (reason, String::new());
            }
            _ = pings.tick() => {
                if !peer.ping_due(ping_max, Instant::now()) {
                    return (CloseReason::StaleConnection, format!("{ping_max} pings unanswered"));
                }
                peer.send_frame(&RouteFrame::Ping);
            }
            read = reader.read_buf(&mut buf) => match read {
                Ok(0) => return (CloseReason::ConnectionClosed, "end of stream".into()),
                Ok(_) => peer.touch(SystemTime::now()),
                Err(error) => return (CloseReason::ConnectionClosed, error.to_string()),
            }
        }
    }
}

/// Hand the decoded messages to the broker (it drains the vector).
fn deliver(shared: &Shared, peer: &Arc<Peer>, messages: &mut Vec<starling_proto::route::RouteMsg>) {
    if !messages.is_empty() {
        shared.handler.messages(peer, messages);
        messages.clear();
    }
}
