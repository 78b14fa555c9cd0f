//! Operator mode at run time: the trusted operators, the resolver, and the
//! JWT users connected, so an account update can close the users it
//! revokes. Built once at server start from [`OperatorOptions`].
//!
//! Locking: `users` is a leaf lock, never held while closing a client.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use super::claims::AccountClaims;
use super::claims_requests::{ClaimsHandler, ClaimsOutcome, ClaimsRequest};
use super::error::JwtError;
use super::options::{OperatorOptions, ResolverOptions};
use super::resolver::{
    AccountResolver, DirResolver, DirResolverOptions, MemoryResolver, StoreOutcome,
};
use super::validate::{
    account_of, authorize_user, decode_user, is_revoked, AuthorizedUser, ConnectProof,
    TrustedOperators,
};
use crate::client::{ClientHandle, ClientId};

/// A connected JWT user, as an account update needs it.
#[derive(Debug)]
struct ConnectedUser {
    account: String,
    claims: super::claims::UserClaims,
    /// The user's own `subs` limit (None = unlimited).
    subs: Option<usize>,
    handle: Weak<ClientHandle>,
}

/// A user that passed CONNECT, with its verified account.
#[derive(Debug, Clone)]
pub struct JwtLogin {
    /// The user and its effective permissions.
    pub user: AuthorizedUser,
    /// The account's verified claims.
    pub account: Arc<AccountClaims>,
}

impl JwtLogin {
    /// When the connection must end: the user's `exp`, or the account's if
    /// that comes first (nats-server expires an account's clients with it).
    pub fn expires_at(&self) -> Option<i64> {
        let account = (self.account.data.exp > 0).then_some(self.account.data.exp);
        match (self.user.expires_at, account) {
            (Some(user), Some(account)) => Some(user.min(account)),
            (user, account) => user.or(account),
        }
    }
}

/// Trusted operators, resolver and connected users.
#[derive(Debug)]
pub struct OperatorMode {
    trusted: TrustedOperators,
    resolver: Box<dyn AccountResolver>,
    /// The full resolver's settings (None: `resolver: MEMORY`).
    full_resolver: Option<DirResolverOptions>,
    system_account: Option<String>,
    users: Mutex<HashMap<ClientId, ConnectedUser>>,
}

impl OperatorMode {
    /// Checks the operators at `now`, opens the resolver and stores the
    /// preloaded accounts (each checked against the operators; a bad one
    /// is an error, as nats-server refuses to start). `system_account`
    /// (the config's) wins over the operator's.
    pub fn start(
        options: &OperatorOptions,
        system_account: Option<&str>,
        now: i64,
    ) -> Result<OperatorMode, JwtError> {
        let trusted = TrustedOperators::new(&options.operators, now)?;
        let resolver: Box<dyn AccountResolver> = match &options.resolver {
            Some(ResolverOptions::Full(dir)) => Box::new(DirResolver::open(dir.clone())?),
            Some(ResolverOptions::Memory) | None => Box::new(MemoryResolver::default()),
        };
        for (account, token) in &options.preload {
            let claims = trusted.verify_account(token, now).map_err(|error| {
                JwtError::Store(format!("preloaded account {account}: {error}"))
            })?;
            let data = &claims.data;
            // An older preload than the JWT a full resolver holds is fine.
            if let Err(error) = resolver.store(account, token, data.iat, &data.jti) {
                tracing::info!(%account, %error, "preloaded account not stored");
            }
        }
        let system_account = system_account
            .map(str::to_string)
            .or_else(|| trusted.system_account().map(str::to_string));
        let full_resolver = match &options.resolver {
            Some(ResolverOptions::Full(dir)) => Some(dir.clone()),
            _ => None,
        };
        Ok(OperatorMode {
            trusted,
            resolver,
            full_resolver,
            system_account,
            users: Mutex::new(HashMap::new()),
        })
    }

    /// The system account's public key, if any.
    pub fn system_account(&self) -> Option<&str> {
        self.system_account.as_deref()
    }

    /// The full resolver's settings; None with `resolver: MEMORY`.
    pub fn full_resolver(&self) -> Option<&DirResolverOptions> {
        self.full_resolver.as_ref()
    }

    /// Keeps an account JWT a peer sent (a lookup's answer, a sync pack
    /// entry), once it checks out against the operators at `now` and is
    /// the account named. Some(claims) when the stored JWT changed.
    pub fn store_fetched(
        &self,
        account: &str,
        token: &str,
        now: i64,
    ) -> Result<Option<AccountClaims>, JwtError> {
        let claims = self.trusted.verify_account(token, now)?;
        if claims.data.sub != account {
            return Err(JwtError::Claims(
                "subject does not match jwt content".into(),
            ));
        }
        let data = &claims.data;
        let outcome = self.resolver.store(account, token, data.iat, &data.jti)?;
        Ok((outcome != StoreOutcome::Unchanged).then_some(claims))
    }

    /// The resolver's contents as `<pubkey>|<jwt>` entries, for a peer
    /// whose store differs (nats-server `PackWalk`).
    pub fn pack(&self) -> Vec<String> {
        self.resolver
            .list()
            .into_iter()
            .filter_map(|account| {
                let token = self.resolver.fetch(&account).ok()?;
                Some(format!("{account}|{token}"))
            })
            .collect()
    }

    /// A digest of the resolver's contents that does not depend on order
    /// (as nats-server's store hash: the XOR of each JWT's SHA-256), so two
    /// nodes compare stores in one message.
    pub fn store_hash(&self) -> [u8; 32] {
        let mut hash = [0u8; 32];
        for account in self.resolver.list() {
            let Ok(token) = self.resolver.fetch(&account) else {
                continue;
            };
            let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
            for (byte, other) in hash.iter_mut().zip(digest.as_ref()) {
                *byte ^= other;
            }
        }
        hash
    }

