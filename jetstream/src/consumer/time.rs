//! Times on the wire: RFC 3339 with nanoseconds, UTC, as Go's
//! `time.RFC3339Nano` writes them (trailing fraction zeros trimmed).
//!
//! Internally every time is `i64` nanoseconds since the Unix epoch, the
//! store's unit, so no date library is needed.

use crate::time::civil_from_days;

const NANOS_PER_SECOND: i64 = 1_000_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

/// Format nanoseconds since the epoch as `2006-01-02T15:04:05.999999999Z`.
pub fn format_rfc3339(nanos: i64) -> String {
    let seconds = nanos.div_euclid(NANOS_PER_SECOND);
    let fraction = nanos.rem_euclid(NANOS_PER_SECOND);
    let days = seconds.div_euclid(SECONDS_PER_DAY);
    let second_of_day = seconds.rem_euclid(SECONDS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let mut text = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    );
    if fraction != 0 {
        let digits = format!("{fraction:09}");
        text.push('.');
        text.push_str(digits.trim_end_matches('0'));
    }
    text.push('Z');
    text
}

/// Parse an RFC 3339 time (`Z` or a `±hh:mm` offset, optional fraction of
/// up to 9 digits) into nanoseconds since the epoch.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() < 20 || bytes[4] != b'-' || bytes[7] != b'-' || bytes[13] != b':' {
        return None;
    }
    if !matches!(bytes[10], b'T' | b't' | b' ') || bytes[16] != b':' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        if !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut fraction = 0i64;
    if let Some(after_dot) = rest.strip_prefix('.') {
        let digits = after_dot.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        let value: i64 = after_dot[..digits].parse().ok()?;
        fraction = value * 10i64.pow(9 - digits as u32);
        rest = &after_dot[digits..];
    }
    let offset_seconds = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            if rest.len() != 6 || rest.as_bytes()[3] != b':' {
                return None;
            }
            let hours: i64 = rest.get(1..3)?.parse().ok()?;
            let minutes: i64 = rest.get(4..6)?.parse().ok()?;
            sign * (hours * 3600 + minutes * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second - offset_seconds;
    seconds.checked_mul(NANOS_PER_SECOND)?.checked_add(fraction)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Format a duration as Go's `time.Duration.String()` does (`1.5s`, `200ms`,
/// `1m30s`): nats-server puts it in some status descriptions.
pub fn format_go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_string();
    }
    let negative = nanos < 0;
    let magnitude = nanos.unsigned_abs();
    let sign = if negative { "-" } else { "" };
    let text = if magnitude < 1_000 {
        format!("{magnitude}ns")
    } else if magnitude < 1_000_000 {
        format!("{}µs", trim_fraction(magnitude, 1_000))
    } else if magnitude < 1_000_000_000 {
        format!("{}ms", trim_fraction(magnitude, 1_000_000))
    } else {
        let total_seconds = magnitude / 1_000_000_000;
        let hours = total_seconds / 3600;
        let minutes = total_seconds / 60 % 60;
        let seconds_nanos = magnitude % 60_000_000_000;
        let seconds = trim_fraction(seconds_nanos, 1_000_000_000);
        if hours > 0 {
            format!("{hours}h{minutes}m{seconds}s")
        } else if minutes > 0 {
            format!("{minutes}m{seconds}s")
        } else {
            format!("{seconds}s")
        }
    };
    format!("{sign}{text}")
}

/// `value / unit` with the remainder as a trimmed decimal fraction.
fn trim_fraction(value: u64, unit: u64) -> String {
    let whole = value / unit;
    let remainder = value % unit;
    if remainder == 0 {
        return whole.to_string();
    }
    let width = unit.ilog10() as usize;
    let digits = format!("{remainder:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// Serde for an `i64` nanosecond time as an RFC 3339 string.
pub mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serialize as RFC 3339.
    pub fn serialize<S: Serializer>(nanos: &i64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format_rfc3339(*nanos))
    }

    /// Deserialize from RFC 3339.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::parse_rfc3339(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid RFC 3339 time {text:?}")))
    }
}

/// Serde for an optional `i64` nanosecond time (absent or `null` = none).
pub mod rfc3339_option {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serialize as RFC 3339 (callers skip `None`).
    pub fn serialize<S: Serializer>(nanos: &Option<i64>, serializer: S) -> Result<S::Ok, S::Error> {
        match nanos {
            Some(nanos) => serializer.serialize_str(&super::format_rfc3339(*nanos)),
            None => serializer.serialize_none(),
        }
    }

    /// Deserialize from RFC 3339 or `null`.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<i64>, D::Error> {
        match Option::<String>::deserialize(deserializer)? {
            None => Ok(None),
            Some(text) => super::parse_rfc3339(&text)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom(format!("invalid RFC 3339 time {text:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go_rfc3339_nano() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_rfc3339(1_796_285_879_591_163_660),
            "2026-12-03T08:17:59.59116366Z"
        );
        assert_eq!(format_rfc3339(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(
            format_rfc3339(951_782_400_000_000_000),
            "2000-02-29T00:00:00Z"
        );
    }

    #[test]
    fn parses_what_it_formats_and_offsets() {
        for nanos in [0, 1, 1_796_285_879_591_163_660, -1, 951_782_400_500_000_000] {
            assert_eq!(parse_rfc3339(&format_rfc3339(nanos)), Some(nanos));
        }
        assert_eq!(
            parse_rfc3339("1970-01-01T01:00:00+01:00"),
            Some(0),
            "an offset is subtracted"
        );
        assert_eq!(
            parse_rfc3339("0001-01-01T00:00:00Z"),
            None,
            "outside i64 nanoseconds"
        );
        assert_eq!(parse_rfc3339("1970-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00"), None);
        assert_eq!(parse_rfc3339("garbage"), None);
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00.Z"), None);
    }

    #[test]
    fn go_duration_strings() {
        assert_eq!(format_go_duration(1_000_000_000), "1s");
        assert_eq!(format_go_duration(1_500_000_000), "1.5s");
        assert_eq!(format_go_duration(200_000_000), "200ms");
        assert_eq!(format_go_duration(90_000_000_000), "1m30s");
        assert_eq!(format_go_duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(format_go_duration(1_500), "1.5µs");
        assert_eq!(format_go_duration(0), "0s");
    }
}
