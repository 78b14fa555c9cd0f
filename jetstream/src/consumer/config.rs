//! Consumer config defaults and validation, in nats-server's order
//! (`setConsumerConfigDefaults`, `checkConsumerCfg`,
//! `checkNewConsumerConfig`), so the first error reported is the one
//! nats-server would report.

use crate::api::consumer::{AckPolicy, ConsumerConfig, DeliverPolicy, PriorityPolicy};
use crate::consumer::error::ConsumerError;
use crate::consumer::subject::{has_wildcard, is_subset, is_valid_subject, subjects_collide};
use crate::consumer::time::format_go_duration;

/// Default `ack_wait`: 30 s (`JsAckWaitDefault`).
pub const DEFAULT_ACK_WAIT: i64 = 30_000_000_000;
/// Default `max_ack_pending` with acks: 1000 (`JsDefaultMaxAckPending`).
pub const DEFAULT_MAX_ACK_PENDING: i64 = 1000;
/// Default `max_waiting` of a pull consumer: 512 (`JSWaitQueueDefaultMax`).
pub const DEFAULT_MAX_WAITING: i64 = 512;
/// Default `inactive_threshold` of an ephemeral: 5 s (`JsDeleteWaitTimeDefault`).
pub const DEFAULT_INACTIVE_THRESHOLD: i64 = 5_000_000_000;
/// Default `priority_timeout` of a pinned-client consumer: 2 min.
pub const DEFAULT_PINNED_TTL: i64 = 120_000_000_000;
/// Longest consumer name (`JSMaxNameLen`).
pub const MAX_NAME_LEN: usize = 255;
/// Longest description (`JSMaxDescriptionLen`).
pub const MAX_DESCRIPTION_LEN: usize = 4 * 1024;
/// Largest metadata, keys plus values (`JSMaxMetadataLen`).
pub const MAX_METADATA_LEN: usize = 128 * 1024;
/// Shortest push `idle_heartbeat`: 100 ms.
const MIN_HEARTBEAT: i64 = 100_000_000;
/// Shortest `max_expires`: 1 ms.
const MIN_MAX_EXPIRES: i64 = 1_000_000;

/// A stream's retention, as far as consumer rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Retention {
    /// Limits retention.
    #[default]
    Limits,
    /// Interest retention.
    Interest,
    /// Work queue retention.
    WorkQueue,
}

/// What a consumer's config is checked against: its stream and the limits.
/// A zero limit means none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamContext {
    /// The stream's subjects (a deliver subject they capture is a cycle).
    /// Filters outside them are accepted: measured, nats-server 2.15.1
    /// creates such a consumer (10093 is no longer returned).
    pub subjects: Vec<String>,
    /// The stream's retention.
    pub retention: Retention,
    /// The stream's replicas (0 is taken as 1).
    pub replicas: i64,
    /// The stream's `consumer_limits.max_ack_pending`.
    pub stream_max_ack_pending: i64,
    /// The stream's `consumer_limits.inactive_threshold`, nanoseconds.
    pub stream_inactive_threshold: i64,
    /// The server's `jetstream.limits.max_ack_pending`.
    pub server_max_ack_pending: i64,
    /// The account's `max_ack_pending`.
    pub account_max_ack_pending: i64,
    /// The server's `jetstream.limits.max_request_batch`.
    pub server_max_request_batch: i64,
}

