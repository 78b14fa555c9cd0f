//! The full resolver (`resolver { type: full, dir: ... }`, nats-server
//! `DirAccResolver` over an unsharded `DirJWTStore`): one `<pubkey>.jwt`
//! file per account in `dir`, at most `limit` of them; a deleted account's
//! file is renamed `<pubkey>.jwt.deleted` unless `hard_delete`. Files are
//! written to a temporary name and renamed, so a crash never leaves half a
//! token.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use nkeys::KeyPairType;

use super::{compare_with_held, AccountResolver, StoreOutcome};
use crate::jwt::error::JwtError;
use crate::jwt::token::is_public_key;

/// File extension of stored account JWTs (nats-server's `extension`).
const EXTENSION: &str = "jwt";

/// What `$SYS.REQ.CLAIMS.DELETE` may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeletePolicy {
    /// Deletes are refused (`allow_delete: false`, the default).
    #[default]
    NoDelete,
    /// Files are renamed to `.jwt.deleted`.
    Rename,
    /// Files are removed (`hard_delete: true`).
    Hard,
}

/// `resolver { ... }` of type full.
#[derive(Debug, Clone, PartialEq)]
pub struct DirResolverOptions {
    /// `dir`: where JWTs are kept (created if missing).
    pub dir: PathBuf,
    /// `limit`: accounts at most; 0 = no limit.
    pub limit: usize,
    /// `allow_delete` / `hard_delete`.
    pub delete: DeletePolicy,
    /// `interval`: how often peers compare stores (cluster sync).
    pub interval: Duration,
    /// `timeout`: how long a lookup from peers may take.
    pub timeout: Duration,
}

/// Account JWTs in a directory.
#[derive(Debug)]
pub struct DirResolver {
    options: DirResolverOptions,
    /// Accounts held: serialises writers and answers `list` and `limit`.
    accounts: Mutex<BTreeSet<String>>,
}

fn io_error(action: &str, path: &Path, error: io::Error) -> JwtError {
    JwtError::Store(format!("{action} {}: {error}", path.display()))
}

impl DirResolver {
    /// Opens (creating it if needed) the directory and indexes its JWTs.
    pub fn open(options: DirResolverOptions) -> Result<DirResolver, JwtError> {
        fs::create_dir_all(&options.dir).map_err(|e| io_error("creating", &options.dir, e))?;
        let entries =
            fs::read_dir(&options.dir).map_err(|e| io_error("reading", &options.dir, e))?;
        let mut accounts = BTreeSet::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(account) = name.strip_suffix(".jwt") {
                if is_public_key(account, KeyPairType::Account) {
                    accounts.insert(account.to_string());
                }
            }
        }
        Ok(DirResolver {
            options,
            accounts: Mutex::new(accounts),
        })
    }

    /// The options it was opened with.
    pub fn options(&self) -> &DirResolverOptions {
        &self.options
    }

    /// The file of an account; None for anything but an account key (so a
    /// request can never name a path outside the directory).
    fn path_of(&self, account: &str) -> Option<PathBuf> {
        is_public_key(account, KeyPairType::Account)
            .then(|| self.options.dir.join(format!("{account}.{EXTENSION}")))
    }

    fn read(path: &Path) -> Result<Option<String>, JwtError> {
        match fs::read_to_string(path) {
            Ok(text) => Ok(Some(text.trim().to_string())),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(io_error("reading", path, error)),
        }
    }
}

impl AccountResolver for DirResolver {
    fn fetch(&self, account: &str) -> Result<String, JwtError> {
        let path = self
            .path_of(account)
            .ok_or_else(|| JwtError::AccountNotFound(account.to_string()))?;
        Self::read(&path)?.ok_or_else(|| JwtError::AccountNotFound(account.to_string()))
    }

    fn store(
        &self,
        account: &str,
        jwt: &str,
        iat: i64,
        jti: &str,
    ) -> Result<StoreOutcome, JwtError> {
        let path = self
            .path_of(account)
            .ok_or(JwtError::Store("invalid public key".into()))?;
        let mut accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        let held = Self::read(&path)?;
        let outcome = compare_with_held(held.as_deref(), iat, jti)?;
        if outcome == StoreOutcome::Unchanged {
            return Ok(outcome);
        }
        if outcome == StoreOutcome::Created
            && self.options.limit > 0
            && accounts.len() >= self.options.limit
        {
            return Err(JwtError::Store("jwt store is full".into()));
        }
        let temporary = path.with_extension("jwt.tmp");
        fs::write(&temporary, jwt).map_err(|e| io_error("writing", &temporary, e))?;
        fs::rename(&temporary, &path).map_err(|e| io_error("renaming", &temporary, e))?;
        accounts.insert(account.to_string());
        Ok(outcome)
    }

