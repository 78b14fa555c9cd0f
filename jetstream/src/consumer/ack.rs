//! Acknowledgements: the `$JS.ACK…` reply subject every delivery carries,
//! and the ack bodies clients publish to it (ADR-15, `server/consumer.go`
//! `processAck`).

use crate::consumer::pull::PullRequest;

/// The ack subject prefix.
pub const ACK_PREFIX: &str = "$JS.ACK.";

/// What a delivery's reply subject says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckReply {
    /// Stream name.
    pub stream: String,
    /// Consumer name.
    pub consumer: String,
    /// Delivery attempt, 1 for the first.
    pub delivery_count: u64,
    /// Stream sequence of the message.
    pub stream_seq: u64,
    /// Consumer sequence of this delivery.
    pub consumer_seq: u64,
    /// The message's store time, nanoseconds since the epoch.
    pub timestamp: i64,
    /// Messages still pending for the consumer after this one.
    pub pending: u64,
}

impl AckReply {
    /// The v1 subject nats-server sends by default (9 tokens):
    /// `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>`,
    /// the form async-nats's `parse_info` reads when it sees 7 tokens after
    /// the prefix.
    pub fn subject(&self) -> String {
        format!(
            "{ACK_PREFIX}{}.{}.{}.{}.{}.{}.{}",
            self.stream,
            self.consumer,
            self.delivery_count,
            self.stream_seq,
            self.consumer_seq,
            self.timestamp,
            self.pending
        )
    }

    /// Parse a v1 (7 tokens after the prefix) or v2 (`<domain>.<account
    /// hash>.` first, 9 or more tokens) ack subject. `None` if malformed.
    pub fn parse(subject: &str) -> Option<AckReply> {
        let rest = subject.strip_prefix(ACK_PREFIX)?;
        let tokens: Vec<&str> = rest.split('.').collect();
        let fields = match tokens.len() {
            7 => &tokens[..],
            n if n >= 9 => &tokens[2..9],
            _ => return None,
        };
        if fields[0].is_empty() || fields[1].is_empty() {
            return None;
        }
        Some(AckReply {
            stream: fields[0].to_string(),
            consumer: fields[1].to_string(),
            delivery_count: fields[2].parse().ok()?,
            stream_seq: fields[3].parse().ok()?,
            consumer_seq: fields[4].parse().ok()?,
            timestamp: fields[5].parse().ok()?,
            pending: fields[6].parse().ok()?,
        })
    }
}

/// What an ack body asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckKind {
    /// Empty, `+ACK` or `+OK`: acknowledged.
    Ack,
    /// `-NAK`, optionally with `{"delay":ns}` or a Go duration: redeliver
    /// (after the delay, nanoseconds).
    Nak {
        /// Redelivery delay in nanoseconds, 0 = at once.
        delay: i64,
    },
    /// `+WPI`: still working, restart the ack wait.
    Progress,
    /// `+NXT [request]`: acknowledged, and send more to the ack's reply subject.
    Next(PullRequest),
    /// `+TERM [reason]`: never redeliver.
    Term {
        /// The reason given, if any.
        reason: Option<String>,
    },
}

impl AckKind {
    /// Parse an ack body; `None` for a body nats-server ignores.
    pub fn parse(body: &[u8]) -> Option<AckKind> {
        if body.is_empty() || body == b"+ACK" || body == b"+OK" {
            return Some(AckKind::Ack);
        }
        if let Some(rest) = body.strip_prefix(b"+NXT") {
            let request = PullRequest::parse(rest).unwrap_or_default();
            return Some(AckKind::Next(request));
        }
        if let Some(rest) = body.strip_prefix(b"-NAK") {
            return Some(AckKind::Nak {
                delay: parse_nak_delay(rest),
            });
        }
        if body == b"+WPI" {
            return Some(AckKind::Progress);
        }
        if let Some(rest) = body.strip_prefix(b"+TERM") {
            let reason = String::from_utf8_lossy(rest).trim().to_string();
            return Some(AckKind::Term {
                reason: (!reason.is_empty()).then_some(reason),
            });
        }
        None
    }
}

