//! The `cluster { ... }` block, as nats-server's `parseCluster` (2.9) plus the
//! 2.10 route `ping_interval` and `ping_max`.
//!
//! A block without `port` or `listen`, or with port 0, opens no route
//! listener and dials no routes, as nats-server (cluster port 0); its name
//! is still announced to clients. `port: -1` picks a random port.

use super::address::{check_route_url, Port};
use super::error::ConfigError;
use super::field::{non_empty, Field};
use super::tls::{parse_tls, TlsBlock};
use crate::limits;
use crate::options::ClusterOptions;

/// Cluster keys of nats-server that Starling rejects as unsupported.
const UNSUPPORTED_CLUSTER_KEYS: &[&str] = &[
    "permissions",
    "pool_size",
    "accounts",
    "compression",
    "connect_backoff",
];

/// Parses a `cluster` block.
pub(super) fn parse_cluster(field: &Field<'_>) -> Result<ClusterOptions, ConfigError> {
    let defaults = ClusterOptions::default();
    let mut cluster = ClusterOptions::default();
    let mut port = Port::Number(0);
    for entry in field.map()?.entries() {
        let sub = field.child(entry);
        match sub.lower_key().as_str() {
            "name" => {
                let name = sub.string()?;
                if name.contains(char::is_whitespace) {
                    return Err(sub.invalid("cluster name cannot contain spaces or new lines"));
                }
                cluster.name = non_empty(name);
            }
            "listen" => {
                let (host, listen_port) = sub.listen()?;
                cluster.host = host.unwrap_or_else(|| limits::DEFAULT_HOST.to_string());
                port = listen_port;
            }
            "port" => port = sub.port()?,
            "host" | "net" => cluster.host = sub.host()?,
            "authorization" => apply_route_authorization(&sub, &mut cluster)?,
            "routes" => {
                cluster.routes = sub
                    .array()?
                    .iter()
                    .map(|item| {
                        let url = item.as_str().ok_or_else(|| {
                            sub.invalid_at(item.line, "a route must be a URL string")
                        })?;
                        check_route_url(url).map_err(|message| sub.invalid_at(item.line, message))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "cluster_advertise" | "advertise" => cluster.advertise = non_empty(sub.string()?),
            "no_advertise" => cluster.no_advertise = sub.boolean()?,
            "connect_retries" => {
                cluster.connect_retries = u32::try_from(sub.integer()?)
                    .map_err(|_| sub.invalid("connect_retries must be between 0 and 4294967295"))?;
            }
            "ping_interval" => cluster.ping_interval = sub.duration_or(defaults.ping_interval)?,
            "ping_max" => cluster.ping_max = sub.count_or(defaults.ping_max)?,
            "tls" => cluster.tls = Some(parse_tls(&sub, TlsBlock::Route)?),
            // Starling's own (not nats-server's): 0 turns the barrier off.
            "interest_barrier_timeout" => {
                cluster.interest_barrier_timeout = sub.duration_or(std::time::Duration::ZERO)?
            }
            "readiness_grace_period" => {
                cluster.readiness_grace_period = sub.duration_or(defaults.readiness_grace_period)?
            }
            other if UNSUPPORTED_CLUSTER_KEYS.contains(&other) => return Err(sub.unsupported()),
            _ => sub.unknown()?,
        }
    }
    cluster.listen = port != Port::Number(0);
    cluster.port = if cluster.listen {
        port.to_bind()
    } else {
        defaults.port
    };
    Ok(cluster)
}

/// `cluster { authorization { user, password, timeout } }`.
fn apply_route_authorization(
    field: &Field<'_>,
    cluster: &mut ClusterOptions,
) -> Result<(), ConfigError> {
    cluster.user = None;
    cluster.password = None;
    cluster.auth_timeout = limits::AUTH_TIMEOUT;
    for entry in field.map()?.entries() {
        let sub = field.child(entry);
        match sub.lower_key().as_str() {
            "user" | "username" => cluster.user = non_empty(sub.string()?),
            "pass" | "password" => cluster.password = non_empty(sub.string()?),
            "timeout" => cluster.auth_timeout = sub.seconds_or(limits::AUTH_TIMEOUT)?,
            "users" => {
                return Err(sub.invalid("cluster authorization does not allow multiple users"))
            }
            "token" => return Err(sub.invalid("cluster authorization does not support tokens")),
            "permissions" | "default_permissions" | "default_permission" => {
                return Err(sub.unsupported())
            }
            _ => sub.unknown()?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::test_support::{options, options_ok};
    use crate::config::ConfigError;
    use crate::options::ClusterOptions;

    fn cluster(text: &str) -> ClusterOptions {
        options_ok(text).cluster.expect("cluster block")
    }

    #[test]
    fn full_cluster_block_applies() {
        let parsed = cluster(
            "cluster {\n  name: c1\n  listen: 127.0.0.1:6333\n  advertise: \"10.0.0.1:6333\"\n  no_advertise: true\n  connect_retries: 5\n  ping_interval: \"2s\"\n  ping_max: 4\n  authorization { user: ruser, password: pw, timeout: 0.5 }\n  routes: [nats://ruser:pw@a:6333, \"nats-route://b:6333\"]\n}",
        );
        assert_eq!(parsed.name.as_deref(), Some("c1"));
        assert_eq!((parsed.host.as_str(), parsed.port), ("127.0.0.1", 6333));
        assert_eq!(parsed.advertise.as_deref(), Some("10.0.0.1:6333"));
        assert!(parsed.no_advertise);
        assert_eq!(parsed.connect_retries, 5);
        assert_eq!(parsed.ping_interval, Duration::from_secs(2));
        assert_eq!(parsed.ping_max, 4);
        assert_eq!(parsed.user.as_deref(), Some("ruser"));
        assert_eq!(parsed.password.as_deref(), Some("pw"));
        assert_eq!(parsed.auth_timeout, Duration::from_millis(500));
        assert_eq!(
            parsed.routes,
            vec!["nats://ruser:pw@a:6333", "nats-route://b:6333"]
        );
    }

    #[test]
    fn barrier_timeout_and_readiness_grace_parse_with_defaults() {
        let parsed = cluster(
            "cluster { interest_barrier_timeout: \"250ms\", readiness_grace_period: \"1s\" }",
        );
        assert_eq!(parsed.interest_barrier_timeout, Duration::from_millis(250));
        assert_eq!(parsed.readiness_grace_period, Duration::from_secs(1));
        let off = cluster("cluster { interest_barrier_timeout: 0 }");
        assert_eq!(off.interest_barrier_timeout, Duration::ZERO);
        let bare = cluster("cluster { name: x }");
        assert_eq!(bare.interest_barrier_timeout, Duration::from_millis(100));
        assert_eq!(bare.readiness_grace_period, Duration::from_secs(3));
        assert!(matches!(
            options("cluster { interest_barrier_timeout: \"soon\" }"),
            Err(ConfigError::InvalidValue { .. })
        ));
    }

    #[test]
    fn host_port_aliases_and_defaults() {
        let parsed = cluster("cluster { net: 10.0.0.5, port: -1, cluster_advertise: x:1 }");
        assert_eq!((parsed.host.as_str(), parsed.port), ("10.0.0.5", 0));
        assert_eq!(parsed.advertise.as_deref(), Some("x:1"));
        assert!(parsed.listen);
        assert_eq!(options_ok("port: 1").cluster, None);
    }

    #[test]
    fn a_block_without_a_port_opens_no_listener() {
        for text in [
            "cluster { name: only }",
            "cluster { name: only, port: 0 }",
            "cluster { name: only, listen: \"127.0.0.1:0\", routes: [nats://a:1] }",
        ] {
            let parsed = cluster(text);
            assert!(!parsed.listen, "{text}");
            assert_eq!(parsed.name.as_deref(), Some("only"), "{text}");
        }
        assert!(cluster("cluster { port: -1 }").listen);
        assert!(cluster("cluster { listen: 127.0.0.1:7000 }").listen);
    }

    #[test]
    fn bad_routes_point_at_the_element() {
        match options("cluster {\n  routes: [\n    nats://ok:1\n    not-a-url\n  ]\n}") {
            Err(ConfigError::InvalidValue { line, name, .. }) => {
                assert_eq!((line, name.as_str()), (4, "cluster.routes"));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            options("cluster { routes: nats://a:1 }"),
            Err(ConfigError::InvalidValue { .. })
        ));
    }

    #[test]
    fn unsupported_cluster_keys_are_named_with_their_block() {
        for key in [
            "permissions",
            "pool_size",
            "accounts",
            "compression",
            "connect_backoff",
        ] {
            match options(&format!("cluster {{ {key}: {{}} }}")) {
                Err(ConfigError::Unsupported { name }) => {
                    assert_eq!(name, format!("cluster.{key}"))
                }
                other => panic!("{key}: unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn route_authorization_rejects_users_tokens_and_permissions() {
        for (inner, expect_unsupported) in [
            ("users: [{user: a, password: b}]", false),
            ("token: abc", false),
            ("permissions { publish: x }", true),
        ] {
            let result = options(&format!("cluster {{ authorization {{ {inner} }} }}"));
            match (result, expect_unsupported) {
                (Err(ConfigError::Unsupported { .. }), true) => {}
                (Err(ConfigError::InvalidValue { .. }), false) => {}
                (other, _) => panic!("{inner}: unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn unknown_cluster_key_and_bad_name() {
        match options("cluster {\n  foo: 1\n}") {
            Err(ConfigError::UnknownField { line, name }) => {
                assert_eq!((line, name.as_str()), (2, "cluster.foo"));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            options("cluster { name: \"a b\" }"),
            Err(ConfigError::InvalidValue { .. })
        ));
    }
}
