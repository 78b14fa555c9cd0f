//! One account: a subject space of its own.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use super::mappings::SubjectMappings;
use super::responses::ResponseTable;
use crate::interest::Interest;
use crate::options::AccountOptions;
use crate::stats::Traffic;
use crate::sublist::Sublist;

/// An account's limits (nats-server's `limits { max_connections,
/// max_subscriptions, max_payload, max_leafnodes }`); None = unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccountLimits {
    /// Client connections to this server in the account.
    pub max_connections: Option<usize>,
    /// Subscriptions per connection in the account.
    pub max_subscriptions: Option<usize>,
    /// Largest message a client of the account may publish, in bytes.
    pub max_payload: Option<usize>,
    /// Leaf node connections (accepted; Starling has no leaf nodes).
    pub max_leafnodes: Option<usize>,
}

/// A limit of the account refused something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitError {
    /// `max_connections` reached.
    MaxConnections,
}

/// One account.
pub struct Account {
    /// Its name (`$G`, `$SYS`, a configured name or an account public key).
    pub name: Arc<str>,
    /// Local subscriptions and peers' interest in this account's subjects.
    pub sublist: Sublist<Interest>,
    /// Its limits: fixed for a config account; a JWT account's change
    /// when a new account JWT is applied ([`Account::set_limits`]).
    limits: RwLock<AccountLimits>,
    /// Bumped on every limits change, so a connection re-applies them at
    /// its next read buffer (one atomic load, not a lock, per buffer).
    limits_generation: AtomicU64,
    /// Pending responses to requests that came in through service imports.
    pub responses: ResponseTable,
    /// Subject mappings applied to a client's publish before matching;
    /// replaced on reload ([`Account::set_mappings`]).
    mappings: RwLock<SubjectMappings>,
    /// True when `mappings` has rules, so a publish in an account without
    /// mappings costs one atomic load, not a lock.
    has_mappings: AtomicBool,
    /// Client connections to this server now in the account, for
    /// `max_connections` and monitoring.
    connections: AtomicUsize,
    /// Connections accepted into the account since start.
    total_connections: AtomicU64,
    /// Messages its local clients published (in) and were delivered to
    /// them (out), added once per read buffer, not per message.
    pub traffic: Traffic,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("name", &self.name)
            .field("limits", &self.limits())
            .field("connections", &self.connection_count())
            .finish_non_exhaustive()
    }
}

impl Account {
    /// An account with no limits.
    pub fn new(name: &str) -> Self {
        Account::with_limits(name, AccountLimits::default())
    }

    /// An account with `limits`.
    pub fn with_limits(name: &str, limits: AccountLimits) -> Self {
        Account::with_cache(name, limits, true)
    }

    /// An account with `limits` whose sublist caches matches unless
    /// `sublist_cache` is false (`disable_sublist_cache`).
    pub fn with_cache(name: &str, limits: AccountLimits, sublist_cache: bool) -> Self {
        Account {
            name: Arc::from(name),
            sublist: Sublist::new(sublist_cache),
            limits: RwLock::new(limits),
            limits_generation: AtomicU64::new(0),
            responses: ResponseTable::default(),
            mappings: RwLock::new(SubjectMappings::default()),
            has_mappings: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
            total_connections: AtomicU64::new(0),
            traffic: Traffic::default(),
        }
    }

    /// The account a config entry describes.
    pub fn from_options(options: &AccountOptions, sublist_cache: bool) -> Self {
        let account = Account::with_cache(&options.name, options.limits, sublist_cache);
        account.set_mappings(SubjectMappings::new(options.mappings.clone()));
        account
    }

    /// The subject a client's publish on `subject` becomes under the
    /// account's mappings, or None to keep it.
    pub fn map_subject(&self, subject: &str) -> Option<String> {
        if !self.has_mappings.load(Ordering::Acquire) {
            return None;
        }
        // Mapped under the read lock (writers are reloads only).
        self.mappings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .map(subject)
    }

    /// Puts `mappings` in force (at start and on reload); true when they
    /// changed.
    pub fn set_mappings(&self, mappings: SubjectMappings) -> bool {
        let mut held = self.mappings.write().unwrap_or_else(|e| e.into_inner());
        if *held == mappings {
            return false;
        }
        self.has_mappings
            .store(!mappings.is_empty(), Ordering::Release);
        *held = mappings;
        true
    }

    /// The limits in force.
    pub fn limits(&self) -> AccountLimits {
        *self.limits.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Puts `limits` in force (a JWT account's new claims); true when they
    /// changed. Connections pick them up at their next read buffer.
    pub fn set_limits(&self, limits: AccountLimits) -> bool {
        let mut held = self.limits.write().unwrap_or_else(|e| e.into_inner());
        if *held == limits {
            return false;
        }
        *held = limits;
        self.limits_generation.fetch_add(1, Ordering::Release);
        true
    }

    /// Changes of the limits so far (see [`Account::set_limits`]).
    pub fn limits_generation(&self) -> u64 {
        self.limits_generation.load(Ordering::Acquire)
    }

    /// Count one more connection, unless `max_connections` is reached.
    pub fn add_connection(&self) -> Result<(), LimitError> {
        let max = self.limits().max_connections.unwrap_or(usize::MAX);
        self.connections
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |current| {
                (current < max).then_some(current + 1)
            })
            .map(|_| {
                self.total_connections.fetch_add(1, Ordering::Relaxed);
            })
            .map_err(|_| LimitError::MaxConnections)
    }

    /// Connections accepted into the account since start.
    pub fn total_connections(&self) -> u64 {
        self.total_connections.load(Ordering::Relaxed)
    }

    /// A connection counted by [`Account::add_connection`] closed.
    pub fn remove_connection(&self) {
        let _ = self
            .connections
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |current| {
                current.checked_sub(1)
            });
    }

    /// Client connections now in the account.
    pub fn connection_count(&self) -> usize {
        self.connections.load(Ordering::Acquire)
    }

    /// True for the global account `$G`.
    pub fn is_global(&self) -> bool {
        &*self.name == starling_proto::account::GLOBAL_ACCOUNT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_connections_refuses_the_one_over_and_frees_on_close() {
        let account = Account::with_limits(
            "A",
            AccountLimits {
                max_connections: Some(2),
                ..AccountLimits::default()
            },
        );
        assert_eq!(account.add_connection(), Ok(()));
        assert_eq!(account.add_connection(), Ok(()));
        assert_eq!(account.add_connection(), Err(LimitError::MaxConnections));
        account.remove_connection();
        assert_eq!(account.add_connection(), Ok(()));
        assert_eq!(account.connection_count(), 2);
    }

    #[test]
    fn unlimited_account_counts_without_refusing() {
        let account = Account::new("B");
        for _ in 0..100 {
            assert_eq!(account.add_connection(), Ok(()));
        }
        account.remove_connection();
        assert_eq!(account.connection_count(), 99);
        // Never below zero.
        let empty = Account::new("C");
        empty.remove_connection();
        assert_eq!(empty.connection_count(), 0);
    }

    #[test]
    fn new_limits_apply_to_the_next_connection_and_bump_the_generation() {
        let account = Account::new("D");
        assert_eq!(account.add_connection(), Ok(()));
        let before = account.limits_generation();
        let one = AccountLimits {
            max_connections: Some(1),
            ..AccountLimits::default()
        };
        assert!(account.set_limits(one));
        assert!(!account.set_limits(one), "the same limits change nothing");
        assert_eq!(account.limits_generation(), before + 1);
        assert_eq!(account.limits(), one);
        assert_eq!(account.add_connection(), Err(LimitError::MaxConnections));
    }
}
