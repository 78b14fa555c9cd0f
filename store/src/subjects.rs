//! The per-subject index: each subject's sequences, for last-by-subject,
//! per-subject limits, filtered scans and `num_pending`.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::subject;

/// Subjects interned to small ids, each with the sequences it holds.
#[derive(Debug, Default, Clone)]
pub(crate) struct SubjectTable {
    ids: HashMap<Arc<str>, u32>,
    slots: Vec<Option<SubjectSlot>>,
    free: Vec<u32>,
}

#[derive(Debug, Clone)]
struct SubjectSlot {
    name: Arc<str>,
    seqs: SeqList,
}

/// A subject's sequences, ascending. A sorted deque rather than a tree:
/// sequences arrive in order (push at the back), limits and work queues
/// remove from the front, and building it on restart is a plain push per
/// message. Removing from the middle shifts the shorter side.
#[derive(Debug, Clone, Default)]
pub(crate) struct SeqList {
    seqs: VecDeque<u64>,
}

impl SeqList {
    pub(crate) fn insert(&mut self, seq: u64) {
        match self.seqs.back() {
            None => self.seqs.push_back(seq),
            Some(last) if *last < seq => self.seqs.push_back(seq),
            Some(_) => {
                let at = self.seqs.partition_point(|held| *held < seq);
                if self.seqs.get(at) != Some(&seq) {
                    self.seqs.insert(at, seq);
                }
            }
        }
    }

    pub(crate) fn remove(&mut self, seq: u64) {
        if self.seqs.front() == Some(&seq) {
            self.seqs.pop_front();
            return;
        }
        let at = self.seqs.partition_point(|held| *held < seq);
        if self.seqs.get(at) == Some(&seq) {
            self.seqs.remove(at);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.seqs.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.seqs.is_empty()
    }

    pub(crate) fn iter(&self) -> std::collections::vec_deque::Iter<'_, u64> {
        self.seqs.iter()
    }

    /// The sequences at or after `start`.
    pub(crate) fn range_from(&self, start: u64) -> std::collections::vec_deque::Iter<'_, u64> {
        let at = self.seqs.partition_point(|held| *held < start);
        self.seqs.range(at..)
    }
}

impl SubjectTable {
    /// The id of `name`, interning it if new.
    pub(crate) fn intern(&mut self, name: &str) -> u32 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let name: Arc<str> = Arc::from(name);
        let slot = SubjectSlot {
            name: name.clone(),
            seqs: SeqList::default(),
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = Some(slot);
                id
            }
            None => {
                self.slots.push(Some(slot));
                (self.slots.len() - 1) as u32
            }
        };
        self.ids.insert(name, id);
        id
    }

    /// The id of `name` if it holds messages.
    pub(crate) fn lookup(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    /// The subject's name. Ids come only from this table.
    pub(crate) fn name(&self, id: u32) -> &str {
        match self.slots.get(id as usize) {
            Some(Some(slot)) => &slot.name,
            _ => "",
        }
    }

    /// Record `seq` under subject `id`.
    pub(crate) fn add(&mut self, id: u32, seq: u64) {
        if let Some(Some(slot)) = self.slots.get_mut(id as usize) {
            slot.seqs.insert(seq);
        }
    }

    /// Forget `seq` under subject `id`; the subject goes when it is empty.
    pub(crate) fn remove(&mut self, id: u32, seq: u64) {
        let Some(Some(slot)) = self.slots.get_mut(id as usize) else {
            return;
        };
        slot.seqs.remove(seq);
        if slot.seqs.is_empty() {
            self.ids.remove(&slot.name);
            self.slots[id as usize] = None;
            self.free.push(id);
        }
    }

    /// The sequences of subject `id`.
    pub(crate) fn seqs(&self, id: u32) -> Option<&SeqList> {
        match self.slots.get(id as usize) {
            Some(Some(slot)) => Some(&slot.seqs),
            _ => None,
        }
    }

    /// Ids of the subjects matching `filter`.
    pub(crate) fn matching(&self, filter: &str) -> Vec<u32> {
        if subject::is_literal(filter) && !filter.is_empty() {
            return self.lookup(filter).into_iter().collect();
        }
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(id, slot)| match slot {
                Some(slot) if subject::matches(filter, &slot.name) => Some(id as u32),
                _ => None,
            })
            .collect()
    }

    /// Distinct subjects holding messages.
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// Forget everything.
    pub(crate) fn clear(&mut self) {
        *self = SubjectTable::default();
    }
}
