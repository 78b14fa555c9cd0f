//! What a lookup returns: plain subscribers, and queue subscribers grouped by
//! queue group name.

use std::sync::Arc;

/// Every subscription whose subject matches one published subject.
///
/// Shared (`Arc`) between the match cache and every publisher that looked the
/// subject up, so it is immutable once built.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchResult<T> {
    /// Plain subscribers: each one gets a copy of the message.
    pub plain: Vec<T>,
    /// One entry per matching queue group: one member of each gets the message.
    pub queues: Vec<QueueMatch<T>>,
}

/// The members of one queue group that match a subject, merged over every
/// subscribed subject of that group (`foo.*` and `foo.>` members of group `q`
/// form one group for `foo.bar`).
#[derive(Debug, Clone, PartialEq)]
pub struct QueueMatch<T> {
    /// The queue group name.
    pub name: Arc<str>,
    /// The matching members; never empty.
    pub members: Vec<T>,
}

impl<T> MatchResult<T> {
    /// A result with no subscribers.
    pub fn empty() -> Self {
        MatchResult {
            plain: Vec::new(),
            queues: Vec::new(),
        }
    }

    /// True when nobody is interested in the subject.
    pub fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.queues.is_empty()
    }

    /// Deliveries one message causes: one per plain subscriber and one per
    /// queue group (nats-server's fanout in `/subsz`).
    pub fn fanout(&self) -> usize {
        self.plain.len() + self.queues.len()
    }
}

impl<T> Default for MatchResult<T> {
    fn default() -> Self {
        MatchResult::empty()
    }
}

impl<T: Clone> MatchResult<T> {
    /// Adds the members of queue group `name`, merging into an existing entry.
    /// A linear search: a subject rarely matches more than a few groups, and
    /// a `Vec` is what publishers iterate fastest.
    pub(super) fn add_queue_members(&mut self, name: &Arc<str>, members: &[T]) {
        if members.is_empty() {
            return;
        }
        match self.queues.iter_mut().find(|queue| queue.name == *name) {
            Some(queue) => queue.members.extend_from_slice(members),
            None => self.queues.push(QueueMatch {
                name: Arc::clone(name),
                members: members.to_vec(),
            }),
        }
    }
}
