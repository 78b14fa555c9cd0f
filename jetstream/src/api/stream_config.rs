//! `StreamConfig` as nats-server reads and writes it (`server/stream.go`),
//! its defaults (`checkStreamCfg`) and the checks on create and update.
//!
//! Features this slice does not implement yet (s2 compression, placement)
//! are refused with a 10052 that names them, never silently accepted. TTLs,
//! delete markers, `republish` and `subject_transform` are checked in
//! [`super::stream_features`]; `mirror` and `sources` in
//! [`super::stream_source`].

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};
use starling_store::{StoreConfig, StoreLimits};

use super::error::ApiError;
use super::stream_features::{self, RePublish, SubjectTransformConfig};
use super::stream_source::StreamSource;
use crate::subject;

/// nats-server's default duplicate window: 2 minutes.
pub const DEFAULT_DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// Longest stream name (nats-server `JSMaxNameLen`).
pub const MAX_NAME_LEN: usize = 255;

/// Longest description (nats-server `JSMaxDescriptionLen`).
pub const MAX_DESCRIPTION_LEN: usize = 4 * 1024;

/// Retention policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RetentionPolicy {
    /// Kept until a limit removes it (the default).
    #[default]
    Limits,
    /// Kept while some consumer still needs it.
    Interest,
    /// Removed once acknowledged.
    #[serde(rename = "workqueue")]
    WorkQueue,
}

/// Discard policy when a limit is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiscardPolicy {
    /// Drop the oldest (the default).
    #[default]
    Old,
    /// Refuse the new message.
    New,
}

/// Storage type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageType {
    /// Files under the store directory (the default).
    #[default]
    File,
    /// Memory only; lost on restart.
    Memory,
}

/// Block compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// No compression (the default).
    #[default]
    None,
    /// S2 (refused for now).
    S2,
}

/// Defaults a stream gives its consumers (`consumer_limits`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerLimits {
    /// Inactivity before an ephemeral consumer is removed, ns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactive_threshold: Option<i64>,
    /// Default and maximum `max_ack_pending`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ack_pending: Option<i64>,
}

/// A stream's configuration. Field names and omission rules as
/// nats-server's JSON; `null` is accepted wherever a default exists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamConfig {
    /// Stream name.
    pub name: String,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Captured subjects (wildcards allowed).
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<String>,
    /// Retention policy.
    pub retention: RetentionPolicy,
    /// Most consumers, -1 unlimited.
    pub max_consumers: i64,
    /// Most messages, -1 unlimited.
    pub max_msgs: i64,
    /// Most bytes, -1 unlimited.
    pub max_bytes: i64,
    /// Oldest message age in ns, 0 unlimited.
    pub max_age: i64,
    /// Most messages per subject, -1 unlimited.
    pub max_msgs_per_subject: i64,
    /// Largest message (headers + payload), -1 unlimited.
    pub max_msg_size: i32,
    /// Discard policy.
    pub discard: DiscardPolicy,
    /// Storage type.
    pub storage: StorageType,
    /// Replicas (1 on a single node).
    pub num_replicas: i64,
    /// Publishes get no PubAck.
    #[serde(skip_serializing_if = "is_false")]
    pub no_ack: bool,
    /// Window of `Nats-Msg-Id` duplicate detection, ns.
    #[serde(skip_serializing_if = "is_zero")]
    pub duplicate_window: i64,
    /// Block compression.
    pub compression: Compression,
    /// First sequence of a new stream.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub first_seq: u64,
    /// DIRECT.GET answered.
    pub allow_direct: bool,
    /// A mirror answers its origin's DIRECT.GET.
    pub mirror_direct: bool,
    /// With `discard: new`, refuse per subject at `max_msgs_per_subject`.
    #[serde(skip_serializing_if = "is_false")]
    pub discard_new_per_subject: bool,
    /// No more writes, deletes or purges.
    pub sealed: bool,
    /// MSG.DELETE refused.
    pub deny_delete: bool,
    /// PURGE refused.
    pub deny_purge: bool,
    /// `Nats-Rollup` honoured.
    pub allow_rollup_hdrs: bool,
    /// Consumer defaults.
    pub consumer_limits: ConsumerLimits,
    /// `Nats-TTL` honoured.
    pub allow_msg_ttl: bool,
    /// TTL of the marker left when limits remove a subject's last message, ns.
    #[serde(skip_serializing_if = "is_zero")]
    pub subject_delete_marker_ttl: i64,
    /// Atomic batch publish (2.12, ADR-50): `Nats-Batch-Id` messages are
    /// staged and stored all together on `Nats-Batch-Commit`.
    #[serde(skip_serializing_if = "is_false")]
    pub allow_atomic: bool,
    /// Fast batch publish (2.14, `$FI` reply subjects): accepted, checked
    /// and shown; the flow-controlled ingest itself is not implemented.
    #[serde(skip_serializing_if = "is_false")]
    pub allow_batched: bool,
    /// User metadata.
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub metadata: BTreeMap<String, String>,
    /// Placement (refused for now).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement: Option<serde_json::Value>,
    /// The stream this one mirrors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror: Option<StreamSource>,
    /// The streams this one takes messages from (`None` when empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<StreamSource>>,
    /// Ingest transform.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_transform: Option<SubjectTransformConfig>,
    /// Republish after storing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub republish: Option<RePublish>,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            name: String::new(),
            description: None,
            subjects: Vec::new(),
            retention: RetentionPolicy::Limits,
            max_consumers: 0,
            max_msgs: 0,
            max_bytes: 0,
            max_age: 0,
            max_msgs_per_subject: 0,
            max_msg_size: 0,
            discard: DiscardPolicy::Old,
            storage: StorageType::File,
            num_replicas: 0,
            no_ack: false,
            duplicate_window: 0,
            compression: Compression::None,
            first_seq: 0,
            allow_direct: false,
            mirror_direct: false,
            discard_new_per_subject: false,
            sealed: false,
            deny_delete: false,
            deny_purge: false,
            allow_rollup_hdrs: false,
            consumer_limits: ConsumerLimits::default(),
            allow_msg_ttl: false,
            subject_delete_marker_ttl: 0,
            allow_atomic: false,
            allow_batched: false,
            metadata: BTreeMap::new(),
            placement: None,
            mirror: None,
            sources: None,
            subject_transform: None,
            republish: None,
        }
    }
}

fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn is_zero(value: &i64) -> bool {
    *value == 0
}

fn is_zero_u64(value: &u64) -> bool {
    *value == 0
}

/// Whether `name` may name a stream or consumer: non-empty, at most
/// [`MAX_NAME_LEN`], none of `. * > \ /` nor whitespace.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && !name
            .chars()
            .any(|c| matches!(c, '.' | '*' | '>' | '\\' | '/') || c.is_whitespace())
}

impl StreamConfig {
    /// Apply nats-server's defaults (`0` limits become `-1`, subjects
    /// default to the name, the duplicate window to 2 min or `max_age`)
    /// and check the result. What the stream stores and reports.
    pub fn normalized(mut self) -> Result<StreamConfig, ApiError> {
        if self.sources.as_ref().is_some_and(Vec::is_empty) {
            self.sources = None;
        }
        // A mirror or a stream with sources may capture nothing itself.
        if self.subjects.is_empty() && !self.has_sources() {
            self.subjects = vec![self.name.clone()];
        }
        for limit in [
            &mut self.max_msgs,
            &mut self.max_bytes,
            &mut self.max_msgs_per_subject,
            &mut self.max_consumers,
        ] {
            if *limit == 0 {
                *limit = -1;
            }
        }
        if self.max_msg_size == 0 {
            self.max_msg_size = -1;
        }
        if self.num_replicas == 0 {
            self.num_replicas = 1;
        }
        if self.duplicate_window == 0 && self.mirror.is_none() {
            let default = DEFAULT_DUPLICATE_WINDOW.as_nanos() as i64;
            self.duplicate_window = if self.max_age > 0 {
                default.min(self.max_age)
            } else {
                default
            };
        }
        stream_features::normalize(&mut self);
        self.check()?;
        Ok(self)
    }

