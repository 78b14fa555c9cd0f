//! Peers' interest: kept in the sublist (so one lookup finds local and
//! remote interest) and indexed per peer, so a lost route's interest is
//! dropped at once.

use std::collections::hash_map::Entry as MapEntry;
use std::sync::{Arc, Mutex};

use foldhash::HashMap;

use starling_cluster::Peer;
use starling_proto::route::InterestChange;
use starling_proto::subject;

use crate::account::{Account, Accounts};
use crate::client::handle::lock;
use crate::interest::{Interest, RemoteInterest};

/// Entries removed from a sublist under one write lock when a peer goes
/// (a snapshot frame's size).
const REMOVE_CHUNK: usize = 4096;

/// Account, subject, queue group.
type Key = (Arc<str>, Arc<str>, Option<Arc<str>>);

/// One announced interest and the account whose sublist holds it.
#[derive(Debug)]
struct Entry {
    account: Arc<Account>,
    remote: Arc<RemoteInterest>,
}

impl Entry {
    fn unindex(&self) {
        self.account.sublist.remove(
            &self.remote.subject,
            self.remote.queue.as_deref(),
            &Interest::Remote(self.remote.clone()),
        );
    }
}

/// Every peer's interest, by route id.
#[derive(Debug, Default)]
pub struct RemoteInterestTable {
    /// Per route id, its entries. Lock order: this, then the accounts
    /// registry, then a sublist.
    peers: Mutex<HashMap<u64, HashMap<Key, Entry>>>,
}

impl RemoteInterestTable {
    /// Apply `changes` announced by `peer`, each in its account's sublist
    /// (an account this node does not know yet is created).
    pub fn apply(&self, accounts: &Accounts, peer: &Arc<Peer>, changes: Vec<InterestChange>) {
        let mut peers = lock(&self.peers);
        let Some(entries) = peers.get_mut(&peer.rid) else {
            // Interest from a peer that is already down: ignore.
            return;
        };
        // A snapshot frame is thousands of new entries: grow once.
        entries.reserve(changes.len());
        // New entries go into their sublists in batches (one write lock
        // per account for a whole snapshot frame), flushed before any
        // removal so the order of changes is kept.
        let mut added = Added::default();
        // A frame's changes are nearly always in one account: the last one
        // found is tried first, and its name is the entries' key.
        let mut last: Option<Arc<Account>> = None;
        for change in changes {
            match change {
                InterestChange::Subscribe {
                    account,
                    subject,
                    queue,
                    weight,
                } => {
                    if !valid(&subject, queue.as_deref()) {
                        tracing::warn!(peer = %peer.node_name, %subject, "ignoring invalid interest from peer");
                        continue;
                    }
                    let Some(account) = account_named(accounts, &mut last, &account) else {
                        tracing::warn!(peer = %peer.node_name, %account, "ignoring interest in an invalid account");
                        continue;
                    };
                    let key: Key = (
                        account.name.clone(),
                        Arc::from(subject),
                        queue.map(Arc::from),
                    );
                    match entries.entry(key) {
                        MapEntry::Occupied(existing) => {
                            existing.get().remote.set_weight(weight.max(1));
                        }
                        MapEntry::Vacant(vacant) => {
                            let (_, subject, queue) = vacant.key();
                            let remote = Arc::new(RemoteInterest::new(
                                peer.clone(),
                                subject.clone(),
                                queue.clone(),
                                weight.max(1),
                            ));
                            added.push(&account, &remote);
                            vacant.insert(Entry { account, remote });
                        }
                    }
                }
                InterestChange::Unsubscribe {
                    account,
                    subject,
                    queue,
                } => {
                    added.insert_all();
                    let key: Key = (Arc::from(account), Arc::from(subject), queue.map(Arc::from));
                    if let Some(entry) = entries.remove(&key) {
                        entry.unindex();
                    }
                }
            }
        }
        added.insert_all();
    }

