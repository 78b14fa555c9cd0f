//! Readiness: whether this node knows the cluster's interest well enough
//! to take clients (behind the broker's `/healthz`).
//!
//! A node is ready once every seed (and gossiped member) has been tried
//! once, and every peer it has a route to has sent its whole initial
//! interest snapshot (the snapshot ends with an `InterestSync` marked
//! `snapshot_end`; see `crate::sync`). A seed that could not be reached is
//! not waited for, but a node with remote seeds and no route at all waits
//! the grace period for one, so nodes started together find each other
//! first, and a lone first node still starts. Nothing waits longer than
//! [`READINESS_WAIT_CAP`] (or the grace period, if longer). Once ready, the
//! node stays ready: a route lost later is the cluster's business, not a
//! reason to take the node out of its Service.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::limits::READINESS_WAIT_CAP;
use crate::membership::Progress;

/// Why the node is not ready yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotReady {
    /// Seeds or gossiped members not yet tried once.
    Connecting {
        /// How many.
        untried: usize,
    },
    /// Routes whose peers' interest snapshots are not complete yet.
    AwaitingInterest {
        /// Peers whose snapshot is still coming.
        waiting: usize,
        /// Peers with a route.
        peers: usize,
    },
    /// No seed answered yet; ready anyway once the grace period is over.
    NoSeedReachable {
        /// What is left of the grace period.
        remaining: Duration,
    },
}

impl fmt::Display for NotReady {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotReady::Connecting { untried } => {
                write!(f, "connecting to cluster routes ({untried} not tried yet)")
            }
            NotReady::AwaitingInterest { waiting, peers } => write!(
                f,
                "waiting for the interest of {waiting} of {peers} cluster peers"
            ),
            NotReady::NoSeedReachable { remaining } => write!(
                f,
                "no seed route reachable yet; ready without one in {} ms",
                remaining.as_millis()
            ),
        }
    }
}

/// The readiness state shared by the driver (which publishes progress) and
/// [`crate::Cluster::readiness`].
#[derive(Debug)]
pub(crate) struct Readiness {
    /// The membership's progress as of the driver's last step. Leaf lock,
    /// held only to copy in or out.
    pub progress: Mutex<Progress>,
    /// Latched once ready.
    ready: AtomicBool,
    /// When the cluster started.
    started: Instant,
    /// How long a node with remote seeds and no route waits for one.
    grace: Duration,
}

impl Readiness {
    pub fn new(progress: Progress, grace: Duration) -> Self {
        Readiness {
            progress: Mutex::new(progress),
            ready: AtomicBool::new(false),
            started: Instant::now(),
            grace,
        }
    }

    /// Judge now, given the peers' snapshot states, and latch a yes.
    pub fn check(&self, peers: usize, waiting: usize) -> Result<(), NotReady> {
        if self.ready.load(Ordering::Acquire) {
            return Ok(());
        }
        let progress = *crate::shared::lock(&self.progress);
        let elapsed = self.started.elapsed();
        let verdict = judge(progress, peers, waiting, elapsed, self.grace);
        if verdict.is_ok() && !self.ready.swap(true, Ordering::AcqRel) {
            tracing::info!(
                elapsed_ms = elapsed.as_millis() as u64,
                peers,
                "cluster ready"
            );
        }
        verdict
    }
}

/// The rules of the module doc, as a pure function.
pub(crate) fn judge(
    progress: Progress,
    peers: usize,
    waiting: usize,
    elapsed: Duration,
    grace: Duration,
) -> Result<(), NotReady> {
    if elapsed >= READINESS_WAIT_CAP.max(grace) {
        return Ok(());
    }
    if progress.untried > 0 {
        return Err(NotReady::Connecting {
            untried: progress.untried,
        });
    }
    if waiting > 0 {
        return Err(NotReady::AwaitingInterest { waiting, peers });
    }
    if progress.has_remote_seeds && peers == 0 && elapsed < grace {
        return Err(NotReady::NoSeedReachable {
            remaining: grace - elapsed,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRACE: Duration = Duration::from_secs(3);

    fn progress(untried: usize, has_remote_seeds: bool) -> Progress {
        Progress {
            untried,
            has_remote_seeds,
        }
    }

    #[test]
    fn untried_seed_keeps_the_node_unready_until_the_cap() {
        let early = Duration::from_millis(10);
        assert_eq!(
            judge(progress(2, true), 0, 0, early, GRACE),
            Err(NotReady::Connecting { untried: 2 })
        );
        assert_eq!(
            judge(progress(2, true), 0, 0, GRACE, GRACE),
            Err(NotReady::Connecting { untried: 2 })
        );
        assert_eq!(
            judge(progress(2, true), 0, 0, READINESS_WAIT_CAP, GRACE),
            Ok(())
        );
    }

    #[test]
    fn routes_wait_for_every_snapshot() {
        let early = Duration::from_millis(10);
        assert_eq!(
            judge(progress(0, true), 2, 1, early, GRACE),
            Err(NotReady::AwaitingInterest {
                waiting: 1,
                peers: 2
            })
        );
        assert_eq!(judge(progress(0, true), 2, 0, early, GRACE), Ok(()));
    }

    #[test]
    fn no_reachable_seed_waits_the_grace_period_only() {
        let early = Duration::from_secs(1);
        assert_eq!(
            judge(progress(0, true), 0, 0, early, GRACE),
            Err(NotReady::NoSeedReachable {
                remaining: Duration::from_secs(2)
            })
        );
        assert_eq!(judge(progress(0, true), 0, 0, GRACE, GRACE), Ok(()));
    }

    #[test]
    fn node_without_remote_seeds_is_ready_at_once() {
        assert_eq!(
            judge(progress(0, false), 0, 0, Duration::ZERO, GRACE),
            Ok(())
        );
    }

    #[test]
    fn reasons_read_plainly() {
        let reason = NotReady::AwaitingInterest {
            waiting: 1,
            peers: 2,
        };
        assert_eq!(
            reason.to_string(),
            "waiting for the interest of 1 of 2 cluster peers"
        );
    }
}
