//! `/connz`: client connections, open and recently closed (nats-server
//! `Connz`).
//!
//! Parameters, read and refused as nats-server does: `sort` (see
//! [`SortBy`]; `stop` and `reason` need `state=closed`), `auth` (show
//! `authorized_user`), `subs` (`1`: subjects, `detail`: [`SubDetail`]s),
//! `offset`, `limit` (default 1024), `cid` (that connection only), `state`
//! (`open`, `closed`, `any`/`all`), `user` and `acc` filters.
//!
//! Where nats-server's behaviour is accidental, Starling does the evident
//! thing instead: `state=any&cid=N` finds an open connection too (nats-server
//! only looks among closed ones), `total` counts after the `user`/`acc`
//! filters, ties in every sort are broken by cid, and subscription lists are
//! in sid order. Sorting follows nats-server 2.10: `cid`/`start` ascending,
//! `uptime` ascending (newest first), `reason` ascending, all others
//! descending; `idle` means time since last activity.
//!
//! Closed connections are reported from the closed ring, which keeps no
//! subscriptions and no last-activity time: they show `subscriptions: 0`,
//! no lists, and `last_activity` = `stop` (so `idle` is `0s`).

use std::cmp::Reverse;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::format::{from_millis, rfc3339, rtt, uptime};
use super::params::{page, BadRequest, Params};
use super::shared::{json_response, Monitor, GLOBAL_ACCOUNT};
use super::subsz::{by_cid_then_sid, SubDetail};
use crate::client::handle::{lock, ClientDescription};
use crate::client::ClientHandle;
use crate::close::CloseReason;
use crate::server::state::ClosedClient;
use crate::stats::TrafficSnapshot;

/// Connections listed when `limit` is absent or not positive.
pub const DEFAULT_CONN_LIST_SIZE: i64 = 1024;

/// `/connz?sort=` values (nats-server `SortOpt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    /// `cid` (the default), ascending.
    Cid,
    /// `start`: same as `cid`.
    Start,
    /// `subs`: subscription count.
    Subs,
    /// `pending`: bytes queued to the client.
    Pending,
    /// `msgs_to`: messages sent to the client (`out_msgs`).
    MsgsTo,
    /// `msgs_from`: messages received from it (`in_msgs`).
    MsgsFrom,
    /// `bytes_to`: `out_bytes`.
    BytesTo,
    /// `bytes_from`: `in_bytes`.
    BytesFrom,
    /// `last`: most recent activity first.
    Last,
    /// `idle`: longest idle first.
    Idle,
    /// `uptime`: shortest-lived first.
    Uptime,
    /// `stop`: most recently closed first (closed only).
    Stop,
    /// `reason`: by close reason text (closed only).
    Reason,
    /// `rtt`: slowest first.
    Rtt,
}

impl SortBy {
    /// The option named `value` (case-sensitive, as in nats-server).
    pub fn parse(value: &str) -> Option<SortBy> {
        Some(match value {
            "cid" => SortBy::Cid,
            "start" => SortBy::Start,
            "subs" => SortBy::Subs,
            "pending" => SortBy::Pending,
            "msgs_to" => SortBy::MsgsTo,
            "msgs_from" => SortBy::MsgsFrom,
            "bytes_to" => SortBy::BytesTo,
            "bytes_from" => SortBy::BytesFrom,
            "last" => SortBy::Last,
            "idle" => SortBy::Idle,
            "uptime" => SortBy::Uptime,
            "stop" => SortBy::Stop,
            "reason" => SortBy::Reason,
            "rtt" => SortBy::Rtt,
            _ => return None,
        })
    }
}

/// `/connz?state=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConnState {
    Open,
    Closed,
    Any,
}

/// A parsed `/connz` request.
#[derive(Debug)]
struct ConnzQuery<'a> {
    sort: SortBy,
    auth: bool,
    subs: bool,
    subs_detail: bool,
    offset: i64,
    limit: i64,
    cid: u64,
    state: ConnState,
    user: Option<&'a str>,
    account: Option<&'a str>,
}

