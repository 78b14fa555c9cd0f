//! Local interest, counted per subject and queue group, with the peers it
//! is announced to.
//!
//! Interest goes out only on edges: a plain subject on 0 -> 1 and 1 -> 0; a
//! queue group on every change of its member count (the count is its weight
//! in the cluster-wide random choice). A new peer gets a full snapshot. The
//! counts and the peer list share one lock, and changes are queued while it
//! is held, so a peer never sees a delta before its snapshot or out of order.

use std::sync::{Arc, Mutex};

use foldhash::HashMap;
use starling_cluster::Peer;
use starling_proto::route::{InterestChange, InterestRef};

use crate::client::handle::lock;

/// Account, subject, queue group.
type Key = (Arc<str>, Arc<str>, Option<Arc<str>>);

/// Interest changes per frame of a snapshot for a new peer.
const SNAPSHOT_CHUNK: usize = 4096;

#[derive(Debug, Default)]
struct Inner {
    counts: HashMap<Key, u32>,
    peers: Vec<Arc<Peer>>,
}

/// Local interest and the peers that hear about it.
#[derive(Debug, Default)]
pub struct LocalInterest {
    /// Counts and peers; held only to update and queue (never across await).
    inner: Mutex<Inner>,
}

impl LocalInterest {
    /// A local subscription was added.
    pub fn added(&self, account: &Arc<str>, subject: &Arc<str>, queue: Option<&Arc<str>>) {
        let mut inner = lock(&self.inner);
        let count = inner
            .counts
            .entry((account.clone(), subject.clone(), queue.cloned()))
            .or_insert(0);
        *count += 1;
        let count = *count;
        if queue.is_some() || count == 1 {
            let change = InterestChange::Subscribe {
                account: account.to_string(),
                subject: subject.to_string(),
                queue: queue.map(|q| q.to_string()),
                weight: count,
            };
            broadcast(&inner.peers, change);
        }
    }

    /// A local subscription was removed.
    pub fn removed(&self, account: &Arc<str>, subject: &Arc<str>, queue: Option<&Arc<str>>) {
        let mut inner = lock(&self.inner);
        let key = (account.clone(), subject.clone(), queue.cloned());
        let Some(count) = inner.counts.get_mut(&key) else {
            return;
        };
        *count -= 1;
        let count = *count;
        let change = if count == 0 {
            inner.counts.remove(&key);
            Some(InterestChange::Unsubscribe {
                account: account.to_string(),
                subject: subject.to_string(),
                queue: queue.map(|q| q.to_string()),
            })
        } else {
            queue.map(|q| InterestChange::Subscribe {
                account: account.to_string(),
                subject: subject.to_string(),
                queue: Some(q.to_string()),
                weight: count,
            })
        };
        if let Some(change) = change {
            broadcast(&inner.peers, change);
        }
    }

    /// Start announcing to `peer`, beginning with a snapshot.
    pub fn add_peer(&self, peer: &Arc<Peer>) {
        let mut inner = lock(&self.inner);
        // Borrowed straight from the counts (no per-entry copies), in frames
        // of SNAPSHOT_CHUNK changes: the writer sends the first while the
        // rest is encoded, and the peer applies each as it comes.
        let snapshot =
            inner.counts.iter().map(
                |((account, subject, queue), count)| InterestRef::Subscribe {
                    account,
                    subject,
                    queue: queue.as_deref(),
                    weight: *count,
                },
            );
        if peer
            .send_interest_snapshot(snapshot, SNAPSHOT_CHUNK)
            .is_err()
        {
            tracing::warn!(peer = %peer.node_name, "route too slow for the interest snapshot");
        }
        inner.peers.retain(|p| p.rid != peer.rid);
        inner.peers.push(peer.clone());
    }

    /// Stop announcing to `peer`.
    pub fn remove_peer(&self, peer: &Peer) {
        lock(&self.inner).peers.retain(|p| p.rid != peer.rid);
    }

    /// Distinct subjects (and queue groups) with local interest.
    pub fn len(&self) -> usize {
        lock(&self.inner).counts.len()
    }

    /// No local interest at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn broadcast(peers: &[Arc<Peer>], change: InterestChange) {
    let changes = [change];
    for peer in peers {
        if peer.send_interest(&changes).is_err() {
            tracing::warn!(peer = %peer.node_name, "route too slow for interest updates");
        }
    }
}