/// Fill in what nats-server fills in (non-pedantic mode).
pub fn apply_defaults(config: &mut ConsumerConfig, stream: &StreamContext) {
    if config.max_deliver == 0 || config.max_deliver < -1 {
        config.max_deliver = -1;
    }
    config.max_waiting = config.max_waiting.max(0);
    if config.max_ack_pending < -1 {
        config.max_ack_pending = -1;
    }
    config.max_batch = config.max_batch.max(0);
    config.max_expires = config.max_expires.max(0);
    config.max_bytes = config.max_bytes.max(0);
    config.idle_heartbeat = config.idle_heartbeat.max(0);
    config.inactive_threshold = config.inactive_threshold.max(0);
    config.priority_timeout = config.priority_timeout.max(0);

    if config.is_pull() && config.max_waiting == 0 {
        config.max_waiting = DEFAULT_MAX_WAITING;
    }
    if config.ack_wait == 0 && config.ack_policy != AckPolicy::None {
        config.ack_wait = DEFAULT_ACK_WAIT;
    }
    if let Some(first) = config.backoff.first() {
        config.ack_wait = *first;
    }
    if config.max_ack_pending == 0 {
        config.max_ack_pending = stream.stream_max_ack_pending;
    }
    if config.inactive_threshold == 0 {
        config.inactive_threshold = stream.stream_inactive_threshold;
    }
    if config.max_ack_pending == 0 && config.ack_policy != AckPolicy::None {
        let mut limit = DEFAULT_MAX_ACK_PENDING;
        for cap in [
            stream.server_max_ack_pending,
            stream.account_max_ack_pending,
        ] {
            if cap > 0 && cap < limit {
                limit = cap;
            }
        }
        config.max_ack_pending = limit;
    }
    if config.is_pull() && config.max_batch == 0 && stream.server_max_request_batch > 0 {
        config.max_batch = stream.server_max_request_batch;
    }
    if config.priority_policy == PriorityPolicy::PinnedClient && config.priority_timeout == 0 {
        config.priority_timeout = DEFAULT_PINNED_TTL;
    }
    // The 2.9+ servers report a durable's name in `name` too.
    if config.name.as_deref().is_none_or(str::is_empty) && config.is_durable() {
        config.name = config.durable_name.clone();
    }
    // Ephemerals always expire (`updateInactiveThreshold`).
    if !config.is_durable() && config.inactive_threshold == 0 {
        config.inactive_threshold = DEFAULT_INACTIVE_THRESHOLD;
    }
}

/// A valid asset name: 1..=255 characters, none of `. * > \ /` or whitespace.
pub fn check_name(name: &str, what: &str) -> Result<(), ConsumerError> {
    if name.len() > MAX_NAME_LEN {
        return Err(ConsumerError::NameTooLong);
    }
    if name.is_empty()
        || name.contains(['.', '*', '>', '\\', '/'])
        || name.contains(char::is_whitespace)
    {
        return Err(ConsumerError::InvalidName(format!(
            "{what} can not contain '.', '*', '>', '\\', '/'"
        )));
    }
    Ok(())
}

/// Validate a config (defaults already applied) as `checkConsumerCfg` does.
pub fn validate(config: &ConsumerConfig, stream: &StreamContext) -> Result<(), ConsumerError> {
    use ConsumerError::*;
    if let Some(name) = config.name.as_deref().filter(|name| !name.is_empty()) {
        check_name(name, "consumer name")?;
    }
    if let Some(durable) = config
        .durable_name
        .as_deref()
        .filter(|name| !name.is_empty())
    {
        check_name(durable, "consumer durable name")?;
    }
    // A stream always has at least one replica; 0 in the context means 1.
    let stream_replicas = stream.replicas.max(1);
    if config.num_replicas > 0 && config.num_replicas > stream_replicas {
        return Err(ReplicasExceedsStream);
    }
    if config.num_replicas < 0 {
        return Err(ReplicasNegative);
    }
    if stream.retention != Retention::Limits
        && config.num_replicas != 0
        && config.num_replicas != stream_replicas
    {
        return Err(ReplicasShouldMatchStream);
    }
    if config.backoff.iter().any(|delay| *delay < 0) {
        return Err(BackoffNegative);
    }
    if config.ack_wait < 0 {
        return Err(AckWaitNegative);
    }
    let backoffs = config.backoff.len() as i64;
    if backoffs > 0 && config.max_deliver != -1 && backoffs > config.max_deliver {
        return Err(MaxDeliverBackoff);
    }
    if config
        .description
        .as_ref()
        .is_some_and(|text| text.len() > MAX_DESCRIPTION_LEN)
    {
        return Err(DescriptionTooLong);
    }
    if config.is_pull() {
        validate_pull(config, stream)?;
    } else {
        validate_push(config, stream)?;
    }
    for cap in [
        stream.server_max_ack_pending,
        stream.account_max_ack_pending,
        stream.stream_max_ack_pending,
    ] {
        if cap > 0 && config.max_ack_pending > cap {
            return Err(MaxAckPendingExcess(cap));
        }
    }
    if stream.stream_inactive_threshold > 0
        && config.inactive_threshold > stream.stream_inactive_threshold
    {
        return Err(InactiveThresholdExcess(format_go_duration(
            stream.stream_inactive_threshold,
        )));
    }
    validate_filters(config)?;
    validate_start(config)?;
    if !config.sample_freq.is_empty() {
        let digits = config.sample_freq.trim_end_matches('%');
        if digits.parse::<u32>().is_err() {
            return Err(InvalidSampling(format!(
                "strconv.Atoi: parsing {digits:?}: invalid syntax"
            )));
        }
    }
    if config.flow_control && config.idle_heartbeat == 0 {
        return Err(FlowControlNeedsHeartbeats);
    }
    if let (Some(durable), Some(name)) = (&config.durable_name, &config.name) {
        if !durable.is_empty() && !name.is_empty() && durable != name {
            return Err(DurableAndNameMismatch);
        }
    }
    let metadata_len: usize = config.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
    if metadata_len > MAX_METADATA_LEN {
        return Err(MetadataTooLong);
    }
    validate_priority(config)
}

