//! The consumer endpoints: `CONSUMER.CREATE` (all three subject forms,
//! with `action`), `CONSUMER.DURABLE.CREATE`, `CONSUMER.INFO`, `DELETE`,
//! `NAMES` and `LIST`. They run on the account's API thread; a consumer
//! lives in its stream's [`ConsumerSet`](super::consumers::ConsumerSet)
//! and is driven by the stream's worker, which each change wakes.

use std::sync::Arc;

use rand::RngExt;
use serde::Serialize;
use starling_jetstream::api::consumer::{
    ClusterInfo, ConsumerAction, ConsumerConfig, ConsumerInfo, CreateConsumerRequest, CreateSubject,
};
use starling_jetstream::api::stream::SuccessResponse;
use starling_jetstream::api::{
    encode_response, ApiError, PagedRequest, RetentionPolicy, StorageType, LIST_LIMIT, NAMES_LIMIT,
};
use starling_jetstream::consumer::{
    apply_defaults, check_update, check_work_queue, validate, Consumer, ConsumerError, Retention,
    StreamContext,
};

use super::advisory::ConsumerChange;
use super::api::{parse, Context};
use super::consumer_store::{consumer_dir, write_meta, ConsumerMeta};
use super::consumers::ConsumerEntry;
use super::handle::StreamHandle;
use super::publish::now_nanos;
use crate::client::handle::lock;
use crate::interest::InternalSubscription;

type Response = Result<Vec<u8>, ApiError>;

/// A consumer error as the API error nats-server sends.
pub(super) fn api_error(error: &ConsumerError) -> ApiError {
    let (code, err_code, description) = error.parts();
    ApiError::new(code, err_code, description)
}

pub(super) fn lookup(context: &Context, stream: &str) -> Result<Arc<StreamHandle>, ApiError> {
    context
        .account
        .stream(stream)
        .ok_or_else(ApiError::stream_not_found)
}

/// The info of consumer `name`, with this server as its leader.
pub(super) fn consumer_info(
    context: &Context,
    handle: &StreamHandle,
    name: &str,
) -> Result<ConsumerInfo, ApiError> {
    let mut info = handle
        .consumer_info_blocking(name)?
        .ok_or_else(|| api_error(&ConsumerError::NotFound))?;
    info.cluster = Some(ClusterInfo {
        name: None,
        leader: Some(context.server.server_name()),
    });
    Ok(info)
}

/// An ephemeral name as nats-server makes them: 8 random characters.
fn generate_name() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    (0..8)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// What the stream imposes on its consumers' configs.
fn stream_context(context: &Context, handle: &StreamHandle) -> StreamContext {
    let config = handle.config();
    let options = &context.jetstream.options;
    StreamContext {
        subjects: config.subjects.clone(),
        retention: match config.retention {
            RetentionPolicy::Limits => Retention::Limits,
            RetentionPolicy::Interest => Retention::Interest,
            RetentionPolicy::WorkQueue => Retention::WorkQueue,
        },
        replicas: config.num_replicas,
        stream_max_ack_pending: config.consumer_limits.max_ack_pending.unwrap_or(0),
        stream_inactive_threshold: config.consumer_limits.inactive_threshold.unwrap_or(0),
        server_max_ack_pending: tighter(
            options.max_ack_pending,
            context.account.limits().max_ack_pending,
        ),
        server_max_request_batch: options.max_request_batch,
        ..StreamContext::default()
    }
}

/// The stricter of two limits where 0 or less is none.
fn tighter(server: i64, account: i64) -> i64 {
    match (server > 0, account > 0) {
        (true, true) => server.min(account),
        (false, true) => account,
        _ => server,
    }
}

/// Whether the account already has its `max_consumers` (counted before
/// any stream lock is taken; only this API thread adds consumers).
fn account_at_consumer_limit(context: &Context) -> bool {
    let max = context.account.limits().max_consumers;
    max > 0 && {
        let total: usize = context
            .account
            .all_streams()
            .iter()
            .map(|handle| lock(&handle.consumers).entries.len())
            .sum();
        total as i64 >= max
    }
}

