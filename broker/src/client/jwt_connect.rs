//! CONNECT in JWT operator mode (nats-server `auth.go`, the `c.opts.JWT`
//! path): the user JWT and the nonce signature are checked against the
//! account the resolver holds; the user's and account's permissions and
//! limits apply to the connection, and it ends when its JWT expires.
//! Other credentials (user, password, token) are ignored, as nats-server
//! ignores them when a JWT is present; without a JWT the client is refused.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use starling_proto::client::{encode, ConnectInfo};
use tokio::time::Instant;

use super::conn::Connection;
use super::handle::ClientHandle;
use crate::account::AccountLimits;
use crate::auth::{ClientIdentity, PermissionChecker};
use crate::close::CloseReason;
use crate::jwt::claims::NO_LIMIT;
use crate::jwt::claims_requests::parse_claims_subject;
use crate::jwt::operator_mode::{JwtLogin, OperatorMode};
use crate::jwt::validate::{ConnectProof, CONNECTION_TYPE_STANDARD};
use crate::jwt::{permissions, JwtError};
use crate::router::{self, Message, Origin};

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

/// The smaller of two JWT limits, -1 meaning none.
fn min_limit(first: i64, second: i64) -> i64 {
    match (first, second) {
        (NO_LIMIT, other) | (other, NO_LIMIT) => other,
        (first, second) => first.min(second),
    }
}

impl Connection {
    /// Authenticates a CONNECT in operator mode and finishes it.
    pub(super) fn connect_with_jwt(
        &mut self,
        operator: &Arc<OperatorMode>,
        connect: Box<ConnectInfo>,
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
        if self
            .server
            .accounts
            .get_or_create_with_limits(account_key, account_limits(&login.account))
            .is_none()
        {
            return Err(self.refuse(&JwtError::BadSubject("a valid account name")));
        }
        let identity = ClientIdentity {
            user: Some(login.user.claims.data.sub.clone()),
            permissions: checker,
            account: Some(Arc::from(account_key)),
        };
        self.finish_connect(connect, identity)?;
        self.apply_jwt_limits(&login);
        Ok(())
    }

    /// `subs` and `payload` of the user (or its scope) and the account,
    /// the tighter of each, within the server's own limits.
    fn apply_jwt_limits(&mut self, login: &JwtLogin) {
        let user = &login.user.permission_limits.limits.nats;
        let account = &login.account.nats.limits.nats;
        let payload = min_limit(user.payload, account.payload);
        if let Ok(payload) = usize::try_from(payload) {
            self.parser
                .set_max_payload(payload.min(self.options.max_payload));
        }
        let subs = min_limit(user.subs, account.subs);
        // 0 in a JWT allows no subscription at all.
        if let Ok(subs) = usize::try_from(subs) {
            self.max_subscriptions = Some(self.max_subscriptions.map_or(subs, |max| max.min(subs)));
        }
    }

    /// A publish to a `$SYS.REQ.CLAIMS.*` subject by a user of the system
    /// account: answered here until the system account has internal
    /// subscriptions (then this moves there). Returns false when the
    /// subject is no claims request or the publisher may not make one.
    pub(super) fn handle_claims_request(
        &mut self,
        operator: &Arc<OperatorMode>,
        message: &Message<'_>,
    ) -> bool {
        let Some(request) = parse_claims_subject(message.subject) else {
            return false;
        };
        let system = operator.system_account();
        if system.is_none() || operator.account_of_client(self.handle.cid).as_deref() != system {
            return false;
        }
        let body = &message.payload[message.header_len.unwrap_or(0).min(message.payload.len())..];
        let server = serde_json::json!({
            "name": self.server.server_name(),
            "host": self.options.host,
            "id": self.server.server_id,
            "ver": env!("CARGO_PKG_VERSION"),
            "seq": 0,
            "jetstream": false,
            "time": humantime_now(),
        });
        let outcome = operator.handle_claims_request(&request, body, &server, clock().0);
        if let Some(reply) = message
            .reply
            .and_then(|reply| std::str::from_utf8(reply).ok())
        {
            let response = Message {
                subject: reply,
                reply: None,
                header_len: None,
                payload: &outcome.reply,
            };
            let origin = Origin::Client {
                publisher: &self.handle,
                echo: true,
            };
            let account = self.account.clone();
            router::route(&self.server, &account, origin, &response, &mut self.batch);
        }
        if let Some(claims) = &outcome.changed {
            tracing::info!(account = %claims.data.sub, "account JWT updated");
            for client in operator.revoked_by(claims) {
                close_with(
                    &client,
                    "User Authentication Revoked",
                    CloseReason::Revocation,
                );
            }
        }
        for client in operator.connections_of(&outcome.deleted) {
            close_with(
                &client,
                "Account Authentication Expired",
                CloseReason::AuthenticationExpired,
            );
        }
        true
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

/// An account's limits from its claims (-1 = none).
fn account_limits(claims: &crate::jwt::AccountClaims) -> AccountLimits {
    let limit = |value: i64| usize::try_from(value).ok();
    let limits = &claims.nats.limits;
    AccountLimits {
        max_connections: limit(limits.conn),
        max_subscriptions: limit(limits.nats.subs),
        max_payload: limit(limits.nats.payload),
        max_leafnodes: limit(limits.leaf),
    }
}

/// Sends `-ERR '<text>'` to another connection and closes it.
fn close_with(client: &ClientHandle, text: &str, reason: CloseReason) {
    tracing::info!(cid = client.cid, peer = %client.peer, %reason, "closing JWT user");
    let mut line = bytes::BytesMut::new();
    encode::encode_err(&mut line, text);
    client.outbound.push_control_bytes(&line);
    client.close(reason);
}

/// RFC 3339 UTC time of now, as nats-server's `ServerInfo.time`.
fn humantime_now() -> String {
    let (now, of_day) = clock();
    let days = now.div_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}
