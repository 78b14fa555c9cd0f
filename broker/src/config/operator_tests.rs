use std::time::Duration;

use super::*;
use crate::config::test_support::{options, options_ok, TempDir};
use crate::jwt::mint;
use crate::jwt::test_vectors as suite;

fn error_text(text: &str) -> String {
    match options(text) {
        Ok(parsed) => panic!("{text:?} parsed: {parsed:?}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn the_async_nats_suite_jwt_conf_applies() {
    let text = format!(
        "// Operator\noperator: {}\n\nresolver: MEMORY\n\nresolver_preload: {{\n  {}: {}\n\n  {}: {}\n}}\n",
        suite::SUITE_OPERATOR_JWT,
        suite::SUITE_SYSTEM_ACCOUNT,
        suite::SUITE_SYSTEM_ACCOUNT_JWT,
        suite::SUITE_ACCOUNT,
        suite::SUITE_ACCOUNT_JWT,
    );
    let parsed = options_ok(&text);
    let operator = parsed.operator;
    assert!(operator.enabled());
    assert_eq!(
        operator.operators,
        vec![suite::SUITE_OPERATOR_JWT.to_string()]
    );
    assert_eq!(operator.resolver, Some(ResolverOptions::Memory));
    assert_eq!(
        operator.preload,
        vec![
            (
                suite::SUITE_SYSTEM_ACCOUNT.to_string(),
                suite::SUITE_SYSTEM_ACCOUNT_JWT.to_string()
            ),
            (
                suite::SUITE_ACCOUNT.to_string(),
                suite::SUITE_ACCOUNT_JWT.to_string()
            ),
        ]
    );
}

#[test]
fn operators_come_from_files_bare_or_decorated_and_lists() {
    let dir = TempDir::new();
    let first = mint::operator("one", |_| {});
    let second = mint::operator("two", |_| {});
    let bare = dir.write("one.jwt", &format!("{}\n", first.jwt));
    let decorated = dir.write(
        "two.jwt",
        &format!(
            "-----BEGIN NATS OPERATOR JWT-----\n{}\n------END NATS OPERATOR JWT------\n",
            second.jwt
        ),
    );
    let parsed = options_ok(&format!(
        "operators: [\"{}\", \"{}\"]\nresolver: MEMORY",
        bare.display(),
        decorated.display()
    ));
    assert_eq!(parsed.operator.operators, vec![first.jwt, second.jwt]);
    let missing = error_text("operator: /nonexistent/op.jwt\nresolver: MEMORY");
    assert!(
        missing.contains("error reading operator JWT file"),
        "{missing}"
    );
    let account = mint::account(&mint::operator("x", |_| {}).key, "a", |_| {});
    let not_operator = error_text(&format!("operator: {}\nresolver: MEMORY", account.jwt));
    assert!(
        not_operator.contains("not an operator JWT"),
        "{not_operator}"
    );
}

#[test]
fn the_full_resolver_block() {
    let operator = mint::operator("op", |_| {});
    let parsed = options_ok(&format!(
        "operator: {}\nsystem_account: AABC\nresolver {{\n type: full\n dir: \"/tmp/jwt\"\n allow_delete: true\n interval: \"2m\"\n limit: 1000\n timeout: \"3s\"\n}}",
        operator.jwt
    ));
    assert_eq!(parsed.system_account.as_deref(), Some("AABC"));
    match parsed.operator.resolver {
        Some(ResolverOptions::Full(full)) => {
            assert_eq!(full.dir, PathBuf::from("/tmp/jwt"));
            assert_eq!(full.delete, DeletePolicy::Rename);
            assert_eq!(full.interval, Duration::from_secs(120));
            assert_eq!(full.limit, 1000);
            assert_eq!(full.timeout, Duration::from_secs(3));
        }
        other => panic!("unexpected {other:?}"),
    }
    let hard = options_ok(&format!(
        "operator: {}\nresolver {{ type: full, dir: d, allow_delete: true, hard_delete: true }}",
        operator.jwt
    ));
    assert!(matches!(
        hard.operator.resolver,
        Some(ResolverOptions::Full(DirResolverOptions {
            delete: DeletePolicy::Hard,
            ..
        }))
    ));
}

#[test]
fn unsupported_and_incomplete_resolver_setups_are_clear_errors() {
    let operator = mint::operator("op", |_| {});
    let op = &operator.jwt;
    let url = error_text(&format!(
        "operator: {op}\nresolver: URL(http://localhost:9090/jwt/v1/accounts/)"
    ));
    assert!(url.contains("the URL resolver is not supported"), "{url}");
    let cache = error_text(&format!(
        "operator: {op}\nresolver {{ type: cache, dir: d }}"
    ));
    assert!(cache.contains("type cache is not supported"), "{cache}");
    let no_dir = error_text(&format!("operator: {op}\nresolver {{ type: full }}"));
    assert!(no_dir.contains("needs a dir"), "{no_dir}");
    let short = error_text(&format!(
        "operator: {op}\nresolver {{ type: full, dir: d, interval: \"10ms\" }}"
    ));
    assert!(short.contains("at least 1s"), "{short}");
    let no_resolver = error_text(&format!("operator: {op}"));
    assert!(
        no_resolver.contains("require an account resolver"),
        "{no_resolver}"
    );
    let no_operator = error_text("resolver: MEMORY");
    assert!(no_operator.contains("require an operator"), "{no_operator}");
    let unknown = error_text(&format!(
        "operator: {op}\nresolver {{ type: full, dir: d, bogus: 1 }}"
    ));
    assert!(unknown.contains("bogus"), "{unknown}");
}

#[test]
fn preload_entries_are_checked() {
    let operator = mint::operator("op", |_| {});
    let account = mint::account(&operator.key, "a", |_| {});
    let other = mint::account(&operator.key, "b", |_| {});
    let op = &operator.jwt;
    let bad_key = error_text(&format!(
        "operator: {op}\nresolver: MEMORY\nresolver_preload {{ UABC: {} }}",
        account.jwt
    ));
    assert!(bad_key.contains("valid account public key"), "{bad_key}");
    let mismatch = error_text(&format!(
        "operator: {op}\nresolver: MEMORY\nresolver_preload {{ {}: {} }}",
        other.key.public_key(),
        account.jwt
    ));
    assert!(mismatch.contains("does not match"), "{mismatch}");
    let garbage = error_text(&format!(
        "operator: {op}\nresolver: MEMORY\nresolver_preload {{ {}: \"x.y.z\" }}",
        account.key.public_key()
    ));
    assert!(
        garbage.contains("invalid account JWT for preload"),
        "{garbage}"
    );
}
