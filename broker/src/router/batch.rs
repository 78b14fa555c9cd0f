//! What one read buffer's worth of publishes leaves to do afterwards: wake
//! each destination (client or peer) once, forward to peers, and add the
//! counts to the shared totals once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use starling_cluster::Peer;

use crate::client::handle::ClientHandle;
use crate::server::ServerState;
use crate::stats::LocalTraffic;

/// Source of unique batch marks (see [`ClientHandle::flush_mark`]).
static NEXT_BATCH_MARK: AtomicU64 = AtomicU64::new(1);

/// State of one reader's read buffer.
#[derive(Debug)]
pub struct Batch {
    mark: u64,
    clients_to_wake: Vec<Arc<ClientHandle>>,
    peers_to_wake: Vec<Arc<Peer>>,
    /// Peers the current message goes to, with the queue groups each must
    /// serve (reused from message to message).
    pub(super) forwards: Vec<Forward>,
    /// Counts for the server-wide totals.
    pub traffic: LocalTraffic,
    /// How many imports deep the message being routed is (bounds chains).
    pub(super) import_depth: u8,
}

/// One peer the current message is forwarded to.
#[derive(Debug)]
pub(super) struct Forward {
    pub(super) peer: Arc<Peer>,
    pub(super) queues: Vec<Arc<str>>,
}

impl Default for Batch {
    fn default() -> Self {
        Batch {
            mark: NEXT_BATCH_MARK.fetch_add(1, Ordering::Relaxed),
            clients_to_wake: Vec::new(),
            peers_to_wake: Vec::new(),
            forwards: Vec::new(),
            traffic: LocalTraffic::default(),
            import_depth: 0,
        }
    }
}

impl Batch {
    /// Wake every destination once and add the counts to the publisher's
    /// (if a client published) and the server's totals.
    pub fn finish(&mut self, server: &ServerState, publisher: Option<&ClientHandle>) {
        for client in self.clients_to_wake.drain(..) {
            client.outbound.wake();
        }
        for peer in self.peers_to_wake.drain(..) {
            peer.wake();
        }
        if let Some(publisher) = publisher {
            if self.traffic.in_msgs != 0 {
                publisher
                    .traffic
                    .add_in(self.traffic.in_msgs, self.traffic.in_bytes);
            }
        }
        self.traffic.flush_into(&server.traffic);
        self.mark = NEXT_BATCH_MARK.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn schedule_wake(&mut self, client: &Arc<ClientHandle>) {
        if client.flush_mark.swap(self.mark, Ordering::Relaxed) != self.mark {
            self.clients_to_wake.push(client.clone());
        }
    }

    pub(super) fn schedule_peer_wake(&mut self, peer: &Arc<Peer>) {
        if peer.flush_mark.swap(self.mark, Ordering::Relaxed) != self.mark {
            self.peers_to_wake.push(peer.clone());
        }
    }

    /// Add `peer` to the current message's forwards (once), with `queue`
    /// if it must serve that group.
    pub(super) fn forward_to(&mut self, peer: &Arc<Peer>, queue: Option<&Arc<str>>) {
        let index = match self.forwards.iter().position(|f| f.peer.rid == peer.rid) {
            Some(index) => index,
            None => {
                self.forwards.push(Forward {
                    peer: peer.clone(),
                    queues: Vec::new(),
                });
                self.forwards.len() - 1
            }
        };
        if let Some(queue) = queue {
            self.forwards[index].queues.push(queue.clone());
        }
    }
}
