//! The stream endpoints: `STREAM.CREATE/UPDATE/INFO/NAMES/LIST/DELETE/
//! PURGE/MSG.GET/MSG.DELETE`. Each returns the encoded response body or
//! the [`ApiError`] to answer with.

use serde::Serialize;
use starling_jetstream::api::stream::{
    ClusterInfo, ListResponse, MsgGetResponse, NamesResponse, SuccessResponse,
};
use starling_jetstream::api::stream_config::is_valid_name;
use starling_jetstream::api::{
    encode_response, ApiError, MsgDeleteRequest, MsgGetRequest, PagedRequest, PurgeRequest,
    PurgeResponse, StorageType, StoredMessage, StreamConfig, StreamInfo, StreamInfoRequest,
    LIST_LIMIT, NAMES_LIMIT,
};
use starling_jetstream::stream::{Operation, Outcome, Stream};
use starling_jetstream::subject;

use super::advisory::{ConsumerChange, StreamChange};
use super::api::{parse, Context};
use super::handle::StreamHandle;
use super::limits;
use super::meta::{write_meta, StreamMeta};
use super::publish::now_nanos;
use super::service::{open_store, JetStream};
use crate::client::handle::lock;

type Response = Result<Vec<u8>, ApiError>;

/// `stream_create_response`: the info, and `did_create` when it was made.
#[derive(Serialize)]
struct Created<'a> {
    #[serde(flatten)]
    info: &'a StreamInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    did_create: Option<bool>,
}

fn lookup(context: &Context, name: &str) -> Result<std::sync::Arc<StreamHandle>, ApiError> {
    context
        .account
        .stream(name)
        .ok_or_else(ApiError::stream_not_found)
}

/// The request's config: the body's, with the subject's name (10056 if
/// they differ), normalized.
fn request_config(name: &str, body: &[u8]) -> Result<StreamConfig, ApiError> {
    if !is_valid_name(name) {
        return Err(ApiError::invalid_stream_config("invalid stream name"));
    }
    let mut config: StreamConfig = parse(body)?;
    if config.name.is_empty() {
        config.name = name.to_string();
    } else if config.name != name {
        return Err(ApiError::stream_name_mismatch());
    }
    config.normalized()
}

/// 10065 if `config`'s subjects overlap another stream's.
fn check_overlap(context: &Context, config: &StreamConfig) -> Result<(), ApiError> {
    for other in context.account.all_streams() {
        if other.name == config.name {
            continue;
        }
        let theirs = other.config().subjects;
        let collide = config
            .subjects
            .iter()
            .any(|mine| theirs.iter().any(|their| subject::overlaps(mine, their)));
        if collide {
            return Err(ApiError::subjects_overlap());
        }
    }
    Ok(())
}

/// The account's and server's usage but for stream `name`.
fn stream_check(context: &Context, name: &str) -> limits::StreamCheck {
    let mut account_reserved = limits::Reserved::default();
    let mut other_streams = 0;
    for other in context.account.all_streams() {
        if other.name != name {
            other_streams += 1;
            account_reserved.add(&other.config());
        }
    }
    limits::StreamCheck {
        account: context.account.limits(),
        server: context.jetstream.server_limits,
        other_streams,
        account_reserved,
        server_reserved: context
            .jetstream
            .reserved_except(&context.account.account.name, name),
    }
}

/// The info as nats-server gives it in create/update responses (no
/// `cluster` section on one node).
fn stream_info(handle: &StreamHandle, request: &StreamInfoRequest) -> StreamInfo {
    let now = now_nanos();
    let mut info = lock(&handle.stream).info(request, now);
    info.state.consumer_count = lock(&handle.consumers).entries.len() as u64;
    (info.mirror, info.sources) = handle.sources.info(&info.config, now);
    info
}

/// The info as `STREAM.INFO` and `STREAM.LIST` give it: with
/// `cluster.leader`, this server (as nats-server on one node).
fn stream_info_with_leader(
    context: &Context,
    handle: &StreamHandle,
    request: &StreamInfoRequest,
) -> StreamInfo {
    let mut info = stream_info(handle, request);
    info.cluster = Some(ClusterInfo {
        leader: Some(context.server.server_name()),
    });
    info
}

