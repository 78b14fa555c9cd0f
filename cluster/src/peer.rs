//! One established route, shared between its route tasks and the broker.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use starling_proto::route::{
    encode_frame_as, encode_interest_frame, encode_interest_refs, encode_msg_frame, msg_frame_len,
    Framing, Hello, InterestChange, InterestRef, MsgParts, RouteFrame, SubjectInterner,
};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::close::CloseReason;
use crate::hello::negotiated_framing;
use crate::outbound::Outbound;
use crate::sync::InterestSyncState;

/// The route's outbound queue is past `max_pending`: the route is being
/// closed as slow (and will be redialed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlowRoute;

/// Traffic counters of one route (payload bytes, headers included, as
/// nats-server counts them).
#[derive(Debug, Default)]
pub struct PeerStats {
    /// Messages received from the peer.
    pub in_msgs: AtomicU64,
    /// Payload bytes received from the peer.
    pub in_bytes: AtomicU64,
    /// Messages sent to the peer.
    pub out_msgs: AtomicU64,
    /// Payload bytes sent to the peer.
    pub out_bytes: AtomicU64,
}

/// An established route to another node.
#[derive(Debug)]
pub struct Peer {
    /// Local route id, unique in this process.
    pub rid: u64,
    /// The peer's server id.
    pub node_id: String,
    /// The peer's server name.
    pub node_name: String,
    /// The peer's address on this connection.
    pub remote_addr: SocketAddr,
    /// Where the peer accepts routes.
    pub route_url: String,
    /// Where the peer accepts clients.
    pub client_urls: Vec<String>,
    /// This node dialed the route.
    pub did_solicit: bool,
    /// The route was dialed to one of our seeds.
    pub is_configured: bool,
    /// When the route was established.
    pub start: SystemTime,
    /// Traffic counters.
    pub stats: PeerStats,
    /// For the broker: marks the publisher batch that last woke this peer,
    /// so each peer is woken once per batch.
    pub flush_mark: AtomicU64,
    /// Encoded frames for the writer task.
    outbound: Outbound,
    /// The length prefix of every frame queued here (negotiated).
    framing: Framing,
    /// Subjects with interned ids on this route. Held while a message is
    /// resolved and appended, so definitions precede their uses in the
    /// stream (lock order: this, then the outbound buffer).
    interner: Mutex<SubjectInterner>,
    /// Cancelled when the route closes; both route tasks select on it. A
    /// child of the cluster's shutdown token.
    close: CancellationToken,
    /// Set with the first close so the hot path can test it cheaply.
    closed: AtomicBool,
    /// Why the route closed (first reason wins). Locked only to set or read.
    close_reason: Mutex<Option<String>>,
    /// Last measured ping round trip. Locked only to set or read.
    rtt: Mutex<Option<Duration>>,
    /// When the oldest unanswered ping was sent. Locked only to set or read.
    ping_sent: Mutex<Option<Instant>>,
    /// Pings sent since the peer was last heard from.
    pings_out: AtomicU32,
    /// Wall-clock milliseconds of the last frame received (monitoring).
    last_activity_ms: AtomicU64,
    /// Interest frames counted and acknowledged (see `crate::sync`).
    pub(crate) sync: InterestSyncState,
}

/// What a route task knows when it creates the [`Peer`].
pub(crate) struct PeerInit {
    pub rid: u64,
    pub remote_addr: SocketAddr,
    pub did_solicit: bool,
    pub is_configured: bool,
    pub max_pending: usize,
    pub close: CancellationToken,
}

impl Peer {
    pub(crate) fn new(init: PeerInit, hello: &Hello, route_url: String) -> Peer {
        let now = SystemTime::now();
        Peer {
            rid: init.rid,
            node_id: hello.node_id.clone(),
            node_name: hello.node_name.clone(),
            remote_addr: init.remote_addr,
            route_url,
            client_urls: hello.client_urls.clone(),
            did_solicit: init.did_solicit,
            is_configured: init.is_configured,
            start: now,
            stats: PeerStats::default(),
            flush_mark: AtomicU64::new(0),
            outbound: Outbound::new(init.max_pending),
            framing: negotiated_framing(hello),
            interner: Mutex::new(SubjectInterner::new(hello.subject_table)),
            close: init.close,
            closed: AtomicBool::new(false),
            close_reason: Mutex::new(None),
            rtt: Mutex::new(None),
            ping_sent: Mutex::new(None),
            pings_out: AtomicU32::new(0),
            last_activity_ms: AtomicU64::new(unix_millis(now)),
            sync: InterestSyncState::new(hello.interest_ack),
        }
    }

