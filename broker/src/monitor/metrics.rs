//! `/metrics`: the server's counters in Prometheus' text format, rendered by
//! metrics-exporter-prometheus.
//!
//! Nothing on the message path records a metric. Each scrape copies the
//! counters the server already keeps for `/varz` (relaxed atomics, the
//! client registry's length, the sublist's count, each route's stats) into
//! a [`PrometheusRecorder`] owned by this endpoint, counters with
//! `absolute()` and gauges with `set()`, and renders it. The recorder is not
//! the process-wide one, so several servers in one process (tests) each
//! report their own numbers.
//!
//! Names carry the `starling_` prefix, counters end in `_total`, units are
//! base units (`_bytes`, `_seconds`). Labels are bounded: `kind` is
//! `client` or `route`, `origin` is `local` or `remote`, `version` is this
//! build's. Every series exists from startup, at 0.
//!
//! JetStream series (`starling_jetstream_*`, see `metrics_jetstream`)
//! exist while JetStream runs.
//!
//! Per-account series (`starling_account_*`) carry an `account` label that
//! stays bounded: only the configured accounts, `$G` and the system
//! account get their own value; every other account (learned from a peer,
//! created on demand) is summed into `account="other"`. So the label has at
//! most configured + 3 values, whatever peers or clients name.
//!
//! The `kind` split of traffic: what routes carried is the sum of every
//! route's own counters (`Peer::stats`), plus the last reading of routes
//! that have since closed, so a lost route does not make the series go
//! back. Inbound, the server totals include messages received over routes,
//! so `client = total - route`; likewise outbound, where the server totals
//! count forwards to routes as nats-server does. A counter never goes back
//! even if two readings race (it is held at its previous value instead).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics::{describe_counter, describe_gauge, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

use super::metrics_accounts::account_readings;
use super::shared::Monitor;
use crate::client::handle::lock;
use crate::server::info::STARLING_VERSION;
use crate::stats::TrafficSnapshot;

/// Content type of Prometheus' text exposition format, version 0.0.4.
pub const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Counters: name, help text, unit.
const COUNTERS: [(&str, &str, Unit); 7] = [
    (
        "starling_in_msgs_total",
        "Messages received, from clients and from routes.",
        Unit::Count,
    ),
    (
        "starling_out_msgs_total",
        "Messages sent, to clients and to routes.",
        Unit::Count,
    ),
    (
        "starling_in_bytes_total",
        "Payload bytes (headers included) received.",
        Unit::Bytes,
    ),
    (
        "starling_out_bytes_total",
        "Payload bytes (headers included) sent.",
        Unit::Bytes,
    ),
    (
        "starling_connections_total",
        "Client connections accepted since start.",
        Unit::Count,
    ),
    (
        "starling_slow_consumers_total",
        "Client connections closed as slow consumers.",
        Unit::Count,
    ),
    (
        "starling_auth_failures_total",
        "Failed client authentications.",
        Unit::Count,
    ),
];

/// Per-account counters (label `account`): name, help text, unit.
const ACCOUNT_COUNTERS: [(&str, &str, Unit); 4] = [
    (
        "starling_account_in_msgs_total",
        "Messages the account's local clients published.",
        Unit::Count,
    ),
    (
        "starling_account_in_bytes_total",
        "Payload bytes the account's local clients published.",
        Unit::Bytes,
    ),
    (
        "starling_account_out_msgs_total",
        "Messages delivered for the account's local clients' publishes.",
        Unit::Count,
    ),
    (
        "starling_account_out_bytes_total",
        "Payload bytes delivered for the account's local clients' publishes.",
        Unit::Bytes,
    ),
];

/// Per-account gauges (label `account`).
const ACCOUNT_GAUGES: [(&str, &str, Unit); 1] = [(
    "starling_account_connections",
    "Open client connections in the account.",
    Unit::Count,
)];

