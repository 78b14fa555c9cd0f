//! Checking the credentials a client presents in CONNECT against the
//! configured `authorization` (nats-server `server/auth.go`,
//! `processClientOrLeafAuthentication` and `comparePasswords`).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use super::nkey::{verify_signature, SignatureError};
use super::permissions::PermissionChecker;
use super::secret::{constant_time_eq, Secret};
use crate::options::{Authorization, Permissions};

/// What the client presented in CONNECT (`user`, `pass`, `auth_token`,
/// `nkey`, `sig`), with the nonce its INFO carried. An empty string counts
/// as absent, as in nats-server.
#[derive(Clone, Copy, Default)]
pub struct Credentials<'a> {
    /// CONNECT `user`.
    pub user: Option<&'a str>,
    /// CONNECT `pass`.
    pub pass: Option<&'a str>,
    /// CONNECT `auth_token`.
    pub auth_token: Option<&'a str>,
    /// CONNECT `nkey`: the user's public key.
    pub nkey: Option<&'a str>,
    /// CONNECT `sig`: the nonce signed with that key.
    pub sig: Option<&'a str>,
    /// The nonce sent in this connection's INFO (empty when none was).
    pub nonce: &'a [u8],
}

impl fmt::Debug for Credentials<'_> {
    /// Secrets are never printed, only whether they were given.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("pass", &self.pass.map(|_| "<redacted>"))
            .field("auth_token", &self.auth_token.map(|_| "<redacted>"))
            .field("nkey", &self.nkey)
            .field("sig", &self.sig.map(|_| "<redacted>"))
            .finish()
    }
}

/// An owned copy of what a client presented, kept so that a config reload
/// can check it against the new authorization.
#[derive(Clone, Default)]
pub struct OwnedCredentials {
    user: Option<String>,
    pass: Option<String>,
    auth_token: Option<String>,
    nkey: Option<String>,
    sig: Option<String>,
    nonce: Vec<u8>,
}

impl OwnedCredentials {
    /// Copy `credentials`.
    pub fn from_borrowed(credentials: &Credentials<'_>) -> Self {
        OwnedCredentials {
            user: credentials.user.map(str::to_string),
            pass: credentials.pass.map(str::to_string),
            auth_token: credentials.auth_token.map(str::to_string),
            nkey: credentials.nkey.map(str::to_string),
            sig: credentials.sig.map(str::to_string),
            nonce: credentials.nonce.to_vec(),
        }
    }

    /// Borrow them for [`Authenticator::authenticate`].
    pub fn borrow(&self) -> Credentials<'_> {
        Credentials {
            user: self.user.as_deref(),
            pass: self.pass.as_deref(),
            auth_token: self.auth_token.as_deref(),
            nkey: self.nkey.as_deref(),
            sig: self.sig.as_deref(),
            nonce: &self.nonce,
        }
    }
}

impl fmt::Debug for OwnedCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.borrow().fmt(f)
    }
}

/// Who a connection authenticated as.
#[derive(Debug, Clone, Default)]
pub struct ClientIdentity {
    /// The user name, for a single user or a `users` entry; None for token
    /// auth and when auth is off.
    pub user: Option<String>,
    /// What this client may do; None = everything allowed. Shared by every
    /// connection of the same user.
    pub permissions: Option<Arc<PermissionChecker>>,
    /// The account the user belongs to; None = the global account `$G`.
    pub account: Option<Arc<str>>,
}

/// Why a client was refused. Every variant goes on the wire as
/// `-ERR 'Authorization Violation'` followed by a close; the variants only
/// tell the log why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// The client presented none of the credentials the configured method
    /// needs (no user for user/password auth, no token for token auth).
    MissingCredentials,
    /// The user name is not in the `users` list.
    UnknownUser,
    /// Wrong password, wrong token, or wrong single user name.
    BadCredentials,
    /// The NKey is not a configured user.
    UnknownNkey,
    /// The NKey's signature of the nonce is missing or wrong.
    BadSignature(SignatureError),
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthError::MissingCredentials => "missing credentials",
            AuthError::UnknownUser => "unknown user",
            AuthError::BadCredentials => "bad credentials",
            AuthError::UnknownNkey => "unknown nkey",
            AuthError::BadSignature(SignatureError::Missing) => "signature missing",
            AuthError::BadSignature(SignatureError::NotBase64) => "signature not valid base64",
            AuthError::BadSignature(SignatureError::BadKey) => "user nkey not valid",
            AuthError::BadSignature(SignatureError::Mismatch) => "signature not verified",
        })
    }
}

