//! Shared helpers for the store's integration tests: a random operation
//! language and a full comparison of two stores.

#![allow(dead_code)]

use proptest::prelude::*;
use starling_store::{DiscardPolicy, MessageStore, StoreError, StoreLimits};

pub const SUBJECTS: &[&str] = &["a.1", "a.2", "b.1", "b.2.x", "c"];
pub const FILTERS: &[&str] = &[">", "", "a.*", "b.>", "c", "a.1", "*.1", "nope"];

#[derive(Debug, Clone)]
pub enum Op {
    Store {
        subject: usize,
        payload: usize,
        headers: bool,
        ttl: Option<i64>,
    },
    Remove(u64),
    Erase(u64),
    Purge,
    PurgeEx {
        filter: usize,
        up_to: u64,
        keep: u64,
    },
    Compact(u64),
    /// `skip_msgs` this far past the end (0 and 1 change nothing).
    SkipTo(u64),
    Truncate(u64),
    Expire(i64),
    Limits(StoreLimits),
    Sync,
    Reopen,
    CloseReopen,
}

pub fn limits_strategy() -> impl Strategy<Value = StoreLimits> {
    (
        prop_oneof![Just(0u64), 3u64..20],
        prop_oneof![Just(0u64), 300u64..3000],
        prop_oneof![Just(0i64), 50i64..400],
        prop_oneof![Just(0u64), 1u64..4],
        prop_oneof![Just(0u64), 20u64..120],
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(max_msgs, max_bytes, max_age_nanos, per_subject, max_msg_size, new, per)| {
                StoreLimits {
                    max_msgs,
                    max_bytes,
                    max_age_nanos,
                    max_msgs_per_subject: per_subject,
                    max_msg_size,
                    discard: if new {
                        DiscardPolicy::New
                    } else {
                        DiscardPolicy::Old
                    },
                    discard_new_per_subject: per,
                }
            },
        )
}

/// Operations; `truncate` and `reopen` can be left out (crash tests).
pub fn op_strategy(with_truncate: bool, with_reopen: bool) -> impl Strategy<Value = Op> {
    let store = (
        0..SUBJECTS.len(),
        0usize..150,
        any::<bool>(),
        prop_oneof![8 => Just(None), 2 => (10i64..300).prop_map(Some), 1 => Just(Some(-1))],
    )
        .prop_map(|(subject, payload, headers, ttl)| Op::Store {
            subject,
            payload,
            headers,
            ttl,
        });
    prop_oneof![
        30 => store,
        6 => (0u64..40).prop_map(Op::Remove),
        1 => (0u64..40).prop_map(Op::Erase),
        1 => Just(Op::Purge),
        2 => (0..FILTERS.len(), prop_oneof![Just(0u64), 0u64..40], prop_oneof![Just(0u64), 0u64..4])
            .prop_map(|(filter, up_to, keep)| Op::PurgeEx { filter, up_to, keep }),
        1 => (0u64..50).prop_map(Op::Compact),
        2 => (0u64..30).prop_map(Op::SkipTo),
        1 => (0u64..40).prop_map(Op::Truncate),
        2 => (0i64..500).prop_map(Op::Expire),
        1 => limits_strategy().prop_map(Op::Limits),
        3 => Just(Op::Sync),
        2 => Just(Op::Reopen),
        2 => Just(Op::CloseReopen),
    ]
    .prop_map(move |op| match op {
        Op::Truncate(_) if !with_truncate => Op::Sync,
        Op::Reopen | Op::CloseReopen if !with_reopen => Op::Sync,
        op => op,
    })
}

/// Deterministic message content for an operation number.
pub fn payload(op_number: usize, len: usize) -> Vec<u8> {
    (0..len).map(|i| (op_number * 31 + i) as u8).collect()
}

pub fn headers(op_number: usize) -> Vec<u8> {
    format!("NATS/1.0\r\nOp: {op_number}\r\n\r\n").into_bytes()
}

/// Error variants compared across stores (I/O details aside).
pub fn error_kind(error: &StoreError) -> String {
    match error {
        StoreError::Io(_) => "io".into(),
        StoreError::Corrupt(_) => "corrupt".into(),
        other => other.to_string(),
    }
}