impl<'a> ConnzQuery<'a> {
    fn parse(params: &'a Params) -> Result<Self, BadRequest> {
        let sort = params.get("sort");
        let auth = params.bool("auth")?;
        let (subs, subs_detail) = params.subs()?;
        let offset = params.int("offset")?.max(0);
        let mut limit = params.int("limit")?;
        let cid = params.uint64("cid")?;
        let state = match params.get("state").map(str::to_ascii_lowercase).as_deref() {
            None | Some("open") => ConnState::Open,
            Some("closed") => ConnState::Closed,
            Some("any" | "all") => ConnState::Any,
            Some(_) => {
                let value = params.get("state").unwrap_or_default();
                return Err(BadRequest(format!("Error decoding state for {value}")));
            }
        };
        let sort = match sort {
            None => SortBy::Cid,
            Some(value) => SortBy::parse(value)
                .ok_or_else(|| BadRequest(format!("invalid sorting option: {value}")))?,
        };
        if sort == SortBy::Stop && state != ConnState::Closed {
            return Err(BadRequest(
                "sort by stop only valid on closed connections".into(),
            ));
        }
        if sort == SortBy::Reason && state != ConnState::Closed {
            return Err(BadRequest(
                "sort by reason only valid on closed connections".into(),
            ));
        }
        if limit <= 0 {
            limit = DEFAULT_CONN_LIST_SIZE;
        }
        if cid > 0 {
            limit = 1;
        }
        Ok(ConnzQuery {
            sort,
            auth,
            subs,
            subs_detail,
            offset,
            limit,
            cid,
            state,
            user: params.get("user"),
            account: params.get("acc"),
        })
    }
}

/// The `/connz` document.
#[derive(Debug, Serialize)]
pub struct Connz {
    server_id: String,
    now: String,
    num_connections: usize,
    total: usize,
    offset: i64,
    limit: i64,
    connections: Vec<ConnInfo>,
}

/// One connection (nats-server `ConnInfo`, client fields).
#[derive(Debug, Serialize)]
pub struct ConnInfo {
    cid: u64,
    kind: &'static str,
    #[serde(rename = "type")]
    connection_type: &'static str,
    ip: String,
    port: u16,
    start: String,
    last_activity: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    rtt: String,
    uptime: String,
    idle: String,
    pending_bytes: usize,
    in_msgs: u64,
    out_msgs: u64,
    in_bytes: u64,
    out_bytes: u64,
    subscriptions: usize,
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    lang: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorized_user: Option<String>,
    /// The account when it is not `$G` (with `auth`, as nats-server).
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subscriptions_list: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subscriptions_list_detail: Vec<SubDetail>,
}

/// What is known about one connection, gathered once, then sorted.
struct Row {
    cid: u64,
    peer: SocketAddr,
    start: SystemTime,
    last_activity: SystemTime,
    stop: Option<SystemTime>,
    reason: Option<CloseReason>,
    rtt_nanos: u64,
    pending_bytes: usize,
    traffic: TrafficSnapshot,
    subscription_count: usize,
    description: ClientDescription,
    /// Open connections only: for the subscription lists of the page shown.
    handle: Option<Arc<ClientHandle>>,
}

impl Row {
    fn open(client: &Arc<ClientHandle>) -> Row {
        Row {
            cid: client.cid,
            peer: client.peer,
            start: client.start,
            last_activity: from_millis(client.last_activity_ms.load(Ordering::Relaxed)),
            stop: None,
            reason: None,
            rtt_nanos: client.rtt_nanos.load(Ordering::Relaxed),
            pending_bytes: client.outbound.pending_bytes(),
            traffic: client.traffic.snapshot(),
            subscription_count: client.subscriptions().len(),
            description: lock(&client.description).clone(),
            handle: Some(client.clone()),
        }
    }

