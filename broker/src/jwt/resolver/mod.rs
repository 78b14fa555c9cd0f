//! Where account JWTs come from (nats-server's `AccountResolver`):
//! [`MemoryResolver`] (`resolver: MEMORY` + `resolver_preload`) and
//! [`DirResolver`] (`resolver { type: full, dir: ... }`), one `<pubkey>.jwt`
//! file per account. Resolvers store what they are given; checking a JWT
//! against the trusted operators happens before (see `claims_requests`).

mod dir;
mod memory;

pub use dir::{DeletePolicy, DirResolver, DirResolverOptions};
pub use memory::MemoryResolver;

use super::error::JwtError;

/// What a store did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOutcome {
    /// The account was new.
    Created,
    /// A JWT replaced the one held.
    Updated,
    /// The same JWT (same `jti`) was held already.
    Unchanged,
}

/// Fetches and keeps account JWTs by account public key.
pub trait AccountResolver: Send + Sync + std::fmt::Debug {
    /// The account's JWT, or [`JwtError::AccountNotFound`].
    fn fetch(&self, account: &str) -> Result<String, JwtError>;
    /// Keeps `jwt` for `account` unless the one held was issued later.
    /// `iat` and `jti` are the new token's; the caller decoded it.
    fn store(
        &self,
        account: &str,
        jwt: &str,
        iat: i64,
        jti: &str,
    ) -> Result<StoreOutcome, JwtError>;
    /// Forgets an account (only when deletes are allowed).
    fn delete(&self, account: &str) -> Result<(), JwtError>;
    /// Every account held, sorted.
    fn list(&self) -> Vec<String>;
    /// Whether `$SYS.REQ.CLAIMS.DELETE` may delete.
    fn allows_delete(&self) -> bool;
}

/// The `iat` and `jti` of a held token, for the newer-wins rule; a token
/// that does not decode counts as issued at 0.
pub(crate) fn held_identity(jwt: &str) -> (i64, String) {
    let claims = jwt
        .split('.')
        .nth(1)
        .and_then(|part| data_encoding::BASE64URL_NOPAD.decode(part.as_bytes()).ok())
        .and_then(|bytes| serde_json::from_slice::<super::claims::ClaimsData>(&bytes).ok())
        .unwrap_or_default();
    (claims.iat, claims.jti)
}

/// Applies the newer-wins rule of nats-server's `saveIfNewer`.
pub(crate) fn compare_with_held(
    held: Option<&str>,
    iat: i64,
    jti: &str,
) -> Result<StoreOutcome, JwtError> {
    let Some(held) = held else {
        return Ok(StoreOutcome::Created);
    };
    let (held_iat, held_jti) = held_identity(held);
    if !jti.is_empty() && held_jti == jti {
        return Ok(StoreOutcome::Unchanged);
    }
    if held_iat > iat {
        return Err(JwtError::Store(format!(
            "a newer jwt is held (issued at {held_iat}, this one at {iat})"
        )));
    }
    Ok(StoreOutcome::Updated)
}
