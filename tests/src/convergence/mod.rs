//! Cluster convergence figures (issue 8, section 2), measured against real
//! server processes on loopback: Starling and nats-server side by side.
//!
//! - [`figures`]: the four measurements.
//! - [`mesh`]: a cluster of local nodes, optionally behind [`proxy`]s.
//! - [`proxy`]: an in-process TCP proxy that counts bytes and partitions.
//! - [`node`]: one server process, its ports and its monitoring endpoint.
//! - [`client`]: a minimal raw NATS client.
//!
//! The binary is `starling-convergence` (tests/src/bin/convergence.rs).

pub mod client;
pub mod figures;
pub mod mesh;
pub mod node;
pub mod proxy;

use std::time::Duration;

/// The nearest-rank percentile `p` (0..=100) of `samples`, sorted in place.
pub fn percentile(samples: &mut [Duration], p: f64) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    samples.sort();
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    Some(samples[rank.clamp(1, samples.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_is_nearest_rank() {
        let mut samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(
            percentile(&mut samples, 50.0),
            Some(Duration::from_millis(50))
        );
        assert_eq!(
            percentile(&mut samples, 99.0),
            Some(Duration::from_millis(99))
        );
        assert_eq!(
            percentile(&mut samples, 100.0),
            Some(Duration::from_millis(100))
        );
        assert_eq!(percentile(&mut [], 50.0), None);
    }
}
