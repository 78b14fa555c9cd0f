//! The membership state: seeds, members, live and pending routes, dials.

use std::collections::{BTreeMap, HashMap};

use rand::rngs::StdRng;
use starling_proto::route::Member;
use tokio::time::Instant;

use super::io::{Action, Authority, DialId, DialOutcome, DialTarget, Settings, Verdict};
use super::names::NameSeed;
use crate::close::CloseReason;
use crate::url::RouteUrl;

/// A configured seed URL and its dialing state.
#[derive(Debug)]
pub(super) struct SeedState {
    pub(super) url: RouteUrl,
    /// The node last found behind this URL.
    pub(super) node_id: Option<String>,
    /// The URL reached this node: never dialed again.
    pub(super) is_self: bool,
    /// A dial of it has ended at least once (readiness: an unreachable seed
    /// is not waited for).
    pub(super) tried: bool,
    /// Consecutive failures (backoff exponent).
    pub(super) attempt: u32,
    pub(super) next_dial: Option<Instant>,
    pub(super) dialing: Option<DialId>,
    /// The name seed (index into `names`) this address was resolved from.
    pub(super) name: Option<usize>,
    /// The name no longer resolves to this address: not dialed again.
    pub(super) retired: bool,
}

impl SeedState {
    /// A seed due for a dial at `now`.
    pub(super) fn new(url: RouteUrl, name: Option<usize>, now: Instant) -> Self {
        SeedState {
            url,
            node_id: None,
            is_self: false,
            tried: false,
            attempt: 0,
            next_dial: Some(now),
            dialing: None,
            name,
            retired: false,
        }
    }
}

/// Another node: its gossiped info, its live route, its redial state.
#[derive(Debug)]
pub(super) struct MemberState {
    pub(super) info: Member,
    pub(super) route: Option<u64>,
    pub(super) retries_left: u32,
    pub(super) attempt: u32,
    pub(super) next_dial: Option<Instant>,
    pub(super) dialing: Option<DialId>,
}

/// A route that was kept.
#[derive(Debug)]
pub(super) struct LiveRoute {
    node_id: String,
    /// Set when this node dialed the route.
    dialed: Option<DialTarget>,
}

/// An inbound route held until our competing dials settle.
#[derive(Debug)]
pub(super) struct PendingRoute {
    info: Member,
    deadline: Instant,
}

/// A confirmed route that replaces a stale one.
#[derive(Debug)]
pub(super) struct Replacement {
    rid: u64,
    target: Option<DialTarget>,
    info: Member,
}

/// The membership of this node. See the module doc for the rules.
#[derive(Debug)]
pub(crate) struct Membership {
    pub(super) local: Member,
    pub(super) settings: Settings,
    pub(super) rng: StdRng,
    pub(super) seeds: Vec<SeedState>,
    /// Seeds named by a host name, resolved (and re-resolved) into `seeds`.
    pub(super) names: Vec<NameSeed>,
    /// Other nodes, by id: live, being dialed, or waiting for a redial.
    pub(super) members: BTreeMap<String, MemberState>,
    pub(super) routes: HashMap<u64, LiveRoute>,
    /// Inbound routes held while our own dials are in flight.
    pub(super) pending: BTreeMap<u64, PendingRoute>,
    /// Confirmed routes waiting for the stale live route they replace (by
    /// the old route's id) to end.
    pub(super) replacing: HashMap<u64, Replacement>,
    pub(super) dials: HashMap<DialId, DialTarget>,
    pub(super) next_dial_id: DialId,
    pub(super) next_refresh: Instant,
    pub(super) client_urls: Vec<String>,
    pub(super) actions: Vec<Action>,
}