/// Gauges: name, help text, unit.
const GAUGES: [(&str, &str, Unit); 10] = [
    ("starling_connections", "Open client connections.", Unit::Count),
    (
        "starling_subscriptions",
        "Subscriptions of local clients.",
        Unit::Count,
    ),
    ("starling_routes", "Established cluster routes.", Unit::Count),
    (
        "starling_interest_entries",
        "Interest entries: subjects and queue groups with local interest, and peers' announced interest.",
        Unit::Count,
    ),
    (
        "starling_lame_duck",
        "1 while the server is in lame duck mode.",
        Unit::Count,
    ),
    (
        "starling_build_info",
        "Always 1; the version label names this build.",
        Unit::Count,
    ),
    (
        "starling_uptime_seconds",
        "Seconds since the server started.",
        Unit::Seconds,
    ),
    (
        "starling_process_resident_memory_bytes",
        "Resident set size of the process.",
        Unit::Bytes,
    ),
    (
        "starling_process_start_time_seconds",
        "Start time of the server since the Unix epoch.",
        Unit::Seconds,
    ),
    (
        "starling_process_open_fds",
        "Open file descriptors of the process.",
        Unit::Count,
    ),
];

/// The `/metrics` endpoint's state.
pub struct MetricsEndpoint {
    /// The monitor whose server is reported.
    monitor: Arc<Monitor>,
    /// Holds the series; local to this endpoint (see the module doc).
    recorder: PrometheusRecorder,
    /// Renders `recorder`.
    handle: PrometheusHandle,
    /// The traffic split carried from scrape to scrape. Locked for one whole
    /// scrape (update and render), so concurrent scrapes never interleave
    /// their updates; a leaf lock, never held across an `.await`.
    split: Mutex<TrafficSplit>,
}

/// The `/metrics` route, with its own state.
pub fn router(monitor: Arc<Monitor>) -> Router {
    Router::new()
        .route("/metrics", get(handle))
        .with_state(Arc::new(MetricsEndpoint::new(monitor)))
}

/// `GET /metrics`.
pub async fn handle(State(endpoint): State<Arc<MetricsEndpoint>>) -> Response {
    endpoint.monitor.count_request("/metrics");
    ([(CONTENT_TYPE, CONTENT_TYPE_TEXT)], endpoint.render()).into_response()
}

impl MetricsEndpoint {
    /// An endpoint reporting on `monitor`'s server, with every series
    /// described.
    pub fn new(monitor: Arc<Monitor>) -> Self {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            for (name, help, unit) in COUNTERS {
                describe_counter!(name, unit, help);
            }
            for (name, help, unit) in GAUGES.iter().chain(&ACCOUNT_GAUGES) {
                describe_gauge!(*name, *unit, *help);
            }
            for (name, help, unit) in ACCOUNT_COUNTERS {
                describe_counter!(name, unit, help);
            }
            super::metrics_jetstream::describe();
        });
        MetricsEndpoint {
            monitor,
            recorder,
            handle,
            split: Mutex::new(TrafficSplit::default()),
        }
    }

    /// Copy the server's counters into the recorder and render it.
    pub fn render(&self) -> String {
        let mut split = lock(&self.split);
        let reading = Reading::take(&self.monitor);
        let traffic = split.update(reading.total, &reading.routes);
        let jetstream = super::metrics_jetstream::take(&self.monitor);
        metrics::with_local_recorder(&self.recorder, || {
            record(&reading, &traffic);
            if let Some(jetstream) = &jetstream {
                super::metrics_jetstream::record(jetstream);
            }
        });
        let mut text = self.handle.render();
        if let Some(jetstream) = &jetstream {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            super::metrics_jetstream::render_fsync(jetstream, &mut text);
        }
        text
    }
}

/// Everything one scrape reports, read from the server.
struct Reading {
    total: TrafficSnapshot,
    routes: Vec<(u64, TrafficSnapshot)>,
    total_connections: u64,
    slow_consumers: u64,
    auth_failures: u64,
    connections: usize,
    subscriptions: usize,
    local_interest: usize,
    remote_interest: usize,
    lame_duck: bool,
    uptime: Duration,
    start_since_epoch: Duration,
    resident_memory_bytes: u64,
    open_fds: usize,
    /// Per account label (bounded, see the module doc): connections and
    /// traffic.
    accounts: Vec<(String, usize, TrafficSnapshot)>,
}

