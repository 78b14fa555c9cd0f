//! `accounts { NAME: { users, default_permissions, limits } }`, as
//! nats-server's `parseAccounts` and `parseAccountLimits`.
//!
//! Exports and imports are in [`super::imports`]. Mappings and per-account
//! JetStream are refused as
//! unsupported until they are built, so a config never silently loses them.

use starling_jetstream::api::account::AccountLimits as JetStreamLimits;
use std::collections::HashSet;

use super::auth::{parse_permissions, parse_users};
use super::error::ConfigError;
use super::field::Field;
use super::imports::{check_imports, parse_exports, parse_imports};
use super::value::ValueKind;
use crate::account::AccountLimits;
use crate::options::{AccountOptions, Options};
use starling_proto::account::{is_valid_account_name, GLOBAL_ACCOUNT};

/// Replaces `options.accounts` with the `accounts` block of `field`.
pub(super) fn apply_accounts(field: &Field<'_>, options: &mut Options) -> Result<(), ConfigError> {
    let mut accounts = Vec::new();
    match &field.value().kind {
        // `accounts: [A, B]`: accounts without users.
        ValueKind::Array(items) => {
            for item in items {
                let name = item
                    .as_str()
                    .ok_or_else(|| field.invalid_at(item.line, "expected an account name"))?;
                accounts.push(account_named(field, name, item.line)?);
            }
        }
        _ => {
            for entry in field.map()?.entries() {
                let sub = field.child(entry);
                let mut account = account_named(field, &entry.key, entry.value.line)?;
                parse_account(&sub, &mut account)?;
                accounts.push(account);
            }
        }
    }
    let mut seen = HashSet::new();
    for account in &accounts {
        if !seen.insert(account.name.as_str()) {
            return Err(field.invalid(format!("duplicate account entry: {}", account.name)));
        }
    }
    check_imports(field, &accounts)?;
    options.accounts = accounts;
    Ok(())
}

fn account_named(
    field: &Field<'_>,
    name: &str,
    line: usize,
) -> Result<AccountOptions, ConfigError> {
    if name == GLOBAL_ACCOUNT {
        return Err(field.invalid_at(line, format!("{name:?} is a Reserved Account")));
    }
    if !is_valid_account_name(name) {
        return Err(field.invalid_at(line, format!("invalid account name {name:?}")));
    }
    Ok(AccountOptions {
        name: name.to_owned(),
        ..AccountOptions::default()
    })
}

fn parse_account(field: &Field<'_>, account: &mut AccountOptions) -> Result<(), ConfigError> {
    let map = field
        .value()
        .as_map()
        .ok_or_else(|| field.invalid("Expected map entries for accounts"))?;
    for entry in map.entries() {
        let sub = field.child(entry);
        match sub.lower_key().as_str() {
            "users" => account.users = parse_users(&sub)?,
            "default_permissions" => account.default_permissions = Some(parse_permissions(&sub)?),
            "limits" => account.limits = parse_limits(&sub)?,
            // The account's own public key: only meaningful with JWTs.
            "nkey" => {
                sub.string()?;
            }
            "exports" => account.exports = parse_exports(&sub)?,
            "imports" => account.imports = parse_imports(&sub)?,
            "mappings" | "maps" => account.mappings = super::mappings::parse_mappings(&sub)?,
            "jetstream" => {
                let (enabled, limits) = parse_account_jetstream(&sub)?;
                account.jetstream = Some(enabled);
                account.jetstream_limits = limits;
            }
            _ => sub.unknown()?,
        }
    }
    for user in &mut account.users {
        user.account = Some(account.name.clone());
        if user.permissions.is_none() {
            user.permissions = account.default_permissions.clone();
        }
    }
    Ok(())
}

/// An account's `jetstream`: `enabled`/`true`, `disabled`/`false`, or a
/// limits block (which enables it), keys as nats-server's
/// `parseJetStreamForAccount`; a limit left out is unlimited (-1).
fn parse_account_jetstream(field: &Field<'_>) -> Result<(bool, JetStreamLimits), ConfigError> {
    use super::value::ValueKind;
    let mut limits = JetStreamLimits::default();
    match &field.value().kind {
        ValueKind::Bool(enabled) => Ok((*enabled, limits)),
        ValueKind::String(text) => match text.to_ascii_lowercase().as_str() {
            "enabled" | "enable" | "true" => Ok((true, limits)),
            "disabled" | "disable" | "false" => Ok((false, limits)),
            _ => Err(field.invalid(format!("expected 'enabled' or 'disabled', got {text:?}"))),
        },
        ValueKind::Map(map) => {
            for entry in map.entries() {
                let sub = field.child(entry);
                match sub.lower_key().as_str() {
                    "max_memory" | "max_mem" | "mem" | "memory" => {
                        limits.max_memory = sub.integer()?
                    }
                    "max_file" | "max_store" | "max_disk" | "file" | "store" | "disk" => {
                        limits.max_storage = sub.integer()?
                    }
                    "max_streams" | "streams" => limits.max_streams = sub.integer()?,
                    "max_consumers" | "consumers" => limits.max_consumers = sub.integer()?,
                    "max_bytes_required" | "max_stream_bytes" | "max_bytes" => {
                        limits.max_bytes_required = sub.boolean()?
                    }
                    "max_ack_pending" => limits.max_ack_pending = sub.integer()?,
                    "memory_max_stream_bytes" | "mem_max_stream_bytes" => {
                        limits.memory_max_stream_bytes = sub.integer()?
                    }
                    "storage_max_stream_bytes"
                    | "store_max_stream_bytes"
                    | "disk_max_stream_bytes" => limits.storage_max_stream_bytes = sub.integer()?,
                    "cluster_traffic" => {}
                    _ => sub.unknown()?,
                }
            }
            Ok((true, limits))
        }
        _ => Err(field.invalid("jetstream must be 'enabled', 'disabled' or a limits block")),
    }
}