    fn closed(closed: ClosedClient) -> Row {
        Row {
            cid: closed.cid,
            peer: closed.peer,
            start: closed.start,
            last_activity: closed.stop,
            stop: Some(closed.stop),
            reason: Some(closed.reason),
            rtt_nanos: closed.rtt_nanos,
            pending_bytes: 0,
            traffic: closed.traffic,
            subscription_count: 0,
            description: closed.description,
            handle: None,
        }
    }

    /// Lifetime: to `now` while open, to the close when closed.
    fn uptime(&self, now: SystemTime) -> Duration {
        self.stop
            .unwrap_or(now)
            .duration_since(self.start)
            .unwrap_or(Duration::ZERO)
    }
}

/// `GET /connz`.
pub async fn handle(State(monitor): State<Arc<Monitor>>, Query(params): Query<Params>) -> Response {
    let query = match ConnzQuery::parse(&params) {
        Ok(query) => query,
        Err(bad) => return bad.into_response(),
    };
    monitor.count_request("/connz");
    json_response(&params, &connz(&monitor, &query))
}

fn connz(monitor: &Monitor, query: &ConnzQuery<'_>) -> Connz {
    let server = &monitor.server;
    let now = SystemTime::now();
    let mut rows = Vec::new();
    if matches!(query.state, ConnState::Open | ConnState::Any) {
        rows.extend(server.clients().iter().map(Row::open));
    }
    if matches!(query.state, ConnState::Closed | ConnState::Any) {
        rows.extend(server.closed_clients().into_iter().map(Row::closed));
    }
    if let Some(account) = query.account {
        rows.retain(|row| row.description.account.as_deref().unwrap_or(GLOBAL_ACCOUNT) == account);
    }
    if let Some(user) = query.user {
        rows.retain(|row| row.description.user.as_deref() == Some(user));
    }
    let total = rows.len();
    if query.cid > 0 {
        rows.retain(|row| row.cid == query.cid);
    }
    sort_rows(&mut rows, query.sort, now);
    let range = page(query.offset, query.limit, rows.len());
    let connections: Vec<ConnInfo> = rows
        .drain(range)
        .map(|row| conn_info(row, now, query))
        .collect();
    Connz {
        server_id: server.server_id.clone(),
        now: rfc3339(now),
        num_connections: connections.len(),
        total,
        offset: query.offset,
        limit: query.limit,
        connections,
    }
}

fn sort_rows(rows: &mut [Row], sort: SortBy, now: SystemTime) {
    match sort {
        SortBy::Cid | SortBy::Start => rows.sort_by_key(|row| row.cid),
        SortBy::Subs => rows.sort_by_key(|row| (Reverse(row.subscription_count), row.cid)),
        SortBy::Pending => rows.sort_by_key(|row| (Reverse(row.pending_bytes), row.cid)),
        SortBy::MsgsTo => rows.sort_by_key(|row| (Reverse(row.traffic.out_msgs), row.cid)),
        SortBy::MsgsFrom => rows.sort_by_key(|row| (Reverse(row.traffic.in_msgs), row.cid)),
        SortBy::BytesTo => rows.sort_by_key(|row| (Reverse(row.traffic.out_bytes), row.cid)),
        SortBy::BytesFrom => rows.sort_by_key(|row| (Reverse(row.traffic.in_bytes), row.cid)),
        SortBy::Last => rows.sort_by_key(|row| (Reverse(row.last_activity), row.cid)),
        // Longest idle first: the oldest last activity.
        SortBy::Idle => rows.sort_by_key(|row| (row.last_activity, row.cid)),
        SortBy::Uptime => rows.sort_by_key(|row| (row.uptime(now), row.cid)),
        SortBy::Stop => rows.sort_by_key(|row| (Reverse(row.stop), row.cid)),
        SortBy::Reason => rows.sort_by_key(|row| (row.reason.map(CloseReason::as_str), row.cid)),
        SortBy::Rtt => rows.sort_by_key(|row| (Reverse(row.rtt_nanos), row.cid)),
    }
}

