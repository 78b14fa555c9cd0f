//! JWT operator mode keys (nats-server `opts.go`: `operator`/`operators`/
//! `root_operators`, `resolver`, `resolver_preload`, `system_account`).
//!
//! An operator is a JWT inline or the path of a file holding one (bare or
//! decorated), read now, relative to the working directory as nats-server
//! does. The resolver is `MEMORY` or a `{ type: full, dir, ... }` block;
//! `URL(...)` and `type: cache` are refused clearly.

use std::path::PathBuf;
use std::time::Duration;

use nkeys::KeyPairType;

use super::error::ConfigError;
use super::field::Field;
use super::value::ValueKind;
use crate::jwt::claims::OperatorClaims;
use crate::jwt::creds::parse_decorated_jwt;
use crate::jwt::options::{OperatorOptions, ResolverOptions};
use crate::jwt::resolver::{DeletePolicy, DirResolverOptions};
use crate::jwt::token::{decode, is_public_key};

/// nats-server's default full-resolver sync interval.
const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_secs(60);
/// nats-server's `DEFAULT_ACCOUNT_FETCH_TIMEOUT`.
const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_millis(1900);

/// True for text that is a JWT rather than a path.
fn looks_like_jwt(text: &str) -> bool {
    text.starts_with("eyJ") && text.matches('.').count() == 2 && !text.contains('/')
}

/// One `operator` entry: a JWT or a file holding one.
fn read_operator(field: &Field<'_>, text: &str, line: usize) -> Result<String, ConfigError> {
    let text = text.trim();
    let token = if looks_like_jwt(text) {
        text.to_string()
    } else {
        let contents = std::fs::read_to_string(text).map_err(|error| {
            field.invalid_at(
                line,
                format!("error reading operator JWT file {text:?}: {error}"),
            )
        })?;
        parse_decorated_jwt(&contents).map_err(|error| {
            field.invalid_at(
                line,
                format!("error parsing operator JWT {text:?}: {error}"),
            )
        })?
    };
    let claims = decode::<OperatorClaims>(&token)
        .map_err(|error| field.invalid_at(line, format!("error parsing operator JWT: {error}")))?;
    if claims.claims.nats.generic.kind != "operator" {
        return Err(field.invalid_at(line, "error parsing operator JWT: not an operator JWT"));
    }
    Ok(token)
}

/// `operator: X`, `operators: [X, Y]`.
pub(crate) fn apply_operators(
    field: &Field<'_>,
    options: &mut OperatorOptions,
) -> Result<(), ConfigError> {
    let value = field.value();
    match &value.kind {
        ValueKind::String(text) => {
            options.operators = vec![read_operator(field, text, value.line)?];
        }
        ValueKind::Array(items) => {
            let mut operators = Vec::with_capacity(items.len());
            for item in items {
                let text = item.as_str().ok_or_else(|| {
                    field.invalid_at(item.line, "operator entries must be strings")
                })?;
                operators.push(read_operator(field, text, item.line)?);
            }
            options.operators = operators;
        }
        _ => return Err(field.invalid("expected a JWT, a file name, or a list of them")),
    }
    Ok(())
}

/// `resolver: MEMORY`, `resolver: URL(...)` or the full-resolver block.
pub(crate) fn apply_resolver(
    field: &Field<'_>,
    options: &mut OperatorOptions,
) -> Result<(), ConfigError> {
    let resolver = match &field.value().kind {
        ValueKind::String(text) => {
            let trimmed = text.trim();
            if trimmed.eq_ignore_ascii_case("MEMORY") || trimmed.eq_ignore_ascii_case("MEM") {
                ResolverOptions::Memory
            } else if trimmed.to_ascii_uppercase().starts_with("URL(") {
                return Err(field.invalid(
                    "the URL resolver is not supported by starling; use MEMORY or \
                     resolver { type: full, dir: ... }",
                ));
            } else {
                return Err(field.invalid(format!("unknown resolver {trimmed:?}")));
            }
        }
        ValueKind::Map(_) => ResolverOptions::Full(parse_full_resolver(field)?),
        _ => return Err(field.invalid("expected MEMORY or a resolver block")),
    };
    options.resolver = Some(resolver);
    Ok(())
}

