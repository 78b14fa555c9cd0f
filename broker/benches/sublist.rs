//! Subscription index benchmark: plain wall-clock timing, ns per lookup.
//!
//! Run with `cargo bench -p starling --bench sublist`. Scenarios: cache hit,
//! cache miss (cache off, so every lookup walks the trie), 10k subscriptions
//! with wildcards and queue groups, more hot subjects than the cache holds,
//! two threads matching at once, and insert + remove. Append `-- WORD` to run
//! only the scenarios whose name contains WORD (`-- "2 threads"`).

// A benchmark measures wall-clock time; the broker's ban on `Instant` (Tokio's
// clock, for paused-time tests) does not apply here.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use starling::sublist::Sublist;

/// Stands in for the broker's `Arc<Subscription>`: cloning is an atomic
/// increment, equality is identity.
#[derive(Clone)]
struct Handle(Arc<u64>);

impl PartialEq for Handle {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Each scenario runs `ROUNDS` rounds of `ROUND_TIME` and reports the
/// fastest round: the machine is shared, and the minimum is the figure least
/// disturbed by other work.
const ROUNDS: usize = 5;
/// See [`ROUNDS`].
const ROUND_TIME: Duration = Duration::from_millis(200);

/// Runs `operation(i)` for i = 0, 1, ...; returns the best round's ns/op.
fn time_per_op(mut operation: impl FnMut(usize)) -> f64 {
    let mut done = 0usize;
    for _ in 0..10_000 {
        operation(done);
        done += 1;
    }
    let mut best = f64::INFINITY;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let mut in_round = 0usize;
        loop {
            for _ in 0..1_000 {
                operation(done);
                done += 1;
            }
            in_round += 1_000;
            let elapsed = start.elapsed();
            if elapsed >= ROUND_TIME {
                best = best.min(elapsed.as_nanos() as f64 / in_round as f64);
                break;
            }
        }
    }
    best
}

/// Runs and prints one scenario unless the command line names others
/// (`cargo bench --bench sublist -- hit` runs those whose name has "hit").
fn scenario(name: &str, run: impl FnOnce() -> f64) {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    if filters.is_empty() || filters.iter().any(|filter| name.contains(filter.as_str())) {
        let ns_per_op = run();
        println!("{name:<58} {ns_per_op:>9.1} ns/op");
    }
}

/// 10k subscriptions shaped like a service mesh: literal request subjects,
/// `*` and `>` subscriptions, and queue groups.
fn ten_thousand(cache_enabled: bool) -> Sublist<Handle> {
    let sublist = Sublist::new(cache_enabled);
    let mut id = 0u64;
    let mut add = |subject: String, queue: Option<&str>| {
        id += 1;
        sublist.insert(&subject, queue, Handle(Arc::new(id)));
    };
    for index in 0..8_000 {
        add(
            format!(
                "svc.r{}.s{}.o{}",
                index % 10,
                (index / 10) % 100,
                index / 1000
            ),
            None,
        );
    }
    for index in 0..1_000 {
        add(format!("svc.r{}.*.o{}", index % 10, index % 8), None);
    }
    for index in 0..500 {
        add(format!("svc.*.s{}.>", index % 100), None);
    }
    for index in 0..497 {
        let queue = if index % 2 == 0 {
            "workers"
        } else {
            "auditors"
        };
        add(
            format!("svc.r{}.s{}.*", index % 10, index % 100),
            Some(queue),
        );
    }
    add("svc.>".to_string(), None);
    add(">".to_string(), None);
    add("svc.r1.>".to_string(), Some("workers"));
    assert_eq!(sublist.count(), 10_000);
    sublist
}

/// Publish subjects that hit the 10k index: each matches a literal
/// subscription plus wildcard and queue subscriptions.
fn publish_subjects(count: usize) -> Vec<String> {
    (0..count)
        .map(|index| {
            format!(
                "svc.r{}.s{}.o{}",
                index % 10,
                (index / 10) % 100,
                (index / 1000) % 8
            )
        })
        .collect()
}

