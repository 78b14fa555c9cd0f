//! `allow_responses`: the reply subjects a connection may publish to because
//! it received a request carrying them (nats-server `server/client.go`: the
//! `replies` map filled in `deliverMsg`, checked in `pubAllowedFullCheck`,
//! pruned by `pruneReplyPerms`).

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::options::ResponsePermission;

/// Reply subjects tracked per connection before expired and used-up ones are
/// pruned; if all are still live, the oldest quarter goes (nats-server
/// `replyPermLimit` is also 4096, but it never evicts live entries).
pub const MAX_TRACKED_REPLIES: usize = 4096;

/// One request's reply subject.
#[derive(Debug, Clone, Copy)]
struct Reply {
    /// When the request was delivered.
    received: Instant,
    /// Responses published to it so far.
    sent: usize,
    /// Order of recording, to evict the oldest even when many share `received`.
    sequence: u64,
}

/// Reply subjects one connection may answer. Owned by the connection; it is
/// recorded into from whichever task delivers a request to that connection
/// and consulted by the connection's reader on PUB, so the connection keeps
/// it behind a short-held lock. Time is passed in, so tests control it.
#[derive(Debug)]
pub struct ResponseTracker {
    /// Responses allowed per request; at least 1.
    max_msgs: usize,
    /// Lifetime of a reply subject; `Duration::ZERO` = no expiry.
    expires: Duration,
    /// Live reply subjects.
    replies: HashMap<String, Reply>,
    /// Sequence number for the next recorded reply.
    next_sequence: u64,
}

impl ResponseTracker {
    /// A tracker for `permission`, normally
    /// `PermissionChecker::allow_responses()` (defaults already filled in).
    /// A zero `max_msgs` is taken as 1.
    pub fn new(permission: &ResponsePermission) -> Self {
        ResponseTracker {
            max_msgs: permission.max_msgs.max(1),
            expires: permission.expires,
            replies: HashMap::new(),
            next_sequence: 0,
        }
    }

    /// A request with reply subject `reply` was delivered to this connection
    /// at `now`. Recording the same reply again starts it afresh, as in
    /// nats-server.
    pub fn record(&mut self, reply: &str, now: Instant) {
        if reply.is_empty() {
            return;
        }
        let entry = Reply {
            received: now,
            sent: 0,
            sequence: self.next_sequence,
        };
        self.next_sequence += 1;
        self.replies.insert(reply.to_string(), entry);
        if self.replies.len() > MAX_TRACKED_REPLIES {
            self.prune(now);
        }
    }

    /// May this connection publish to `subject` at `now` as a response? Uses
    /// up one of the reply's `max_msgs` when it may. Ask only after the
    /// static publish permissions said no.
    pub fn allow(&mut self, subject: &str, now: Instant) -> bool {
        let Some(reply) = self.replies.get_mut(subject) else {
            return false;
        };
        if is_expired(self.expires, reply.received, now) {
            self.replies.remove(subject);
            return false;
        }
        reply.sent += 1;
        if reply.sent >= self.max_msgs {
            self.replies.remove(subject);
        }
        true
    }

    /// Reply subjects currently tracked.
    pub fn len(&self) -> usize {
        self.replies.len()
    }

    /// True when no reply subject is tracked.
    pub fn is_empty(&self) -> bool {
        self.replies.is_empty()
    }

    /// Drops expired replies; if that is not enough, the oldest quarter, so
    /// the next prune is `MAX_TRACKED_REPLIES / 4` records away.
    fn prune(&mut self, now: Instant) {
        let expires = self.expires;
        self.replies
            .retain(|_, reply| !is_expired(expires, reply.received, now));
        if self.replies.len() <= MAX_TRACKED_REPLIES {
            return;
        }
        let keep = MAX_TRACKED_REPLIES - MAX_TRACKED_REPLIES / 4;
        let mut sequences: Vec<u64> = self.replies.values().map(|reply| reply.sequence).collect();
        let evict = sequences.len() - keep;
        let (_, &mut cutoff, _) = sequences.select_nth_unstable(evict - 1);
        self.replies.retain(|_, reply| reply.sequence > cutoff);
    }
}

