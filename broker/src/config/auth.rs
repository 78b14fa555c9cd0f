//! `authorization { ... }` and permission blocks, as nats-server's
//! `parseAuthorization`, `parseUsers` and `parseUserPermissions`.
//!
//! nats-server quirk kept on purpose: `allow_responses` without a `publish`
//! block yields `publish: Some(allow: [], deny: [])`. In nats-server that
//! empty allow list means "no publishing except replies"; whoever enforces
//! permissions must read an empty allow list that way when
//! `allow_responses` is set.

use std::collections::HashSet;
use std::time::Duration;

use super::apply::{non_empty, Field};
use super::duration::parse_go_duration;
use super::error::ConfigError;
use super::value::{Value, ValueKind};
use crate::limits;
use crate::options::{Authorization, Permissions, ResponsePermission, SubjectPermission, User};

/// nats-server's `DEFAULT_ALLOW_RESPONSE_EXPIRATION`: how long a reply
/// subject stays publishable when `allow_responses` names no `expires`.
const DEFAULT_RESPONSE_EXPIRATION: Duration = Duration::from_secs(2 * 60);

/// nats-server's `DEFAULT_ALLOW_RESPONSE_MAX_MSGS`: replies per request.
const DEFAULT_RESPONSE_MAX_MSGS: usize = 1;

/// Replaces `auth` with the `authorization` block of `field`.
pub(super) fn apply_authorization(
    field: &Field<'_>,
    auth: &mut Authorization,
) -> Result<(), ConfigError> {
    let mut result = Authorization::default();
    let mut users = None;
    for entry in field.map()?.entries() {
        let sub = field.child(entry);
        match sub.lower_key().as_str() {
            "user" | "username" => result.user = non_empty(sub.string()?),
            "pass" | "password" => result.password = non_empty(sub.string()?),
            "token" => result.token = non_empty(sub.string()?),
            "timeout" => result.timeout = sub.seconds_or(limits::AUTH_TIMEOUT)?,
            "users" => users = Some(parse_users(&sub)?),
            "default_permission" | "default_permissions" | "permissions" => {
                result.default_permissions = Some(parse_permissions(&sub)?)
            }
            "auth_callout" => return Err(sub.unsupported()),
            _ => sub.unknown()?,
        }
    }
    if (result.user.is_some() || result.password.is_some()) && result.token.is_some() {
        return Err(field.invalid("cannot have a user/pass and token"));
    }
    if let Some(users) = users {
        if result.user.is_some() {
            return Err(field.invalid("can not have a single user/pass and a users array"));
        }
        if result.token.is_some() {
            return Err(field.invalid("can not have a token and a users array"));
        }
        result.users = users;
    }
    *auth = result;
    Ok(())
}

fn parse_users(field: &Field<'_>) -> Result<Vec<User>, ConfigError> {
    let mut users = Vec::new();
    let mut seen = HashSet::new();
    for item in field.array()? {
        let map = item.as_map().ok_or_else(|| {
            field.invalid_at(
                item.line,
                format!("expected a user entry to be a map, got {}", item.type_name()),
            )
        })?;
        let mut username = None;
        let mut password = None;
        let mut permissions = None;
        for entry in map.entries() {
            let sub = field.child(entry);
            match sub.lower_key().as_str() {
                "user" | "username" => username = non_empty(sub.string()?),
                "pass" | "password" => password = Some(sub.string()?),
                "permission" | "permissions" | "authorization" => {
                    permissions = Some(parse_permissions(&sub)?)
                }
                "nkey" | "allowed_connection_types" | "connection_types" | "clients" => {
                    return Err(sub.unsupported())
                }
                _ => sub.unknown()?,
            }
        }
        let Some(username) = username else {
            return Err(field.invalid_at(item.line, "user entry requires a user"));
        };
        if !seen.insert(username.clone()) {
            return Err(field.invalid_at(item.line, format!("duplicate user {username:?} detected")));
        }
        users.push(User {
            username,
            password: password.unwrap_or_default(),
            permissions,
        });
    }
    Ok(users)
}

/// A `permissions { publish, subscribe, allow_responses }` block.
pub(super) fn parse_permissions(field: &Field<'_>) -> Result<Permissions, ConfigError> {
    let mut permissions = Permissions::default();
    for entry in field.map()?.entries() {
        let sub = field.child(entry);
        match sub.lower_key().as_str() {
            "pub" | "publish" | "import" => permissions.publish = subject_permission(&sub)?,
            "sub" | "subscribe" | "export" => permissions.subscribe = subject_permission(&sub)?,
            "publish_allow_responses" | "allow_responses" => {
                permissions.allow_responses = response_permission(&sub)?
            }
            _ => sub.unknown()?,
        }
    }
    if permissions.allow_responses.is_some() && permissions.publish.is_none() {
        permissions.publish = Some(SubjectPermission::default());
    }
    Ok(permissions)
}