    /// Start tracking `peer` (before its snapshot can arrive).
    pub fn add_peer(&self, peer: &Peer) {
        lock(&self.peers).entry(peer.rid).or_default();
    }

    /// Drop everything `peer` announced, in sublist batches per account.
    pub fn remove_peer(&self, peer: &Peer) {
        let entries = lock(&self.peers).remove(&peer.rid);
        let mut by_account: Vec<(Arc<Account>, Vec<Arc<RemoteInterest>>)> = Vec::new();
        for entry in entries.into_iter().flat_map(HashMap::into_values) {
            push_by_account(&mut by_account, &entry.account, entry.remote);
        }
        for (account, remotes) in by_account {
            // In chunks, so publishers in the account wait for one chunk's
            // write lock at most, not for all of a large peer's interest.
            for chunk in remotes.chunks(REMOVE_CHUNK) {
                account.sublist.remove_batch(chunk.iter().map(|remote| {
                    (
                        &*remote.subject,
                        remote.queue.as_deref(),
                        Interest::Remote(remote.clone()),
                    )
                }));
            }
        }
    }

    /// Entries announced by the route `rid` in `account` (all accounts when
    /// None), for per-account subscription counts.
    pub fn count_in(&self, account: &str) -> usize {
        lock(&self.peers)
            .values()
            .flat_map(HashMap::keys)
            .filter(|key| &*key.0 == account)
            .count()
    }

    /// Entries announced by the route `rid`.
    pub fn count(&self, rid: u64) -> usize {
        lock(&self.peers).get(&rid).map_or(0, HashMap::len)
    }

    /// Subjects announced by the route `rid` (for /routez?subs=1).
    pub fn subjects(&self, rid: u64) -> Vec<(String, Option<String>)> {
        lock(&self.peers)
            .get(&rid)
            .map(|entries| {
                entries
                    .keys()
                    .map(|(_, s, q)| (s.to_string(), q.as_ref().map(|q| q.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Entries across all peers.
    pub fn total(&self) -> usize {
        lock(&self.peers).values().map(HashMap::len).sum()
    }
}

/// The account `name`, trying `last` (the previous change's) first.
fn account_named(
    accounts: &Accounts,
    last: &mut Option<Arc<Account>>,
    name: &str,
) -> Option<Arc<Account>> {
    if let Some(account) = last.as_ref().filter(|account| &*account.name == name) {
        return Some(account.clone());
    }
    let account = accounts.get_or_create(name)?;
    *last = Some(account.clone());
    Some(account)
}

/// Appends `remote` to its account's list (few accounts: searched by
/// pointer).
fn push_by_account(
    lists: &mut Vec<(Arc<Account>, Vec<Arc<RemoteInterest>>)>,
    account: &Arc<Account>,
    remote: Arc<RemoteInterest>,
) {
    match lists
        .iter_mut()
        .find(|(known, _)| Arc::ptr_eq(known, account))
    {
        Some((_, remotes)) => remotes.push(remote),
        None => lists.push((account.clone(), vec![remote])),
    }
}

fn valid(subject_text: &str, queue: Option<&str>) -> bool {
    subject::is_valid_subject(subject_text) && queue.is_none_or(subject::is_valid_queue_name)
}

/// New remote interest not yet in a sublist, grouped by account.
#[derive(Default)]
struct Added {
    by_account: Vec<(Arc<Account>, Vec<Arc<RemoteInterest>>)>,
}

impl Added {
    fn push(&mut self, account: &Arc<Account>, remote: &Arc<RemoteInterest>) {
        push_by_account(&mut self.by_account, account, remote.clone());
    }

    /// Put everything into the accounts' sublists, one batch per account,
    /// and empty the list.
    fn insert_all(&mut self) {
        for (account, remotes) in self.by_account.drain(..) {
            account.sublist.insert_batch(remotes.iter().map(|remote| {
                (
                    &*remote.subject,
                    remote.queue.as_deref(),
                    Interest::Remote(remote.clone()),
                )
            }));
        }
    }
}
