//! JetStream API errors: `{"code": <http-ish>, "err_code": <10xxx>,
//! "description": "..."}`. Clients branch on `err_code`, which never
//! changes; the constructors below carry nats-server's codes and wording
//! (`server/errors.json`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// An error in a JetStream API response or an error PubAck.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// HTTP-like status (400, 404, 500, 503).
    pub code: u16,
    /// JetStream error code (`JSErrCode`).
    pub err_code: u16,
    /// Human-readable text; may change between versions.
    pub description: String,
}

impl ApiError {
    /// An error with this status, code and text.
    pub fn new(code: u16, err_code: u16, description: impl Into<String>) -> Self {
        ApiError {
            code,
            err_code,
            description: description.into(),
        }
    }

    /// 10003: bad request.
    pub fn bad_request(why: &str) -> Self {
        let description = if why.is_empty() {
            "bad request".to_string()
        } else {
            format!("bad request: {why}")
        };
        Self::new(400, 10003, description)
    }

    /// 10025: the request body is not valid JSON for this request.
    pub fn invalid_json(why: &str) -> Self {
        Self::new(400, 10025, format!("invalid JSON: {why}"))
    }

    /// 10037: no message found.
    pub fn no_message_found() -> Self {
        Self::new(404, 10037, "no message found")
    }

    /// 10039: JetStream not enabled for account.
    pub fn not_enabled_for_account() -> Self {
        Self::new(503, 10039, "jetstream not enabled for account")
    }

    /// 10049: stream create failed.
    pub fn stream_create(why: &str) -> Self {
        Self::new(500, 10049, why)
    }

    /// 10050: stream delete failed.
    pub fn stream_delete(why: &str) -> Self {
        Self::new(500, 10050, why)
    }

    /// 10051: a general stream failure (e.g. a store I/O error).
    pub fn stream_general(why: &str) -> Self {
        Self::new(500, 10051, why)
    }

    /// 10052: invalid stream config.
    pub fn invalid_stream_config(why: &str) -> Self {
        Self::new(500, 10052, why)
    }

    /// 10054: message size exceeds maximum allowed.
    pub fn message_too_large() -> Self {
        Self::new(400, 10054, "message size exceeds maximum allowed")
    }

    /// 10056: the stream name in the subject does not match the body.
    pub fn stream_name_mismatch() -> Self {
        Self::new(400, 10056, "stream name in subject does not match request")
    }

    /// 10057: message delete failed.
    pub fn msg_delete_failed(why: &str) -> Self {
        Self::new(500, 10057, why)
    }

    /// 10058: stream name already in use with a different configuration.
    pub fn stream_name_in_use() -> Self {
        Self::new(
            400,
            10058,
            "stream name already in use with a different configuration",
        )
    }

    /// 10185: the request's `Nats-Required-Api-Level` is above this
    /// server's API level.
    pub fn required_api_level() -> Self {
        Self::new(412, 10185, "JetStream minimum api level required")
    }

    /// 10059: stream not found.
    pub fn stream_not_found() -> Self {
        Self::new(404, 10059, "stream not found")
    }

    /// 10060: `Nats-Expected-Stream` names another stream.
    pub fn expected_stream_mismatch() -> Self {
        Self::new(400, 10060, "expected stream does not match")
    }

    /// 10065: subjects overlap with an existing stream.
    pub fn subjects_overlap() -> Self {
        Self::new(400, 10065, "subjects overlap with an existing stream")
    }

    /// 10069: stream update failed.
    pub fn stream_update(why: &str) -> Self {
        Self::new(500, 10069, why)
    }

    /// 10070: `Nats-Expected-Last-Msg-Id` differs from the last message id.
    pub fn wrong_last_msg_id(last: &str) -> Self {
        Self::new(400, 10070, format!("wrong last msg ID: {last}"))
    }

    /// 10071: `Nats-Expected-Last-(Subject-)Sequence` differs.
    pub fn wrong_last_sequence(last: u64) -> Self {
        Self::new(400, 10071, format!("wrong last sequence: {last}"))
    }

    /// 10074: replicas > 1 not supported in non-clustered mode.
    pub fn replicas_not_supported() -> Self {
        Self::new(
            500,
            10074,
            "replicas > 1 not supported in non-clustered mode",
        )
    }

    /// 10076: JetStream not enabled.
    pub fn not_enabled() -> Self {
        Self::new(503, 10076, "JetStream not enabled")
    }

    /// 10077: the store refused the message (limits with `discard: new`,
    /// I/O errors).
    pub fn store_failed(why: &str) -> Self {
        Self::new(503, 10077, why)
    }

    /// 10097: headers exceed 64 KiB.
    pub fn header_too_large() -> Self {
        Self::new(400, 10097, "header size exceeds maximum allowed of 64k")
    }

    /// 10109: invalid operation on sealed stream.
    pub fn stream_sealed() -> Self {
        Self::new(400, 10109, "invalid operation on sealed stream")
    }

    /// 10110: purge failed.
    pub fn purge_failed(why: &str) -> Self {
        Self::new(500, 10110, why)
    }

    /// 10111: rollup failed.
    pub fn rollup_failed(why: &str) -> Self {
        Self::new(500, 10111, why)
    }

    /// 10166: a `Nats-TTL` header on a stream without `allow_msg_ttl`.
    pub fn msg_ttl_disabled() -> Self {
        Self::new(400, 10166, "per-message TTL is disabled")
    }

    /// 10165: a `Nats-TTL` header that is not a TTL of at least 1 s.
    pub fn msg_ttl_invalid() -> Self {
        Self::new(400, 10165, "invalid per-message TTL")
    }

    /// 10155: `subject_transform.src` is not a valid subject.
    pub fn transform_invalid_source(why: &str) -> Self {
        Self::new(400, 10155, format!("stream transform source: {why}"))
    }

    /// 10156: `subject_transform.dest` does not fit the source.
    pub fn transform_invalid_destination(why: &str) -> Self {
        Self::new(400, 10156, format!("stream transform: {why}"))
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (code {}, err_code {})",
            self.description, self.code, self.err_code
        )
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_with_nats_server_field_names() {
        let json = serde_json::to_value(ApiError::wrong_last_sequence(7)).unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!({"code":400,"err_code":10071,"description":"wrong last sequence: 7"})
        );
    }

    #[test]
    fn codes_clients_branch_on() {
        assert_eq!(ApiError::stream_not_found().err_code, 10059);
        assert_eq!(ApiError::stream_not_found().code, 404);
        assert_eq!(ApiError::stream_name_in_use().err_code, 10058);
        assert_eq!(ApiError::subjects_overlap().err_code, 10065);
        assert_eq!(ApiError::stream_name_mismatch().err_code, 10056);
        assert_eq!(ApiError::no_message_found().err_code, 10037);
    }
}
