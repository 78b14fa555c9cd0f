//! Tests of [`Sublist`] through its public API. Every scenario runs with the
//! match cache on and off, and matches each subject twice (the second lookup
//! is a cache hit when the cache is on).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread;

use proptest::prelude::*;
use starling_proto::subject::matches;

use super::{MatchResult, Sublist, CACHE_MAX_ENTRIES};

/// A match result in comparable form: sorted plain values, and queue groups
/// by name with sorted members.
type Normalized = (Vec<u32>, BTreeMap<String, Vec<u32>>);

fn normalize(result: &MatchResult<u32>) -> Normalized {
    let mut plain = result.plain.clone();
    plain.sort_unstable();
    let mut queues = BTreeMap::new();
    for queue in &result.queues {
        assert!(!queue.members.is_empty(), "empty queue group in a result");
        let mut members = queue.members.clone();
        members.sort_unstable();
        let previous = queues.insert(queue.name.to_string(), members);
        assert!(
            previous.is_none(),
            "queue group {} listed twice",
            queue.name
        );
    }
    (plain, queues)
}

fn expect(plain: &[u32], queues: &[(&str, &[u32])]) -> Normalized {
    let queues = queues
        .iter()
        .map(|(name, members)| (name.to_string(), members.to_vec()))
        .collect();
    (plain.to_vec(), queues)
}

/// Runs `scenario` once with the cache on and once with it off.
fn with_and_without_cache(scenario: impl Fn(Sublist<u32>)) {
    for cache_enabled in [true, false] {
        scenario(Sublist::new(cache_enabled));
    }
}

/// Matches twice (miss, then hit when cached) and checks both answers.
fn assert_match(sublist: &Sublist<u32>, subject: &str, expected: &Normalized) {
    for attempt in ["first", "second"] {
        let got = normalize(&sublist.match_subject(subject));
        assert_eq!(&got, expected, "{attempt} match of {subject:?}");
    }
}

#[test]
fn literal_wildcard_and_mixed_subscriptions_match_like_nats_server() {
    with_and_without_cache(|sublist| {
        let subscriptions = [
            ("foo.bar", 1),
            ("foo.*", 2),
            ("foo.>", 3),
            (">", 4),
            ("*.bar", 5),
            ("foo.*.baz", 6),
            ("*.bar.>", 7),
            ("foo.bar.baz", 8),
            ("a.b*", 9),
            ("*", 10),
        ];
        for (subject, value) in subscriptions {
            sublist.insert(subject, None, value);
        }
        assert_eq!(sublist.count(), subscriptions.len());
        let table: &[(&str, &[u32])] = &[
            ("foo.bar", &[1, 2, 3, 4, 5]),
            ("foo", &[4, 10]),
            ("foo.bar.baz", &[3, 4, 6, 7, 8]),
            ("foo.x.baz", &[3, 4, 6]),
            ("foo.bar.baz.qux", &[3, 4, 7]),
            ("x.bar", &[4, 5]),
            ("x.bar.y", &[4, 7]),
            ("a.b*", &[4, 9]),
            ("a.bc", &[4]),
            ("nothing.here.at.all", &[4]),
            // Non-pedantic publishes of wildcard tokens: only wildcard
            // subscriptions (and literal-`*` ones, which are wildcards) match.
            ("foo.*", &[2, 3, 4]),
            ("foo.>", &[2, 3, 4]),
            ("*", &[4, 10]),
            ("*.bar", &[4, 5]),
            // An empty token matches nothing, not even `>`.
            ("foo..bar", &[]),
            (".foo", &[]),
            ("foo.", &[]),
            ("", &[]),
            (".", &[]),
        ];
        for (subject, plain) in table {
            assert_match(&sublist, subject, &expect(plain, &[]));
        }
    });
}

