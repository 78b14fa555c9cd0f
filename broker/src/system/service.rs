//! The system account's service task: subscribes in the system account
//! (and `$SYS.REQ.USER.INFO` in every account), answers requests, publishes
//! connect/disconnect events and a periodic STATSZ.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::sync::mpsc;

use super::events::{SystemEvent, EVENT_CHANNEL_CAPACITY};
use super::messages::{
    AccountNumConns, ConnectEventMsg, DataStats, DisconnectEventMsg, EventClientInfo,
    ServerApiResponse, ServerInfo, ServerStatsMsg, UserInfo,
};
use super::requests::{endpoint, statsz, EventFilter};
use crate::account::Account;
use crate::client::handle::lock;
use crate::interest::{InternalMessage, InternalSubscription};
use crate::monitor::format::rfc3339;
use crate::monitor::Monitor;
use crate::router::{self, Batch, Message, Origin};
use crate::server::info::NATS_COMPATIBLE_VERSION;
use crate::server::ServerState;

/// How often `$SYS.SERVER.<id>.STATSZ` is published (nats-server: 10 s
/// at first, backing off to 30 s).
pub const STATSZ_INTERVAL: Duration = Duration::from_secs(10);

/// Subscriptions the service announces to peers (all in the system
/// account): `$SYS.REQ.SERVER.PING`, `.PING.*`, `.<id>.*`, `ACCOUNT.*.*`.
/// Peers' `/routez` counts them in each route's `subscriptions`.
pub const ANNOUNCED_SUBSCRIPTIONS: usize = 4;

/// Requests waiting for the service; more are dropped (and counted on the
/// subscription), never queued on the publisher.
const REQUEST_CHANNEL_CAPACITY: usize = 1024;

/// The service's state.
struct Service {
    server: Arc<ServerState>,
    monitor: Monitor,
    system: Arc<Account>,
    seq: AtomicU64,
}

/// Run the system account's service until the server shuts down.
pub async fn run(server: Arc<ServerState>, http_port: u16) {
    let (events_tx, mut events) = mpsc::channel(EVENT_CHANNEL_CAPACITY);
    if server.system_events.set(events_tx).is_err() {
        tracing::warn!("system account service already running");
        return;
    }
    let system = server.accounts.system();
    let (requests_tx, mut requests) = mpsc::channel(REQUEST_CHANNEL_CAPACITY);
    let mut subscriptions = Vec::new();
    let id = server.server_id.clone();
    for subject in [
        "$SYS.REQ.SERVER.PING".to_string(),
        "$SYS.REQ.SERVER.PING.*".to_string(),
        format!("$SYS.REQ.SERVER.{id}.*"),
        "$SYS.REQ.ACCOUNT.*.*".to_string(),
    ] {
        let sub = Arc::new(InternalSubscription::new(
            &subject,
            None,
            requests_tx.clone(),
        ));
        server.add_internal_subscription(&system, sub.clone(), true);
        subscriptions.push((system.clone(), sub, true));
    }
    // USER.INFO is asked in the requester's own account (nats-server
    // imports it into every account); accounts created later lack it. Only
    // local clients are answered, so peers need not know of it.
    for account in server.accounts.all() {
        let sub = Arc::new(InternalSubscription::new(
            "$SYS.REQ.USER.INFO",
            None,
            requests_tx.clone(),
        ));
        server.add_internal_subscription(&account, sub.clone(), false);
        subscriptions.push((account, sub, false));
    }
    drop(requests_tx);
    let service = Service {
        monitor: Monitor::new(server.clone(), http_port),
        server: server.clone(),
        system,
        seq: AtomicU64::new(0),
    };
    let mut ticker = tokio::time::interval(STATSZ_INTERVAL);
    ticker.tick().await;
    loop {
        tokio::select! {
            () = server.shutdown.cancelled() => break,
            Some(request) = requests.recv() => service.answer(request),
            Some(event) = events.recv() => service.publish_event(event),
            _ = ticker.tick() => service.publish_statsz(),
        }
    }
    for (account, sub, announced) in &subscriptions {
        server.remove_internal_subscription(account, sub, *announced);
    }
}

