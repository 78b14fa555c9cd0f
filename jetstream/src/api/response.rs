//! The envelope of every API reply: `"type":
//! "io.nats.jetstream.api.v1.<name>"` and either the body's fields or
//! `"error": {...}`.

use serde::Serialize;

use super::error::ApiError;

/// The `type` prefix of every response.
pub const TYPE_PREFIX: &str = "io.nats.jetstream.api.v1.";

#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: String,
    #[serde(flatten)]
    body: &'a T,
}

#[derive(Serialize)]
struct ErrorEnvelope<'a> {
    #[serde(rename = "type")]
    kind: String,
    error: &'a ApiError,
}

/// `{"type": "io.nats.jetstream.api.v1.<kind>", ...body}`.
pub fn encode_response<T: Serialize>(kind: &str, body: &T) -> Vec<u8> {
    let envelope = Envelope {
        kind: format!("{TYPE_PREFIX}{kind}"),
        body,
    };
    match serde_json::to_vec(&envelope) {
        Ok(bytes) => bytes,
        Err(error) => encode_error(kind, &ApiError::stream_general(&error.to_string())),
    }
}

/// `{"type": "io.nats.jetstream.api.v1.<kind>", "error": {...}}`.
pub fn encode_error(kind: &str, error: &ApiError) -> Vec<u8> {
    let envelope = ErrorEnvelope {
        kind: format!("{TYPE_PREFIX}{kind}"),
        error,
    };
    // A struct of strings and integers always serializes.
    serde_json::to_vec(&envelope).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Deleted {
        success: bool,
    }

    #[test]
    fn response_and_error_shapes() {
        let ok: serde_json::Value = serde_json::from_slice(&encode_response(
            "stream_delete_response",
            &Deleted { success: true },
        ))
        .unwrap_or_default();
        assert_eq!(
            ok,
            serde_json::json!({"type":"io.nats.jetstream.api.v1.stream_delete_response","success":true})
        );
        let error: serde_json::Value = serde_json::from_slice(&encode_error(
            "stream_info_response",
            &ApiError::stream_not_found(),
        ))
        .unwrap_or_default();
        assert_eq!(
            error["type"],
            "io.nats.jetstream.api.v1.stream_info_response"
        );
        assert_eq!(error["error"]["err_code"], 10059);
        assert_eq!(error["error"]["code"], 404);
    }
}
