//! What monitoring reads of JetStream (`/jsz`, `$SYS.REQ.SERVER.*.JSZ`,
//! `/varz`'s `jetstream`, `/metrics`): totals over every account, and
//! per account / stream / consumer details when asked, with
//! nats-server's field names (`JSInfo`, `AccountDetail`, `StreamDetail`).
//! Each stream's lock is taken briefly, one at a time.

use std::sync::atomic::Ordering;

use serde::Serialize;
use starling_jetstream::api::account::API_LEVEL;
use starling_jetstream::api::stream::ClusterInfo;
use starling_jetstream::api::{StorageType, StreamInfoRequest};

use super::publish::now_nanos;
use super::service::JetStream;
use crate::client::handle::lock;

/// Which details a report carries (the `/jsz` options).
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    /// Per account details.
    pub accounts: bool,
    /// Per stream details (implies accounts).
    pub streams: bool,
    /// Per consumer details (implies streams).
    pub consumers: bool,
    /// Stream and consumer configs in the details.
    pub config: bool,
    /// Only this account (implies accounts).
    pub account: Option<String>,
}

/// `config` of `/jsz` and `/varz`'s `jetstream`.
#[derive(Debug, Clone, Serialize)]
pub struct ReportConfig {
    /// `max_memory_store` in force.
    pub max_memory: i64,
    /// `max_file_store` in force.
    pub max_storage: i64,
    /// `<store_dir>/jetstream`.
    pub store_dir: String,
    /// Lazy sync interval, ns (0 = sync before every PubAck).
    pub sync_interval: u64,
    /// As nats-server: compression could be used.
    pub compress_ok: bool,
    /// `strict`.
    pub strict: bool,
    /// `domain`, when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
}

/// API counters.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ReportApi {
    /// API level.
    pub level: u32,
    /// Requests answered.
    pub total: u64,
    /// Of those, errors.
    pub errors: u64,
}

/// Usage shared by the server totals and each account.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReportUsage {
    /// Memory bytes stored.
    pub memory: u64,
    /// File bytes stored.
    pub storage: u64,
    /// Memory bytes reserved by `max_bytes`.
    pub reserved_memory: u64,
    /// File bytes reserved by `max_bytes`.
    pub reserved_storage: u64,
    /// Accounts (0 in an account's detail).
    pub accounts: u64,
    /// Raft groups: none on one node.
    pub ha_assets: u64,
    /// API counters.
    pub api: ReportApi,
}

/// One stream in `stream_detail`.
#[derive(Debug, Clone, Serialize)]
pub struct StreamReport {
    /// Name.
    pub name: String,
    /// Creation time.
    pub created: String,
    /// `leader`: this server.
    pub cluster: ClusterInfo,
    /// Config, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Value>,
    /// State (with `consumer_count`).
    pub state: serde_json::Value,
    /// Consumers, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer_detail: Option<Vec<serde_json::Value>>,
    /// Storage type, for the metrics (not in the JSON).
    #[serde(skip)]
    pub storage: StorageType,
    /// Messages, bytes and consumers, for the totals (not in the JSON).
    #[serde(skip)]
    pub counts: (u64, u64, u64),
}

/// One account in `account_details`.
#[derive(Debug, Clone, Serialize)]
pub struct AccountReport {
    /// Account name.
    pub name: String,
    /// Account id (the name; the public key in operator mode).
    pub id: String,
    /// Usage.
    #[serde(flatten)]
    pub usage: ReportUsage,
    /// Streams, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_detail: Option<Vec<StreamReport>>,
}

/// The whole report (`/jsz` less `server_id` and `now`).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Totals.
    #[serde(flatten)]
    pub usage: ReportUsage,
    /// Config in force.
    pub config: ReportConfig,
    /// Streams.
    pub streams: u64,
    /// Consumers.
    pub consumers: u64,
    /// Messages.
    pub messages: u64,
    /// Bytes.
    pub bytes: u64,
    /// Per account, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_details: Option<Vec<AccountReport>>,
    /// Accounts in the report.
    pub total: u64,
}

