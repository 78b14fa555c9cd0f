//! Claim types of nats-io/jwt v2, with the field names nats-server reads:
//! the standard JWT fields, then a `nats` object per kind (operator,
//! account, user). Unknown fields are ignored; numeric limits that are
//! absent default to -1 ("no limit", `jwt.NoLimit`), which is what nsc and
//! nats-io/jwt's constructors write.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// nats-io/jwt's `NoLimit`.
pub const NO_LIMIT: i64 = -1;

fn no_limit() -> i64 {
    NO_LIMIT
}

fn is_zero(value: &i64) -> bool {
    *value == 0
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// The standard fields (nats-io/jwt `ClaimsData`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClaimsData {
    /// Audience.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub aud: String,
    /// Expiry, Unix seconds; 0 = never.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub exp: i64,
    /// Token id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub jti: String,
    /// Issued at, Unix seconds.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub iat: i64,
    /// Issuer: the public NKey that signed the token.
    #[serde(default)]
    pub iss: String,
    /// Human-readable name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Not before, Unix seconds; 0 = always.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub nbf: i64,
    /// Subject: the public NKey the claims are about.
    #[serde(default)]
    pub sub: String,
}

/// A JWT's claims: the standard fields and the kind's `nats` object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Claims<N> {
    /// `iss`, `sub`, `iat`, `exp`, ...
    #[serde(flatten)]
    pub data: ClaimsData,
    /// The kind-specific part.
    #[serde(default)]
    pub nats: N,
}

/// Operator claims.
pub type OperatorClaims = Claims<Operator>;
/// Account claims.
pub type AccountClaims = Claims<Account>;
/// User claims.
pub type UserClaims = Claims<User>;

/// `tags`, `type`, `version` (nats-io/jwt `GenericFields`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GenericFields {
    /// Free-form tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// `operator`, `account`, `user`, ...
    #[serde(default, rename = "type")]
    pub kind: String,
    /// 2 for v2 tokens.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub version: i64,
}

/// The `nats` object of an operator JWT.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Operator {
    /// Keys that may sign account JWTs besides the operator's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signing_keys: Vec<String>,
    /// Where account JWTs can be fetched (the URL resolver; unused here).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub account_server_url: String,
    /// Server URLs of the operator's deployment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operator_service_urls: Vec<String>,
    /// Public key of the system account.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub system_account: String,
    /// Minimum server version the operator asks for.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub assert_server_version: String,
    /// Accounts must be signed by a signing key, not the operator key.
    #[serde(default, skip_serializing_if = "is_false")]
    pub strict_signing_key_usage: bool,
    /// `tags`, `type`, `version`.
    #[serde(flatten)]
    pub generic: GenericFields,
}

/// Allow and deny lists of subjects (`jwt.Permission`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SubjectPermission {
    /// Empty = everything allowed unless denied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    /// Wins over `allow`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
}

impl SubjectPermission {
    /// True when neither list has an entry.
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }
}

/// `resp`: the user may answer requests it received (`jwt.ResponsePermission`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponsePermission {
    /// Responses per request.
    #[serde(default)]
    pub max: i64,
    /// How long a reply subject stays allowed, in nanoseconds (Go duration).
    #[serde(default)]
    pub ttl: i64,
}

/// `pub`, `sub`, `resp` (`jwt.Permissions`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Permissions {
    /// Publish permission.
    #[serde(default, rename = "pub")]
    pub publish: SubjectPermission,
    /// Subscribe permission.
    #[serde(default, rename = "sub")]
    pub subscribe: SubjectPermission,
    /// Response permission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resp: Option<ResponsePermission>,
}

/// `subs`, `data`, `payload` (`jwt.NatsLimits`); -1 = no limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NatsLimits {
    /// Subscriptions.
    #[serde(default = "no_limit")]
    pub subs: i64,
    /// Bytes of data.
    #[serde(default = "no_limit")]
    pub data: i64,
    /// Largest payload in bytes.
    #[serde(default = "no_limit")]
    pub payload: i64,
}

