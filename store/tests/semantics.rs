//! JetStream semantics with expected values written out by hand, run on
//! both stores (the property test only proves the two agree; this proves
//! what they agree on is right).

use starling_store::{
    DiscardPolicy, FileStore, FileStoreConfig, MemStore, MessageStore, StoreConfig, StoreError,
    StoreLimits,
};

fn each_store(limits: StoreLimits, first_seq: u64, check: impl Fn(&mut dyn MessageStore)) {
    let config = StoreConfig { limits, first_seq };
    check(&mut MemStore::new(config.clone()));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut file = FileStore::open(
        dir.path(),
        FileStoreConfig {
            store: config,
            block_size: 300,
            ..FileStoreConfig::default()
        },
    )
    .expect("open");
    check(&mut file);
}

fn put(store: &mut dyn MessageStore, subject: &str, ts: i64) -> Result<u64, StoreError> {
    store.store_msg(subject, b"", b"0123456789", ts, None)
}

#[test]
fn discard_old_drops_the_oldest_over_max_msgs() {
    each_store(
        StoreLimits {
            max_msgs: 3,
            ..StoreLimits::default()
        },
        1,
        |store| {
            for ts in 1..=5 {
                put(store, "a", ts).expect("store");
            }
            let state = store.state();
            assert_eq!(
                (state.msgs, state.first_seq, state.last_seq, state.first_ts),
                (3, 3, 5, 3)
            );
            assert_eq!(state.num_deleted, 0);
        },
    );
}

#[test]
fn discard_new_refuses_past_max_msgs_and_max_bytes() {
    each_store(
        StoreLimits {
            max_msgs: 2,
            discard: DiscardPolicy::New,
            ..StoreLimits::default()
        },
        1,
        |store| {
            put(store, "a", 1).expect("store");
            put(store, "a", 2).expect("store");
            assert!(matches!(put(store, "a", 3), Err(StoreError::MaxMsgs)));
            assert_eq!(
                store.state().last_seq,
                2,
                "a refused message takes no sequence"
            );
        },
    );
    // Each message counts 22 + 1 + 10 + 8 = 41 bytes.
    each_store(
        StoreLimits {
            max_bytes: 100,
            discard: DiscardPolicy::New,
            ..StoreLimits::default()
        },
        1,
        |store| {
            put(store, "a", 1).expect("store");
            put(store, "a", 2).expect("store");
            assert_eq!(store.state().bytes, 82);
            assert!(matches!(put(store, "a", 3), Err(StoreError::MaxBytes)));
        },
    );
}

#[test]
fn max_bytes_with_discard_old_keeps_the_newest_that_fit() {
    each_store(
        StoreLimits {
            max_bytes: 100,
            ..StoreLimits::default()
        },
        1,
        |store| {
            for ts in 1..=4 {
                put(store, "a", ts).expect("store");
            }
            let state = store.state();
            assert_eq!((state.msgs, state.bytes, state.first_seq), (2, 82, 3));
        },
    );
}

#[test]
fn per_subject_limit_drops_that_subjects_oldest_or_refuses_with_discard_new_per_subject() {
    each_store(
        StoreLimits {
            max_msgs_per_subject: 2,
            ..StoreLimits::default()
        },
        1,
        |store| {
            for (ts, subject) in ["k.1", "k.2", "k.1", "k.1", "k.2"].iter().enumerate() {
                put(store, subject, ts as i64).expect("store");
            }
            let subjects = store.subjects_state(">");
            assert_eq!(subjects["k.1"].msgs, 2);
            assert_eq!((subjects["k.1"].first, subjects["k.1"].last), (3, 4));
            assert_eq!((subjects["k.2"].first, subjects["k.2"].last), (2, 5));
            assert_eq!(store.state().first_seq, 2, "seq 1 (the oldest k.1) went");
            assert!(store.deleted().is_empty());
        },
    );
    let limits = StoreLimits {
        max_msgs_per_subject: 1,
        discard: DiscardPolicy::New,
        discard_new_per_subject: true,
        ..StoreLimits::default()
    };
    each_store(limits, 1, |store| {
        put(store, "k.1", 1).expect("store");
        assert!(matches!(
            put(store, "k.1", 2),
            Err(StoreError::MaxMsgsPerSubject)
        ));
        put(store, "k.2", 3).expect("another subject is fine");
    });
    // discard new without discard_new_per_subject still rolls the subject.
    let limits = StoreLimits {
        max_msgs_per_subject: 1,
        discard: DiscardPolicy::New,
        ..StoreLimits::default()
    };
    each_store(limits, 1, |store| {
        put(store, "k.1", 1).expect("store");
        put(store, "k.1", 2).expect("store");
        assert_eq!(store.load_last_msg("k.1").expect("last").seq, 2);
        assert_eq!(store.state().msgs, 1);
    });
}

#[test]
fn max_msg_size_counts_headers_and_payload() {
    each_store(
        StoreLimits {
            max_msg_size: 12,
            ..StoreLimits::default()
        },
        1,
        |store| {
            assert!(store.store_msg("a", b"", b"123456789012", 1, None).is_ok());
            assert!(matches!(
                store.store_msg("a", b"12", b"1234567890a", 2, None),
                Err(StoreError::MaxMsgSize)
            ));
        },
    );
}

