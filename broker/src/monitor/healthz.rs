//! `/healthz`: is the server ready for clients (nats-server `HealthStatus`).
//!
//! `{"status":"ok"}` with 200 while the client listener accepts. Once the
//! server stops accepting (lame duck or shutdown) it answers 503 with
//! `{"status":"error","error":...}`, as nats-server 2.9 does when
//! `readyForConnections` fails, so a load balancer stops sending clients.
//! Starling has no JetStream: `js-enabled-only`, `js-server-only` and
//! `js-enabled` are checked to be booleans and change nothing, as on a
//! nats-server without JetStream.

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
    error: Option<&'static str>,
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
    if accepting {
        let ok = HealthStatus {
            status: "ok",
            error: None,
        };
        compact_json_response(StatusCode::OK, &params, &ok)
    } else {
        let error = HealthStatus {
            status: "error",
            error: Some("server is not accepting client connections"),
        };
        compact_json_response(StatusCode::SERVICE_UNAVAILABLE, &params, &error)
    }
}
