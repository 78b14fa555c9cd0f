//! Accounts: isolated subject spaces.
//!
//! - [`account`]: one [`Account`]: its subscription index (local
//!   subscriptions and peers' interest in it), its limits and counters.
//! - [`registry`]: [`Accounts`], every account of the server by name: the
//!   global account `$G` (every client when none are configured), the
//!   system account, the configured ones, and those learned from routes.
//!
//! A connection takes its `Arc<Account>` once, at CONNECT, so a publish
//! costs no account lookup; a message from a route names its account and
//! the route glue looks it up once per run of messages in the same account.

#[allow(clippy::module_inception)]
mod account;
mod registry;

pub use account::{Account, AccountLimits, LimitError};
pub use registry::Accounts;
