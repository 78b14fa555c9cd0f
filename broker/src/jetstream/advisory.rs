//! `$JS.EVENT.ADVISORY.>`: the advisories nats-server publishes in the
//! account's own subject space (`jetstream_events.go`), as plain internal
//! publishes nobody has to subscribe to. As nats-server's
//! `publishAdvisory`, the subject's interest is checked first (one
//! sublist match) and the JSON is only built when someone listens, so an
//! account without advisory subscribers pays one match per event.
//!
//! Every advisory starts with nats-server's `TypedEvent` (`type`, `id` a
//! NUID-shaped unique id, `timestamp` RFC 3339 with nanoseconds, UTC) and
//! ends with `domain` when the server has one.

use std::sync::atomic::Ordering;

use serde::Serialize;
use starling_jetstream::api::API_PREFIX;
use starling_jetstream::consumer::time::format_rfc3339;
use starling_jetstream::consumer::ConsumerEvent;
use starling_jetstream::stream::AbandonReason;

use super::publish::{now_nanos, publish};
use crate::account::Account;
use crate::server::ServerState;

/// The advisory subject prefix (nats-server `JSAdvisoryPrefix`).
pub(super) const ADVISORY_PREFIX: &str = "$JS.EVENT.ADVISORY";

/// Where advisories go and what every one of them carries.
pub(super) struct Advisories<'a> {
    pub server: &'a ServerState,
    pub account: &'a Account,
    /// The server's JetStream domain, if any.
    pub domain: Option<&'a str>,
}

/// nats-server's `TypedEvent` followed by the advisory's own fields and
/// `domain`.
#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    timestamp: String,
    #[serde(flatten)]
    body: T,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<&'a str>,
}

/// What happened to a stream (`STREAM.CREATED|UPDATED|DELETED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StreamChange {
    Created,
    Updated,
    Deleted,
}

/// What happened to a consumer (`CONSUMER.CREATED|DELETED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ConsumerChange {
    Created,
    Deleted,
}

/// The API audit subject (nats-server `JSAuditAdvisory`).
const AUDIT_SUBJECT: &str = "$JS.EVENT.ADVISORY.API";

/// The request an API audit advisory describes.
pub(super) struct AuditedRequest<'a> {
    /// Its subject after the API prefix: audited under `$JS.API` (as
    /// nats-server, where a domain prefix is mapped away first).
    pub endpoint: &'a str,
    /// Its body (headers excluded), as nats-server's `string(msg)`.
    pub body: &'a [u8],
    /// The local client that sent it, if any.
    pub publisher: Option<u64>,
}

