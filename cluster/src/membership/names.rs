//! Seeds named by a host name that may resolve to several addresses (a
//! Kubernetes headless Service): every address is dialed as a seed of its
//! own, and every redial of one of them resolves the name again first, so
//! pods that moved or appeared are found and addresses that went away are
//! dropped.
//!
//! The machine asks for a resolution ([`Action::Resolve`]); the driver
//! resolves, leaves out this node's own address, and reports the addresses
//! ([`Membership::resolved`]). An address seed that fails, or whose route
//! is lost, schedules a new resolution (with the name's backoff) instead of
//! a redial of its own.

use std::net::SocketAddr;

use tokio::time::Instant;

use super::io::Action;
use super::machine::{Membership, SeedState};
use crate::url::RouteUrl;

/// A seed URL whose host is a name.
#[derive(Debug)]
pub(crate) struct NameSeed {
    /// The configured URL (host name, port, credentials).
    pub(super) url: RouteUrl,
    /// A resolution is in flight.
    pub(super) resolving: bool,
    /// A resolution has ended at least once (readiness).
    pub(super) tried: bool,
    /// Consecutive resolutions that found nothing new to reach (backoff).
    pub(super) attempt: u32,
    pub(super) next_resolve: Option<Instant>,
}

impl NameSeed {
    pub(super) fn new(url: RouteUrl, now: Instant) -> Self {
        NameSeed {
            url,
            resolving: false,
            tried: false,
            attempt: 0,
            next_resolve: Some(now),
        }
    }
}

impl Membership {
    /// Name `name` resolved to `addresses` (this node's own left out); an
    /// empty list when resolution failed.
    pub fn resolved(&mut self, name: usize, addresses: Vec<SocketAddr>, now: Instant) {
        let Some(state) = self.names.get_mut(name) else {
            return;
        };
        state.resolving = false;
        state.tried = true;
        let url = state.url.clone();
        if addresses.is_empty() {
            self.schedule_name(name, now);
            return;
        }
        let wanted: Vec<String> = addresses.iter().map(SocketAddr::to_string).collect();
        // Addresses gone from the name are no longer dialed (a live route
        // to one stays until it ends).
        for seed in self.seeds.iter_mut().filter(|s| s.name == Some(name)) {
            seed.retired = !wanted.contains(&seed.url.host_port);
            if seed.retired {
                seed.next_dial = None;
            }
        }
        for host_port in wanted {
            let existing = self
                .seeds
                .iter()
                .position(|s| s.name == Some(name) && s.url.host_port == host_port);
            let index = match existing {
                Some(index) => index,
                None => {
                    let tls_name = crate::resolve::named_host(&url.host_port)
                        .map(|(host, _)| host.to_string());
                    let url = RouteUrl {
                        host_port,
                        tls_name,
                        ..url.clone()
                    };
                    self.seeds.push(SeedState::new(url, Some(name), now));
                    self.seeds.len() - 1
                }
            };
            let seed = &self.seeds[index];
            if seed.dialing.is_none() && !seed.is_self && !self.seed_satisfied(index) {
                self.seeds[index].next_dial = Some(now);
            }
        }
    }

    /// Resolve `name` again after its backoff.
    pub(super) fn schedule_name(&mut self, name: usize, now: Instant) {
        let Some(state) = self.names.get_mut(name) else {
            return;
        };
        if state.resolving || state.next_resolve.is_some() {
            return;
        }
        let delay = self.settings.backoff.delay(state.attempt, &mut self.rng);
        state.attempt = state.attempt.saturating_add(1);
        state.next_resolve = Some(now + delay);
    }

    /// Start the resolutions that are due.
    pub(super) fn poll_names(&mut self, now: Instant) {
        for (name, state) in self.names.iter_mut().enumerate() {
            if state.resolving || state.next_resolve.is_none_or(|at| at > now) {
                continue;
            }
            state.resolving = true;
            state.next_resolve = None;
            self.actions.push(Action::Resolve {
                name,
                url: state.url.clone(),
            });
        }
    }

    /// When the next resolution is due.
    pub(super) fn next_resolve(&self) -> Option<Instant> {
        self.names
            .iter()
            .filter(|n| !n.resolving)
            .filter_map(|n| n.next_resolve)
            .min()
    }

    /// A route to `node_id` was kept: the names behind it start their
    /// backoff over.
    pub(super) fn name_reached(&mut self, node_id: &str) {
        for seed in &self.seeds {
            if seed.node_id.as_deref() == Some(node_id) {
                if let Some(state) = seed.name.and_then(|name| self.names.get_mut(name)) {
                    state.attempt = 0;
                }
            }
        }
    }

    /// Names never resolved yet (readiness).
    pub(super) fn untried_names(&self) -> usize {
        self.names.iter().filter(|n| !n.tried).count()
    }
}
