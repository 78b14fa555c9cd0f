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

use super::duration::parse_go_duration;
use super::error::ConfigError;
use super::field::{non_empty, Field};
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

pub(super) fn parse_users(field: &Field<'_>) -> Result<Vec<User>, ConfigError> {
    let mut users = Vec::new();
    let mut seen = HashSet::new();
    for item in field.array()? {
        let map = item.as_map().ok_or_else(|| {
            field.invalid_at(
                item.line,
                format!(
                    "expected a user entry to be a map, got {}",
                    item.type_name()
                ),
            )
        })?;
        let mut username = None;
        let mut password = None;
        let mut nkey = None;
        let mut permissions = None;
        for entry in map.entries() {
            let sub = field.child(entry);
            match sub.lower_key().as_str() {
                "user" | "username" => username = non_empty(sub.string()?),
                "pass" | "password" => password = Some(sub.string()?),
                "permission" | "permissions" | "authorization" => {
                    permissions = Some(parse_permissions(&sub)?)
                }
                "nkey" => nkey = Some((sub.string()?, entry.value.line)),
                "allowed_connection_types" | "connection_types" | "clients" => {
                    return Err(sub.unsupported())
                }
                _ => sub.unknown()?,
            }
        }
        // nats-server's `parseUsers` texts.
        if let Some((nkey, line)) = nkey {
            if username.is_some() || password.is_some() {
                return Err(
                    field.invalid_at(item.line, "nkey users do not take usernames or passwords")
                );
            }
            if !is_user_public_nkey(&nkey) {
                return Err(field.invalid_at(line, "not a valid public nkey for a user"));
            }
            if !seen.insert(nkey.clone()) {
                return Err(
                    field.invalid_at(item.line, format!("duplicate nkey {nkey:?} detected"))
                );
            }
            users.push(User {
                nkey: Some(nkey),
                permissions,
                ..User::default()
            });
            continue;
        }
        let Some(username) = username else {
            return Err(field.invalid_at(item.line, "user entry requires a user"));
        };
        if !seen.insert(username.clone()) {
            return Err(
                field.invalid_at(item.line, format!("duplicate user {username:?} detected"))
            );
        }
        users.push(User {
            username,
            password: password.unwrap_or_default(),
            nkey: None,
            permissions,
            account: None,
        });
    }
    Ok(users)
}