#[test]
fn queue_groups_are_kept_apart_and_merged_across_subjects() {
    with_and_without_cache(|sublist| {
        sublist.insert("orders.new", None, 1);
        sublist.insert("orders.new", Some("workers"), 2);
        sublist.insert("orders.new", Some("workers"), 3);
        sublist.insert("orders.*", Some("workers"), 4);
        sublist.insert("orders.>", Some("workers"), 5);
        sublist.insert("orders.new", Some("auditors"), 6);
        sublist.insert("orders.>", Some("auditors"), 7);
        sublist.insert("orders.*", None, 8);
        assert_match(
            &sublist,
            "orders.new",
            &expect(
                &[1, 8],
                &[("workers", &[2, 3, 4, 5]), ("auditors", &[6, 7])],
            ),
        );
        assert_match(
            &sublist,
            "orders.old",
            &expect(&[8], &[("workers", &[4, 5]), ("auditors", &[7])]),
        );
        assert_match(
            &sublist,
            "orders.new.eu",
            &expect(&[], &[("workers", &[5]), ("auditors", &[7])]),
        );
        assert!(sublist.remove("orders.new", Some("auditors"), &6));
        assert!(sublist.remove("orders.>", Some("auditors"), &7));
        assert_match(
            &sublist,
            "orders.new",
            &expect(&[1, 8], &[("workers", &[2, 3, 4, 5])]),
        );
    });
}

#[test]
fn remove_reports_presence_and_prunes_nodes_back_to_the_start() {
    with_and_without_cache(|sublist| {
        sublist.insert("base", None, 1);
        let base_nodes = sublist.node_count();
        let added = [
            ("a.b.c", None, 2),
            ("a.*.c", None, 3),
            ("a.>", Some("q"), 4),
            ("a.b.c", Some("q"), 5),
            ("*.*.*.*", None, 6),
        ];
        for (subject, queue, value) in added {
            sublist.insert(subject, queue, value);
        }
        assert!(sublist.node_count() > base_nodes);
        assert_match(&sublist, "a.b.c", &expect(&[2, 3], &[("q", &[4, 5])]));
        for (subject, queue, value) in added {
            assert!(sublist.remove(subject, queue, &value), "{subject} {value}");
            assert!(!sublist.remove(subject, queue, &value), "second {subject}");
        }
        assert_eq!(sublist.node_count(), base_nodes);
        assert_eq!(sublist.count(), 1);
        assert!(!sublist.remove("base", Some("q"), &1), "wrong queue");
        assert!(!sublist.remove("base", None, &2), "wrong value");
        assert!(!sublist.remove("never.seen", None, &1));
        assert_match(&sublist, "a.b.c", &expect(&[], &[]));
        assert!(sublist.remove("base", None, &1));
        assert_eq!(sublist.node_count(), 0);
        assert_eq!(sublist.count(), 0);
    });
}

#[test]
fn duplicate_insert_of_the_same_value_is_stored_once() {
    with_and_without_cache(|sublist| {
        sublist.insert("foo.*", None, 1);
        sublist.insert("foo.*", None, 1);
        sublist.insert("foo.*", Some("q"), 1);
        sublist.insert("foo.*", Some("q"), 1);
        assert_eq!(sublist.count(), 2);
        assert_eq!(sublist.stats().num_inserts, 2);
        assert_match(&sublist, "foo.x", &expect(&[1], &[("q", &[1])]));
        assert!(sublist.remove("foo.*", None, &1));
        assert!(sublist.remove("foo.*", Some("q"), &1));
        assert_eq!(sublist.count(), 0);
        assert_match(&sublist, "foo.x", &expect(&[], &[]));
    });
}