fn parse_limits(field: &Field<'_>) -> Result<AccountLimits, ConfigError> {
    let mut limits = AccountLimits::default();
    for entry in field.map()?.entries() {
        let sub = field.child(entry);
        // nats-server: a negative value is "unlimited".
        let value = usize::try_from(sub.integer()?).ok();
        match sub.lower_key().as_str() {
            "max_connections" | "max_conn" => limits.max_connections = value,
            "max_subscriptions" | "max_subs" => limits.max_subscriptions = value,
            "max_payload" | "max_pay" => limits.max_payload = value,
            "max_leafnodes" | "max_leafs" => limits.max_leafnodes = value,
            _ => sub.unknown()?,
        }
    }
    Ok(limits)
}

/// Users must be unique across `authorization` and every account (nats-server
/// checks the same), and accounts with users exclude a single user or token.
pub(super) fn check_users(field: Option<&Field<'_>>, options: &Options) -> Result<(), ConfigError> {
    let Some(field) = field else {
        return Ok(());
    };
    let account_users = options.accounts.iter().flat_map(|a| a.users.iter());
    if account_users.clone().next().is_some() {
        if options.authorization.user.is_some() {
            return Err(field.invalid("Can not have a single user/pass and accounts"));
        }
        if options.authorization.token.is_some() {
            return Err(field.invalid("Can not have a token and accounts"));
        }
    }
    let mut seen = HashSet::new();
    for user in options.authorization.users.iter().chain(account_users) {
        let key = user.nkey.as_deref().unwrap_or(&user.username);
        if !seen.insert(key) {
            let kind = if user.nkey.is_some() { "nkey" } else { "user" };
            return Err(field.invalid(format!("Duplicate {kind} {key:?} detected")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::test_support::{options, options_ok};

    fn parse_ok(text: &str) -> crate::options::Options {
        options_ok(text)
    }

    fn parse_err(text: &str) -> String {
        match options(text) {
            Ok(parsed) => panic!("expected an error, got {parsed:?}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn account_jetstream_forms() {
        let options = crate::config::test_support::options_ok(
            "accounts { A: { jetstream: enabled }, B: { jetstream: { max_mem: 1M, max_file: 1G } }, C: { jetstream: disabled }, D: {} }",
        );
        let said: Vec<Option<bool>> = options.accounts.iter().map(|a| a.jetstream).collect();
        assert_eq!(said, vec![Some(true), Some(true), Some(false), None]);
        let limits = &options.accounts[1].jetstream_limits;
        assert_eq!(limits.max_memory, 1_000_000);
        assert_eq!(limits.max_storage, 1_000_000_000);
        assert_eq!(limits.max_streams, -1);
        let full = crate::config::test_support::options_ok(
            "accounts { A: { jetstream: { max_streams: 2, max_consumers: 3, max_ack_pending: 4, max_bytes_required: true, memory_max_stream_bytes: 5, storage_max_stream_bytes: 6 } } }",
        );
        let limits = &full.accounts[0].jetstream_limits;
        assert_eq!(
            (
                limits.max_streams,
                limits.max_consumers,
                limits.max_ack_pending
            ),
            (2, 3, 4)
        );
        assert!(limits.max_bytes_required);
        assert_eq!(
            (
                limits.memory_max_stream_bytes,
                limits.storage_max_stream_bytes
            ),
            (5, 6)
        );
    }

    #[test]
    fn accounts_with_users_and_limits_parse() {
        let options = parse_ok(
            r#"
            accounts {
              A: { users: [ {user: a, password: pa} ], limits { max_connections: 2, max_subs: -1 } }
              B: { users: [ {user: b, password: pb, permissions: {publish: "x.>"}} ] }
              C: {}
            }
            "#,
        );
        let names: Vec<&str> = options.accounts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["A", "B", "C"]);
        let a = &options.accounts[0];
        assert_eq!(a.users[0].username, "a");
        assert_eq!(a.users[0].account.as_deref(), Some("A"));
        assert_eq!(a.limits.max_connections, Some(2));
        assert_eq!(a.limits.max_subscriptions, None);
        assert!(options.accounts[1].users[0].permissions.is_some());
    }

    #[test]
    fn default_permissions_apply_to_users_without_their_own() {
        let options = parse_ok(
            "accounts { A: { default_permissions: { publish: \"p\" }, users: [ {user: a, password: x} ] } }",
        );
        assert!(options.accounts[0].users[0].permissions.is_some());
    }

    #[test]
    fn account_list_form_parses() {
        let options = parse_ok("accounts: [A, B]");
        assert_eq!(options.accounts.len(), 2);
    }

    #[test]
    fn reserved_duplicate_and_unsupported_entries_are_errors() {
        assert!(parse_err("accounts { $G: {} }").contains("Reserved Account"));
        assert!(
            parse_err("accounts { A: { users: [{user: x, password: y}] }, B: { users: [{user: x, password: z}] } }")
                .contains("Duplicate user \"x\"")
        );
        assert!(parse_err("authorization { user: u, password: p }\naccounts { A: { users: [{user: x, password: y}] } }")
            .contains("single user/pass and accounts"));
        assert!(parse_err("accounts { A: { jetstream: maybe } }").contains("'enabled'"));
        assert!(parse_err("accounts { A: { bogus: 1 } }").contains("bogus"));
    }
}
