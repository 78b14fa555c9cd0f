//! `/subsz` (alias `/subscriptionsz`): the subscription index's counters and,
//! with `subs=1`, the subscriptions themselves (nats-server `Subsz`).
//!
//! Parameters: `subs` (bool), `offset`, `limit` (default 1024), `test`
//! (a literal subject: list only subscriptions it would match) and `acc`
//! (only `$G` exists here; any other account lists nothing).
//!
//! Differences from nats-server, both deliberate: nats-server prints only the
//! eight counters when the list is empty; Starling always prints the whole
//! object (`server_id`, `now`, `total`, `offset`, `limit` too), a superset.
//! The list is sorted by client id and sid (nats-server's order is the
//! index's), so pages are stable. Like nats-server, `total` counts the
//! subscriptions on the page returned.

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::format::{go_float, rfc3339};
use super::params::{page, BadRequest, Params};
use super::shared::{json_response, Monitor, GLOBAL_ACCOUNT};
use crate::client::Subscription;
use crate::sublist::SublistStats;

/// Subscriptions listed when `limit` is absent or not positive.
pub const DEFAULT_SUB_LIST_SIZE: i64 = 1024;

/// The `/subsz` document.
#[derive(Debug, Serialize)]
pub struct Subsz {
    server_id: String,
    now: String,
    #[serde(flatten)]
    stats: StatsJson,
    total: usize,
    offset: i64,
    limit: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subscriptions_list: Vec<SubDetail>,
}

/// nats-server's `SublistStats` JSON.
#[derive(Debug, Serialize)]
struct StatsJson {
    num_subscriptions: u64,
    num_cache: u64,
    num_inserts: u64,
    num_removes: u64,
    num_matches: u64,
    #[serde(serialize_with = "go_float")]
    cache_hit_rate: f64,
    max_fanout: u64,
    #[serde(serialize_with = "go_float")]
    avg_fanout: f64,
}

impl From<SublistStats> for StatsJson {
    fn from(stats: SublistStats) -> Self {
        StatsJson {
            num_subscriptions: stats.num_subscriptions,
            num_cache: stats.num_cache,
            num_inserts: stats.num_inserts,
            num_removes: stats.num_removes,
            num_matches: stats.num_matches,
            cache_hit_rate: stats.cache_hit_rate,
            max_fanout: stats.max_fanout,
            avg_fanout: stats.avg_fanout,
        }
    }
}

/// One subscription in detail (nats-server `SubDetail`), used by `/subsz`
/// and by `/connz?subs=detail`.
#[derive(Debug, Clone, Serialize)]
pub struct SubDetail {
    /// Present in `/subsz`; nats-server leaves it out under `/connz`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Subject, possibly with wildcards.
    pub subject: String,
    /// Queue group, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qgroup: Option<String>,
    /// The client's sid.
    pub sid: String,
    /// Messages delivered.
    pub msgs: u64,
    /// Auto-unsubscribe limit (omitted when none).
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    /// Owning connection.
    pub cid: u64,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

impl SubDetail {
    /// The detail of `subscription`, with or without the account field.
    pub fn of(subscription: &Subscription, with_account: bool) -> Self {
        use std::sync::atomic::Ordering;
        SubDetail {
            account: with_account.then(|| subscription.account.name.to_string()),
            subject: subscription.subject.to_string(),
            qgroup: subscription.queue.as_ref().map(|queue| queue.to_string()),
            sid: String::from_utf8_lossy(&subscription.sid).into_owned(),
            msgs: subscription.delivered.load(Ordering::Relaxed),
            max: subscription.max.load(Ordering::Relaxed),
            cid: subscription.client.cid,
        }
    }
}

impl SubDetail {
    /// A peer's interest as a detail line (no sid or client).
    pub fn remote(subject: &str, queue: Option<&str>) -> Self {
        SubDetail {
            account: Some(GLOBAL_ACCOUNT.to_owned()),
            subject: subject.to_string(),
            qgroup: queue.map(str::to_string),
            sid: String::new(),
            msgs: 0,
            max: 0,
            cid: 0,
        }
    }
}

/// Orders subscriptions by client id, then sid (numerically when both are
/// numbers, as clients usually pick them).
pub fn by_cid_then_sid(a: &SubDetail, b: &SubDetail) -> std::cmp::Ordering {
    let numeric = |sid: &str| sid.parse::<u64>().ok();
    a.cid
        .cmp(&b.cid)
        .then_with(|| match (numeric(&a.sid), numeric(&b.sid)) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => a.sid.cmp(&b.sid),
        })
}

/// `GET /subsz` and `GET /subscriptionsz`.
pub async fn handle(State(monitor): State<Arc<Monitor>>, Query(params): Query<Params>) -> Response {
    monitor.count_request("/subsz");
    match subsz(&monitor, &params) {
        Ok(subsz) => json_response(&params, &subsz),
        Err(bad) => bad.into_response(),
    }
}

/// Build the document for `params`.
pub fn subsz(monitor: &Monitor, params: &Params) -> Result<Subsz, BadRequest> {
    let list = params.bool("subs")?;
    let offset = params.int("offset")?.max(0);
    let limit = match params.int("limit")? {
        limit if limit <= 0 => DEFAULT_SUB_LIST_SIZE,
        limit => limit,
    };
    let test = params.get("test");
    if let Some(subject) = test {
        if !starling_proto::subject::is_valid_literal_subject(subject) {
            return Err(BadRequest(format!(
                "invalid test subject, must be valid publish subject: {subject}"
            )));
        }
    }
    let server = &monitor.server;
    // `acc` names one account; without it, every account (as nats-server).
    let accounts = match params.get("acc") {
        Some(name) => server.accounts.get(name).into_iter().collect(),
        None => server.accounts.all(),
    };
    let mut subscriptions_list = Vec::new();
    if list {
        let mut details: Vec<SubDetail> = accounts
            .iter()
            .flat_map(|account| account.sublist.all())
            .filter(|(subject, _, _)| match test {
                Some(test) => starling_proto::subject::matches(subject, test),
                None => true,
            })
            .filter_map(|(_, _, entry)| match entry {
                crate::interest::Interest::Local(subscription) => {
                    Some(SubDetail::of(&subscription, true))
                }
                _ => None,
            })
            .collect();
        details.sort_by(by_cid_then_sid);
        let range = page(offset, limit, details.len());
        subscriptions_list = details.drain(range).collect();
    }
    let stats = accounts
        .iter()
        .map(|account| account.sublist.stats())
        .fold(SublistStats::default(), SublistStats::combined);
    Ok(Subsz {
        server_id: server.server_id.clone(),
        now: rfc3339(SystemTime::now()),
        stats: stats.into(),
        total: subscriptions_list.len(),
        offset,
        limit,
        subscriptions_list,
    })
}
