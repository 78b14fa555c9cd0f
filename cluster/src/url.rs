//! Route URLs: `nats://[user:pass@]host:port` and `nats-route://...`.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use crate::limits::DEFAULT_ROUTE_PORT;

/// A parsed route URL: where to dial and which credentials to present.
#[derive(Clone, PartialEq, Eq)]
pub struct RouteUrl {
    /// `host:port` as given to the dialer (`[v6]:port` for IPv6 literals).
    pub host_port: String,
    /// Route user from the URL's userinfo.
    pub user: Option<String>,
    /// Route password from the URL's userinfo.
    pub password: Option<String>,
    /// For an address resolved from a name seed: that name, which the
    /// peer's TLS certificate must carry (the dial goes to the address).
    pub tls_name: Option<String>,
}

/// Why a route URL was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteUrlError {
    /// A scheme other than `nats`, `nats-route` or `route`.
    UnsupportedScheme(String),
    /// No host.
    MissingHost,
    /// The port is not a number in 1..=65535.
    InvalidPort(String),
}

impl fmt::Display for RouteUrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedScheme(scheme) => write!(f, "unsupported route URL scheme {scheme:?}"),
            Self::MissingHost => f.write_str("route URL has no host"),
            Self::InvalidPort(port) => write!(f, "invalid route URL port {port:?}"),
        }
    }
}

impl std::error::Error for RouteUrlError {}

impl RouteUrl {
    /// Parse `[scheme://][user[:pass]@]host[:port][/path]`. Without a port,
    /// 6222 is assumed. The userinfo is taken verbatim (no percent-decoding).
    pub fn parse(url: &str) -> Result<RouteUrl, RouteUrlError> {
        let url = url.trim();
        let rest = match url.split_once("://") {
            Some((scheme, rest)) => {
                let known = ["nats", "nats-route", "route"];
                if !known.iter().any(|k| k.eq_ignore_ascii_case(scheme)) {
                    return Err(RouteUrlError::UnsupportedScheme(scheme.to_string()));
                }
                rest
            }
            None => url,
        };
        let authority = rest.split('/').next().unwrap_or_default();
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((userinfo, host_port)) => (Some(userinfo), host_port),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            Some(info) => match info.split_once(':') {
                Some((user, password)) => (Some(user.to_string()), Some(password.to_string())),
                None => (Some(info.to_string()), None),
            },
            None => (None, None),
        };
        let (host, port) = split_host_port(host_port)?;
        if host.is_empty() {
            return Err(RouteUrlError::MissingHost);
        }
        Ok(RouteUrl {
            host_port: format!("{host}:{port}"),
            user,
            password,
            tls_name: None,
        })
    }

    /// Replace the credentials with `user`/`password` when the URL has none.
    pub fn with_default_credentials(
        mut self,
        user: &Option<String>,
        password: &Option<String>,
    ) -> Self {
        if self.user.is_none() {
            self.user.clone_from(user);
            self.password.clone_from(password);
        }
        self
    }
}

/// Split `host:port` (`[v6]:port`); a missing port is the default one.
fn split_host_port(host_port: &str) -> Result<(&str, u16), RouteUrlError> {
    let (host, port) = if let Some(rest) = host_port.strip_prefix('[') {
        // An IPv6 literal keeps its brackets in `host_port`.
        let end = rest.find(']').ok_or(RouteUrlError::MissingHost)?;
        let host = &host_port[..end + 2];
        match rest[end + 1..].strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None => (host, None),
        }
    } else {
        match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    let port = match port {
        None => DEFAULT_ROUTE_PORT,
        Some(port) => match port.parse::<u16>() {
            Ok(port) if port != 0 => port,
            _ => return Err(RouteUrlError::InvalidPort(port.to_string())),
        },
    };
    Ok((host, port))
}

// Credentials stay out of logs.
impl fmt::Debug for RouteUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for RouteUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.user {
            Some(_) => write!(f, "nats-route://***@{}", self.host_port),
            None => write!(f, "nats-route://{}", self.host_port),
        }
    }
}

/// The route URL a peer advertised, with an unspecified host (0.0.0.0, ::)
/// replaced by the address the connection came from, as nats-server does
/// for a peer listening on all interfaces.
pub(crate) fn resolve_advertised(route_url: &str, observed: SocketAddr) -> String {
    let Ok(url) = RouteUrl::parse(route_url) else {
        return route_url.to_string();
    };
    let Ok((host, port)) = split_host_port(&url.host_port) else {
        return route_url.to_string();
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<IpAddr>() {
        Ok(ip) if ip.is_unspecified() => route_url_for(SocketAddr::new(observed.ip(), port)),
        _ => route_url.to_string(),
    }
}

/// `nats-route://ip:port` for a socket address.
pub(crate) fn route_url_for(addr: SocketAddr) -> String {
    format!("nats-route://{addr}")
}

/// Normalise an advertised address (`host:port` or a URL) into a route URL.
pub(crate) fn advertised_url(advertise: &str) -> String {
    match RouteUrl::parse(advertise) {
        Ok(url) => format!("nats-route://{}", url.host_port),
        Err(_) => advertise.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_with_credentials_parses_user_password_and_host() {
        let url = RouteUrl::parse("nats://ruser:T0pS3cr3t@nats:6222").unwrap();
        assert_eq!(url.host_port, "nats:6222");
        assert_eq!(url.user.as_deref(), Some("ruser"));
        assert_eq!(url.password.as_deref(), Some("T0pS3cr3t"));
        assert_eq!(url.to_string(), "nats-route://***@nats:6222");
    }

    #[test]
    fn url_without_scheme_or_port_gets_defaults() {
        let url = RouteUrl::parse("10.0.0.1").unwrap();
        assert_eq!(url.host_port, "10.0.0.1:6222");
        assert_eq!(url.user, None);
        let url = RouteUrl::parse("nats-route://[::1]:7000/").unwrap();
        assert_eq!(url.host_port, "[::1]:7000");
    }

    #[test]
    fn bad_scheme_and_port_are_rejected() {
        assert!(matches!(
            RouteUrl::parse("http://a:1"),
            Err(RouteUrlError::UnsupportedScheme(_))
        ));
        assert!(matches!(
            RouteUrl::parse("nats://a:99999"),
            Err(RouteUrlError::InvalidPort(_))
        ));
        assert_eq!(
            RouteUrl::parse("nats://:4"),
            Err(RouteUrlError::MissingHost)
        );
    }

    #[test]
    fn default_credentials_apply_only_when_the_url_has_none() {
        let user = Some("u".to_string());
        let pass = Some("p".to_string());
        let url = RouteUrl::parse("a:1")
            .unwrap()
            .with_default_credentials(&user, &pass);
        assert_eq!(url.user.as_deref(), Some("u"));
        let url = RouteUrl::parse("x:y@a:1")
            .unwrap()
            .with_default_credentials(&user, &pass);
        assert_eq!(url.user.as_deref(), Some("x"));
    }

    #[test]
    fn unspecified_advertised_host_is_replaced_by_the_observed_ip() {
        let observed: SocketAddr = "10.1.2.3:55555".parse().unwrap();
        assert_eq!(
            resolve_advertised("nats-route://0.0.0.0:6222", observed),
            "nats-route://10.1.2.3:6222"
        );
        assert_eq!(
            resolve_advertised("nats-route://node-a:6222", observed),
            "nats-route://node-a:6222"
        );
    }
}
