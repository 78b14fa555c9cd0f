//! Interest acknowledgements on one route: how a node learns that a peer
//! has applied the interest it announced (the interest barrier behind a
//! client's flush), and that it has a peer's whole initial snapshot (the
//! readiness behind `/healthz`).
//!
//! Both sides count the Interest frames they queue on the route. To learn
//! that the peer applied everything up to now, a node queues an
//! `InterestSync { seq }` carrying that count; frames on a route are read in
//! order, so when the peer reads the sync it has applied every Interest
//! frame before it, and it answers `InterestAck { seq }`. Syncs are sent
//! only on demand (a client's PING after a SUB), never per Interest frame,
//! so interest traffic pays nothing. The first sync after the handshake
//! carries `snapshot_end`: it follows the initial snapshot. Peers whose
//! Hello lacks `interest_ack` are never sent a sync and never waited for.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use starling_proto::route::{encode_frame_as, RouteFrame};
use tokio::sync::watch;

use crate::peer::Peer;

/// The acknowledgement state of one route.
#[derive(Debug)]
pub(crate) struct InterestSyncState {
    /// The peer answers syncs (its Hello has `interest_ack`).
    pub(crate) supported: bool,
    /// Interest frames queued on this route. Incremented inside the outbound
    /// queue's lock together with the frame's bytes, so a sync that reads it
    /// under the same lock covers exactly the frames before it.
    pub(crate) queued: AtomicU64,
    /// Highest seq a sync was queued for (a second waiter for the same
    /// frames does not queue another).
    requested: AtomicU64,
    /// Highest seq the peer acknowledged; waiters watch it.
    acked: watch::Sender<u64>,
    /// The peer's initial snapshot is in (its first sync arrived), or the
    /// peer does not mark it (no `interest_ack`).
    snapshot_received: AtomicBool,
}

impl InterestSyncState {
    pub(crate) fn new(supported: bool) -> Self {
        InterestSyncState {
            supported,
            queued: AtomicU64::new(0),
            requested: AtomicU64::new(0),
            acked: watch::Sender::new(0),
            snapshot_received: AtomicBool::new(!supported),
        }
    }
}

impl Peer {
    /// Ask the peer to acknowledge every Interest frame queued on this route
    /// so far. Returns the seq to wait for with [`Peer::interest_acked`], or
    /// `None` when there is nothing to wait for: all of it is acknowledged
    /// already, the peer does not acknowledge, or the route is closed.
    pub fn request_interest_ack(&self) -> Option<u64> {
        let sync = &self.sync;
        if !sync.supported || self.is_closed() {
            return None;
        }
        let queued = sync.queued.load(Ordering::Acquire);
        if *sync.acked.borrow() >= queued {
            return None;
        }
        if sync.requested.load(Ordering::Acquire) >= queued {
            // A sync covering these frames is on its way already.
            return Some(queued);
        }
        let mut target = queued;
        self.outbound().push_control(|buf| {
            // Read under the queue's lock: exactly the frames queued before.
            target = sync.queued.load(Ordering::Acquire);
            let frame = RouteFrame::InterestSync {
                seq: target,
                snapshot_end: false,
            };
            // After the Hellos: the route's negotiated length prefix.
            encode_frame_as(buf, &frame, self.framing());
        });
        sync.requested.fetch_max(target, Ordering::AcqRel);
        Some(target)
    }

    /// Resolves once the peer acknowledged `seq` (see
    /// [`Peer::request_interest_ack`]) or the route closed. Callers bound it
    /// with their own timeout.
    pub async fn interest_acked(&self, seq: u64) {
        let mut acked = self.sync.acked.subscribe();
        // Both branches are cancel-safe (a watch wait and a token wait).
        tokio::select! {
            _ = acked.wait_for(|acked| *acked >= seq) => {}
            _ = self.close_token().cancelled() => {}
        }
    }

    /// The highest seq the peer acknowledged so far.
    pub fn interest_acknowledged(&self) -> u64 {
        *self.sync.acked.borrow()
    }

    /// The peer acknowledges interest (its Hello has `interest_ack`).
    pub fn acknowledges_interest(&self) -> bool {
        self.sync.supported
    }

    /// The peer's whole initial interest snapshot has been applied (always
    /// true for a peer that does not mark its snapshot's end).
    pub fn snapshot_received(&self) -> bool {
        self.sync.snapshot_received.load(Ordering::Acquire)
    }

    /// Queue the sync that ends our initial snapshot: called once, right
    /// after the broker queued the snapshot (`peer_up`).
    pub(crate) fn send_snapshot_end(&self) {
        let sync = &self.sync;
        if !sync.supported {
            return;
        }
        let mut target = 0;
        self.outbound().push_control(|buf| {
            target = sync.queued.load(Ordering::Acquire);
            let frame = RouteFrame::InterestSync {
                seq: target,
                snapshot_end: true,
            };
            encode_frame_as(buf, &frame, self.framing());
        });
        sync.requested.fetch_max(target, Ordering::AcqRel);
    }

    /// The peer acknowledged `seq`.
    pub(crate) fn interest_ack_received(&self, seq: u64) {
        self.sync.acked.send_if_modified(|acked| {
            let advanced = seq > *acked;
            if advanced {
                *acked = seq;
            }
            advanced
        });
    }

    /// The peer's snapshot-ending sync was read (and everything before it
    /// applied).
    pub(crate) fn mark_snapshot_received(&self) {
        self.sync.snapshot_received.store(true, Ordering::Release);
    }
}
