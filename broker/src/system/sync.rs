//! The full resolver's periodic store sync (nats-server's
//! `$SYS.REQ.CLAIMS.PACK`): every `interval` each node sends a digest of
//! its store (the XOR of its JWTs' SHA-256) to every node. A node whose
//! digest differs answers with each JWT it holds as `<pubkey>|<jwt>`, then
//! an empty message; the asker keeps each entry that checks out and is
//! newer than what it holds, so a node that missed an update catches up
//! within one interval. nats-server asks one node (queue group
//! `responder`), which may be the asker itself; here every node is asked
//! and only the differing ones answer, so a lagging node never waits for
//! the lucky pick.

use crate::account::Account;
use crate::jwt::operator_mode::OperatorMode;
use crate::router::{self, Batch, Message, Origin};
use crate::server::ServerState;

use super::account_update::apply_account_claims;

/// Where a node asks for a pack.
pub const PACK_SUBJECT: &str = "$SYS.REQ.CLAIMS.PACK";

/// The reply subject of this node's pack requests (under its inbox).
pub fn pack_inbox(server_id: &str) -> String {
    format!("$SYS._INBOX.{server_id}.pack")
}

/// Publishes `payload` on `subject` (with `reply`) in the system account.
fn publish(
    server: &ServerState,
    system: &Account,
    subject: &str,
    reply: Option<&str>,
    payload: &[u8],
) {
    let message = Message {
        subject,
        reply: reply.map(str::as_bytes),
        header_len: None,
        payload,
        deliver_as: None,
    };
    let mut batch = Batch::default();
    router::route(server, system, Origin::Internal, &message, &mut batch);
    batch.finish(server, None);
}

/// Asks every node for what this node's store lacks.
pub fn request_pack(server: &ServerState, system: &Account, operator: &OperatorMode) {
    let hash = operator.store_hash();
    let inbox = pack_inbox(&server.server_id);
    publish(server, system, PACK_SUBJECT, Some(&inbox), &hash);
}

/// Answers a pack request whose store digest is `their_hash`.
pub fn answer_pack(
    server: &ServerState,
    system: &Account,
    operator: &OperatorMode,
    reply: &str,
    their_hash: &[u8],
) {
    if their_hash == operator.store_hash() {
        return;
    }
    for entry in operator.pack() {
        publish(server, system, reply, None, entry.as_bytes());
    }
    publish(server, system, reply, None, b"");
}

/// Keeps one pack entry if it checks out and is newer, and applies it.
pub fn merge_pack_entry(
    server: &std::sync::Arc<ServerState>,
    operator: &OperatorMode,
    entry: &[u8],
    now: i64,
) {
    if entry.is_empty() {
        return;
    }
    let text = String::from_utf8_lossy(entry);
    let Some((account, token)) = text.trim().split_once('|') else {
        tracing::debug!("malformed claims pack entry");
        return;
    };
    match operator.store_fetched(account, token, now) {
        Ok(Some(claims)) => {
            tracing::info!(%account, "account JWT synced from a peer");
            apply_account_claims(server, operator, &claims);
        }
        Ok(None) => {}
        // An older JWT than the one held is the normal case here.
        Err(error) => tracing::debug!(%account, %error, "claims pack entry not kept"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pack_inbox_is_under_the_lookup_inbox() {
        let lookups = super::super::lookup::AccountLookups::new("NODE");
        assert!(lookups.is_reply(&pack_inbox("NODE")));
        assert_eq!(pack_inbox("NODE"), "$SYS._INBOX.NODE.pack");
    }
}
