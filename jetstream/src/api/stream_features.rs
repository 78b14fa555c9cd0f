//! The stream config parts of per-message TTL, subject delete markers,
//! `republish` and `subject_transform`: their JSON, nats-server's defaults
//! and its checks (`checkStreamCfg`, `configUpdateCheck` in
//! `server/stream.go`), kept apart from the rest of [`StreamConfig`].

use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::stream_config::StreamConfig;
use crate::subject;
use crate::transform::{validate_mapping, SubjectTransform};

/// One second in nanoseconds: the shortest delete-marker TTL.
const SECOND: i64 = 1_000_000_000;

/// `subject_transform` (and a source's `subject_transforms[]` entry).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectTransformConfig {
    /// Subjects it applies to; empty is `>`.
    #[serde(default)]
    pub src: String,
    /// What they become.
    #[serde(default)]
    pub dest: String,
}

/// `republish`: after a message is stored, publish it on `dest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RePublish {
    /// Stored subjects it applies to; empty is `>`.
    #[serde(default)]
    pub src: String,
    /// Where to (a transform of `src`).
    #[serde(default)]
    pub dest: String,
    /// Headers only, with `Nats-Msg-Size`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub headers_only: bool,
}

/// nats-server's silent corrections: delete markers turn on message TTLs
/// and roll-ups; an empty republish source is `>`; a `>` to `>`
/// republish of a single-subject stream whose transform starts at that
/// subject republishes the transformed subjects.
pub(super) fn normalize(config: &mut StreamConfig) {
    if config.subject_delete_marker_ttl >= SECOND {
        config.allow_msg_ttl = true;
        if !config.allow_rollup_hdrs {
            config.allow_rollup_hdrs = true;
            config.deny_purge = false;
        }
    }
    let transform = config.subject_transform.clone();
    let single = (config.subjects.len() == 1).then(|| config.subjects[0].clone());
    if let Some(republish) = config.republish.as_mut() {
        if republish.src.is_empty() {
            republish.src = ">".to_string();
        }
        if let (Some(transform), Some(subject)) = (transform, single) {
            if republish.src == ">" && republish.dest == ">" && transform.src == subject {
                republish.src = transform.dest.clone();
                republish.dest = transform.dest;
            }
        }
    }
}

/// The checks, in nats-server's order and wording.
pub(super) fn check(config: &StreamConfig) -> Result<(), ApiError> {
    let invalid = |why: &str| Err(ApiError::invalid_stream_config(why));
    let marker_ttl = config.subject_delete_marker_ttl;
    if marker_ttl < 0 {
        return invalid("subject delete marker TTL must not be negative");
    }
    if marker_ttl > 0 && marker_ttl < SECOND {
        return invalid("subject delete marker TTL must be at least 1 second");
    }
    if let Some(transform) = &config.subject_transform {
        if !transform.src.is_empty() && !subject::is_valid_filter(&transform.src) {
            return Err(ApiError::transform_invalid_source(&format!(
                "invalid subject {}",
                transform.src
            )));
        }
        validate_mapping(&transform.src, &transform.dest)
            .map_err(|error| ApiError::transform_invalid_destination(&error.to_string()))?;
    }
    if let Some(republish) = &config.republish {
        let cycle = config.subjects.iter().any(|mine| {
            subject::is_valid_filter(&republish.dest) && subject::overlaps(&republish.dest, mine)
        });
        if cycle {
            return invalid("stream configuration for republish destination forms a cycle");
        }
        // nats-server accepts an empty destination (and then republishes nothing).
        if !republish.dest.is_empty()
            && SubjectTransform::new(&republish.src, &republish.dest).is_err()
        {
            return invalid(&format!(
                "stream configuration for republish with transform from '{}' to '{}' not valid",
                republish.src, republish.dest
            ));
        }
    }
    Ok(())
}