fn single_thread() {
    let small = Sublist::new(true);
    small.insert("orders.new", None, Handle(Arc::new(1)));
    small.insert("orders.*", None, Handle(Arc::new(2)));
    scenario("hit, 2 subscriptions, one subject", || {
        time_per_op(|_| drop(black_box(small.match_subject("orders.new"))))
    });

    let small_uncached = Sublist::new(false);
    small_uncached.insert("orders.new", None, Handle(Arc::new(1)));
    small_uncached.insert("orders.*", None, Handle(Arc::new(2)));
    scenario("miss (cache off), 2 subscriptions", || {
        time_per_op(|_| drop(black_box(small_uncached.match_subject("orders.new"))))
    });

    let cached = ten_thousand(true);
    let hot = publish_subjects(512);
    let fanout = cached.match_subject(&hot[0]).fanout();
    scenario(
        &format!("hit, 10k subs, 512 hot subjects (fanout {fanout})"),
        || time_per_op(|index| drop(black_box(cached.match_subject(&hot[index % hot.len()])))),
    );

    let uncached = ten_thousand(false);
    let subjects = publish_subjects(8_000);
    scenario("miss (cache off), 10k subs with wildcards", || {
        time_per_op(|index| {
            drop(black_box(
                uncached.match_subject(&subjects[index % subjects.len()]),
            ))
        })
    });
    scenario(
        "10k subs, 8000 subjects > cache size (misses + sweeps)",
        || {
            time_per_op(|index| {
                drop(black_box(
                    cached.match_subject(&subjects[(index * 7919) % subjects.len()]),
                ))
            })
        },
    );
    scenario("miss (cache off), 10k subs, subject nobody wants", || {
        time_per_op(|_| drop(black_box(uncached.match_subject("metrics.host1.cpu"))))
    });

    let churn = ten_thousand(true);
    let handle = Handle(Arc::new(0));
    for subject in &hot {
        churn.match_subject(subject);
    }
    scenario("insert + remove literal, 10k subs, warm cache", || {
        time_per_op(|index| {
            let subject = format!("_INBOX.{}", index % 64);
            churn.insert(&subject, None, handle.clone());
            churn.remove(&subject, None, &handle);
        })
    });
    scenario(
        "insert + remove _INBOX.<id>.* (a client's inbox), warm cache",
        || {
            time_per_op(|index| {
                let subject = format!("_INBOX.{index}.*");
                churn.insert(&subject, None, handle.clone());
                churn.remove(&subject, None, &handle);
            })
        },
    );
    scenario("insert + remove wildcard, 10k subs, warm cache", || {
        time_per_op(|index| {
            let subject = format!("svc.r{}.*.zz", index % 10);
            churn.insert(&subject, None, handle.clone());
            churn.remove(&subject, None, &handle);
        })
    });
}

/// Two threads matching at once; returns ns per lookup per thread.
fn two_threads(sublist: &Arc<Sublist<Handle>>, subjects: [Vec<String>; 2]) -> f64 {
    let barrier = Arc::new(Barrier::new(2));
    let workers: Vec<_> = subjects
        .into_iter()
        .map(|subjects| {
            let sublist = Arc::clone(sublist);
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                time_per_op(|index| {
                    drop(black_box(
                        sublist.match_subject(&subjects[index % subjects.len()]),
                    ))
                })
            })
        })
        .collect();
    let per_thread: Vec<f64> = workers
        .into_iter()
        .map(|worker| worker.join().unwrap_or(f64::NAN))
        .collect();
    per_thread.iter().sum::<f64>() / per_thread.len() as f64
}

fn concurrent() {
    let cached = Arc::new(ten_thousand(true));
    let uncached = Arc::new(ten_thousand(false));
    let all = publish_subjects(512);
    let same = vec![all[0].clone()];
    let (even, odd): (Vec<_>, Vec<_>) = all
        .iter()
        .cloned()
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    let halves = [
        even.into_iter().map(|(_, s)| s).collect::<Vec<_>>(),
        odd.into_iter().map(|(_, s)| s).collect::<Vec<_>>(),
    ];
    scenario(
        "2 threads, hit, both on the same subject (per thread)",
        || two_threads(&cached, [same.clone(), same]),
    );
    scenario(
        "2 threads, hit, 256 different subjects each (per thread)",
        || two_threads(&cached, halves.clone()),
    );
    scenario("2 threads, miss (cache off), 10k subs (per thread)", || {
        two_threads(&uncached, halves)
    });
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not and
    // only wants to know the program builds and starts.
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    println!(
        "sublist benchmark: best of {ROUNDS} rounds of {} ms",
        ROUND_TIME.as_millis()
    );
    single_thread();
    concurrent();
}