#[test]
fn cached_subject_sees_new_and_removed_subscribers_at_once() {
    with_and_without_cache(|sublist| {
        let subject = "svc.eu.orders";
        assert_match(&sublist, subject, &expect(&[], &[]));
        let steps: &[(&str, Option<&str>, u32)] = &[
            ("svc.eu.orders", None, 1),
            ("svc.*.orders", None, 2),
            ("svc.>", Some("q"), 3),
            (">", None, 4),
            ("svc.eu.*", Some("q"), 5),
        ];
        let mut live: Vec<u32> = Vec::new();
        for &(pattern, queue, value) in steps {
            sublist.insert(pattern, queue, value);
            live.push(value);
            assert_match(&sublist, subject, &expected_for(steps, &live, subject));
        }
        // Unrelated changes leave the cached entry alone but stay correct.
        sublist.insert("svc.us.orders", None, 9);
        sublist.insert("other.*", None, 10);
        assert_match(&sublist, subject, &expected_for(steps, &live, subject));
        for &(pattern, queue, value) in steps.iter().rev() {
            assert!(sublist.remove(pattern, queue, &value));
            live.retain(|v| *v != value);
            assert_match(&sublist, subject, &expected_for(steps, &live, subject));
        }
    });
}

fn expected_for(steps: &[(&str, Option<&str>, u32)], live: &[u32], subject: &str) -> Normalized {
    let mut expected: Normalized = Default::default();
    for &(pattern, queue, value) in steps {
        if live.contains(&value) && matches(pattern, subject) {
            match queue {
                None => expected.0.push(value),
                Some(name) => expected.1.entry(name.to_string()).or_default().push(value),
            }
        }
    }
    expected.0.sort_unstable();
    expected
        .1
        .values_mut()
        .for_each(|members| members.sort_unstable());
    expected
}

#[test]
fn insert_and_remove_reach_the_cached_result_in_every_shard() {
    let sublist = Sublist::with_shards(true, 3);
    sublist.insert("x.y", None, 1);
    let check = |expected: &[u32]| {
        for shard in 0..3 {
            for _ in 0..2 {
                let got = normalize(&sublist.match_in_shard(shard, "x.y"));
                assert_eq!(got, expect(expected, &[]), "shard {shard}");
            }
        }
    };
    check(&[1]);
    sublist.insert("x.*", None, 2);
    check(&[1, 2]);
    sublist.insert("x.y", None, 3);
    check(&[1, 2, 3]);
    assert!(sublist.remove("x.*", None, &2));
    check(&[1, 3]);
    assert!(sublist.remove("x.y", None, &1));
    check(&[3]);
    let stats = sublist.stats();
    assert_eq!(stats.num_cache, 3, "one entry per shard");
    assert_eq!(stats.num_matches, 30);
    assert_eq!(stats.cache_hit_rate, 0.5);
}

#[test]
fn stats_count_inserts_removes_matches_hits_and_fanout() {
    let sublist = Sublist::new(true);
    sublist.insert("a", None, 1);
    sublist.insert("a", None, 2);
    sublist.insert("a", Some("q"), 3);
    sublist.insert("b", None, 4);
    sublist.insert("c", None, 5);
    assert!(sublist.remove("c", None, &5));
    assert!(!sublist.remove("c", None, &5));
    sublist.match_subject("a"); // miss, fanout 3
    sublist.match_subject("a"); // hit
    sublist.match_subject("b"); // miss, fanout 1
    sublist.match_subject("b"); // hit
    let stats = sublist.stats();
    assert_eq!(stats.num_subscriptions, 4);
    assert_eq!(stats.num_inserts, 5);
    assert_eq!(stats.num_removes, 1);
    assert_eq!(stats.num_matches, 4);
    assert_eq!(stats.num_cache, 2);
    assert_eq!(stats.cache_hit_rate, 0.5);
    assert_eq!(stats.max_fanout, 3);
    assert_eq!(stats.avg_fanout, 2.0);

    let uncached = Sublist::new(false);
    uncached.insert("a", None, 1);
    uncached.match_subject("a");
    uncached.match_subject("a");
    let stats = uncached.stats();
    assert_eq!(stats.num_matches, 2);
    assert_eq!(stats.num_cache, 0);
    assert_eq!(stats.cache_hit_rate, 0.0);
    assert_eq!(stats.max_fanout, 0);
    assert_eq!(stats.avg_fanout, 0.0);
}

