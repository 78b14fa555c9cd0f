//! The system account's JSON documents, with nats-server's field names
//! (events.go: `ServerInfo`, `ServerStatsMsg`, `ServerAPIResponse`,
//! `ConnectEventMsg`, `DisconnectEventMsg`), checked against nats-server
//! 2.9.10's answers.

use serde::Serialize;

/// Who answers (nats-server `ServerInfo`), on every message.
#[derive(Debug, Clone, Serialize)]
pub struct ServerInfo {
    /// Server name.
    pub name: String,
    /// Client listener host.
    pub host: String,
    /// Server id.
    pub id: String,
    /// Cluster name, when clustered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// nats-server version Starling is compatible with.
    pub ver: &'static str,
    /// Message sequence of this server's system messages.
    pub seq: u64,
    /// JetStream enabled (not yet).
    pub jetstream: bool,
    /// When the message was sent.
    pub time: String,
}

/// Sent and received counters.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct DataStats {
    /// Messages.
    pub msgs: u64,
    /// Bytes.
    pub bytes: u64,
}

/// One route in STATSZ (nats-server `RouteStat`).
#[derive(Debug, Serialize)]
pub struct RouteStat {
    /// Route id.
    pub rid: u64,
    /// Peer server name.
    pub name: String,
    /// Sent to the peer.
    pub sent: DataStats,
    /// Received from the peer.
    pub received: DataStats,
    /// Bytes queued to the peer.
    pub pending: usize,
}

/// nats-server `ServerStats`.
#[derive(Debug, Serialize)]
pub struct ServerStats {
    /// Server start.
    pub start: String,
    /// Resident memory, bytes.
    pub mem: u64,
    /// Cores.
    pub cores: usize,
    /// CPU percent.
    pub cpu: f64,
    /// Open client connections.
    pub connections: usize,
    /// Client connections since start.
    pub total_connections: u64,
    /// Accounts with connections.
    pub active_accounts: usize,
    /// Subscriptions.
    pub subscriptions: usize,
    /// Sent.
    pub sent: DataStats,
    /// Received.
    pub received: DataStats,
    /// Slow consumers.
    pub slow_consumers: u64,
    /// Routes (omitted when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<RouteStat>,
    /// Servers this one knows of, itself included.
    pub active_servers: usize,
}

/// nats-server `ServerStatsMsg`: the STATSZ answer and event.
#[derive(Debug, Serialize)]
pub struct ServerStatsMsg {
    /// Who.
    pub server: ServerInfo,
    /// The numbers.
    pub statsz: ServerStats,
}

/// nats-server `ServerAPIResponse`: `{server, data}` or `{server, error}`.
#[derive(Debug, Serialize)]
pub struct ServerApiResponse<T: Serialize> {
    /// Who.
    pub server: ServerInfo,
    /// The endpoint's document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<T>,
    /// Why there is no document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

/// nats-server `ApiError`.
#[derive(Debug, Serialize)]
pub struct ApiError {
    /// HTTP-like status code.
    pub code: u16,
    /// Description.
    pub description: String,
}

/// A client as connect/disconnect events describe it (nats-server
/// `ClientInfo`, the fields a plain client has).
#[derive(Debug, Clone, Serialize)]
pub struct EventClientInfo {
    /// Connected at.
    pub start: String,
    /// Remote IP.
    pub host: String,
    /// Client id.
    pub id: u64,
    /// Account.
    pub acc: String,
    /// User, if authenticated as one.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    /// CONNECT name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// CONNECT lang.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub lang: String,
    /// CONNECT version.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ver: String,
    /// Round-trip time, nanoseconds.
    #[serde(skip_serializing_if = "is_zero")]
    pub rtt: u64,
    /// Closed at (disconnect only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<String>,
    /// Always "Client".
    pub kind: &'static str,
    /// Always "nats".
    pub client_type: &'static str,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// nats-server `ConnectEventMsg`.
#[derive(Debug, Serialize)]
pub struct ConnectEventMsg {
    /// `io.nats.server.advisory.v1.client_connect`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Unique event id.
    pub id: String,
    /// When.
    pub timestamp: String,
    /// Who reports.
    pub server: ServerInfo,
    /// The client.
    pub client: EventClientInfo,
}

/// nats-server `DisconnectEventMsg`.
#[derive(Debug, Serialize)]
pub struct DisconnectEventMsg {
    /// `io.nats.server.advisory.v1.client_disconnect`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Unique event id.
    pub id: String,
    /// When.
    pub timestamp: String,
    /// Who reports.
    pub server: ServerInfo,
    /// The client.
    pub client: EventClientInfo,
    /// Sent to the client.
    pub sent: DataStats,
    /// Received from the client.
    pub received: DataStats,
    /// Why it closed.
    pub reason: String,
}

/// The JSZ answer of a server without JetStream (as nats-server 2.9.10
/// answers: `disabled: true` and zeros).
#[derive(Debug, Serialize)]
pub struct JszDisabled {
    /// Server id.
    pub server_id: String,
    /// Now.
    pub now: String,
    /// Always true.
    pub disabled: bool,
    /// Zero limits.
    pub config: JszConfig,
    /// Zeros, as nats-server writes them.
    pub memory: u64,
    /// Zero.
    pub storage: u64,
    /// Zero.
    pub reserved_memory: u64,
    /// Zero.
    pub reserved_storage: u64,
    /// Zero.
    pub accounts: u64,
    /// Zero.
    pub ha_assets: u64,
    /// Zero API counters.
    pub api: JszApi,
    /// Zero.
    pub streams: u64,
    /// Zero.
    pub consumers: u64,
    /// Zero.
    pub messages: u64,
    /// Zero.
    pub bytes: u64,
}

/// JetStream limits in JSZ.
#[derive(Debug, Default, Serialize)]
pub struct JszConfig {
    /// Zero.
    pub max_memory: u64,
    /// Zero.
    pub max_storage: u64,
}

/// JetStream API counters in JSZ.
#[derive(Debug, Default, Serialize)]
pub struct JszApi {
    /// Zero.
    pub total: u64,
    /// Zero.
    pub errors: u64,
}

/// `$SYS.REQ.USER.INFO`'s data (nats-server `UserInfo`).
#[derive(Debug, Serialize)]
pub struct UserInfo {
    /// User name (empty for no-auth clients).
    pub user: String,
    /// Account.
    pub account: String,
}

/// nats-server `AccountNumConns`: `$SYS.ACCOUNT.<acc>.SERVER.CONNS`, sent
/// when an account's connection count changes.
#[derive(Debug, Serialize)]
pub struct AccountNumConns {
    /// `io.nats.server.advisory.v1.account_connections`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Unique event id.
    pub id: String,
    /// When.
    pub timestamp: String,
    /// Who reports.
    pub server: ServerInfo,
    /// The account.
    pub acc: String,
    /// Its connections on this server.
    pub conns: usize,
    /// Always 0.
    pub leafnodes: usize,
    /// Connections (nats-server: client + leaf).
    pub total_conns: usize,
    /// Delivered for its clients.
    pub sent: DataStats,
    /// Published by its clients.
    pub received: DataStats,
    /// Always 0 (not counted per account).
    pub slow_consumers: u64,
}