/// Past its lifetime (`expires` zero = never), as nats-server's
/// `time.Since(resp.t) > Expires`.
fn is_expired(expires: Duration, received: Instant, now: Instant) -> bool {
    !expires.is_zero() && now.saturating_duration_since(received) > expires
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker(max_msgs: usize, expires: Duration) -> ResponseTracker {
        ResponseTracker::new(&ResponsePermission { max_msgs, expires })
    }

    #[test]
    fn unknown_subject_is_not_allowed() {
        let mut tracker = tracker(1, Duration::from_secs(60));
        assert!(!tracker.allow("_INBOX.x", Instant::now()));
    }

    #[test]
    fn one_response_by_default_then_refused() {
        let now = Instant::now();
        let mut tracker = tracker(1, Duration::from_secs(60));
        tracker.record("_INBOX.a", now);
        assert_eq!(tracker.len(), 1);
        assert!(tracker.allow("_INBOX.a", now));
        assert!(!tracker.allow("_INBOX.a", now));
        assert!(tracker.is_empty());
    }

    #[test]
    fn max_msgs_responses_then_refused() {
        let now = Instant::now();
        let mut tracker = tracker(3, Duration::ZERO);
        tracker.record("r", now);
        assert!(tracker.allow("r", now));
        assert!(tracker.allow("r", now));
        assert!(tracker.allow("r", now));
        assert!(!tracker.allow("r", now));
    }

    #[test]
    fn zero_max_msgs_means_one() {
        let now = Instant::now();
        let mut tracker = tracker(0, Duration::ZERO);
        tracker.record("r", now);
        assert!(tracker.allow("r", now));
        assert!(!tracker.allow("r", now));
    }

    #[test]
    fn reply_expires_after_the_ttl() {
        let start = Instant::now();
        let ttl = Duration::from_secs(10);
        let mut tracker = tracker(5, ttl);
        tracker.record("r", start);
        assert!(tracker.allow("r", start + ttl));
        assert!(!tracker.allow("r", start + ttl + Duration::from_millis(1)));
        assert!(tracker.is_empty());
    }

    #[test]
    fn zero_expires_never_expires() {
        let start = Instant::now();
        let mut tracker = tracker(1, Duration::ZERO);
        tracker.record("r", start);
        assert!(tracker.allow("r", start + Duration::from_secs(1_000_000)));
    }

    #[test]
    fn recording_again_resets_count_and_time() {
        let start = Instant::now();
        let ttl = Duration::from_secs(10);
        let mut tracker = tracker(1, ttl);
        tracker.record("r", start);
        assert!(tracker.allow("r", start));
        tracker.record("r", start + ttl);
        assert!(tracker.allow("r", start + ttl + ttl));
    }

    #[test]
    fn empty_reply_is_not_recorded() {
        let mut tracker = tracker(1, Duration::ZERO);
        tracker.record("", Instant::now());
        assert!(tracker.is_empty());
    }

    #[test]
    fn expired_replies_are_pruned_when_the_limit_is_passed() {
        let start = Instant::now();
        let ttl = Duration::from_secs(10);
        let mut tracker = tracker(1, ttl);
        for n in 0..MAX_TRACKED_REPLIES {
            tracker.record(&format!("old.{n}"), start);
        }
        assert_eq!(tracker.len(), MAX_TRACKED_REPLIES);
        let later = start + ttl + Duration::from_secs(1);
        tracker.record("new", later);
        assert_eq!(tracker.len(), 1);
        assert!(tracker.allow("new", later));
    }

    #[test]
    fn live_replies_past_the_limit_evict_the_oldest_quarter() {
        let start = Instant::now();
        let mut tracker = tracker(1, Duration::ZERO);
        // All at the same instant, as a burst of requests in one read buffer.
        for n in 0..=MAX_TRACKED_REPLIES {
            tracker.record(&format!("r.{n}"), start);
        }
        let keep = MAX_TRACKED_REPLIES - MAX_TRACKED_REPLIES / 4;
        assert_eq!(tracker.len(), keep);
        let now = start + Duration::from_secs(60);
        assert!(!tracker.allow("r.0", now));
        assert!(tracker.allow(&format!("r.{MAX_TRACKED_REPLIES}"), now));
        assert!(tracker.allow(&format!("r.{}", MAX_TRACKED_REPLIES + 1 - keep), now));
        assert!(!tracker.allow(&format!("r.{}", MAX_TRACKED_REPLIES - keep), now));
    }
}
