//! Each system request's answer, built from the monitoring documents.
//!
//! Request options arrive as JSON (nats-server's `ConnzEventOptions` etc.:
//! the `/connz` query options plus `EventFilterOptions`); they are turned
//! into the monitoring query parameters so the same parser checks them.

use std::sync::atomic::Ordering;
use std::time::SystemTime;

use serde::Deserialize;
use serde_json::Value;

use super::messages::{
    ApiError, DataStats, JszApi, JszConfig, JszDisabled, RouteStat, ServerStats,
};
use crate::monitor::accountz;
use crate::monitor::format::rfc3339;
use crate::monitor::params::Params;
use crate::monitor::routez::{routes, RouteListing};
use crate::monitor::{connz, jsz, subsz, varz, Monitor};

/// nats-server `EventFilterOptions`: which servers should answer a PING.
#[derive(Debug, Default, Deserialize)]
pub struct EventFilter {
    /// Substring of the server name.
    #[serde(default)]
    pub server_name: String,
    /// Substring of the cluster name.
    #[serde(default)]
    pub cluster: String,
    /// Substring of the host.
    #[serde(default)]
    pub host: String,
}

impl EventFilter {
    /// The filter in a request body (empty or not JSON: no filter).
    pub fn parse(body: &[u8]) -> Self {
        serde_json::from_slice(body).unwrap_or_default()
    }

    /// Whether this server should answer.
    pub fn admits(&self, name: &str, cluster: &str, host: &str) -> bool {
        name.contains(&self.server_name)
            && cluster.contains(&self.cluster)
            && host.contains(&self.host)
    }
}

/// The request body's options as monitoring query parameters.
pub fn params_from_body(body: &[u8]) -> Params {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return Params::from_pairs(&[]);
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (key, value) in map {
        let text = match value {
            Value::String(text) => text,
            Value::Bool(flag) => flag.to_string(),
            Value::Number(number) => number.to_string(),
            _ => continue,
        };
        let key = match key.as_str() {
            "subscriptions" => "subs".to_string(),
            "subscriptions_detail" if text == "true" => {
                pairs.push(("subs".into(), "detail".into()));
                continue;
            }
            "account" => "acc".to_string(),
            _ => key,
        };
        if text == "false" || text.is_empty() || text == "0" {
            continue;
        }
        pairs.push((key, text));
    }
    let borrowed: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    Params::from_pairs(&borrowed)
}

/// This server's STATSZ numbers.
pub fn statsz(monitor: &Monitor) -> ServerStats {
    let server = &monitor.server;
    let traffic = server.traffic.snapshot();
    let routes: Vec<RouteStat> = routes(
        monitor,
        RouteListing {
            subscriptions: false,
            subscriptions_detail: false,
        },
    )
    .into_iter()
    .map(|route| RouteStat {
        rid: route.rid,
        name: route.remote_name.clone(),
        sent: DataStats {
            msgs: route.out_msgs,
            bytes: route.out_bytes,
        },
        received: DataStats {
            msgs: route.in_msgs,
            bytes: route.in_bytes,
        },
        pending: route.pending_size,
    })
    .collect();
    let active_accounts = server
        .accounts
        .all()
        .iter()
        .filter(|account| account.connection_count() > 0)
        .count();
    ServerStats {
        start: rfc3339(server.start),
        mem: monitor.usage.resident_memory_bytes(),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu: monitor.usage.cpu_percent(),
        connections: server.client_count(),
        total_connections: server.total_connections.load(Ordering::Relaxed),
        active_accounts,
        subscriptions: server.local_subscription_count(),
        sent: DataStats {
            msgs: traffic.out_msgs,
            bytes: traffic.out_bytes,
        },
        received: DataStats {
            msgs: traffic.in_msgs,
            bytes: traffic.in_bytes,
        },
        slow_consumers: server.slow_consumers.load(Ordering::Relaxed),
        active_servers: routes.len() + 1,
        routes,
    }
}

