//! The account's API task: each `$JS.API.*` request is answered on a
//! blocking thread (store reads, file creation, waiting for a stream's
//! worker), one at a time per account, so requests apply in order.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use starling_jetstream::api::account::API_LEVEL;
use starling_jetstream::api::{
    check_required_api_level, encode_error, encode_response, AccountInfo, ApiError, ApiStats,
    StorageType,
};
use tokio::sync::mpsc;

use super::account::{AccountCommand, AccountJetStream};
use super::advisory::{Advisories, AuditedRequest};
use super::publish::publish;
use super::service::JetStream;
use super::{consumer_api, consumer_ops, direct_get, stream_api};
use crate::interest::InternalMessage;
use crate::server::ServerState;

/// Answer the account's requests until shutdown.
pub(super) async fn serve(
    jetstream: Arc<JetStream>,
    server: Arc<ServerState>,
    account: Arc<AccountJetStream>,
    mut requests: mpsc::Receiver<InternalMessage>,
    mut commands: mpsc::UnboundedReceiver<AccountCommand>,
) {
    loop {
        // Every branch is cancel-safe (`recv` loses nothing). Commands
        // first: a request published after an enable sees the streams.
        let request = tokio::select! {
            biased;
            () = server.shutdown.cancelled() => break,
            Some(command) = commands.recv() => {
                jetstream.apply_command(&server, &account, command).await;
                continue;
            }
            request = requests.recv() => match request {
                Some(request) => request,
                None => break,
            },
        };
        let context = Context {
            jetstream: jetstream.clone(),
            server: server.clone(),
            account: account.clone(),
        };
        // A direct get (every KV get) of a stream whose lock is free is
        // answered here, without the hand-off to a blocking thread: one
        // index lookup and one record read. If the stream's worker holds
        // the lock, it waits on a blocking thread like any other request.
        if context.answer_direct_get_now(&request) {
            continue;
        }
        if let Err(error) = tokio::task::spawn_blocking(move || context.answer(request)).await {
            tracing::error!(%error, "JetStream API request failed");
        }
    }
}

/// An endpoint's handler, run once the common checks passed.
type Handler<'a> = Box<dyn FnOnce() -> Result<Vec<u8>, ApiError> + 'a>;

/// What a request handler works with.
pub(super) struct Context {
    pub jetstream: Arc<JetStream>,
    pub server: Arc<ServerState>,
    pub account: Arc<AccountJetStream>,
}