impl Membership {
    /// A node alone, with every seed due for a dial (and every name seed
    /// for a resolution) at `now`.
    pub fn new(
        local: Member,
        seeds: Vec<RouteUrl>,
        names: Vec<RouteUrl>,
        settings: Settings,
        rng: StdRng,
        now: Instant,
    ) -> Self {
        let seeds = seeds
            .into_iter()
            .map(|url| SeedState::new(url, None, now))
            .collect();
        let names = names
            .into_iter()
            .map(|url| NameSeed::new(url, now))
            .collect();
        let mut machine = Membership {
            local,
            next_refresh: now + settings.refresh,
            settings,
            rng,
            seeds,
            names,
            members: BTreeMap::new(),
            routes: HashMap::new(),
            pending: BTreeMap::new(),
            replacing: HashMap::new(),
            dials: HashMap::new(),
            next_dial_id: 1,
            client_urls: Vec::new(),
            actions: Vec::new(),
        };
        machine.client_urls = machine.compute_client_urls();
        machine
    }

    /// The actions produced since the last call.
    pub fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.actions)
    }

    /// Start due dials, settle expired pending routes, gossip periodically.
    pub fn poll(&mut self, now: Instant) {
        for index in 0..self.seeds.len() {
            let seed = &self.seeds[index];
            let due = seed.next_dial.is_some_and(|at| at <= now);
            if !due || seed.dialing.is_some() || seed.is_self || seed.retired {
                continue;
            }
            if self.seed_satisfied(index) {
                let seed = &mut self.seeds[index];
                seed.next_dial = None;
                seed.attempt = 0;
            } else {
                self.start_dial(DialTarget::Seed(index));
            }
        }
        let due: Vec<String> = self
            .members
            .iter()
            .filter(|(_, m)| m.route.is_none() && m.dialing.is_none())
            .filter(|(_, m)| m.next_dial.is_some_and(|at| at <= now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            self.start_dial(DialTarget::Member(id));
        }
        self.poll_names(now);
        self.settle_pending(now);
        if now >= self.next_refresh {
            self.next_refresh = now + self.settings.refresh;
            if !self.routes.is_empty() {
                self.actions.push(Action::BroadcastMembers { except: None });
            }
        }
    }

    /// When [`Membership::poll`] has something to do next.
    pub fn next_deadline(&self) -> Instant {
        let seeds = self
            .seeds
            .iter()
            .filter(|s| s.dialing.is_none())
            .filter_map(|s| s.next_dial);
        let members = self
            .members
            .values()
            .filter(|m| m.dialing.is_none())
            .filter_map(|m| m.next_dial);
        let pending = self.pending.values().map(|p| p.deadline);
        seeds
            .chain(members)
            .chain(pending)
            .chain(self.next_resolve())
            .fold(self.next_refresh, Instant::min)
    }

    /// Route `rid` completed its handshake with `info`'s node; `dial` is set
    /// when this node dialed it. Answers with an [`Action::Verdict`] now or,
    /// for a held inbound route, later.
    pub fn register(
        &mut self,
        rid: u64,
        dial: Option<DialId>,
        info: Member,
        authority: Authority,
        now: Instant,
    ) {
        let target = dial.and_then(|dial| self.dials.remove(&dial));
        match &target {
            Some(DialTarget::Seed(index)) => {
                let seed = &mut self.seeds[*index];
                seed.dialing = None;
                seed.tried = true;
                seed.node_id = Some(info.node_id.clone());
            }
            Some(DialTarget::Member(id)) => {
                if let Some(member) = self.members.get_mut(id) {
                    member.dialing = None;
                }
                if *id != info.node_id {
                    // The URL now belongs to another node (a restart): the
                    // old id is gone for good.
                    self.forget_if_unrouted(id);
                }
            }
            None => {}
        }
        match (self.live_route(&info.node_id), authority) {
            (Some(_), Authority::Decide) => {
                self.verdict(rid, Verdict::Reject(CloseReason::DuplicateRoute));
            }
            (Some(old), Authority::Confirmed) => {
                // The decider confirmed a new route, so it has dropped the
                // old one already; we just have not noticed yet. Close the
                // old one and keep the new one once the old one has ended
                // (so peer_down for it comes first and nothing of it is
                // delivered afterwards).
                let replacement = Replacement { rid, target, info };
                if let Some(previous) = self.replacing.insert(old, replacement) {
                    self.verdict(previous.rid, Verdict::Reject(CloseReason::DuplicateRoute));
                }
                self.actions.push(Action::Supersede { rid: old });
            }
            (None, Authority::Decide) if target.is_none() && self.dial_may_reach(&info.node_id) => {
                let deadline = now + self.settings.defer_max;
                self.pending.insert(rid, PendingRoute { info, deadline });
            }
            (None, _) => self.keep(rid, target, info),
        }
        self.settle_pending(now);
        self.check_client_urls();
    }

    /// Dial `dial` ended without a registration.
    pub fn dial_finished(&mut self, dial: DialId, outcome: DialOutcome, now: Instant) {
        let Some(target) = self.dials.remove(&dial) else {
            return;
        };
        match target {
            DialTarget::Seed(index) => {
                self.seeds[index].dialing = None;
                self.seeds[index].tried = true;
                match outcome {
                    DialOutcome::Failed => self.schedule_seed(index, now),
                    DialOutcome::SelfRoute => {
                        let seed = &mut self.seeds[index];
                        seed.is_self = true;
                        seed.next_dial = None;
                    }
                    DialOutcome::Duplicate { node_id } => {
                        self.seeds[index].node_id = Some(node_id);
                        if self.seed_satisfied(index) {
                            self.seeds[index].attempt = 0;
                        } else {
                            self.schedule_seed(index, now);
                        }
                    }
                }
            }
            DialTarget::Member(id) => {
                if let Some(member) = self.members.get_mut(&id) {
                    member.dialing = None;
                }
                match outcome {
                    DialOutcome::SelfRoute => self.forget_if_unrouted(&id),
                    DialOutcome::Duplicate { node_id } if node_id != id => {
                        self.forget_if_unrouted(&id)
                    }
                    DialOutcome::Failed | DialOutcome::Duplicate { .. } => {
                        self.retry_member(&id, now)
                    }
                }
            }
        }
        self.settle_pending(now);
    }

    /// Route `rid` (live or held) ended.
    pub fn route_closed(&mut self, rid: u64, now: Instant) {
        if self.pending.remove(&rid).is_some() {
            return;
        }
        self.replacing
            .retain(|_, replacement| replacement.rid != rid);
        let Some(route) = self.routes.remove(&rid) else {
            return;
        };
        if let Some(replacement) = self.replacing.remove(&rid) {
            if let Some(member) = self.members.get_mut(&route.node_id) {
                member.route = None;
            }
            self.keep(replacement.rid, replacement.target, replacement.info);
            self.check_client_urls();
            return;
        }
        let backed_by_seed = self
            .seeds
            .iter()
            .any(|s| !s.is_self && s.node_id.as_deref() == Some(route.node_id.as_str()));
        if backed_by_seed {
            // Seeds are redialed forever; the member comes back with the route.
            let names: Vec<usize> = self
                .seeds
                .iter()
                .filter(|s| s.node_id.as_deref() == Some(route.node_id.as_str()))
                .filter_map(|s| s.name)
                .collect();
            for name in names {
                // Resolve the name again before redialing (names.rs).
                self.schedule_name(name, now);
            }
            for seed in &mut self.seeds {
                if seed.name.is_some() {
                    continue;
                }
                if !seed.is_self && seed.node_id.as_deref() == Some(route.node_id.as_str()) {
                    seed.attempt = 0;
                    if seed.dialing.is_none() {
                        let delay = self.settings.backoff.delay(0, &mut self.rng);
                        seed.next_dial = Some(now + delay);
                        seed.attempt = 1;
                    }
                }
            }
            self.members.remove(&route.node_id);
        } else if route.dialed.is_some() {
            let delay = self.settings.backoff.delay(0, &mut self.rng);
            if let Some(member) = self.members.get_mut(&route.node_id) {
                member.route = None;
                member.retries_left = self.settings.connect_retries;
                member.attempt = 1;
                member.next_dial = Some(now + delay);
            }
        } else {
            // The peer dialed it: it redials, and we learn it again then.
            self.members.remove(&route.node_id);
        }
        self.check_client_urls();
    }

    /// Route `rid`'s peer sent its members (itself included).
    pub fn members_received(&mut self, rid: u64, members: Vec<Member>, now: Instant) {
        let Some(sender) = self.routes.get(&rid).map(|r| r.node_id.clone()) else {
            return;
        };
        for member in members {
            if member.node_id == self.local.node_id {
                continue;
            }
            if member.node_id == sender {
                if let Some(state) = self.members.get_mut(&sender) {
                    state.info.client_urls = member.client_urls;
                    state.info.lame_duck = member.lame_duck;
                    state.info.node_name = member.node_name;
                }
                continue;
            }
            let seeded = self
                .seeds
                .iter()
                .any(|s| s.node_id.as_deref() == Some(member.node_id.as_str()));
            if seeded || self.members.contains_key(&member.node_id) || member.route_url.is_empty() {
                continue;
            }
            self.members.insert(
                member.node_id.clone(),
                MemberState {
                    info: member,
                    route: None,
                    retries_left: self.settings.connect_retries,
                    attempt: 0,
                    next_dial: Some(now),
                    dialing: None,
                },
            );
        }
        self.check_client_urls();
    }

    /// This node entered lame duck mode: tell everyone.
    pub fn enter_lame_duck(&mut self) {
        if self.local.lame_duck {
            return;
        }
        self.local.lame_duck = true;
        self.actions.push(Action::BroadcastMembers { except: None });
        self.check_client_urls();
    }

    /// Live route ids (for tests and checks).
    #[cfg(test)]
    pub fn live_routes(&self) -> Vec<(u64, String)> {
        let mut routes: Vec<_> = self
            .routes
            .iter()
            .map(|(rid, r)| (*rid, r.node_id.clone()))
            .collect();
        routes.sort();
        routes
    }

    /// Known member ids (for tests).
    #[cfg(test)]
    pub fn member_ids(&self) -> Vec<String> {
        self.members.keys().cloned().collect()
    }

    fn keep(&mut self, rid: u64, target: Option<DialTarget>, info: Member) {
        let node_id = info.node_id.clone();
        let retries = self.settings.connect_retries;
        let member = self
            .members
            .entry(node_id.clone())
            .or_insert_with(|| MemberState {
                info: info.clone(),
                route: None,
                retries_left: retries,
                attempt: 0,
                next_dial: None,
                dialing: None,
            });
        member.info = info;
        member.route = Some(rid);
        member.retries_left = retries;
        member.attempt = 0;
        member.next_dial = None;
        for seed in &mut self.seeds {
            if seed.node_id.as_deref() == Some(node_id.as_str()) {
                seed.attempt = 0;
                seed.next_dial = None;
            }
        }
        self.name_reached(&node_id);
        self.routes.insert(
            rid,
            LiveRoute {
                node_id,
                dialed: target,
            },
        );
        self.verdict(rid, Verdict::Keep);
        self.actions
            .push(Action::BroadcastMembers { except: Some(rid) });
    }

    pub(super) fn verdict(&mut self, rid: u64, verdict: Verdict) {
        self.actions.push(Action::Verdict { rid, verdict });
    }

    /// Decide held routes whose competing dials are done or whose time is up.
    fn settle_pending(&mut self, now: Instant) {
        let ready: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| {
                p.deadline <= now
                    || self.live_route(&p.info.node_id).is_some()
                    || !self.dial_may_reach(&p.info.node_id)
            })
            .map(|(rid, _)| *rid)
            .collect();
        for rid in ready {
            let Some(pending) = self.pending.remove(&rid) else {
                continue;
            };
            if self.live_route(&pending.info.node_id).is_some() {
                self.verdict(rid, Verdict::Reject(CloseReason::DuplicateRoute));
            } else {
                self.keep(rid, None, pending.info);
            }
        }
        self.check_client_urls();
    }

    pub(super) fn live_route(&self, node_id: &str) -> Option<u64> {
        self.members.get(node_id).and_then(|m| m.route)
    }
}
