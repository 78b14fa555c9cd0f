//! Asking the cluster for an account JWT this node does not hold (nats-server
//! `Server.fetch`): `$SYS.REQ.ACCOUNT.<id>.CLAIMS.LOOKUP` goes to every
//! node's full resolver with a reply subject under this node's inbox
//! `$SYS._INBOX.<server id>.*` (one internal subscription, announced to
//! peers, set up by the claims service). Each node answers with the JWT or
//! an empty message; the first JWT wins, and once every node answered
//! empty (or the resolver's `timeout` passed) the account is unknown.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::jwt::claims_requests::account_lookup_subject;
use crate::router::{self, Batch, Message, Origin};
use crate::server::ServerState;

/// Lookups waiting for an answer, by reply subject.
#[derive(Debug)]
pub struct AccountLookups {
    /// `$SYS._INBOX.<server id>.`: every reply subject starts with it.
    prefix: String,
    next: AtomicU64,
    pending: Mutex<HashMap<String, PendingLookup>>,
}

#[derive(Debug)]
struct PendingLookup {
    answer: oneshot::Sender<String>,
    /// Empty answers still to come before the account counts as unknown.
    empty_left: usize,
}

impl AccountLookups {
    /// Lookups of the server `server_id`.
    pub fn new(server_id: &str) -> Self {
        AccountLookups {
            prefix: format!("$SYS._INBOX.{server_id}."),
            next: AtomicU64::new(1),
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// The inbox subscription's subject.
    pub fn inbox_subject(&self) -> String {
        format!("{}*", self.prefix)
    }

    /// Whether `subject` is a reply to one of this node's lookups.
    pub fn is_reply(&self, subject: &str) -> bool {
        subject.starts_with(&self.prefix)
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<String, PendingLookup>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An answer arrived on `subject`: a JWT ends the lookup, an empty
    /// message counts one node that does not hold the account.
    pub fn deliver(&self, subject: &str, payload: &[u8]) {
        let mut pending = self.pending();
        if payload.is_empty() {
            let done = pending.get_mut(subject).is_some_and(|lookup| {
                lookup.empty_left = lookup.empty_left.saturating_sub(1);
                lookup.empty_left == 0
            });
            if done {
                // Dropping the sender tells the waiting lookup "unknown".
                pending.remove(subject);
            }
            return;
        }
        if let Some(lookup) = pending.remove(subject) {
            let _ = lookup
                .answer
                .send(String::from_utf8_lossy(payload).trim().to_string());
        }
    }

    /// Asks every node for `account`'s JWT; None when no node holds it,
    /// there is no peer to ask, or `timeout` passed. The JWT is not checked
    /// here: the caller verifies it before keeping it.
    pub async fn lookup(
        &self,
        server: &ServerState,
        account: &str,
        timeout: Duration,
    ) -> Option<String> {
        let peers = server
            .cluster
            .get()
            .map_or(0, |cluster| cluster.peers().len());
        if peers == 0 {
            return None;
        }
        let reply = format!(
            "{}{}",
            self.prefix,
            self.next.fetch_add(1, Ordering::Relaxed)
        );
        let (answer, answered) = oneshot::channel();
        // Every peer answers, and so does this node's own resolver.
        self.pending().insert(
            reply.clone(),
            PendingLookup {
                answer,
                empty_left: peers + 1,
            },
        );
        let subject = account_lookup_subject(account);
        let message = Message {
            subject: &subject,
            reply: Some(reply.as_bytes()),
            header_len: None,
            payload: b"",
            deliver_as: None,
        };
        let system = server.accounts.system();
        let mut batch = Batch::default();
        router::route(server, &system, Origin::Internal, &message, &mut batch);
        batch.finish(server, None);
        let result = tokio::time::timeout(timeout, answered).await;
        self.pending().remove(&reply);
        match result {
            Ok(Ok(jwt)) => Some(jwt),
            Ok(Err(_)) => None,
            Err(_) => {
                tracing::debug!(%account, ?timeout, "account lookup timed out");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(
        lookups: &AccountLookups,
        reply: &str,
        empty_left: usize,
    ) -> oneshot::Receiver<String> {
        let (answer, answered) = oneshot::channel();
        lookups
            .pending()
            .insert(reply.to_string(), PendingLookup { answer, empty_left });
        answered
    }

    #[test]
    fn the_first_jwt_answers_and_all_empty_answers_mean_unknown() {
        let lookups = AccountLookups::new("NODE");
        assert_eq!(lookups.inbox_subject(), "$SYS._INBOX.NODE.*");
        assert!(lookups.is_reply("$SYS._INBOX.NODE.7"));
        assert!(!lookups.is_reply("$SYS._INBOX.OTHER.7"));

        let mut found = waiting(&lookups, "$SYS._INBOX.NODE.1", 3);
        lookups.deliver("$SYS._INBOX.NODE.1", b"");
        assert!(found.try_recv().is_err(), "one empty answer of three");
        lookups.deliver("$SYS._INBOX.NODE.1", b"a.jwt.token\r\n");
        assert_eq!(found.try_recv().ok().as_deref(), Some("a.jwt.token"));

        let mut unknown = waiting(&lookups, "$SYS._INBOX.NODE.2", 2);
        lookups.deliver("$SYS._INBOX.NODE.2", b"");
        lookups.deliver("$SYS._INBOX.NODE.2", b"");
        assert!(matches!(
            unknown.try_recv(),
            Err(oneshot::error::TryRecvError::Closed)
        ));
        // A late answer to a finished lookup is ignored.
        lookups.deliver("$SYS._INBOX.NODE.2", b"late.jwt");
        assert!(lookups.pending().is_empty());
    }
}