impl Context {
    /// The endpoint of `request` (its subject after the API prefix).
    fn endpoint<'a>(&self, request: &'a InternalMessage) -> Option<&'a str> {
        self.jetstream.prefixes.iter().find_map(|prefix| {
            request
                .subject
                .strip_prefix(prefix.as_str())?
                .strip_prefix('.')
        })
    }

    /// Answer `request` if it is a direct get that needs no wait for the
    /// stream's lock; false when it still has to be answered.
    fn answer_direct_get_now(&self, request: &InternalMessage) -> bool {
        let (Some(reply), Some(endpoint)) = (request.reply.as_deref(), self.endpoint(request))
        else {
            return false;
        };
        // Any other request is answered on a blocking thread, which
        // splits its endpoint itself.
        if !endpoint.starts_with("DIRECT.GET.") {
            return false;
        }
        let tokens: Vec<&str> = endpoint.split('.').collect();
        let ["DIRECT", "GET", stream, subject @ ..] = tokens.as_slice() else {
            return false;
        };
        let header_len = request.header_len.unwrap_or(0).min(request.payload.len());
        let body = &request.payload[header_len..];
        direct_get::answer(self, reply, stream, subject, body, false)
    }

    fn answer(&self, request: InternalMessage) {
        let Some(reply) = request.reply.clone() else {
            return;
        };
        let Some(endpoint) = self.endpoint(&request) else {
            return;
        };
        let header_len = request.header_len.unwrap_or(0).min(request.payload.len());
        let body = &request.payload[header_len..];
        let tokens: Vec<&str> = endpoint.split('.').collect();
        if let ["DIRECT", "GET", stream, subject @ ..] = tokens.as_slice() {
            direct_get::answer(self, &reply, stream, subject, body, true);
            return;
        }
        // An account without JetStream: every endpoint answers 10039 and
        // nothing is counted (nats-server's `checkJetStream`; its
        // `trackAPI` needs the account's JetStream).
        let enabled = self.account.is_enabled();
        let total = if enabled {
            self.account.api_total.fetch_add(1, Ordering::Relaxed)
        } else {
            0
        };
        let errors = self.account.api_errors.load(Ordering::Relaxed);
        let headers = &request.payload[..header_len];
        // Each endpoint's handler runs only once the request has passed
        // the checks every endpoint makes (nats-server checks the required
        // API level first in each handler).
        let (kind, handler): (&str, Handler<'_>) = match tokens.as_slice() {
            ["INFO"] => (
                "account_info_response",
                Box::new(move || Ok(self.account_info(total, errors))),
            ),
            ["STREAM", "CREATE", name] => (
                "stream_create_response",
                Box::new(move || stream_api::create(self, name, body)),
            ),
            ["STREAM", "UPDATE", name] => (
                "stream_update_response",
                Box::new(move || stream_api::update(self, name, body)),
            ),
            ["STREAM", "INFO", name] => (
                "stream_info_response",
                Box::new(move || stream_api::info(self, name, body)),
            ),
            ["STREAM", "NAMES"] => (
                "stream_names_response",
                Box::new(move || stream_api::names(self, body)),
            ),
            ["STREAM", "LIST"] => (
                "stream_list_response",
                Box::new(move || stream_api::list(self, body)),
            ),
            ["STREAM", "DELETE", name] => (
                "stream_delete_response",
                Box::new(move || stream_api::delete(self, name)),
            ),
            ["STREAM", "PURGE", name] => (
                "stream_purge_response",
                Box::new(move || stream_api::purge(self, name, body)),
            ),
            ["STREAM", "MSG", "GET", name] => (
                "stream_msg_get_response",
                Box::new(move || stream_api::msg_get(self, name, body)),
            ),
            ["STREAM", "MSG", "DELETE", name] => (
                "stream_msg_delete_response",
                Box::new(move || stream_api::msg_delete(self, name, body)),
            ),
            ["CONSUMER", "CREATE", ..] | ["CONSUMER", "DURABLE", "CREATE", ..] => (
                "consumer_create_response",
                Box::new(move || consumer_api::create(self, endpoint, body)),
            ),
            ["CONSUMER", "INFO", stream, consumer] => (
                "consumer_info_response",
                Box::new(move || consumer_api::info(self, stream, consumer)),
            ),
            ["CONSUMER", "DELETE", stream, consumer] => (
                "consumer_delete_response",
                Box::new(move || consumer_api::delete(self, stream, consumer)),
            ),
            ["CONSUMER", "PAUSE", stream, consumer] => (
                "consumer_pause_response",
                Box::new(move || consumer_ops::pause(self, stream, consumer, body)),
            ),
            ["CONSUMER", "RESET", stream, consumer] => (
                "consumer_reset_response",
                Box::new(move || consumer_ops::reset(self, stream, consumer, body)),
            ),
            ["CONSUMER", "UNPIN", stream, consumer] => (
                "consumer_unpin_response",
                Box::new(move || consumer_ops::unpin(self, stream, consumer, body)),
            ),
            ["CONSUMER", "NAMES", stream] => (
                "consumer_names_response",
                Box::new(move || consumer_api::names(self, stream, body)),
            ),
            // One node: nats-server answers 10010 whatever the names.
            ["STREAM", "LEADER", "STEPDOWN", _] => (
                "stream_leader_stepdown_response",
                Box::new(move || Err(cluster_required())),
            ),
            ["CONSUMER", "LEADER", "STEPDOWN", _, _] => (
                "consumer_leader_stepdown_response",
                Box::new(move || Err(cluster_required())),
            ),
            ["CONSUMER", "LIST", stream] => (
                "consumer_list_response",
                Box::new(move || consumer_api::list(self, stream, body)),
            ),
            _ => return,
        };
        let result = check_required_api_level(headers).and_then(|()| {
            if enabled {
                handler()
            } else {
                Err(ApiError::not_enabled_for_account())
            }
        });
        let payload = match result {
            Ok(payload) => payload,
            Err(error) => {
                if enabled {
                    self.account.api_errors.fetch_add(1, Ordering::Relaxed);
                }
                encode_error(kind, &error)
            }
        };
        publish(&self.server, &self.account.account, &reply, &payload);
        let audited = AuditedRequest {
            endpoint,
            body,
            publisher: request.publisher,
        };
        self.advisories().api_audit(&audited, &payload);
    }

    /// The advisories of this account.
    pub(super) fn advisories(&self) -> Advisories<'_> {
        Advisories {
            server: &self.server,
            account: &self.account.account,
            domain: self.jetstream.options.domain.as_deref(),
        }
    }

    /// `$JS.API.INFO`: usage summed over the account's streams.
    fn account_info(&self, total: u64, errors: u64) -> Vec<u8> {
        let mut info = AccountInfo {
            limits: self.account.limits(),
            api: ApiStats {
                level: API_LEVEL,
                total,
                errors,
            },
            domain: self.jetstream.options.domain.clone(),
            ..AccountInfo::default()
        };
        for handle in self.account.all_streams() {
            let stream = crate::client::handle::lock(&handle.stream);
            let bytes = stream.store().state().bytes;
            let reserved = u64::try_from(stream.config().max_bytes).unwrap_or(0);
            match stream.config().storage {
                StorageType::Memory => {
                    info.memory += bytes;
                    info.reserved_memory += reserved;
                }
                StorageType::File => {
                    info.storage += bytes;
                    info.reserved_storage += reserved;
                }
            }
            info.streams += 1;
            drop(stream);
            info.consumers += crate::client::handle::lock(&handle.consumers).entries.len() as u64;
        }
        encode_response("account_info_response", &info)
    }
}

/// 10010: leader stepdown needs a cluster (nats-server on one node).
fn cluster_required() -> ApiError {
    ApiError::new(503, 10010, "JetStream clustering support required")
}

/// Parse a request body (empty = defaults) or fail with 10025.
pub(super) fn parse<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    starling_jetstream::api::parse_request(body)
}
