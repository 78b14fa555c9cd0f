//! Per-message TTLs (`Nats-TTL`) and subject delete markers, as
//! nats-server reads and writes them (`parseMessageTTL` in
//! `server/stream.go`, `handleRemovalOrSdm` in `server/filestore.go`).

use super::headers::{self, header_value};

/// What the store is told for `Nats-TTL: never`: outlive `max_age` too.
pub const NEVER: i64 = -1;

const SECOND: i64 = 1_000_000_000;

/// `Nats-Marker-Reason`: why a marker stands where a subject's last message was.
pub const MARKER_REASON: &str = "Nats-Marker-Reason";
/// `KV-Operation` (a KV purge is a marker too).
pub const KV_OPERATION: &str = "KV-Operation";

/// The TTL a `Nats-TTL` value asks for, in nanoseconds for the store
/// ([`NEVER`] for `never`); None is 10165. nats-server's rules, measured
/// on 2.15.1: `never` (any case); a Go duration of at least 1 s, cut to
/// whole seconds (`1.5s` is 1 s, `500ms` and `0` are invalid); else a
/// plain integer of seconds (`-1` is invalid).
pub fn parse(value: &str) -> Option<i64> {
    if value.eq_ignore_ascii_case("never") {
        return Some(NEVER);
    }
    if let Some(nanos) = go_duration(value) {
        return (nanos >= SECOND).then_some(nanos / SECOND * SECOND);
    }
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seconds: i64 = value.parse().ok()?;
    if seconds == 0 {
        return None;
    }
    seconds.checked_mul(SECOND)
}

/// Go's `time.ParseDuration`, in nanoseconds; None when it is not one
/// (a bare number other than `0` needs a unit).
fn go_duration(text: &str) -> Option<i64> {
    let (negative, mut rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_end];
        if number.is_empty() || number == "." {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += value * scale;
    }
    if total > i64::MAX as f64 {
        return None;
    }
    let nanos = total as i64;
    Some(if negative { -nanos } else { nanos })
}

/// Whether `headers` make the message a marker already (a delete marker
/// or a KV purge): its removal leaves no new marker.
pub fn is_marker(block: &[u8]) -> bool {
    header_value(block, MARKER_REASON).is_some()
        || header_value(block, KV_OPERATION).is_some_and(|op| op == "PURGE")
}

/// The header block of the marker `max_age` or a TTL leaves for a
/// subject's last message, with the marker's own TTL (whole seconds, as
/// Go prints a duration: `1s`, `1m30s`, `1h0m0s`).
pub fn marker_headers(marker_ttl_nanos: i64) -> Vec<u8> {
    format!(
        "NATS/1.0\r\n{MARKER_REASON}: MaxAge\r\n{}: {}\r\n{}: sub\r\n\r\n",
        headers::TTL,
        go_seconds(marker_ttl_nanos / SECOND),
        headers::ROLLUP,
    )
    .into_bytes()
}

/// Whole seconds as Go's `Duration.String()` writes them (`1m30s`).
fn go_seconds(seconds: i64) -> String {
    crate::consumer::time::format_go_duration(seconds.saturating_mul(SECOND))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_as_measured_on_nats_server() {
        for (value, nanos) in [
            ("1", SECOND),
            ("5", 5 * SECOND),
            ("1s", SECOND),
            ("1.5s", SECOND),
            ("1m", 60 * SECOND),
            ("1h2m", 3720 * SECOND),
            ("never", NEVER),
            ("Never", NEVER),
        ] {
            assert_eq!(parse(value), Some(nanos), "{value}");
        }
        for value in ["0", "-1", "500ms", "abc", "1x", "-5s", "", "."] {
            assert_eq!(parse(value), None, "{value}");
        }
    }

    #[test]
    fn marker_headers_as_nats_server_writes_them() {
        assert_eq!(
            marker_headers(2 * SECOND),
            b"NATS/1.0\r\nNats-Marker-Reason: MaxAge\r\nNats-TTL: 2s\r\nNats-Rollup: sub\r\n\r\n"
        );
        assert_eq!(go_seconds(90), "1m30s");
        assert_eq!(go_seconds(3600), "1h0m0s");
        assert!(is_marker(&marker_headers(SECOND)));
        assert!(is_marker(b"NATS/1.0\r\nKV-Operation: PURGE\r\n\r\n"));
        assert!(!is_marker(b"NATS/1.0\r\nKV-Operation: DEL\r\n\r\n"));
    }
}