/// `CONSUMER.CREATE.<stream>[.<consumer>[.<filter>]]` and
/// `CONSUMER.DURABLE.CREATE.<stream>.<durable>`: create, or update
/// within what may change; the same config again is a success.
pub(super) fn create(context: &Context, endpoint: &str, body: &[u8]) -> Response {
    let subject = CreateSubject::parse(endpoint)
        .map_err(|error| api_error(&error))?
        .ok_or_else(|| ApiError::bad_request(""))?;
    let handle = lookup(context, subject.stream())?;
    let request: CreateConsumerRequest = parse(body)?;
    let mut config = subject
        .resolve(&request)
        .map_err(|error| api_error(&error))?;
    if let (Some(name), Some(durable)) = (&config.name, &config.durable_name) {
        if !name.is_empty() && !durable.is_empty() && name != durable {
            return Err(api_error(&ConsumerError::DurableAndNameMismatch));
        }
    }
    let stream_context = stream_context(context, &handle);
    apply_defaults(&mut config, &stream_context);
    validate(&config, &stream_context).map_err(|error| api_error(&error))?;
    let name = match config.name.clone().filter(|name| !name.is_empty()) {
        Some(name) => name,
        None => {
            let name = generate_name();
            config.name = Some(name.clone());
            name
        }
    };
    let full = account_at_consumer_limit(context);
    let info = upsert(context, &handle, &name, config, request.action, full)?;
    Ok(encode_response("consumer_create_response", &info))
}

/// Create `name` or update it, per `action`.
fn upsert(
    context: &Context,
    handle: &Arc<StreamHandle>,
    name: &str,
    config: ConsumerConfig,
    action: ConsumerAction,
    account_full: bool,
) -> Result<ConsumerInfo, ApiError> {
    let stream_config = handle.config();
    let mut created = false;
    {
        let stream = lock(&handle.stream);
        let mut set = lock(&handle.consumers);
        if let Some(entry) = set.entries.get_mut(name) {
            let existing = entry.consumer.config();
            if *existing != config {
                if action == ConsumerAction::Create {
                    return Err(api_error(&ConsumerError::AlreadyExists));
                }
                check_update(existing, &config).map_err(|error| api_error(&error))?;
                if let Some(dir) = &entry.dir {
                    let meta = ConsumerMeta {
                        config: config.clone(),
                        created: entry.consumer.info(stream.store(), 0).created,
                    };
                    write_meta(dir, &meta).map_err(|error| {
                        api_error(&ConsumerError::Create(format!(
                            "could not write consumer meta: {error}"
                        )))
                    })?;
                }
                entry.consumer.update_config(config);
            }
        } else {
            if action == ConsumerAction::Update {
                return Err(api_error(&ConsumerError::DoesNotExist));
            }
            let max = stream_config.max_consumers;
            if account_full || (max > 0 && set.entries.len() as i64 >= max) {
                return Err(super::limits::maximum_consumers());
            }
            if stream_config.retention == RetentionPolicy::WorkQueue {
                let others: Vec<&ConsumerConfig> = set
                    .entries
                    .values()
                    .map(|entry| entry.consumer.config())
                    .collect();
                check_work_queue(&config, &others).map_err(|error| api_error(&error))?;
            }
            let now = now_nanos();
            let dir = match (&handle.dir, stream_config.storage, config.mem_storage) {
                (Some(stream_dir), StorageType::File, false) => {
                    Some(consumer_dir(stream_dir, name))
                }
                _ => None,
            };
            if let Some(dir) = &dir {
                let meta = ConsumerMeta {
                    config: config.clone(),
                    created: now,
                };
                write_meta(dir, &meta).map_err(|error| {
                    api_error(&ConsumerError::Create(format!(
                        "could not write consumer meta: {error}"
                    )))
                })?;
            }
            let consumer = Consumer::new(&handle.name, name, config, stream.store(), now);
            let mut entry = ConsumerEntry::new(consumer, dir, now);
            entry.subscriptions = subscribe_next(context, &handle.name, name, handle);
            set.entries.insert(name.to_string(), entry);
            created = true;
        }
    }
    if created {
        context
            .advisories()
            .consumer_action(&handle.name, name, ConsumerChange::Created);
    }
    handle.wake();
    consumer_info(context, handle, name)
}

/// Subscribe `CONSUMER.MSG.NEXT.<stream>.<consumer>` under every API
/// prefix, into the stream worker's consumer channel (a pull to a
/// consumer that does not exist then gets the no-responders 503).
fn subscribe_next(
    context: &Context,
    stream: &str,
    consumer: &str,
    handle: &StreamHandle,
) -> Vec<Arc<InternalSubscription>> {
    context
        .jetstream
        .prefixes
        .iter()
        .map(|prefix| {
            let subject = format!("{prefix}.CONSUMER.MSG.NEXT.{stream}.{consumer}");
            let sub = Arc::new(InternalSubscription::new(
                &subject,
                None,
                handle.consumer_inbox.clone(),
            ));
            context
                .server
                .add_internal_subscription(&context.account.account, sub.clone(), true);
            sub
        })
        .collect()
}