/// `STREAM.CREATE.<name>`: the same config again is a success; a
/// different one is 10058.
pub(super) fn create(context: &Context, name: &str, body: &[u8]) -> Response {
    let mut config = request_config(name, body)?;
    super::source_checks::check(&context.account, &mut config)?;
    limits::check_max_bytes(&context.account.limits(), &config)?;
    if let Some(existing) = context.account.stream(name) {
        if existing.config() != config {
            return Err(ApiError::stream_name_in_use());
        }
        let info = stream_info(&existing, &StreamInfoRequest::default());
        return Ok(encode_response(
            "stream_create_response",
            &Created {
                info: &info,
                did_create: None,
            },
        ));
    }
    check_overlap(context, &config)?;
    limits::check_stream(&stream_check(context, name), &config, true)?;
    let created = now_nanos();
    let dir = match config.storage {
        StorageType::File => {
            let dir = JetStream::stream_dir(&context.account, name);
            let meta = StreamMeta {
                config: config.clone(),
                created,
            };
            write_meta(&dir, &meta).map_err(|error| {
                ApiError::stream_create(&format!("could not write stream meta: {error}"))
            })?;
            Some(dir)
        }
        StorageType::Memory => None,
    };
    let store = match open_store(&config, dir.as_deref()) {
        Ok(store) => store,
        Err(error) => {
            if let Some(dir) = &dir {
                let _ = std::fs::remove_dir_all(dir);
            }
            return Err(error);
        }
    };
    let stream = Stream::open(config, created, store, created);
    let handle = context
        .jetstream
        .launch(&context.server, &context.account, stream, dir);
    context
        .advisories()
        .stream_action(name, StreamChange::Created);
    let info = stream_info(&handle, &StreamInfoRequest::default());
    Ok(encode_response(
        "stream_create_response",
        &Created {
            info: &info,
            did_create: Some(true),
        },
    ))
}

/// `STREAM.UPDATE.<name>`.
pub(super) fn update(context: &Context, name: &str, body: &[u8]) -> Response {
    let mut config = request_config(name, body)?;
    limits::check_max_bytes(&context.account.limits(), &config)?;
    let handle = lookup(context, name)?;
    super::source_checks::check(&context.account, &mut config)?;
    let old = handle.config();
    old.check_update(&config)?;
    check_overlap(context, &config)?;
    // Lowering `max_bytes` always fits (nats-server `configUpdateCheck`).
    if config.max_bytes > old.max_bytes.max(0) || config.max_consumers != old.max_consumers {
        limits::check_stream(&stream_check(context, name), &config, false)?;
    }
    super::consumer_ops::check_consumer_limits(&handle, &config)?;
    match handle.apply_blocking(Operation::UpdateConfig(Box::new(config.clone())))? {
        Outcome::ConfigUpdated => {}
        Outcome::Failed(error) => return Err(error),
        other => {
            return Err(ApiError::stream_update(&format!(
                "unexpected outcome {other:?}"
            )))
        }
    }
    if let Some(dir) = &handle.dir {
        let meta = StreamMeta {
            config: config.clone(),
            created: lock(&handle.stream).created(),
        };
        write_meta(dir, &meta).map_err(|error| {
            ApiError::stream_update(&format!("could not write stream meta: {error}"))
        })?;
    }
    handle.capture_subjects(&context.server, &context.account.account, &config.subjects);
    context.account.set_direct_get(
        &context.server,
        &context.jetstream.prefixes,
        name,
        config.allow_direct,
    );
    if config.has_sources() {
        // Take from new sources at once.
        handle.wake();
    }
    context
        .advisories()
        .stream_action(name, StreamChange::Updated);
    let info = stream_info(&handle, &StreamInfoRequest::default());
    Ok(encode_response("stream_update_response", &info))
}

/// `STREAM.INFO.<name>`.
pub(super) fn info(context: &Context, name: &str, body: &[u8]) -> Response {
    let request: StreamInfoRequest = parse(body)?;
    let handle = lookup(context, name)?;
    let mut info = stream_info_with_leader(context, &handle, &request);
    // nats-server always pages STREAM.INFO (zeros without a subjects filter).
    info.total.get_or_insert(0);
    info.offset.get_or_insert(0);
    info.limit.get_or_insert(0);
    Ok(encode_response("stream_info_response", &info))
}