impl Reading {
    fn take(monitor: &Monitor) -> Reading {
        let server = &monitor.server;
        let routes = server.cluster.get().map_or_else(Vec::new, |cluster| {
            cluster
                .peers()
                .iter()
                .map(|peer| {
                    let stats = &peer.stats;
                    let traffic = TrafficSnapshot {
                        in_msgs: stats.in_msgs.load(Ordering::Relaxed),
                        in_bytes: stats.in_bytes.load(Ordering::Relaxed),
                        out_msgs: stats.out_msgs.load(Ordering::Relaxed),
                        out_bytes: stats.out_bytes.load(Ordering::Relaxed),
                    };
                    (peer.rid, traffic)
                })
                .collect()
        });
        let remote_interest = server.remote_interest.total();
        Reading {
            total: server.traffic.snapshot(),
            routes,
            total_connections: server.total_connections.load(Ordering::Relaxed),
            slow_consumers: server.slow_consumers.load(Ordering::Relaxed),
            auth_failures: server.auth_failures.load(Ordering::Relaxed),
            connections: server.client_count(),
            subscriptions: server.local_subscription_count(),
            local_interest: server.local_interest.len(),
            remote_interest,
            lame_duck: server.lame_duck.load(Ordering::Relaxed),
            uptime: SystemTime::now()
                .duration_since(server.start)
                .unwrap_or_default(),
            start_since_epoch: server.start.duration_since(UNIX_EPOCH).unwrap_or_default(),
            resident_memory_bytes: monitor.usage.resident_memory_bytes(),
            open_fds: open_fds(),
            accounts: account_readings(monitor),
        }
    }
}

/// Set every series from `reading` (the local recorder must be in force).
fn record(reading: &Reading, traffic: &KindTraffic) {
    for (kind, counts) in [("client", &traffic.client), ("route", &traffic.route)] {
        metrics::counter!("starling_in_msgs_total", "kind" => kind).absolute(counts.in_msgs);
        metrics::counter!("starling_out_msgs_total", "kind" => kind).absolute(counts.out_msgs);
        metrics::counter!("starling_in_bytes_total", "kind" => kind).absolute(counts.in_bytes);
        metrics::counter!("starling_out_bytes_total", "kind" => kind).absolute(counts.out_bytes);
    }
    metrics::counter!("starling_connections_total").absolute(reading.total_connections);
    metrics::counter!("starling_slow_consumers_total").absolute(reading.slow_consumers);
    metrics::counter!("starling_auth_failures_total").absolute(reading.auth_failures);

    metrics::gauge!("starling_connections").set(reading.connections as f64);
    metrics::gauge!("starling_subscriptions").set(reading.subscriptions as f64);
    metrics::gauge!("starling_routes").set(reading.routes.len() as f64);
    metrics::gauge!("starling_interest_entries", "origin" => "local")
        .set(reading.local_interest as f64);
    metrics::gauge!("starling_interest_entries", "origin" => "remote")
        .set(reading.remote_interest as f64);
    metrics::gauge!("starling_lame_duck").set(if reading.lame_duck { 1.0 } else { 0.0 });
    metrics::gauge!("starling_build_info", "version" => STARLING_VERSION).set(1.0);
    metrics::gauge!("starling_uptime_seconds").set(reading.uptime.as_secs_f64());
    metrics::gauge!("starling_process_resident_memory_bytes")
        .set(reading.resident_memory_bytes as f64);
    metrics::gauge!("starling_process_start_time_seconds")
        .set(reading.start_since_epoch.as_secs_f64());
    metrics::gauge!("starling_process_open_fds").set(reading.open_fds as f64);
    for (account, connections, traffic) in &reading.accounts {
        let label = account.clone();
        metrics::gauge!("starling_account_connections", "account" => label.clone())
            .set(*connections as f64);
        metrics::counter!("starling_account_in_msgs_total", "account" => label.clone())
            .absolute(traffic.in_msgs);
        metrics::counter!("starling_account_in_bytes_total", "account" => label.clone())
            .absolute(traffic.in_bytes);
        metrics::counter!("starling_account_out_msgs_total", "account" => label.clone())
            .absolute(traffic.out_msgs);
        metrics::counter!("starling_account_out_bytes_total", "account" => label)
            .absolute(traffic.out_bytes);
    }
}

/// Entries of `/proc/self/fd` (0 where `/proc` is missing).
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |entries| entries.count())
}

/// Traffic counters by `kind`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct KindTraffic {
    client: TrafficSnapshot,
    route: TrafficSnapshot,
}

/// What the `kind` split remembers between scrapes (see the module doc).
#[derive(Debug, Default)]
struct TrafficSplit {
    /// Last reading of each open route, by route id.
    open_routes: HashMap<u64, TrafficSnapshot>,
    /// Sum of the last readings of routes that have closed.
    closed_routes: TrafficSnapshot,
    /// What was reported last, so no counter goes back.
    reported: KindTraffic,
}