pub fn outcome<T: std::fmt::Debug>(result: Result<T, StoreError>) -> Result<String, String> {
    result
        .map(|value| format!("{value:?}"))
        .map_err(|error| error_kind(&error))
}

/// Apply one non-lifecycle operation. `now` is the op's timestamp.
pub fn apply(
    store: &mut dyn MessageStore,
    op: &Op,
    op_number: usize,
    now: i64,
) -> Result<String, String> {
    let base = store.state().first_seq;
    match op {
        Op::Store {
            subject,
            payload: len,
            headers: with_headers,
            ttl,
        } => {
            let hdrs = if *with_headers {
                headers(op_number)
            } else {
                Vec::new()
            };
            outcome(store.store_msg(
                SUBJECTS[*subject],
                &hdrs,
                &payload(op_number, *len),
                now,
                *ttl,
            ))
        }
        Op::Remove(offset) => outcome(store.remove_msg(base + offset)),
        Op::Erase(offset) => outcome(store.erase_msg(base + offset)),
        Op::Purge => outcome(store.purge()),
        Op::PurgeEx {
            filter,
            up_to,
            keep,
        } => {
            let up_to = if *up_to == 0 { 0 } else { base + up_to };
            outcome(store.purge_ex(FILTERS[*filter], up_to, *keep))
        }
        Op::Compact(offset) => outcome(store.compact(base + offset)),
        Op::SkipTo(ahead) => outcome(store.skip_msgs(store.state().last_seq + ahead, now)),
        Op::Truncate(offset) => outcome(store.truncate(base + offset)),
        Op::Expire(back) => {
            let due = store.expiring(now - back);
            outcome(store.expire(now - back).map(|removed| (due, removed)))
        }
        Op::Limits(limits) => outcome(store.update_limits(*limits)),
        Op::Sync => outcome(store.sync().map(|_| ())),
        Op::Reopen | Op::CloseReopen => Ok(String::new()),
    }
}

/// Assert two stores hold exactly the same messages and answer every query alike.
pub fn assert_same(model: &dyn MessageStore, store: &dyn MessageStore, context: &str) {
    let expected = model.state();
    assert_eq!(expected, store.state(), "state differs {context}");
    assert_eq!(
        model.deleted(),
        store.deleted(),
        "deleted differs {context}"
    );
    for seq in expected.first_seq.saturating_sub(1)..=expected.last_seq + 1 {
        let want = model.load_msg(seq).map_err(|e| error_kind(&e));
        let got = store.load_msg(seq).map_err(|e| error_kind(&e));
        assert_eq!(want, got, "load_msg({seq}) differs {context}");
    }
    for filter in FILTERS {
        assert_eq!(
            model.subjects_state(filter),
            store.subjects_state(filter),
            "subjects_state({filter}) {context}"
        );
        let last_want = model
            .load_last_msg(filter)
            .map(|m| m.seq)
            .map_err(|e| error_kind(&e));
        let last_got = store
            .load_last_msg(filter)
            .map(|m| m.seq)
            .map_err(|e| error_kind(&e));
        assert_eq!(last_want, last_got, "load_last_msg({filter}) {context}");
        for start in [
            0,
            expected.first_seq,
            expected.first_seq + 2,
            expected.last_seq,
        ] {
            assert_eq!(
                model.filtered_state(filter, start),
                store.filtered_state(filter, start),
                "filtered_state({filter},{start}) {context}"
            );
            for last_per_subject in [false, true] {
                assert_eq!(
                    model.num_pending(filter, start, last_per_subject),
                    store.num_pending(filter, start, last_per_subject),
                    "num_pending({filter},{start},{last_per_subject}) {context}"
                );
            }
            let next_want = model
                .load_next_msg(filter, start)
                .map(|m| m.seq)
                .map_err(|e| error_kind(&e));
            let next_got = store
                .load_next_msg(filter, start)
                .map(|m| m.seq)
                .map_err(|e| error_kind(&e));
            assert_eq!(
                next_want, next_got,
                "load_next_msg({filter},{start}) {context}"
            );
        }
    }
    assert_eq!(
        model.next_expiry(),
        store.next_expiry(),
        "next_expiry {context}"
    );
}
