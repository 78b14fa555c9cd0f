//! What the subscription index holds: a local client's subscription, or a
//! peer's announced interest. One lookup finds both, so a publish matches
//! local subscribers and the peers to forward to in a single pass.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use starling_cluster::Peer;

use crate::account::{ServiceImport, ServiceResponse, StreamImport};
use crate::client::Subscription;

/// A peer node's interest in a subject (and queue group): the peer wants
/// matching messages; for a queue group it has `weight` local members.
#[derive(Debug)]
pub struct RemoteInterest {
    /// The route to the interested node.
    pub peer: Arc<Peer>,
    /// Subject, possibly with wildcards.
    pub subject: Arc<str>,
    /// Queue group.
    pub queue: Option<Arc<str>>,
    /// Members of the queue group on that node (1 for plain interest).
    weight: AtomicU32,
}

impl RemoteInterest {
    /// Interest of `peer` in `subject`/`queue` with `weight` members.
    pub fn new(peer: Arc<Peer>, subject: Arc<str>, queue: Option<Arc<str>>, weight: u32) -> Self {
        RemoteInterest {
            peer,
            subject,
            queue,
            weight: AtomicU32::new(weight),
        }
    }

    /// Members the peer announced for this queue group.
    pub fn weight(&self) -> u32 {
        self.weight.load(Ordering::Relaxed)
    }

    /// The peer announced a new member count.
    pub fn set_weight(&self, weight: u32) {
        self.weight.store(weight, Ordering::Relaxed);
    }
}

/// One entry of the subscription index. Equality is identity.
#[derive(Debug, Clone)]
pub enum Interest {
    /// A local client's subscription.
    Local(Arc<Subscription>),
    /// A peer's interest.
    Remote(Arc<RemoteInterest>),
    /// A stream import, in the exporter's sublist (imports and responses
    /// are followed by the router, see `router::imports`).
    StreamImport(Arc<StreamImport>),
    /// A service import, in the importer's sublist.
    ServiceImport(Arc<ServiceImport>),
    /// A pending response of a service import, in the exporter's sublist.
    ServiceResponse(Arc<ServiceResponse>),
}

impl PartialEq for Interest {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Interest::Local(a), Interest::Local(b)) => Arc::ptr_eq(a, b),
            (Interest::Remote(a), Interest::Remote(b)) => Arc::ptr_eq(a, b),
            (Interest::StreamImport(a), Interest::StreamImport(b)) => Arc::ptr_eq(a, b),
            (Interest::ServiceImport(a), Interest::ServiceImport(b)) => Arc::ptr_eq(a, b),
            (Interest::ServiceResponse(a), Interest::ServiceResponse(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}