impl Default for NatsLimits {
    fn default() -> Self {
        NatsLimits {
            subs: NO_LIMIT,
            data: NO_LIMIT,
            payload: NO_LIMIT,
        }
    }
}

/// A daily window in which a user may connect (`jwt.TimeRange`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimeRange {
    /// `HH:MM:SS`.
    #[serde(default)]
    pub start: String,
    /// `HH:MM:SS`.
    #[serde(default)]
    pub end: String,
}

/// A list that older tokens wrote as one comma-separated string (`src`).
fn string_or_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<Form>::deserialize(deserializer)? {
        None => Vec::new(),
        Some(Form::One(text)) => text
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(str::to_string)
            .collect(),
        Some(Form::Many(list)) => list,
    })
}

/// A user's limits (`jwt.Limits`: `UserLimits` + `NatsLimits`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserLimits {
    /// Allowed client source networks (CIDRs).
    #[serde(
        default,
        deserialize_with = "string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub src: Vec<String>,
    /// Daily connect windows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub times: Vec<TimeRange>,
    /// Time zone of `times`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub times_location: String,
    /// `subs`, `data`, `payload`.
    #[serde(flatten)]
    pub nats: NatsLimits,
}

/// What a user may do (`jwt.UserPermissionLimits`), also the template of a
/// scoped signing key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserPermissionLimits {
    /// `pub`, `sub`, `resp`.
    #[serde(flatten)]
    pub permissions: Permissions,
    /// `src`, `times`, `subs`, `data`, `payload`.
    #[serde(flatten)]
    pub limits: UserLimits,
    /// The token alone authenticates: no nonce signature needed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub bearer_token: bool,
    /// `STANDARD`, `WEBSOCKET`, `LEAFNODE`, `MQTT`, ...; empty = any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_connection_types: Vec<String>,
}

/// The `nats` object of a user JWT.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// Permissions and limits.
    #[serde(flatten)]
    pub permission_limits: UserPermissionLimits,
    /// The account's public key when `iss` is one of its signing keys.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub issuer_account: String,
    /// `tags`, `type`, `version`.
    #[serde(flatten)]
    pub generic: GenericFields,
}

/// An account's JetStream limits (`jwt.JetStreamLimits`). Unlike the
/// other limits, an absent field is 0 (nats-io/jwt writes them with
/// `omitempty`): storage 0 = none, so claims without them grant no
/// JetStream; -1 = no limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JetStreamLimits {
    /// Memory storage bytes.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mem_storage: i64,
    /// File storage bytes.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub disk_storage: i64,
    /// Streams.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub streams: i64,
    /// Consumers.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub consumer: i64,
    /// Unacknowledged messages per consumer.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_ack_pending: i64,
    /// Largest memory stream, bytes.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mem_max_stream_bytes: i64,
    /// Largest file stream, bytes.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub disk_max_stream_bytes: i64,
    /// Streams must set `max_bytes`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub max_bytes_required: bool,
}

/// Account-wide limits (`jwt.AccountLimits` + `NatsLimits` +
/// `JetStreamLimits`, and the per-replica JetStream tiers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountLimits {
    /// `subs`, `data`, `payload`.
    #[serde(flatten)]
    pub nats: NatsLimits,
    /// Imports at most.
    #[serde(default = "no_limit")]
    pub imports: i64,
    /// Exports at most.
    #[serde(default = "no_limit")]
    pub exports: i64,
    /// Exports may use wildcards.
    #[serde(default = "default_true")]
    pub wildcards: bool,
    /// Bearer user JWTs are refused.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disallow_bearer: bool,
    /// Client connections at most.
    #[serde(default = "no_limit")]
    pub conn: i64,
    /// Leaf node connections at most.
    #[serde(default = "no_limit")]
    pub leaf: i64,
    /// JetStream limits (`mem_storage`, `disk_storage`, `streams`, ...).
    #[serde(flatten)]
    pub jetstream: JetStreamLimits,
    /// JetStream limits per tier (`R1`, `R3`, ...), when the account is
    /// limited by replica count instead.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tiered_limits: BTreeMap<String, JetStreamLimits>,
}

