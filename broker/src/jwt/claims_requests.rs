//! The resolver's system-account requests as pure functions: request
//! subject and payload in, reply payload (nats-server's JSON shapes, from
//! `accounts.go` `respondToUpdate`, `handleListRequest`,
//! `handleDeleteRequest`) and the store's change out. The server's claims
//! service (`crate::system::claims`) subscribes them in the system account.
//!
//! - `$SYS.REQ.CLAIMS.UPDATE`, `$SYS.REQ.ACCOUNT.<id>.CLAIMS.UPDATE` (and
//!   the old `$SYS.ACCOUNT.<id>.CLAIMS.UPDATE`): payload an account JWT.
//! - `$SYS.REQ.ACCOUNT.<id>.CLAIMS.LOOKUP` (and `$SYS.REQ.CLAIMS.LOOKUP`
//!   with the account id as payload): reply the JWT, or an empty message.
//! - `$SYS.REQ.CLAIMS.LIST`: reply `{"server":..,"data":[ids]}`.
//! - `$SYS.REQ.CLAIMS.DELETE`: payload a JWT self-signed by an operator key
//!   whose `nats.accounts` lists the accounts to delete.

use nkeys::KeyPairType;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::claims::{AccountClaims, ClaimsData};
use super::error::JwtError;
use super::resolver::{AccountResolver, StoreOutcome};
use super::token::{decode, is_public_key};
use super::validate::{check_times, TrustedOperators};

/// `$SYS.REQ.CLAIMS.UPDATE`.
pub const CLAIMS_UPDATE_SUBJECT: &str = "$SYS.REQ.CLAIMS.UPDATE";
/// `$SYS.REQ.CLAIMS.LOOKUP` (account id in the payload; Starling only,
/// nats-server has the per-account subject alone).
pub const CLAIMS_LOOKUP_SUBJECT: &str = "$SYS.REQ.CLAIMS.LOOKUP";
/// `$SYS.REQ.CLAIMS.LIST`.
pub const CLAIMS_LIST_SUBJECT: &str = "$SYS.REQ.CLAIMS.LIST";
/// `$SYS.REQ.CLAIMS.DELETE`.
pub const CLAIMS_DELETE_SUBJECT: &str = "$SYS.REQ.CLAIMS.DELETE";
/// `$SYS.REQ.ACCOUNT.<id>.CLAIMS.LOOKUP`, with `{account}` for the id.
pub const ACCOUNT_LOOKUP_SUBJECT: &str = "$SYS.REQ.ACCOUNT.{account}.CLAIMS.LOOKUP";
/// What the full resolver subscribes in the system account (nats-server
/// `DirAccResolver.Start`), on every node: each node stores an update
/// and answers it, so a push on any node reaches all of them.
pub const FULL_RESOLVER_SUBSCRIPTIONS: &[&str] = &[
    "$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE",
    "$SYS.ACCOUNT.*.CLAIMS.UPDATE",
    CLAIMS_UPDATE_SUBJECT,
    "$SYS.REQ.ACCOUNT.*.CLAIMS.LOOKUP",
    CLAIMS_LIST_SUBJECT,
    CLAIMS_DELETE_SUBJECT,
];
/// What nats-server subscribes with another resolver (`resolver: MEMORY`,
/// `accountClaimUpdate`): updates of accounts already loaded.
pub const MEMORY_RESOLVER_SUBSCRIPTIONS: &[&str] = &[
    "$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE",
    "$SYS.ACCOUNT.*.CLAIMS.UPDATE",
];

/// The lookup subject for `account`.
pub fn account_lookup_subject(account: &str) -> String {
    ACCOUNT_LOOKUP_SUBJECT.replace("{account}", account)
}

/// A claims request, from its subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimsRequest {
    /// Store an account JWT; `account` when the subject names it.
    Update {
        /// The account the subject names.
        account: Option<String>,
    },
    /// Reply the JWT held; `account` None = it is the payload.
    Lookup {
        /// The account the subject names.
        account: Option<String>,
    },
    /// Reply every account id held.
    List,
    /// Delete the accounts an operator-signed JWT lists.
    Delete,
}