impl std::error::Error for AuthError {}

/// An empty string is no value, as nats-server's `_EMPTY_` checks have it.
fn non_empty(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty())
}

/// One entry of the `users` list, ready to check.
struct UserEntry {
    secret: Secret,
    permissions: Option<Arc<PermissionChecker>>,
    account: Option<Arc<str>>,
}

/// An NKey user's permissions and account.
#[derive(Clone)]
struct NkeyEntry {
    permissions: Option<Arc<PermissionChecker>>,
    account: Option<Arc<str>>,
}

/// The configured single user (`authorization { user, password }`, `--user`).
struct SingleUser {
    name: String,
    secret: Secret,
}

/// Checks CONNECT credentials. Built once from the configuration (and again
/// on reload); cheap to share behind an `Arc`. Permission checkers are built
/// here, once per user, and shared by that user's connections.
pub struct Authenticator {
    /// `users` by name; on duplicate names the last entry wins, as the map
    /// nats-server builds.
    users: HashMap<String, UserEntry>,
    /// NKey users (`users: [{nkey: U...}]`) by public key, with their
    /// permissions.
    nkeys: HashMap<String, NkeyEntry>,
    /// `token` / `--auth`.
    token: Option<Secret>,
    /// `user` + `password` / `--user` + `--pass`.
    single_user: Option<SingleUser>,
    /// Some secret is a bcrypt hash, so `authenticate` may be slow.
    uses_bcrypt: bool,
    /// `no_auth_user`: the `users` entry a client without credentials gets.
    no_auth_user: Option<String>,
}

impl fmt::Debug for Authenticator {
    /// Secrets are never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut users: Vec<&str> = self.users.keys().map(String::as_str).collect();
        users.sort_unstable();
        f.debug_struct("Authenticator")
            .field("users", &users)
            .field("nkeys", &self.nkeys.len())
            .field("token", &self.token.is_some())
            .field("single_user", &self.single_user.as_ref().map(|u| &u.name))
            .field("uses_bcrypt", &self.uses_bcrypt)
            .finish()
    }
}

impl Authenticator {
    /// Prepares the configured methods. `default_permissions` applies to
    /// `users` entries that name no permissions; the single user and token
    /// clients get no permissions at all, as in nats-server (whose config
    /// parser only copies the default onto `users` entries).
    pub fn new(config: &Authorization) -> Self {
        Authenticator::with_account_users(config, &[])
    }

    /// The authenticator of `options`: `authorization` plus the users of
    /// every configured account.
    pub fn from_options(options: &crate::options::Options) -> Self {
        let account_users: Vec<crate::options::User> = options
            .accounts
            .iter()
            .flat_map(|account| account.users.iter().cloned())
            .collect();
        Authenticator::with_account_users(&options.authorization, &account_users)
    }

