//! Connections to other servers: `/routez` (cluster routes), and `/gatewayz`
//! and `/leafz`, which Starling answers empty (it has no gateways or leaf
//! nodes) so exporters polling them get nats-server's shape, not a 404.
//!
//! [`routes`] lists the cluster's established routes with nats-server's
//! fields (and 2.10's `remote_name`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use std::sync::atomic::Ordering;

use super::format::{rfc3339, rtt, uptime};
use super::params::Params;
use super::shared::{json_response, Monitor};
use super::subsz::SubDetail;

/// The `/routez` document.
#[derive(Debug, Serialize)]
pub struct Routez {
    server_id: String,
    now: String,
    num_routes: usize,
    routes: Vec<RouteInfo>,
}

/// One route (nats-server `RouteInfo`).
#[derive(Debug, Clone, Serialize)]
pub struct RouteInfo {
    /// Route connection id.
    pub rid: u64,
    /// The peer's server id.
    pub remote_id: String,
    /// The peer's server name.
    pub remote_name: String,
    /// This server dialed it.
    pub did_solicit: bool,
    /// It is one of the configured seeds (not learned by gossip).
    pub is_configured: bool,
    /// Peer address.
    pub ip: String,
    /// Peer port.
    pub port: u16,
    /// Connected at (RFC 3339).
    pub start: String,
    /// Last inbound data (RFC 3339).
    pub last_activity: String,
    /// Round-trip time as a Go duration.
    pub rtt: String,
    /// As `myUptime`.
    pub uptime: String,
    /// As `myUptime`.
    pub idle: String,
    /// Bytes queued to the peer.
    pub pending_size: usize,
    /// Messages received from the peer.
    pub in_msgs: u64,
    /// Messages sent to the peer.
    pub out_msgs: u64,
    /// Bytes received.
    pub in_bytes: u64,
    /// Bytes sent.
    pub out_bytes: u64,
    /// Interest the peer registered.
    pub subscriptions: usize,
    /// With `subs=1`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subscriptions_list: Vec<String>,
    /// With `subs=detail`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subscriptions_list_detail: Vec<SubDetail>,
}

/// Which subscription lists a route listing includes.
#[derive(Debug, Clone, Copy, Default)]
pub struct RouteListing {
    /// `subs=1`: subjects.
    pub subscriptions: bool,
    /// `subs=detail`: details.
    pub subscriptions_detail: bool,
}

impl RouteListing {
    /// Keep the lists asked for: details win over subjects, as in nats-server.
    fn trim(self, mut route: RouteInfo) -> RouteInfo {
        if !self.subscriptions_detail {
            route.subscriptions_list_detail.clear();
        }
        if self.subscriptions_detail || !self.subscriptions {
            route.subscriptions_list.clear();
        }
        route
    }
}

/// The routes of this server, as `/routez` lists them. The source list
/// carries both subscription lists; `listing` trims them.
pub fn routes(monitor: &Monitor, listing: RouteListing) -> Vec<RouteInfo> {
    let server = &monitor.server;
    let Some(cluster) = server.cluster.get() else {
        return Vec::new();
    };
    let now = SystemTime::now();
    let mut routes: Vec<RouteInfo> = cluster
        .peers()
        .iter()
        .map(|peer| {
            let subjects = if listing.subscriptions || listing.subscriptions_detail {
                server.remote_interest.subjects(peer.rid)
            } else {
                Vec::new()
            };
            let last_activity = peer.last_activity();
            RouteInfo {
                rid: peer.rid,
                remote_id: peer.node_id.clone(),
                remote_name: peer.node_name.clone(),
                did_solicit: peer.did_solicit,
                is_configured: peer.is_configured,
                ip: peer.remote_addr.ip().to_string(),
                port: peer.remote_addr.port(),
                start: rfc3339(peer.start),
                last_activity: rfc3339(last_activity),
                rtt: peer
                    .rtt()
                    .map_or_else(String::new, |d| rtt(d.as_nanos() as u64)),
                uptime: uptime(now.duration_since(peer.start).unwrap_or_default()),
                idle: uptime(now.duration_since(last_activity).unwrap_or_default()),
                pending_size: peer.pending_bytes(),
                in_msgs: peer.stats.in_msgs.load(Ordering::Relaxed),
                out_msgs: peer.stats.out_msgs.load(Ordering::Relaxed),
                in_bytes: peer.stats.in_bytes.load(Ordering::Relaxed),
                out_bytes: peer.stats.out_bytes.load(Ordering::Relaxed),
                subscriptions: server.remote_interest.count(peer.rid),
                subscriptions_list: subjects
                    .iter()
                    .map(|(subject, _)| subject.clone())
                    .collect(),
                subscriptions_list_detail: subjects
                    .iter()
                    .map(|(subject, queue)| SubDetail::remote(subject, queue.as_deref()))
                    .collect(),
            }
        })
        .collect();
    routes.sort_by_key(|route| route.rid);
    routes
        .into_iter()
        .map(|route| listing.trim(route))
        .collect()
}

/// `GET /routez`.
pub async fn handle(State(monitor): State<Arc<Monitor>>, Query(params): Query<Params>) -> Response {
    let (subscriptions, subscriptions_detail) = match params.subs() {
        Ok(subs) => subs,
        Err(bad) => return bad.into_response(),
    };
    monitor.count_request("/routez");
    let listing = RouteListing {
        subscriptions,
        subscriptions_detail,
    };
    let routes = routes(&monitor, listing);
    let routez = Routez {
        server_id: monitor.server.server_id.clone(),
        now: rfc3339(SystemTime::now()),
        num_routes: routes.len(),
        routes,
    };
    json_response(&params, &routez)
}

/// The `/gatewayz` document of a server without gateways.
#[derive(Debug, Serialize)]
struct Gatewayz {
    server_id: String,
    now: String,
    outbound_gateways: BTreeMap<String, ()>,
    inbound_gateways: BTreeMap<String, ()>,
}

/// `GET /gatewayz`: no gateways.
pub async fn handle_gatewayz(
    State(monitor): State<Arc<Monitor>>,
    Query(params): Query<Params>,
) -> Response {
    if let Err(bad) = params.bool("accs") {
        return bad.into_response();
    }
    monitor.count_request("/gatewayz");
    let gatewayz = Gatewayz {
        server_id: monitor.server.server_id.clone(),
        now: rfc3339(SystemTime::now()),
        outbound_gateways: BTreeMap::new(),
        inbound_gateways: BTreeMap::new(),
    };
    json_response(&params, &gatewayz)
}

/// The `/leafz` document of a server without leaf nodes.
#[derive(Debug, Serialize)]
struct Leafz {
    server_id: String,
    now: String,
    leafnodes: usize,
    leafs: [(); 0],
}

/// `GET /leafz`: no leaf nodes.
pub async fn handle_leafz(
    State(monitor): State<Arc<Monitor>>,
    Query(params): Query<Params>,
) -> Response {
    if let Err(bad) = params.bool("subs") {
        return bad.into_response();
    }
    monitor.count_request("/leafz");
    let leafz = Leafz {
        server_id: monitor.server.server_id.clone(),
        now: rfc3339(SystemTime::now()),
        leafnodes: 0,
        leafs: [],
    };
    json_response(&params, &leafz)
}