/// This server's `ServerInfo` (the `server` of every system message).
pub(super) fn server_info(server: &ServerState, seq: u64) -> ServerInfo {
    let options = server.options();
    ServerInfo {
        name: server.server_name(),
        host: options.host.clone(),
        id: server.server_id.clone(),
        cluster: server.cluster.get().map(|c| c.name().to_string()),
        ver: NATS_COMPATIBLE_VERSION,
        seq,
        jetstream: server.jetstream.get().is_some(),
        time: rfc3339(SystemTime::now()),
    }
}

/// Publishes `payload` on `subject` in `account` from the server itself.
pub(super) fn publish_bytes(
    server: &ServerState,
    account: &Account,
    subject: &str,
    payload: &[u8],
) {
    let message = Message {
        subject,
        reply: None,
        header_len: None,
        payload,
        deliver_as: None,
    };
    let mut batch = Batch::default();
    router::route(server, account, Origin::Internal, &message, &mut batch);
    batch.finish(server, None);
}

impl Service {
    fn server_info(&self) -> ServerInfo {
        server_info(&self.server, self.seq.fetch_add(1, Ordering::Relaxed) + 1)
    }

    /// Publish `body` as JSON on `subject` in `account`.
    fn publish<T: Serialize>(&self, account: &Account, subject: &str, body: &T) {
        let payload = match serde_json::to_vec(body) {
            Ok(payload) => payload,
            Err(error) => {
                tracing::warn!(%error, subject, "system message not serializable");
                return;
            }
        };
        publish_bytes(&self.server, account, subject, &payload);
    }

    fn admits(&self, body: &[u8]) -> bool {
        let options = self.server.options();
        let cluster = self
            .server
            .cluster
            .get()
            .map(|c| c.name().to_string())
            .unwrap_or_default();
        EventFilter::parse(body).admits(&self.server.server_name(), &cluster, &options.host)
    }

    fn answer(&self, request: InternalMessage) {
        let Some(reply) = request.reply.as_deref() else {
            return;
        };
        let body = match request.header_len {
            Some(len) => request.payload.get(len..).unwrap_or_default(),
            None => &request.payload[..],
        };
        let tokens: Vec<&str> = request.subject.split('.').collect();
        match tokens.as_slice() {
            ["$SYS", "REQ", "SERVER", "PING"] if self.admits(body) => self.answer_statsz(reply),
            ["$SYS", "REQ", "SERVER", target, name] => {
                if *target == "PING" && !self.admits(body) {
                    return;
                }
                if *name == "STATSZ" {
                    self.answer_statsz(reply);
                } else {
                    self.answer_endpoint(reply, name, body, None);
                }
            }
            ["$SYS", "REQ", "ACCOUNT", account, name] => {
                self.answer_endpoint(reply, name, body, Some(account));
            }
            ["$SYS", "REQ", "USER", "INFO"] => self.answer_user_info(reply, request.publisher),
            _ => {}
        }
    }

    fn answer_statsz(&self, reply: &str) {
        let message = ServerStatsMsg {
            server: self.server_info(),
            statsz: statsz(&self.monitor),
        };
        self.publish(&self.system, reply, &message);
    }

    fn answer_endpoint(&self, reply: &str, name: &str, body: &[u8], account: Option<&str>) {
        let Some(result) = endpoint(&self.monitor, name, body, account) else {
            return;
        };
        let (data, error) = match result {
            Ok(data) => (Some(data), None),
            Err(error) => (None, Some(error)),
        };
        let response = ServerApiResponse {
            server: self.server_info(),
            data,
            error,
        };
        self.publish(&self.system, reply, &response);
    }

    /// Answer for the local client that asked, in its own account; a
    /// request from another node's client is left to that node.
    fn answer_user_info(&self, reply: &str, publisher: Option<u64>) {
        let Some(cid) = publisher else {
            return;
        };
        let Some(client) = self.server.clients().into_iter().find(|c| c.cid == cid) else {
            return;
        };
        let Some(account) = client.account() else {
            return;
        };
        let user = lock(&client.description).user.clone().unwrap_or_default();
        let response = ServerApiResponse {
            server: self.server_info(),
            data: Some(UserInfo {
                user,
                account: account.name.to_string(),
            }),
            error: None,
        };
        self.publish(&account, reply, &response);
    }

