//! JWT operator mode (nats-io/jwt v2 and nats-server's trust chain), pure
//! logic: decoding takes text, validation takes the time, resolvers store
//! files; nothing here opens sockets or spawns tasks.
//!
//! - [`token`]: the `header.claims.signature` form, signature checks,
//!   encoding; [`claims`]: operator, account and user claim types.
//! - [`validate`]: [`TrustedOperators`] (who may sign accounts), user
//!   checks at CONNECT ([`authorize_user`]: issuer chain, revocations,
//!   bearer tokens, nonce signature, `src`, `times`, connection types).
//! - [`creds`]: creds files and decorated JWT files.
//! - [`resolver`]: [`AccountResolver`], [`MemoryResolver`], [`DirResolver`].
//! - [`claims_requests`]: `$SYS.REQ.CLAIMS.*` requests as functions.
//! - [`mint`]: fresh operators, accounts, users and creds for tests.
//! - [`options`]: the `operator`/`resolver` settings;
//!   [`operator_mode`]: the run-time [`operator_mode::OperatorMode`]
//!   (resolver, connected users); [`permissions`]: JWT permissions as
//!   the broker's.
//! - [`error`]: [`JwtError`], every reason a token is refused.

pub mod claims;
pub mod claims_requests;
pub mod creds;
pub mod error;
pub mod mint;
pub mod operator_mode;
pub mod options;
pub mod permissions;
pub mod resolver;
#[cfg(test)]
pub(crate) mod test_vectors;
pub mod token;
pub mod validate;

pub use claims::{AccountClaims, OperatorClaims, UserClaims};
pub use error::JwtError;
pub use resolver::{AccountResolver, DirResolver, MemoryResolver};
pub use validate::{authorize_user, AuthorizedUser, ConnectProof, TrustedOperators};
