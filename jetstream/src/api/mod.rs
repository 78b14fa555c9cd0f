//! The JetStream API's JSON (`$JS.API.*`), as nats-server writes and reads it.
//!
//! - [`error`]: [`ApiError`] and the error codes clients branch on.
//! - [`response`]: the `{"type": ..., ...}` envelope of every reply.
//! - [`stream_config`]: [`StreamConfig`], its defaults and checks.
//! - [`stream_features`]: TTL, delete marker, republish and transform config.
//! - [`stream_source`]: `mirror` / `sources[]`, their checks and info.
//! - [`stream`]: stream info/state, and the stream requests and responses.
//! - [`account`]: the `$JS.API.INFO` response.
//! - [`consumer`]: consumer config, info, the create request and subject forms.
//! - [`required_level`]: the `Nats-Required-Api-Level` request header.

pub mod account;
pub mod consumer;
pub mod error;
pub mod required_level;
pub mod response;
pub mod stream;
pub mod stream_config;
pub mod stream_features;
pub mod stream_source;

pub use account::{AccountInfo, AccountLimits, ApiStats};
pub use error::ApiError;
pub use required_level::{check_required_api_level, REQUIRED_API_LEVEL};
pub use response::{encode_error, encode_response};
pub use stream::{
    MsgDeleteRequest, MsgGetRequest, PagedRequest, PurgeRequest, PurgeResponse, StoredMessage,
    StreamInfo, StreamInfoRequest, StreamState,
};
pub use stream_config::{
    Compression, ConsumerLimits, DiscardPolicy, RetentionPolicy, StorageType, StreamConfig,
};

/// The API subject prefix (no domain).
pub const API_PREFIX: &str = "$JS.API";

/// Most names a `*.NAMES` response holds (nats-server `JSApiNamesLimit`).
pub const NAMES_LIMIT: usize = 1024;

/// Most infos a `*.LIST` response holds (nats-server `JSApiListLimit`).
pub const LIST_LIMIT: usize = 256;

/// Parse a request body: empty (or only whitespace) means "no arguments"
/// and gives the default, as nats-server accepts. A `null` anywhere in an
/// object means "not set" (Go's decoder leaves the field at its zero
/// value; clients send `"consumer_limits": null` and the like).
pub fn parse_request<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let mut value: serde_json::Value =
        serde_json::from_slice(body).map_err(|error| ApiError::invalid_json(&error.to_string()))?;
    if value.is_null() {
        return Ok(T::default());
    }
    drop_nulls(&mut value);
    serde_json::from_value(value).map_err(|error| ApiError::invalid_json(&error.to_string()))
}

/// Remove `null` members from every object in `value`.
fn drop_nulls(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.retain(|_, member| !member.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_bodies_and_nulls_are_defaults() {
        let config: StreamConfig = parse_request(b"").unwrap();
        assert_eq!(config, StreamConfig::default());
        let config: StreamConfig =
            parse_request(br#"{"name":"S","consumer_limits":null,"retention":null}"#).unwrap();
        assert_eq!(config.name, "S");
        assert_eq!(
            parse_request::<StreamConfig>(b"null").unwrap(),
            StreamConfig::default()
        );
        assert_eq!(
            parse_request::<StreamConfig>(b"{")
                .err()
                .map(|e| e.err_code),
            Some(10025)
        );
    }
}
