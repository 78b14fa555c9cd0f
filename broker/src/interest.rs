//! What the subscription index holds: a local client's subscription, or a
//! peer's announced interest. One lookup finds both, so a publish matches
//! local subscribers and the peers to forward to in a single pass.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use starling_cluster::Peer;
use tokio::sync::mpsc;

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

/// A message delivered to a server-internal subscription.
#[derive(Debug, Clone)]
pub struct InternalMessage {
    /// The subject it was published on.
    pub subject: String,
    /// Its reply subject.
    pub reply: Option<String>,
    /// Headers (if any) then payload.
    pub payload: Vec<u8>,
    /// Length of the headers at the start of `payload`, for HPUB.
    pub header_len: Option<usize>,
    /// The publishing local client, when a client of this server published
    /// it (None for messages from routes or from the server itself).
    pub publisher: Option<u64>,
}

/// A subscription the server itself holds in an account (the system
/// account's services): messages go to a bounded channel, never through an
/// outbound queue; a full channel drops the message and counts it, so a
/// publisher never waits on the server's own services.
#[derive(Debug)]
pub struct InternalSubscription {
    /// Subject, possibly with wildcards.
    pub subject: Arc<str>,
    /// Queue group.
    pub queue: Option<Arc<str>>,
    sender: mpsc::Sender<InternalMessage>,
    dropped: AtomicU64,
}

impl InternalSubscription {
    /// A subscription to `subject` (in `queue`) that delivers to `sender`.
    pub fn new(subject: &str, queue: Option<&str>, sender: mpsc::Sender<InternalMessage>) -> Self {
        InternalSubscription {
            subject: Arc::from(subject),
            queue: queue.map(Arc::from),
            sender,
            dropped: AtomicU64::new(0),
        }
    }

    /// Hand `message` to the channel without waiting; false (and counted)
    /// when the channel is full or its receiver is gone.
    pub fn offer(&self, message: InternalMessage) -> bool {
        match self.sender.try_send(message) {
            Ok(()) => true,
            Err(_) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Messages dropped because the channel was full or closed.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Whether the receiving side still exists.
    pub fn is_open(&self) -> bool {
        !self.sender.is_closed()
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
    /// A subscription of the server itself (system account services).
    Internal(Arc<InternalSubscription>),
}

impl PartialEq for Interest {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Interest::Local(a), Interest::Local(b)) => Arc::ptr_eq(a, b),
            (Interest::Remote(a), Interest::Remote(b)) => Arc::ptr_eq(a, b),
            (Interest::StreamImport(a), Interest::StreamImport(b)) => Arc::ptr_eq(a, b),
            (Interest::ServiceImport(a), Interest::ServiceImport(b)) => Arc::ptr_eq(a, b),
            (Interest::ServiceResponse(a), Interest::ServiceResponse(b)) => Arc::ptr_eq(a, b),
            (Interest::Internal(a), Interest::Internal(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(n: u8) -> InternalMessage {
        InternalMessage {
            subject: "s".into(),
            reply: None,
            payload: vec![n],
            header_len: None,
            publisher: None,
        }
    }

    #[test]
    fn a_full_channel_drops_and_counts_without_waiting() {
        let (sender, mut receiver) = mpsc::channel(2);
        let sub = InternalSubscription::new("s", None, sender);
        assert!(sub.offer(message(1)));
        assert!(sub.offer(message(2)));
        assert!(!sub.offer(message(3)), "third does not fit");
        assert_eq!(sub.dropped(), 1);
        assert_eq!(receiver.try_recv().map(|m| m.payload).ok(), Some(vec![1]));
        assert!(sub.offer(message(4)), "room again after a receive");
        drop(receiver);
        assert!(!sub.is_open());
        assert!(!sub.offer(message(5)));
        assert_eq!(sub.dropped(), 2);
    }

    #[test]
    fn internal_interest_equality_is_identity() {
        let (sender, _receiver) = mpsc::channel(1);
        let a = Arc::new(InternalSubscription::new("s", None, sender.clone()));
        let b = Arc::new(InternalSubscription::new("s", None, sender));
        assert_eq!(Interest::Internal(a.clone()), Interest::Internal(a.clone()));
        assert_ne!(Interest::Internal(a), Interest::Internal(b));
    }
}
