//! How far the machine has got with joining the cluster, for readiness.

use super::machine::Membership;

/// What readiness needs to know of the membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Progress {
    /// Seeds (and gossiped members) not yet tried once: they may still be
    /// reachable, so the node is not ready.
    pub untried: usize,
    /// Some configured seed is another node (not this one): with no route
    /// at all, the node waits the grace period for it.
    pub has_remote_seeds: bool,
}

impl Membership {
    /// Readiness view: seeds and members still to be tried once.
    pub fn progress(&self) -> Progress {
        let seeds = self
            .seeds
            .iter()
            .filter(|s| !s.is_self && !s.retired && !s.tried)
            .count();
        let retries = self.settings.connect_retries;
        let members = self
            .members
            .values()
            .filter(|m| m.route.is_none() && m.attempt == 0 && m.retries_left == retries)
            .count();
        Progress {
            untried: seeds + members + self.untried_names(),
            has_remote_seeds: self.seeds.iter().any(|s| !s.is_self && !s.retired),
        }
    }
}
