//! `/jsz` (and `$SYS.REQ.SERVER.*.JSZ`): JetStream usage, config and, on
//! request, account / stream / consumer details, in nats-server's `JSInfo`
//! shape. Options: `accounts`, `streams`, `consumers`, `config`, `acc`
//! (one account), and `leader-only` / `stream-leader-only` / `raft`
//! (accepted: on one node this server leads everything). Without
//! JetStream the answer is nats-server 2.9's `disabled: true` with zeros.

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use super::format::rfc3339;
use super::params::{BadRequest, Params};
use super::shared::{json_response, Monitor};
use crate::jetstream::{Report, ReportOptions};

/// `/jsz` with JetStream on.
#[derive(Debug, Serialize)]
struct Jsz {
    server_id: String,
    now: String,
    #[serde(flatten)]
    report: Report,
}

/// The options of a `/jsz` query.
pub fn options(params: &Params) -> Result<ReportOptions, BadRequest> {
    for accepted in ["leader-only", "stream-leader-only", "raft"] {
        params.bool(accepted)?;
    }
    params.int("offset")?;
    params.int("limit")?;
    Ok(ReportOptions {
        accounts: params.bool("accounts")?,
        streams: params.bool("streams")?,
        consumers: params.bool("consumers")?,
        config: params.bool("config")?,
        account: params.get("acc").map(str::to_string),
    })
}

/// The `/jsz` document for `params`.
pub fn jsz(monitor: &Monitor, params: &Params) -> Result<Value, BadRequest> {
    let options = options(params)?;
    let server = &monitor.server;
    let Some(jetstream) = server.jetstream.get() else {
        return serde_json::to_value(crate::system::requests::jsz_disabled(monitor))
            .map_err(|error| BadRequest(error.to_string()));
    };
    let document = Jsz {
        server_id: server.server_id.clone(),
        now: rfc3339(SystemTime::now()),
        report: jetstream.report(&options, &server.server_name()),
    };
    serde_json::to_value(document).map_err(|error| BadRequest(error.to_string()))
}

/// `GET /jsz`.
pub async fn handle(State(monitor): State<Arc<Monitor>>, Query(params): Query<Params>) -> Response {
    monitor.count_request("/jsz");
    match jsz(&monitor, &params) {
        Ok(document) => json_response(&params, &document),
        Err(bad) => bad.into_response(),
    }
}
