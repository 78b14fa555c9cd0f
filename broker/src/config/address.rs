//! `host:port` strings and the URLs of `--cluster` and `routes`, parsed the
//! way nats-server does with Go's `net.SplitHostPort` and `url.Parse`.

/// A port as nats-server writes it: `-1` asks for a random one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Port {
    /// `-1`: any free port (bound as 0).
    Random,
    /// 0..=65535.
    Number(u16),
}

impl Port {
    /// The port to bind: `Random` is 0.
    pub fn to_bind(self) -> u16 {
        match self {
            Port::Random => 0,
            Port::Number(number) => number,
        }
    }

    /// The monitoring port as nats-server reads it: -1 random (bound as 0),
    /// 0 monitoring off.
    pub fn to_monitor(self) -> Option<u16> {
        match self {
            Port::Random => Some(0),
            Port::Number(0) => None,
            Port::Number(number) => Some(number),
        }
    }
}

/// Checks a port number: -1 or 0..=65535.
pub(crate) fn port_from_integer(number: i64) -> Result<Port, String> {
    if number == -1 {
        return Ok(Port::Random);
    }
    u16::try_from(number)
        .map(Port::Number)
        .map_err(|_| format!("port {number} is out of range (use -1 for a random port)"))
}

fn port_from_text(text: &str) -> Result<Port, String> {
    let number: i64 = text
        .parse()
        .map_err(|_| format!("could not parse port {text:?}"))?;
    port_from_integer(number)
}

/// Go's `net.SplitHostPort`: `host:port`, `[v6]:port`, `:port`.
pub(crate) fn split_host_port(text: &str) -> Result<(String, Port), String> {
    let error = || format!("could not parse address string {text:?}");
    let (host, port) = if let Some(bracketed) = text.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or_else(error)?;
        let port = after.strip_prefix(':').ok_or_else(error)?;
        (host, port)
    } else {
        let (host, port) = text.rsplit_once(':').ok_or_else(error)?;
        if host.contains(':') {
            return Err(error());
        }
        (host, port)
    };
    Ok((host.to_string(), port_from_text(port)?))
}

/// The parts of a `scheme://user:pass@host:port/path` URL we need.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct UrlParts {
    /// Decoded user name, when the URL has user info.
    pub user: Option<String>,
    /// Decoded password, when the user info has a `:`.
    pub password: Option<String>,
    /// Host without brackets; may be empty.
    pub host: String,
    /// The port, if the URL has one.
    pub port: Option<Port>,
}

/// Splits a URL. The scheme is optional (`host:port` is accepted too);
/// anything after the authority (path, query) is ignored.
pub(crate) fn parse_url(text: &str) -> Result<UrlParts, String> {
    let trimmed = text.trim();
    let after_scheme = match trimmed.split_once("://") {
        Some((scheme, rest)) if is_scheme(scheme) => rest,
        Some(_) => return Err(format!("invalid URL scheme in {trimmed:?}")),
        None => trimmed,
    };
    let authority_end = after_scheme
        .find(['/', '?', '#'])
        .unwrap_or(after_scheme.len());
    let authority = &after_scheme[..authority_end];
    let (user_info, host_port) = match authority.rsplit_once('@') {
        Some((user_info, host_port)) => (Some(user_info), host_port),
        None => (None, authority),
    };
    let (user, password) = match user_info {
        None => (None, None),
        Some(info) => match info.split_once(':') {
            Some((user, password)) => {
                (Some(percent_decode(user)?), Some(percent_decode(password)?))
            }
            None => (Some(percent_decode(info)?), None),
        },
    };
    let has_port = if host_port.starts_with('[') {
        host_port.contains("]:")
    } else {
        host_port.contains(':')
    };
    let (host, port) = if has_port {
        let (host, port) = split_host_port(host_port)?;
        (host, Some(port))
    } else {
        let host = host_port.trim_start_matches('[').trim_end_matches(']');
        (host.to_string(), None)
    };
    Ok(UrlParts {
        user,
        password,
        host,
        port,
    })
}

fn is_scheme(scheme: &str) -> bool {
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Checks a route URL (`nats://[user:pass@]host[:port]`): a scheme and a
/// host are required. Returns the trimmed URL.
pub(crate) fn check_route_url(text: &str) -> Result<String, String> {
    let trimmed = text.trim();
    let error = || format!("error parsing route url [{trimmed:?}]");
    if !trimmed.contains("://") {
        return Err(error());
    }
    let parts = parse_url(trimmed).map_err(|_| error())?;
    if parts.host.is_empty() {
        return Err(error());
    }
    Ok(trimmed.to_string())
}

fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = text
                .get(index + 1..index + 3)
                .and_then(|digits| u8::from_str_radix(digits, 16).ok())
                .ok_or_else(|| format!("invalid escape in URL user info {text:?}"))?;
            decoded.push(hex);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).map_err(|_| format!("URL user info {text:?} is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_host_port_like_go() {
        assert_eq!(
            split_host_port("127.0.0.1:4222"),
            Ok(("127.0.0.1".into(), Port::Number(4222)))
        );
        assert_eq!(
            split_host_port(":4222"),
            Ok((String::new(), Port::Number(4222)))
        );
        assert_eq!(
            split_host_port("[::1]:6222"),
            Ok(("::1".into(), Port::Number(6222)))
        );
        assert_eq!(
            split_host_port("localhost:-1"),
            Ok(("localhost".into(), Port::Random))
        );
        for bad in [
            "localhost",
            "::1:4222",
            "host:port",
            "host:70000",
            "[::1]4222",
        ] {
            assert!(split_host_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn url_parts_with_credentials_and_without_scheme_or_port() {
        assert_eq!(
            parse_url("nats://ruser:T0p%40S3cret@nats:6222"),
            Ok(UrlParts {
                user: Some("ruser".into()),
                password: Some("T0p@S3cret".into()),
                host: "nats".into(),
                port: Some(Port::Number(6222)),
            })
        );
        let bare = parse_url("0.0.0.0:6222").expect("parses");
        assert_eq!(
            (bare.host.as_str(), bare.port),
            ("0.0.0.0", Some(Port::Number(6222)))
        );
        let no_port = parse_url("nats-route://[::1]/path").expect("parses");
        assert_eq!((no_port.host.as_str(), no_port.port), ("::1", None));
        let user_only = parse_url("nats://me@h:1").expect("parses");
        assert_eq!(
            (user_only.user, user_only.password),
            (Some("me".into()), None)
        );
        assert!(parse_url("nats://h:notaport").is_err());
        assert!(parse_url("1nats://h:1").is_err());
    }

    #[test]
    fn route_urls_need_a_scheme_and_a_host() {
        assert_eq!(
            check_route_url(" nats://a:6222 "),
            Ok("nats://a:6222".into())
        );
        assert!(check_route_url("a:6222").is_err());
        assert!(check_route_url("nats://:6222").is_err());
        assert!(check_route_url("nats://a:x").is_err());
    }
}
