//! The token trie: one level per subject token, with the `*` and `>`
//! subscriptions of a level in their own slots so a lookup visits at most
//! three children per level (nats-server `level`/`node`).
//!
//! Not synchronised: [`super::Sublist`] wraps it in a lock.

use std::sync::Arc;

/// hashbrown's map for `entry_ref`: an existing token is found with one
/// lookup and no key allocation.
type HashMap<K, V> = hashbrown::HashMap<K, V, foldhash::fast::RandomState>;

use starling_proto::subject::{WILDCARD_ONE, WILDCARD_REST};

use super::result::MatchResult;

/// The whole index.
pub(super) struct Trie<T> {
    root: Level<T>,
}

/// The children of one node, keyed by the next token.
struct Level<T> {
    /// Literal tokens. Publish tokens `*` and `>` are looked up here too and
    /// never found: subscriptions with those tokens live in the slots below.
    literals: HashMap<Box<str>, Node<T>>,
    /// Subscriptions whose token here is `*`.
    single: Option<Box<Node<T>>>,
    /// Subscriptions whose (last) token here is `>`.
    rest: Option<Box<Node<T>>>,
}

/// The subscriptions that end at one token, and the level below it.
struct Node<T> {
    /// `None` once pruned: an empty level is never kept.
    next: Option<Box<Level<T>>>,
    /// Plain subscriptions. A `Vec` because `T` only offers `PartialEq`:
    /// removing is linear in the subscribers of this one subject.
    plain: Vec<T>,
    /// Queue subscriptions, one entry per group name, none empty.
    queues: Vec<QueueSubscribers<T>>,
}

/// The members of one queue group on one subject.
struct QueueSubscribers<T> {
    name: Arc<str>,
    members: Vec<T>,
}

impl<T> Default for Level<T> {
    fn default() -> Self {
        Level {
            literals: HashMap::default(),
            single: None,
            rest: None,
        }
    }
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Node {
            next: None,
            plain: Vec::new(),
            queues: Vec::new(),
        }
    }
}

impl<T> Level<T> {
    fn is_empty(&self) -> bool {
        self.literals.is_empty() && self.single.is_none() && self.rest.is_none()
    }

    fn child_mut(&mut self, token: &str) -> Option<&mut Node<T>> {
        match token {
            WILDCARD_ONE => self.single.as_deref_mut(),
            WILDCARD_REST => self.rest.as_deref_mut(),
            _ => self.literals.get_mut(token),
        }
    }

    /// The child for `token`, created if missing. An existing literal child
    /// is found with one lookup and without allocating its key (the tokens
    /// above a subject's last one exist nearly always).
    fn child_or_insert(&mut self, token: &str) -> &mut Node<T> {
        match token {
            WILDCARD_ONE => self.single.get_or_insert_with(Box::default),
            WILDCARD_REST => self.rest.get_or_insert_with(Box::default),
            _ => self.literals.entry_ref(token).or_default(),
        }
    }

    fn remove_child(&mut self, token: &str) {
        match token {
            WILDCARD_ONE => self.single = None,
            WILDCARD_REST => self.rest = None,
            _ => {
                self.literals.remove(token);
            }
        }
    }

    /// Every child with the token that leads to it.
    fn children(&self) -> impl Iterator<Item = (&str, &Node<T>)> {
        let literals = self.literals.iter().map(|(token, node)| (&**token, node));
        let single = self.single.as_deref().map(|node| (WILDCARD_ONE, node));
        let rest = self.rest.as_deref().map(|node| (WILDCARD_REST, node));
        literals.chain(single).chain(rest)
    }
}

impl<T> Node<T> {
    fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.queues.is_empty() && self.next.is_none()
    }
}

impl<T: Clone + PartialEq> Node<T> {
    /// Adds `value` unless this exact (queue, value) is already here.
    fn add(&mut self, queue: Option<&str>, value: T) -> bool {
        let members = match queue {
            None => &mut self.plain,
            Some(name) => match self.queues.iter().position(|q| &*q.name == name) {
                Some(index) => &mut self.queues[index].members,
                None => {
                    self.queues.push(QueueSubscribers {
                        name: Arc::from(name),
                        members: vec![value],
                    });
                    return true;
                }
            },
        };
        if members.contains(&value) {
            return false;
        }
        members.push(value);
        true
    }

