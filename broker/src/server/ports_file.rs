//! The ports file of `ports_file_dir` / `--ports_file_dir`, as nats-server
//! writes it: `<executable>_<pid>.ports` holding the listeners' URLs as JSON,
//! `{"nats":[...],"monitoring":[...],"cluster":[...]}` (empty kinds left
//! out), written once the listeners are bound and removed at shutdown.
//! A listener bound to every interface is listed once per local IPv4
//! address, loopback included, as nats-server lists them.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::listen::Server;

/// The JSON document (nats-server's `Ports`).
#[derive(Debug, Serialize, PartialEq)]
pub struct Ports {
    /// Client URLs, `nats://host:port`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nats: Vec<String>,
    /// Monitoring URLs, `http://host:port`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub monitoring: Vec<String>,
    /// Route URLs, `nats://host:port`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cluster: Vec<String>,
}

impl Ports {
    /// The URLs of `server`'s bound listeners.
    pub fn of(server: &Server) -> Ports {
        let local = local_ipv4_addresses();
        let urls = |scheme: &str, addr: Option<SocketAddr>| {
            addr.map_or_else(Vec::new, |addr| listener_urls(scheme, addr, &local))
        };
        Ports {
            nats: urls("nats", server.client_addr().ok()),
            monitoring: urls("http", server.monitor_addr()),
            cluster: urls("nats", server.route_addr()),
        }
    }
}

/// `<dir>/<executable>_<pid>.ports`, the executable's file name as started.
pub fn path_in(dir: &Path) -> PathBuf {
    let executable = std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|path| {
            path.file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "starling".to_string());
    dir.join(format!("{executable}_{}.ports", std::process::id()))
}

/// Write the ports file of `server` into `dir`; returns its path.
pub fn write(dir: &Path, server: &Server) -> io::Result<PathBuf> {
    let path = path_in(dir);
    let json = serde_json::to_vec(&Ports::of(server)).map_err(io::Error::other)?;
    std::fs::write(&path, json)?;
    Ok(path)
}

/// One URL per address the listener answers on.
fn listener_urls(scheme: &str, addr: SocketAddr, local: &[IpAddr]) -> Vec<String> {
    let ips: Vec<IpAddr> = if addr.ip().is_unspecified() && !local.is_empty() {
        local.to_vec()
    } else if addr.ip().is_unspecified() {
        vec![IpAddr::from([127, 0, 0, 1])]
    } else {
        vec![addr.ip()]
    };
    ips.into_iter()
        .map(|ip| format!("{scheme}://{}", SocketAddr::new(ip, addr.port())))
        .collect()
}

/// Local IPv4 addresses in interface order (loopback first on Linux).
fn local_ipv4_addresses() -> Vec<IpAddr> {
    let Ok(addresses) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    let mut ips = Vec::new();
    for ip in addresses
        .filter_map(|ifaddr| ifaddr.address)
        .filter_map(|address| address.as_sockaddr_in().map(|v4| IpAddr::V4(v4.ip())))
    {
        if !ips.contains(&ip) {
            ips.push(ip);
        }
    }
    ips
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specific_and_wildcard_listeners() {
        let local = [IpAddr::from([127, 0, 0, 1]), IpAddr::from([10, 0, 0, 5])];
        let bound: SocketAddr = "127.0.0.1:4222".parse().expect("addr");
        assert_eq!(
            listener_urls("nats", bound, &local),
            vec!["nats://127.0.0.1:4222"]
        );
        let any: SocketAddr = "0.0.0.0:8222".parse().expect("addr");
        assert_eq!(
            listener_urls("http", any, &local),
            vec!["http://127.0.0.1:8222", "http://10.0.0.5:8222"]
        );
        assert_eq!(
            listener_urls("nats", any, &[]),
            vec!["nats://127.0.0.1:8222"]
        );
    }

    #[test]
    fn json_leaves_out_listeners_that_are_off() {
        let ports = Ports {
            nats: vec!["nats://127.0.0.1:4222".into()],
            monitoring: Vec::new(),
            cluster: vec!["nats://127.0.0.1:6222".into()],
        };
        assert_eq!(
            serde_json::to_string(&ports).expect("json"),
            r#"{"nats":["nats://127.0.0.1:4222"],"cluster":["nats://127.0.0.1:6222"]}"#
        );
        let name = path_in(Path::new("/run"));
        let file = name
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        assert!(
            file.ends_with(&format!("_{}.ports", std::process::id())),
            "{file}"
        );
    }
}
