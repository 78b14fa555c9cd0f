//! `republish`: every stored message whose subject matches `src` is
//! published again on the transformed subject, with headers saying where
//! it is stored (nats-server's `processJetStreamMsg`; header order and
//! values measured on 2.15.1).

use bytes::Bytes;

use crate::api::StreamConfig;
use crate::time::rfc3339_nanos;
use crate::transform::SubjectTransform;

/// A message to publish once the batch that stored it is durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Republished {
    /// Where it goes.
    pub subject: String,
    /// Its header block (never empty).
    pub headers: Vec<u8>,
    /// The payload (empty with `headers_only`).
    pub payload: Bytes,
}

/// A stream's republish rule, built from its config.
#[derive(Debug, Clone)]
pub(super) struct Republisher {
    stream: String,
    transform: SubjectTransform,
    headers_only: bool,
}

/// What was stored, as the republished headers describe it.
pub(super) struct StoredInfo<'a> {
    pub subject: &'a str,
    pub headers: &'a [u8],
    pub payload: &'a Bytes,
    pub seq: u64,
    pub timestamp: i64,
    /// The subject's previous sequence, 0 if none (`Nats-Last-Sequence`).
    pub last_subject_seq: u64,
}

impl Republisher {
    /// The rule of `config`, if it republishes anything.
    pub(super) fn from_config(config: &StreamConfig) -> Option<Self> {
        let republish = config.republish.as_ref()?;
        if republish.dest.is_empty() {
            return None;
        }
        let transform = SubjectTransform::new(&republish.src, &republish.dest).ok()?;
        Some(Republisher {
            stream: config.name.clone(),
            transform,
            headers_only: republish.headers_only,
        })
    }

    /// The republished form of `stored`, None when `src` does not match.
    pub(super) fn message(&self, stored: &StoredInfo<'_>) -> Option<Republished> {
        let subject = self.transform.apply(stored.subject)?;
        let mut headers = Vec::with_capacity(stored.headers.len() + 160);
        match stored.headers.strip_suffix(b"\r\n\r\n") {
            Some(lines) if !lines.is_empty() => {
                headers.extend_from_slice(lines);
                headers.extend_from_slice(b"\r\n");
            }
            _ => headers.extend_from_slice(b"NATS/1.0\r\n"),
        }
        let mut line = |name: &str, value: &str| {
            headers.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        };
        line("Nats-Stream", &self.stream);
        line("Nats-Subject", stored.subject);
        line("Nats-Sequence", &stored.seq.to_string());
        line("Nats-Time-Stamp", &rfc3339_nanos(stored.timestamp));
        line("Nats-Last-Sequence", &stored.last_subject_seq.to_string());
        let payload = if self.headers_only {
            line("Nats-Msg-Size", &stored.payload.len().to_string());
            Bytes::new()
        } else {
            stored.payload.clone()
        };
        headers.extend_from_slice(b"\r\n");
        Some(Republished {
            subject,
            headers,
            payload,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::stream_features::RePublish;

    fn republisher(src: &str, dest: &str, headers_only: bool) -> Option<Republisher> {
        Republisher::from_config(&StreamConfig {
            name: "RP".into(),
            republish: Some(RePublish {
                src: src.into(),
                dest: dest.into(),
                headers_only,
            }),
            ..StreamConfig::default()
        })
    }

    fn stored<'a>(subject: &'a str, headers: &'a [u8], payload: &'a Bytes) -> StoredInfo<'a> {
        StoredInfo {
            subject,
            headers,
            payload,
            seq: 3,
            timestamp: 1_000_000_000,
            last_subject_seq: 2,
        }
    }

    #[test]
    fn headers_as_nats_server_writes_them() {
        let rule = republisher("rp.>", "out.>", false);
        let payload = Bytes::from_static(b"hello");
        let message = rule.and_then(|r| r.message(&stored("rp.a", b"", &payload)));
        let message = message.unwrap_or_else(|| panic!("no message"));
        assert_eq!(message.subject, "out.a");
        assert_eq!(
            String::from_utf8_lossy(&message.headers),
            "NATS/1.0\r\nNats-Stream: RP\r\nNats-Subject: rp.a\r\nNats-Sequence: 3\r\n\
             Nats-Time-Stamp: 1970-01-01T00:00:01.000000000Z\r\nNats-Last-Sequence: 2\r\n\r\n"
        );
        assert_eq!(&message.payload[..], b"hello");
    }

    #[test]
    fn headers_only_keeps_the_publishers_headers_and_counts_the_payload() {
        let rule = republisher(">", "h.>", true);
        let payload = Bytes::from_static(b"0123456789");
        let message =
            rule.and_then(|r| r.message(&stored("a", b"NATS/1.0\r\nX: y\r\n\r\n", &payload)));
        let message = message.unwrap_or_else(|| panic!("no message"));
        let text = String::from_utf8_lossy(&message.headers).to_string();
        assert!(
            text.starts_with("NATS/1.0\r\nX: y\r\nNats-Stream: RP\r\n"),
            "{text}"
        );
        assert!(text.ends_with("Nats-Msg-Size: 10\r\n\r\n"), "{text}");
        assert!(message.payload.is_empty());
    }

    #[test]
    fn only_matching_subjects_and_a_destination() {
        let payload = Bytes::new();
        let rule = republisher("rq.a", "outq", false);
        assert!(rule
            .as_ref()
            .and_then(|r| r.message(&stored("rq.b", b"", &payload)))
            .is_none());
        assert!(rule
            .and_then(|r| r.message(&stored("rq.a", b"", &payload)))
            .is_some());
        assert!(republisher("x.*", "", false).is_none());
    }
}
