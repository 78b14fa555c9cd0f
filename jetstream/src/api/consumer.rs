//! Consumer API types with nats-server's JSON shapes (`server/consumer.go`
//! `ConsumerConfig`, `ConsumerInfo`; `server/jetstream_api.go`
//! `CreateConsumerRequest`), and the create subject forms.
//!
//! Durations are `i64` nanoseconds, times `i64` nanoseconds since the epoch
//! written as RFC 3339. Fields nats-server marks `omitempty` are skipped
//! when zero, so a config round-trips to the same JSON nats-server writes.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::consumer::time::{rfc3339, rfc3339_option};
use crate::consumer::ConsumerError;

/// Where a new consumer starts (`deliver_policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliverPolicy {
    /// From the first message.
    #[default]
    All,
    /// From the last message (matching the filter).
    Last,
    /// Only messages stored after creation.
    New,
    /// From `opt_start_seq`.
    ByStartSequence,
    /// From the first message at or after `opt_start_time`.
    ByStartTime,
    /// The last message of every subject (matching the filter), then new ones.
    LastPerSubject,
}

/// How deliveries are acknowledged (`ack_policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AckPolicy {
    /// No acks; a delivery is final (nats-server's zero value).
    #[default]
    None,
    /// An ack acknowledges every delivery up to its stream sequence.
    All,
    /// Every delivery is acknowledged on its own.
    Explicit,
}

/// Pace of delivery of stored messages (`replay_policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplayPolicy {
    /// As fast as possible.
    #[default]
    Instant,
    /// At the pace they were stored.
    Original,
}

/// Priority group policy (`priority_policy`, 2.11+).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriorityPolicy {
    /// No priority groups.
    #[default]
    None,
    /// Pulls with `min_pending`/`min_ack_pending` get messages only when over them.
    Overflow,
    /// One client at a time is pinned and gets every message.
    PinnedClient,
    /// Lowest `priority` value first.
    Prioritized,
}

fn is_zero_i64(value: &i64) -> bool {
    *value == 0
}

fn is_zero_u64(value: &u64) -> bool {
    *value == 0
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn is_none_priority(value: &PriorityPolicy) -> bool {
    *value == PriorityPolicy::None
}

/// Go's decoder leaves a field at its zero value on `null`; do the same.
fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A consumer's configuration (`ConsumerConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConsumerConfig {
    /// Durable name; a durable consumer survives inactivity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub durable_name: Option<String>,
    /// Name (2.9+); the durable name when only that is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Free text, at most 4 KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Where delivery starts.
    #[serde(default, deserialize_with = "null_default")]
    pub deliver_policy: DeliverPolicy,
    /// Start sequence for `by_start_sequence`.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_zero_u64"
    )]
    pub opt_start_seq: u64,
    /// Start time for `by_start_time`.
    #[serde(
        default,
        with = "rfc3339_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub opt_start_time: Option<i64>,
    /// How deliveries are acknowledged.
    #[serde(default, deserialize_with = "null_default")]
    pub ack_policy: AckPolicy,
    /// Nanoseconds before an unacknowledged delivery is redelivered.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_zero_i64"
    )]
    pub ack_wait: i64,
    /// Most deliveries of one message; -1 = unlimited.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_zero_i64"
    )]
    pub max_deliver: i64,
    /// Redelivery delays in nanoseconds, one per redelivery (last repeats).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub backoff: Vec<i64>,
    /// One subject filter.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub filter_subject: String,
    /// Several non-overlapping filters (2.10+).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub filter_subjects: Vec<String>,
    /// Pace of delivery.
    #[serde(default, deserialize_with = "null_default")]
    pub replay_policy: ReplayPolicy,
    /// Push delivery rate limit, bits per second.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_zero_u64"
    )]
    pub rate_limit_bps: u64,
    /// Ack sampling percentage (`"50"` or `"50%"`).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub sample_freq: String,
    /// Most outstanding pull requests (default 512).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_zero_i64"
    )]
    pub max_waiting: i64,
    /// Most unacknowledged deliveries (default 1000 with acks); -1 = unlimited.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_zero_i64"
    )]
    pub max_ack_pending: i64,
    /// Push flow control.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_false"
    )]
    pub flow_control: bool,
    /// Deliver headers only, with `Nats-Msg-Size`.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_false"
    )]
    pub headers_only: bool,
    /// Largest pull `batch` accepted.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_zero_i64"
    )]
    pub max_batch: i64,
    /// Longest pull `expires` accepted, nanoseconds.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_zero_i64"
    )]
    pub max_expires: i64,
    /// Largest pull `max_bytes` accepted.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_zero_i64"
    )]
    pub max_bytes: i64,
    /// Push consumers: where messages go.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub deliver_subject: String,
    /// Push consumers: queue group on the deliver subject.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub deliver_group: String,
    /// Push consumers: idle heartbeat interval, nanoseconds.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_zero_i64"
    )]
    pub idle_heartbeat: i64,
    /// Delete after this long without activity (ephemerals default 5 s).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_zero_i64"
    )]
    pub inactive_threshold: i64,
    /// Replicas; 0 = the stream's.
    #[serde(default, deserialize_with = "null_default")]
    pub num_replicas: i64,
    /// Keep consumer state in memory only.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_false"
    )]
    pub mem_storage: bool,
    /// Internal (sourcing/mirroring) consumer.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_false"
    )]
    pub direct: bool,
    /// User metadata (written sorted, as Go does).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub metadata: BTreeMap<String, String>,
    /// Paused until this time.
    #[serde(
        default,
        with = "rfc3339_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub pause_until: Option<i64>,
    /// Priority group names.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub priority_groups: Vec<String>,
    /// Priority group policy.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_none_priority"
    )]
    pub priority_policy: PriorityPolicy,
    /// Pinned client time to live, nanoseconds.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_zero_i64"
    )]
    pub priority_timeout: i64,
}