fn parse_full_resolver(field: &Field<'_>) -> Result<DirResolverOptions, ConfigError> {
    let mut dir = None;
    let mut limit = 0;
    let mut allow_delete = false;
    let mut hard_delete = false;
    let mut interval = DEFAULT_SYNC_INTERVAL;
    let mut timeout = DEFAULT_FETCH_TIMEOUT;
    for entry in field.map()?.entries() {
        let child = field.child(entry);
        match child.lower_key().as_str() {
            "type" => {
                let kind = child.string()?;
                match kind.to_ascii_lowercase().as_str() {
                    "full" => {}
                    "cache" => {
                        return Err(child.invalid(
                            "resolver type cache is not supported by starling; use type full",
                        ))
                    }
                    _ => return Err(child.invalid(format!("unknown resolver type {kind:?}"))),
                }
            }
            "dir" => dir = Some(PathBuf::from(child.string()?)),
            "limit" => {
                limit = usize::try_from(child.integer()?)
                    .map_err(|_| child.invalid("limit can not be negative"))?
            }
            "allow_delete" => allow_delete = child.boolean()?,
            "hard_delete" => hard_delete = child.boolean()?,
            "interval" => {
                interval = child.duration_string()?;
                if interval < Duration::from_secs(1) {
                    return Err(child.invalid("interval needs to be at least 1s"));
                }
            }
            "timeout" => timeout = child.duration_or(DEFAULT_FETCH_TIMEOUT)?,
            _ => child.unknown()?,
        }
    }
    let dir = dir
        .filter(|dir| !dir.as_os_str().is_empty())
        .ok_or_else(|| field.invalid("a full resolver needs a dir"))?;
    let delete = match (allow_delete, hard_delete) {
        (false, _) => DeletePolicy::NoDelete,
        (true, false) => DeletePolicy::Rename,
        (true, true) => DeletePolicy::Hard,
    };
    Ok(DirResolverOptions {
        dir,
        limit,
        delete,
        interval,
        timeout,
    })
}

/// `resolver_preload { ACCOUNT_PUBKEY: JWT, ... }`.
pub(crate) fn apply_preload(
    field: &Field<'_>,
    options: &mut OperatorOptions,
) -> Result<(), ConfigError> {
    let mut preload = Vec::new();
    for entry in field.map()?.entries() {
        let child = field.child(entry);
        if !is_public_key(&entry.key, KeyPairType::Account) {
            return Err(child.invalid("preload requires a valid account public key"));
        }
        let token = child.string()?;
        let account = crate::jwt::validate::decode_account(token.trim())
            .map_err(|error| child.invalid(format!("invalid account JWT for preload: {error}")))?;
        if account.data.sub != entry.key {
            return Err(child.invalid("preload key does not match the account JWT's subject"));
        }
        preload.push((entry.key.clone(), token.trim().to_string()));
    }
    options.preload = preload;
    Ok(())
}

/// Checks that operator mode is complete once every key is applied.
/// `field` is one of the operator-mode keys, for the error's line.
pub(crate) fn check_operator_mode(
    field: &Field<'_>,
    options: &OperatorOptions,
) -> Result<(), ConfigError> {
    let invalid = |message: &str| field.invalid(message);
    if options.enabled() && options.resolver.is_none() {
        return Err(invalid(
            "operators require an account resolver to be configured",
        ));
    }
    if !options.enabled() && (options.resolver.is_some() || !options.preload.is_empty()) {
        return Err(invalid("resolver and resolver_preload require an operator"));
    }
    Ok(())
}

#[cfg(test)]
#[path = "operator_tests.rs"]
mod tests;
