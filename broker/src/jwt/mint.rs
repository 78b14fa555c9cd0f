//! Minting operator, account and user JWTs and creds files with fresh
//! NKeys, so tests (unit and integration) need no `nsc`. Tokens are v2,
//! signed exactly as nsc signs them; `jti` is random rather than nsc's
//! hash of the claims (nats-server never checks it).

use std::time::{SystemTime, UNIX_EPOCH};

use data_encoding::BASE32_NOPAD;
use nkeys::KeyPair;
use rand::RngExt;
use serde::Serialize;

use super::claims::{
    Account, AccountClaims, Claims, ClaimsData, GenericFields, Operator, OperatorClaims, User,
    UserClaims,
};
use super::token::encode;

/// A minted entity: its key pair, its claims and their signed token.
#[derive(Debug, Clone)]
pub struct Minted<C> {
    /// The subject's key pair (it signs what it vouches for).
    pub key: KeyPair,
    /// The claims as signed.
    pub claims: C,
    /// The signed JWT.
    pub jwt: String,
}

/// The current Unix time in seconds.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn random_jti() -> String {
    let mut raw = [0u8; 20];
    rand::rng().fill(&mut raw[..]);
    BASE32_NOPAD.encode(&raw)
}

fn data(name: &str, subject: &KeyPair, issuer: &KeyPair) -> ClaimsData {
    ClaimsData {
        jti: random_jti(),
        iat: unix_now(),
        iss: issuer.public_key(),
        name: name.to_string(),
        sub: subject.public_key(),
        ..ClaimsData::default()
    }
}

fn generic(kind: &str) -> GenericFields {
    GenericFields {
        kind: kind.to_string(),
        version: 2,
        ..GenericFields::default()
    }
}

/// Signs `claims` (whose `iss` must be `signer`'s key). Panics only on a
/// serialisation bug: this module serves tests.
pub fn sign<N: Serialize>(claims: &mut Claims<N>, signer: &KeyPair) -> String {
    claims.data.iss = signer.public_key();
    encode(claims, signer).expect("claims serialise")
}

impl<N: Serialize> Minted<Claims<N>> {
    /// Edits the claims, gives them a new `jti` and signs them again with
    /// `signer` (the issuer).
    pub fn reissue(&mut self, signer: &KeyPair, edit: impl FnOnce(&mut Claims<N>)) {
        edit(&mut self.claims);
        self.claims.data.jti = random_jti();
        self.jwt = sign(&mut self.claims, signer);
    }
}

/// A self-signed operator with a fresh key.
pub fn operator(name: &str, edit: impl FnOnce(&mut OperatorClaims)) -> Minted<OperatorClaims> {
    let key = KeyPair::new_operator();
    let mut claims = Claims {
        data: data(name, &key, &key),
        nats: Operator {
            generic: generic("operator"),
            ..Operator::default()
        },
    };
    edit(&mut claims);
    let jwt = sign(&mut claims, &key);
    Minted { key, claims, jwt }
}

/// An account with a fresh key, issued by `signer` (the operator or one of
/// its signing keys). Limits default to "no limit".
pub fn account(
    signer: &KeyPair,
    name: &str,
    edit: impl FnOnce(&mut AccountClaims),
) -> Minted<AccountClaims> {
    let key = KeyPair::new_account();
    let mut claims = Claims {
        data: data(name, &key, signer),
        nats: Account {
            generic: generic("account"),
            ..Account::default()
        },
    };
    edit(&mut claims);
    let jwt = sign(&mut claims, signer);
    Minted { key, claims, jwt }
}

/// A user with a fresh key, issued by `signer`: the account's key, or one
/// of its signing keys (then `issuer_account` is set to `account`).
pub fn user(
    account: &str,
    signer: &KeyPair,
    name: &str,
    edit: impl FnOnce(&mut UserClaims),
) -> Minted<UserClaims> {
    let key = KeyPair::new_user();
    let mut claims = Claims {
        data: data(name, &key, signer),
        nats: User {
            generic: generic("user"),
            ..User::default()
        },
    };
    if signer.public_key() != account {
        claims.nats.issuer_account = account.to_string();
    }
    edit(&mut claims);
    let jwt = sign(&mut claims, signer);
    Minted { key, claims, jwt }
}

/// A creds file for `user`, in nsc's format.
pub fn creds(user: &Minted<UserClaims>) -> String {
    let seed = user.key.seed().expect("a fresh key has a seed");
    format!(
        "-----BEGIN NATS USER JWT-----\n{}\n------END NATS USER JWT------\n\n\
         ************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\
         NKEYs are sensitive and should be treated as secrets.\n\n\
         -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n\n\
         *************************************************************\n",
        user.jwt
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::creds::parse_creds;
    use crate::jwt::validate::{decode_operator, decode_user, TrustedOperators};

    #[test]
    fn minted_chain_verifies_and_creds_parse_back() {
        let operator = operator("op", |_| {});
        let now = unix_now();
        assert!(decode_operator(&operator.jwt, now).is_ok());
        let account = account(&operator.key, "acc", |_| {});
        let trusted =
            TrustedOperators::new(std::slice::from_ref(&operator.jwt), now).expect("trust");
        let verified = trusted.verify_account(&account.jwt, now).expect("account");
        assert_eq!(verified.data.name, "acc");
        let user = user(&account.key.public_key(), &account.key, "u", |_| {});
        let creds = parse_creds(&creds(&user)).expect("creds");
        assert_eq!(creds.jwt, user.jwt);
        assert_eq!(
            creds.key_pair().expect("seed").public_key(),
            user.key.public_key()
        );
        assert!(decode_user(&creds.jwt, now).is_ok());
    }
}
