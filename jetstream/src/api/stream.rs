//! Stream info and state, and the stream API's requests and responses
//! (`STREAM.INFO/NAMES/LIST/PURGE/MSG.GET/MSG.DELETE`), as nats-server's
//! JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::stream_config::StreamConfig;
use super::stream_source::StreamSourceInfo;
use crate::time::rfc3339_nanos;

/// `StreamInfo.state` (`server/store.go` `StreamState`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamState {
    /// Messages held.
    pub messages: u64,
    /// Bytes held.
    pub bytes: u64,
    /// First sequence (`last_seq + 1` when empty).
    pub first_seq: u64,
    /// Time of the first message, RFC 3339.
    pub first_ts: String,
    /// Last sequence assigned.
    pub last_seq: u64,
    /// Time of the last message, RFC 3339.
    pub last_ts: String,
    /// Distinct subjects held.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub num_subjects: u64,
    /// Per-subject counts, when asked for with `subjects_filter`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subjects: Option<BTreeMap<String, u64>>,
    /// Sequences between first and last not held.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub num_deleted: u64,
    /// Those sequences, when asked for with `deleted_details`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<Vec<u64>>,
    /// Consumers on the stream.
    pub consumer_count: u64,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

impl StreamState {
    /// The API state of a store's state.
    pub fn from_store(state: &starling_store::StreamState) -> Self {
        StreamState {
            messages: state.msgs,
            bytes: state.bytes,
            first_seq: state.first_seq,
            first_ts: rfc3339_nanos(state.first_ts),
            last_seq: state.last_seq,
            last_ts: rfc3339_nanos(state.last_ts),
            num_subjects: state.num_subjects,
            subjects: None,
            num_deleted: state.num_deleted,
            deleted: None,
            consumer_count: 0,
        }
    }
}

/// `StreamInfo.cluster` on a single node: the leader is this server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterInfo {
    /// The server that leads (here: this one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
}

/// `StreamInfo`: stream create/update/info responses and list entries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamInfo {
    /// The stream's (normalized) config.
    pub config: StreamConfig,
    /// When it was created, RFC 3339.
    pub created: String,
    /// Its state.
    pub state: StreamState,
    /// Who leads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterInfo>,
    /// The mirror's progress, for a mirror.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<StreamSourceInfo>,
    /// Each source's progress.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<StreamSourceInfo>,
    /// Response time, RFC 3339.
    pub ts: String,
    /// With `subjects_filter`: subjects matching in total (paged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<usize>,
    /// With `subjects_filter`: the page's offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<usize>,
    /// With `subjects_filter`: the page size limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// Most subjects one `STREAM.INFO` page holds (nats-server
/// `JSMaxSubjectDetails`).
pub const SUBJECTS_PAGE_LIMIT: usize = 100_000;

/// `STREAM.INFO` request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamInfoRequest {
    /// Fill `state.deleted`.
    pub deleted_details: bool,
    /// Fill `state.subjects` with subjects matching this filter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subjects_filter: Option<String>,
    /// Page offset into `state.subjects` (accepted; one page is returned).
    pub offset: usize,
}

/// `STREAM.NAMES` / `STREAM.LIST` request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PagedRequest {
    /// Skip this many streams.
    pub offset: usize,
    /// Only streams capturing this subject (ADR-15 "stream by subject").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

/// `STREAM.NAMES` response body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamesResponse {
    /// Streams in total (matching the subject, if given).
    pub total: usize,
    /// Offset of this page.
    pub offset: usize,
    /// Page size limit.
    pub limit: usize,
    /// Names in this page.
    pub streams: Vec<String>,
}

/// `STREAM.LIST` response body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListResponse {
    /// Streams in total.
    pub total: usize,
    /// Offset of this page.
    pub offset: usize,
    /// Page size limit.
    pub limit: usize,
    /// Infos in this page.
    pub streams: Vec<StreamInfo>,
}

/// `STREAM.PURGE` request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PurgeRequest {
    /// Only messages on subjects matching this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Purge below this sequence.
    #[serde(skip_serializing_if = "is_zero")]
    pub seq: u64,
    /// Keep this many newest messages.
    #[serde(skip_serializing_if = "is_zero")]
    pub keep: u64,
}

/// `STREAM.PURGE` response body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeResponse {
    /// Always true when no error.
    pub success: bool,
    /// Messages removed.
    pub purged: u64,
}

/// `STREAM.MSG.DELETE` request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MsgDeleteRequest {
    /// Sequence to remove.
    pub seq: u64,
    /// Remove from the index only, without overwriting the bytes.
    pub no_erase: bool,
}

/// `{"success": true}` (delete responses).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuccessResponse {
    /// Always true when no error.
    pub success: bool,
}

/// `STREAM.MSG.GET` (and `DIRECT.GET`) request: one of `seq`,
/// `last_by_subj`, or `next_by_subj` (from `seq`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MsgGetRequest {
    /// Sequence (or start sequence with `next_by_subj`).
    #[serde(skip_serializing_if = "is_zero")]
    pub seq: u64,
    /// The last message on this subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_by_subj: Option<String>,
    /// The first message on this subject at or after `seq`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_by_subj: Option<String>,
}

/// A stored message in a `STREAM.MSG.GET` response (`message`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMessage {
    /// Subject.
    pub subject: String,
    /// Sequence.
    pub seq: u64,
    /// Header block, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hdrs: Option<String>,
    /// Payload, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Store time, RFC 3339.
    pub time: String,
}

impl StoredMessage {
    /// The API form of a store message.
    pub fn from_store(message: &starling_store::StoredMsg) -> Self {
        let base64 =
            |bytes: &[u8]| (!bytes.is_empty()).then(|| data_encoding::BASE64.encode(bytes));
        StoredMessage {
            subject: message.subject.clone(),
            seq: message.seq,
            hdrs: base64(&message.headers),
            data: base64(&message.payload),
            time: rfc3339_nanos(message.timestamp),
        }
    }
}

/// `STREAM.MSG.GET` response body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MsgGetResponse {
    /// The message.
    pub message: StoredMessage,
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn empty_state_has_go_zero_times_and_no_optional_fields() {
        let store_state = starling_store::StreamState {
            first_seq: 1,
            ..Default::default()
        };
        let json = serde_json::to_value(StreamState::from_store(&store_state)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"messages":0,"bytes":0,"first_seq":1,"first_ts":"0001-01-01T00:00:00Z",
                "last_seq":0,"last_ts":"0001-01-01T00:00:00Z","consumer_count":0})
        );
    }

    #[test]
    fn stored_message_is_base64() {
        let message = starling_store::StoredMsg {
            seq: 3,
            subject: "a".into(),
            headers: Bytes::from_static(b"NATS/1.0\r\n\r\n"),
            payload: Bytes::from_static(b"hi"),
            timestamp: 1,
            ttl_nanos: None,
        };
        let json = serde_json::to_value(StoredMessage::from_store(&message)).unwrap();
        assert_eq!(json["data"], "aGk=");
        assert_eq!(json["hdrs"], "TkFUUy8xLjANCg0K");
        assert_eq!(json["seq"], 3);
    }

    #[test]
    fn requests_accept_nats_server_fields() {
        let purge: PurgeRequest = serde_json::from_str(r#"{"filter":"a.>","keep":2}"#).unwrap();
        assert_eq!(purge.filter.as_deref(), Some("a.>"));
        assert_eq!(purge.keep, 2);
        let get: MsgGetRequest = serde_json::from_str(r#"{"last_by_subj":"a.b"}"#).unwrap();
        assert_eq!(get.last_by_subj.as_deref(), Some("a.b"));
    }
}