/// A subject, a list of subjects (an allow list) or `{ allow, deny }`.
fn subject_permission(field: &Field<'_>) -> Result<Option<SubjectPermission>, ConfigError> {
    let Some(map) = field.value().as_map() else {
        return Ok(Some(SubjectPermission {
            allow: subjects(field, field.value())?,
            deny: Vec::new(),
        }));
    };
    if map.entries().is_empty() {
        return Ok(None);
    }
    let mut permission = SubjectPermission::default();
    for entry in map.entries() {
        let sub = field.child(entry);
        match sub.lower_key().as_str() {
            "allow" => permission.allow = subjects(&sub, sub.value())?,
            "deny" => permission.deny = subjects(&sub, sub.value())?,
            _ => sub.unknown()?,
        }
    }
    Ok(Some(permission))
}

fn subjects(field: &Field<'_>, value: &Value) -> Result<Vec<String>, ConfigError> {
    let listed: Vec<(&str, usize)> = match &value.kind {
        ValueKind::String(subject) => vec![(subject.as_str(), value.line)],
        ValueKind::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str().map(|subject| (subject, item.line)).ok_or_else(|| {
                    field.invalid_at(item.line, "subject in permissions array must be a string")
                })
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(field.invalid(format!(
                "expected a subject or an array of subjects, got {}",
                value.type_name()
            )))
        }
    };
    listed
        .into_iter()
        .map(|(subject, line)| {
            if is_valid_permission_subject(subject) {
                Ok(subject.to_string())
            } else {
                Err(field.invalid_at(line, format!("subject {subject:?} is not a valid subject")))
            }
        })
        .collect()
}

/// `true` or `{ max: N, expires: "1m" }`.
fn response_permission(field: &Field<'_>) -> Result<Option<ResponsePermission>, ConfigError> {
    let mut permission = ResponsePermission {
        max_msgs: DEFAULT_RESPONSE_MAX_MSGS,
        expires: DEFAULT_RESPONSE_EXPIRATION,
    };
    let map = match &field.value().kind {
        ValueKind::Bool(false) => return Ok(None),
        ValueKind::Bool(true) => return Ok(Some(permission)),
        ValueKind::Map(map) => map,
        _ => {
            return Err(field.invalid(
                "error parsing response permissions, expected a boolean or a map",
            ))
        }
    };
    for entry in map.entries() {
        let sub = field.child(entry);
        match sub.lower_key().as_str() {
            "max" | "max_msgs" | "max_messages" | "max_responses" => {
                // nats-server: 0 keeps the default, negative means unlimited.
                match sub.integer()? {
                    0 => {}
                    negative if negative < 0 => permission.max_msgs = usize::MAX,
                    count => permission.max_msgs = usize::try_from(count).unwrap_or(usize::MAX),
                }
            }
            "expires" | "expiration" | "ttl" => {
                let text = sub
                    .value()
                    .as_str()
                    .ok_or_else(|| sub.invalid("error parsing expires, not a duration string"))?;
                let nanos = parse_go_duration(text)
                    .map_err(|message| sub.invalid(format!("error parsing expires: {message}")))?;
                // nats-server: 0 keeps the default, negative means forever.
                match u64::try_from(nanos) {
                    Ok(0) => {}
                    Ok(nanos) => permission.expires = Duration::from_nanos(nanos),
                    Err(_) => permission.expires = Duration::ZERO,
                }
            }
            _ => sub.unknown()?,
        }
    }
    Ok(Some(permission))
}

/// nats-server's `IsValidSubject`: non-empty tokens separated by `.`, no
/// whitespace, `>` only as the last token.
fn is_valid_subject(subject: &str) -> bool {
    if subject.is_empty() {
        return false;
    }
    let mut after_full_wildcard = false;
    for token in subject.split('.') {
        if token.is_empty() || after_full_wildcard {
            return false;
        }
        if token.contains([' ', '\t', '\n', '\r', '\x0c']) {
            return false;
        }
        if token == ">" {
            after_full_wildcard = true;
        }
    }
    true
}

/// A subject, or `"subject queue"` (a queue-qualified subscribe permission).
fn is_valid_permission_subject(entry: &str) -> bool {
    if is_valid_subject(entry) {
        return true;
    }
    let parts: Vec<&str> = entry.split_whitespace().collect();
    parts.len() == 2 && is_valid_subject(parts[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_validation_matches_nats_server() {
        for valid in ["foo", "foo.bar", "foo.*", "foo.>", ">", "*", "a.b*.c", "$SYS.>"] {
            assert!(is_valid_subject(valid), "{valid}");
        }
        for invalid in ["", ".foo", "foo.", "foo..bar", "foo.>.bar", "foo bar", "a.\tb"] {
            assert!(!is_valid_subject(invalid), "{invalid:?}");
        }
        assert!(is_valid_permission_subject("q.> workers"));
        assert!(!is_valid_permission_subject("q.> a b"));
        assert!(!is_valid_permission_subject("q..x grp"));
    }
}
