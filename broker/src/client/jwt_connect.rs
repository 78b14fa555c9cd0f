//! CONNECT in JWT operator mode (nats-server `auth.go`, the `c.opts.JWT`
//! path): the user JWT and the nonce signature are checked against the
//! account the resolver holds; the user's and account's permissions and
//! limits apply to the connection, and it ends when its JWT expires.
//! Other credentials (user, password, token) are ignored, as nats-server
//! ignores them when a JWT is present; without a JWT the client is refused.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use starling_proto::client::ConnectInfo;
use tokio::time::Instant;

use super::conn::Connection;
use super::limits::UserLimits;
use crate::auth::{ClientIdentity, PermissionChecker};
use crate::close::CloseReason;
use crate::jwt::operator_mode::OperatorMode;
use crate::jwt::validate::{ConnectProof, CONNECTION_TYPE_STANDARD};
use crate::jwt::{permissions, JwtError};
use crate::system::account_update::{account_limits, configure_jetstream};

/// Seconds since the epoch, and since midnight UTC.
fn clock() -> (i64, u32) {
    let elapsed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    (
        i64::try_from(elapsed).unwrap_or(i64::MAX),
        (elapsed % 86_400) as u32,
    )
}

impl Connection {
    /// Authenticates a CONNECT in operator mode and finishes it.
    pub(super) fn connect_with_jwt(
        &mut self,
        operator: &Arc<OperatorMode>,
        connect: Box<ConnectInfo>,
    ) -> Result<(), CloseReason> {
        self.connect_with_jwt_or_lookup(operator, connect, true)
    }

    /// A CONNECT whose account this node did not hold: asks the cluster for
    /// it (nats-server's full resolver `Fetch`), keeps it if it checks out,
    /// then authenticates again (without asking twice).
    pub(super) async fn connect_after_lookup(
        &mut self,
        connect: Box<ConnectInfo>,
        account: &str,
    ) -> Result<(), CloseReason> {
        let Some(operator) = self.server.operator_mode().cloned() else {
            return Err(self.refuse(&JwtError::AccountNotFound(account.to_string())));
        };
        let timeout = operator.full_resolver().map(|full| full.timeout);
        if let (Some(lookups), Some(timeout)) =
            (self.server.account_lookups.get().cloned(), timeout)
        {
            if let Some(token) = lookups.lookup(&self.server, account, timeout).await {
                match operator.store_fetched(account, &token, clock().0) {
                    Ok(_) => tracing::info!(%account, "account JWT fetched from the cluster"),
                    Err(error) => tracing::info!(%account, %error, "fetched account JWT refused"),
                }
            }
        }
        self.connect_with_jwt_or_lookup(&operator, connect, false)
    }

    fn connect_with_jwt_or_lookup(
        &mut self,
        operator: &Arc<OperatorMode>,
        connect: Box<ConnectInfo>,
        may_look_up: bool,
    ) -> Result<(), CloseReason> {
        let Some(user_jwt) = connect.jwt.as_deref().filter(|jwt| !jwt.is_empty()) else {
            return Err(self.refuse(&JwtError::Malformed("operator mode needs a user JWT")));
        };
        let (now, seconds_of_day_utc) = clock();
        let nonce = self.nonce.as_deref().unwrap_or_default();
        let proof = ConnectProof {
            nonce: nonce.as_bytes(),
            sig: connect.sig.as_deref(),
            client_ip: Some(self.handle.peer.ip()),
            connection_type: CONNECTION_TYPE_STANDARD,
            seconds_of_day_utc,
        };
        let login = match operator.login(user_jwt, &proof, now) {
            Ok(login) => login,
            Err(JwtError::AccountNotFound(account))
                if may_look_up && self.server.account_lookups.get().is_some() =>
            {
                // The read loop asks the cluster, then retries.
                self.pending_account_lookup = Some((connect, account));
                return Ok(());
            }
            Err(error) => return Err(self.refuse(&error)),
        };
        if let Some(expires_at) = login.expires_at() {
            let left = u64::try_from(expires_at.saturating_sub(now)).unwrap_or(0);
            self.auth_expires = Some(Instant::now() + Duration::from_secs(left));
        }
        operator.register(&self.handle, &login);
        let checker = permissions::to_options(&login.user.permission_limits.permissions)
            .map(|converted| Arc::new(PermissionChecker::new(&converted)));
        tracing::debug!(cid = self.handle.cid, account = %login.user.account, user = %login.user.claims.data.sub, "JWT user connected");
        // The account is created from its claims the first time one of its
        // users connects (nats-server loads JWT accounts lazily too).
        let account_key = login.user.account.as_str();
        let limits = account_limits(&login.account);
        let Some(account) = self
            .server
            .accounts
            .get_or_create_with_limits(account_key, limits)
        else {
            return Err(self.refuse(&JwtError::BadSubject("a valid account name")));
        };
        // The resolver's JWT is the newest this node holds: its limits
        // apply even when the account was created earlier (by a peer's
        // interest, or from an older JWT).
        account.set_limits(limits);
        // ... and so do its JetStream limits (nats-server enables
        // JetStream when it first resolves the account).
        configure_jetstream(&self.server, &account, &login.account);
        let user = &login.user.permission_limits.limits.nats;
        self.user_limits = Some(UserLimits {
            payload: usize::try_from(user.payload).ok(),
            subs: usize::try_from(user.subs).ok(),
        });
        let identity = ClientIdentity {
            user: Some(login.user.claims.data.sub.clone()),
            permissions: checker,
            account: Some(Arc::from(account_key)),
        };
        self.finish_connect(connect, identity)
    }

    /// Refuses the CONNECT: `-ERR 'Authorization Violation'`, as
    /// nats-server answers every JWT failure at CONNECT.
    fn refuse(&mut self, error: &JwtError) -> CloseReason {
        self.server.auth_failures.fetch_add(1, Ordering::Relaxed);
        tracing::info!(cid = self.handle.cid, peer = %self.handle.peer, %error, "authorization violation (JWT)");
        self.send_err("Authorization Violation");
        CloseReason::AuthenticationViolation
    }
}
