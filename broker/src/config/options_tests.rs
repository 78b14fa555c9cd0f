//! Options accepted for nats-server compatibility (issue 8): the config
//! keys and their checks, one test per option.

use std::path::PathBuf;

use super::test_support::{options, options_ok};
use super::ConfigError;

fn invalid_message(text: &str) -> String {
    match options(text) {
        Err(error @ ConfigError::InvalidValue { .. }) => error.to_string(),
        other => panic!("{text:?}: expected InvalidValue, got {other:?}"),
    }
}

#[test]
fn no_header_support_and_sublist_cache_switches() {
    let parsed = options_ok("no_header_support: true\ndisable_sublist_cache: true");
    assert!(parsed.no_header_support);
    assert!(parsed.disable_sublist_cache);
    let parsed = options_ok("no_header_support: false\nno_sublist_cache: true");
    assert!(!parsed.no_header_support);
    assert!(parsed.disable_sublist_cache);
    assert!(invalid_message("no_header_support: 3").contains("no_header_support"));
}

#[test]
fn ports_file_dir_is_a_path() {
    assert_eq!(
        options_ok("ports_file_dir: \"/tmp/ports\"").ports_file_dir,
        Some(PathBuf::from("/tmp/ports"))
    );
    assert_eq!(options_ok("ports_file_dir: \"\"").ports_file_dir, None);
}

#[test]
fn no_auth_user_must_name_a_configured_user() {
    let parsed = options_ok(
        "no_auth_user: a\nauthorization { users: [ {user: a, password: pa}, {user: b, password: pb} ] }",
    );
    assert_eq!(parsed.no_auth_user.as_deref(), Some("a"));
    // nats-server 2.9.10's texts, checked with `nats-server -c`.
    assert!(invalid_message("no_auth_user: a")
        .contains("no_auth_user: \"a\" present, but users are not defined"));
    assert!(
        invalid_message("authorization { user: a, password: pa }\nno_auth_user: a")
            .contains("present, but users are not defined")
    );
    assert!(invalid_message(
        "authorization { users: [ {user: a, password: pa} ] }\nno_auth_user: zz"
    )
    .contains("no_auth_user: \"zz\" not present as user in authorization block"));
}

#[test]
fn tuning_and_log_frequency_keys_are_accepted() {
    let parsed = options_ok(
        "max_traced_msg_len: 100\nconnect_error_reports: 10\nreconnect_error_reports: 5\nmax_subscriptions: 7\nlame_duck_grace_period: \"3s\"",
    );
    assert_eq!(parsed.max_subscriptions, 7);
    assert_eq!(
        parsed.lame_duck_grace_period,
        std::time::Duration::from_secs(3)
    );
    assert!(invalid_message("connect_error_reports: often").contains("connect_error_reports"));
}

#[test]
fn planned_features_stay_refused_by_name() {
    // `accounts` and `mappings` are implemented now (config/accounts.rs,
    // config/mappings.rs, with their own tests); an empty block of either
    // is accepted.
    for key in ["accounts", "mappings"] {
        let parsed = options(&format!("{key}: {{}}"));
        assert!(parsed.is_ok(), "{key}: {parsed:?}");
    }
    for key in ["leafnodes", "gateway", "websocket", "mqtt"] {
        match options(&format!("{key}: {{}}")) {
            Err(ConfigError::Unsupported { name }) => assert_eq!(name, key),
            other => panic!("{key}: unexpected {other:?}"),
        }
    }
}
