//! The [`ClusterHandler`] the cluster calls: peers coming and going,
//! their interest, their messages, membership changes.

use std::sync::{Arc, Weak};

use starling_cluster::{ClusterHandler, Peer};
use starling_proto::route::{InterestChange, RouteMsg};

use crate::account::Account;
use crate::router::{self, Batch, Message, Origin};
use crate::server::ServerState;

/// Connects the cluster to the server state. Holds a weak reference: the
/// server owns the cluster, not the other way round.
#[derive(Debug)]
pub struct ClusterGlue {
    server: Weak<ServerState>,
}

impl ClusterGlue {
    /// A handler for `server`.
    pub fn new(server: &Arc<ServerState>) -> Self {
        ClusterGlue {
            server: Arc::downgrade(server),
        }
    }
}

impl ClusterHandler for ClusterGlue {
    fn peer_up(&self, peer: &Arc<Peer>) {
        let Some(server) = self.server.upgrade() else {
            return;
        };
        tracing::info!(peer = %peer.node_name, addr = %peer.remote_addr, "route connection established");
        server.remote_interest.add_peer(peer);
        server.local_interest.add_peer(peer);
    }

    fn peer_down(&self, peer: &Arc<Peer>) {
        let Some(server) = self.server.upgrade() else {
            return;
        };
        tracing::info!(peer = %peer.node_name, addr = %peer.remote_addr, "route connection closed");
        server.local_interest.remove_peer(peer);
        server.remote_interest.remove_peer(peer);
    }

    fn interest(&self, peer: &Arc<Peer>, changes: Vec<InterestChange>) {
        if let Some(server) = self.server.upgrade() {
            server
                .remote_interest
                .apply(&server.accounts, peer, changes);
        }
    }

    fn messages(&self, _peer: &Arc<Peer>, messages: &mut Vec<RouteMsg>) {
        let Some(server) = self.server.upgrade() else {
            messages.clear();
            return;
        };
        let mut batch = Batch::default();
        // Runs of messages in one account look the account up once.
        let mut account: Option<Arc<Account>> = None;
        for message in messages.drain(..) {
            batch.traffic.in_msgs += 1;
            batch.traffic.in_bytes += message.payload.len() as u64;
            if account
                .as_ref()
                .is_none_or(|a| a.name.as_bytes() != message.account)
            {
                account = std::str::from_utf8(&message.account)
                    .ok()
                    .and_then(|name| server.accounts.get_or_create(name));
            }
            let (Some(account), Ok(subject)) = (&account, std::str::from_utf8(&message.subject))
            else {
                continue;
            };
            let routed = Message {
                subject,
                reply: message.reply.as_deref(),
                header_len: message.header_len.map(|len| len as usize),
                payload: &message.payload,
                deliver_as: None,
            };
            let origin = Origin::Route {
                queues: &message.queues,
            };
            router::route(&server, account, origin, &routed, &mut batch);
        }
        batch.finish(&server, None);
    }

    fn members_changed(&self) {
        if let Some(server) = self.server.upgrade() {
            // In lame duck mode clients already got their last INFO (with
            // ldm and without this node); they are being moved away.
            if !server.lame_duck.load(std::sync::atomic::Ordering::Relaxed) {
                server.send_info_to_clients(true);
            }
        }
    }
}
