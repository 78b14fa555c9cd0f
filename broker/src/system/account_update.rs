//! A new account JWT (or a deleted account) applied to the live account and
//! its connections on this node, as nats-server's
//! `updateAccountClaimsWithRefresh` and `removeCb` do: the limits change at
//! once (connections re-apply payload and subscription limits at their
//! next read buffer); connections over the new `conn` limit are closed
//! (the oldest, nats-server keeps the newest), so are connections now over
//! their subscription limit, and the users the JWT revokes.

use std::sync::Arc;

use starling_proto::client::encode;

use crate::account::AccountLimits;
use crate::client::ClientHandle;
use crate::close::CloseReason;
use crate::jwt::operator_mode::OperatorMode;
use crate::jwt::AccountClaims;
use crate::server::ServerState;

/// An account's limits from its claims (-1 = none).
pub fn account_limits(claims: &AccountClaims) -> AccountLimits {
    let limit = |value: i64| usize::try_from(value).ok();
    let limits = &claims.nats.limits;
    AccountLimits {
        max_connections: limit(limits.conn),
        max_subscriptions: limit(limits.nats.subs),
        max_payload: limit(limits.nats.payload),
        max_leafnodes: limit(limits.leaf),
    }
}

/// The connections of `account` on this node, newest first.
fn connections_of(server: &ServerState, account: &str) -> Vec<Arc<ClientHandle>> {
    let mut clients: Vec<Arc<ClientHandle>> = server
        .clients()
        .into_iter()
        .filter(|client| !client.is_closed())
        .filter(|client| client.account().is_some_and(|held| &*held.name == account))
        .collect();
    clients.sort_by_key(|client| std::cmp::Reverse(client.start));
    clients
}

/// Applies `claims`, a changed account JWT, on this node.
pub fn apply_account_claims(server: &ServerState, operator: &OperatorMode, claims: &AccountClaims) {
    let name = claims.data.sub.as_str();
    tracing::info!(account = %name, "account JWT updated");
    for client in operator.revoked_by(claims) {
        close_with(
            &client,
            "User Authentication Revoked",
            CloseReason::Revocation,
        );
    }
    // An account no user connected to yet is created from the resolver
    // when one does, with these claims.
    let Some(account) = server.accounts.get(name) else {
        return;
    };
    let limits = account_limits(claims);
    if !account.set_limits(limits) {
        return;
    }
    for (index, client) in connections_of(server, name).iter().enumerate() {
        if limits.max_connections.is_some_and(|max| index >= max) {
            close_with(
                client,
                "maximum account active connections exceeded",
                CloseReason::MaxAccountConnectionsExceeded,
            );
            continue;
        }
        let user = operator.user_subscription_limit(client.cid);
        let limit = match (limits.max_subscriptions, user) {
            (Some(account), Some(user)) => Some(account.min(user)),
            (limit, None) | (None, limit) => limit,
        };
        if limit.is_some_and(|limit| client.subscriptions().len() > limit) {
            close_with(
                client,
                "Maximum Subscriptions Exceeded",
                CloseReason::MaxSubscriptionsExceeded,
            );
        }
    }
}

/// Disables deleted accounts on this node (nats-server `removeCb`): no new
/// connection is admitted and the connected ones are closed.
pub fn apply_deleted_accounts(server: &ServerState, operator: &OperatorMode, deleted: &[String]) {
    for name in deleted {
        tracing::info!(account = %name, "account JWT deleted");
        if let Some(account) = server.accounts.get(name) {
            account.set_limits(AccountLimits {
                max_connections: Some(0),
                max_subscriptions: Some(0),
                max_payload: Some(0),
                max_leafnodes: Some(0),
            });
        }
    }
    for client in operator.connections_of(deleted) {
        close_with(
            &client,
            "Account Authentication Expired",
            CloseReason::AuthenticationExpired,
        );
    }
}

/// Sends `-ERR '<text>'` to a connection and closes it.
pub fn close_with(client: &ClientHandle, text: &str, reason: CloseReason) {
    tracing::info!(cid = client.cid, peer = %client.peer, %reason, "closing JWT user");
    let mut line = bytes::BytesMut::new();
    encode::encode_err(&mut line, text);
    client.outbound.push_control_bytes(&line);
    client.close(reason);
}