/// Subscribe again the `MSG.NEXT` subjects of restored consumers.
pub(super) fn subscribe_restored(
    context_server: &crate::server::ServerState,
    account: &crate::account::Account,
    prefixes: &[String],
    handle: &StreamHandle,
) {
    let mut set = lock(&handle.consumers);
    for (name, entry) in &mut set.entries {
        for prefix in prefixes {
            let subject = format!("{prefix}.CONSUMER.MSG.NEXT.{}.{name}", handle.name);
            let sub = Arc::new(InternalSubscription::new(
                &subject,
                None,
                handle.consumer_inbox.clone(),
            ));
            context_server.add_internal_subscription(account, sub.clone(), true);
            entry.subscriptions.push(sub);
        }
    }
}

/// `CONSUMER.INFO.<stream>.<consumer>`.
pub(super) fn info(context: &Context, stream: &str, consumer: &str) -> Response {
    let handle = lookup(context, stream)?;
    let info = consumer_info(context, &handle, consumer)?;
    Ok(encode_response("consumer_info_response", &info))
}

/// `CONSUMER.DELETE.<stream>.<consumer>`: waiting pulls get `409
/// Consumer Deleted`, its subscriptions and files go.
pub(super) fn delete(context: &Context, stream: &str, consumer: &str) -> Response {
    let handle = lookup(context, stream)?;
    let entry = lock(&handle.consumers).entries.remove(consumer);
    let Some(mut entry) = entry else {
        return Err(api_error(&ConsumerError::NotFound));
    };
    for sub in entry.subscriptions.drain(..) {
        context
            .server
            .remove_internal_subscription(&context.account.account, &sub, true);
    }
    for outbound in entry.consumer.close() {
        if let starling_jetstream::consumer::Outbound::Status { to, headers } = outbound {
            super::publish::publish_with_headers(
                &context.server,
                &context.account.account,
                &to,
                &headers,
                b"",
            );
        }
    }
    if let Some(dir) = &entry.dir {
        std::fs::remove_dir_all(dir).map_err(|error| {
            ApiError::new(
                500,
                10012,
                format!("could not remove consumer files: {error}"),
            )
        })?;
    }
    context
        .advisories()
        .consumer_action(stream, consumer, ConsumerChange::Deleted);
    Ok(encode_response(
        "consumer_delete_response",
        &SuccessResponse { success: true },
    ))
}

#[derive(Serialize)]
struct NamesResponse {
    total: usize,
    offset: usize,
    limit: usize,
    consumers: Vec<String>,
}

#[derive(Serialize)]
struct ListResponse {
    total: usize,
    offset: usize,
    limit: usize,
    consumers: Vec<ConsumerInfo>,
}

/// `CONSUMER.NAMES.<stream>`.
pub(super) fn names(context: &Context, stream: &str, body: &[u8]) -> Response {
    let request: PagedRequest = parse(body)?;
    let handle = lookup(context, stream)?;
    let names: Vec<String> = lock(&handle.consumers).entries.keys().cloned().collect();
    let response = NamesResponse {
        total: names.len(),
        offset: request.offset,
        limit: NAMES_LIMIT,
        consumers: names
            .into_iter()
            .skip(request.offset)
            .take(NAMES_LIMIT)
            .collect(),
    };
    Ok(encode_response("consumer_names_response", &response))
}

/// `CONSUMER.LIST.<stream>`.
pub(super) fn list(context: &Context, stream: &str, body: &[u8]) -> Response {
    let request: PagedRequest = parse(body)?;
    let handle = lookup(context, stream)?;
    let names: Vec<String> = lock(&handle.consumers).entries.keys().cloned().collect();
    let consumers = names
        .iter()
        .skip(request.offset)
        .take(LIST_LIMIT)
        .filter_map(|name| consumer_info(context, &handle, name).ok())
        .collect();
    let response = ListResponse {
        total: names.len(),
        offset: request.offset,
        limit: LIST_LIMIT,
        consumers,
    };
    Ok(encode_response("consumer_list_response", &response))
}
