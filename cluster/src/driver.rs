//! The thin async loop around the membership state machine: turns route
//! events and timer deadlines into machine inputs, and machine actions into
//! dials, verdicts, gossip and handler calls.
//!
//! The driver is the only writer of the peer table and the only caller of
//! `peer_up`, `peer_down` and `members_changed`, so those calls happen in
//! the order the machine decided them: a route is never up twice for one
//! node, and a superseded route is down before its successor is up. A
//! route is called down only after its read loop has ended, so the handler
//! hears nothing more from a peer once it was told the peer is down.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use starling_proto::route::{Member, RouteFrame};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{sleep_until, timeout, Instant};

use crate::close::CloseReason;
use crate::limits::DIAL_TIMEOUT;
use crate::membership::{Action, Authority, DialId, DialOutcome, DialTarget, Membership, Verdict};
use crate::peer::Peer;
use crate::route::{run_route, Dialed};
use crate::shared::{lock, Shared};
use crate::url::RouteUrl;

/// A route that completed its handshake and asks to be kept.
pub(crate) struct Registration {
    pub rid: u64,
    pub dial: Option<DialId>,
    pub peer: Arc<Peer>,
    pub info: Member,
    pub authority: Authority,
    /// The peer's members, when the peer decided (its verdict frame).
    pub members: Option<Vec<Member>>,
    /// Where the verdict goes.
    pub reply: oneshot::Sender<Verdict>,
}

/// What route tasks tell the driver.
pub(crate) enum Event {
    /// A handshake completed.
    Registered(Registration),
    /// A dial ended without a registration.
    DialEnded { dial: DialId, outcome: DialOutcome },
    /// A live route's peer sent its members.
    Members { rid: u64, members: Vec<Member> },
    /// A route task ended (after `Registered`, kept or not).
    RouteClosed { rid: u64 },
    /// A name seed resolved to these addresses (ours left out; empty when
    /// resolution failed).
    Resolved {
        name: usize,
        addresses: Vec<SocketAddr>,
    },
}

/// Runs the machine until shutdown and every route task has ended.
pub(crate) struct Driver {
    shared: Arc<Shared>,
    machine: Membership,
    /// Registrations waiting for their verdict.
    waiting: HashMap<u64, Registration>,
    stopping: bool,
}

impl Driver {
    pub fn new(shared: Arc<Shared>, machine: Membership) -> Driver {
        Driver {
            shared,
            machine,
            waiting: HashMap::new(),
            stopping: false,
        }
    }

    pub async fn run(mut self, mut events: mpsc::Receiver<Event>) {
        let shared = Arc::clone(&self.shared);
        loop {
            let deadline = self.machine.next_deadline();
            // Every branch is cancel-safe: token and tracker waits, Notify
            // (keeps a permit), mpsc::Receiver::recv and a sleep.
            tokio::select! {
                biased;
                _ = shared.shutdown.cancelled(), if !self.stopping => {
                    self.stopping = true;
                    shared.routes.close();
                }
                _ = shared.routes.wait(), if self.stopping => break,
                event = events.recv() => match event {
                    Some(event) => self.handle(event),
                    None => break,
                },
                _ = shared.lame_duck_signal.notified() => self.machine.enter_lame_duck(),
                _ = sleep_until(deadline), if !self.stopping => {}
            }
            if !self.stopping {
                self.machine.poll(Instant::now());
            }
            self.execute();
            // After execute: a route the machine kept is in the peer table
            // before the progress says its seed was tried.
            *lock(&self.shared.readiness.progress) = self.machine.progress();
        }
        // Route tasks that ended last may have left events behind.
        while let Ok(event) = events.try_recv() {
            self.handle(event);
            self.execute();
        }
    }

    fn handle(&mut self, event: Event) {
        let now = Instant::now();
        match event {
            Event::Registered(registration) => {
                if self.stopping {
                    let _ = registration
                        .reply
                        .send(Verdict::Reject(CloseReason::ServerShutdown));
                    return;
                }
                let (rid, dial, info, authority) = (
                    registration.rid,
                    registration.dial,
                    registration.info.clone(),
                    registration.authority,
                );
                self.waiting.insert(rid, registration);
                self.machine.register(rid, dial, info, authority, now);
            }
            Event::DialEnded { dial, outcome } => self.machine.dial_finished(dial, outcome, now),
            Event::Members { rid, members } => self.machine.members_received(rid, members, now),
            Event::Resolved { name, addresses } => self.machine.resolved(name, addresses, now),
            Event::RouteClosed { rid } => {
                self.waiting.remove(&rid);
                self.machine.route_closed(rid, now);
                let peer = write_peers(&self.shared).remove(&rid);
                if let Some(peer) = peer {
                    self.shared.handler.peer_down(&peer);
                }
            }
        }
    }

    /// Carry out the machine's actions (and those they lead to).
    fn execute(&mut self) {
        loop {
            let actions = self.machine.take_actions();
            if actions.is_empty() {
                return;
            }
            for action in actions {
                self.execute_one(action);
            }
        }
    }

