//! JetStream's own counters for `/metrics`: the fsync latency histogram
//! (one observation per batch sync, a few relaxed atomic adds), kept as
//! fixed buckets so a scrape copies them without a recorder on the path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, seconds (the last bucket is `+Inf`).
pub const FSYNC_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// Fsync latencies.
#[derive(Debug, Default)]
pub struct SyncHistogram {
    /// Observations per bucket (not cumulative); the extra one is `+Inf`.
    buckets: [AtomicU64; FSYNC_BUCKETS.len() + 1],
    /// Sum of the observations, nanoseconds.
    sum_nanos: AtomicU64,
}

/// A copy of the histogram: cumulative counts per bound, count, sum.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncSnapshot {
    /// (upper bound, observations at or below it), `+Inf` last.
    pub cumulative: Vec<(f64, u64)>,
    /// Observations.
    pub count: u64,
    /// Sum, seconds.
    pub sum_seconds: f64,
}

impl SyncHistogram {
    /// Count one sync that took `took`.
    pub fn observe(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let index = FSYNC_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(FSYNC_BUCKETS.len());
        self.buckets[index].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The histogram now.
    pub fn snapshot(&self) -> SyncSnapshot {
        let mut running = 0;
        let mut cumulative = Vec::with_capacity(self.buckets.len());
        for (index, bucket) in self.buckets.iter().enumerate() {
            running += bucket.load(Ordering::Relaxed);
            let bound = FSYNC_BUCKETS.get(index).copied().unwrap_or(f64::INFINITY);
            cumulative.push((bound, running));
        }
        SyncSnapshot {
            cumulative,
            count: running,
            sum_seconds: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_cumulative_buckets() {
        let histogram = SyncHistogram::default();
        histogram.observe(Duration::from_micros(50));
        histogram.observe(Duration::from_millis(3));
        histogram.observe(Duration::from_secs(5));
        let snapshot = histogram.snapshot();
        assert_eq!(snapshot.count, 3);
        assert_eq!(snapshot.cumulative[0], (0.0001, 1));
        assert_eq!(snapshot.cumulative[5], (0.005, 2));
        assert_eq!(snapshot.cumulative.last(), Some(&(f64::INFINITY, 3)));
        assert!((snapshot.sum_seconds - 5.00305).abs() < 1e-9);
    }
}
