//! `/varz`: server identity, limits and counters (nats-server `Varz`).
//!
//! Field names, order and omissions follow nats-server's `Varz` struct for a
//! single node: `omitempty` fields that would be empty here (`git_commit`,
//! `tls_required`/`tls_verify` without TLS, `ip`, `connect_urls`, `tags`,
//! ...) are left
//! out, and the nested option structs print as `{}` when unset, as Go does.
//! `starling_version` is the one field nats-server does not have.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::{Query, State};
use axum::response::Response;
use serde::Serialize;

use super::format::{go_float, nanos, rfc3339, uptime};
use super::params::Params;
use super::shared::{json_response, Monitor};
use crate::client::handle::lock;
use crate::limits;
use crate::options::{ClusterOptions, TlsOptions};
use crate::server::info::{GO_FIELD, NATS_COMPATIBLE_VERSION, STARLING_VERSION};
use crate::server::ServerState;

/// `tls_timeout` in seconds: the configured one, or nats-server's default
/// (which it reports even without TLS).
fn tls_timeout_seconds(tls: Option<&TlsOptions>) -> f64 {
    tls.map_or(limits::TLS_TIMEOUT, |tls| tls.timeout)
        .as_secs_f64()
}

/// The `/varz` document.
#[derive(Debug, Serialize)]
pub struct Varz {
    server_id: String,
    server_name: String,
    version: &'static str,
    proto: u8,
    go: &'static str,
    host: String,
    port: u16,
    #[serde(skip_serializing_if = "is_false")]
    auth_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    tls_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    tls_verify: bool,
    max_connections: usize,
    #[serde(skip_serializing_if = "is_zero")]
    max_subscriptions: usize,
    /// Nanoseconds.
    ping_interval: u64,
    ping_max: u32,
    http_host: String,
    http_port: u16,
    http_base_path: &'static str,
    https_port: u16,
    /// Seconds.
    #[serde(serialize_with = "go_float")]
    auth_timeout: f64,
    max_control_line: usize,
    max_payload: usize,
    max_pending: usize,
    cluster: ClusterVarz,
    gateway: Empty,
    leaf: Empty,
    mqtt: Empty,
    websocket: Empty,
    jetstream: serde_json::Value,
    /// Seconds.
    #[serde(serialize_with = "go_float")]
    tls_timeout: f64,
    /// Nanoseconds.
    write_deadline: u64,
    start: String,
    now: String,
    uptime: String,
    mem: u64,
    cores: usize,
    gomaxprocs: usize,
    #[serde(serialize_with = "go_float")]
    cpu: f64,
    connections: usize,
    total_connections: u64,
    routes: usize,
    remotes: usize,
    leafnodes: usize,
    in_msgs: u64,
    out_msgs: u64,
    in_bytes: u64,
    out_bytes: u64,
    slow_consumers: u64,
    subscriptions: usize,
    http_req_stats: std::collections::BTreeMap<&'static str, u64>,
    config_load_time: String,
    /// The system account's name (always present: Starling always has one).
    system_account: String,
    starling_version: &'static str,
}

/// nats-server's `ClusterOptsVarz`: every field omitted when empty, so a
/// node without a cluster shows `"cluster": {}`.
#[derive(Debug, Default, Serialize)]
struct ClusterVarz {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    addr: Option<String>,
    #[serde(skip_serializing_if = "is_zero_u16")]
    cluster_port: u16,
    #[serde(skip_serializing_if = "is_zero_f64", serialize_with = "go_float")]
    auth_timeout: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    urls: Vec<String>,
    #[serde(skip_serializing_if = "is_zero_f64", serialize_with = "go_float")]
    tls_timeout: f64,
    #[serde(skip_serializing_if = "is_false")]
    tls_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    tls_verify: bool,
}

/// `jetstream` of `/varz` when JetStream runs (nats-server `JetStreamVarz`:
/// config and stats); `{}` otherwise.
#[derive(Debug, Serialize)]
pub struct JetStreamVarz {
    config: crate::jetstream::ReportConfig,
    stats: serde_json::Value,
}

impl JetStreamVarz {
    fn of(jetstream: &crate::jetstream::JetStream, leader: &str) -> Self {
        let report = jetstream.report(&crate::jetstream::ReportOptions::default(), leader);
        JetStreamVarz {
            config: report.config.clone(),
            stats: serde_json::to_value(&report.usage).unwrap_or_default(),
        }
    }
}

/// A section Starling has nothing for (gateway, leaf, mqtt, websocket,
/// jetstream): printed `{}` like nats-server's unset structs.
#[derive(Debug, Default, Serialize)]
struct Empty {}

fn is_false(value: &bool) -> bool {
    !*value
}

fn is_zero(value: &usize) -> bool {
    *value == 0
}

fn is_zero_u16(value: &u16) -> bool {
    *value == 0
}

fn is_zero_f64(value: &f64) -> bool {
    *value == 0.0
}

/// `GET /varz`.
pub async fn handle(State(monitor): State<Arc<Monitor>>, Query(params): Query<Params>) -> Response {
    monitor.count_request("/varz");
    json_response(&params, &varz(&monitor))
}