impl AccountLimits {
    /// nats-io/jwt's `IsJSEnabled`: any tier, or memory or file storage
    /// that is not 0.
    pub fn is_jetstream_enabled(&self) -> bool {
        !self.tiered_limits.is_empty()
            || self.jetstream.disk_storage != 0
            || self.jetstream.mem_storage != 0
    }
}

fn default_true() -> bool {
    true
}

impl Default for AccountLimits {
    fn default() -> Self {
        AccountLimits {
            nats: NatsLimits::default(),
            imports: NO_LIMIT,
            exports: NO_LIMIT,
            wildcards: true,
            disallow_bearer: false,
            conn: NO_LIMIT,
            leaf: NO_LIMIT,
            jetstream: JetStreamLimits::default(),
            tiered_limits: BTreeMap::new(),
        }
    }
}

/// An entry of an account's `signing_keys`: a bare key, or a scoped key
/// whose users get the template's permissions and limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SigningKey {
    /// A public account key.
    Plain(String),
    /// `{"kind": "user_scope", "key": ..., "role": ..., "template": {...}}`.
    Scoped {
        /// `user_scope`.
        kind: String,
        /// The public account key.
        key: String,
        /// Free-form role name.
        #[serde(default)]
        role: String,
        /// What users issued with this key get.
        #[serde(default)]
        template: Box<UserPermissionLimits>,
    },
}

impl SigningKey {
    /// The public key.
    pub fn key(&self) -> &str {
        match self {
            SigningKey::Plain(key) | SigningKey::Scoped { key, .. } => key,
        }
    }
}

/// An export (`jwt.Export`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Export {
    /// Name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Exported subject (wildcards allowed).
    #[serde(default)]
    pub subject: String,
    /// `stream` or `service`.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// Importers need an activation token.
    #[serde(default, skip_serializing_if = "is_false")]
    pub token_req: bool,
    /// Revoked activations: importing account -> revoked at.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub revocations: BTreeMap<String, i64>,
    /// `Singleton`, `Stream` or `Chunked` (services).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub response_type: String,
    /// Longest wait for a response, nanoseconds.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub response_threshold: i64,
    /// Token of the subject that must equal the importing account.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub account_token_position: u32,
    /// Listed publicly.
    #[serde(default, skip_serializing_if = "is_false")]
    pub advertise: bool,
    /// Description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

fn is_zero_u32(value: &u32) -> bool {
    *value == 0
}

/// An import (`jwt.Import`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Import {
    /// Name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The exporter's subject.
    #[serde(default)]
    pub subject: String,
    /// The exporting account's public key.
    #[serde(default)]
    pub account: String,
    /// Activation token, when the export needs one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token: String,
    /// Deprecated prefix/target mapping.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub to: String,
    /// Local subject the import appears on.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub local_subject: String,
    /// `stream` or `service`.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// Share the requester's info with the exporter.
    #[serde(default, skip_serializing_if = "is_false")]
    pub share: bool,
}

/// The `nats` object of an account JWT.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Account {
    /// Imports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub imports: Vec<Import>,
    /// Exports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exports: Vec<Export>,
    /// Limits.
    #[serde(default)]
    pub limits: AccountLimits,
    /// Keys that may sign this account's users.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signing_keys: Vec<SigningKey>,
    /// Revoked users: user public key (or `*`) -> revoked at (Unix
    /// seconds); a user JWT issued at or before that time is refused.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub revocations: BTreeMap<String, i64>,
    /// Permissions of users whose JWT names none.
    #[serde(default)]
    pub default_permissions: Permissions,
    /// Subject mappings (kept as JSON).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mappings: BTreeMap<String, serde_json::Value>,
    /// Description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// `tags`, `type`, `version`.
    #[serde(flatten)]
    pub generic: GenericFields,
}

