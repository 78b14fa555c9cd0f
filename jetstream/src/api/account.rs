//! `$JS.API.INFO`: the account's JetStream usage, limits and API counters
//! (`account_info_response`). async-nats requires `reserved_memory`,
//! `reserved_storage` and `api` to decode it.

use serde::{Deserialize, Serialize};

/// The JetStream API level this server reports (`api.level`): 1, the
/// 2.11 feature set (per-message TTL and subject delete markers, which
/// async-nats requires for KV `limit_markers`). Atomic batch publish
/// (level 2) is in, counters (also level 2) are not, so still 1.
pub const API_LEVEL: u32 = 1;

/// Account limits; -1 is unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountLimits {
    /// Memory storage bytes.
    pub max_memory: i64,
    /// File storage bytes.
    pub max_storage: i64,
    /// Streams.
    pub max_streams: i64,
    /// Consumers.
    pub max_consumers: i64,
    /// Unacknowledged messages per consumer.
    pub max_ack_pending: i64,
    /// Largest memory stream, bytes.
    pub memory_max_stream_bytes: i64,
    /// Largest file stream, bytes.
    pub storage_max_stream_bytes: i64,
    /// Streams must set `max_bytes`.
    pub max_bytes_required: bool,
}

impl Default for AccountLimits {
    fn default() -> Self {
        AccountLimits {
            max_memory: -1,
            max_storage: -1,
            max_streams: -1,
            max_consumers: -1,
            max_ack_pending: -1,
            memory_max_stream_bytes: -1,
            storage_max_stream_bytes: -1,
            max_bytes_required: false,
        }
    }
}

/// API request counters (`api`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiStats {
    /// API level (see [`API_LEVEL`]).
    pub level: u32,
    /// Requests answered before this one.
    pub total: u64,
    /// Of those, answered with an error.
    pub errors: u64,
}

/// `account_info_response` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountInfo {
    /// Memory storage bytes used.
    pub memory: u64,
    /// File storage bytes used.
    pub storage: u64,
    /// Memory bytes reserved by streams' `max_bytes`.
    pub reserved_memory: u64,
    /// File bytes reserved by streams' `max_bytes`.
    pub reserved_storage: u64,
    /// Streams.
    pub streams: u64,
    /// Consumers.
    pub consumers: u64,
    /// Limits.
    pub limits: AccountLimits,
    /// The JetStream domain, when configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// API counters.
    pub api: ApiStats,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_the_fields_async_nats_requires() {
        let json = serde_json::to_value(AccountInfo::default()).unwrap();
        for key in [
            "memory",
            "storage",
            "reserved_memory",
            "reserved_storage",
            "streams",
            "consumers",
        ] {
            assert!(json.get(key).is_some(), "{key}");
        }
        assert_eq!(json["limits"]["max_streams"], -1);
        assert_eq!(json["api"]["level"], 0);
        assert!(json.get("domain").is_none());
    }
}
