//! Accounts: isolated subject spaces.
//!
//! - [`account`]: one [`Account`]: its subscription index (local
//!   subscriptions and peers' interest in it), its limits and counters.
//! - [`registry`]: [`Accounts`], every account of the server by name: the
//!   global account `$G` (every client when none are configured), the
//!   system account, the configured ones, and those learned from routes.
//!
//! - [`imports`]: stream and service imports, entries of the sublists the
//!   router follows; [`responses`]: response tracking for service imports;
//!   `mappings`: subject mappings applied at publish.
//!
//! A connection takes its `Arc<Account>` once, at CONNECT, so a publish
//! costs no account lookup; a message from a route names its account and
//! the route glue looks it up once per run of messages in the same account.

#[allow(clippy::module_inception)]
mod account;
mod imports;
mod mappings;
mod registry;
pub mod responses;

pub use account::{Account, AccountLimits, LimitError};
pub use imports::{ResponseType, ServiceImport, StreamImport, SubjectMapping};
pub use mappings::{wildcard_index, MappingDestination, MappingRule, SubjectMappings};
pub use registry::Accounts;
pub use responses::ServiceResponse;
