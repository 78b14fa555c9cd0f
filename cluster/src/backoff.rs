//! Reconnect delays: capped exponential backoff with full jitter.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::RngExt;

/// Delay before attempt `n` is uniform in `[0, min(cap, base * 2^n)]`
/// ("full jitter"), so nodes that lost each other at the same moment do not
/// redial in lockstep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Backoff {
    /// Ceiling of the first delay.
    pub base: Duration,
    /// Largest ceiling.
    pub cap: Duration,
}

impl Backoff {
    /// The ceiling for attempt `attempt` (0-based).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// A jittered delay for attempt `attempt`, drawn from `rng`.
    pub fn delay(&self, attempt: u32, rng: &mut StdRng) -> Duration {
        let ceiling = u64::try_from(self.ceiling(attempt).as_micros()).unwrap_or(u64::MAX);
        Duration::from_micros(rng.random_range(0..=ceiling))
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    const BACKOFF: Backoff = Backoff {
        base: Duration::from_millis(25),
        cap: Duration::from_secs(1),
    };

    #[test]
    fn ceiling_doubles_from_base_and_stops_at_cap() {
        assert_eq!(BACKOFF.ceiling(0), Duration::from_millis(25));
        assert_eq!(BACKOFF.ceiling(1), Duration::from_millis(50));
        assert_eq!(BACKOFF.ceiling(5), Duration::from_millis(800));
        assert_eq!(BACKOFF.ceiling(6), Duration::from_secs(1));
        assert_eq!(BACKOFF.ceiling(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn delays_stay_within_the_ceiling_and_are_reproducible_with_a_seed() {
        let mut first = StdRng::seed_from_u64(7);
        let mut second = StdRng::seed_from_u64(7);
        for attempt in 0..40 {
            let delay = BACKOFF.delay(attempt, &mut first);
            assert!(delay <= BACKOFF.ceiling(attempt));
            assert_eq!(delay, BACKOFF.delay(attempt, &mut second));
        }
    }

    #[test]
    fn jitter_spreads_delays_over_the_range() {
        let mut rng = StdRng::seed_from_u64(1);
        let delays: Vec<_> = (0..200).map(|_| BACKOFF.delay(10, &mut rng)).collect();
        assert!(delays.iter().any(|d| *d < Duration::from_millis(250)));
        assert!(delays.iter().any(|d| *d > Duration::from_millis(750)));
    }
}
