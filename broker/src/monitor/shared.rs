//! What every handler shares: the server state, the per-path request
//! counters of `/varz` `http_req_stats`, and the response nats-server
//! writes (indented JSON, or JSONP when `?callback=` is given).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::params::Params;
use super::usage::ProcessUsage;
use crate::client::handle::lock;
use crate::server::ServerState;

/// The account every client is in (nats-server's global account).
pub const GLOBAL_ACCOUNT: &str = "$G";

/// Paths nats-server lists in `http_req_stats` (at 0) before any request;
/// other paths appear once first requested.
const PRESET_PATHS: [&str; 6] = ["/", "/varz", "/connz", "/routez", "/gatewayz", "/subsz"];

/// State of the monitoring listener, shared by its handlers.
pub struct Monitor {
    /// The server being reported on.
    pub server: Arc<ServerState>,
    /// The port the monitoring listener is bound to (the configured one may
    /// be 0 = ephemeral).
    pub http_port: u16,
    /// Requests served per endpoint path. A leaf lock: held only to bump or
    /// copy the map.
    requests: Mutex<BTreeMap<&'static str, u64>>,
    /// Memory and CPU readings for `/varz`.
    pub usage: ProcessUsage,
}

impl Monitor {
    /// Handler state for `server`, answering on `http_port`.
    pub fn new(server: Arc<ServerState>, http_port: u16) -> Self {
        Monitor {
            server,
            http_port,
            requests: Mutex::new(PRESET_PATHS.iter().map(|path| (*path, 0)).collect()),
            usage: ProcessUsage::default(),
        }
    }

    /// Count one request to `path` (aliases count under their main path, as
    /// `/subscriptionsz` counts under `/subsz` in nats-server).
    pub fn count_request(&self, path: &'static str) {
        *lock(&self.requests).entry(path).or_insert(0) += 1;
    }

    /// Requests per path so far, sorted by path (as Go writes a map).
    pub fn request_counts(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.requests).clone()
    }
}

/// `body` as nats-server sends it: indented JSON with
/// `Access-Control-Allow-Origin: *`, or `callback(json)` as JavaScript for
/// JSONP when the request has `?callback=`. Unlike nats-server, a callback
/// that is not a plain (dotted) JavaScript name is refused with 400, so the
/// endpoint cannot be made to serve arbitrary script.
pub fn json_response<T: Serialize>(params: &Params, body: &T) -> Response {
    respond(StatusCode::OK, params, serde_json::to_string_pretty(body))
}

/// Like [`json_response`] but compact and with `status` (nats-server
/// writes `/healthz` this way).
pub fn compact_json_response<T: Serialize>(
    status: StatusCode,
    params: &Params,
    body: &T,
) -> Response {
    respond(status, params, serde_json::to_string(body))
}

fn respond(status: StatusCode, params: &Params, json: serde_json::Result<String>) -> Response {
    let json = match json {
        Ok(json) => json,
        Err(error) => {
            tracing::error!(%error, "monitoring response failed to serialize");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    match params.get("callback") {
        Some(callback) if !is_javascript_name(callback) => (
            StatusCode::BAD_REQUEST,
            format!("invalid callback name: {callback}"),
        )
            .into_response(),
        Some(callback) => (
            status,
            [(CONTENT_TYPE, "application/javascript")],
            format!("{callback}({json})"),
        )
            .into_response(),
        None => (
            status,
            [
                (CONTENT_TYPE, "application/json"),
                (ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            ],
            json,
        )
            .into_response(),
    }
}

/// `name`, `ns.name` or `$_cb1`: letters, digits, `_`, `$` and dots only.
fn is_javascript_name(name: &str) -> bool {
    name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b'.'))
}
