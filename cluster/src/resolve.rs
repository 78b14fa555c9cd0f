//! Name resolution for seed routes: a [`Resolver`] trait (the system's
//! resolver in production, a fixed table in tests) and the rule that says
//! which seeds need one.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Mutex;

use crate::transport::BoxFuture;

/// Resolves a route URL's host to every address it names.
pub trait Resolver: fmt::Debug + Send + Sync + 'static {
    /// Every address of `host`, with `port`. An empty list or an error both
    /// mean "nothing to dial now"; the name is resolved again later.
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, io::Result<Vec<SocketAddr>>>;
}

/// The operating system's resolver (`getaddrinfo` through Tokio).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, io::Result<Vec<SocketAddr>>> {
        Box::pin(async move {
            let mut addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host, port)).await?.collect();
            dedup_in_order(&mut addresses);
            Ok(addresses)
        })
    }
}

/// A fixed table of names (tests): a name maps to its addresses in order;
/// an unknown name fails to resolve. The table can be changed while nodes
/// run, to test re-resolution.
#[derive(Debug, Default)]
pub struct StaticResolver {
    names: Mutex<HashMap<String, Vec<IpAddr>>>,
}

impl StaticResolver {
    /// A table with `name` resolving to `addresses`.
    pub fn new(name: &str, addresses: &[IpAddr]) -> Self {
        let resolver = StaticResolver::default();
        resolver.set(name, addresses);
        resolver
    }

    /// Make `name` resolve to `addresses` from now on.
    pub fn set(&self, name: &str, addresses: &[IpAddr]) {
        crate::shared::lock(&self.names).insert(name.to_ascii_lowercase(), addresses.to_vec());
    }
}

impl Resolver for StaticResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, io::Result<Vec<SocketAddr>>> {
        let found = crate::shared::lock(&self.names)
            .get(&host.to_ascii_lowercase())
            .map(|ips| ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect());
        Box::pin(async move {
            found.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "unknown name"))
        })
    }
}

/// A hosts file (`/etc/hosts` syntax: an address, then names) read at every
/// resolution, in front of the system resolver: a name it lists resolves to
/// every address listed for it, in file order; other names go to the system.
/// For tests that need one name behind several loopback addresses without
/// touching the machine's `/etc/hosts` (the broker enables it from the
/// test-only `STARLING_TEST_HOSTS_FILE` variable).
#[derive(Debug, Clone)]
pub struct HostsFileResolver {
    path: PathBuf,
}

impl HostsFileResolver {
    /// Resolve through the hosts file at `path` first.
    pub fn new(path: PathBuf) -> Self {
        HostsFileResolver { path }
    }
}

impl Resolver for HostsFileResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, io::Result<Vec<SocketAddr>>> {
        Box::pin(async move {
            let text = tokio::fs::read_to_string(&self.path).await?;
            let listed = hosts_lookup(&text, host);
            if listed.is_empty() {
                return SystemResolver.resolve(host, port).await;
            }
            Ok(listed
                .into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect())
        })
    }
}

/// The addresses `text` (hosts file syntax) lists for `host`, in order.
fn hosts_lookup(text: &str, host: &str) -> Vec<IpAddr> {
    let mut found = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default();
        let mut fields = line.split_whitespace();
        let Some(Ok(ip)) = fields.next().map(str::parse::<IpAddr>) else {
            continue;
        };
        if fields.any(|name| name.eq_ignore_ascii_case(host)) && !found.contains(&ip) {
            found.push(ip);
        }
    }
    found
}

fn dedup_in_order(addresses: &mut Vec<SocketAddr>) {
    let mut seen = Vec::with_capacity(addresses.len());
    addresses.retain(|addr| {
        let new = !seen.contains(addr);
        if new {
            seen.push(*addr);
        }
        new
    });
}

/// The host and port of a route URL's `host:port` when the host is a name
/// (not an IP literal), i.e. when the seed must be resolved.
pub(crate) fn named_host(host_port: &str) -> Option<(&str, u16)> {
    let (host, port) = host_port.rsplit_once(':')?;
    let port = port.parse().ok()?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<IpAddr>().is_ok() {
        return None;
    }
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_literals_are_not_resolved_names_are() {
        assert_eq!(named_host("10.0.0.1:6222"), None);
        assert_eq!(named_host("[::1]:6222"), None);
        assert_eq!(
            named_host("starling-headless:6222"),
            Some(("starling-headless", 6222))
        );
    }

    #[test]
    fn hosts_file_lists_every_address_of_a_name_in_order() {
        let text = "# test\n127.0.0.1 mesh other\n127.0.0.2\tMESH # alias\n\n::1 other\n127.0.0.3 mesh\nbad mesh\n127.0.0.1 mesh\n";
        let ips = |list: &[&str]| {
            list.iter()
                .map(|s| s.parse().unwrap())
                .collect::<Vec<IpAddr>>()
        };
        assert_eq!(
            hosts_lookup(text, "mesh"),
            ips(&["127.0.0.1", "127.0.0.2", "127.0.0.3"])
        );
        assert_eq!(hosts_lookup(text, "other"), ips(&["127.0.0.1", "::1"]));
        assert!(hosts_lookup(text, "absent").is_empty());
    }

    #[tokio::test]
    async fn static_resolver_maps_names_and_changes() {
        let one: IpAddr = "127.0.0.1".parse().unwrap();
        let two: IpAddr = "127.0.0.2".parse().unwrap();
        let resolver = StaticResolver::new("mesh", &[one, two]);
        assert_eq!(
            resolver.resolve("MESH", 7).await.unwrap(),
            vec![SocketAddr::new(one, 7), SocketAddr::new(two, 7)]
        );
        resolver.set("mesh", &[two]);
        assert_eq!(
            resolver.resolve("mesh", 7).await.unwrap(),
            vec![SocketAddr::new(two, 7)]
        );
        assert!(resolver.resolve("other", 7).await.is_err());
    }
}