#[test]
fn max_age_and_ttl_expire_only_when_expire_is_called() {
    each_store(
        StoreLimits {
            max_age_nanos: 100,
            ..StoreLimits::default()
        },
        1,
        |store| {
            put(store, "a", 1_000).expect("store");
            put(store, "a", 1_050).expect("store");
            store
                .store_msg("b", b"", b"x", 1_060, Some(10))
                .expect("store with ttl");
            assert_eq!(store.next_expiry(), Some(1_070));
            assert_eq!(store.expire(1_069).expect("expire"), 0);
            assert_eq!(
                store.expire(1_070).expect("expire"),
                1,
                "ttl message expires at ts + ttl"
            );
            assert_eq!(
                store.expire(1_100).expect("expire"),
                1,
                "max_age: ts <= now - max_age"
            );
            assert_eq!(store.state().first_seq, 2);
            assert_eq!(store.next_expiry(), Some(1_150));
        },
    );
}

#[test]
fn a_never_ttl_outlives_max_age_and_a_long_ttl_does_not() {
    each_store(
        StoreLimits {
            max_age_nanos: 100,
            ..StoreLimits::default()
        },
        1,
        |store| {
            store
                .store_msg("never", b"", b"x", 1_000, Some(-5))
                .expect("store never");
            store
                .store_msg("long", b"", b"x", 1_010, Some(10_000))
                .expect("store long ttl");
            assert_eq!(store.load_msg(1).expect("load").ttl_nanos, Some(-1));
            assert_eq!(
                store.next_expiry(),
                Some(1_110),
                "the never message is skipped"
            );
            assert_eq!(store.expiring(1_110), vec![2]);
            assert_eq!(store.expire(1_110).expect("expire"), 1);
            assert_eq!(store.expire(1_000_000).expect("expire"), 0);
            assert_eq!(store.state().msgs, 1);
            assert_eq!(store.next_expiry(), None);
        },
    );
}

#[test]
fn purges_by_subject_keep_and_sequence() {
    each_store(StoreLimits::default(), 1, |store| {
        for (ts, subject) in ["a.1", "a.2", "b", "a.1", "b", "a.2"].iter().enumerate() {
            put(store, subject, ts as i64).expect("store");
        }
        assert_eq!(
            store.purge_ex("a.*", 0, 1).expect("keep 1"),
            3,
            "keeps only seq 6 of a.*"
        );
        assert_eq!(store.filtered_state("a.*", 0).msgs, 1);
        assert_eq!(
            store.purge_ex("", 5, 0).expect("up to 5"),
            1,
            "removes 3 (b), below 5"
        );
        assert_eq!(store.state().msgs, 2);
        assert_eq!(store.purge().expect("all"), 2);
        let state = store.state();
        assert_eq!((state.msgs, state.first_seq, state.last_seq), (0, 7, 6));
        assert_eq!(put(store, "a", 9).expect("store"), 7);
    });
}

#[test]
fn compact_truncate_and_first_seq() {
    each_store(StoreLimits::default(), 100, |store| {
        assert_eq!(store.state().first_seq, 100);
        assert_eq!(store.state().last_seq, 99);
        for ts in 0..5 {
            put(store, "a", ts).expect("store");
        }
        assert_eq!(store.compact(102).expect("compact"), 2);
        assert_eq!(store.state().first_seq, 102);
        store.truncate(103).expect("truncate");
        let state = store.state();
        assert_eq!(
            (state.msgs, state.first_seq, state.last_seq, state.last_ts),
            (2, 102, 103, 3)
        );
        assert_eq!(put(store, "a", 9).expect("store"), 104);
        assert_eq!(store.compact(200).expect("compact past the end"), 3);
        let state = store.state();
        assert_eq!((state.msgs, state.first_seq, state.last_seq), (0, 200, 199));
        assert_eq!(put(store, "a", 10).expect("store"), 200);
    });
}

#[test]
fn filtered_queries_and_num_pending() {
    each_store(StoreLimits::default(), 1, |store| {
        for (ts, subject) in ["o.1", "o.2", "p", "o.1", "o.3.x", "o.2"]
            .iter()
            .enumerate()
        {
            put(store, subject, ts as i64).expect("store");
        }
        assert_eq!(store.load_next_msg("o.*", 3).expect("next").seq, 4);
        assert_eq!(store.load_next_msg("o.>", 5).expect("next").seq, 5);
        assert!(matches!(store.load_next_msg("p", 4), Err(StoreError::Eof)));
        assert_eq!(store.load_last_msg("o.1").expect("last").seq, 4);
        assert_eq!(store.num_pending("o.*", 1, false), 4);
        assert_eq!(
            store.num_pending("o.*", 1, true),
            2,
            "last of o.1 (4) and o.2 (6)"
        );
        assert_eq!(store.num_pending(">", 4, false), 3);
        assert!(store.remove_msg(6).expect("remove"));
        assert_eq!(store.num_pending("o.*", 5, true), 0);
        assert_eq!(
            store.filtered_state("o.>", 2),
            starling_store::FilteredState {
                msgs: 3,
                first: 2,
                last: 5
            }
        );
        let state = store.state();
        assert_eq!(
            (state.num_subjects, state.num_deleted, state.last_seq),
            (4, 1, 6),
            "removed last seq still counts"
        );
        assert!(store.remove_msg(2).expect("remove"));
        assert_eq!(store.deleted(), vec![2, 6]);
        assert_eq!(store.state().num_deleted, 2);
    });
}
