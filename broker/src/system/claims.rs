//! The resolver's requests in the system account (nats-server
//! `DirAccResolver.Start`, and `accountClaimUpdate` for other resolvers):
//! one task per server in operator mode, holding internal subscriptions in
//! the system account, announced to peers, so only the system account's
//! users reach them and a request published on any node reaches every
//! node. Each node handles it against its own resolver and answers the
//! reply subject (the requester takes the first answer):
//!
//! - full resolver: `$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE`,
//!   `$SYS.ACCOUNT.*.CLAIMS.UPDATE`, `$SYS.REQ.CLAIMS.UPDATE` (store in the
//!   directory, then apply to the live account),
//!   `$SYS.REQ.ACCOUNT.*.CLAIMS.LOOKUP` (the JWT, or an empty message),
//!   `$SYS.REQ.CLAIMS.LIST`, `$SYS.REQ.CLAIMS.DELETE`,
//!   `$SYS.REQ.CLAIMS.PACK` (the periodic sync, see [`super::sync`]); plus this node's inbox for lookup and pack answers
//!   (see [`super::lookup`]).
//! - memory resolver: the two per-account UPDATE subjects, for accounts
//!   this node has loaded ("jwt update skipped" otherwise).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use super::account_update::{apply_account_claims, apply_deleted_accounts};
use super::lookup::AccountLookups;
use super::service::{publish_bytes, server_info};
use super::sync::{answer_pack, merge_pack_entry, pack_inbox, request_pack, PACK_SUBJECT};
use crate::account::Account;
use crate::interest::{InternalMessage, InternalSubscription};
use crate::jwt::claims_requests::{
    parse_claims_subject, ClaimsRequest, FULL_RESOLVER_SUBSCRIPTIONS, MEMORY_RESOLVER_SUBSCRIPTIONS,
};
use crate::jwt::operator_mode::OperatorMode;
use crate::server::ServerState;

/// Requests waiting for the claims task; more are dropped and counted on
/// the subscription, never queued on the publisher.
const REQUEST_CHANNEL_CAPACITY: usize = 1024;

struct ClaimsService {
    server: Arc<ServerState>,
    operator: Arc<OperatorMode>,
    system: Arc<Account>,
    lookups: Option<Arc<AccountLookups>>,
    /// Where pack answers to this node arrive (full resolver).
    pack_inbox: String,
    seq: AtomicU64,
}

/// Runs the claims service until shutdown; returns at once outside
/// operator mode.
pub async fn run(server: Arc<ServerState>) {
    let Some(operator) = server.operator_mode().cloned() else {
        return;
    };
    let system = server.accounts.system();
    let (requests_tx, mut requests) = mpsc::channel(REQUEST_CHANNEL_CAPACITY);
    let full = operator.full_resolver().is_some();
    let mut subjects: Vec<String> = if full {
        FULL_RESOLVER_SUBSCRIPTIONS
    } else {
        MEMORY_RESOLVER_SUBSCRIPTIONS
    }
    .iter()
    .map(|subject| subject.to_string())
    .collect();
    let lookups = full.then(|| Arc::new(AccountLookups::new(&server.server_id)));
    if let Some(lookups) = &lookups {
        subjects.push(lookups.inbox_subject());
        subjects.push(PACK_SUBJECT.to_string());
    }
    let mut subscriptions = Vec::with_capacity(subjects.len());
    for subject in &subjects {
        let sub = Arc::new(InternalSubscription::new(
            subject,
            None,
            requests_tx.clone(),
        ));
        server.add_internal_subscription(&system, sub.clone(), true);
        subscriptions.push(sub);
    }
    drop(requests_tx);
    if let Some(lookups) = &lookups {
        let _ = server.account_lookups.set(lookups.clone());
    }
    tracing::debug!(account = %system.name, full, "claims service subscribed");
    // nats-server's sync `interval`; without the full resolver, no sync.
    let interval = operator
        .full_resolver()
        .map(|full| full.interval)
        .filter(|interval| !interval.is_zero());
    let service = ClaimsService {
        server: server.clone(),
        operator,
        system: system.clone(),
        lookups,
        pack_inbox: pack_inbox(&server.server_id),
        seq: AtomicU64::new(0),
    };
    let mut sync = tokio::time::interval(interval.unwrap_or(Duration::from_secs(3600)));
    sync.set_missed_tick_behavior(MissedTickBehavior::Delay);
    sync.tick().await;
    loop {
        tokio::select! {
            () = server.shutdown.cancelled() => break,
            request = requests.recv() => match request {
                Some(request) => service.handle(request),
                None => break,
            },
            _ = sync.tick(), if interval.is_some() => {
                request_pack(&service.server, &service.system, &service.operator);
            }
        }
    }
    for sub in &subscriptions {
        server.remove_internal_subscription(&system, sub, true);
    }
}

impl ClaimsService {
    fn handle(&self, message: InternalMessage) {
        let body = match message.header_len {
            Some(len) => message.payload.get(len..).unwrap_or_default(),
            None => &message.payload[..],
        };
        let now = crate::jwt::mint::unix_now();
        if self.lookups.is_some() && message.subject == self.pack_inbox {
            merge_pack_entry(&self.server, &self.operator, body, now);
            return;
        }
        if message.subject == PACK_SUBJECT {
            if let Some(reply) = message.reply.as_deref() {
                answer_pack(&self.server, &self.system, &self.operator, reply, body);
            }
            return;
        }
        if let Some(lookups) = &self.lookups {
            if lookups.is_reply(&message.subject) {
                lookups.deliver(&message.subject, body);
                return;
            }
        }
        let Some(request) = parse_claims_subject(&message.subject) else {
            return;
        };
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let server = serde_json::to_value(server_info(&self.server, seq)).unwrap_or_default();
        let reply = if self.operator.full_resolver().is_none() {
            self.update_loaded(&request, body, &server, now)
        } else {
            let outcome = self
                .operator
                .handle_claims_request(&request, body, &server, now);
            if let Some(claims) = &outcome.changed {
                apply_account_claims(&self.server, &self.operator, claims);
            }
            if !outcome.deleted.is_empty() {
                apply_deleted_accounts(&self.server, &self.operator, &outcome.deleted);
            }
            Some(outcome.reply)
        };
        if let (Some(reply), Some(subject)) = (reply, message.reply.as_deref()) {
            publish_bytes(&self.server, &self.system, subject, &reply);
        }
    }

    /// nats-server `accountClaimUpdate`: without the full resolver, an
    /// update applies only to an account this node has loaded.
    fn update_loaded(
        &self,
        request: &ClaimsRequest,
        body: &[u8],
        server: &serde_json::Value,
        now: i64,
    ) -> Option<Vec<u8>> {
        let ClaimsRequest::Update {
            account: Some(account),
        } = request
        else {
            return None;
        };
        if self.server.accounts.get(account).is_none() {
            let reply =
                self.operator
                    .claims_handler(server)
                    .respond(account, "jwt update skipped", None);
            return Some(reply);
        }
        let outcome = self
            .operator
            .handle_claims_request(request, body, server, now);
        if let Some(claims) = &outcome.changed {
            apply_account_claims(&self.server, &self.operator, claims);
        }
        Some(outcome.reply)
    }
}