impl ConsumerConfig {
    /// The filters, one or many (empty = every subject of the stream).
    pub fn filters(&self) -> Vec<String> {
        if !self.filter_subject.is_empty() {
            vec![self.filter_subject.clone()]
        } else {
            self.filter_subjects.clone()
        }
    }

    /// True for a pull consumer (no `deliver_subject`).
    pub fn is_pull(&self) -> bool {
        self.deliver_subject.is_empty()
    }

    /// True when a durable name is set.
    pub fn is_durable(&self) -> bool {
        self.durable_name
            .as_deref()
            .is_some_and(|name| !name.is_empty())
    }
}

/// A pair of consumer and stream sequences (`SequenceInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SequenceInfo {
    /// Consumer (delivery) sequence.
    pub consumer_seq: u64,
    /// Stream sequence.
    pub stream_seq: u64,
    /// Last activity, if any.
    #[serde(
        default,
        with = "rfc3339_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_active: Option<i64>,
}

/// The `cluster` object of an info response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ClusterInfo {
    /// Cluster name, if clustered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The server that leads the consumer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
}

/// A consumer's state report (`ConsumerInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerInfo {
    /// The stream.
    pub stream_name: String,
    /// The consumer.
    pub name: String,
    /// Creation time.
    #[serde(with = "rfc3339")]
    pub created: i64,
    /// The config with defaults applied.
    pub config: ConsumerConfig,
    /// Last delivery: consumer sequence of the last delivery, highest stream
    /// sequence delivered.
    pub delivered: SequenceInfo,
    /// Everything at or below is acknowledged.
    pub ack_floor: SequenceInfo,
    /// Deliveries awaiting an ack.
    pub num_ack_pending: u64,
    /// Messages awaiting an ack that were delivered more than once.
    pub num_redelivered: u64,
    /// Outstanding pull requests.
    pub num_waiting: u64,
    /// Messages matching the filter not yet delivered.
    pub num_pending: u64,
    /// Where the consumer lives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterInfo>,
    /// A push consumer whose deliver subject has interest.
    #[serde(default, skip_serializing_if = "is_false")]
    pub push_bound: bool,
    /// Paused (`pause_until` in the future).
    #[serde(default, skip_serializing_if = "is_false")]
    pub paused: bool,
    /// Nanoseconds until the pause ends.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub pause_remaining: i64,
    /// Priority groups and their pinned clients (2.11).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub priority_groups: Vec<PriorityGroupState>,
    /// When this report was made.
    #[serde(with = "rfc3339")]
    pub ts: i64,
}

/// One priority group in `ConsumerInfo` (`PriorityGroupState`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorityGroupState {
    /// The group.
    pub group: String,
    /// The `Nats-Pin-Id` of its pinned client, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned_client_id: Option<String>,
    /// When that client was pinned.
    #[serde(
        default,
        with = "rfc3339_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub pinned_ts: Option<i64>,
}

/// The create request's `action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConsumerAction {
    /// `""`: create, or update if it exists.
    #[default]
    CreateOrUpdate,
    /// `"create"`: fail (10148) if one with another config exists.
    Create,
    /// `"update"`: fail (10149) if none exists.
    Update,
}

impl Serialize for ConsumerAction {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(match self {
            ConsumerAction::CreateOrUpdate => "",
            ConsumerAction::Create => "create",
            ConsumerAction::Update => "update",
        })
    }
}

impl<'de> Deserialize<'de> for ConsumerAction {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Option::<String>::deserialize(deserializer)?.as_deref() {
            None | Some("") => Ok(ConsumerAction::CreateOrUpdate),
            Some("create") => Ok(ConsumerAction::Create),
            Some("update") => Ok(ConsumerAction::Update),
            Some(other) => Err(serde::de::Error::custom(format!(
                "unknown consumer action {other:?}"
            ))),
        }
    }
}

