//! Every account of one server, by name.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use starling_proto::account::{is_valid_account_name, GLOBAL_ACCOUNT, SYSTEM_ACCOUNT};

use super::account::Account;
use super::mappings::SubjectMappings;
use crate::options::Options;

/// The server's accounts. The global account `$G` and the system account
/// always exist; configured accounts are created at start (and added on
/// reload); an account a peer names that this node does not know yet is
/// created when its interest or messages arrive, so that a client of it
/// connecting later (JWT mode loads accounts lazily) finds the peers'
/// interest in place.
#[derive(Debug)]
pub struct Accounts {
    /// `$G`, kept apart so the common case needs no map lookup.
    global: Arc<Account>,
    /// The system account's name (`system_account`, default `$SYS`).
    system_name: Arc<str>,
    /// Every account by name, `$G` and the system account included. Read
    /// locked per lookup; written only when an account is created.
    by_name: RwLock<HashMap<Arc<str>, Arc<Account>>>,
    /// Sublists cache matches (`disable_sublist_cache` turns it off).
    sublist_cache: bool,
}

impl Accounts {
    /// The accounts `options` configure, plus `$G` and the system account.
    pub fn new(options: &Options) -> Self {
        let sublist_cache = !options.disable_sublist_cache;
        let unlimited = |name: &str| Account::with_cache(name, Default::default(), sublist_cache);
        let global = unlimited(GLOBAL_ACCOUNT);
        global.set_mappings(SubjectMappings::new(options.mappings.clone()));
        let global = Arc::new(global);
        let mut by_name = HashMap::new();
        by_name.insert(global.name.clone(), global.clone());
        for configured in &options.accounts {
            let account = Arc::new(Account::from_options(configured, sublist_cache));
            by_name.insert(account.name.clone(), account);
        }
        let system_name: Arc<str> = Arc::from(system_account_name(options).as_str());
        by_name
            .entry(system_name.clone())
            .or_insert_with(|| Arc::new(unlimited(&system_name)));
        let accounts = Accounts {
            global,
            system_name,
            by_name: RwLock::new(by_name),
            sublist_cache,
        };
        super::imports::install(&accounts, options);
        accounts
    }

    /// The global account `$G`.
    pub fn global(&self) -> &Arc<Account> {
        &self.global
    }

    /// The system account.
    pub fn system(&self) -> Arc<Account> {
        self.get_or_create(&self.system_name)
            .unwrap_or_else(|| self.global.clone())
    }

    /// The account named `name`, if it exists.
    pub fn get(&self, name: &str) -> Option<Arc<Account>> {
        if name == GLOBAL_ACCOUNT {
            return Some(self.global.clone());
        }
        self.by_name
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(name)
            .cloned()
    }

    /// The account named `name`, created without limits if it does not
    /// exist yet; None for a name that is not a valid account name.
    pub fn get_or_create(&self, name: &str) -> Option<Arc<Account>> {
        if let Some(account) = self.get(name) {
            return Some(account);
        }
        if !is_valid_account_name(name) {
            return None;
        }
        let mut by_name = self
            .by_name
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let account = by_name.entry(Arc::from(name)).or_insert_with(|| {
            Arc::new(Account::with_cache(
                name,
                Default::default(),
                self.sublist_cache,
            ))
        });
        Some(account.clone())
    }

    /// The account named `name`, created with `limits` if it does not
    /// exist yet (a JWT account: limits from its claims); None for a name
    /// that is not a valid account name.
    pub fn get_or_create_with_limits(
        &self,
        name: &str,
        limits: super::account::AccountLimits,
    ) -> Option<Arc<Account>> {
        if let Some(account) = self.get(name) {
            return Some(account);
        }
        if !is_valid_account_name(name) {
            return None;
        }
        let mut by_name = self
            .by_name
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let account = by_name
            .entry(Arc::from(name))
            .or_insert_with(|| Arc::new(Account::with_limits(name, limits)));
        Some(account.clone())
    }

    /// Apply a reloaded configuration: accounts it names that do not exist
    /// yet are added; existing ones keep their subscriptions and take the
    /// new limits (for new connections and subscriptions; connections
    /// re-apply payload and subscription limits at their next read buffer)
    /// and mappings; imports are brought in line with the new config. In
    /// operator mode accounts come from JWTs, not from here.
    pub fn apply_configured(&self, options: &Options) {
        {
            let mut by_name = self
                .by_name
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for configured in &options.accounts {
                let account = by_name
                    .entry(Arc::from(configured.name.as_str()))
                    .or_insert_with(|| {
                        Arc::new(Account::from_options(configured, self.sublist_cache))
                    });
                account.set_limits(configured.limits);
                account.set_mappings(SubjectMappings::new(configured.mappings.clone()));
            }
        }
        if options.operator.enabled() {
            return;
        }
        self.global
            .set_mappings(SubjectMappings::new(options.mappings.clone()));
        let (removed, added) = super::imports::reconcile(self, options);
        if removed + added > 0 {
            tracing::info!(removed, added, "reload: imports changed");
        }
    }