    fn execute_one(&mut self, action: Action) {
        match action {
            Action::Dial { dial, url, target } => {
                if !self.stopping {
                    let shared = Arc::clone(&self.shared);
                    self.shared
                        .routes
                        .spawn(dial_route(shared, dial, url, target));
                }
            }
            Action::Verdict { rid, verdict } => self.deliver_verdict(rid, verdict),
            Action::Supersede { rid } => {
                // Its task ends, reports RouteClosed, and that calls it down
                // (and lets the machine keep its successor).
                let peer = read_peers(&self.shared).get(&rid).cloned();
                if let Some(peer) = peer {
                    peer.close_with(CloseReason::Replaced);
                }
            }
            Action::BroadcastMembers { except } => {
                let frame = RouteFrame::Members(self.machine.members());
                let peers: Vec<Arc<Peer>> = read_peers(&self.shared).values().cloned().collect();
                for peer in peers.iter().filter(|p| Some(p.rid) != except) {
                    peer.send_frame(&frame);
                }
            }
            Action::Resolve { name, url } => {
                if !self.stopping {
                    let shared = Arc::clone(&self.shared);
                    self.shared.routes.spawn(resolve_name(shared, name, url));
                }
            }
            Action::MembersChanged => {
                *lock(&self.shared.client_urls) = self.machine.client_urls().to_vec();
                self.shared.handler.members_changed();
            }
        }
    }

    fn deliver_verdict(&mut self, rid: u64, verdict: Verdict) {
        let Some(registration) = self.waiting.remove(&rid) else {
            return;
        };
        if verdict != Verdict::Keep {
            let _ = registration.reply.send(verdict);
            return;
        }
        let peer = registration.peer;
        // The Members frame goes first: for a peer waiting on our verdict it
        // is the verdict, and it must precede the interest snapshot that
        // peer_up queues.
        peer.send_frame(&RouteFrame::Members(self.machine.members()));
        write_peers(&self.shared).insert(rid, Arc::clone(&peer));
        tracing::info!(
            node = %self.shared.settings.node_id,
            rid,
            peer = %peer.node_id,
            name = %peer.node_name,
            remote = %peer.remote_addr,
            solicited = peer.did_solicit,
            "route established"
        );
        self.shared.handler.peer_up(&peer);
        // peer_up queued the interest snapshot; mark its end.
        peer.send_snapshot_end();
        if registration.reply.send(Verdict::Keep).is_err() {
            // The route task is gone; its RouteClosed event follows and
            // calls the route down.
            peer.close_with(CloseReason::ConnectionClosed);
        }
        if let Some(members) = registration.members {
            self.machine.members_received(rid, members, Instant::now());
        }
    }
}

/// Dial `url` and run the route, or report the failure.
async fn dial_route(shared: Arc<Shared>, dial: DialId, url: RouteUrl, target: DialTarget) {
    // Both branches are dropped whole: a cancelled connect is just closed.
    let connected = tokio::select! {
        biased;
        _ = shared.shutdown.cancelled() => return,
        connected = timeout(DIAL_TIMEOUT, match &url.tls_name {
            Some(name) => shared.transport.dial_named(&url.host_port, name),
            None => shared.transport.dial(&url.host_port),
        }) => {
            // A timeout is a failed dial like any other.
            connected.unwrap_or_else(|_| Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "dial timed out")))
        }
    };
    match connected {
        Ok((stream, remote_addr)) => {
            let is_seed = matches!(target, DialTarget::Seed(_));
            let dialed = Dialed { dial, url, is_seed };
            run_route(shared, stream, remote_addr, Some(dialed)).await;
        }
        Err(error) => {
            tracing::debug!(node = %shared.settings.node_id, %url, ?target, %error, "route dial failed");
            let _ = shared
                .events
                .send(Event::DialEnded {
                    dial,
                    outcome: DialOutcome::Failed,
                })
                .await;
        }
    }
}

/// Resolve a name seed and report its addresses, this node's own left out
/// (a route to ourselves would only be dialed to be dropped).
async fn resolve_name(shared: Arc<Shared>, name: usize, url: RouteUrl) {
    let addresses = match crate::resolve::named_host(&url.host_port) {
        Some((host, port)) => {
            // Dropped whole at shutdown: a cancelled lookup just ends.
            let resolved = tokio::select! {
                biased;
                _ = shared.shutdown.cancelled() => return,
                resolved = timeout(DIAL_TIMEOUT, shared.resolver.resolve(host, port)) => resolved,
            };
            match resolved {
                Ok(Ok(addresses)) => addresses,
                Ok(Err(error)) => {
                    tracing::debug!(node = %shared.settings.node_id, %url, %error, "route name did not resolve");
                    Vec::new()
                }
                Err(_) => {
                    tracing::debug!(node = %shared.settings.node_id, %url, "route name resolution timed out");
                    Vec::new()
                }
            }
        }
        None => Vec::new(),
    };
    let own = own_route_addr(&shared);
    let addresses: Vec<SocketAddr> = addresses
        .into_iter()
        .filter(|addr| *addr != shared.listen_addr && Some(*addr) != own)
        .collect();
    tracing::debug!(node = %shared.settings.node_id, %url, ?addresses, "route name resolved");
    let _ = shared
        .events
        .send(Event::Resolved { name, addresses })
        .await;
}

/// The socket address in our advertised route URL, when it is an IP one.
fn own_route_addr(shared: &Shared) -> Option<SocketAddr> {
    RouteUrl::parse(&shared.settings.route_url)
        .ok()
        .and_then(|url| url.host_port.parse().ok())
}

/// The peer table guards a plain map, whole after any panic.
fn write_peers(
    shared: &Shared,
) -> std::sync::RwLockWriteGuard<'_, std::collections::BTreeMap<u64, Arc<Peer>>> {
    shared
        .peers
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// See [`write_peers`].
pub(crate) fn read_peers(
    shared: &Shared,
) -> std::sync::RwLockReadGuard<'_, std::collections::BTreeMap<u64, Arc<Peer>>> {
    shared
        .peers
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
