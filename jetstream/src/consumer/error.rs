//! `ConsumerError`: every refusal of a consumer request, with nats-server's
//! `code` (HTTP-like), `err_code` (stable, what clients branch on) and
//! description (`server/errors.json`).

use std::fmt;

/// Why a consumer create/update/info request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsumerError {
    /// 10078: the create request had no `config`.
    ConfigRequired,
    /// 10014: no consumer by that name.
    NotFound,
    /// 10013: the name is taken (e.g. a bound push consumer).
    NameExists,
    /// 10148: `action: create` and a consumer with another config exists.
    AlreadyExists,
    /// 10149: `action: update` and no such consumer.
    DoesNotExist,
    /// 10017: the name in the subject differs from `durable_name`.
    DurableNameNotMatchSubject,
    /// 10016: the durable create subject carries no name.
    DurableNameNotInSubject,
    /// 10018: legacy durable create without a durable name in the request.
    DurableNameNotSet,
    /// 10019: ephemeral create subject with a durable name in the subject.
    EphemeralWithDurableInSubject,
    /// 10020: legacy ephemeral create subject but a durable name in the request.
    EphemeralWithDurableName,
    /// 10132: `durable_name` and `name` both set and different.
    DurableAndNameMismatch,
    /// 10131: the filter in the create subject differs from `filter_subject`.
    FilterSubjectMismatch,
    /// 10137: a subject-based create used with `filter_subjects`.
    MultipleFiltersNotAllowed,
    /// 10136: both `filter_subject` and `filter_subjects`.
    DuplicateFilterSubjects,
    /// 10138: two filters overlap.
    OverlappingSubjectFilters,
    /// 10139: an empty string in `filter_subjects`.
    EmptyFilter,
    /// 10093: a filter matches none of the stream's subjects (nats-server 2.15.1
    /// no longer returns it for a consumer; kept for sources and mirrors).
    FilterNotSubset,
    /// 10102: name longer than 255.
    NameTooLong,
    /// 10127: a name in the subject contains `\` or `/`.
    NameContainsPathSeparators,
    /// 10056: the stream in the subject differs from `stream_name`.
    StreamMismatch,
    /// 10052 (nats-server reuses the stream config code): a name has `.`, `*`, `>`, `\` or `/`.
    InvalidName(String),
    /// 10052: another invalid config (bad filter subject, heartbeat of flow control ack...).
    InvalidConfig(String),
    /// 10107: description longer than 4 KiB.
    DescriptionTooLong,
    /// 10135: metadata over 128 KiB.
    MetadataTooLong,
    /// 10094: deliver policy and optional start fields do not agree.
    InvalidPolicy(String),
    /// 10095: `sample_freq` is not a percentage.
    InvalidSampling(String),
    /// 10116: `max_deliver` not above the number of backoff values.
    MaxDeliverBackoff,
    /// 10183: negative `ack_wait`.
    AckWaitNegative,
    /// 10184: a negative backoff value.
    BackoffNegative,
    /// 10079: `deliver_subject` has wildcards.
    DeliverToWildcards,
    /// 10112: `deliver_subject` is not a valid subject.
    InvalidDeliverSubject,
    /// 10081: `deliver_subject` is captured by the stream itself.
    DeliverCycle,
    /// 10080: push consumer with `max_waiting`.
    PushMaxWaiting,
    /// 10082: push consumer with `max_ack_pending` and `ack_policy: none`.
    MaxPendingAckPolicyRequired,
    /// 10083: `idle_heartbeat` below 100 ms.
    SmallHeartbeat,
    /// 10084: pull consumer without acks on a work queue stream.
    PullRequiresAck,
    /// 10086: pull consumer with `rate_limit_bps`.
    PullWithRateLimit,
    /// 10087: negative `max_waiting`.
    MaxWaitingNegative,
    /// 10088: pull consumer with `idle_heartbeat`.
    HeartbeatRequiresPush,
    /// 10089: pull consumer with `flow_control`.
    FlowControlRequiresPush,
    /// 10108: `flow_control` without `idle_heartbeat`.
    FlowControlNeedsHeartbeats,
    /// 10114: negative `max_batch`.
    MaxRequestBatchNegative,
    /// 10115: `max_expires` below 1 ms.
    MaxRequestExpiresTooSmall,
    /// 10121: `max_ack_pending` above a server, account or stream limit.
    MaxAckPendingExcess(i64),
    /// 10153: `inactive_threshold` above the stream's limit.
    InactiveThresholdExcess(String),
    /// 10126: more replicas than the stream.
    ReplicasExceedsStream,
    /// 10133: negative replicas.
    ReplicasNegative,
    /// 10134: interest/work queue consumer replicas differ from the stream's.
    ReplicasShouldMatchStream,
    /// 10159: a priority policy without groups.
    PriorityPolicyWithoutGroup,
    /// 10161: an empty priority group name.
    EmptyGroupName,
    /// 10162: a priority group name outside `A-Za-z0-9-_/=)+`, or longer than 16.
    InvalidGroupName,
    /// 10178: priority groups on a push consumer.
    PushWithPriorityGroup,
    /// 10196: groups given with priority policy none.
    PriorityGroupWithPolicyNone,
    /// 10197: `priority_timeout` with priority policy none.
    PinnedTtlWithoutPriorityPolicy,
    /// 10098: work queue stream, not explicit ack.
    WorkQueueRequiresExplicitAck,
    /// 10099: work queue stream, a second unfiltered consumer.
    WorkQueueMultipleUnfiltered,
    /// 10100: work queue stream, filters overlap another consumer's.
    WorkQueueConsumerNotUnique,
    /// 10101: work queue stream, deliver policy not `all`.
    WorkQueueNotDeliverAll,
    /// 10012: another create failure.
    Create(String),
    /// 10025: the request is not valid JSON.
    InvalidJson(String),
    /// 10003: the request subject or shape is wrong.
    BadRequest,
}