/// Recognises a claims request subject.
pub fn parse_claims_subject(subject: &str) -> Option<ClaimsRequest> {
    let tokens: Vec<&str> = subject.split('.').collect();
    match tokens.as_slice() {
        ["$SYS", "REQ", "CLAIMS", "UPDATE"] => Some(ClaimsRequest::Update { account: None }),
        ["$SYS", "REQ", "CLAIMS", "LOOKUP"] => Some(ClaimsRequest::Lookup { account: None }),
        ["$SYS", "REQ", "CLAIMS", "LIST"] => Some(ClaimsRequest::List),
        ["$SYS", "REQ", "CLAIMS", "DELETE"] => Some(ClaimsRequest::Delete),
        ["$SYS", "REQ", "ACCOUNT", account, "CLAIMS", "UPDATE"]
        | ["$SYS", "ACCOUNT", account, "CLAIMS", "UPDATE"] => Some(ClaimsRequest::Update {
            account: Some((*account).to_string()),
        }),
        ["$SYS", "REQ", "ACCOUNT", account, "CLAIMS", "LOOKUP"] => Some(ClaimsRequest::Lookup {
            account: Some((*account).to_string()),
        }),
        _ => None,
    }
}

/// What handling a request produced.
#[derive(Debug, Clone, Default)]
pub struct ClaimsOutcome {
    /// The reply payload (an empty one is meaningful: "not found").
    pub reply: Vec<u8>,
    /// A stored account JWT that changed: apply it to the live account.
    pub changed: Option<AccountClaims>,
    /// Accounts deleted: disable them.
    pub deleted: Vec<String>,
}

/// Handles claims requests against one resolver.
pub struct ClaimsHandler<'a> {
    /// Who may sign accounts.
    pub trusted: &'a TrustedOperators,
    /// Where accounts are kept.
    pub resolver: &'a dyn AccountResolver,
    /// The system account, which may not be deleted.
    pub system_account: Option<&'a str>,
    /// nats-server's `ServerInfo` of this server (`server` in replies).
    pub server: &'a Value,
}

