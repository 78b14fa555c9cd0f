//! Peers' interest: kept in the sublist (so one lookup finds local and
//! remote interest) and indexed per peer, so a lost route's interest is
//! dropped at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use starling_cluster::Peer;
use starling_proto::route::InterestChange;
use starling_proto::subject;

use crate::client::handle::lock;
use crate::interest::{Interest, RemoteInterest};
use crate::sublist::Sublist;

type Key = (Arc<str>, Option<Arc<str>>);

/// Every peer's interest, by route id.
#[derive(Debug, Default)]
pub struct RemoteInterestTable {
    /// Per route id, its entries. Lock order: this, then the sublist.
    peers: Mutex<HashMap<u64, HashMap<Key, Arc<RemoteInterest>>>>,
}

impl RemoteInterestTable {
    /// Apply `changes` announced by `peer`.
    pub fn apply(
        &self,
        sublist: &Sublist<Interest>,
        peer: &Arc<Peer>,
        changes: Vec<InterestChange>,
    ) {
        let mut peers = lock(&self.peers);
        let Some(entries) = peers.get_mut(&peer.rid) else {
            // Interest from a peer that is already down: ignore.
            return;
        };
        // New entries go into the sublist in one batch (one write lock for
        // a whole snapshot frame), flushed before any removal so the order
        // of changes is kept.
        let mut added: Vec<Arc<RemoteInterest>> = Vec::new();
        for change in changes {
            match change {
                InterestChange::Subscribe {
                    subject,
                    queue,
                    weight,
                    ..
                } => {
                    if !valid(&subject, queue.as_deref()) {
                        tracing::warn!(peer = %peer.node_name, %subject, "ignoring invalid interest from peer");
                        continue;
                    }
                    let key: Key = (Arc::from(subject), queue.map(Arc::from));
                    if let Some(existing) = entries.get(&key) {
                        existing.set_weight(weight.max(1));
                        continue;
                    }
                    let remote = Arc::new(RemoteInterest::new(
                        peer.clone(),
                        key.0.clone(),
                        key.1.clone(),
                        weight.max(1),
                    ));
                    entries.insert(key, remote.clone());
                    added.push(remote);
                }
                InterestChange::Unsubscribe { subject, queue, .. } => {
                    insert_all(sublist, &mut added);
                    let key: Key = (Arc::from(subject), queue.map(Arc::from));
                    if let Some(remote) = entries.remove(&key) {
                        sublist.remove(&key.0, key.1.as_deref(), &Interest::Remote(remote));
                    }
                }
            }
        }
        insert_all(sublist, &mut added);
    }

    /// Start tracking `peer` (before its snapshot can arrive).
    pub fn add_peer(&self, peer: &Peer) {
        lock(&self.peers).entry(peer.rid).or_default();
    }

    /// Drop everything `peer` announced.
    pub fn remove_peer(&self, sublist: &Sublist<Interest>, peer: &Peer) {
        let entries = lock(&self.peers).remove(&peer.rid);
        for (key, remote) in entries.into_iter().flatten() {
            sublist.remove(&key.0, key.1.as_deref(), &Interest::Remote(remote));
        }
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
                    .map(|(s, q)| (s.to_string(), q.as_ref().map(|q| q.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Entries across all peers.
    pub fn total(&self) -> usize {
        lock(&self.peers).values().map(HashMap::len).sum()
    }
}

/// Put `added` into the sublist in one batch, and empty it.
fn insert_all(sublist: &Sublist<Interest>, added: &mut Vec<Arc<RemoteInterest>>) {
    if added.is_empty() {
        return;
    }
    let batch: Vec<Arc<RemoteInterest>> = std::mem::take(added);
    sublist.insert_batch(batch.iter().map(|remote| {
        (
            &*remote.subject,
            remote.queue.as_deref(),
            Interest::Remote(remote.clone()),
        )
    }));
}

fn valid(subject_text: &str, queue: Option<&str>) -> bool {
    subject::is_valid_subject(subject_text) && queue.is_none_or(subject::is_valid_queue_name)
}