    /// Every account, sorted by name.
    pub fn all(&self) -> Vec<Arc<Account>> {
        let mut all: Vec<Arc<Account>> = self
            .by_name
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .values()
            .cloned()
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// The name of the system account.
    pub fn system_name(&self) -> &str {
        &self.system_name
    }
}

/// The system account: `system_account` when set, else in operator mode
/// the operator's (its public key, so the system account's JWT users and
/// the server's internal subscriptions share one subject space, as in
/// nats-server), else `$SYS`.
fn system_account_name(options: &Options) -> String {
    if let Some(name) = options.system_account.as_deref() {
        if is_valid_account_name(name) {
            return name.to_string();
        }
    }
    if options.operator.enabled() {
        // Checked again (with the time) when operator mode starts.
        let operator = crate::jwt::TrustedOperators::new(
            &options.operator.operators,
            crate::jwt::mint::unix_now(),
        )
        .ok()
        .and_then(|trusted| trusted.system_account().map(str::to_string));
        if let Some(name) = operator.filter(|name| is_valid_account_name(name)) {
            return name;
        }
    }
    SYSTEM_ACCOUNT.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::AccountOptions;

    fn options_with(names: &[&str]) -> Options {
        Options {
            accounts: names
                .iter()
                .map(|name| AccountOptions {
                    name: name.to_string(),
                    ..AccountOptions::default()
                })
                .collect(),
            ..Options::default()
        }
    }

    #[test]
    fn global_and_system_accounts_always_exist() {
        let accounts = Accounts::new(&Options::default());
        assert_eq!(&*accounts.global().name, "$G");
        assert_eq!(&*accounts.system().name, "$SYS");
        assert!(Arc::ptr_eq(
            &accounts.get("$G").expect("global"),
            accounts.global()
        ));
        assert!(accounts.get("A").is_none());
    }

    #[test]
    fn configured_accounts_exist_and_are_distinct() {
        let accounts = Accounts::new(&options_with(&["A", "B"]));
        let a = accounts.get("A").expect("A");
        let b = accounts.get("B").expect("B");
        assert!(!Arc::ptr_eq(&a, &b));
        let names: Vec<String> = accounts.all().iter().map(|a| a.name.to_string()).collect();
        assert_eq!(names, ["$G", "$SYS", "A", "B"]);
    }

    #[test]
    fn get_or_create_creates_once_and_refuses_invalid_names() {
        let accounts = Accounts::new(&Options::default());
        let first = accounts.get_or_create("REMOTE").expect("created");
        let second = accounts.get_or_create("REMOTE").expect("found");
        assert!(Arc::ptr_eq(&first, &second));
        assert!(accounts.get_or_create("bad name").is_none());
        assert!(accounts.get_or_create("").is_none());
    }

    #[test]
    fn reload_adds_new_accounts_and_keeps_existing_ones() {
        let accounts = Accounts::new(&options_with(&["A"]));
        let a = accounts.get("A").expect("A");
        accounts.apply_configured(&options_with(&["A", "C"]));
        assert!(Arc::ptr_eq(&a, &accounts.get("A").expect("A")));
        assert!(accounts.get("C").is_some());
    }

    fn with_imports(imports: Vec<crate::options::ImportOptions>) -> Options {
        use crate::options::{ExportOptions, ImportKind};
        let mut options = options_with(&["A", "B"]);
        options.accounts[0].exports = ["s.>", "t.>"]
            .iter()
            .map(|subject| ExportOptions {
                kind: ImportKind::Stream,
                subject: subject.to_string(),
                accounts: None,
                response: Default::default(),
            })
            .collect();
        options.accounts[1].imports = imports;
        options
    }

    fn stream_import(subject: &str) -> crate::options::ImportOptions {
        crate::options::ImportOptions {
            kind: crate::options::ImportKind::Stream,
            account: "A".into(),
            subject: subject.into(),
            prefix: None,
            to: None,
        }
    }

    fn import_entries(account: &Account) -> Vec<Interest> {
        account
            .sublist
            .all()
            .into_iter()
            .map(|(_, _, interest)| interest)
            .filter(|interest| matches!(interest, Interest::StreamImport(_)))
            .collect()
    }

    use crate::interest::Interest;

    #[test]
    fn reload_reconciles_imports_keeping_unchanged_entries() {
        let accounts = Accounts::new(&with_imports(vec![stream_import("s.>")]));
        let a = accounts.get("A").expect("A");
        let before = import_entries(&a);
        assert_eq!(before.len(), 1);
        // Same config again: nothing moves, the very entry stays.
        accounts.apply_configured(&with_imports(vec![stream_import("s.>")]));
        assert_eq!(import_entries(&a), before);
        // One import added, the first kept as it was.
        accounts.apply_configured(&with_imports(vec![
            stream_import("s.>"),
            stream_import("t.>"),
        ]));
        let both = import_entries(&a);
        assert_eq!(both.len(), 2);
        assert!(both.contains(&before[0]));
        // The first removed.
        accounts.apply_configured(&with_imports(vec![stream_import("t.>")]));
        let after = import_entries(&a);
        assert_eq!(after.len(), 1);
        assert!(!after.contains(&before[0]));
        assert!(a.sublist.match_subject("s.1").is_empty());
        assert!(!a.sublist.match_subject("t.1").is_empty());
    }

    #[test]
    fn reload_replaces_limits_and_mappings_of_existing_accounts() {
        let accounts = Accounts::new(&options_with(&["A"]));
        let a = accounts.get("A").expect("A");
        assert_eq!(a.map_subject("m.1"), None);
        let mut options = options_with(&["A"]);
        options.accounts[0].limits.max_connections = Some(1);
        options.accounts[0].mappings = vec![crate::account::MappingRule {
            source: "m.>".into(),
            destinations: vec![crate::account::MappingDestination {
                subject: "n.>".into(),
                weight: 100,
            }],
        }];
        let generation = a.limits_generation();
        accounts.apply_configured(&options);
        assert_eq!(a.limits().max_connections, Some(1));
        assert!(a.limits_generation() > generation);
        assert_eq!(a.map_subject("m.1").as_deref(), Some("n.1"));
        accounts.apply_configured(&options_with(&["A"]));
        assert_eq!(a.map_subject("m.1"), None);
    }
}
