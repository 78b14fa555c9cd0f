//! The consumer operations besides create/info/delete/list:
//! `CONSUMER.PAUSE`, `CONSUMER.RESET` (2.14), `CONSUMER.UNPIN`, and the
//! check that a stream update keeps its consumers within `consumer_limits`.

use serde::Serialize;
use starling_jetstream::api::consumer::ConsumerInfo;
use starling_jetstream::api::{encode_response, ApiError, StreamConfig};
use starling_jetstream::consumer::time::{format_go_duration, format_rfc3339};
use starling_jetstream::consumer::{Consumer, ConsumerError, ConsumerState, Outbound};

use super::api::{parse, Context};
use super::consumer_api::{api_error, consumer_info, lookup};
use super::consumer_store::{write_meta, ConsumerMeta};
use super::handle::StreamHandle;
use super::publish::{now_nanos, publish_with_headers};
use crate::client::handle::lock;

type Response = Result<Vec<u8>, ApiError>;

/// The body of `CONSUMER.PAUSE`: no `pause_until` (or a past one) resumes.
#[derive(serde::Deserialize, Default)]
struct PauseRequest {
    #[serde(default, with = "starling_jetstream::consumer::time::rfc3339_option")]
    pause_until: Option<i64>,
}

#[derive(Serialize)]
struct PauseResponse {
    paused: bool,
    pause_until: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pause_remaining: Option<i64>,
}

/// Go's zero time, what nats-server reports as `pause_until` when resumed.
pub(super) const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// `CONSUMER.PAUSE.<stream>.<consumer>`: set or clear `pause_until`.
pub(super) fn pause(context: &Context, stream: &str, consumer: &str, body: &[u8]) -> Response {
    let request: PauseRequest = parse(body)?;
    let handle = lookup(context, stream)?;
    let now = now_nanos();
    let pause_until = request.pause_until.filter(|until| *until > now);
    {
        let stream = lock(&handle.stream);
        let mut set = lock(&handle.consumers);
        let entry = set
            .entries
            .get_mut(consumer)
            .ok_or_else(|| api_error(&ConsumerError::NotFound))?;
        let mut config = entry.consumer.config().clone();
        config.pause_until = pause_until;
        if let Some(dir) = &entry.dir {
            let meta = ConsumerMeta {
                config: config.clone(),
                created: entry.consumer.info(stream.store(), now).created,
            };
            write_meta(dir, &meta).map_err(|error| {
                api_error(&ConsumerError::Create(format!(
                    "could not write consumer meta: {error}"
                )))
            })?;
        }
        entry.consumer.update_config(config);
    }
    handle.wake();
    // nats-server advises the requested time, even one already past
    // (Go's zero time for none or one before the epoch).
    let requested = request.pause_until.filter(|until| *until > 0);
    context
        .advisories()
        .consumer_pause(stream, consumer, requested, now);
    let response = PauseResponse {
        paused: pause_until.is_some(),
        pause_until: pause_until.map_or_else(|| ZERO_TIME.to_string(), format_rfc3339),
        pause_remaining: pause_until.map(|until| until - now),
    };
    Ok(encode_response("consumer_pause_response", &response))
}

/// The body of `CONSUMER.RESET` (2.14): the stream sequence the ack
/// floor moves to; 0 = the current ack floor.
#[derive(serde::Deserialize, Default)]
struct ResetRequest {
    #[serde(default)]
    seq: u64,
}

#[derive(Serialize)]
struct ResetResponse {
    #[serde(flatten)]
    info: ConsumerInfo,
    reset_seq: u64,
}

/// `CONSUMER.RESET.<stream>.<consumer>`: forget pending acks and
/// redeliveries and continue after `seq` (the ack floor then sits at
/// `seq`). Waiting pull requests are dropped; clients pull again.
pub(super) fn reset(context: &Context, stream: &str, consumer: &str, body: &[u8]) -> Response {
    let request: ResetRequest = parse(body)?;
    let handle = lookup(context, stream)?;
    let now = now_nanos();
    let reset_seq = {
        let stream = lock(&handle.stream);
        let mut set = lock(&handle.consumers);
        let entry = set
            .entries
            .get_mut(consumer)
            .ok_or_else(|| api_error(&ConsumerError::NotFound))?;
        let config = entry.consumer.config().clone();
        let seq = match request.seq {
            0 => entry.consumer.state().ack_floor.stream,
            seq => seq,
        };
        if config.opt_start_seq > 0 && seq < config.opt_start_seq {
            return Err(ApiError::new(
                400,
                10204,
                "invalid reset: sequence is below the consumer's start sequence",
            ));
        }
        let created = entry.consumer.info(stream.store(), now).created;
        let state = ConsumerState::starting_at(seq.saturating_add(1));
        let name = entry.consumer.name().to_string();
        entry.consumer = Consumer::restore(&handle.name, &name, config, created, state, now);
        seq
    };
    handle.wake();
    let info = consumer_info(context, &handle, consumer)?;
    Ok(encode_response(
        "consumer_reset_response",
        &ResetResponse { info, reset_seq },
    ))
}

/// A stream update may not set `consumer_limits` that an existing
/// consumer exceeds (nats-server refuses the update).
pub(super) fn check_consumer_limits(
    handle: &StreamHandle,
    config: &StreamConfig,
) -> Result<(), ApiError> {
    let limits = &config.consumer_limits;
    let set = lock(&handle.consumers);
    for entry in set.entries.values() {
        let consumer = entry.consumer.config();
        if let Some(max) = limits.max_ack_pending.filter(|max| *max > 0) {
            if consumer.max_ack_pending > max || consumer.max_ack_pending < 0 {
                return Err(api_error(&ConsumerError::MaxAckPendingExcess(max)));
            }
        }
        if let Some(max) = limits.inactive_threshold.filter(|max| *max > 0) {
            if consumer.inactive_threshold > max || consumer.inactive_threshold == 0 {
                return Err(api_error(&ConsumerError::InactiveThresholdExcess(
                    format_go_duration(max),
                )));
            }
        }
    }
    Ok(())
}

#[derive(serde::Deserialize, Default)]
struct UnpinRequest {
    #[serde(default)]
    group: String,
}

#[derive(Serialize)]
struct Empty {}

/// `CONSUMER.UNPIN.<stream>.<consumer>`: release a group's pinned
/// client; its waiting pulls get `423 Nats-Pin-Id mismatch`.
pub(super) fn unpin(context: &Context, stream: &str, consumer: &str, body: &[u8]) -> Response {
    let request: UnpinRequest = parse(body)?;
    let handle = lookup(context, stream)?;
    let mut out = Vec::new();
    {
        let mut set = lock(&handle.consumers);
        let entry = set
            .entries
            .get_mut(consumer)
            .ok_or_else(|| api_error(&ConsumerError::NotFound))?;
        if !entry
            .consumer
            .config()
            .priority_groups
            .contains(&request.group)
        {
            return Err(ApiError::new(
                400,
                10003,
                "bad request: invalid priority group",
            ));
        }
        entry.consumer.unpin(&request.group, &mut out);
    }
    for outbound in out {
        if let Outbound::Status { to, headers } = outbound {
            publish_with_headers(
                &context.server,
                &context.account.account,
                &to,
                &headers,
                b"",
            );
        }
    }
    handle.wake();
    Ok(encode_response("consumer_unpin_response", &Empty {}))
}
