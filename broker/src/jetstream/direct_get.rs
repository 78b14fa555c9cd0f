//! `DIRECT.GET.<stream>` (JSON body: `seq`, `last_by_subj`,
//! `next_by_subj`) and `DIRECT.GET.<stream>.<subject>` (empty body: the
//! last message on the subject). Subscribed only for streams with
//! `allow_direct`, so other streams answer 503 no-responders. The answer
//! is the message itself with `Nats-Stream`, `Nats-Subject`,
//! `Nats-Sequence`, `Nats-Time-Stamp` headers, or a status (404 Message
//! Not Found, 408 Bad Request). Batches are not implemented yet.

use std::sync::TryLockError;

use starling_jetstream::api::MsgGetRequest;
use starling_jetstream::time::rfc3339_nanos;

use super::api::{parse, Context};
use super::publish::publish_with_headers;
use crate::client::handle::lock;

/// Answer one direct get on `reply`. Unless `wait`, a stream whose lock is
/// held is left alone and false returned (the caller answers it later).
pub(super) fn answer(
    context: &Context,
    reply: &str,
    stream: &str,
    subject: &[&str],
    body: &[u8],
    wait: bool,
) -> bool {
    let status = |text: &str| {
        let headers = format!("NATS/1.0 {text}\r\n\r\n");
        publish_with_headers(
            &context.server,
            &context.account.account,
            reply,
            headers.as_bytes(),
            b"",
        );
    };
    let Some(handle) = context.account.stream(stream) else {
        status("404 Message Not Found");
        return true;
    };
    let request = if subject.is_empty() {
        match parse::<MsgGetRequest>(body) {
            Ok(request)
                if request.seq > 0
                    || request.last_by_subj.is_some()
                    || request.next_by_subj.is_some() =>
            {
                request
            }
            _ => {
                status("408 Bad Request");
                return true;
            }
        }
    } else {
        if !body.iter().all(u8::is_ascii_whitespace) {
            status("408 Bad Request");
            return true;
        }
        MsgGetRequest {
            last_by_subj: Some(subject.join(".")),
            ..MsgGetRequest::default()
        }
    };
    let found = if wait {
        lock(&handle.stream).get_msg(&request)
    } else {
        match handle.stream.try_lock() {
            Ok(stream) => stream.get_msg(&request),
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner().get_msg(&request),
            Err(TryLockError::WouldBlock) => return false,
        }
    };
    let Ok(message) = found else {
        status("404 Message Not Found");
        return true;
    };
    let mut headers = match std::str::from_utf8(&message.headers) {
        Ok(original) if original.starts_with("NATS/") => {
            original.trim_end_matches("\r\n").to_string() + "\r\n"
        }
        _ => "NATS/1.0\r\n".to_string(),
    };
    headers.push_str(&format!(
        "Nats-Stream: {stream}\r\nNats-Subject: {}\r\nNats-Sequence: {}\r\nNats-Time-Stamp: {}\r\n\r\n",
        message.subject,
        message.seq,
        rfc3339_nanos(message.timestamp)
    ));
    publish_with_headers(
        &context.server,
        &context.account.account,
        reply,
        headers.as_bytes(),
        &message.payload,
    );
    true
}
