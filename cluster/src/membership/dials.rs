//! Dialing: which dial may reach a node, scheduling seed redials and member
//! retries, and starting dials.

use tokio::time::Instant;

use super::io::{Action, DialTarget};
use super::machine::Membership;
use crate::url::RouteUrl;

impl Membership {
    /// A dial of ours is in flight that may end at `node_id`.
    pub(super) fn dial_may_reach(&self, node_id: &str) -> bool {
        let seed = self.seeds.iter().any(|s| {
            s.dialing.is_some()
                && !s.is_self
                && !matches!(s.node_id.as_deref(), Some(id) if id != node_id)
        });
        seed || self
            .members
            .get(node_id)
            .is_some_and(|m| m.dialing.is_some())
    }

    pub(super) fn seed_satisfied(&self, index: usize) -> bool {
        self.seeds[index]
            .node_id
            .as_deref()
            .is_some_and(|id| self.live_route(id).is_some())
    }

    pub(super) fn schedule_seed(&mut self, index: usize, now: Instant) {
        if let Some(name) = self.seeds[index].name {
            // A resolved address: resolve its name again instead (names.rs).
            self.seeds[index].next_dial = None;
            self.schedule_name(name, now);
            return;
        }
        let seed = &mut self.seeds[index];
        let delay = self.settings.backoff.delay(seed.attempt, &mut self.rng);
        seed.attempt = seed.attempt.saturating_add(1);
        seed.next_dial = Some(now + delay);
    }

    pub(super) fn retry_member(&mut self, id: &str, now: Instant) {
        let Some(member) = self.members.get_mut(id) else {
            return;
        };
        if member.route.is_some() {
            return;
        }
        if member.retries_left == 0 {
            self.members.remove(id);
            return;
        }
        member.retries_left -= 1;
        let delay = self.settings.backoff.delay(member.attempt, &mut self.rng);
        member.attempt = member.attempt.saturating_add(1);
        member.next_dial = Some(now + delay);
    }

    pub(super) fn forget_if_unrouted(&mut self, id: &str) {
        if self
            .members
            .get(id)
            .is_some_and(|m| m.route.is_none() && m.dialing.is_none())
        {
            self.members.remove(id);
        }
    }

    pub(super) fn start_dial(&mut self, target: DialTarget) {
        let url = match &target {
            DialTarget::Seed(index) => self.seeds[*index].url.clone(),
            DialTarget::Member(id) => {
                let Some(member) = self.members.get(id) else {
                    return;
                };
                match RouteUrl::parse(&member.info.route_url) {
                    Ok(url) => {
                        url.with_default_credentials(&self.settings.user, &self.settings.password)
                    }
                    Err(_) => {
                        self.members.remove(id);
                        return;
                    }
                }
            }
        };
        let dial = self.next_dial_id;
        self.next_dial_id += 1;
        match &target {
            DialTarget::Seed(index) => {
                let seed = &mut self.seeds[*index];
                seed.dialing = Some(dial);
                seed.next_dial = None;
            }
            DialTarget::Member(id) => {
                if let Some(member) = self.members.get_mut(id) {
                    member.dialing = Some(dial);
                    member.next_dial = None;
                }
            }
        }
        self.dials.insert(dial, target.clone());
        self.actions.push(Action::Dial { dial, url, target });
    }
}