impl ConsumerError {
    /// `(code, err_code, description)` as in nats-server's `errors.json`.
    pub fn parts(&self) -> (u16, u16, String) {
        use ConsumerError::*;
        let fixed = |code: u16, err_code: u16, text: &str| (code, err_code, text.to_string());
        match self {
            ConfigRequired => fixed(400, 10078, "consumer config required"),
            NotFound => fixed(404, 10014, "consumer not found"),
            NameExists => fixed(400, 10013, "consumer name already in use"),
            AlreadyExists => fixed(400, 10148, "consumer already exists"),
            DoesNotExist => fixed(400, 10149, "consumer does not exist"),
            DurableNameNotMatchSubject => fixed(
                400,
                10017,
                "consumer name in subject does not match durable name in request",
            ),
            DurableNameNotInSubject => fixed(
                400,
                10016,
                "consumer expected to be durable but no durable name set in subject",
            ),
            DurableNameNotSet => fixed(
                400,
                10018,
                "consumer expected to be durable but a durable name was not set",
            ),
            EphemeralWithDurableInSubject => fixed(
                400,
                10019,
                "consumer expected to be ephemeral but detected a durable name set in subject",
            ),
            EphemeralWithDurableName => fixed(
                400,
                10020,
                "consumer expected to be ephemeral but a durable name was set in request",
            ),
            DurableAndNameMismatch => fixed(
                400,
                10132,
                "Consumer Durable and Name have to be equal if both are provided",
            ),
            FilterSubjectMismatch => fixed(
                400,
                10131,
                "Consumer create request did not match filtered subject from create subject",
            ),
            MultipleFiltersNotAllowed => fixed(
                400,
                10137,
                "consumer with multiple subject filters cannot use subject based API",
            ),
            DuplicateFilterSubjects => fixed(
                400,
                10136,
                "consumer cannot have both FilterSubject and FilterSubjects specified",
            ),
            OverlappingSubjectFilters => {
                fixed(400, 10138, "consumer subject filters cannot overlap")
            }
            EmptyFilter => fixed(400, 10139, "consumer filter in FilterSubjects cannot be empty"),
            FilterNotSubset => fixed(
                400,
                10093,
                "consumer filter subject is not a valid subset of the interest subjects",
            ),
            NameTooLong => fixed(400, 10102, "consumer name is too long, maximum allowed is 255"),
            NameContainsPathSeparators => fixed(
                400,
                10127,
                "Consumer name can not contain path separators",
            ),
            StreamMismatch => fixed(400, 10056, "stream name in subject does not match request"),
            InvalidName(text) | InvalidConfig(text) => (500, 10052, text.clone()),
            DescriptionTooLong => fixed(
                400,
                10107,
                "consumer description is too long, maximum allowed is 4096",
            ),
            MetadataTooLong => fixed(400, 10135, "consumer metadata exceeds maximum size of 128KB"),
            InvalidPolicy(text) => (400, 10094, text.clone()),
            InvalidSampling(text) => (
                400,
                10095,
                format!("failed to parse consumer sampling configuration: {text}"),
            ),
            MaxDeliverBackoff => fixed(
                400,
                10116,
                "max deliver is required to be > length of backoff values",
            ),
            AckWaitNegative => fixed(400, 10183, "consumer ack wait needs to be positive"),
            BackoffNegative => fixed(400, 10184, "consumer backoff needs to be positive"),
            DeliverToWildcards => fixed(400, 10079, "consumer deliver subject has wildcards"),
            InvalidDeliverSubject => fixed(400, 10112, "invalid push consumer deliver subject"),
            DeliverCycle => fixed(400, 10081, "consumer deliver subject forms a cycle"),
            PushMaxWaiting => fixed(400, 10080, "consumer in push mode can not set max waiting"),
            MaxPendingAckPolicyRequired => fixed(
                400,
                10082,
                "consumer requires ack policy for max ack pending",
            ),
            SmallHeartbeat => fixed(400, 10083, "consumer idle heartbeat needs to be >= 100ms"),
            PullRequiresAck => fixed(
                400,
                10084,
                "consumer in pull mode requires explicit ack policy on workqueue stream",
            ),
            PullWithRateLimit => fixed(
                400,
                10086,
                "consumer in pull mode can not have rate limit set",
            ),
            MaxWaitingNegative => fixed(400, 10087, "consumer max waiting needs to be positive"),
            HeartbeatRequiresPush => fixed(
                400,
                10088,
                "consumer idle heartbeat requires a push based consumer",
            ),
            FlowControlRequiresPush => fixed(
                400,
                10089,
                "consumer flow control requires a push based consumer",
            ),
            FlowControlNeedsHeartbeats => fixed(
                400,
                10108,
                "consumer with flow control also needs heartbeats",
            ),
            MaxRequestBatchNegative => {
                fixed(400, 10114, "consumer max request batch needs to be > 0")
            }
            MaxRequestExpiresTooSmall => {
                fixed(400, 10115, "consumer max request expires needs to be >= 1ms")
            }
            MaxAckPendingExcess(limit) => (
                400,
                10121,
                format!("consumer max ack pending exceeds system limit of {limit}"),
            ),
            InactiveThresholdExcess(limit) => (
                400,
                10153,
                format!("consumer inactive threshold exceeds system limit of {limit}"),
            ),
            ReplicasExceedsStream => fixed(
                400,
                10126,
                "consumer config replica count exceeds parent stream",
            ),
            ReplicasNegative => fixed(400, 10133, "replicas count cannot be negative"),
            ReplicasShouldMatchStream => fixed(
                400,
                10134,
                "consumer config replicas must match interest retention stream's replicas",
            ),
            PriorityPolicyWithoutGroup => fixed(
                400,
                10159,
                "Setting PriorityPolicy requires at least one PriorityGroup to be set",
            ),
            EmptyGroupName => fixed(400, 10161, "Group name cannot be an empty string"),
            InvalidGroupName => fixed(
                400,
                10162,
                "Valid priority group name must match A-Z, a-z, 0-9, -_/=)+ and may not exceed 16 characters",
            ),
            PushWithPriorityGroup => fixed(
                400,
                10178,
                "priority groups can not be used with push consumers",
            ),
            PriorityGroupWithPolicyNone => fixed(
                400,
                10196,
                "consumer can not have priority groups when policy is none",
            ),
            PinnedTtlWithoutPriorityPolicy => fixed(
                400,
                10197,
                "PinnedTTL cannot be set when PriorityPolicy is none",
            ),
            WorkQueueRequiresExplicitAck => {
                fixed(400, 10098, "workqueue stream requires explicit ack")
            }
            WorkQueueMultipleUnfiltered => fixed(
                400,
                10099,
                "multiple non-filtered consumers not allowed on workqueue stream",
            ),
            WorkQueueConsumerNotUnique => fixed(
                400,
                10100,
                "filtered consumer not unique on workqueue stream",
            ),
            WorkQueueNotDeliverAll => fixed(
                400,
                10101,
                "consumer must be deliver all on workqueue stream",
            ),
            Create(text) => (500, 10012, text.clone()),
            InvalidJson(text) => (400, 10025, format!("invalid JSON: {text}")),
            BadRequest => fixed(400, 10003, "bad request"),
        }
    }

    /// The HTTP-like status code.
    pub fn code(&self) -> u16 {
        self.parts().0
    }

    /// The stable JetStream error code (`10xxx`).
    pub fn err_code(&self) -> u16 {
        self.parts().1
    }

    /// The `{"code","err_code","description"}` object of an error response.
    pub fn to_json(&self) -> serde_json::Value {
        let (code, err_code, description) = self.parts();
        serde_json::json!({"code": code, "err_code": err_code, "description": description})
    }
}

impl fmt::Display for ConsumerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (_, err_code, description) = self.parts();
        write!(f, "{description} ({err_code})")
    }
}

impl std::error::Error for ConsumerError {}
