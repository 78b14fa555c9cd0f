//! The chain of trust of operator mode (nats-server `server/jwt.go`,
//! `accounts.go` `verifyAccountClaims`, `auth.go`
//! `processClientOrLeafAuthentication`): trusted operators vouch for
//! accounts, accounts (or their signing keys) vouch for users, and a user
//! proves it holds its key by signing the connection's nonce. The time is
//! an argument (Unix seconds), so every rule is testable.

use std::collections::HashSet;
use std::net::IpAddr;

use nkeys::KeyPairType;

use super::claims::{
    AccountClaims, ClaimsData, OperatorClaims, Permissions, SigningKey, UserClaims,
    UserPermissionLimits,
};
use super::error::JwtError;
use super::token::{decode, is_public_key, verify_nonce_signature};

/// The connection type of a plain client, as `allowed_connection_types`
/// names it.
pub const CONNECTION_TYPE_STANDARD: &str = "STANDARD";

/// Refuses claims outside their `nbf`..`exp` window.
pub fn check_times(data: &ClaimsData, now: i64) -> Result<(), JwtError> {
    if data.exp > 0 && data.exp < now {
        return Err(JwtError::Expired);
    }
    if data.nbf > 0 && data.nbf > now {
        return Err(JwtError::NotYetValid);
    }
    Ok(())
}

fn check_kind(found: &str, expected: &'static str) -> Result<(), JwtError> {
    if found == expected {
        Ok(())
    } else {
        Err(JwtError::WrongType {
            expected,
            found: found.to_string(),
        })
    }
}

/// Decodes and checks an operator JWT: signed by its own key (or one of
/// its signing keys), of type `operator`, valid at `now`.
pub fn decode_operator(token: &str, now: i64) -> Result<OperatorClaims, JwtError> {
    let claims = decode::<OperatorClaims>(token)?.claims;
    check_kind(&claims.nats.generic.kind, "operator")?;
    if !is_public_key(&claims.data.sub, KeyPairType::Operator) {
        return Err(JwtError::BadSubject("an operator key"));
    }
    let issuer = &claims.data.iss;
    if issuer != &claims.data.sub && !claims.nats.signing_keys.contains(issuer) {
        return Err(JwtError::UntrustedIssuer);
    }
    check_times(&claims.data, now)?;
    Ok(claims)
}

/// Decodes an account JWT and checks its type and subject (not its trust:
/// see [`TrustedOperators::verify_account`]).
pub fn decode_account(token: &str) -> Result<AccountClaims, JwtError> {
    let claims = decode::<AccountClaims>(token)?.claims;
    check_kind(&claims.nats.generic.kind, "account")?;
    if !is_public_key(&claims.data.sub, KeyPairType::Account) {
        return Err(JwtError::BadSubject("an account key"));
    }
    Ok(claims)
}

/// Decodes a user JWT and checks its type, subject and validity at `now`.
pub fn decode_user(token: &str, now: i64) -> Result<UserClaims, JwtError> {
    let claims = decode::<UserClaims>(token)?.claims;
    check_kind(&claims.nats.generic.kind, "user")?;
    if !is_public_key(&claims.data.sub, KeyPairType::User) {
        return Err(JwtError::BadSubject("a user key"));
    }
    check_times(&claims.data, now)?;
    Ok(claims)
}

/// The public key of the account a user belongs to: `issuer_account` when
/// a signing key issued it, else the issuer itself.
pub fn account_of(user: &UserClaims) -> &str {
    if user.nats.issuer_account.is_empty() {
        &user.data.iss
    } else {
        &user.nats.issuer_account
    }
}

/// The operators this server trusts (`operator` in the config) and the
/// keys that may sign accounts.
#[derive(Debug, Clone)]
pub struct TrustedOperators {
    operators: Vec<OperatorClaims>,
    /// Operator keys (unless strict) and their signing keys.
    signers: HashSet<String>,
}

impl TrustedOperators {
    /// Checks every operator JWT at `now`.
    pub fn new(tokens: &[String], now: i64) -> Result<TrustedOperators, JwtError> {
        let mut operators = Vec::with_capacity(tokens.len());
        let mut signers = HashSet::new();
        for token in tokens {
            let claims = decode_operator(token, now)?;
            if !claims.nats.strict_signing_key_usage {
                signers.insert(claims.data.sub.clone());
            }
            signers.extend(claims.nats.signing_keys.iter().cloned());
            operators.push(claims);
        }
        Ok(TrustedOperators { operators, signers })
    }