    fn check(&self) -> Result<(), ApiError> {
        let invalid = |why: &str| Err(ApiError::invalid_stream_config(why));
        if !is_valid_name(&self.name) {
            return invalid("stream name is required and can not contain '.', '*', '>'");
        }
        if self
            .description
            .as_ref()
            .is_some_and(|d| d.len() > MAX_DESCRIPTION_LEN)
        {
            return invalid("stream description is too long, maximum allowed is 4096");
        }
        if self.num_replicas > 1 {
            return Err(ApiError::replicas_not_supported());
        }
        if self.num_replicas < 0 {
            return invalid("replicas must be between 1 and 5");
        }
        if self.max_age < 0 {
            return invalid("max age needs to be >= 0");
        }
        // The store's records hold sequences below 2^63 (nats-server has
        // no such limit; nothing reaches it by publishing).
        if self.first_seq > starling_store::record::MAX_SEQ {
            return invalid("first sequence must be below 2^63");
        }
        if self.duplicate_window < 0 {
            return invalid("duplicates window can not be negative");
        }
        if self.max_age > 0 && self.duplicate_window > self.max_age {
            return invalid("duplicates window can not be larger then max age");
        }
        if self.discard_new_per_subject {
            if self.discard != DiscardPolicy::New {
                return invalid("discard new per subject requires discard new policy to be set");
            }
            if self.max_msgs_per_subject <= 0 {
                return invalid("discard new per subject requires max msgs per subject > 0");
            }
        }
        if self.allow_rollup_hdrs && self.deny_purge {
            return invalid("roll-ups require the purge permission");
        }
        self.check_sources()?;
        for (index, subject) in self.subjects.iter().enumerate() {
            if !subject::is_valid_filter(subject) {
                return invalid(&format!("invalid subject {subject:?}"));
            }
            if self.subjects[..index].contains(subject) {
                return invalid(&format!("duplicate subjects detected: {subject:?}"));
            }
            if subject::overlaps(subject, "$JS.API.>") {
                return invalid(
                    "subjects that overlap with jetstream api require no-ack to be true",
                );
            }
        }
        stream_features::check(self)?;
        self.check_supported()
    }

    /// Refuse what this slice does not implement yet, naming it.
    fn check_supported(&self) -> Result<(), ApiError> {
        let unsupported = [
            (self.compression != Compression::None, "compression"),
            (
                self.placement
                    .as_ref()
                    .is_some_and(|p| !p.is_null() && p != &serde_json::json!({})),
                "placement",
            ),
        ];
        match unsupported.iter().find(|(used, _)| *used) {
            Some((_, feature)) => Err(ApiError::invalid_stream_config(&format!(
                "{feature} is not supported by starling yet"
            ))),
            None => Ok(()),
        }
    }

    /// Check a change from `self` (the current, normalized config) to
    /// `next` (normalized): what nats-server refuses to change.
    pub fn check_update(&self, next: &StreamConfig) -> Result<(), ApiError> {
        let refuse = |why: &str| Err(ApiError::stream_update(why));
        if next.name != self.name {
            return Err(ApiError::stream_name_mismatch());
        }
        if next.storage != self.storage {
            return refuse("stream configuration update can not change storage type");
        }
        if next.retention != self.retention {
            return refuse("stream configuration update can not change retention policy");
        }
        if self.sealed && !next.sealed {
            return refuse("stream configuration update can not unseal a sealed stream");
        }
        if self.deny_delete && !next.deny_delete {
            return refuse("stream configuration update can not cancel deny message deletes");
        }
        if self.deny_purge && !next.deny_purge {
            return refuse("stream configuration update can not cancel deny purge");
        }
        if next.first_seq != self.first_seq && next.first_seq != 0 {
            return refuse("stream configuration update can not change first sequence");
        }
        // Removing the mirror promotes it to a plain stream (2.12); any
        // other change of it is refused.
        if next.mirror.is_some() && next.mirror != self.mirror {
            return Err(ApiError::mirror_not_updatable());
        }
        stream_features::check_update(self, next)
    }

    /// The limits the store enforces itself.
    pub fn store_limits(&self) -> StoreLimits {
        let count = |value: i64| u64::try_from(value).unwrap_or(0);
        StoreLimits {
            max_msgs: count(self.max_msgs),
            max_bytes: count(self.max_bytes),
            max_age_nanos: self.max_age.max(0),
            max_msgs_per_subject: count(self.max_msgs_per_subject),
            max_msg_size: u64::try_from(self.max_msg_size).unwrap_or(0),
            discard: match self.discard {
                DiscardPolicy::Old => starling_store::DiscardPolicy::Old,
                DiscardPolicy::New => starling_store::DiscardPolicy::New,
            },
            discard_new_per_subject: self.discard_new_per_subject,
        }
    }

