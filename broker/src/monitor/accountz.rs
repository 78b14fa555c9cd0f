//! `/accountz` and `/accstatz` (nats-server `Accountz`, `AccountStatz`),
//! field names as nats-server 2.9.10 writes them.
//!
//! `/accountz`: `{server_id, now, system_account, accounts: [names]}`, or
//! with `?acc=NAME` `{..., account_detail: {...}}`. `/accstatz`: one entry
//! per account with connections (`?unused=1`: every account; `?accounts=A,B`
//! names them).

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use super::format::rfc3339;
use super::params::{BadRequest, Params};
use super::shared::{json_response, Monitor};
use super::subsz::StatsJson;
use crate::account::Account;

/// nats-server `AccountInfo` (the fields Starling has).
#[derive(Debug, Serialize)]
pub struct AccountDetail {
    account_name: String,
    update_time: String,
    expired: bool,
    complete: bool,
    jetstream_enabled: bool,
    leafnode_connections: usize,
    client_connections: usize,
    subscriptions: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    is_system: bool,
    sublist_stats: StatsJson,
}

/// The detail of account `name`, None if it does not exist.
pub fn account_detail(monitor: &Monitor, name: &str) -> Option<AccountDetail> {
    let server = &monitor.server;
    let account = server.accounts.get(name)?;
    let stats = account.sublist.stats();
    Some(AccountDetail {
        account_name: account.name.to_string(),
        update_time: rfc3339(server.start),
        expired: false,
        complete: true,
        jetstream_enabled: false,
        leafnode_connections: 0,
        client_connections: account.connection_count(),
        subscriptions: stats.num_subscriptions,
        is_system: &*account.name == server.accounts.system_name(),
        sublist_stats: stats.into(),
    })
}

/// The `/accountz` document for `params`.
pub fn accountz(monitor: &Monitor, params: &Params) -> Result<Value, BadRequest> {
    let server = &monitor.server;
    let mut document = serde_json::json!({
        "server_id": server.server_id,
        "now": rfc3339(SystemTime::now()),
        "system_account": server.accounts.system_name(),
    });
    match params.get("acc") {
        Some(name) => {
            let detail = account_detail(monitor, name)
                .ok_or_else(|| BadRequest(format!("Account {name} does not exist")))?;
            document["account_detail"] =
                serde_json::to_value(detail).map_err(|e| BadRequest(e.to_string()))?;
        }
        None => {
            let names: Vec<String> = server
                .accounts
                .all()
                .iter()
                .map(|account| account.name.to_string())
                .collect();
            document["accounts"] = Value::from(names);
        }
    }
    Ok(document)
}

/// One account's statistics (nats-server `AccountStat`).
fn account_stat(account: &Account) -> Value {
    let traffic = account.traffic.snapshot();
    serde_json::json!({
        "acc": &*account.name,
        "conns": account.connection_count(),
        "leafnodes": 0,
        "total_conns": account.connection_count(),
        "sent": {"msgs": traffic.out_msgs, "bytes": traffic.out_bytes},
        "received": {"msgs": traffic.in_msgs, "bytes": traffic.in_bytes},
        "slow_consumers": 0,
    })
}

/// The `/accstatz` document: the accounts in `names` (all when empty);
/// accounts without connections only when `include_unused`.
pub fn accstatz(monitor: &Monitor, names: &[&str], include_unused: bool) -> Value {
    let server = &monitor.server;
    let stats: Vec<Value> = server
        .accounts
        .all()
        .iter()
        .filter(|account| names.is_empty() || names.contains(&&*account.name))
        .filter(|account| include_unused || account.connection_count() > 0)
        .map(|account| account_stat(account))
        .collect();
    serde_json::json!({
        "server_id": server.server_id,
        "now": rfc3339(SystemTime::now()),
        "account_statz": stats,
    })
}

/// `GET /accountz`.
pub async fn handle_accountz(
    State(monitor): State<Arc<Monitor>>,
    Query(params): Query<Params>,
) -> Response {
    monitor.count_request("/accountz");
    match accountz(&monitor, &params) {
        Ok(document) => json_response(&params, &document),
        Err(bad) => bad.into_response(),
    }
}

/// `GET /accstatz`.
pub async fn handle_accstatz(
    State(monitor): State<Arc<Monitor>>,
    Query(params): Query<Params>,
) -> Response {
    let unused = match params.bool("unused") {
        Ok(unused) => unused,
        Err(bad) => return bad.into_response(),
    };
    monitor.count_request("/accstatz");
    let names: Vec<&str> = params
        .get("accounts")
        .map(|list| list.split(',').filter(|n| !n.is_empty()).collect())
        .unwrap_or_default();
    json_response(&params, &accstatz(&monitor, &names, unused))
}