    /// Hot path: append one forwarded message without waking the writer
    /// (call [`Peer::wake`] once per batch). Past `max_pending` the route
    /// closes itself as slow and this returns `Err`; the caller closes
    /// nothing. A message for a closed route is dropped (its `peer_down` is
    /// on the way).
    pub fn send_msg(&self, msg: &MsgParts<'_>) -> Result<(), SlowRoute> {
        if self.is_closed() {
            return Ok(());
        }
        let framing = self.framing;
        let mut interner = lock(&self.interner);
        let how = interner.resolve(msg.account, msg.subject);
        let len = msg_frame_len(framing, how, msg);
        let pushed = self
            .outbound
            .push_with(len, |buf| encode_msg_frame(buf, framing, how, msg));
        if pushed.is_ok() {
            interner.commit(msg.account, msg.subject, how);
        }
        drop(interner);
        if pushed.is_err() {
            self.close_with(CloseReason::SlowRoute);
            return Err(SlowRoute);
        }
        self.stats.out_msgs.fetch_add(1, Ordering::Relaxed);
        self.stats
            .out_bytes
            .fetch_add(msg.payload.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Append interest changes and wake the writer. Refused (and the route
    /// closed as slow) only when the queue is already past `max_pending`:
    /// a batch of any size fits into a queue that is keeping up, so a large
    /// initial snapshot always goes out.
    pub fn send_interest(&self, changes: &[InterestChange]) -> Result<(), SlowRoute> {
        if changes.is_empty() || self.is_closed() {
            return Ok(());
        }
        if self.outbound.pending_bytes() > self.outbound_cap() {
            self.close_with(CloseReason::SlowRoute);
            return Err(SlowRoute);
        }
        self.outbound.push_control(|buf| {
            encode_interest_frame(buf, changes, self.framing);
            // Counted with the bytes, under the queue's lock (crate::sync).
            self.sync.queued.fetch_add(1, Ordering::AcqRel);
        });
        Ok(())
    }

    /// Append a whole interest snapshot in frames of at most `chunk`
    /// changes, waking the writer after each so it starts sending at once.
    /// Refused only as [`Peer::send_interest`] is, checked once up front, so
    /// a snapshot of any size goes out whole to a queue that keeps up. The
    /// changes borrow the caller's names: nothing is copied per entry but
    /// its encoded bytes.
    pub fn send_interest_snapshot<'a>(
        &self,
        changes: impl IntoIterator<Item = InterestRef<'a>>,
        chunk: usize,
    ) -> Result<(), SlowRoute> {
        let mut changes = changes.into_iter().peekable();
        if changes.peek().is_none() || self.is_closed() {
            return Ok(());
        }
        if self.outbound.pending_bytes() > self.outbound_cap() {
            self.close_with(CloseReason::SlowRoute);
            return Err(SlowRoute);
        }
        let chunk = chunk.max(1);
        let mut part: Vec<InterestRef<'a>> = Vec::with_capacity(chunk);
        loop {
            part.clear();
            part.extend(changes.by_ref().take(chunk));
            if part.is_empty() {
                return Ok(());
            }
            self.outbound.push_control(|buf| {
                encode_interest_refs(buf, &part, self.framing);
                // Every chunk is one Interest frame for the sync count.
                self.sync.queued.fetch_add(1, Ordering::AcqRel);
            });
        }
    }

    /// Wake the writer task after a batch of [`Peer::send_msg`].
    pub fn wake(&self) {
        self.outbound.wake();
    }

    /// Subjects that have an interned id on this route (monitoring, tests).
    pub fn interned_subjects(&self) -> usize {
        lock(&self.interner).len()
    }

    /// Bytes queued or being written.
    pub fn pending_bytes(&self) -> usize {
        self.outbound.pending_bytes()
    }

    /// Last measured ping round trip, once one was answered.
    pub fn rtt(&self) -> Option<Duration> {
        *lock(&self.rtt)
    }

    /// When a frame was last received from the peer.
    pub fn last_activity(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.last_activity_ms.load(Ordering::Relaxed))
    }

    /// Close the route (idempotent). The peer gets a Close frame with
    /// `reason`; the broker gets `peer_down`; the route is redialed by the
    /// side that dialed it.
    pub fn close(&self, reason: &str) {
        self.close_str(reason);
    }

    /// The route is closed or closing.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Why the route closed, once it did.
    pub fn close_reason(&self) -> Option<String> {
        lock(&self.close_reason).clone()
    }

    pub(crate) fn close_with(&self, reason: CloseReason) {
        self.close_str(reason.as_str());
    }

    fn close_str(&self, reason: &str) {
        {
            let mut slot = lock(&self.close_reason);
            if slot.is_none() {
                *slot = Some(reason.to_string());
            }
        }
        self.closed.store(true, Ordering::Relaxed);
        self.close.cancel();
    }

    /// Cancelled when the route closes.
    pub(crate) fn close_token(&self) -> &CancellationToken {
        &self.close
    }

    pub(crate) fn outbound(&self) -> &Outbound {
        &self.outbound
    }

    /// Queue a control frame (never refused) and wake the writer.
    pub(crate) fn send_frame(&self, frame: &RouteFrame) {
        self.outbound
            .push_control(|buf| encode_frame_as(buf, frame, self.framing));
    }

    /// The length prefix of this route's frames.
    pub(crate) fn framing(&self) -> Framing {
        self.framing
    }

    fn outbound_cap(&self) -> usize {
        self.outbound.max_pending()
    }

    /// A frame arrived: the peer is alive.
    pub(crate) fn heard_from(&self) {
        self.pings_out.store(0, Ordering::Relaxed);
    }

    /// Record a read at `now` (wall clock, for monitoring).
    pub(crate) fn touch(&self, now: SystemTime) {
        self.last_activity_ms
            .store(unix_millis(now), Ordering::Relaxed);
    }

    /// A ping is due: returns false when more than `ping_max` are already
    /// unanswered (the route is stale), else counts one more.
    pub(crate) fn ping_due(&self, ping_max: u32, now: Instant) -> bool {
        let out = self.pings_out.fetch_add(1, Ordering::Relaxed);
        if out >= ping_max {
            return false;
        }
        // Measure the round trip from the oldest ping still unanswered.
        let mut sent = lock(&self.ping_sent);
        if out == 0 || sent.is_none() {
            *sent = Some(now);
        }
        true
    }

    /// A Pong arrived at `now`.
    pub(crate) fn pong(&self, now: Instant) {
        let sent = lock(&self.ping_sent).take();
        if let Some(sent) = sent {
            *lock(&self.rtt) = Some(now.saturating_duration_since(sent));
        }
    }
}

fn unix_millis(time: SystemTime) -> u64 {
    let millis = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    u64::try_from(millis).unwrap_or(u64::MAX)
}

/// These mutexes guard plain values that are whole after any panic.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
