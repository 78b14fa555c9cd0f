//! Publishing from the server itself (replies, PubAcks): through the
//! router with the internal origin, so replies reach local subscribers
//! and interested peers like any message.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::account::Account;
use crate::router::{self, Batch, Message, Origin};
use crate::server::ServerState;

/// Publish `payload` on `subject` in `account`.
pub(super) fn publish(server: &ServerState, account: &Account, subject: &str, payload: &[u8]) {
    route(
        server,
        account,
        &Outgoing {
            subject,
            reply: None,
            deliver_as: None,
        },
        None,
        payload,
    );
}

/// Publish a message with a header block (`headers` followed by `body`).
pub(super) fn publish_with_headers(
    server: &ServerState,
    account: &Account,
    subject: &str,
    headers: &[u8],
    body: &[u8],
) {
    publish_full(
        server,
        account,
        &Outgoing {
            subject,
            reply: None,
            deliver_as: None,
        },
        headers,
        body,
    );
}

/// Where a server-made message goes and how it is addressed.
pub(super) struct Outgoing<'a> {
    /// The subject it is routed on.
    pub subject: &'a str,
    /// Its reply subject.
    pub reply: Option<&'a str>,
    /// The subject subscribers see (a consumer delivery shows the stored
    /// message's subject), if not `subject`.
    pub deliver_as: Option<&'a str>,
}

/// Publish with a reply and a shown subject; `headers` may be empty (no
/// header block then).
pub(super) fn publish_full(
    server: &ServerState,
    account: &Account,
    outgoing: &Outgoing<'_>,
    headers: &[u8],
    body: &[u8],
) {
    if headers.is_empty() {
        route(server, account, outgoing, None, body);
        return;
    }
    let mut payload = Vec::with_capacity(headers.len() + body.len());
    payload.extend_from_slice(headers);
    payload.extend_from_slice(body);
    route(server, account, outgoing, Some(headers.len()), &payload);
}

fn route(
    server: &ServerState,
    account: &Account,
    outgoing: &Outgoing<'_>,
    header_len: Option<usize>,
    payload: &[u8],
) {
    let message = Message {
        subject: outgoing.subject,
        reply: outgoing.reply.map(str::as_bytes),
        header_len,
        payload,
        deliver_as: outgoing.deliver_as,
    };
    let mut batch = Batch::default();
    router::route(server, account, Origin::Internal, &message, &mut batch);
    batch.finish(server, None);
}

/// Wall-clock nanoseconds since the Unix epoch: message timestamps are
/// wall time (they are shown to users and compared across restarts).
pub(super) fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_nanos()).unwrap_or(i64::MAX)
        })
}