impl TrafficSplit {
    /// The split for server totals `total` and open routes `routes`.
    fn update(&mut self, total: TrafficSnapshot, routes: &[(u64, TrafficSnapshot)]) -> KindTraffic {
        let open: HashMap<u64, TrafficSnapshot> = routes.iter().copied().collect();
        for (rid, last) in &self.open_routes {
            if !open.contains_key(rid) {
                self.closed_routes = add(self.closed_routes, *last);
            }
        }
        let route = open
            .values()
            .fold(self.closed_routes, |sum, r| add(sum, *r));
        self.open_routes = open;
        let client = TrafficSnapshot {
            in_msgs: total.in_msgs.saturating_sub(route.in_msgs),
            in_bytes: total.in_bytes.saturating_sub(route.in_bytes),
            out_msgs: total.out_msgs.saturating_sub(route.out_msgs),
            out_bytes: total.out_bytes.saturating_sub(route.out_bytes),
        };
        self.reported = KindTraffic {
            client: at_least(client, self.reported.client),
            route: at_least(route, self.reported.route),
        };
        self.reported
    }
}

fn add(a: TrafficSnapshot, b: TrafficSnapshot) -> TrafficSnapshot {
    TrafficSnapshot {
        in_msgs: a.in_msgs.saturating_add(b.in_msgs),
        in_bytes: a.in_bytes.saturating_add(b.in_bytes),
        out_msgs: a.out_msgs.saturating_add(b.out_msgs),
        out_bytes: a.out_bytes.saturating_add(b.out_bytes),
    }
}

fn at_least(value: TrafficSnapshot, floor: TrafficSnapshot) -> TrafficSnapshot {
    TrafficSnapshot {
        in_msgs: value.in_msgs.max(floor.in_msgs),
        in_bytes: value.in_bytes.max(floor.in_bytes),
        out_msgs: value.out_msgs.max(floor.out_msgs),
        out_bytes: value.out_bytes.max(floor.out_bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn traffic(in_msgs: u64, out_msgs: u64) -> TrafficSnapshot {
        TrafficSnapshot {
            in_msgs,
            in_bytes: in_msgs * 10,
            out_msgs,
            out_bytes: out_msgs * 10,
        }
    }

    #[test]
    fn without_routes_all_traffic_is_client_traffic() {
        let mut split = TrafficSplit::default();
        let kinds = split.update(traffic(5, 7), &[]);
        assert_eq!(kinds.client, traffic(5, 7));
        assert_eq!(kinds.route, TrafficSnapshot::default());
    }

    #[test]
    fn inbound_route_traffic_is_taken_out_of_the_client_share() {
        let mut split = TrafficSplit::default();
        let kinds = split.update(traffic(10, 4), &[(1, traffic(3, 2)), (2, traffic(1, 1))]);
        assert_eq!(kinds.route, traffic(4, 3));
        assert_eq!(kinds.client, traffic(6, 1));
    }

    #[test]
    fn a_closed_route_keeps_its_counts_in_the_route_share() {
        let mut split = TrafficSplit::default();
        split.update(traffic(10, 4), &[(1, traffic(3, 2))]);
        let kinds = split.update(traffic(12, 5), &[(2, traffic(1, 0))]);
        assert_eq!(kinds.route, traffic(4, 2));
        assert_eq!(kinds.client, traffic(8, 3));
        // The same route id coming back later counts from its new stats.
        let kinds = split.update(traffic(13, 5), &[(2, traffic(1, 0)), (1, traffic(1, 1))]);
        assert_eq!(kinds.route, traffic(5, 3));
    }

    #[test]
    fn counters_never_go_back_when_readings_race() {
        let mut split = TrafficSplit::default();
        split.update(traffic(10, 0), &[(1, traffic(2, 0))]);
        // The route counted a message the server total does not show yet.
        let kinds = split.update(traffic(10, 0), &[(1, traffic(3, 0))]);
        assert_eq!(kinds.client.in_msgs, 8);
        assert_eq!(kinds.route.in_msgs, 3);
    }

    #[test]
    fn every_series_is_described_with_the_prefix_and_suffix_rules() {
        for (name, help, _) in COUNTERS {
            assert!(
                name.starts_with("starling_") && name.ends_with("_total"),
                "{name}"
            );
            assert!(!help.is_empty());
        }
        for (name, help, _) in GAUGES {
            assert!(
                name.starts_with("starling_") && !name.ends_with("_total"),
                "{name}"
            );
            assert!(!help.is_empty());
        }
    }
}
