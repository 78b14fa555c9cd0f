//! The per-account readings of `/metrics`, folded onto a bounded label set
//! (see the `metrics` module doc).

use std::collections::BTreeMap;

use super::shared::Monitor;
use crate::stats::TrafficSnapshot;

/// The `account` label of accounts that are not configured, `$G` or the
/// system account.
pub const OTHER_ACCOUNT_LABEL: &str = "other";

/// The `account` label of `name`: its name when it is configured, `$G`
/// or the system account, else [`OTHER_ACCOUNT_LABEL`].
pub fn account_label(monitor: &Monitor, name: &str) -> String {
    let server = &monitor.server;
    let named = name == starling_proto::account::GLOBAL_ACCOUNT
        || name == server.accounts.system_name()
        || server.options().accounts.iter().any(|a| a.name == name);
    if named {
        name.to_string()
    } else {
        OTHER_ACCOUNT_LABEL.to_string()
    }
}

/// Per-account readings folded onto the bounded label set: configured
/// accounts, `$G` and the system account by name, the rest as "other".
pub fn account_readings(monitor: &Monitor) -> Vec<(String, usize, TrafficSnapshot)> {
    let server = &monitor.server;
    let options = server.options();
    let mut labeled: BTreeMap<String, (usize, TrafficSnapshot)> = BTreeMap::new();
    let named = |name: &str| {
        name == starling_proto::account::GLOBAL_ACCOUNT
            || name == server.accounts.system_name()
            || options.accounts.iter().any(|a| a.name == name)
    };
    labeled.insert(OTHER_ACCOUNT_LABEL.to_string(), Default::default());
    for account in server.accounts.all() {
        let label = if named(&account.name) {
            account.name.to_string()
        } else {
            OTHER_ACCOUNT_LABEL.to_string()
        };
        let entry = labeled.entry(label).or_default();
        let traffic = account.traffic.snapshot();
        entry.0 += account.connection_count();
        entry.1.in_msgs += traffic.in_msgs;
        entry.1.in_bytes += traffic.in_bytes;
        entry.1.out_msgs += traffic.out_msgs;
        entry.1.out_bytes += traffic.out_bytes;
    }
    labeled
        .into_iter()
        .map(|(label, (connections, traffic))| (label, connections, traffic))
        .collect()
}
