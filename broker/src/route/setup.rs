//! Cluster configuration from the node's options.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use starling_cluster::{ClusterConfig, HostsFileResolver, Resolver, SystemResolver};

use crate::options::{ClusterOptions, Options};

/// Longest a route handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);
/// Routes get more room than clients before they count as slow: a route
/// carries many clients' traffic.
const ROUTE_MAX_PENDING_FACTOR: usize = 4;

/// Test-only: a hosts file (`/etc/hosts` syntax) consulted before the
/// system resolver for seed route names, so tests can put one name in front
/// of several loopback addresses without touching the machine's
/// `/etc/hosts`. Not a supported production setting.
const TEST_HOSTS_FILE_VAR: &str = "STARLING_TEST_HOSTS_FILE";

/// The cluster settings for a node with server id `node_id`.
pub fn cluster_config(
    options: &Options,
    cluster: &ClusterOptions,
    node_id: &str,
    node_name: &str,
    client_addr: SocketAddr,
) -> ClusterConfig {
    ClusterConfig {
        node_id: node_id.to_string(),
        node_name: node_name.to_string(),
        cluster_name: cluster.name.clone(),
        advertise: cluster.advertise.clone(),
        seeds: cluster.routes.clone(),
        user: cluster.user.clone(),
        password: cluster.password.clone(),
        client_urls: client_urls(options, client_addr),
        connect_retries: cluster.connect_retries,
        ping_interval: cluster.ping_interval,
        ping_max: cluster.ping_max,
        handshake_timeout: cluster.auth_timeout.max(HANDSHAKE_TIMEOUT),
        max_pending: options.max_pending.saturating_mul(ROUTE_MAX_PENDING_FACTOR),
        readiness_grace: cluster.readiness_grace_period,
        resolver: resolver(),
    }
}

/// The system resolver, or (tests only) a hosts file in front of it.
fn resolver() -> Arc<dyn Resolver> {
    match std::env::var_os(TEST_HOSTS_FILE_VAR) {
        Some(path) => {
            tracing::warn!(path = %std::path::Path::new(&path).display(), "resolving route names through a test hosts file ({TEST_HOSTS_FILE_VAR})");
            Arc::new(HostsFileResolver::new(path.into()))
        }
        None => Arc::new(SystemResolver),
    }
}

/// This node's client URLs for others' connect_urls: `client_advertise`, or
/// the bound address, or (bound to every interface) each non-loopback
/// address, as nats-server lists them.
pub fn client_urls(options: &Options, client_addr: SocketAddr) -> Vec<String> {
    if let Some(advertise) = &options.client_advertise {
        return vec![advertise.clone()];
    }
    let port = client_addr.port();
    if !client_addr.ip().is_unspecified() {
        return vec![host_port(client_addr.ip(), port)];
    }
    let mut urls: Vec<String> = interface_addresses()
        .into_iter()
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
        .map(|ip| host_port(ip, port))
        .collect();
    if urls.is_empty() {
        urls.push(host_port(IpAddr::from([127, 0, 0, 1]), port));
    }
    urls
}

fn host_port(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{v4}:{port}"),
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
    }
}

fn interface_addresses() -> Vec<IpAddr> {
    let Ok(addresses) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    let mut ips: Vec<IpAddr> = addresses
        .filter_map(|ifaddr| ifaddr.address)
        .filter_map(|address| address.as_sockaddr_in().map(|v4| IpAddr::V4(v4.ip())))
        .collect();
    ips.sort();
    ips.dedup();
    ips
}