    /// The account's claims from the resolver, checked against the
    /// operators at `now`.
    pub fn account(&self, account: &str, now: i64) -> Result<AccountClaims, JwtError> {
        let token = self.resolver.fetch(account)?;
        self.trusted.verify_account(&token, now)
    }

    /// CONNECT with `jwt`: the user JWT, its account and the proof.
    pub fn login(
        &self,
        user_jwt: &str,
        proof: &ConnectProof<'_>,
        now: i64,
    ) -> Result<JwtLogin, JwtError> {
        let user = decode_user(user_jwt, now)?;
        let account = self.account(account_of(&user), now)?;
        let user = authorize_user(user, &account, proof)?;
        Ok(JwtLogin {
            user,
            account: Arc::new(account),
        })
    }

    /// Remembers a logged-in connection, for revocations.
    pub fn register(&self, handle: &Arc<ClientHandle>, login: &JwtLogin) {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users.insert(
            handle.cid,
            ConnectedUser {
                account: login.user.account.clone(),
                claims: login.user.claims.clone(),
                subs: usize::try_from(login.user.permission_limits.limits.nats.subs).ok(),
                handle: Arc::downgrade(handle),
            },
        );
    }

    /// Forgets a closed connection.
    pub fn forget(&self, cid: ClientId) {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users.remove(&cid);
    }

    /// The account of a connected JWT user.
    pub fn account_of_client(&self, cid: ClientId) -> Option<String> {
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users.get(&cid).map(|user| user.account.clone())
    }

    /// A connected JWT user's own `subs` limit (None = unlimited).
    pub fn user_subscription_limit(&self, cid: ClientId) -> Option<usize> {
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users.get(&cid).and_then(|user| user.subs)
    }

    /// Connections of `account` that `claims` (its new JWT) revokes.
    pub fn revoked_by(&self, claims: &AccountClaims) -> Vec<Arc<ClientHandle>> {
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users
            .values()
            .filter(|user| user.account == claims.data.sub && is_revoked(claims, &user.claims))
            .filter_map(|user| user.handle.upgrade())
            .collect()
    }

    /// Connections of the accounts in `accounts`.
    pub fn connections_of(&self, accounts: &[String]) -> Vec<Arc<ClientHandle>> {
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users
            .values()
            .filter(|user| accounts.contains(&user.account))
            .filter_map(|user| user.handle.upgrade())
            .collect()
    }

    /// Handles a `$SYS.REQ.CLAIMS.*` request; `server` is this server's
    /// `ServerInfo` JSON for the reply.
    pub fn handle_claims_request(
        &self,
        request: &ClaimsRequest,
        payload: &[u8],
        server: &serde_json::Value,
        now: i64,
    ) -> ClaimsOutcome {
        self.claims_handler(server).handle(request, payload, now)
    }

    /// The claims request handler over this resolver; `server` is this
    /// server's `ServerInfo` JSON for replies.
    pub fn claims_handler<'a>(&'a self, server: &'a serde_json::Value) -> ClaimsHandler<'a> {
        ClaimsHandler {
            trusted: &self.trusted,
            resolver: self.resolver.as_ref(),
            system_account: self.system_account.as_deref(),
            server,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::mint::{self, unix_now};

    fn memory_mode(operator: &mint::Minted<super::super::OperatorClaims>) -> OperatorMode {
        let options = OperatorOptions {
            operators: vec![operator.jwt.clone()],
            resolver: Some(ResolverOptions::Memory),
            preload: Vec::new(),
        };
        OperatorMode::start(&options, None, unix_now()).expect("operator mode")
    }

    #[test]
    fn fetched_jwts_are_checked_kept_once_and_packed() {
        let operator = mint::operator("op", |_| {});
        let mode = memory_mode(&operator);
        let first = mint::account(&operator.key, "A", |_| {});
        let second = mint::account(&operator.key, "B", |_| {});
        let a = first.key.public_key();
        let b = second.key.public_key();
        let empty = mode.store_hash();

        assert!(mode
            .store_fetched(&a, &first.jwt, unix_now())
            .expect("kept")
            .is_some());
        assert!(
            mode.store_fetched(&a, &first.jwt, unix_now())
                .expect("same")
                .is_none(),
            "the same JWT again changes nothing"
        );
        assert!(
            mode.store_fetched(&b, &first.jwt, unix_now()).is_err(),
            "wrong account"
        );
        let stranger = mint::operator("other", |_| {});
        let forged = mint::account(&stranger.key, "C", |_| {});
        assert!(mode
            .store_fetched(&forged.key.public_key(), &forged.jwt, unix_now())
            .is_err());

        let one = mode.store_hash();
        assert_ne!(one, empty);
        mode.store_fetched(&b, &second.jwt, unix_now())
            .expect("kept");
        let mut pack = mode.pack();
        pack.sort();
        let mut expected = vec![format!("{a}|{}", first.jwt), format!("{b}|{}", second.jwt)];
        expected.sort();
        assert_eq!(pack, expected);

        // The digest does not depend on the order the JWTs arrived in.
        let other = memory_mode(&operator);
        other
            .store_fetched(&b, &second.jwt, unix_now())
            .expect("kept");
        assert_ne!(other.store_hash(), mode.store_hash());
        other
            .store_fetched(&a, &first.jwt, unix_now())
            .expect("kept");
        assert_eq!(other.store_hash(), mode.store_hash());
    }
}