/// The answer's `data` for `endpoint` (VARZ, CONNZ, ...), or the error to
/// send instead. `account` restricts it to one account
/// (`$SYS.REQ.ACCOUNT.<acc>.<endpoint>`). None: not an endpoint.
pub fn endpoint(
    monitor: &Monitor,
    endpoint: &str,
    body: &[u8],
    account: Option<&str>,
) -> Option<Result<Value, ApiError>> {
    let mut params = params_from_body(body);
    if let Some(account) = account {
        params = params.with("acc", account);
        // nats-server lists an account's subscriptions without being asked.
        if endpoint == "SUBSZ" && params.get("subs").is_none() {
            params = params.with("subs", "true");
        }
    }
    let bad = |reason: crate::monitor::params::BadRequest| ApiError {
        code: 400,
        description: reason.0,
    };
    let document = match (endpoint, account) {
        ("VARZ", None) => serde_json::to_value(varz::varz(monitor)),
        ("CONNZ", _) => match connz::connz_for(monitor, &params) {
            Ok(connz) => serde_json::to_value(connz),
            Err(reason) => return Some(Err(bad(reason))),
        },
        ("SUBSZ", _) => match subsz::subsz(monitor, &params) {
            Ok(subsz) => serde_json::to_value(subsz),
            Err(reason) => return Some(Err(bad(reason))),
        },
        ("ROUTEZ", None) => serde_json::to_value(routez_document(monitor, &params)),
        ("HEALTHZ", None) => Ok(serde_json::json!({"status": "ok"})),
        ("JSZ", _) => match jsz::jsz(monitor, &params) {
            Ok(document) => Ok(document),
            Err(reason) => return Some(Err(bad(reason))),
        },
        ("ACCOUNTZ", None) => match accountz::accountz(monitor, &params) {
            Ok(accountz) => Ok(accountz),
            Err(reason) => return Some(Err(bad(reason))),
        },
        ("STATSZ", None) => serde_json::to_value(statsz(monitor)),
        ("INFO", Some(name)) => match accountz::account_detail(monitor, name) {
            Some(detail) => serde_json::to_value(detail),
            None => {
                return Some(Err(ApiError {
                    code: 404,
                    description: format!("account {name:?} not found"),
                }))
            }
        },
        ("STATZ", Some(name)) => Ok(accountz::accstatz(monitor, &[name], true)),
        _ => return None,
    };
    Some(document.map_err(|error| ApiError {
        code: 500,
        description: error.to_string(),
    }))
}

fn routez_document(monitor: &Monitor, params: &Params) -> Value {
    let (subscriptions, subscriptions_detail) = params.subs().unwrap_or((false, false));
    let routes = routes(
        monitor,
        RouteListing {
            subscriptions,
            subscriptions_detail,
        },
    );
    serde_json::json!({
        "server_id": monitor.server.server_id,
        "now": rfc3339(SystemTime::now()),
        "num_routes": routes.len(),
        "routes": routes,
    })
}

/// The JSZ answer of a server without JetStream.
pub fn jsz_disabled(monitor: &Monitor) -> JszDisabled {
    JszDisabled {
        server_id: monitor.server.server_id.clone(),
        now: rfc3339(SystemTime::now()),
        disabled: true,
        config: JszConfig::default(),
        memory: 0,
        storage: 0,
        reserved_memory: 0,
        reserved_storage: 0,
        accounts: 0,
        ha_assets: 0,
        api: JszApi::default(),
        streams: 0,
        consumers: 0,
        messages: 0,
        bytes: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_options_become_monitoring_parameters() {
        let params = params_from_body(
            br#"{"subscriptions":true,"sort":"bytes_to","limit":5,"account":"A","auth":false,"server_name":"n1"}"#,
        );
        assert_eq!(params.get("subs"), Some("true"));
        assert_eq!(params.get("sort"), Some("bytes_to"));
        assert_eq!(params.get("limit"), Some("5"));
        assert_eq!(params.get("acc"), Some("A"));
        assert_eq!(params.get("auth"), None, "false is the default");
        let detail = params_from_body(br#"{"subscriptions_detail":true}"#);
        assert_eq!(detail.get("subs"), Some("detail"));
        assert_eq!(params_from_body(b"not json").get("sort"), None);
    }

    #[test]
    fn the_filter_matches_substrings_and_admits_all_when_empty() {
        assert!(EventFilter::parse(b"").admits("n1", "c", "h"));
        let filter = EventFilter::parse(br#"{"server_name":"n"}"#);
        assert!(filter.admits("n1", "", ""));
        assert!(!filter.admits("m1", "", ""));
        let cluster = EventFilter::parse(br#"{"cluster":"east"}"#);
        assert!(!cluster.admits("n1", "west", ""));
    }
}