    /// Removes `value`; drops a queue group left without members.
    fn remove(&mut self, queue: Option<&str>, value: &T) -> bool {
        match queue {
            None => remove_value(&mut self.plain, value),
            Some(name) => {
                let Some(index) = self.queues.iter().position(|q| &*q.name == name) else {
                    return false;
                };
                let found = remove_value(&mut self.queues[index].members, value);
                if self.queues[index].members.is_empty() {
                    self.queues.swap_remove(index);
                }
                found
            }
        }
    }
}

impl<T: Clone> Node<T> {
    /// Appends this node's subscribers to a lookup's result.
    fn add_to_result(&self, out: &mut MatchResult<T>) {
        out.plain.extend_from_slice(&self.plain);
        for queue in &self.queues {
            out.add_queue_members(&queue.name, &queue.members);
        }
    }
}

fn remove_value<T: PartialEq>(values: &mut Vec<T>, value: &T) -> bool {
    match values.iter().position(|v| v == value) {
        Some(index) => {
            values.swap_remove(index);
            true
        }
        None => false,
    }
}

impl<T: Clone + PartialEq> Trie<T> {
    pub(super) fn new() -> Self {
        Trie {
            root: Level::default(),
        }
    }

    /// Adds a subscription; false when the same value was already subscribed
    /// to this subject and queue. The subject must be valid (no empty token).
    pub(super) fn insert(&mut self, subject: &str, queue: Option<&str>, value: T) -> bool {
        let mut level = &mut self.root;
        let mut tokens = subject.split('.').peekable();
        while let Some(token) = tokens.next() {
            let node = level.child_or_insert(token);
            if tokens.peek().is_none() {
                return node.add(queue, value);
            }
            level = node.next.get_or_insert_with(Box::default);
        }
        false // unreachable: `split` yields at least one token
    }

    /// Removes a subscription and prunes the nodes and levels it leaves empty.
    pub(super) fn remove(&mut self, subject: &str, queue: Option<&str>, value: &T) -> bool {
        let tokens: Vec<&str> = subject.split('.').collect();
        remove_from_level(&mut self.root, &tokens, queue, value)
    }

    /// Everything that matches the literal subject split into `tokens`
    /// (non-empty, no empty token).
    pub(super) fn matches(&self, tokens: &[&str]) -> MatchResult<T> {
        let mut out = MatchResult::empty();
        match_level(&self.root, tokens, &mut out);
        out
    }

    /// Every subscription as (subject, queue, value).
    pub(super) fn all(&self) -> Vec<(String, Option<String>, T)> {
        let mut out = Vec::new();
        let mut path = Vec::new();
        collect_all(&self.root, &mut path, &mut out);
        out
    }

    /// Nodes in the trie, to check pruning.
    #[cfg(test)]
    pub(super) fn node_count(&self) -> usize {
        fn count<T>(level: &Level<T>) -> usize {
            level
                .children()
                .map(|(_, node)| 1 + node.next.as_deref().map_or(0, count))
                .sum()
        }
        count(&self.root)
    }
}

fn remove_from_level<T: Clone + PartialEq>(
    level: &mut Level<T>,
    tokens: &[&str],
    queue: Option<&str>,
    value: &T,
) -> bool {
    let Some((token, below)) = tokens.split_first() else {
        return false;
    };
    let Some(node) = level.child_mut(token) else {
        return false;
    };
    let found = if below.is_empty() {
        node.remove(queue, value)
    } else {
        let Some(next) = node.next.as_deref_mut() else {
            return false;
        };
        let found = remove_from_level(next, below, queue, value);
        if next.is_empty() {
            node.next = None;
        }
        found
    };
    if node.is_empty() {
        level.remove_child(token);
    }
    found
}

/// nats-server's `matchLevel`: follow the literal token, collect `>` at every
/// level on the way, and recurse into `*` for the remaining tokens.
fn match_level<T: Clone>(mut level: &Level<T>, tokens: &[&str], out: &mut MatchResult<T>) {
    for (index, token) in tokens.iter().enumerate() {
        let last = index + 1 == tokens.len();
        if let Some(rest) = level.rest.as_deref() {
            rest.add_to_result(out);
        }
        if let Some(single) = level.single.as_deref() {
            if last {
                single.add_to_result(out);
            } else if let Some(next) = single.next.as_deref() {
                match_level(next, &tokens[index + 1..], out);
            }
        }
        let Some(node) = level.literals.get(*token) else {
            return;
        };
        if last {
            node.add_to_result(out);
            return;
        }
        match node.next.as_deref() {
            Some(next) => level = next,
            None => return,
        }
    }
}