fn validate_push(config: &ConsumerConfig, stream: &StreamContext) -> Result<(), ConsumerError> {
    use ConsumerError::*;
    let deliver = config.deliver_subject.as_str();
    if has_wildcard(deliver) {
        return Err(DeliverToWildcards);
    }
    if !is_valid_subject(deliver) {
        return Err(InvalidDeliverSubject);
    }
    if stream
        .subjects
        .iter()
        .any(|subject| is_subset(deliver, subject))
    {
        return Err(DeliverCycle);
    }
    if config.max_waiting != 0 {
        return Err(PushMaxWaiting);
    }
    if config.max_ack_pending > 0 && config.ack_policy == AckPolicy::None {
        return Err(MaxPendingAckPolicyRequired);
    }
    if config.idle_heartbeat > 0 && config.idle_heartbeat < MIN_HEARTBEAT {
        return Err(SmallHeartbeat);
    }
    Ok(())
}

fn validate_pull(config: &ConsumerConfig, stream: &StreamContext) -> Result<(), ConsumerError> {
    use ConsumerError::*;
    if config.ack_policy == AckPolicy::None && stream.retention == Retention::WorkQueue {
        return Err(PullRequiresAck);
    }
    if config.rate_limit_bps > 0 {
        return Err(PullWithRateLimit);
    }
    if config.max_waiting < 0 {
        return Err(MaxWaitingNegative);
    }
    if config.idle_heartbeat > 0 {
        return Err(HeartbeatRequiresPush);
    }
    if config.flow_control {
        return Err(FlowControlRequiresPush);
    }
    if config.max_batch < 0 {
        return Err(MaxRequestBatchNegative);
    }
    if config.max_expires != 0 && config.max_expires < MIN_MAX_EXPIRES {
        return Err(MaxRequestExpiresTooSmall);
    }
    if stream.server_max_request_batch > 0 && config.max_batch > stream.server_max_request_batch {
        return Err(Create(format!(
            "consumer max request batch exceeds server limit of {}",
            stream.server_max_request_batch
        )));
    }
    Ok(())
}

fn validate_filters(config: &ConsumerConfig) -> Result<(), ConsumerError> {
    use ConsumerError::*;
    if !config.filter_subject.is_empty() && !config.filter_subjects.is_empty() {
        return Err(DuplicateFilterSubjects);
    }
    if !config.filter_subject.is_empty() && !is_valid_subject(&config.filter_subject) {
        return Err(InvalidConfig("invalid subject".to_string()));
    }
    if config.filter_subjects.iter().any(String::is_empty) {
        return Err(EmptyFilter);
    }
    let filters = config.filters();
    for (outer, subject) in filters.iter().enumerate() {
        if !is_valid_subject(subject) {
            return Err(InvalidConfig("invalid subject".to_string()));
        }
        for (inner, other) in filters.iter().enumerate() {
            if inner != outer && is_subset(subject, other) {
                return Err(OverlappingSubjectFilters);
            }
        }
    }
    Ok(())
}

fn validate_start(config: &ConsumerConfig) -> Result<(), ConsumerError> {
    let bad_start = |policy: &str, start: &str| {
        Err(ConsumerError::InvalidPolicy(format!(
            "consumer delivery policy is deliver {policy}, but optional start {start} is also set"
        )))
    };
    let not_set = |policy: &str, missing: &str| {
        Err(ConsumerError::InvalidPolicy(format!(
            "consumer delivery policy is deliver {policy}, but optional {missing} is not set"
        )))
    };
    let has_seq = config.opt_start_seq > 0;
    let has_time = config.opt_start_time.is_some();
    let simple = |policy: &str| {
        if has_seq {
            return bad_start(policy, "sequence");
        }
        if has_time {
            return bad_start(policy, "time");
        }
        Ok(())
    };
    match config.deliver_policy {
        DeliverPolicy::All => simple("all"),
        DeliverPolicy::Last => simple("last"),
        DeliverPolicy::New => simple("new"),
        DeliverPolicy::LastPerSubject => {
            simple("last per subject")?;
            if config.filters().is_empty() {
                return not_set("last per subject", "filter subject");
            }
            Ok(())
        }
        DeliverPolicy::ByStartSequence => {
            if !has_seq {
                return not_set("by start sequence", "start sequence");
            }
            if has_time {
                return bad_start("by start sequence", "time");
            }
            Ok(())
        }
        DeliverPolicy::ByStartTime => {
            if !has_time {
                return not_set("by start time", "start time");
            }
            if has_seq {
                return bad_start("by start time", "start sequence");
            }
            Ok(())
        }
    }
}