    /// The operators' claims.
    pub fn operators(&self) -> &[OperatorClaims] {
        &self.operators
    }

    /// The system account the first operator names, if any.
    pub fn system_account(&self) -> Option<&str> {
        self.operators
            .iter()
            .map(|operator| operator.nats.system_account.as_str())
            .find(|key| !key.is_empty())
    }

    /// True when `key` may sign account JWTs.
    pub fn is_trusted_signer(&self, key: &str) -> bool {
        self.signers.contains(key)
    }

    /// True when `key` is one of the operators' own keys (delete requests
    /// must be self-signed by one).
    pub fn is_operator_key(&self, key: &str) -> bool {
        self.operators.iter().any(|operator| {
            operator.data.sub == key || operator.nats.signing_keys.iter().any(|k| k == key)
        })
    }

    /// Decodes an account JWT and checks it was issued by a trusted key and
    /// is valid at `now`.
    pub fn verify_account(&self, token: &str, now: i64) -> Result<AccountClaims, JwtError> {
        let claims = decode_account(token)?;
        if !self.is_trusted_signer(&claims.data.iss) {
            return Err(JwtError::UntrustedIssuer);
        }
        check_times(&claims.data, now)?;
        Ok(claims)
    }
}

/// True when the account revoked this user: a revocation for its key, or
/// for `*`, at or after the user JWT's `iat`.
pub fn is_revoked(account: &AccountClaims, user: &UserClaims) -> bool {
    let revocations = &account.nats.revocations;
    [user.data.sub.as_str(), "*"]
        .iter()
        .filter_map(|key| revocations.get(*key))
        .any(|revoked_at| *revoked_at >= user.data.iat)
}

/// What the connection presented, besides the user JWT.
#[derive(Debug, Clone, Copy)]
pub struct ConnectProof<'a> {
    /// The nonce of this connection's INFO.
    pub nonce: &'a [u8],
    /// CONNECT `sig`.
    pub sig: Option<&'a str>,
    /// The client's address, for `src`.
    pub client_ip: Option<IpAddr>,
    /// `STANDARD` for plain clients.
    pub connection_type: &'a str,
    /// Seconds since midnight UTC, for `times`.
    pub seconds_of_day_utc: u32,
}

/// A user that passed every check, with what it may do.
#[derive(Debug, Clone)]
pub struct AuthorizedUser {
    /// The user's claims.
    pub claims: UserClaims,
    /// The account's public key.
    pub account: String,
    /// The signing key that issued the user, when not the account key.
    pub signing_key: Option<String>,
    /// Effective permissions and limits: a scoped signing key's template,
    /// else the user's own; with no `pub`/`sub`/`resp`, the account's
    /// `default_permissions`.
    pub permission_limits: UserPermissionLimits,
    /// When the connection must be closed (`exp`), Unix seconds.
    pub expires_at: Option<i64>,
}

fn has_permissions(permissions: &Permissions) -> bool {
    !permissions.publish.is_empty()
        || !permissions.subscribe.is_empty()
        || permissions.resp.is_some()
}