    /// `config` plus `account_users` (users of `accounts` entries, whose
    /// `account` is set and whose defaults are already applied).
    fn with_account_users(config: &Authorization, account_users: &[crate::options::User]) -> Self {
        let default_permissions = config.default_permissions.as_ref().and_then(checker_for);
        let permissions_of = |user: &crate::options::User| match &user.permissions {
            Some(permissions) => checker_for(permissions),
            None if user.account.is_some() => None,
            None => default_permissions.clone(),
        };
        let all_users = || config.users.iter().chain(account_users);
        let account_of = |user: &crate::options::User| user.account.as_deref().map(Arc::from);
        let nkeys = all_users()
            .filter_map(|user| {
                let entry = NkeyEntry {
                    permissions: permissions_of(user),
                    account: account_of(user),
                };
                Some((user.nkey.clone()?, entry))
            })
            .collect::<HashMap<_, _>>();
        let users = all_users()
            .filter(|user| user.nkey.is_none())
            .map(|user| {
                let entry = UserEntry {
                    secret: Secret::new(&user.password),
                    permissions: permissions_of(user),
                    account: account_of(user),
                };
                (user.username.clone(), entry)
            })
            .collect::<HashMap<_, _>>();
        let token = non_empty(config.token.as_deref()).map(Secret::new);
        let single_user = non_empty(config.user.as_deref()).map(|name| SingleUser {
            name: name.to_string(),
            secret: Secret::new(config.password.as_deref().unwrap_or("")),
        });
        let uses_bcrypt = users
            .values()
            .map(|user| &user.secret)
            .chain(token.as_ref())
            .chain(single_user.as_ref().map(|user| &user.secret))
            .any(|secret| matches!(secret, Secret::Bcrypt(_)));
        Authenticator {
            users,
            nkeys,
            token,
            single_user,
            uses_bcrypt,
            no_auth_user: None,
        }
    }

    /// Log clients that present no credentials in as `name` (nats-server's
    /// `no_auth_user`; the config check makes sure it is in `users`).
    pub fn with_no_auth_user(mut self, name: Option<&str>) -> Self {
        self.no_auth_user = name
            .filter(|name| self.users.contains_key(*name))
            .map(str::to_string);
        self
    }

    /// What client INFO says in `auth_required`: false when a client without
    /// credentials is let in as the `no_auth_user`, as nats-server says.
    /// CONNECT must still come first (see `required`).
    pub fn announces_auth_required(&self) -> bool {
        self.required() && self.no_auth_user.is_none()
    }

    /// True when clients must authenticate (nats-server
    /// `configureAuthorization`: users, a user name, or a token).
    pub fn required(&self) -> bool {
        !self.users.is_empty()
            || !self.nkeys.is_empty()
            || self.token.is_some()
            || self.single_user.is_some()
    }

    /// True when NKey users exist: each client's INFO then carries a fresh
    /// `nonce` for it to sign (nats-server `nonceRequired`).
    pub fn uses_nonce(&self) -> bool {
        !self.nkeys.is_empty()
    }

    /// True when some configured secret is a bcrypt hash: `authenticate`
    /// may then take tens of milliseconds of CPU and belongs on a blocking
    /// thread (`tokio::task::spawn_blocking`), not on a runtime worker.
    pub fn uses_bcrypt(&self) -> bool {
        self.uses_bcrypt
    }

    /// Checks `creds` in nats-server's order: an NKey user when the client
    /// presents an NKey, a `users` entry named by the client, then the
    /// token, then the single user. With auth off every client is accepted,
    /// whatever it sent.
    pub fn authenticate(&self, creds: &Credentials) -> Result<ClientIdentity, AuthError> {
        if !self.required() {
            return Ok(ClientIdentity::default());
        }
        let user = non_empty(creds.user);
        let pass = non_empty(creds.pass).unwrap_or("");
        if let Some(identity) = self.no_auth_identity(creds) {
            return Ok(identity);
        }

        if let Some(nkey) = non_empty(creds.nkey).filter(|_| !self.nkeys.is_empty()) {
            let entry = self.nkeys.get(nkey).ok_or(AuthError::UnknownNkey)?;
            verify_signature(nkey, creds.nonce, creds.sig).map_err(AuthError::BadSignature)?;
            return Ok(ClientIdentity {
                user: Some(nkey.to_string()),
                permissions: entry.permissions.clone(),
                account: entry.account.clone(),
            });
        }

        // A client that names a user is checked against the users list only.
        // Without a name it falls through to the token and single user
        // below, which a valid config does not combine with a users list.
        if !self.users.is_empty() {
            if let Some(name) = user {
                let entry = self.users.get(name).ok_or(AuthError::UnknownUser)?;
                if !entry.secret.verify(pass) {
                    return Err(AuthError::BadCredentials);
                }
                return Ok(ClientIdentity {
                    user: Some(name.to_string()),
                    permissions: entry.permissions.clone(),
                    account: entry.account.clone(),
                });
            }
        }

        if let Some(token) = &self.token {
            let presented = non_empty(creds.auth_token).ok_or(AuthError::MissingCredentials)?;
            if !token.verify(presented) {
                return Err(AuthError::BadCredentials);
            }
            return Ok(ClientIdentity::default());
        }

        if let Some(single) = &self.single_user {
            let name = user.ok_or(AuthError::MissingCredentials)?;
            // Check the password even when the name is wrong, so a wrong
            // name costs the same time as a wrong password.
            let name_ok = constant_time_eq(single.name.as_bytes(), name.as_bytes());
            let pass_ok = single.secret.verify(pass);
            if !(name_ok && pass_ok) {
                return Err(AuthError::BadCredentials);
            }
            return Ok(ClientIdentity {
                user: Some(name.to_string()),
                permissions: None,
                account: None,
            });
        }

        // Only a users list is configured and the client named no user.
        Err(AuthError::MissingCredentials)
    }
}