fn collect_all<'a, T: Clone>(
    level: &'a Level<T>,
    path: &mut Vec<&'a str>,
    out: &mut Vec<(String, Option<String>, T)>,
) {
    for (token, node) in level.children() {
        path.push(token);
        if !node.plain.is_empty() || !node.queues.is_empty() {
            let subject = path.join(".");
            for value in &node.plain {
                out.push((subject.clone(), None, value.clone()));
            }
            for queue in &node.queues {
                for member in &queue.members {
                    out.push((
                        subject.clone(),
                        Some(queue.name.to_string()),
                        member.clone(),
                    ));
                }
            }
        }
        if let Some(next) = node.next.as_deref() {
            collect_all(next, path, out);
        }
        path.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(mut values: Vec<u32>) -> Vec<u32> {
        values.sort_unstable();
        values
    }

    #[test]
    fn remove_prunes_every_empty_node_back_to_the_previous_count() {
        let mut trie = Trie::new();
        trie.insert("a.b", None, 1);
        let base = trie.node_count();
        assert_eq!(base, 2);
        trie.insert("a.b.c.d", None, 2);
        trie.insert("a.*.c", Some("q"), 3);
        trie.insert("a.>", None, 4);
        assert_eq!(trie.node_count(), 7); // a b c d * c >
        assert!(trie.remove("a.b.c.d", None, &2));
        assert!(trie.remove("a.*.c", Some("q"), &3));
        assert!(trie.remove("a.>", None, &4));
        assert_eq!(trie.node_count(), base);
        assert!(trie.remove("a.b", None, &1));
        assert_eq!(trie.node_count(), 0);
        assert!(trie.root.is_empty());
    }

    #[test]
    fn remove_of_a_missing_subscription_changes_nothing() {
        let mut trie = Trie::new();
        trie.insert("a.b", Some("q"), 1);
        assert!(!trie.remove("a.b", None, &1));
        assert!(!trie.remove("a.b", Some("other"), &1));
        assert!(!trie.remove("a.b", Some("q"), &2));
        assert!(!trie.remove("a.b.c", Some("q"), &1));
        assert!(!trie.remove("a", Some("q"), &1));
        assert!(!trie.remove("x.*", None, &1));
        assert_eq!(trie.node_count(), 2);
        assert_eq!(trie.matches(&["a", "b"]).queues[0].members, vec![1]);
    }

    #[test]
    fn inner_node_with_subscribers_survives_pruning_below_it() {
        let mut trie = Trie::new();
        trie.insert("a", None, 1);
        trie.insert("a.b.c", None, 2);
        assert!(trie.remove("a.b.c", None, &2));
        assert_eq!(trie.node_count(), 1);
        assert_eq!(trie.matches(&["a"]).plain, vec![1]);
    }

    #[test]
    fn all_lists_every_subscription_with_its_subject_and_queue() {
        let mut trie = Trie::new();
        trie.insert("a.*", None, 1);
        trie.insert("a.>", Some("q"), 2);
        trie.insert("a.>", Some("q"), 3);
        trie.insert("b", None, 4);
        let mut all = trie.all();
        all.sort_by_key(|entry| entry.2);
        let expected = vec![
            ("a.*".to_string(), None, 1),
            ("a.>".to_string(), Some("q".to_string()), 2),
            ("a.>".to_string(), Some("q".to_string()), 3),
            ("b".to_string(), None, 4),
        ];
        assert_eq!(all, expected);
    }

    #[test]
    fn star_is_followed_for_the_remaining_tokens_only() {
        let mut trie = Trie::new();
        trie.insert("*.b.*", None, 1);
        trie.insert("*.b", None, 2);
        trie.insert("*.*.*.>", None, 3);
        assert_eq!(sorted(trie.matches(&["a", "b", "c"]).plain), vec![1]);
        assert_eq!(sorted(trie.matches(&["a", "b"]).plain), vec![2]);
        assert_eq!(sorted(trie.matches(&["a", "b", "c", "d"]).plain), vec![3]);
    }
}
