//! The PubAck: `{"stream","seq","duplicate"?,"domain"?,"batch"?,"count"?}`, or with an
//! `"error"` (and `seq` 0) when the stream refused the message.

use serde::{Deserialize, Serialize};

use crate::api::ApiError;

/// The answer to a JetStream publish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PubAck {
    /// Why the message was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    /// The stream.
    pub stream: String,
    /// Its sequence (the original one for a duplicate; 0 on error).
    pub seq: u64,
    /// The JetStream domain, when configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// The message was a duplicate within the window and not stored again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
    /// The committed atomic batch's id (`Nats-Batch-Id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
    /// How many messages the committed batch stored.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub count: u64,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

impl PubAck {
    /// Stored at `seq`.
    pub fn stored(stream: &str, seq: u64) -> Self {
        PubAck {
            error: None,
            stream: stream.to_string(),
            seq,
            domain: None,
            duplicate: false,
            batch: None,
            count: 0,
        }
    }

    /// An atomic batch `id` of `count` messages, the last stored at `seq`.
    pub fn batch(stream: &str, seq: u64, id: &str, count: u64) -> Self {
        PubAck {
            batch: Some(id.to_string()),
            count,
            ..Self::stored(stream, seq)
        }
    }

    /// A duplicate of the message at `seq`.
    pub fn duplicate(stream: &str, seq: u64) -> Self {
        PubAck {
            duplicate: true,
            ..Self::stored(stream, seq)
        }
    }

    /// Refused.
    pub fn refused(stream: &str, error: ApiError) -> Self {
        PubAck {
            error: Some(error),
            ..Self::stored(stream, 0)
        }
    }

    /// The JSON the publisher receives.
    pub fn encode(&self) -> Vec<u8> {
        // Strings, integers and booleans only: serialization cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_as_nats_server() {
        let json =
            |ack: PubAck| serde_json::from_slice::<serde_json::Value>(&ack.encode()).unwrap();
        assert_eq!(
            json(PubAck::stored("S", 1)),
            serde_json::json!({"stream":"S","seq":1})
        );
        assert_eq!(
            json(PubAck::duplicate("S", 1)),
            serde_json::json!({"stream":"S","seq":1,"duplicate":true})
        );
        assert_eq!(
            json(PubAck::batch("S", 6, "b1", 5)),
            serde_json::json!({"stream":"S","seq":6,"batch":"b1","count":5})
        );
        assert_eq!(
            json(PubAck::refused("S", ApiError::wrong_last_sequence(1))),
            serde_json::json!({"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 1"},"stream":"S","seq":0})
        );
    }
}