    /// The store settings of a new stream.
    pub fn store_config(&self) -> StoreConfig {
        StoreConfig {
            limits: self.store_limits(),
            first_seq: self.first_seq.max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> StreamConfig {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    #[test]
    fn defaults_as_nats_server() {
        let config = parse(r#"{"name":"ORDERS"}"#)
            .normalized()
            .unwrap_or_default();
        assert_eq!(config.subjects, vec!["ORDERS".to_string()]);
        assert_eq!(config.max_msgs, -1);
        assert_eq!(config.max_bytes, -1);
        assert_eq!(config.max_msgs_per_subject, -1);
        assert_eq!(config.max_consumers, -1);
        assert_eq!(config.max_msg_size, -1);
        assert_eq!(config.num_replicas, 1);
        assert_eq!(config.duplicate_window, 120_000_000_000);
        let json = serde_json::to_value(&config).unwrap_or_default();
        assert_eq!(json["retention"], "limits");
        assert_eq!(json["storage"], "file");
        assert_eq!(json["discard"], "old");
        assert_eq!(json["compression"], "none");
        assert_eq!(json["duplicate_window"], 120_000_000_000i64);
        assert!(json.get("no_ack").is_none());
    }

    #[test]
    fn duplicate_window_defaults_to_a_smaller_max_age() {
        let config = parse(r#"{"name":"S","max_age":1000000000}"#)
            .normalized()
            .unwrap_or_default();
        assert_eq!(config.duplicate_window, 1_000_000_000);
    }

    #[test]
    fn a_first_sequence_the_store_cannot_hold_is_refused() {
        let code = |json: &str| parse(json).normalized().err().map(|e| e.err_code);
        assert_eq!(
            code(r#"{"name":"S","first_seq":9223372036854775807}"#),
            None
        );
        assert_eq!(
            code(r#"{"name":"S","first_seq":9223372036854775808}"#),
            Some(10052)
        );
    }

    #[test]
    fn nulls_are_defaults() {
        let config = parse(r#"{"name":"S","subjects":null,"metadata":null,"mirror":null}"#);
        assert!(config.subjects.is_empty());
        assert!(config.normalized().is_ok());
    }

    #[test]
    fn refusals() {
        let code = |json: &str| {
            parse(json)
                .normalized()
                .err()
                .map(|e| e.err_code)
                .unwrap_or(0)
        };
        assert_eq!(code(r#"{"name":"a.b"}"#), 10052);
        assert_eq!(code(r#"{"name":""}"#), 10052);
        assert_eq!(code(r#"{"name":"S","num_replicas":3}"#), 10074);
        assert_eq!(code(r#"{"name":"S","subjects":["a..b"]}"#), 10052);
        assert_eq!(code(r#"{"name":"S","subjects":["a","a"]}"#), 10052);
        assert_eq!(code(r#"{"name":"S","subjects":["$JS.API.>"]}"#), 10052);
        assert_eq!(
            code(r#"{"name":"S","mirror":{"name":"O"},"subjects":["a"]}"#),
            10034
        );
        assert_eq!(
            code(r#"{"name":"S","max_age":1000,"duplicate_window":2000}"#),
            10052
        );
        assert_eq!(
            code(r#"{"name":"S","allow_rollup_hdrs":true,"deny_purge":true}"#),
            10052
        );
    }

    #[test]
    fn update_checks() {
        let current = parse(r#"{"name":"S"}"#).normalized().unwrap_or_default();
        let memory = parse(r#"{"name":"S","storage":"memory"}"#)
            .normalized()
            .unwrap_or_default();
        assert_eq!(
            current.check_update(&memory).err().map(|e| e.err_code),
            Some(10069)
        );
        let renamed = parse(r#"{"name":"T"}"#).normalized().unwrap_or_default();
        assert_eq!(
            current.check_update(&renamed).err().map(|e| e.err_code),
            Some(10056)
        );
        let more = parse(r#"{"name":"S","max_msgs":10}"#)
            .normalized()
            .unwrap_or_default();
        assert!(current.check_update(&more).is_ok());
    }
}