fn validate_priority(config: &ConsumerConfig) -> Result<(), ConsumerError> {
    use ConsumerError::*;
    if config.priority_policy == PriorityPolicy::None {
        if !config.priority_groups.is_empty() {
            return Err(PriorityGroupWithPolicyNone);
        }
        if config.priority_timeout > 0 {
            return Err(PinnedTtlWithoutPriorityPolicy);
        }
        return Ok(());
    }
    if !config.is_pull() {
        return Err(PushWithPriorityGroup);
    }
    if config.priority_groups.is_empty() {
        return Err(PriorityPolicyWithoutGroup);
    }
    for group in &config.priority_groups {
        if group.is_empty() {
            return Err(EmptyGroupName);
        }
        let valid_chars = group
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '=' | '-'));
        if group.len() > 16 || !valid_chars {
            return Err(InvalidGroupName);
        }
    }
    Ok(())
}

/// What an update may not change (`checkNewConsumerConfig`); both configs
/// have defaults applied.
pub fn check_update(old: &ConsumerConfig, new: &ConsumerConfig) -> Result<(), ConsumerError> {
    if old == new {
        return Ok(());
    }
    let refuse = |what: &str| Err(ConsumerError::Create(what.to_string()));
    if old.deliver_policy != new.deliver_policy {
        return refuse("deliver policy can not be updated");
    }
    if old.mem_storage != new.mem_storage {
        return refuse("storage type can not be updated");
    }
    if old.direct != new.direct {
        return refuse("direct can not be updated");
    }
    if old.opt_start_seq != new.opt_start_seq {
        return refuse("start sequence can not be updated");
    }
    if old.opt_start_time != new.opt_start_time {
        return refuse("start time can not be updated");
    }
    if old.ack_policy != new.ack_policy {
        return refuse("ack policy can not be updated");
    }
    if old.replay_policy != new.replay_policy {
        return refuse("replay policy can not be updated");
    }
    if old.idle_heartbeat != new.idle_heartbeat {
        return refuse("heart beats can not be updated");
    }
    if old.flow_control != new.flow_control {
        return refuse("flow control can not be updated");
    }
    if old.deliver_subject != new.deliver_subject {
        if old.deliver_subject.is_empty() {
            return refuse("can not update pull consumer to push based");
        }
        if new.deliver_subject.is_empty() {
            return refuse("can not update push consumer to pull based");
        }
    }
    if old.max_waiting != new.max_waiting {
        return refuse("max waiting can not be updated");
    }
    let backoffs = new.backoff.len() as i64;
    if backoffs > 0 && new.max_deliver != -1 && backoffs > new.max_deliver {
        return Err(ConsumerError::MaxDeliverBackoff);
    }
    Ok(())
}

/// The work queue rules against the stream's other consumers
/// (`checkWorkQueueConsumers`-like): explicit ack, deliver all, and no two
/// consumers whose filters overlap (no filter overlaps everything).
pub fn check_work_queue(
    config: &ConsumerConfig,
    others: &[&ConsumerConfig],
) -> Result<(), ConsumerError> {
    if config.ack_policy != AckPolicy::Explicit {
        return Err(ConsumerError::WorkQueueRequiresExplicitAck);
    }
    if config.deliver_policy != DeliverPolicy::All {
        return Err(ConsumerError::WorkQueueNotDeliverAll);
    }
    let filters = config.filters();
    for other in others {
        let other_filters = other.filters();
        if filters.is_empty() || other_filters.is_empty() {
            return Err(ConsumerError::WorkQueueMultipleUnfiltered);
        }
        let overlap = filters.iter().any(|mine| {
            other_filters
                .iter()
                .any(|theirs| subjects_collide(mine, theirs))
        });
        if overlap {
            return Err(ConsumerError::WorkQueueConsumerNotUnique);
        }
    }
    Ok(())
}