#[test]
fn cache_stays_bounded_and_correct_past_its_capacity() {
    let sublist = Sublist::new(true);
    sublist.insert("s.*", None, 1);
    for index in 0..3 * CACHE_MAX_ENTRIES {
        let subject = format!("s.{index}");
        assert_eq!(sublist.match_subject(&subject).plain, vec![1]);
        assert!(sublist.stats().num_cache <= CACHE_MAX_ENTRIES as u64);
    }
}

#[test]
fn generation_moves_on_every_change() {
    let sublist = Sublist::new(true);
    let start = sublist.generation();
    sublist.insert("a", None, 1);
    let after_insert = sublist.generation();
    assert!(after_insert > start);
    sublist.match_subject("a");
    assert_eq!(sublist.generation(), after_insert);
    sublist.remove("a", None, &1);
    assert!(sublist.generation() > after_insert);
}

#[test]
fn all_lists_every_subscription() {
    let sublist = Sublist::new(true);
    sublist.insert("a.>", Some("q"), 1);
    sublist.insert("a.b", None, 2);
    let mut all = sublist.all();
    all.sort_by_key(|entry| entry.2);
    assert_eq!(
        all,
        vec![
            ("a.>".to_string(), Some("q".to_string()), 1),
            ("a.b".to_string(), None, 2)
        ]
    );
}

#[test]
fn concurrent_matches_during_churn_end_with_an_exact_cache() {
    with_and_without_cache(|sublist| {
        let sublist = Arc::new(sublist);
        sublist.insert("t.>", None, 0);
        let writer = {
            let sublist = Arc::clone(&sublist);
            thread::spawn(move || {
                for round in 0..2000u32 {
                    let pattern = if round % 2 == 0 { "t.x" } else { "t.*" };
                    sublist.insert(pattern, None, round + 1);
                    if round % 3 != 0 {
                        assert!(sublist.remove(pattern, None, &(round + 1)));
                    }
                }
            })
        };
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let sublist = Arc::clone(&sublist);
                thread::spawn(move || {
                    for _ in 0..20_000 {
                        let result = sublist.match_subject("t.x");
                        assert!(result.plain.contains(&0));
                    }
                })
            })
            .collect();
        writer.join().expect("writer thread panicked");
        for reader in readers {
            reader.join().expect("reader thread panicked");
        }
        let expected: Vec<u32> = std::iter::once(0)
            .chain((0..2000u32).filter(|round| round % 3 == 0).map(|r| r + 1))
            .collect();
        assert_match(&sublist, "t.x", &expect(&expected, &[]));
    });
}

/// One step of the property test.
#[derive(Debug, Clone)]
enum Op {
    Insert {
        subject: String,
        queue: Option<String>,
    },
    /// Removes the live subscription at this index (modulo the live count).
    Remove(usize),
    /// Removes a subscription that was never added.
    RemoveMissing { subject: String },
    /// Looks a subject up through the cache shard with this index.
    Match(String, usize),
}

fn subscription_subject() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec!["a", "b", "c", "*"]);
    (prop::collection::vec(token, 1..4), any::<bool>()).prop_map(|(mut tokens, rest)| {
        if rest {
            *tokens.last_mut().expect("vec strategy is non-empty") = ">";
        }
        tokens.join(".")
    })
}

fn publish_subject() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec!["a", "b", "c", "*", ">", "a", "b", ""]);
    prop::collection::vec(token, 1..5).prop_map(|tokens| tokens.join("."))
}

fn op() -> impl Strategy<Value = Op> {
    let queue = prop::option::weighted(0.4, prop::sample::select(vec!["q1", "q2"]));
    prop_oneof![
        4 => (subscription_subject(), queue).prop_map(|(subject, queue)| Op::Insert {
            subject,
            queue: queue.map(str::to_string),
        }),
        2 => any::<usize>().prop_map(Op::Remove),
        1 => subscription_subject().prop_map(|subject| Op::RemoveMissing { subject }),
        4 => (publish_subject(), 0..3usize).prop_map(|(subject, shard)| Op::Match(subject, shard)),
    ]
}