impl Account {
    /// The signing key entry for `key`, if the account has one.
    pub fn signing_key(&self, key: &str) -> Option<&SigningKey> {
        self.signing_keys.iter().find(|entry| entry.key() == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::test_vectors;
    use crate::jwt::token::decode;

    #[test]
    fn the_suite_tokens_parse_into_their_claim_types() {
        let operator = decode::<OperatorClaims>(test_vectors::SUITE_OPERATOR_JWT).expect("op");
        assert_eq!(operator.claims.nats.generic.kind, "operator");
        assert_eq!(
            operator.claims.nats.system_account,
            test_vectors::SUITE_SYSTEM_ACCOUNT
        );
        let account = decode::<AccountClaims>(test_vectors::SUITE_ACCOUNT_JWT).expect("acc");
        assert_eq!(account.claims.data.name, "TestAccount");
        assert_eq!(account.claims.nats.limits.conn, NO_LIMIT);
        assert!(account.claims.nats.limits.wildcards);
        let system = decode::<AccountClaims>(test_vectors::SUITE_SYSTEM_ACCOUNT_JWT).expect("sys");
        assert_eq!(system.claims.nats.exports.len(), 2);
        assert_eq!(system.claims.nats.exports[1].response_type, "Stream");
        assert_eq!(system.claims.nats.signing_keys.len(), 1);
        let user = decode::<UserClaims>(test_vectors::SUITE_USER_JWT).expect("user");
        assert_eq!(user.claims.data.iss, account.claims.data.sub);
        assert_eq!(
            user.claims.nats.permission_limits.limits.nats.subs,
            NO_LIMIT
        );
    }

    #[test]
    fn jetstream_limits_parse_and_absent_ones_disable_jetstream() {
        let limits: AccountLimits = serde_json::from_value(serde_json::json!({
            "conn": 5, "disk_storage": 1_048_576, "streams": 2, "max_bytes_required": true,
        }))
        .expect("limits");
        assert_eq!(limits.conn, 5);
        assert_eq!(limits.jetstream.disk_storage, 1_048_576);
        assert_eq!(limits.jetstream.streams, 2);
        assert_eq!(limits.jetstream.mem_storage, 0);
        assert!(limits.jetstream.max_bytes_required);
        assert!(limits.is_jetstream_enabled());
        assert!(!AccountLimits::default().is_jetstream_enabled());
        let tiered: AccountLimits = serde_json::from_value(serde_json::json!({
            "tiered_limits": {"R1": {"mem_storage": -1, "disk_storage": -1, "streams": 3}},
        }))
        .expect("tiered");
        assert!(tiered.is_jetstream_enabled());
        assert_eq!(tiered.tiered_limits["R1"].streams, 3);
        let written = serde_json::to_value(&limits).expect("serialise");
        assert_eq!(written["disk_storage"], 1_048_576);
        assert!(written.get("mem_storage").is_none(), "{written}");
        assert!(written.get("tiered_limits").is_none(), "{written}");
    }

    #[test]
    fn scoped_signing_keys_and_old_src_strings_parse() {
        let json = serde_json::json!({
            "signing_keys": ["AKEY", {"kind": "user_scope", "key": "BKEY", "role": "r",
                "template": {"pub": {"allow": ["a.>"]}, "subs": 3}}],
            "revocations": {"*": 10},
        });
        let account: Account = serde_json::from_value(json).expect("account");
        assert_eq!(
            account.signing_key("AKEY"),
            Some(&SigningKey::Plain("AKEY".into()))
        );
        match account.signing_key("BKEY") {
            Some(SigningKey::Scoped { template, .. }) => {
                assert_eq!(template.permissions.publish.allow, vec!["a.>"]);
                assert_eq!(template.limits.nats.subs, 3);
                assert_eq!(template.limits.nats.payload, NO_LIMIT);
            }
            other => panic!("unexpected {other:?}"),
        }
        let user: User =
            serde_json::from_value(serde_json::json!({"src": "10.0.0.0/8, 127.0.0.1/32"}))
                .expect("user");
        assert_eq!(
            user.permission_limits.limits.src,
            vec!["10.0.0.0/8", "127.0.0.1/32"]
        );
    }
}
