//! The JetStream series of `/metrics`, present while JetStream runs.
//!
//! Labels stay bounded: `account` is folded as for the other per-account
//! series (configured accounts, `$G`, the system account, else `other`)
//! and `storage` is `file` or `memory`. No series is per stream or per
//! consumer: their names are chosen by clients and unbounded; `/jsz`
//! gives the per-stream detail.
//!
//! The fsync latency histogram is kept in fixed buckets by the stream
//! workers and written here in the text format directly (the recorder
//! only takes single observations).

use std::collections::BTreeMap;
use std::fmt::Write;

use metrics::{describe_counter, describe_gauge, Unit};
use starling_jetstream::api::StorageType;

use super::metrics_accounts::account_label;
use super::shared::Monitor;
use crate::jetstream::{ReportOptions, SyncSnapshot};

/// Gauges with labels `account` and `storage`.
const STORAGE_GAUGES: [(&str, &str, Unit); 3] = [
    (
        "starling_jetstream_streams",
        "JetStream streams.",
        Unit::Count,
    ),
    (
        "starling_jetstream_messages",
        "Messages held by JetStream streams.",
        Unit::Count,
    ),
    (
        "starling_jetstream_bytes",
        "Bytes held by JetStream streams.",
        Unit::Bytes,
    ),
];

/// Gauges with label `account`.
const ACCOUNT_GAUGES: [(&str, &str, Unit); 1] = [(
    "starling_jetstream_consumers",
    "JetStream consumers.",
    Unit::Count,
)];

/// Counters with label `account`.
const ACCOUNT_COUNTERS: [(&str, &str, Unit); 2] = [
    (
        "starling_jetstream_api_requests_total",
        "JetStream API requests answered.",
        Unit::Count,
    ),
    (
        "starling_jetstream_api_errors_total",
        "JetStream API requests answered with an error.",
        Unit::Count,
    ),
];

/// Gauges with label `storage`: the server's limit.
const LIMIT_GAUGE: (&str, &str, Unit) = (
    "starling_jetstream_limit_bytes",
    "JetStream storage limit of the server (max_memory_store / max_file_store).",
    Unit::Bytes,
);

const FSYNC: &str = "starling_jetstream_fsync_seconds";

/// Describe the series (inside the endpoint's recorder).
pub fn describe() {
    for (name, help, unit) in STORAGE_GAUGES
        .iter()
        .chain(&ACCOUNT_GAUGES)
        .chain(std::iter::once(&LIMIT_GAUGE))
    {
        describe_gauge!(*name, *unit, *help);
    }
    for (name, help, unit) in ACCOUNT_COUNTERS {
        describe_counter!(name, unit, help);
    }
}

/// Per (account label, storage): streams, messages, bytes.
type StorageCounts = BTreeMap<(String, &'static str), (u64, u64, u64)>;

/// What one scrape reports of JetStream.
pub struct JetStreamReading {
    storage: StorageCounts,
    /// Per account label: consumers, API requests, API errors.
    accounts: BTreeMap<String, (u64, u64, u64)>,
    limits: [(&'static str, i64); 2],
    fsync: SyncSnapshot,
}

fn storage_name(storage: StorageType) -> &'static str {
    match storage {
        StorageType::File => "file",
        StorageType::Memory => "memory",
    }
}

/// Read JetStream, if it runs.
pub fn take(monitor: &Monitor) -> Option<JetStreamReading> {
    let server = &monitor.server;
    let jetstream = server.jetstream.get()?;
    let options = ReportOptions {
        accounts: true,
        streams: true,
        ..ReportOptions::default()
    };
    let report = jetstream.report(&options, &server.server_name());
    let mut reading = JetStreamReading {
        storage: BTreeMap::new(),
        accounts: BTreeMap::new(),
        limits: [
            ("file", report.config.max_storage),
            ("memory", report.config.max_memory),
        ],
        fsync: jetstream.fsync_latency(),
    };
    for account in report.account_details.unwrap_or_default() {
        let label = account_label(monitor, &account.name);
        for storage in ["file", "memory"] {
            reading.storage.entry((label.clone(), storage)).or_default();
        }
        let entry = reading.accounts.entry(label.clone()).or_default();
        entry.1 += account.usage.api.total;
        entry.2 += account.usage.api.errors;
        for stream in account.stream_detail.unwrap_or_default() {
            let (messages, bytes, consumers) = stream.counts;
            let counts = reading
                .storage
                .entry((label.clone(), storage_name(stream.storage)))
                .or_default();
            counts.0 += 1;
            counts.1 += messages;
            counts.2 += bytes;
            reading.accounts.entry(label.clone()).or_default().0 += consumers;
        }
    }
    Some(reading)
}

/// Set the series (inside the endpoint's recorder).
pub fn record(reading: &JetStreamReading) {
    for ((account, storage), (streams, messages, bytes)) in &reading.storage {
        let labels = [
            ("account", account.clone()),
            ("storage", storage.to_string()),
        ];
        metrics::gauge!("starling_jetstream_streams", &labels).set(*streams as f64);
        metrics::gauge!("starling_jetstream_messages", &labels).set(*messages as f64);
        metrics::gauge!("starling_jetstream_bytes", &labels).set(*bytes as f64);
    }
    for (account, (consumers, requests, errors)) in &reading.accounts {
        let labels = [("account", account.clone())];
        metrics::gauge!("starling_jetstream_consumers", &labels).set(*consumers as f64);
        metrics::counter!("starling_jetstream_api_requests_total", &labels).absolute(*requests);
        metrics::counter!("starling_jetstream_api_errors_total", &labels).absolute(*errors);
    }
    for (storage, limit) in reading.limits {
        metrics::gauge!(LIMIT_GAUGE.0, "storage" => storage).set(limit as f64);
    }
}

/// The fsync histogram in the text format, appended to the rendering.
pub fn render_fsync(reading: &JetStreamReading, out: &mut String) {
    let snapshot = &reading.fsync;
    let _ = writeln!(
        out,
        "# HELP {FSYNC} Time a stream batch waited for its fsyncs."
    );
    let _ = writeln!(out, "# TYPE {FSYNC} histogram");
    for (bound, count) in &snapshot.cumulative {
        let le = if bound.is_infinite() {
            "+Inf".to_string()
        } else {
            bound.to_string()
        };
        let _ = writeln!(out, "{FSYNC}_bucket{{le=\"{le}\"}} {count}");
    }
    let _ = writeln!(out, "{FSYNC}_sum {}", snapshot.sum_seconds);
    let _ = writeln!(out, "{FSYNC}_count {}", snapshot.count);
}