/// The reference: filter every live subscription with `subject::matches`.
fn brute_force(live: &[(String, Option<String>, u32)], subject: &str) -> Normalized {
    let mut expected: Normalized = Default::default();
    if subject.split('.').any(str::is_empty) {
        return expected;
    }
    for (pattern, queue, value) in live {
        if matches(pattern, subject) {
            match queue {
                None => expected.0.push(*value),
                Some(name) => expected.1.entry(name.clone()).or_default().push(*value),
            }
        }
    }
    expected.0.sort_unstable();
    expected
        .1
        .values_mut()
        .for_each(|members| members.sort_unstable());
    expected
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn matches_equal_brute_force_through_inserts_and_removes(
        ops in prop::collection::vec(op(), 1..120),
    ) {
        let sublists = [Sublist::with_shards(true, 3), Sublist::with_shards(false, 1)];
        let mut live: Vec<(String, Option<String>, u32)> = Vec::new();
        let mut next_value = 0u32;
        for op in ops {
            match op {
                Op::Insert { subject, queue } => {
                    next_value += 1;
                    for sublist in &sublists {
                        sublist.insert(&subject, queue.as_deref(), next_value);
                    }
                    live.push((subject, queue, next_value));
                }
                Op::Remove(index) if !live.is_empty() => {
                    let (subject, queue, value) = live.swap_remove(index % live.len());
                    for sublist in &sublists {
                        prop_assert!(sublist.remove(&subject, queue.as_deref(), &value));
                    }
                }
                Op::Remove(_) => {}
                Op::RemoveMissing { subject } => {
                    for sublist in &sublists {
                        prop_assert!(!sublist.remove(&subject, None, &u32::MAX));
                    }
                }
                Op::Match(subject, shard) => {
                    let expected = brute_force(&live, &subject);
                    for sublist in &sublists {
                        let got = sublist.match_in_shard(shard, &subject);
                        prop_assert_eq!(normalize(&got), expected.clone());
                    }
                }
            }
        }
        for sublist in &sublists {
            prop_assert_eq!(sublist.count(), live.len());
            let mut all = sublist.all();
            all.sort_by_key(|entry| entry.2);
            let mut want = live.clone();
            want.sort_by_key(|entry| entry.2);
            prop_assert_eq!(all, want);
        }
        // Removing everything prunes the trie to nothing.
        for (subject, queue, value) in &live {
            for sublist in &sublists {
                prop_assert!(sublist.remove(subject, queue.as_deref(), value));
            }
        }
        for sublist in &sublists {
            prop_assert_eq!(sublist.node_count(), 0);
        }
    }
}

#[test]
fn batch_insert_matches_like_single_inserts_and_drops_stale_cache_entries() {
    let sublist = Sublist::with_shards(true, 3);
    sublist.insert("orders.new", None, 1);
    assert_match(&sublist, "orders.new", &expect(&[1], &[]));
    sublist.insert_batch([
        ("orders.*", None, 2),
        ("orders.new", Some("workers"), 3),
        ("orders.new", None, 1),
        ("other", None, 4),
    ]);
    // The cached result for orders.new predates the batch: it must be gone.
    assert_match(
        &sublist,
        "orders.new",
        &expect(&[1, 2], &[("workers", &[3])]),
    );
    assert_match(&sublist, "other", &expect(&[4], &[]));
    let stats = sublist.stats();
    assert_eq!(stats.num_subscriptions, 4, "the duplicate is stored once");
    assert_eq!(stats.num_inserts, 4);
}

