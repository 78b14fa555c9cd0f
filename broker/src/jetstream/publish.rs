//! Publishing from the server itself (replies, PubAcks): through the
//! router with the internal origin, so replies reach local subscribers
//! and interested peers like any message.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::account::Account;
use crate::router::{self, Batch, Message, Origin};
use crate::server::ServerState;

/// Publish `payload` on `subject` in `account`.
pub(super) fn publish(server: &ServerState, account: &Account, subject: &str, payload: &[u8]) {
    route(server, account, subject, None, payload);
}

/// Publish a message with a header block (`headers` followed by `body`).
pub(super) fn publish_with_headers(
    server: &ServerState,
    account: &Account,
    subject: &str,
    headers: &[u8],
    body: &[u8],
) {
    let mut payload = Vec::with_capacity(headers.len() + body.len());
    payload.extend_from_slice(headers);
    payload.extend_from_slice(body);
    route(server, account, subject, Some(headers.len()), &payload);
}

fn route(
    server: &ServerState,
    account: &Account,
    subject: &str,
    header_len: Option<usize>,
    payload: &[u8],
) {
    let message = Message {
        subject,
        reply: None,
        header_len,
        payload,
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