impl ClaimsHandler<'_> {
    /// Handles `request` with `payload` at `now` (Unix seconds).
    pub fn handle(&self, request: &ClaimsRequest, payload: &[u8], now: i64) -> ClaimsOutcome {
        match request {
            ClaimsRequest::Update { account } => self.update(account.as_deref(), payload, now),
            ClaimsRequest::Lookup { account } => {
                let named = account
                    .clone()
                    .unwrap_or_else(|| String::from_utf8_lossy(payload).trim().to_string());
                ClaimsOutcome {
                    reply: self
                        .resolver
                        .fetch(&named)
                        .map(String::into_bytes)
                        .unwrap_or_default(),
                    ..ClaimsOutcome::default()
                }
            }
            ClaimsRequest::List => ClaimsOutcome {
                reply: self.json(json!({"server": self.server, "data": self.resolver.list()})),
                ..ClaimsOutcome::default()
            },
            ClaimsRequest::Delete => self.delete(payload),
        }
    }

    fn json(&self, value: Value) -> Vec<u8> {
        serde_json::to_vec(&value).unwrap_or_default()
    }

    /// nats-server's `respondToUpdate`.
    pub fn respond(&self, account: &str, message: &str, error: Option<&JwtError>) -> Vec<u8> {
        let mut body = Map::new();
        if !account.is_empty() {
            body.insert("account".into(), json!(account));
        }
        let key = match error {
            None => {
                body.insert("code".into(), json!(200));
                body.insert("message".into(), json!(message));
                "data"
            }
            Some(error) => {
                body.insert("code".into(), json!(500));
                body.insert("description".into(), json!(format!("{message} - {error}")));
                "error"
            }
        };
        self.json(json!({"server": self.server, key: body}))
    }

    fn update(&self, named: Option<&str>, payload: &[u8], now: i64) -> ClaimsOutcome {
        const FAILED: &str = "jwt update resulted in error";
        let text = String::from_utf8_lossy(payload);
        let claims = match super::validate::decode_account(text.trim()) {
            Ok(claims) => claims,
            Err(error) => return self.reply(self.respond("n/a", FAILED, Some(&error))),
        };
        let account = claims.data.sub.clone();
        if let Err(error) = check_times(&claims.data, now) {
            return self.reply(self.respond(&account, "jwt validation failed", Some(&error)));
        }
        if named.is_some_and(|named| named != account) {
            let error = JwtError::Claims("subject does not match jwt content".into());
            return self.reply(self.respond(named.unwrap_or_default(), FAILED, Some(&error)));
        }
        if !self.trusted.is_trusted_signer(&claims.data.iss) {
            return self.reply(self.respond(&account, FAILED, Some(&JwtError::UntrustedIssuer)));
        }
        let data = &claims.data;
        match self
            .resolver
            .store(&account, text.trim(), data.iat, &data.jti)
        {
            Err(error) => self.reply(self.respond(&account, FAILED, Some(&error))),
            Ok(outcome) => ClaimsOutcome {
                reply: self.respond(&account, "jwt updated", None),
                changed: (outcome != StoreOutcome::Unchanged).then_some(claims),
                deleted: Vec::new(),
            },
        }
    }

    fn reply(&self, reply: Vec<u8>) -> ClaimsOutcome {
        ClaimsOutcome {
            reply,
            ..ClaimsOutcome::default()
        }
    }

    fn delete(&self, payload: &[u8]) -> ClaimsOutcome {
        #[derive(Deserialize)]
        struct DeleteClaims {
            #[serde(flatten)]
            data: ClaimsData,
            #[serde(default)]
            nats: Map<String, Value>,
        }
        let text = String::from_utf8_lossy(payload);
        let parsed = decode::<DeleteClaims>(text.trim()).map(|verified| verified.claims);
        let subject = parsed
            .as_ref()
            .map(|c| c.data.sub.clone())
            .unwrap_or_default();
        let accounts = parsed.and_then(|claims| self.check_delete(&claims.data, &claims.nats));
        let accounts = match accounts {
            Ok(accounts) => accounts,
            Err(error) => {
                let message = format!("delete accounts request by {subject} failed");
                return self.reply(self.respond("", &message, Some(&error)));
            }
        };
        let mut errors = Vec::new();
        let mut deleted = Vec::new();
        for account in accounts {
            match self.resolver.delete(&account) {
                Ok(()) => deleted.push(account),
                Err(error) => errors.push(error.to_string()),
            }
        }
        let reply = if errors.is_empty() {
            self.respond("", &format!("deleted {} accounts", deleted.len()), None)
        } else {
            let message = format!(
                "deleted {} accounts, failed for {}",
                deleted.len(),
                errors.len()
            );
            self.respond("", &message, Some(&JwtError::Store(errors.join("\n"))))
        };
        ClaimsOutcome {
            reply,
            changed: None,
            deleted,
        }
    }

    fn check_delete(
        &self,
        data: &ClaimsData,
        nats: &Map<String, Value>,
    ) -> Result<Vec<String>, JwtError> {
        if !self.resolver.allows_delete() {
            return Err(JwtError::Store(
                "delete must be enabled in server config".into(),
            ));
        }
        if data.sub != data.iss {
            return Err(JwtError::Claims("not self signed".into()));
        }
        if !self.trusted.is_operator_key(&data.iss) {
            return Err(JwtError::Claims("not trusted".into()));
        }
        let malformed = || JwtError::Claims("malformed request".into());
        let list = nats
            .get("accounts")
            .and_then(Value::as_array)
            .ok_or_else(malformed)?;
        let mut accounts = Vec::with_capacity(list.len());
        for entry in list {
            let account = entry
                .as_str()
                .filter(|key| is_public_key(key, KeyPairType::Account))
                .ok_or_else(malformed)?;
            if Some(account) == self.system_account {
                return Err(JwtError::Claims(
                    "not allowed to delete system account".into(),
                ));
            }
            accounts.push(account.to_string());
        }
        Ok(accounts)
    }
}

#[cfg(test)]
#[path = "claims_requests_tests.rs"]
mod tests;