fn conn_info(row: Row, now: SystemTime, query: &ConnzQuery<'_>) -> ConnInfo {
    let (mut subscriptions_list, mut subscriptions_list_detail) = (Vec::new(), Vec::new());
    if let Some(handle) = row
        .handle
        .as_ref()
        .filter(|_| query.subs || query.subs_detail)
    {
        let mut details: Vec<SubDetail> = handle
            .subscriptions()
            .values()
            .map(|subscription| SubDetail::of(subscription, false))
            .collect();
        details.sort_by(by_cid_then_sid);
        if query.subs_detail {
            subscriptions_list_detail = details;
        } else {
            subscriptions_list = details.into_iter().map(|detail| detail.subject).collect();
        }
    }
    let end = row.stop.unwrap_or(now);
    let uptime_text = uptime(row.uptime(now));
    let description = row.description;
    ConnInfo {
        cid: row.cid,
        kind: "Client",
        connection_type: "nats",
        ip: row.peer.ip().to_string(),
        port: row.peer.port(),
        start: rfc3339(row.start),
        last_activity: rfc3339(row.last_activity),
        stop: row.stop.map(rfc3339),
        reason: row.reason.map(CloseReason::as_str),
        rtt: rtt(row.rtt_nanos),
        uptime: uptime_text,
        idle: uptime(
            end.duration_since(row.last_activity)
                .unwrap_or(Duration::ZERO),
        ),
        pending_bytes: row.pending_bytes,
        in_msgs: row.traffic.in_msgs,
        out_msgs: row.traffic.out_msgs,
        in_bytes: row.traffic.in_bytes,
        out_bytes: row.traffic.out_bytes,
        subscriptions: row.subscription_count,
        name: description.name,
        lang: description.lang,
        version: description.version,
        authorized_user: description
            .user
            .filter(|user| query.auth && !user.is_empty()),
        account: description.account.filter(|_| query.auth),
        subscriptions_list,
        subscriptions_list_detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<(SortBy, ConnState, i64, i64), BadRequest> {
        let params = Params::from_pairs(pairs);
        ConnzQuery::parse(&params).map(|q| (q.sort, q.state, q.offset, q.limit))
    }

    #[test]
    fn defaults_match_nats_server() {
        assert_eq!(parse(&[]), Ok((SortBy::Cid, ConnState::Open, 0, 1024)));
        assert_eq!(
            parse(&[("limit", "-3"), ("offset", "-2")]),
            Ok((SortBy::Cid, ConnState::Open, 0, 1024))
        );
        assert_eq!(
            parse(&[("cid", "7"), ("limit", "50")]),
            Ok((SortBy::Cid, ConnState::Open, 0, 1))
        );
        assert_eq!(
            parse(&[("state", "ALL")]),
            Ok((SortBy::Cid, ConnState::Any, 0, 1024))
        );
    }

    #[test]
    fn bad_input_gets_nats_server_error_text() {
        let error = |pairs: &[(&str, &str)]| parse(pairs).err().map(|e| e.0);
        assert_eq!(
            error(&[("sort", "bogus")]).as_deref(),
            Some("invalid sorting option: bogus")
        );
        assert_eq!(
            error(&[("sort", "CID")]).as_deref(),
            Some("invalid sorting option: CID")
        );
        assert_eq!(
            error(&[("sort", "stop")]).as_deref(),
            Some("sort by stop only valid on closed connections")
        );
        assert_eq!(
            error(&[("sort", "reason"), ("state", "any")]).as_deref(),
            Some("sort by reason only valid on closed connections")
        );
        assert_eq!(
            error(&[("state", "gone")]).as_deref(),
            Some("Error decoding state for gone")
        );
        assert!(error(&[("auth", "maybe")])
            .is_some_and(|e| e.starts_with("Error decoding boolean for 'auth'")));
        assert!(error(&[("cid", "-1")])
            .is_some_and(|e| e.starts_with("Error decoding uint64 for 'cid'")));
        assert!(error(&[("limit", "ten")])
            .is_some_and(|e| e.starts_with("Error decoding int for 'limit'")));
        assert_eq!(
            parse(&[("sort", "stop"), ("state", "closed")]).map(|q| q.0),
            Ok(SortBy::Stop)
        );
    }
}
