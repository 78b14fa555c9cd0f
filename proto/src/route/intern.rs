//! Subject interning on a route: the sender gives subjects it sends often
//! a small integer id (`Msg.subject_id`), the receiver keeps the table.
//!
//! The receiver announces its table size in its Hello (`subject_table`);
//! the sender never uses an id at or above it. An id is defined by a Msg
//! that carries both the subject (with its account) and the id, and stands
//! for that pair until a later definition replaces it. Definitions and uses
//! travel in one ordered stream, so the sender must assign and append under
//! one lock (see [`SubjectInterner`]).
//!
//! Sender policy: a subject is interned the second time it is seen (a
//! small direct-mapped filter of hashes remembers first sightings), so
//! one-off subjects do not churn the table; when the table is full, the
//! CLOCK hand evicts an entry not used since it last passed.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use bytes::Bytes;

/// Table size a node announces by default: ids below 128 take one byte on
/// the wire, below 16384 two.
pub const DEFAULT_SUBJECT_TABLE: u32 = 4096;

/// Largest table a receiver accepts to keep (and so the largest id a sender
/// may use, minus one); bounds the memory a peer can make us hold.
pub const MAX_SUBJECT_TABLE: u32 = 65_536;

/// Slots of the sender's first-sighting filter.
const FILTER_SLOTS: usize = 4096;

/// How the sender writes a message's subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgSubject {
    /// Subject (and account) in full, no id.
    Plain,
    /// Subject (and account) in full, stored by the receiver under the id.
    Define(u32),
    /// Only the id; the receiver has the subject and account.
    Interned(u32),
}

#[derive(Debug)]
struct SenderEntry {
    account: Box<[u8]>,
    subject: Box<[u8]>,
    hash: u64,
    /// Used since the CLOCK hand last passed.
    referenced: bool,
}

/// The sender's side of one route: which subjects have ids.
#[derive(Debug)]
pub struct SubjectInterner {
    /// The peer's table size; ids stay below it.
    capacity: usize,
    /// Hash of (account, subject) to id.
    by_hash: HashMap<u64, u32>,
    /// Id to entry.
    entries: Vec<SenderEntry>,
    /// First sightings, by hash.
    seen: Vec<u64>,
    /// The CLOCK hand, an index into `entries`.
    hand: usize,
}

impl SubjectInterner {
    /// An interner for a peer that keeps `capacity` entries (clamped to
    /// [`MAX_SUBJECT_TABLE`]); with 0 every subject goes plain.
    pub fn new(capacity: u32) -> SubjectInterner {
        SubjectInterner {
            capacity: capacity.min(MAX_SUBJECT_TABLE) as usize,
            by_hash: HashMap::new(),
            entries: Vec::new(),
            seen: Vec::new(),
            hand: 0,
        }
    }

    /// How to write this message's subject. Changes no id's meaning (it
    /// may age CLOCK bits): call [`SubjectInterner::commit`] once the
    /// message is in the stream.
    pub fn resolve(&mut self, account: &[u8], subject: &[u8]) -> MsgSubject {
        if self.capacity == 0 {
            return MsgSubject::Plain;
        }
        let hash = key_hash(account, subject);
        if let Some(&id) = self.by_hash.get(&hash) {
            let entry = &self.entries[id as usize];
            return if &*entry.account == account && &*entry.subject == subject {
                MsgSubject::Interned(id)
            } else {
                // A hash collision with another subject: not worth an id.
                MsgSubject::Plain
            };
        }
        if self.seen.get(hash as usize % FILTER_SLOTS) != Some(&hash) {
            return MsgSubject::Plain;
        }
        MsgSubject::Define(self.next_id())
    }

    /// Record what [`SubjectInterner::resolve`] returned, now that the
    /// message carrying it has been appended to the stream.
    pub fn commit(&mut self, account: &[u8], subject: &[u8], how: MsgSubject) {
        let hash = key_hash(account, subject);
        match how {
            MsgSubject::Plain => {
                if self.capacity > 0 {
                    if self.seen.is_empty() {
                        self.seen = vec![0; FILTER_SLOTS];
                    }
                    self.seen[hash as usize % FILTER_SLOTS] = hash;
                }
            }
            MsgSubject::Interned(id) => {
                if let Some(entry) = self.entries.get_mut(id as usize) {
                    entry.referenced = true;
                }
            }
            MsgSubject::Define(id) => {
                let entry = SenderEntry {
                    account: account.into(),
                    subject: subject.into(),
                    hash,
                    referenced: true,
                };
                let index = id as usize;
                if index == self.entries.len() {
                    self.entries.push(entry);
                } else if let Some(slot) = self.entries.get_mut(index) {
                    let old = std::mem::replace(slot, entry);
                    self.by_hash.remove(&old.hash);
                    self.hand = (index + 1) % self.capacity;
                } else {
                    return;
                }
                self.by_hash.insert(hash, id);
            }
        }
    }

    /// The id a new definition takes: the next free one, or the first entry
    /// the CLOCK hand finds unreferenced (clearing bits as it passes).
    /// Does not move the hand; `commit` does.
    fn next_id(&mut self) -> u32 {
        if self.entries.len() < self.capacity {
            return self.entries.len() as u32;
        }
        let mut hand = self.hand;
        for _ in 0..=self.capacity {
            if !self.entries[hand].referenced {
                break;
            }
            self.entries[hand].referenced = false;
            hand = (hand + 1) % self.capacity;
        }
        self.hand = hand;
        hand as u32
    }