/// nats-server's `nkeys.IsValidPublicUserKey`: a `U...` public key whose
/// checksum holds.
fn is_user_public_nkey(key: &str) -> bool {
    nkeys::KeyPair::from_public_key(key)
        .is_ok_and(|pair| matches!(pair.key_pair_type(), nkeys::KeyPairType::User))
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
                item.as_str()
                    .map(|subject| (subject, item.line))
                    .ok_or_else(|| {
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
            return Err(
                field.invalid("error parsing response permissions, expected a boolean or a map")
            )
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
    use crate::config::test_support::{options, options_ok};

    fn authorization(text: &str) -> Authorization {
        options_ok(text).authorization
    }

    fn permissions(block: &str) -> Permissions {
        authorization(&format!("authorization {{ default_permissions {block} }}"))
            .default_permissions
            .expect("permissions")
    }

    fn allow(subjects: &[&str]) -> Option<SubjectPermission> {
        Some(SubjectPermission {
            allow: subjects.iter().map(|s| s.to_string()).collect(),
            deny: Vec::new(),
        })
    }

    fn invalid(text: &str) -> (usize, String) {
        match options(text) {
            Err(ConfigError::InvalidValue { line, name, .. }) => (line, name),
            other => panic!("expected InvalidValue for {text:?}, got {other:?}"),
        }
    }

    #[test]
    fn single_user_with_timeout_forms() {
        let auth =
            authorization("authorization {\n  user: derek\n  password: T0pS3cr3t\n  timeout: 1\n}");
        assert_eq!(auth.user.as_deref(), Some("derek"));
        assert_eq!(auth.password.as_deref(), Some("T0pS3cr3t"));
        assert_eq!(auth.timeout, Duration::from_secs(1));
        assert!(auth.required());
        let aliases = authorization("authorization { username: a, pass: b, timeout: 0.5 }");
        assert_eq!(
            (aliases.user.as_deref(), aliases.password.as_deref()),
            (Some("a"), Some("b"))
        );
        assert_eq!(aliases.timeout, Duration::from_millis(500));
        assert_eq!(
            authorization("authorization { timeout: \"3s\" }").timeout,
            Duration::from_secs(3)
        );
        assert_eq!(
            authorization("authorization { timeout: 0 }").timeout,
            limits::AUTH_TIMEOUT
        );
        assert_eq!(
            invalid("authorization { timeout: true }").1,
            "authorization.timeout"
        );
    }

    #[test]
    fn token_and_empty_strings() {
        let auth = authorization("authorization { token: s3cr3t }");
        assert_eq!(auth.token.as_deref(), Some("s3cr3t"));
        let empty = authorization("authorization { user: \"\" }");
        assert_eq!(empty.user, None);
        assert!(!empty.required());
    }

    #[test]
    fn unquoted_bcrypt_password_is_kept_verbatim() {
        let auth = authorization("authorization { user: a, password: $2a$11$3kIDaCxw.Glsl1.u5nKa6eUnNDLV5HV9tIuUp7EHhMt6Nm9myW1aS }");
        assert_eq!(
            auth.password.as_deref(),
            Some("$2a$11$3kIDaCxw.Glsl1.u5nKa6eUnNDLV5HV9tIuUp7EHhMt6Nm9myW1aS")
        );
    }

    #[test]
    fn conflicting_credentials_are_rejected() {
        for block in [
            "user: a, token: t",
            "password: p, token: t",
            "user: a, users: [{user: b}]",
            "token: t, users: [{user: b}]",
        ] {
            assert_eq!(
                invalid(&format!("\nauthorization {{ {block} }}")),
                (2, "authorization".into())
            );
        }
    }

    #[test]
    fn users_with_permissions_and_defaults() {
        let auth = authorization(
            "authorization {\n  default_permissions { publish: \"public.>\" }\n  users: [\n    {user: alice, password: a1, permissions: {publish: [\"a.>\"], subscribe: {deny: \"secret.>\"}}}\n    {username: bob, pass: b2}\n    {user: carol}\n  ]\n}",
        );
        assert_eq!(
            auth.default_permissions
                .as_ref()
                .and_then(|p| p.publish.clone()),
            allow(&["public.>"])
        );
        assert_eq!(auth.users.len(), 3);
        let alice = &auth.users[0];
        assert_eq!(
            (alice.username.as_str(), alice.password.as_str()),
            ("alice", "a1")
        );
        let perms = alice.permissions.as_ref().expect("alice permissions");
        assert_eq!(perms.publish, allow(&["a.>"]));
        assert_eq!(
            perms.subscribe,
            Some(SubjectPermission {
                allow: Vec::new(),
                deny: vec!["secret.>".into()]
            })
        );
        assert_eq!(auth.users[1].username, "bob");
        assert_eq!(auth.users[1].permissions, None);
        assert_eq!(auth.users[2].password, "");
        let alias = authorization("authorization { permissions { sub: x } }");
        assert_eq!(
            alias.default_permissions.and_then(|p| p.subscribe),
            allow(&["x"])
        );
    }

    /// The user of the async-nats suite's `nkey.conf`.
    const NKEY: &str = "UAFHG6FUD2UU4SDFVAFUL5LDFO2XM4WYM76UNXTPJYJK7EEMYRBHT2VE";

    #[test]
    fn nkey_users_parse_with_permissions() {
        let auth = authorization(&format!(
            "authorization: {{\n  users: [\n    {{ nkey: {NKEY} }}\n    {{ nkey: \"{}\", permissions: {{ publish: \"a.>\" }} }}\n    {{ user: bob, password: pw }}\n  ]\n}}",
            nkeys::KeyPair::new_user().public_key()
        ));
        assert!(auth.required());
        assert_eq!(auth.users.len(), 3);
        assert_eq!(auth.users[0].nkey.as_deref(), Some(NKEY));
        assert!(auth.users[0].username.is_empty());
        assert_eq!(
            auth.users[1]
                .permissions
                .as_ref()
                .map(|p| p.publish.is_some()),
            Some(true)
        );
        assert_eq!(auth.users[2].nkey, None);
    }

    #[test]
    fn bad_nkey_entries_are_rejected() {
        for text in [
            format!("authorization {{ users: [{{nkey: {NKEY}, user: a}}] }}"),
            format!("authorization {{ users: [{{nkey: {NKEY}, password: a}}] }}"),
            format!("authorization {{ users: [{{nkey: {NKEY}}}, {{nkey: {NKEY}}}] }}"),
            // An account key is not a user key.
            "authorization { users: [{nkey: ADTQS7ZCFVJNW5726GOYXW5TSCZFNIQSHK2ZGYUBCD5D77OTNLOOKZOZ}] }".to_string(),
            // A broken checksum.
            "authorization { users: [{nkey: UAFHG6FUD2UU4SDFVAFUL5LDFO2XM4WYM76UNXTPJYJK7EEMYRBHT2VF}] }".to_string(),
        ] {
            assert!(
                matches!(options(&text), Err(ConfigError::InvalidValue { .. })),
                "{text}"
            );
        }
    }

    #[test]
    fn user_entries_are_checked() {
        assert_eq!(
            invalid("authorization {\n  users: [\n    {password: x}\n  ]\n}"),
            (3, "authorization.users".into())
        );
        assert_eq!(
            invalid("authorization { users: [{user: a}, {user: a}] }").1,
            "authorization.users"
        );
        assert_eq!(
            invalid("authorization { users: [\"a\"] }").1,
            "authorization.users"
        );
        assert_eq!(
            invalid("authorization { users: {user: a} }").1,
            "authorization.users"
        );
        assert_eq!(
            invalid("authorization { users: [{nkey: UABC}] }").1,
            "authorization.users"
        );
        match options("authorization { users: [{user: a, clients: 1}] }") {
            Err(ConfigError::Unsupported { name }) => {
                assert_eq!(name, "authorization.users.clients")
            }
            other => panic!("unexpected {other:?}"),
        }
        match options("authorization {\n users: [\n {user: a\n  role: admin}] }") {
            Err(ConfigError::UnknownField { line, name }) => {
                assert_eq!((line, name.as_str()), (4, "authorization.users.role"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn subject_permission_forms() {
        let perms = permissions("{ publish: \"a.b\", subscribe: [\"c.*\", \"q.> workers\"] }");
        assert_eq!(perms.publish, allow(&["a.b"]));
        assert_eq!(perms.subscribe, allow(&["c.*", "q.> workers"]));
        let perms = permissions("{ pub: { allow: [\"x.>\"], deny: \"x.secret\" }, sub: {} }");
        assert_eq!(
            perms.publish,
            Some(SubjectPermission {
                allow: vec!["x.>".into()],
                deny: vec!["x.secret".into()]
            })
        );
        assert_eq!(perms.subscribe, None);
        let perms = permissions("{ import: a, export: b }");
        assert_eq!(
            (perms.publish, perms.subscribe),
            (allow(&["a"]), allow(&["b"]))
        );
    }

    #[test]
    fn invalid_subjects_point_at_the_element() {
        assert_eq!(
            invalid("authorization {\n  permissions {\n    publish: [\n      ok\n      \"bad..subject\"\n    ]\n  }\n}"),
            (5, "authorization.permissions.publish".into())
        );
        assert_eq!(
            invalid("authorization { permissions { publish: [1] } }").1,
            "authorization.permissions.publish"
        );
        assert_eq!(
            invalid("authorization { permissions { publish: true } }").1,
            "authorization.permissions.publish"
        );
    }

    #[test]
    fn unknown_permission_keys_are_unknown_fields() {
        match options("authorization { permissions { publish: a, reply: b } }") {
            Err(ConfigError::UnknownField { name, .. }) => {
                assert_eq!(name, "authorization.permissions.reply");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            options("authorization { permissions { publish: { allow: a, block: b } } }"),
            Err(ConfigError::UnknownField { .. })
        ));
    }

    #[test]
    fn allow_responses_forms() {
        let perms = permissions("{ allow_responses: true }");
        assert_eq!(
            perms.allow_responses,
            Some(ResponsePermission {
                max_msgs: 1,
                expires: Duration::from_secs(120)
            })
        );
        assert_eq!(perms.publish, Some(SubjectPermission::default()));
        let perms = permissions("{ publish: a, allow_responses: false }");
        assert_eq!(
            (perms.allow_responses, perms.publish),
            (None, allow(&["a"]))
        );
        let perms =
            permissions("{ publish: \"a.>\", allow_responses: { max: 5, expires: \"1m\" } }");
        assert_eq!(
            perms.allow_responses,
            Some(ResponsePermission {
                max_msgs: 5,
                expires: Duration::from_secs(60)
            })
        );
        assert_eq!(perms.publish, allow(&["a.>"]));
        let perms = permissions("{ publish_allow_responses: { max_msgs: -1, ttl: \"-1s\" } }");
        assert_eq!(
            perms.allow_responses,
            Some(ResponsePermission {
                max_msgs: usize::MAX,
                expires: Duration::ZERO
            })
        );
        let perms = permissions("{ allow_responses: { max: 0, expires: \"0s\" } }");
        assert_eq!(
            perms.allow_responses,
            Some(ResponsePermission {
                max_msgs: 1,
                expires: Duration::from_secs(120)
            })
        );
        for bad in [
            "allow_responses: yes_please",
            "allow_responses: { expires: 60 }",
            "allow_responses: { expires: \"soon\" }",
        ] {
            assert!(
                matches!(
                    options(&format!("authorization {{ permissions {{ {bad} }} }}")),
                    Err(ConfigError::InvalidValue { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn subject_validation_matches_nats_server() {
        for valid in [
            "foo", "foo.bar", "foo.*", "foo.>", ">", "*", "a.b*.c", "$SYS.>",
        ] {
            assert!(is_valid_subject(valid), "{valid}");
        }
        for invalid in [
            "",
            ".foo",
            "foo.",
            "foo..bar",
            "foo.>.bar",
            "foo bar",
            "a.\tb",
        ] {
            assert!(!is_valid_subject(invalid), "{invalid:?}");
        }
        assert!(is_valid_permission_subject("q.> workers"));
        assert!(!is_valid_permission_subject("q.> a b"));
        assert!(!is_valid_permission_subject("q..x grp"));
    }
}
