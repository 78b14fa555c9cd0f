//! `/healthz`: is the server ready for clients (nats-server `HealthStatus`).
//!
//! `{"status":"ok"}` with 200 while the client listener accepts and, when
//! clustered, the node knows the cluster's interest: it has tried its seed
//! routes and has every peer's interest snapshot (a node with no reachable
//! seed after the grace period; see `starling_cluster::readiness`), so a
//! Kubernetes rollout does not send clients to a node that would drop their
//! first messages (nats-server issue 439). Before that, and once the server
//! stops accepting (lame duck or shutdown), it answers 503 with
//! `{"status":"error","error":...}` naming the reason, as nats-server 2.9
//! does when `readyForConnections` fails.
//! With JetStream configured (nats-server's order): JetStream must be
//! running (`503 {"status":"unavailable","error":"JetStream not
//! enabled"}` otherwise); `js-enabled-only` and `js-server-only` stop
//! there, else every stream's worker must be alive. Without JetStream
//! configured the options change nothing (as nats-server 2.9 and 2.15).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::params::Params;
use super::shared::{compact_json_response, Monitor};
use crate::client::handle::lock;

/// The `/healthz` answer.
#[derive(Debug, Serialize)]
struct HealthStatus {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// `GET /healthz`.
pub async fn handle(State(monitor): State<Arc<Monitor>>, Query(params): Query<Params>) -> Response {
    monitor.count_request("/healthz");
    for name in ["js-enabled", "js-enabled-only", "js-server-only"] {
        if let Err(bad) = params.bool(name) {
            return bad.into_response();
        }
    }
    let server = &monitor.server;
    let accepting = lock(&server.client_addr).is_some()
        && !server.stop_accepting.is_cancelled()
        && !server.shutdown.is_cancelled();
    let verdict = if !accepting {
        Err("server is not accepting client connections".to_string())
    } else {
        cluster_readiness(server)
    };
    if verdict.is_ok() {
        if let Err(reason) = jetstream_health(server, &params) {
            let error = HealthStatus {
                status: "unavailable",
                error: Some(reason),
            };
            return compact_json_response(StatusCode::SERVICE_UNAVAILABLE, &params, &error);
        }
    }
    match verdict {
        Ok(()) => {
            let ok = HealthStatus {
                status: "ok",
                error: None,
            };
            compact_json_response(StatusCode::OK, &params, &ok)
        }
        Err(reason) => {
            let error = HealthStatus {
                status: "error",
                error: Some(reason),
            };
            compact_json_response(StatusCode::SERVICE_UNAVAILABLE, &params, &error)
        }
    }
}

/// JetStream's part of the verdict (nats-server `healthz`).
fn jetstream_health(server: &crate::server::ServerState, params: &Params) -> Result<(), String> {
    let not_enabled = || "JetStream not enabled".to_string();
    if !server.options().jetstream.enabled {
        // nats-server stops here too, whatever `js-enabled` says.
        return Ok(());
    }
    let Some(jetstream) = server.jetstream.get() else {
        return Err(not_enabled());
    };
    let only = params.bool("js-enabled-only").unwrap_or(false)
        || params.bool("js-server-only").unwrap_or(false);
    if only {
        return Ok(());
    }
    jetstream.health()
}

/// The cluster's readiness; always ready when not clustered.
fn cluster_readiness(server: &crate::server::ServerState) -> Result<(), String> {
    match server.cluster.get() {
        Some(cluster) => cluster.readiness().map_err(|reason| reason.to_string()),
        None if server.options().cluster.is_some() => Err("cluster not started yet".to_string()),
        None => Ok(()),
    }
}