impl Advisories<'_> {
    /// True when something in the account subscribes to `subject`.
    fn wanted(&self, subject: &str) -> bool {
        has_interest(self.account, subject)
    }

    /// Publish `body` under `kind` on `subject`; `body` is only built when
    /// the subject has interest.
    fn send<T: Serialize>(&self, subject: &str, kind: &'static str, body: impl FnOnce() -> T) {
        if !self.wanted(subject) {
            return;
        }
        let envelope = Envelope {
            kind,
            id: crate::system::service::event_id(),
            timestamp: format_rfc3339(now_nanos()),
            body: body(),
            domain: self.domain,
        };
        match serde_json::to_vec(&envelope) {
            Ok(payload) => publish(self.server, self.account, subject, &payload),
            Err(error) => tracing::warn!(%subject, %error, "advisory not serialized"),
        }
    }

    /// `$JS.EVENT.ADVISORY.STREAM.<CREATED|UPDATED|DELETED>.<stream>`
    /// (`stream_action`, action `create`, `modify` or `delete`).
    pub(super) fn stream_action(&self, stream: &str, action: StreamChange) {
        let (token, action) = match action {
            StreamChange::Created => ("CREATED", "create"),
            StreamChange::Updated => ("UPDATED", "modify"),
            StreamChange::Deleted => ("DELETED", "delete"),
        };
        #[derive(Serialize)]
        struct Body<'a> {
            stream: &'a str,
            action: &'static str,
        }
        let subject = format!("{ADVISORY_PREFIX}.STREAM.{token}.{stream}");
        self.send(
            &subject,
            "io.nats.jetstream.advisory.v1.stream_action",
            || Body { stream, action },
        );
    }

    /// `$JS.EVENT.ADVISORY.STREAM.BATCH_ABANDONED.<stream>`
    /// (`stream_batch_abandoned`): an atomic batch was dropped before its
    /// commit, with nats-server's `reason` (`timeout`, `large`,
    /// `incomplete`, `unsupported`).
    pub(super) fn batch_abandoned(&self, stream: &str, batch: &str, reason: AbandonReason) {
        #[derive(Serialize)]
        struct Body<'a> {
            #[serde(skip_serializing_if = "str::is_empty")]
            account: &'a str,
            stream: &'a str,
            batch: &'a str,
            reason: &'static str,
        }
        let subject = format!("{ADVISORY_PREFIX}.STREAM.BATCH_ABANDONED.{stream}");
        self.send(
            &subject,
            "io.nats.jetstream.advisory.v1.stream_batch_abandoned",
            || Body {
                account: &self.account.name,
                stream,
                batch,
                reason: reason.as_str(),
            },
        );
    }

    /// `$JS.EVENT.ADVISORY.CONSUMER.<CREATED|DELETED>.<stream>.<consumer>`
    /// (`consumer_action`).
    pub(super) fn consumer_action(&self, stream: &str, consumer: &str, action: ConsumerChange) {
        let (token, action) = match action {
            ConsumerChange::Created => ("CREATED", "create"),
            ConsumerChange::Deleted => ("DELETED", "delete"),
        };
        #[derive(Serialize)]
        struct Body<'a> {
            stream: &'a str,
            consumer: &'a str,
            action: &'static str,
        }
        let subject = format!("{ADVISORY_PREFIX}.CONSUMER.{token}.{stream}.{consumer}");
        self.send(
            &subject,
            "io.nats.jetstream.advisory.v1.consumer_action",
            || Body {
                stream,
                consumer,
                action,
            },
        );
    }

    /// `$JS.EVENT.ADVISORY.CONSUMER.PAUSE.<stream>.<consumer>`
    /// (`consumer_pause`): `paused` while `pause_until` is in the future;
    /// `pause_until` is always present (Go's zero time when unset, as Go's
    /// `omitempty` never drops a `time.Time`).
    pub(super) fn consumer_pause(
        &self,
        stream: &str,
        consumer: &str,
        pause_until: Option<i64>,
        now: i64,
    ) {
        #[derive(Serialize)]
        struct Body<'a> {
            stream: &'a str,
            consumer: &'a str,
            paused: bool,
            pause_until: String,
        }
        let subject = format!("{ADVISORY_PREFIX}.CONSUMER.PAUSE.{stream}.{consumer}");
        self.send(
            &subject,
            "io.nats.jetstream.advisory.v1.consumer_pause",
            || Body {
                stream,
                consumer,
                paused: pause_until.is_some_and(|until| until > now),
                pause_until: pause_until.map_or_else(
                    || super::consumer_ops::ZERO_TIME.to_string(),
                    format_rfc3339,
                ),
            },
        );
    }

    /// `$JS.EVENT.ADVISORY.CONSUMER.<MAX_DELIVERIES|MSG_TERMINATED|PINNED|UNPINNED>.<stream>.<consumer>`
    /// (`max_deliver`, `terminated` with `reason` omitted when empty,
    /// `consumer_group_pinned`, `consumer_group_unpinned`).
    pub(super) fn consumer_event(&self, stream: &str, consumer: &str, event: &ConsumerEvent) {
        match event {
            ConsumerEvent::MaxDeliveries {
                stream_seq,
                deliveries,
            } => {
                #[derive(Serialize)]
                struct Body<'a> {
                    stream: &'a str,
                    consumer: &'a str,
                    stream_seq: u64,
                    deliveries: u64,
                }
                let subject =
                    format!("{ADVISORY_PREFIX}.CONSUMER.MAX_DELIVERIES.{stream}.{consumer}");
                self.send(
                    &subject,
                    "io.nats.jetstream.advisory.v1.max_deliver",
                    || Body {
                        stream,
                        consumer,
                        stream_seq: *stream_seq,
                        deliveries: *deliveries,
                    },
                );
            }
            ConsumerEvent::Terminated {
                stream_seq,
                consumer_seq,
                deliveries,
                reason,
            } => {
                #[derive(Serialize)]
                struct Body<'a> {
                    stream: &'a str,
                    consumer: &'a str,
                    consumer_seq: u64,
                    stream_seq: u64,
                    deliveries: u64,
                    #[serde(skip_serializing_if = "str::is_empty")]
                    reason: &'a str,
                }
                let subject =
                    format!("{ADVISORY_PREFIX}.CONSUMER.MSG_TERMINATED.{stream}.{consumer}");
                self.send(&subject, "io.nats.jetstream.advisory.v1.terminated", || {
                    Body {
                        stream,
                        consumer,
                        consumer_seq: *consumer_seq,
                        stream_seq: *stream_seq,
                        deliveries: *deliveries,
                        reason: reason.as_deref().unwrap_or_default(),
                    }
                });
            }
            ConsumerEvent::Pinned { group, pin_id } => {
                #[derive(Serialize)]
                struct Body<'a> {
                    account: &'a str,
                    stream: &'a str,
                    consumer: &'a str,
                    group: &'a str,
                    pinned_id: &'a str,
                }
                let subject = format!("{ADVISORY_PREFIX}.CONSUMER.PINNED.{stream}.{consumer}");
                self.send(
                    &subject,
                    "io.nats.jetstream.advisory.v1.consumer_group_pinned",
                    || Body {
                        account: &self.account.name,
                        stream,
                        consumer,
                        group,
                        pinned_id: pin_id,
                    },
                );
            }
            ConsumerEvent::Unpinned { group, reason } => {
                #[derive(Serialize)]
                struct Body<'a> {
                    account: &'a str,
                    stream: &'a str,
                    consumer: &'a str,
                    group: &'a str,
                    reason: &'a str,
                }
                let subject = format!("{ADVISORY_PREFIX}.CONSUMER.UNPINNED.{stream}.{consumer}");
                self.send(
                    &subject,
                    "io.nats.jetstream.advisory.v1.consumer_group_unpinned",
                    || Body {
                        account: &self.account.name,
                        stream,
                        consumer,
                        group,
                        reason,
                    },
                );
            }
        }
    }

    /// `$JS.EVENT.ADVISORY.API` (`api_audit`): every answered API request
    /// (errors included) with the request body and the response, as
    /// nats-server's `sendAPIResponse` / `sendAPIErrResponse`. `client`
    /// is the `ClientInfo` nats-server's service import carries without
    /// sharing: the account, the client's RTT and this server (measured
    /// on nats-server 2.9.10: `{"acc":"$G","rtt":500730,"server":"N…"}`).
    pub(super) fn api_audit(&self, request: &AuditedRequest<'_>, response: &[u8]) {
        #[derive(Serialize)]
        struct Client<'a> {
            acc: &'a str,
            #[serde(skip_serializing_if = "is_zero")]
            rtt: u64,
            server: String,
        }
        #[derive(Serialize)]
        struct Body<'a> {
            server: String,
            client: Client<'a>,
            subject: String,
            #[serde(skip_serializing_if = "str::is_empty")]
            request: &'a str,
            response: &'a str,
        }
        self.send(
            AUDIT_SUBJECT,
            "io.nats.jetstream.advisory.v1.api_audit",
            || {
                let server = self.server.server_name();
                let rtt = request
                    .publisher
                    .and_then(|cid| self.server.client(cid))
                    .map_or(0, |client| client.rtt_nanos.load(Ordering::Relaxed));
                Body {
                    server: server.clone(),
                    client: Client {
                        acc: &self.account.name,
                        rtt,
                        server,
                    },
                    subject: format!("{API_PREFIX}.{}", request.endpoint),
                    request: std::str::from_utf8(request.body).unwrap_or_default(),
                    response: std::str::from_utf8(response).unwrap_or_default(),
                }
            },
        );
    }
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// True when something subscribes to `subject` in `account` (a sublist
/// match; plain or queue subscribers).
pub(super) fn has_interest(account: &Account, subject: &str) -> bool {
    let matches = account.sublist.match_subject(subject);
    !matches.plain.is_empty() || !matches.queues.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_is_typed_event_then_body_then_domain() {
        #[derive(Serialize)]
        struct Body {
            stream: &'static str,
            action: &'static str,
        }
        let envelope = Envelope {
            kind: "io.nats.jetstream.advisory.v1.stream_action",
            id: "ID".into(),
            timestamp: "T".into(),
            body: Body {
                stream: "S",
                action: "create",
            },
            domain: None,
        };
        assert_eq!(
            serde_json::to_string(&envelope).ok().as_deref(),
            Some(
                r#"{"type":"io.nats.jetstream.advisory.v1.stream_action","id":"ID","timestamp":"T","stream":"S","action":"create"}"#
            )
        );
        let with_domain = Envelope {
            domain: Some("hub"),
            ..envelope
        };
        let text = serde_json::to_string(&with_domain).unwrap_or_default();
        assert!(
            text.ends_with(r#""action":"create","domain":"hub"}"#),
            "{text}"
        );
    }
}
