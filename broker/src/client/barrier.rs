//! The interest barrier: a client's PING that follows a SUB is answered
//! only once every peer with a route has acknowledged the interest (or the
//! cluster's `interest_barrier_timeout` has passed), so "subscribe, flush,
//! then tell another service to publish" is safe cluster-wide (nats-server
//! issue 1142).
//!
//! Ordering: while the PONG waits, the reader processes nothing after the
//! PING. Everything the client sent before the PING is done and its output
//! queued; everything after it is processed once the PONG is queued. So the
//! PONG never overtakes earlier output to the client, and no later op is
//! reordered around it. Messages from other publishers keep flowing to the
//! client meanwhile (they are queued before the PONG, which is correct: they
//! were routed before the PONG was sent). Only the client that flushed
//! waits, for at most one route round trip or the timeout.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use starling_cluster::Peer;
use starling_proto::client::encode;

use super::conn::Connection;
use crate::close::CloseReason;
use crate::server::ServerState;

/// The acknowledgements one PING waits for: each peer with the seq it must
/// acknowledge.
pub(super) struct InterestBarrier {
    waits: Vec<(Arc<Peer>, u64)>,
}

impl InterestBarrier {
    /// Ask every peer to acknowledge the interest queued to it so far; the
    /// barrier to wait on, or `None` when every peer has acknowledged
    /// everything already (or the node is not clustered).
    pub(super) fn collect(server: &ServerState) -> Option<InterestBarrier> {
        let cluster = server.cluster.get()?;
        let waits: Vec<(Arc<Peer>, u64)> = cluster
            .peers()
            .into_iter()
            .filter_map(|peer| peer.request_interest_ack().map(|seq| (peer, seq)))
            .collect();
        (!waits.is_empty()).then_some(InterestBarrier { waits })
    }

    /// Wait for every acknowledgement, at most `limit` in all (the requests
    /// went out together, so the waits overlap).
    async fn wait(&self, limit: Duration) {
        let all = async {
            for (peer, seq) in &self.waits {
                peer.interest_acked(*seq).await;
            }
        };
        if tokio::time::timeout(limit, all).await.is_err() {
            let late: Vec<&str> = self
                .waits
                .iter()
                .filter(|(peer, seq)| peer.interest_acknowledged() < *seq && !peer.is_closed())
                .map(|(peer, _)| peer.node_name.as_str())
                .collect();
            tracing::debug!(?late, ?limit, "interest barrier timed out; answering PONG");
        }
    }
}

impl Connection {
    /// The interest barrier timeout in force, when the node is clustered and
    /// the barrier is on.
    pub(super) fn interest_barrier_timeout(&self) -> Option<Duration> {
        self.options
            .cluster
            .as_ref()
            .map(|cluster| cluster.interest_barrier_timeout)
            .filter(|timeout| !timeout.is_zero())
    }

    /// A PING: answer at once, unless it follows interest changes that some
    /// peer has not acknowledged; then leave the barrier for the read loop
    /// ([`Connection::pass_barrier`]) and stop processing the buffer.
    pub(super) fn handle_ping(&mut self) {
        if std::mem::take(&mut self.interest_changed) && self.interest_barrier_timeout().is_some() {
            if let Some(barrier) = InterestBarrier::collect(&self.server) {
                self.pending_barrier = Some(barrier);
                return;
            }
        }
        self.handle.outbound.push_control_bytes(encode::PONG);
    }

    /// Wait out the barrier, queue the PONG, then go on with the ops after
    /// the PING. Whatever came before the PING is flushed to its
    /// destinations first.
    pub(super) async fn pass_barrier(
        &mut self,
        barrier: InterestBarrier,
        buffer: &mut BytesMut,
    ) -> Result<(), CloseReason> {
        self.batch.finish(&self.server, Some(&self.handle));
        let limit = self.interest_barrier_timeout().unwrap_or_default();
        let closed = self.handle.closed.clone();
        // Both branches are cancel-safe: a token wait, and waits on watch
        // channels that are simply dropped.
        tokio::select! {
            biased;
            _ = closed.cancelled() => {
                return Err(self.handle.close_reason().unwrap_or(CloseReason::ServerShutdown));
            }
            _ = barrier.wait(limit) => {}
        }
        self.handle.outbound.push_control_bytes(encode::PONG);
        self.process(buffer)
    }
}
