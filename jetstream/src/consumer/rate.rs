//! `rate_limit_bps` pacing of push deliveries: nats-server's token bucket
//! (`golang.org/x/time/rate`, `consumer.go` `setRateLimit` and the
//! `ReserveN` before each delivery in `loopAndGatherMsgs`), kept as the
//! time the bucket is empty again so it stays pure integer arithmetic
//! over `now`.
//!
//! The bucket fills at `rate_limit_bps / 8` bytes per second and holds
//! `burst` bytes (nats-server: the stream's `max_msg_size`, else the
//! account's, else the server's `max_payload`); it starts full. A message
//! of `n` bytes (subject, deliver subject, ack reply, headers, payload)
//! takes `n` tokens; when that leaves the bucket in debt, nats-server
//! sleeps until the debt is paid and then delivers. Here the message is
//! held until then instead, which delivers it at the same instant.

/// nats-server's default `max_payload` (1 MiB): the burst when the glue
/// gives none.
pub const DEFAULT_RATE_BURST: i64 = 1024 * 1024;

const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// A push consumer's token bucket (leader-local).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RatePacing {
    /// When the bucket is empty (not in debt, no tokens) given what was
    /// taken so far; earlier than `now` means tokens are available.
    /// `None`: nothing taken yet, the bucket is full.
    empty_at: Option<i64>,
    /// Burst in bytes; 0 = [`DEFAULT_RATE_BURST`].
    burst: i64,
    /// The time the held message may go, for `next_wakeup`.
    pub(super) held_until: Option<i64>,
}

impl RatePacing {
    /// Set the bucket size in bytes (<= 0 restores the default).
    pub fn set_burst(&mut self, bytes: i64) {
        self.burst = bytes.max(0);
    }

    fn burst(&self) -> i64 {
        if self.burst > 0 {
            self.burst
        } else {
            DEFAULT_RATE_BURST
        }
    }

    /// Nanoseconds that `bytes` tokens take to refill at `bits_per_second`.
    /// Go's `rate.Limit(bps / 8)` is an integer division; a rate under
    /// one byte per second is taken as one (Go's limit 0 would never
    /// refill).
    fn refill_nanos(bytes: i64, bits_per_second: u64) -> i64 {
        let bytes_per_second = i128::from((bits_per_second / 8).max(1));
        let nanos = i128::from(bytes) * NANOS_PER_SECOND / bytes_per_second;
        i64::try_from(nanos).unwrap_or(i64::MAX)
    }

    /// When a message of `size` bytes may be delivered, at `now` or later.
    /// A message larger than the burst takes the whole burst (Go's
    /// `ReserveN` would refuse it and nats-server would wait forever).
    pub fn due(&self, size: i64, bits_per_second: u64, now: i64) -> i64 {
        let burst = self.burst();
        let full_at = now.saturating_sub(Self::refill_nanos(burst, bits_per_second));
        let start = self.empty_at.map_or(full_at, |at| at.max(full_at));
        let due = start.saturating_add(Self::refill_nanos(size.clamp(0, burst), bits_per_second));
        due.max(now)
    }

    /// Take `size` bytes at `now` (the caller checked [`Self::due`]).
    pub fn take(&mut self, size: i64, bits_per_second: u64, now: i64) {
        let burst = self.burst();
        let full_at = now.saturating_sub(Self::refill_nanos(burst, bits_per_second));
        let start = self.empty_at.map_or(full_at, |at| at.max(full_at));
        self.empty_at =
            Some(start.saturating_add(Self::refill_nanos(size.clamp(0, burst), bits_per_second)));
        self.held_until = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i64 = 1_000_000_000;

    #[test]
    fn a_full_bucket_sends_a_burst_then_paces_at_the_rate() {
        // 8000 bps = 1000 bytes/s, burst 2000 bytes.
        let mut pacing = RatePacing::default();
        pacing.set_burst(2000);
        let now = 10 * SECOND;
        assert_eq!(pacing.due(1000, 8000, now), now);
        pacing.take(1000, 8000, now);
        assert_eq!(pacing.due(1000, 8000, now), now);
        pacing.take(1000, 8000, now);
        // Empty: the next 500 bytes need half a second.
        assert_eq!(pacing.due(500, 8000, now), now + SECOND / 2);
        pacing.take(500, 8000, now + SECOND / 2);
        assert_eq!(pacing.due(500, 8000, now + SECOND / 2), now + SECOND);
    }

    #[test]
    fn idle_time_refills_only_up_to_the_burst() {
        let mut pacing = RatePacing::default();
        pacing.set_burst(1000);
        pacing.take(1000, 8000, 0);
        // An hour later the bucket holds 1000 bytes, not 3.6 MB.
        let later = 3600 * SECOND;
        assert_eq!(pacing.due(1000, 8000, later), later);
        pacing.take(1000, 8000, later);
        assert_eq!(pacing.due(1000, 8000, later), later + SECOND);
    }

    #[test]
    fn a_message_over_the_burst_waits_for_a_full_bucket_instead_of_forever() {
        let mut pacing = RatePacing::default();
        pacing.set_burst(100);
        pacing.take(100, 800, 0);
        assert_eq!(pacing.due(10_000, 800, 0), SECOND);
    }

    #[test]
    fn a_rate_under_a_byte_per_second_still_refills() {
        let mut pacing = RatePacing::default();
        pacing.set_burst(1);
        pacing.take(1, 1, 0);
        assert_eq!(pacing.due(1, 1, 0), SECOND);
    }
}
