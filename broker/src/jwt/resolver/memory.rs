//! `resolver: MEMORY`: account JWTs preloaded from the config and kept in
//! memory (nats-server `MemAccResolver`).

use std::collections::BTreeMap;
use std::sync::RwLock;

use super::{compare_with_held, AccountResolver, StoreOutcome};
use crate::jwt::error::JwtError;

/// Account JWTs in a map.
#[derive(Debug, Default)]
pub struct MemoryResolver {
    accounts: RwLock<BTreeMap<String, String>>,
}

impl MemoryResolver {
    /// A resolver holding `preload` (account public key -> JWT).
    pub fn new(preload: impl IntoIterator<Item = (String, String)>) -> Self {
        MemoryResolver {
            accounts: RwLock::new(preload.into_iter().collect()),
        }
    }
}

impl AccountResolver for MemoryResolver {
    fn fetch(&self, account: &str) -> Result<String, JwtError> {
        let accounts = self.accounts.read().unwrap_or_else(|e| e.into_inner());
        accounts
            .get(account)
            .cloned()
            .ok_or_else(|| JwtError::AccountNotFound(account.to_string()))
    }

    fn store(
        &self,
        account: &str,
        jwt: &str,
        iat: i64,
        jti: &str,
    ) -> Result<StoreOutcome, JwtError> {
        let mut accounts = self.accounts.write().unwrap_or_else(|e| e.into_inner());
        let outcome = compare_with_held(accounts.get(account).map(String::as_str), iat, jti)?;
        if outcome != StoreOutcome::Unchanged {
            accounts.insert(account.to_string(), jwt.to_string());
        }
        Ok(outcome)
    }

    fn delete(&self, _account: &str) -> Result<(), JwtError> {
        Err(JwtError::Store(
            "delete must be enabled in server config".into(),
        ))
    }

    fn list(&self) -> Vec<String> {
        let accounts = self.accounts.read().unwrap_or_else(|e| e.into_inner());
        accounts.keys().cloned().collect()
    }

    fn allows_delete(&self) -> bool {
        false
    }
}