    fn publish_statsz(&self) {
        let subject = format!("$SYS.SERVER.{}.STATSZ", self.server.server_id);
        let message = ServerStatsMsg {
            server: self.server_info(),
            statsz: statsz(&self.monitor),
        };
        self.publish(&self.system, &subject, &message);
    }

    /// `$SYS.ACCOUNT.<acc>.SERVER.CONNS` for `name`.
    fn publish_account_conns(&self, name: &str) {
        let Some(account) = self.server.accounts.get(name) else {
            return;
        };
        let traffic = account.traffic.snapshot();
        let conns = account.connection_count();
        let message = AccountNumConns {
            kind: "io.nats.server.advisory.v1.account_connections",
            id: event_id(),
            timestamp: rfc3339(SystemTime::now()),
            server: self.server_info(),
            acc: name.to_string(),
            conns,
            leafnodes: 0,
            total_conns: conns,
            sent: DataStats {
                msgs: traffic.out_msgs,
                bytes: traffic.out_bytes,
            },
            received: DataStats {
                msgs: traffic.in_msgs,
                bytes: traffic.in_bytes,
            },
            slow_consumers: 0,
        };
        self.publish(
            &self.system,
            &format!("$SYS.ACCOUNT.{name}.SERVER.CONNS"),
            &message,
        );
    }

    fn publish_event(&self, event: SystemEvent) {
        let account = match &event {
            SystemEvent::Connect(client) => client.account_name(),
            SystemEvent::Disconnect { account, .. } => account.clone(),
        };
        self.publish_client_event(event);
        self.publish_account_conns(&account);
    }

    fn publish_client_event(&self, event: SystemEvent) {
        let now = rfc3339(SystemTime::now());
        match event {
            SystemEvent::Connect(client) => {
                let account = client.account_name();
                let description = lock(&client.description).clone();
                let message = ConnectEventMsg {
                    kind: "io.nats.server.advisory.v1.client_connect",
                    id: event_id(),
                    timestamp: now,
                    server: self.server_info(),
                    client: EventClientInfo {
                        start: rfc3339(client.start),
                        host: client.peer.ip().to_string(),
                        id: client.cid,
                        acc: account.clone(),
                        user: description.user.unwrap_or_default(),
                        name: description.name,
                        lang: description.lang,
                        ver: description.version,
                        rtt: 0,
                        stop: None,
                        kind: "Client",
                        client_type: "nats",
                    },
                };
                self.publish(
                    &self.system,
                    &format!("$SYS.ACCOUNT.{account}.CONNECT"),
                    &message,
                );
            }
            SystemEvent::Disconnect { closed, account } => {
                let description = closed.description.clone();
                let message = DisconnectEventMsg {
                    kind: "io.nats.server.advisory.v1.client_disconnect",
                    id: event_id(),
                    timestamp: now,
                    server: self.server_info(),
                    client: EventClientInfo {
                        start: rfc3339(closed.start),
                        host: closed.peer.ip().to_string(),
                        id: closed.cid,
                        acc: account.clone(),
                        user: description.user.unwrap_or_default(),
                        name: description.name,
                        lang: description.lang,
                        ver: description.version,
                        rtt: closed.rtt_nanos,
                        stop: Some(rfc3339(closed.stop)),
                        kind: "Client",
                        client_type: "nats",
                    },
                    // nats-server reports the client's view: what it sent
                    // is what the server received.
                    sent: DataStats {
                        msgs: closed.traffic.out_msgs,
                        bytes: closed.traffic.out_bytes,
                    },
                    received: DataStats {
                        msgs: closed.traffic.in_msgs,
                        bytes: closed.traffic.in_bytes,
                    },
                    reason: closed.reason.to_string(),
                };
                self.publish(
                    &self.system,
                    &format!("$SYS.ACCOUNT.{account}.DISCONNECT"),
                    &message,
                );
            }
        }
    }
}

/// A unique event id (nats-server uses a NUID; 22 random alphanumerics).
pub(crate) fn event_id() -> String {
    use rand::RngExt;
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    (0..22)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}