/// What an update may not change here: TTLs once allowed stay allowed.
pub(super) fn check_update(current: &StreamConfig, next: &StreamConfig) -> Result<(), ApiError> {
    if current.allow_msg_ttl && !next.allow_msg_ttl {
        return Err(ApiError::invalid_stream_config(
            "message TTL status can not be disabled",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(json: &str) -> Result<StreamConfig, ApiError> {
        serde_json::from_str::<StreamConfig>(json)
            .map_err(|e| ApiError::invalid_json(&e.to_string()))?
            .normalized()
    }

    fn refusal(json: &str) -> (u16, String) {
        normalized(json)
            .err()
            .map(|e| (e.err_code, e.description))
            .unwrap_or_default()
    }

    #[test]
    fn markers_turn_on_ttls_and_rollups() {
        let config =
            normalized(r#"{"name":"S","subject_delete_marker_ttl":1000000000,"deny_purge":true}"#)
                .unwrap_or_default();
        assert!(config.allow_msg_ttl && config.allow_rollup_hdrs && !config.deny_purge);
        let json = r#"{"name":"S","subject_delete_marker_ttl":500000000}"#;
        assert_eq!(
            refusal(json),
            (
                10052,
                "subject delete marker TTL must be at least 1 second".into()
            )
        );
        let json = r#"{"name":"S","subject_delete_marker_ttl":-1}"#;
        assert_eq!(
            refusal(json),
            (
                10052,
                "subject delete marker TTL must not be negative".into()
            )
        );
    }

    #[test]
    fn republish_checks_as_measured_on_nats_server() {
        let json = r#"{"name":"R","subjects":["r.>"],"republish":{"src":">","dest":"r.x.>"}}"#;
        assert_eq!(
            refusal(json),
            (
                10052,
                "stream configuration for republish destination forms a cycle".into()
            )
        );
        let json = r#"{"name":"R","subjects":["r.>"],"republish":{"src":"r.*","dest":"o.$2"}}"#;
        assert_eq!(refusal(json).0, 10052);
        let json = r#"{"name":"R","subjects":["r.>"],"republish":{"dest":"o.>"}}"#;
        let config = normalized(json).unwrap_or_default();
        assert_eq!(config.republish.map(|r| r.src), Some(">".to_string()));
        let json = r#"{"name":"Q","subjects":["q"],"subject_transform":{"src":"q","dest":"q2"},"republish":{"src":">","dest":">"}}"#;
        let republish = normalized(json).unwrap_or_default().republish;
        assert_eq!(
            republish.map(|r| (r.src, r.dest)),
            Some(("q2".to_string(), "q2".to_string()))
        );
    }

    #[test]
    fn transform_checks_as_measured_on_nats_server() {
        let json =
            r#"{"name":"X","subjects":["x.>"],"subject_transform":{"src":"x..","dest":"y.>"}}"#;
        assert_eq!(
            refusal(json),
            (10155, "stream transform source: invalid subject x..".into())
        );
        let json =
            r#"{"name":"X","subjects":["x.*"],"subject_transform":{"src":"x.*","dest":"y.$2"}}"#;
        assert_eq!(
            refusal(json),
            (
                10156,
                "stream transform: invalid mapping destination: wildcard index out of range in $2: [2]"
                    .into()
            )
        );
        let json =
            r#"{"name":"X","subjects":["x.*"],"subject_transform":{"src":"x.*","dest":"y.*"}}"#;
        assert_eq!(
            refusal(json),
            (10156, "stream transform: invalid subject".into())
        );
        let json =
            r#"{"name":"X","subjects":["x.>"],"subject_transform":{"src":"x.>","dest":"y.>"}}"#;
        assert!(normalized(json).is_ok());
    }

    #[test]
    fn ttls_cannot_be_turned_off() {
        let on = normalized(r#"{"name":"T","allow_msg_ttl":true}"#).unwrap_or_default();
        let off = normalized(r#"{"name":"T"}"#).unwrap_or_default();
        assert_eq!(
            on.check_update(&off).err().map(|e| e.description),
            Some("message TTL status can not be disabled".to_string())
        );
        assert!(off.check_update(&on).is_ok());
    }
}