impl JetStream {
    /// The config part of the report.
    pub fn report_config(&self) -> ReportConfig {
        ReportConfig {
            max_memory: self.server_limits.max_memory,
            max_storage: self.server_limits.max_storage,
            store_dir: self.root.display().to_string(),
            sync_interval: self
                .options
                .sync_interval
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
            compress_ok: true,
            strict: self.options.strict,
            domain: self.options.domain.clone(),
        }
    }

    /// Totals, and the details `options` ask for; `leader` (this
    /// server's name) leads every stream.
    pub fn report(&self, options: &ReportOptions, leader: &str) -> Report {
        let details =
            options.accounts || options.streams || options.consumers || options.account.is_some();
        let streams_wanted = options.streams || options.consumers;
        let now = now_nanos();
        let mut report = Report {
            usage: ReportUsage::default(),
            config: self.report_config(),
            streams: 0,
            consumers: 0,
            messages: 0,
            bytes: 0,
            account_details: details.then(Vec::new),
            total: 0,
        };
        report.usage.api.level = API_LEVEL;
        for account in self.all_accounts() {
            let name = account.account.name.to_string();
            let mut usage = ReportUsage {
                memory: account.usage.get(StorageType::Memory),
                storage: account.usage.get(StorageType::File),
                api: ReportApi {
                    level: API_LEVEL,
                    total: account.api_total.load(Ordering::Relaxed),
                    errors: account.api_errors.load(Ordering::Relaxed),
                },
                ..ReportUsage::default()
            };
            let mut streams = Vec::new();
            for handle in account.all_streams() {
                let stream = stream_report(&handle, options, leader, now);
                let config = handle.config();
                let reserved = u64::try_from(config.max_bytes).unwrap_or(0);
                match config.storage {
                    StorageType::Memory => usage.reserved_memory += reserved,
                    StorageType::File => usage.reserved_storage += reserved,
                }
                let (messages, bytes, consumers) = stream.counts;
                report.streams += 1;
                report.messages += messages;
                report.bytes += bytes;
                report.consumers += consumers;
                streams.push(stream);
            }
            report.usage.memory += usage.memory;
            report.usage.storage += usage.storage;
            report.usage.reserved_memory += usage.reserved_memory;
            report.usage.reserved_storage += usage.reserved_storage;
            report.usage.accounts += 1;
            report.usage.api.total += usage.api.total;
            report.usage.api.errors += usage.api.errors;
            let wanted = options.account.as_deref().is_none_or(|only| only == name);
            if let (Some(details), true) = (report.account_details.as_mut(), wanted) {
                details.push(AccountReport {
                    id: name.clone(),
                    name,
                    usage,
                    stream_detail: streams_wanted.then_some(streams),
                });
            }
        }
        report.total = report
            .account_details
            .as_ref()
            .map_or(report.usage.accounts, |details| details.len() as u64);
        report
    }
}

fn stream_report(
    handle: &super::handle::StreamHandle,
    options: &ReportOptions,
    leader: &str,
    now: i64,
) -> StreamReport {
    let (info, storage, detail) = {
        let stream = lock(&handle.stream);
        let info = stream.info(&StreamInfoRequest::default(), now);
        let set = lock(&handle.consumers);
        let detail: Vec<serde_json::Value> = if options.consumers {
            set.entries
                .values()
                .filter_map(|entry| {
                    let mut value =
                        serde_json::to_value(entry.consumer.info(stream.store(), now)).ok()?;
                    if !options.config {
                        if let Some(map) = value.as_object_mut() {
                            map.remove("config");
                        }
                    }
                    Some(value)
                })
                .collect()
        } else {
            Vec::new()
        };
        let count = set.entries.len() as u64;
        (info, stream.config().storage, (detail, count))
    };
    let (detail, consumer_count) = detail;
    let mut state = info.state;
    state.consumer_count = consumer_count;
    StreamReport {
        name: handle.name.clone(),
        created: info.created,
        cluster: ClusterInfo {
            leader: Some(leader.to_string()),
        },
        config: options
            .config
            .then(|| serde_json::to_value(&info.config).unwrap_or_default()),
        counts: (state.messages, state.bytes, consumer_count),
        state: serde_json::to_value(&state).unwrap_or_default(),
        consumer_detail: options.consumers.then_some(detail),
        storage,
    }
}
