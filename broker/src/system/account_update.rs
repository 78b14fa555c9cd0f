//! A new account JWT (or a deleted account) applied to the live account and
//! its connections on this node, as nats-server's
//! `updateAccountClaimsWithRefresh` and `removeCb` do: the limits change at
//! once (connections re-apply payload and subscription limits at their
//! next read buffer); connections over the new `conn` limit are closed
//! (the oldest, nats-server keeps the newest), so are connections now over
//! their subscription limit, and the users the JWT revokes.

use std::sync::Arc;

use starling_proto::client::encode;

use starling_jetstream::api::account::AccountLimits as JetStreamAccountLimits;

use crate::account::{Account, AccountLimits};
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

/// The JetStream limits the claims grant, None when they grant no
/// JetStream (nats-server `updateAccountClaimsWithRefresh`: enabled when
/// memory or file storage is not 0 or tiers exist; the account-wide
/// limits win when they name storage, else the `R1` tier applies, as
/// every stream on one node is R1; a tiered account without `R1` gets
/// no storage). Per-stream bytes and `max_ack_pending` of 0 or less are
/// unlimited (nats-server's `toUnlimited`); the rest are taken as they are.
pub fn jetstream_limits(claims: &AccountClaims) -> Option<JetStreamAccountLimits> {
    let limits = &claims.nats.limits;
    if !limits.is_jetstream_enabled() {
        return None;
    }
    let global = &limits.jetstream;
    let selected = if global.disk_storage != 0 || global.mem_storage != 0 {
        global.clone()
    } else {
        limits.tiered_limits.get("R1").cloned().unwrap_or_default()
    };
    let unlimited = |value: i64| if value > 0 { value } else { -1 };
    Some(JetStreamAccountLimits {
        max_memory: selected.mem_storage,
        max_storage: selected.disk_storage,
        max_streams: selected.streams,
        max_consumers: selected.consumer,
        max_ack_pending: unlimited(selected.max_ack_pending),
        memory_max_stream_bytes: unlimited(selected.mem_max_stream_bytes),
        storage_max_stream_bytes: unlimited(selected.disk_max_stream_bytes),
        max_bytes_required: selected.max_bytes_required,
    })
}

/// Enables, updates or disables JetStream for `account` (a JWT account)
/// to match `claims`, when JetStream runs on this server.
pub fn configure_jetstream(
    server: &Arc<ServerState>,
    account: &Arc<Account>,
    claims: &AccountClaims,
) {
    if let Some(jetstream) = server.jetstream.get() {
        jetstream.configure_account(server, account, jetstream_limits(claims));
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
pub fn apply_account_claims(
    server: &Arc<ServerState>,
    operator: &OperatorMode,
    claims: &AccountClaims,
) {
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
    configure_jetstream(server, &account, claims);
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
pub fn apply_deleted_accounts(
    server: &Arc<ServerState>,
    operator: &OperatorMode,
    deleted: &[String],
) {
    for name in deleted {
        tracing::info!(account = %name, "account JWT deleted");
        if let Some(account) = server.accounts.get(name) {
            // nats-server's `removeCb` disables its JetStream too (the
            // streams stop, their files stay).
            if let Some(jetstream) = server.jetstream.get() {
                jetstream.configure_account(server, &account, None);
            }
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