    /// Ids in use.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No id in use.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn key_hash(account: &[u8], subject: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    account.hash(&mut hasher);
    subject.hash(&mut hasher);
    hasher.finish()
}

/// The receiver's side of one route: id to (account, subject).
#[derive(Debug, Default)]
pub(crate) struct SubjectTable {
    /// Ids at or above this are refused; 0 = interning off.
    capacity: usize,
    /// Id to (account, subject); grown on demand.
    entries: Vec<Option<(Bytes, Bytes)>>,
}

impl SubjectTable {
    /// A table of `capacity` entries (clamped to [`MAX_SUBJECT_TABLE`]).
    pub fn new(capacity: u32) -> SubjectTable {
        SubjectTable {
            capacity: capacity.min(MAX_SUBJECT_TABLE) as usize,
            entries: Vec::new(),
        }
    }

    /// Store a definition. The parts are copied out of the read buffer, so
    /// an entry never pins a whole buffer.
    pub fn define(&mut self, id: u32, account: &[u8], subject: &[u8]) -> Result<(), &'static str> {
        let index = self.index(id)?;
        if self.entries.len() <= index {
            self.entries.resize(index + 1, None);
        }
        self.entries[index] = Some((
            Bytes::copy_from_slice(account),
            Bytes::copy_from_slice(subject),
        ));
        Ok(())
    }

    /// What `id` stands for.
    pub fn get(&self, id: u32) -> Result<(Bytes, Bytes), &'static str> {
        let index = self.index(id)?;
        self.entries
            .get(index)
            .and_then(Option::clone)
            .ok_or("message names an interned subject id that was never defined")
    }

    fn index(&self, id: u32) -> Result<usize, &'static str> {
        let index = id as usize;
        if index >= self.capacity {
            return Err("message names a subject id outside the announced table");
        }
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Resolve and commit, as the route's sender does.
    fn send(interner: &mut SubjectInterner, subject: &str) -> MsgSubject {
        let how = interner.resolve(b"$G", subject.as_bytes());
        interner.commit(b"$G", subject.as_bytes(), how);
        how
    }

    #[test]
    fn a_subject_is_defined_the_second_time_and_interned_after() {
        let mut interner = SubjectInterner::new(8);
        assert_eq!(send(&mut interner, "orders.new"), MsgSubject::Plain);
        assert_eq!(send(&mut interner, "orders.new"), MsgSubject::Define(0));
        assert_eq!(send(&mut interner, "orders.new"), MsgSubject::Interned(0));
        assert_eq!(send(&mut interner, "orders.old"), MsgSubject::Plain);
        assert_eq!(send(&mut interner, "orders.old"), MsgSubject::Define(1));
        assert_eq!(send(&mut interner, "orders.new"), MsgSubject::Interned(0));
    }

    #[test]
    fn the_same_subject_in_another_account_gets_its_own_id() {
        let mut interner = SubjectInterner::new(8);
        for account in [&b"A"[..], b"A", b"B", b"B"] {
            let how = interner.resolve(account, b"x");
            interner.commit(account, b"x", how);
        }
        assert_eq!(interner.resolve(b"A", b"x"), MsgSubject::Interned(0));
        assert_eq!(interner.resolve(b"B", b"x"), MsgSubject::Interned(1));
    }

    #[test]
    fn nothing_is_interned_for_a_peer_without_a_table() {
        let mut interner = SubjectInterner::new(0);
        for _ in 0..3 {
            assert_eq!(send(&mut interner, "a"), MsgSubject::Plain);
        }
        assert!(interner.is_empty());
    }

    #[test]
    fn an_uncommitted_definition_is_offered_again() {
        let mut interner = SubjectInterner::new(8);
        send(&mut interner, "a");
        assert_eq!(interner.resolve(b"$G", b"a"), MsgSubject::Define(0));
        // The message was not appended (slow route): no commit.
        assert_eq!(interner.resolve(b"$G", b"a"), MsgSubject::Define(0));
    }

    #[test]
    fn a_full_table_evicts_an_unreferenced_entry_and_stays_bounded() {
        let mut interner = SubjectInterner::new(2);
        for subject in ["a", "a", "b", "b"] {
            send(&mut interner, subject);
        }
        // Both referenced: the hand clears both and takes the first.
        send(&mut interner, "c");
        assert_eq!(send(&mut interner, "c"), MsgSubject::Define(0));
        assert!(matches!(
            interner.resolve(b"$G", b"a"),
            MsgSubject::Define(_)
        ));
        assert_eq!(send(&mut interner, "c"), MsgSubject::Interned(0));
        // "b" was not used since the hand passed it: it goes next.
        send(&mut interner, "d");
        assert_eq!(send(&mut interner, "d"), MsgSubject::Define(1));
        assert_eq!(interner.len(), 2);
        for index in 0..100 {
            let subject = format!("s.{index}");
            send(&mut interner, &subject);
            send(&mut interner, &subject);
            assert_eq!(interner.len(), 2);
        }
    }

    #[test]
    fn receiver_table_refuses_ids_outside_it_and_unknown_ids() {
        let mut table = SubjectTable::new(4);
        assert!(table.define(4, b"$G", b"x").is_err());
        assert!(table.get(1).is_err());
        table.define(1, b"$G", b"x").expect("in range");
        assert_eq!(
            table.get(1).expect("defined"),
            (Bytes::from_static(b"$G"), Bytes::from_static(b"x"))
        );
        table.define(1, b"B", b"y").expect("redefined");
        assert_eq!(table.get(1).expect("defined").1, Bytes::from_static(b"y"));
        assert!(SubjectTable::new(0).define(0, b"", b"x").is_err());
    }
}