/// Build the document now.
pub fn varz(monitor: &Monitor) -> Varz {
    let server = &monitor.server;
    let options = server.options();
    let now = SystemTime::now();
    let traffic = server.traffic.snapshot();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let port = lock(&server.client_addr).map_or(options.port, |addr| addr.port());
    Varz {
        server_id: server.server_id.clone(),
        server_name: server.server_name(),
        version: NATS_COMPATIBLE_VERSION,
        proto: 1,
        go: GO_FIELD,
        host: options.host.clone(),
        port,
        auth_required: server.authenticator().required(),
        tls_required: options.tls.is_some(),
        tls_verify: options.tls.as_ref().is_some_and(|tls| tls.verify),
        max_connections: options.max_connections,
        max_subscriptions: options.max_subscriptions,
        ping_interval: nanos(options.ping_interval),
        ping_max: options.ping_max,
        http_host: options
            .http_host
            .clone()
            .unwrap_or_else(|| options.host.clone()),
        http_port: monitor.http_port,
        http_base_path: "",
        https_port: 0,
        auth_timeout: options.authorization.timeout.as_secs_f64(),
        max_control_line: options.max_control_line,
        max_payload: options.max_payload,
        max_pending: options.max_pending,
        cluster: options
            .cluster
            .as_ref()
            .map(|cluster| cluster_varz(cluster, server))
            .unwrap_or_default(),
        gateway: Empty {},
        leaf: Empty {},
        mqtt: Empty {},
        websocket: Empty {},
        jetstream: server
            .jetstream
            .get()
            .map_or(serde_json::json!({}), |jetstream| {
                serde_json::to_value(JetStreamVarz::of(jetstream, &server.server_name()))
                    .unwrap_or_default()
            }),
        tls_timeout: tls_timeout_seconds(options.tls.as_ref()),
        write_deadline: nanos(options.write_deadline),
        start: rfc3339(server.start),
        now: rfc3339(now),
        uptime: uptime(now.duration_since(server.start).unwrap_or(Duration::ZERO)),
        mem: monitor.usage.resident_memory_bytes(),
        cores,
        gomaxprocs: cores,
        cpu: monitor.usage.cpu_percent(),
        connections: server.client_count(),
        total_connections: server.total_connections.load(Ordering::Relaxed),
        routes: server.cluster.get().map_or(0, |c| c.peers().len()),
        remotes: server.cluster.get().map_or(0, |c| c.peers().len()),
        leafnodes: 0,
        in_msgs: traffic.in_msgs,
        out_msgs: traffic.out_msgs,
        in_bytes: traffic.in_bytes,
        out_bytes: traffic.out_bytes,
        slow_consumers: server.slow_consumers.load(Ordering::Relaxed),
        subscriptions: server.local_subscription_count(),
        http_req_stats: monitor.request_counts(),
        config_load_time: rfc3339(*lock(&server.config_load_time)),
        system_account: server.accounts.system_name().to_string(),
        starling_version: STARLING_VERSION,
    }
}

/// The cluster section: the name in force (configured, adopted or
/// generated), the listener (the bound port when it was ephemeral) and the
/// seed routes as `host:port`, as nats-server reports them.
fn cluster_varz(cluster: &ClusterOptions, server: &ServerState) -> ClusterVarz {
    if !cluster.listen {
        // nats-server shows only the name of a portless cluster block.
        return ClusterVarz {
            name: cluster.name.clone(),
            ..ClusterVarz::default()
        };
    }
    let running = server.cluster.get();
    ClusterVarz {
        name: running.map(|c| c.name()).or_else(|| cluster.name.clone()),
        addr: Some(cluster.host.clone()),
        cluster_port: running.map_or(cluster.port, |c| c.listen_addr().port()),
        auth_timeout: cluster.auth_timeout.as_secs_f64(),
        urls: cluster
            .routes
            .iter()
            .map(|url| route_host_port(url))
            .collect(),
        tls_timeout: tls_timeout_seconds(cluster.tls.as_ref()),
        tls_required: cluster.tls.is_some(),
        tls_verify: cluster.tls.is_some(),
    }
}

/// `nats://user:pass@host:6222/path` -> `host:6222` (Go's `url.URL.Host`).
fn route_host_port(url: &str) -> String {
    let without_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = without_scheme.split('/').next().unwrap_or(without_scheme);
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_urls_are_reported_as_host_and_port() {
        assert_eq!(
            route_host_port("nats://user:pass@10.0.0.1:6222"),
            "10.0.0.1:6222"
        );
        assert_eq!(route_host_port("nats-route://seed:6222/"), "seed:6222");
        assert_eq!(route_host_port("seed:6222"), "seed:6222");
    }

    #[test]
    fn unset_sections_print_as_empty_objects() {
        let json = serde_json::to_value(ClusterVarz::default()).ok();
        assert_eq!(json, Some(serde_json::json!({})));
        assert_eq!(
            serde_json::to_value(Empty {}).ok(),
            Some(serde_json::json!({}))
        );
    }
}