impl Authenticator {
    /// The `no_auth_user`'s identity when `creds` carry no user, password,
    /// token or NKey (nats-server: any of them and the client is checked
    /// as usual, so wrong credentials never fall back to this user).
    fn no_auth_identity(&self, creds: &Credentials) -> Option<ClientIdentity> {
        let name = self.no_auth_user.as_deref()?;
        let presented = [creds.user, creds.pass, creds.auth_token, creds.nkey];
        if presented.iter().any(|given| non_empty(*given).is_some()) {
            return None;
        }
        let entry = self.users.get(name)?;
        Some(ClientIdentity {
            user: Some(name.to_string()),
            permissions: entry.permissions.clone(),
            account: entry.account.clone(),
        })
    }
}

/// A shared checker, or None when the permissions restrict nothing.
fn checker_for(permissions: &Permissions) -> Option<Arc<PermissionChecker>> {
    let checker = PermissionChecker::new(permissions);
    (!checker.is_unrestricted()).then(|| Arc::new(checker))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{SubjectPermission, User};

    fn user(name: &str, password: &str, permissions: Option<Permissions>) -> User {
        User {
            username: name.to_string(),
            password: password.to_string(),
            permissions,
            nkey: None,
            account: None,
        }
    }

    fn creds<'a>(
        user: Option<&'a str>,
        pass: Option<&'a str>,
        token: Option<&'a str>,
    ) -> Credentials<'a> {
        Credentials {
            user,
            pass,
            auth_token: token,
            ..Credentials::default()
        }
    }

    #[test]
    fn nkey_users_sign_the_nonce() {
        let pair = nkeys::KeyPair::new_user();
        let public = pair.public_key();
        let config = Authorization {
            users: vec![
                User {
                    nkey: Some(public.clone()),
                    permissions: Some(publish_only("a.>")),
                    ..User::default()
                },
                user("bob", "pw", None),
            ],
            ..Authorization::default()
        };
        let auth = Authenticator::new(&config);
        assert!(auth.required() && auth.uses_nonce());
        let nonce = b"abcdefghijklmno";
        let sig = data_encoding::BASE64URL_NOPAD.encode(&pair.sign(nonce).expect("sign"));
        let signed = Credentials {
            nkey: Some(&public),
            sig: Some(&sig),
            nonce,
            ..Credentials::default()
        };
        let identity = auth.authenticate(&signed).expect("nkey user");
        assert_eq!(identity.user.as_deref(), Some(public.as_str()));
        assert!(identity.permissions.is_some());
        let replayed = Credentials {
            nonce: b"another-nonce-x",
            ..signed
        };
        assert_eq!(
            auth.authenticate(&replayed).err(),
            Some(AuthError::BadSignature(SignatureError::Mismatch))
        );
        let stranger = nkeys::KeyPair::new_user().public_key();
        let unknown = Credentials {
            nkey: Some(&stranger),
            ..signed
        };
        assert_eq!(
            auth.authenticate(&unknown).err(),
            Some(AuthError::UnknownNkey)
        );
        let unsigned = Credentials {
            sig: None,
            ..signed
        };
        assert_eq!(
            auth.authenticate(&unsigned).err(),
            Some(AuthError::BadSignature(SignatureError::Missing))
        );
        // The password users of the same list still work.
        assert!(auth
            .authenticate(&creds(Some("bob"), Some("pw"), None))
            .is_ok());
        assert!(auth.authenticate(&creds(None, None, None)).is_err());
    }

    fn publish_only(subject: &str) -> Permissions {
        Permissions {
            publish: Some(SubjectPermission {
                allow: vec![subject.to_string()],
                deny: Vec::new(),
            }),
            ..Permissions::default()
        }
    }

    #[test]
    fn auth_off_accepts_anything_with_no_identity() {
        let auth = Authenticator::new(&Authorization::default());
        assert!(!auth.required());
        for presented in [
            creds(None, None, None),
            creds(Some("a"), Some("b"), Some("c")),
        ] {
            let identity = auth.authenticate(&presented).expect("auth is off");
            assert!(identity.user.is_none());
            assert!(identity.permissions.is_none());
        }
    }

    #[test]
    fn single_user_accepts_right_password_only() {
        let config = Authorization {
            user: Some("alice".into()),
            password: Some("s3cret".into()),
            ..Authorization::default()
        };
        let auth = Authenticator::new(&config);
        assert!(auth.required());
        assert!(!auth.uses_bcrypt());
        let identity = auth
            .authenticate(&creds(Some("alice"), Some("s3cret"), None))
            .expect("valid");
        assert_eq!(identity.user.as_deref(), Some("alice"));
        assert!(identity.permissions.is_none());
        assert_eq!(
            auth.authenticate(&creds(Some("alice"), Some("wrong"), None))
                .unwrap_err(),
            AuthError::BadCredentials
        );
        assert_eq!(
            auth.authenticate(&creds(Some("alice"), Some("s3cre"), None))
                .unwrap_err(),
            AuthError::BadCredentials
        );
        assert_eq!(
            auth.authenticate(&creds(Some("bob"), Some("s3cret"), None))
                .unwrap_err(),
            AuthError::BadCredentials
        );
        assert_eq!(
            auth.authenticate(&creds(Some("alice"), None, None))
                .unwrap_err(),
            AuthError::BadCredentials
        );
    }

    #[test]
    fn single_user_without_user_is_missing_credentials() {
        let config = Authorization {
            user: Some("alice".into()),
            password: Some("s3cret".into()),
            ..Authorization::default()
        };
        let auth = Authenticator::new(&config);
        for presented in [
            creds(None, None, None),
            creds(Some(""), Some("s3cret"), None),
            creds(None, None, Some("s3cret")),
        ] {
            assert_eq!(
                auth.authenticate(&presented).unwrap_err(),
                AuthError::MissingCredentials
            );
        }
    }

    #[test]
    fn single_user_with_no_password_accepts_an_empty_one() {
        let config = Authorization {
            user: Some("alice".into()),
            ..Authorization::default()
        };
        let auth = Authenticator::new(&config);
        assert!(auth.authenticate(&creds(Some("alice"), None, None)).is_ok());
        assert!(auth
            .authenticate(&creds(Some("alice"), Some(""), None))
            .is_ok());
        assert_eq!(
            auth.authenticate(&creds(Some("alice"), Some("x"), None))
                .unwrap_err(),
            AuthError::BadCredentials
        );
    }

    #[test]
    fn token_accepts_the_token_and_refuses_user_pass() {
        let config = Authorization {
            token: Some("t0ken".into()),
            ..Authorization::default()
        };
        let auth = Authenticator::new(&config);
        assert!(auth.required());
        let identity = auth
            .authenticate(&creds(None, None, Some("t0ken")))
            .expect("valid token");
        assert!(identity.user.is_none());
        assert!(identity.permissions.is_none());
        assert_eq!(
            auth.authenticate(&creds(None, None, Some("t0ke")))
                .unwrap_err(),
            AuthError::BadCredentials
        );
        assert_eq!(
            auth.authenticate(&creds(Some("t0ken"), Some("t0ken"), None))
                .unwrap_err(),
            AuthError::MissingCredentials
        );
        assert_eq!(
            auth.authenticate(&creds(None, None, None)).unwrap_err(),
            AuthError::MissingCredentials
        );
        // nats-server only looks at the token: a user name alongside it is ignored.
        assert!(auth
            .authenticate(&creds(Some("x"), Some("y"), Some("t0ken")))
            .is_ok());
    }

    #[test]
    fn token_wins_over_single_user_when_both_are_set() {
        let config = Authorization {
            user: Some("alice".into()),
            password: Some("pw".into()),
            token: Some("t0ken".into()),
            ..Authorization::default()
        };
        let auth = Authenticator::new(&config);
        assert!(auth.authenticate(&creds(None, None, Some("t0ken"))).is_ok());
        assert!(auth
            .authenticate(&creds(Some("alice"), Some("pw"), None))
            .is_err());
    }

    #[test]
    fn bcrypt_password_verifies_against_the_plain_password() {
        let hash = bcrypt::hash("s3cret", 4).expect("hash");
        assert!(hash.starts_with("$2b$04$"));
        let config = Authorization {
            user: Some("alice".into()),
            password: Some(hash.clone()),
            ..Authorization::default()
        };
        let auth = Authenticator::new(&config);
        assert!(auth.uses_bcrypt());
        assert!(auth
            .authenticate(&creds(Some("alice"), Some("s3cret"), None))
            .is_ok());
        assert_eq!(
            auth.authenticate(&creds(Some("alice"), Some("wrong"), None))
                .unwrap_err(),
            AuthError::BadCredentials
        );
        // Presenting the hash itself is not the password.
        assert!(auth
            .authenticate(&creds(Some("alice"), Some(&hash), None))
            .is_err());
    }

    #[test]
    fn bcrypt_token_verifies_against_the_plain_token() {
        let config = Authorization {
            token: Some(bcrypt::hash("t0ken", 4).expect("hash")),
            ..Authorization::default()
        };
        let auth = Authenticator::new(&config);
        assert!(auth.uses_bcrypt());
        assert!(auth.authenticate(&creds(None, None, Some("t0ken"))).is_ok());
        assert_eq!(
            auth.authenticate(&creds(None, None, Some("t0ke")))
                .unwrap_err(),
            AuthError::BadCredentials
        );
    }

    #[test]
    fn users_list_checks_each_users_password() {
        let config = Authorization {
            users: vec![user("alice", "a-pw", None), user("bob", "b-pw", None)],
            ..Authorization::default()
        };
        let auth = Authenticator::new(&config);
        assert!(auth.required());
        let identity = auth
            .authenticate(&creds(Some("bob"), Some("b-pw"), None))
            .expect("bob");
        assert_eq!(identity.user.as_deref(), Some("bob"));
        assert!(identity.permissions.is_none());
        assert!(auth
            .authenticate(&creds(Some("alice"), Some("a-pw"), None))
            .is_ok());
        assert_eq!(
            auth.authenticate(&creds(Some("alice"), Some("b-pw"), None))
                .unwrap_err(),
            AuthError::BadCredentials
        );
        assert_eq!(
            auth.authenticate(&creds(Some("carol"), Some("a-pw"), None))
                .unwrap_err(),
            AuthError::UnknownUser
        );
        assert_eq!(
            auth.authenticate(&creds(None, Some("a-pw"), None))
                .unwrap_err(),
            AuthError::MissingCredentials
        );
        assert_eq!(
            auth.authenticate(&creds(None, None, Some("a-pw")))
                .unwrap_err(),
            AuthError::MissingCredentials
        );
    }

    #[test]
    fn users_list_with_bcrypt_password_verifies_the_plain_one() {
        let hash = bcrypt::hash("b-pw", 4).expect("hash");
        let config = Authorization {
            users: vec![user("alice", "a-pw", None), user("bob", &hash, None)],
            ..Authorization::default()
        };
        let auth = Authenticator::new(&config);
        assert!(auth.uses_bcrypt());
        assert!(auth
            .authenticate(&creds(Some("bob"), Some("b-pw"), None))
            .is_ok());
        assert_eq!(
            auth.authenticate(&creds(Some("bob"), Some("a-pw"), None))
                .unwrap_err(),
            AuthError::BadCredentials
        );
        assert!(auth
            .authenticate(&creds(Some("alice"), Some("a-pw"), None))
            .is_ok());
    }

    #[test]
    fn users_list_duplicate_name_last_entry_wins() {
        let config = Authorization {
            users: vec![user("alice", "old", None), user("alice", "new", None)],
            ..Authorization::default()
        };
        let auth = Authenticator::new(&config);
        assert!(auth
            .authenticate(&creds(Some("alice"), Some("new"), None))
            .is_ok());
        assert!(auth
            .authenticate(&creds(Some("alice"), Some("old"), None))
            .is_err());
    }

    #[test]
    fn users_get_their_own_or_the_default_permissions() {
        let config = Authorization {
            users: vec![
                user("own", "pw", Some(publish_only("own.>"))),
                user("default", "pw", None),
            ],
            default_permissions: Some(publish_only("default.>")),
            ..Authorization::default()
        };
        let auth = Authenticator::new(&config);
        let own = auth
            .authenticate(&creds(Some("own"), Some("pw"), None))
            .expect("own");
        let own = own.permissions.expect("own permissions");
        assert!(own.can_publish("own.x"));
        assert!(!own.can_publish("default.x"));
        let default = auth
            .authenticate(&creds(Some("default"), Some("pw"), None))
            .expect("default");
        let default = default.permissions.expect("default permissions");
        assert!(default.can_publish("default.x"));
        assert!(!default.can_publish("own.x"));
    }

    #[test]
    fn connections_of_one_user_share_one_checker() {
        let config = Authorization {
            users: vec![user("u", "pw", Some(publish_only("a")))],
            ..Authorization::default()
        };
        let auth = Authenticator::new(&config);
        let first = auth
            .authenticate(&creds(Some("u"), Some("pw"), None))
            .expect("first");
        let second = auth
            .authenticate(&creds(Some("u"), Some("pw"), None))
            .expect("second");
        let (first, second) = (
            first.permissions.expect("perms"),
            second.permissions.expect("perms"),
        );
        assert!(Arc::ptr_eq(&first, &second));
    }

    #[test]
    fn permissions_that_restrict_nothing_become_none() {
        let config = Authorization {
            users: vec![user("u", "pw", Some(Permissions::default()))],
            ..Authorization::default()
        };
        let auth = Authenticator::new(&config);
        let identity = auth
            .authenticate(&creds(Some("u"), Some("pw"), None))
            .expect("valid");
        assert!(identity.permissions.is_none());
    }

    #[test]
    fn single_user_and_token_get_no_default_permissions() {
        let config = Authorization {
            token: Some("t".into()),
            default_permissions: Some(publish_only("x")),
            ..Authorization::default()
        };
        let auth = Authenticator::new(&config);
        let identity = auth
            .authenticate(&creds(None, None, Some("t")))
            .expect("valid");
        assert!(identity.permissions.is_none());
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let config = Authorization {
            users: vec![user("alice", "hunter2", None)],
            token: Some("t0ken-secret".into()),
            ..Authorization::default()
        };
        let printed = format!("{:?}", Authenticator::new(&config));
        assert!(printed.contains("alice"));
        assert!(!printed.contains("hunter2"));
        assert!(!printed.contains("t0ken-secret"));
        let printed = format!(
            "{:?}",
            creds(Some("alice"), Some("hunter2"), Some("t0ken-secret"))
        );
        assert!(!printed.contains("hunter2"));
        assert!(!printed.contains("t0ken-secret"));
    }
}
