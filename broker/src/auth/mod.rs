//! Client authentication and permissions, as nats-server 2.9 has them.
//! Pure logic: no I/O, no tasks; time is passed in.
//!
//! - [`authenticate`]: [`Authenticator`] checks CONNECT [`Credentials`]
//!   (users list, token, single user; plain secrets compared in constant
//!   time, `$2a$`/`$2b$`/`$2x$`/`$2y$` secrets as bcrypt hashes, NKey
//!   signatures of the INFO nonce) and yields a
//!   [`ClientIdentity`]. Every [`AuthError`] is `-ERR 'Authorization
//!   Violation'` on the wire.
//! - [`permissions`]: [`PermissionChecker`], one per user, shared by its
//!   connections: publish, subscribe (queue entries `"subject queue"`) and
//!   delivery filtering, with a small bounded verdict cache.
//! - [`nkey`]: NKey users: the INFO nonce and the check of its signature.
//! - [`responses`]: [`ResponseTracker`], one per connection of a user with
//!   `allow_responses`: reply subjects it may answer.
//! - `secret` (private): configured passwords and tokens, plain or bcrypt.
//! - `cache` (private): the bounded verdict cache of a checker.
//!
//! How a connection uses them: after CONNECT, `authenticate` (on a blocking
//! thread when [`Authenticator::uses_bcrypt`]); on PUB, `can_publish`, then
//! the tracker's `allow` if that said no and responses are allowed; on SUB,
//! `can_subscribe`; on each delivery, `deny_delivery`, then `record` the
//! reply subject in the receiving connection's tracker.

pub mod authenticate;
mod cache;
pub mod nkey;
pub mod permissions;
pub mod responses;
mod secret;

pub use authenticate::{AuthError, Authenticator, ClientIdentity, Credentials, OwnedCredentials};
pub use permissions::PermissionChecker;
pub use responses::ResponseTracker;