/// Streams matching the request's `subject` (all without one), by name.
fn matching(
    context: &Context,
    request: &PagedRequest,
) -> Result<Vec<std::sync::Arc<StreamHandle>>, ApiError> {
    let filter = request.subject.as_deref().filter(|s| !s.is_empty());
    if let Some(filter) = filter {
        if !subject::is_valid_filter(filter) {
            return Err(ApiError::bad_request("invalid subject filter"));
        }
    }
    Ok(context
        .account
        .all_streams()
        .into_iter()
        .filter(|handle| {
            filter.is_none_or(|filter| {
                handle
                    .config()
                    .subjects
                    .iter()
                    .any(|subject| subject::overlaps(subject, filter))
            })
        })
        .collect())
}

/// `STREAM.NAMES`.
pub(super) fn names(context: &Context, body: &[u8]) -> Response {
    let request: PagedRequest = parse(body)?;
    let streams = matching(context, &request)?;
    let response = NamesResponse {
        total: streams.len(),
        offset: request.offset,
        limit: NAMES_LIMIT,
        streams: streams
            .iter()
            .skip(request.offset)
            .take(NAMES_LIMIT)
            .map(|handle| handle.name.clone())
            .collect(),
    };
    Ok(encode_response("stream_names_response", &response))
}

/// `STREAM.LIST`.
pub(super) fn list(context: &Context, body: &[u8]) -> Response {
    let request: PagedRequest = parse(body)?;
    let streams = matching(context, &request)?;
    let response = ListResponse {
        total: streams.len(),
        offset: request.offset,
        limit: LIST_LIMIT,
        streams: streams
            .iter()
            .skip(request.offset)
            .take(LIST_LIMIT)
            .map(|handle| stream_info_with_leader(context, handle, &StreamInfoRequest::default()))
            .collect(),
    };
    Ok(encode_response("stream_list_response", &response))
}

/// `STREAM.DELETE.<name>`: stop capturing, stop the worker (it syncs and
/// ends), remove the files.
pub(super) fn delete(context: &Context, name: &str) -> Response {
    let handle = lookup(context, name)?;
    handle.release_subjects(&context.server, &context.account.account);
    let consumers = handle.release_consumers(&context.server, &context.account.account);
    context
        .account
        .set_direct_get(&context.server, &context.jetstream.prefixes, name, false);
    lock(&context.account.streams).remove(name);
    handle.stop_blocking();
    if let Some(dir) = &handle.dir {
        std::fs::remove_dir_all(dir).map_err(|error| {
            ApiError::stream_delete(&format!("could not remove stream files: {error}"))
        })?;
    }
    // nats-server's `stream.stop`: each consumer's delete advisory, then
    // the stream's.
    let advisories = context.advisories();
    for consumer in &consumers {
        advisories.consumer_action(name, consumer, ConsumerChange::Deleted);
    }
    advisories.stream_action(name, StreamChange::Deleted);
    Ok(encode_response(
        "stream_delete_response",
        &SuccessResponse { success: true },
    ))
}

/// `STREAM.PURGE.<name>`.
pub(super) fn purge(context: &Context, name: &str, body: &[u8]) -> Response {
    let request: PurgeRequest = parse(body)?;
    let handle = lookup(context, name)?;
    match handle.apply_blocking(Operation::Purge(request))? {
        Outcome::Purged(purged) => Ok(encode_response(
            "stream_purge_response",
            &PurgeResponse {
                success: true,
                purged,
            },
        )),
        Outcome::Failed(error) => Err(error),
        other => Err(ApiError::purge_failed(&format!(
            "unexpected outcome {other:?}"
        ))),
    }
}

/// `STREAM.MSG.GET.<name>`.
pub(super) fn msg_get(context: &Context, name: &str, body: &[u8]) -> Response {
    let request: MsgGetRequest = parse(body)?;
    let handle = lookup(context, name)?;
    let message = lock(&handle.stream).get_msg(&request)?;
    let response = MsgGetResponse {
        message: StoredMessage::from_store(&message),
    };
    Ok(encode_response("stream_msg_get_response", &response))
}

/// `STREAM.MSG.DELETE.<name>`.
pub(super) fn msg_delete(context: &Context, name: &str, body: &[u8]) -> Response {
    let request: MsgDeleteRequest = parse(body)?;
    let handle = lookup(context, name)?;
    match handle.apply_blocking(Operation::DeleteMsg(request))? {
        Outcome::MsgDeleted => Ok(encode_response(
            "stream_msg_delete_response",
            &SuccessResponse { success: true },
        )),
        Outcome::Failed(error) => Err(error),
        other => Err(ApiError::msg_delete_failed(&format!(
            "unexpected outcome {other:?}"
        ))),
    }
}
