//! The match cache: literal publish subject -> shared match result, bounded
//! like nats-server's (`slCacheMax`), with the entries a subscription change
//! could affect dropped by that change.
//!
//! Not synchronised: [`super::Sublist`] wraps it in a lock.

use std::collections::HashMap;
use std::sync::Arc;

use starling_proto::subject;

use super::result::MatchResult;

/// Most cached subjects. Above this the cache is swept down to
/// [`CACHE_SWEEP_TO`]. nats-server's value: a broker's hot subjects are
/// usually far fewer, and an entry costs a few hundred bytes.
pub const CACHE_MAX_ENTRIES: usize = 1024;
/// Cached subjects kept by a sweep. Sweeping to a quarter (nats-server's
/// original value) makes sweeps rare when many distinct subjects are published.
pub const CACHE_SWEEP_TO: usize = 256;

/// See the module doc.
pub(super) struct MatchCache<T> {
    entries: HashMap<Box<str>, Arc<MatchResult<T>>>,
}

impl<T> MatchCache<T> {
    pub(super) fn new() -> Self {
        MatchCache {
            entries: HashMap::new(),
        }
    }

    pub(super) fn get(&self, subject: &str) -> Option<Arc<MatchResult<T>>> {
        self.entries.get(subject).cloned()
    }

    /// Stores a result, first evicting arbitrary entries (hash order) if
    /// full. Returns the evicted results so the caller can drop them (and the
    /// subscription handles they hold) after releasing the lock.
    #[must_use = "drop the evicted results outside the lock"]
    pub(super) fn insert(
        &mut self,
        subject: &str,
        result: Arc<MatchResult<T>>,
    ) -> Vec<Arc<MatchResult<T>>> {
        let mut evicted = Vec::new();
        if self.entries.len() >= CACHE_MAX_ENTRIES && !self.entries.contains_key(subject) {
            let excess = self.entries.len() + 1 - CACHE_SWEEP_TO;
            evicted.reserve(excess);
            self.entries.retain(|_, result| {
                if evicted.len() < excess {
                    evicted.push(Arc::clone(result));
                    false
                } else {
                    true
                }
            });
        }
        if let Some(replaced) = self.entries.insert(Box::from(subject), result) {
            evicted.push(replaced);
        }
        evicted
    }

    /// The cached subjects `pattern` matches: a subscription to `pattern` is
    /// being added or removed, so their results are out of date. A literal
    /// pattern only matches itself, so inbox-style churn costs one lookup; a
    /// wildcard scans every entry. Needs only shared access, so hits go on
    /// during the scan.
    pub(super) fn affected_by(&self, pattern: &str) -> Vec<Box<str>> {
        if subject::has_wildcard(pattern) {
            let pattern: Vec<&str> = pattern.split('.').collect();
            self.entries
                .keys()
                .filter(|cached| pattern_matches(&pattern, cached))
                .cloned()
                .collect()
        } else {
            self.entries
                .get_key_value(pattern)
                .map(|(cached, _)| cached.clone())
                .into_iter()
                .collect()
        }
    }

    /// Drops these entries; returns their results so the caller can drop them
    /// after releasing the lock.
    #[must_use = "drop the removed results outside the lock"]
    pub(super) fn remove_all(&mut self, subjects: &[Box<str>]) -> Vec<Arc<MatchResult<T>>> {
        subjects
            .iter()
            .filter_map(|subject| self.entries.remove(subject))
            .collect()
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// (largest, total) fanout over the cached results, for `/subsz`.
    pub(super) fn fanout(&self) -> (usize, usize) {
        self.entries
            .values()
            .map(|result| result.fanout())
            .fold((0, 0), |(max, total), fanout| {
                (max.max(fanout), total + fanout)
            })
    }
}

/// [`subject::matches`] with the pattern split once, for scanning the whole
/// cache: most cached subjects differ in the first literal token, which this
/// rejects with one prefix comparison instead of two tokenisers.
fn pattern_matches(pattern: &[&str], subject: &str) -> bool {
    let mut remaining = Some(subject);
    for token in pattern {
        let Some(rest) = remaining else {
            return false;
        };
        match *token {
            subject::WILDCARD_REST => return true,
            subject::WILDCARD_ONE => {
                remaining = rest.split_once('.').map(|(_, after)| after);
            }
            literal => {
                let Some(after) = rest.strip_prefix(literal) else {
                    return false;
                };
                remaining = if after.is_empty() {
                    None
                } else {
                    match after.strip_prefix('.') {
                        Some(after_dot) => Some(after_dot),
                        None => return false,
                    }
                };
            }
        }
    }
    remaining.is_none()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn result(values: &[u32]) -> Arc<MatchResult<u32>> {
        Arc::new(MatchResult {
            plain: values.to_vec(),
            queues: Vec::new(),
        })
    }

    #[test]
    fn full_cache_is_swept_down_before_the_new_entry_goes_in() {
        let mut cache = MatchCache::new();
        for index in 0..CACHE_MAX_ENTRIES {
            assert!(cache.insert(&format!("s.{index}"), result(&[])).is_empty());
        }
        assert_eq!(cache.len(), CACHE_MAX_ENTRIES);
        assert_eq!(
            cache.insert("s.0", result(&[1])).len(),
            1,
            "the replaced one"
        );
        assert_eq!(cache.len(), CACHE_MAX_ENTRIES, "replacing never sweeps");
        let evicted = cache.insert("new", result(&[1]));
        assert_eq!(evicted.len(), CACHE_MAX_ENTRIES + 1 - CACHE_SWEEP_TO);
        assert_eq!(cache.len(), CACHE_SWEEP_TO);
        assert!(cache.get("new").is_some());
    }

    fn invalidate(cache: &mut MatchCache<u32>, pattern: &str) -> usize {
        let affected = cache.affected_by(pattern);
        cache.remove_all(&affected).len()
    }

    #[test]
    fn invalidate_drops_only_the_subjects_the_pattern_matches() {
        let mut cache = MatchCache::new();
        for subject in ["a.b", "a.c", "a.b.c", "x.b", "a.*"] {
            let _ = cache.insert(subject, result(&[]));
        }
        assert_eq!(invalidate(&mut cache, "a.*"), 3);
        let mut left: Vec<&str> = cache.entries.keys().map(|key| &**key).collect();
        left.sort_unstable();
        assert_eq!(left, vec!["a.b.c", "x.b"]);
        assert_eq!(invalidate(&mut cache, "x.b"), 1);
        assert_eq!(invalidate(&mut cache, "a.b"), 0);
        assert_eq!(cache.len(), 1);
        assert_eq!(invalidate(&mut cache, ">"), 1);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn fanout_counts_plain_subscribers_and_queue_groups() {
        let mut cache = MatchCache::new();
        let _ = cache.insert("a", result(&[1, 2, 3]));
        let _ = cache.insert("b", result(&[1]));
        assert_eq!(cache.fanout(), (3, 4));
    }

    proptest! {
        #[test]
        fn pattern_matches_agrees_with_subject_matches(
            pattern in prop::collection::vec(prop::sample::select(vec!["a", "ab", "*", ">", ""]), 1..5),
            subject in prop::collection::vec(prop::sample::select(vec!["a", "ab", "b", "*", ">", ""]), 1..6),
        ) {
            let pattern = pattern.join(".");
            let subject = subject.join(".");
            let tokens: Vec<&str> = pattern.split('.').collect();
            prop_assert_eq!(pattern_matches(&tokens, &subject), subject::matches(&pattern, &subject));
        }
    }
}