/// Checks a decoded, in-time user against its (verified) account and the
/// connection's proof, as nats-server does at CONNECT.
pub fn authorize_user(
    user: UserClaims,
    account: &AccountClaims,
    proof: &ConnectProof<'_>,
) -> Result<AuthorizedUser, JwtError> {
    let account_key = account_of(&user);
    if account_key != account.data.sub {
        return Err(JwtError::UnknownUserIssuer);
    }
    let issuer = user.data.iss.as_str();
    let signing_key = if issuer == account.data.sub {
        None
    } else {
        Some(
            account
                .nats
                .signing_key(issuer)
                .ok_or(JwtError::UnknownUserIssuer)?,
        )
    };
    if is_revoked(account, &user) {
        return Err(JwtError::Revoked);
    }
    let own = &user.nats.permission_limits;
    if own.bearer_token {
        if account.nats.limits.disallow_bearer {
            return Err(JwtError::BearerNotAllowed);
        }
    } else {
        let sig = proof
            .sig
            .filter(|sig| !sig.is_empty())
            .ok_or(JwtError::BadNonceSignature)?;
        verify_nonce_signature(&user.data.sub, proof.nonce, sig)?;
    }
    let mut effective = match signing_key {
        Some(SigningKey::Scoped { template, .. }) => {
            let mut template = (**template).clone();
            template.bearer_token = own.bearer_token;
            template
        }
        _ => own.clone(),
    };
    if !has_permissions(&effective.permissions) {
        effective.permissions = account.nats.default_permissions.clone();
    }
    check_connection_type(&effective.allowed_connection_types, proof.connection_type)?;
    check_source(&effective.limits.src, proof.client_ip)?;
    check_time_windows(&effective, proof.seconds_of_day_utc)?;
    Ok(AuthorizedUser {
        account: account.data.sub.clone(),
        signing_key: signing_key.map(|key| key.key().to_string()),
        permission_limits: effective,
        expires_at: (user.data.exp > 0).then_some(user.data.exp),
        claims: user,
    })
}

fn check_connection_type(allowed: &[String], kind: &str) -> Result<(), JwtError> {
    if allowed.is_empty() || allowed.iter().any(|entry| entry.eq_ignore_ascii_case(kind)) {
        Ok(())
    } else {
        Err(JwtError::Claims(format!(
            "connection type {kind} not allowed"
        )))
    }
}

/// `src`: the client must come from one of the networks.
fn check_source(networks: &[String], client_ip: Option<IpAddr>) -> Result<(), JwtError> {
    if networks.is_empty() {
        return Ok(());
    }
    let Some(ip) = client_ip else {
        return Err(JwtError::Claims("client address unknown".into()));
    };
    if networks.iter().any(|network| cidr_contains(network, ip)) {
        Ok(())
    } else {
        Err(JwtError::Claims(format!("source address {ip} not allowed")))
    }
}

/// True when `ip` is in `network` (`a.b.c.d/n`, `::/n` or a bare address).
fn cidr_contains(network: &str, ip: IpAddr) -> bool {
    let (address, bits) = match network.split_once('/') {
        Some((address, bits)) => (address, bits.parse::<u32>().ok()),
        None => (network, None),
    };
    let Ok(base) = address.trim().parse::<IpAddr>() else {
        return false;
    };
    match (base, ip) {
        (IpAddr::V4(base), IpAddr::V4(ip)) => {
            let bits = bits.unwrap_or(32).min(32);
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(base) & mask == u32::from(ip) & mask
        }
        (IpAddr::V6(base), IpAddr::V6(ip)) => {
            let bits = bits.unwrap_or(128).min(128);
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(base) & mask == u128::from(ip) & mask
        }
        _ => false,
    }
}

fn parse_clock(text: &str) -> Option<u32> {
    let mut parts = text.split(':').map(|part| part.parse::<u32>().ok());
    let hours = parts.next()??;
    let minutes = parts.next()??;
    let seconds = parts.next().unwrap_or(Some(0))?;
    (hours < 24 && minutes < 60 && seconds < 60).then_some(hours * 3600 + minutes * 60 + seconds)
}

/// `times`: the connection must fall in one of the daily windows. Only UTC
/// windows are evaluated; another `times_location` is refused rather than
/// ignored.
fn check_time_windows(limits: &UserPermissionLimits, now_of_day: u32) -> Result<(), JwtError> {
    let windows = &limits.limits.times;
    if windows.is_empty() {
        return Ok(());
    }
    let location = limits.limits.times_location.as_str();
    if !(location.is_empty() || location.eq_ignore_ascii_case("UTC")) {
        return Err(JwtError::Claims(format!(
            "times_location {location:?} not supported (UTC only)"
        )));
    }
    let inside = windows.iter().any(|window| {
        match (parse_clock(&window.start), parse_clock(&window.end)) {
            (Some(start), Some(end)) if start <= end => (start..=end).contains(&now_of_day),
            // A window across midnight.
            (Some(start), Some(end)) => now_of_day >= start || now_of_day <= end,
            _ => false,
        }
    });
    if inside {
        Ok(())
    } else {
        Err(JwtError::Claims("outside of allowed connect times".into()))
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