    fn delete(&self, account: &str) -> Result<(), JwtError> {
        let path = self
            .path_of(account)
            .ok_or(JwtError::Store("invalid public key".into()))?;
        let mut accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        let result = match self.options.delete {
            DeletePolicy::NoDelete => {
                return Err(JwtError::Store(
                    "delete must be enabled in server config".into(),
                ))
            }
            DeletePolicy::Hard => fs::remove_file(&path),
            DeletePolicy::Rename => fs::rename(&path, path.with_extension("jwt.deleted")),
        };
        result.map_err(|e| io_error("deleting", &path, e))?;
        accounts.remove(account);
        Ok(())
    }

    fn list(&self) -> Vec<String> {
        let accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        accounts.iter().cloned().collect()
    }

    fn allows_delete(&self) -> bool {
        self.options.delete != DeletePolicy::NoDelete
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::mint;
    use crate::jwt::resolver::MemoryResolver;

    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> TempDir {
            let path = std::env::temp_dir().join(format!(
                "starling-dirresolver-{}-{}",
                std::process::id(),
                nkeys::KeyPair::new_user().public_key()
            ));
            TempDir(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn options(dir: &Path, limit: usize, delete: DeletePolicy) -> DirResolverOptions {
        DirResolverOptions {
            dir: dir.to_path_buf(),
            limit,
            delete,
            interval: Duration::from_secs(60),
            timeout: Duration::from_secs(2),
        }
    }

    #[test]
    fn a_stored_account_is_a_pubkey_file_and_survives_reopening() {
        let dir = TempDir::new();
        let operator = mint::operator("op", |_| {});
        let account = mint::account(&operator.key, "a", |_| {});
        let key = account.key.public_key();
        let resolver = DirResolver::open(options(&dir.0, 0, DeletePolicy::NoDelete)).expect("open");
        let data = &account.claims.data;
        assert_eq!(
            resolver.store(&key, &account.jwt, data.iat, &data.jti),
            Ok(StoreOutcome::Created)
        );
        assert_eq!(
            resolver.store(&key, &account.jwt, data.iat, &data.jti),
            Ok(StoreOutcome::Unchanged)
        );
        assert!(dir.0.join(format!("{key}.jwt")).is_file());
        let reopened =
            DirResolver::open(options(&dir.0, 0, DeletePolicy::NoDelete)).expect("reopen");
        assert_eq!(reopened.fetch(&key).as_deref(), Ok(account.jwt.as_str()));
        assert_eq!(reopened.list(), vec![key.clone()]);
        assert!(matches!(reopened.delete(&key), Err(JwtError::Store(_))));
    }

    #[test]
    fn only_a_newer_or_equal_iat_replaces_the_held_jwt() {
        let dir = TempDir::new();
        let operator = mint::operator("op", |_| {});
        let mut account = mint::account(&operator.key, "a", |claims| claims.data.iat = 1000);
        let key = account.key.public_key();
        let old_jwt = account.jwt.clone();
        let resolvers: [Box<dyn AccountResolver>; 2] = [
            Box::new(DirResolver::open(options(&dir.0, 0, DeletePolicy::NoDelete)).expect("open")),
            Box::new(MemoryResolver::default()),
        ];
        account.reissue(&operator.key, |claims| claims.data.iat = 2000);
        let new = &account.claims.data;
        for resolver in &resolvers {
            assert_eq!(
                resolver.store(&key, &old_jwt, 1000, "j1"),
                Ok(StoreOutcome::Created)
            );
            assert_eq!(
                resolver.store(&key, &account.jwt, new.iat, &new.jti),
                Ok(StoreOutcome::Updated)
            );
            assert!(matches!(
                resolver.store(&key, &old_jwt, 1000, "j1"),
                Err(JwtError::Store(_))
            ));
            assert_eq!(resolver.fetch(&key).as_deref(), Ok(account.jwt.as_str()));
        }
    }

    #[test]
    fn limit_delete_and_bad_keys() {
        let dir = TempDir::new();
        let operator = mint::operator("op", |_| {});
        let first = mint::account(&operator.key, "a", |_| {});
        let second = mint::account(&operator.key, "b", |_| {});
        let resolver = DirResolver::open(options(&dir.0, 1, DeletePolicy::Rename)).expect("open");
        let store = |account: &mint::Minted<crate::jwt::claims::AccountClaims>| {
            let data = &account.claims.data;
            resolver.store(&account.key.public_key(), &account.jwt, data.iat, &data.jti)
        };
        assert_eq!(store(&first), Ok(StoreOutcome::Created));
        assert_eq!(
            store(&second),
            Err(JwtError::Store("jwt store is full".into()))
        );
        let key = first.key.public_key();
        assert_eq!(resolver.delete(&key), Ok(()));
        assert!(dir.0.join(format!("{key}.jwt.deleted")).is_file());
        assert!(matches!(
            resolver.fetch(&key),
            Err(JwtError::AccountNotFound(_))
        ));
        assert_eq!(store(&second), Ok(StoreOutcome::Created));
        // A path-like or non-account name never reaches the file system.
        assert!(matches!(
            resolver.fetch("../etc/passwd"),
            Err(JwtError::AccountNotFound(_))
        ));
        assert!(resolver.store("UABC", "x", 0, "").is_err());
    }
}