#[test]
fn remove_batch_removes_under_one_lock_and_drops_stale_cache_entries() {
    let sublist = Sublist::with_shards(true, 3);
    sublist.insert_batch([
        ("orders.*", None, 2),
        ("orders.new", Some("workers"), 3),
        ("orders.new", None, 1),
        ("other", None, 4),
    ]);
    assert_match(
        &sublist,
        "orders.new",
        &expect(&[1, 2], &[("workers", &[3])]),
    );
    let removed = sublist.remove_batch([
        ("orders.*", None, 2),
        ("orders.new", Some("workers"), 3),
        ("orders.new", Some("workers"), 9), // never there
        ("missing.subject", None, 1),
    ]);
    assert_eq!(removed, 2);
    // The cached result for orders.new predates the batch: it must be gone.
    assert_match(&sublist, "orders.new", &expect(&[1], &[]));
    assert_match(&sublist, "other", &expect(&[4], &[]));
    let stats = sublist.stats();
    assert_eq!(stats.num_subscriptions, 2);
    assert_eq!(stats.num_removes, 2);
    sublist.remove_batch([("orders.new", None, 1), ("other", None, 4)]);
    assert_eq!(sublist.count(), 0);
    assert_eq!(sublist.node_count(), 0, "emptied nodes are pruned");
}

#[test]
fn a_small_batch_keeps_unrelated_cached_results_and_a_large_one_invalidates_all() {
    let sublist = Sublist::with_shards(true, 1);
    sublist.insert("hot.subject", None, 1);
    assert_match(&sublist, "hot.subject", &expect(&[1], &[]));
    assert_match(&sublist, "orders.new", &expect(&[], &[]));
    assert_eq!(sublist.stats().num_cache, 2);
    // A peer's single SUB: only the result it affects goes.
    sublist.insert_batch([("orders.*", None, 2)]);
    assert_eq!(sublist.stats().num_cache, 1, "hot.subject stays cached");
    assert_match(&sublist, "orders.new", &expect(&[2], &[]));
    sublist.remove_batch([("orders.*", None, 2)]);
    assert_eq!(sublist.stats().num_cache, 1, "hot.subject stays cached");
    assert_match(&sublist, "orders.new", &expect(&[], &[]));
    // A snapshot frame: everything cached goes, and results are right.
    let many: Vec<String> = (0..40).map(|n| format!("bulk.{n}")).collect();
    sublist.insert_batch(
        many.iter()
            .map(|subject| (subject.as_str(), None, 3))
            .chain([("orders.>", None, 4)]),
    );
    assert_eq!(sublist.stats().num_cache, 0);
    assert_match(&sublist, "orders.new", &expect(&[4], &[]));
    assert_match(&sublist, "bulk.7", &expect(&[3], &[]));
    sublist.remove_batch(
        many.iter()
            .map(|subject| (subject.as_str(), None, 3))
            .chain([("orders.>", None, 4)]),
    );
    assert_eq!(sublist.stats().num_cache, 0);
    assert_match(&sublist, "orders.new", &expect(&[], &[]));
    assert_match(&sublist, "hot.subject", &expect(&[1], &[]));
}

#[test]
fn acks_and_inbox_replies_are_matched_but_not_cached() {
    let sublist = Sublist::new(true);
    sublist.insert("$JS.ACK.S.>", None, 1);
    sublist.insert("_INBOX.abc.*", None, 2);
    sublist.insert("orders.*", None, 3);
    for n in 0..10 {
        let ack = format!("$JS.ACK.S.C.1.{n}.{n}.1700000000.0");
        assert_eq!(sublist.match_subject(&ack).plain, vec![1]);
        assert_eq!(
            sublist.match_subject(&format!("_INBOX.abc.{n}")).plain,
            vec![2]
        );
    }
    sublist.insert("_INBOX.deliver", None, 4);
    sublist.match_subject("orders.new");
    sublist.match_subject("orders.new");
    sublist.match_subject("_INBOX.deliver");
    let stats = sublist.stats();
    assert_eq!(stats.num_matches, 23);
    assert_eq!(
        stats.num_cache, 2,
        "orders.new and a push consumer's _INBOX.deliver are cached"
    );
}