/// The delay of a `-NAK`: `{"delay":<ns>}` (what clients send) or a Go
/// duration string (`5s`, `1m30s`); anything else means no delay.
fn parse_nak_delay(rest: &[u8]) -> i64 {
    let text = String::from_utf8_lossy(rest);
    let text = text.trim();
    if text.is_empty() {
        return 0;
    }
    if text.starts_with('{') {
        #[derive(serde::Deserialize)]
        struct NakDelay {
            #[serde(default)]
            delay: i64,
        }
        return serde_json::from_str::<NakDelay>(text)
            .map(|nak| nak.delay.max(0))
            .unwrap_or(0);
    }
    parse_go_duration(text).unwrap_or(0).max(0)
}

/// Parse a Go duration string (`300ms`, `1.5h`, `2h45m`) into nanoseconds.
pub fn parse_go_duration(text: &str) -> Option<i64> {
    let mut rest = text;
    let mut total: f64 = 0.0;
    if rest.is_empty() {
        return None;
    }
    if rest == "0" {
        return Some(0);
    }
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if number_len == 0 {
            return None;
        }
        let value: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * scale;
    }
    (total <= i64::MAX as f64).then_some(total as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply() -> AckReply {
        AckReply {
            stream: "ORDERS".into(),
            consumer: "C1".into(),
            delivery_count: 1,
            stream_seq: 1,
            consumer_seq: 1,
            timestamp: 1_796_285_879_591_163_660,
            pending: 0,
        }
    }

    #[test]
    fn v1_subject_matches_the_one_measured_from_nats_server() {
        assert_eq!(
            reply().subject(),
            "$JS.ACK.ORDERS.C1.1.1.1.1796285879591163660.0"
        );
        assert_eq!(AckReply::parse(&reply().subject()), Some(reply()));
    }

    #[test]
    fn v2_subject_with_domain_and_hash_parses() {
        let parsed =
            AckReply::parse("$JS.ACK.hub.ACCHASH.ORDERS.C1.1.1.1.1796285879591163660.0.tok");
        assert_eq!(parsed, Some(reply()));
    }

    #[test]
    fn malformed_subjects_are_refused() {
        for subject in [
            "$JS.ACK.ORDERS.C1.1.1.1.1",
            "$JS.ACK.ORDERS.C1.x.1.1.1.0",
            "$JS.ACK.ORDERS.C1.1.1.1.1.0.extra",
            "$JS.NOPE.ORDERS.C1.1.1.1.1.0",
            "$JS.ACK..C1.1.1.1.1.0",
        ] {
            assert_eq!(AckReply::parse(subject), None, "{subject}");
        }
    }

    #[test]
    fn ack_bodies() {
        assert_eq!(AckKind::parse(b""), Some(AckKind::Ack));
        assert_eq!(AckKind::parse(b"+ACK"), Some(AckKind::Ack));
        assert_eq!(AckKind::parse(b"+OK"), Some(AckKind::Ack));
        assert_eq!(AckKind::parse(b"-NAK"), Some(AckKind::Nak { delay: 0 }));
        assert_eq!(
            AckKind::parse(b"-NAK {\"delay\": 2000000000}"),
            Some(AckKind::Nak {
                delay: 2_000_000_000
            })
        );
        assert_eq!(
            AckKind::parse(b"-NAK 1m30s"),
            Some(AckKind::Nak {
                delay: 90_000_000_000
            })
        );
        assert_eq!(
            AckKind::parse(b"-NAK {bad json"),
            Some(AckKind::Nak { delay: 0 })
        );
        assert_eq!(AckKind::parse(b"+WPI"), Some(AckKind::Progress));
        assert_eq!(
            AckKind::parse(b"+TERM"),
            Some(AckKind::Term { reason: None })
        );
        assert_eq!(
            AckKind::parse(b"+TERM bad payload"),
            Some(AckKind::Term {
                reason: Some("bad payload".into())
            })
        );
        let Some(AckKind::Next(request)) = AckKind::parse(b"+NXT {\"batch\":5}") else {
            panic!("+NXT not parsed");
        };
        assert_eq!(request.batch, 5);
        let Some(AckKind::Next(request)) = AckKind::parse(b"+NXT") else {
            panic!("+NXT not parsed");
        };
        assert_eq!(request.batch, 1);
        assert_eq!(AckKind::parse(b"whatever"), None);
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("300ms"), Some(300_000_000));
        assert_eq!(parse_go_duration("1.5h"), Some(5_400_000_000_000));
        assert_eq!(parse_go_duration("2h45m"), Some(9_900_000_000_000));
        assert_eq!(parse_go_duration("5"), None);
        assert_eq!(parse_go_duration("s"), None);
    }
}