/// The body of `CONSUMER.CREATE…` and `CONSUMER.DURABLE.CREATE…`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CreateConsumerRequest {
    /// Must equal the stream in the subject (10056).
    #[serde(default, deserialize_with = "null_default")]
    pub stream_name: String,
    /// The requested config (10078 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ConsumerConfig>,
    /// Create, update or either.
    #[serde(default, skip_serializing_if = "is_default_action")]
    pub action: ConsumerAction,
    /// Refuse instead of adjusting values (2.11).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_false"
    )]
    pub pedantic: bool,
}

fn is_default_action(action: &ConsumerAction) -> bool {
    *action == ConsumerAction::CreateOrUpdate
}

/// Which create subject a request came on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateSubject {
    /// `CONSUMER.CREATE.<stream>`: legacy ephemeral (name from the body or generated).
    LegacyEphemeral {
        /// The stream.
        stream: String,
    },
    /// `CONSUMER.CREATE.<stream>.<consumer>[.<filter…>]` (2.9+).
    Named {
        /// The stream.
        stream: String,
        /// The consumer name.
        consumer: String,
        /// Tokens 7 and on, joined: must equal `filter_subject`.
        filter: Option<String>,
    },
    /// `CONSUMER.DURABLE.CREATE.<stream>.<durable>`: legacy durable.
    LegacyDurable {
        /// The stream.
        stream: String,
        /// The durable name.
        durable: String,
    },
}

impl CreateSubject {
    /// Parse a create subject, with or without the `$JS.API.` prefix.
    /// `None` when it is not a create subject at all.
    pub fn parse(subject: &str) -> Result<Option<CreateSubject>, ConsumerError> {
        let relative = subject.strip_prefix("$JS.API.").unwrap_or(subject);
        let tokens: Vec<&str> = relative.split('.').collect();
        if tokens.iter().any(|token| token.is_empty()) {
            return Err(ConsumerError::BadRequest);
        }
        match tokens.as_slice() {
            ["CONSUMER", "DURABLE", "CREATE", stream, durable] => {
                Ok(Some(CreateSubject::LegacyDurable {
                    stream: stream.to_string(),
                    durable: durable.to_string(),
                }))
            }
            ["CONSUMER", "DURABLE", "CREATE", ..] => Err(ConsumerError::DurableNameNotInSubject),
            ["CONSUMER", "CREATE", stream] => Ok(Some(CreateSubject::LegacyEphemeral {
                stream: stream.to_string(),
            })),
            ["CONSUMER", "CREATE", stream, consumer, filter @ ..] => {
                Ok(Some(CreateSubject::Named {
                    stream: stream.to_string(),
                    consumer: consumer.to_string(),
                    filter: (!filter.is_empty()).then(|| filter.join(".")),
                }))
            }
            _ => Ok(None),
        }
    }

    /// The stream named in the subject.
    pub fn stream(&self) -> &str {
        match self {
            CreateSubject::LegacyEphemeral { stream }
            | CreateSubject::Named { stream, .. }
            | CreateSubject::LegacyDurable { stream, .. } => stream,
        }
    }

    /// Check the request against the subject as nats-server does
    /// (`jsConsumerCreateRequest`) and return its config with the name
    /// from the subject applied.
    pub fn resolve(
        &self,
        request: &CreateConsumerRequest,
    ) -> Result<ConsumerConfig, ConsumerError> {
        if request.stream_name != self.stream() {
            return Err(ConsumerError::StreamMismatch);
        }
        let mut config = request
            .config
            .clone()
            .ok_or(ConsumerError::ConfigRequired)?;
        let durable = config.durable_name.clone().filter(|name| !name.is_empty());
        match self {
            CreateSubject::LegacyEphemeral { .. } => {
                if durable.is_some() {
                    return Err(ConsumerError::EphemeralWithDurableName);
                }
            }
            CreateSubject::LegacyDurable { durable: name, .. } => {
                check_path_separators(name)?;
                match durable {
                    None => return Err(ConsumerError::DurableNameNotSet),
                    Some(durable) if &durable != name => {
                        return Err(ConsumerError::DurableNameNotMatchSubject)
                    }
                    Some(_) => {}
                }
            }
            CreateSubject::Named {
                consumer, filter, ..
            } => {
                check_path_separators(consumer)?;
                if durable.as_ref().is_some_and(|durable| durable != consumer) {
                    return Err(ConsumerError::DurableNameNotMatchSubject);
                }
                config.name = Some(consumer.clone());
                if let Some(filter) = filter {
                    if !config.filter_subjects.is_empty() {
                        return Err(ConsumerError::MultipleFiltersNotAllowed);
                    }
                    if &config.filter_subject != filter {
                        return Err(ConsumerError::FilterSubjectMismatch);
                    }
                }
            }
        }
        Ok(config)
    }
}

fn check_path_separators(name: &str) -> Result<(), ConsumerError> {
    if name.contains(['\\', '/']) {
        return Err(ConsumerError::NameContainsPathSeparators);
    }
    Ok(())
}

#[cfg(test)]
#[path = "consumer_tests.rs"]
mod tests;
