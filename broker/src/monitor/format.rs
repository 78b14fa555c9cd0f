//! Times, durations and numbers written the way nats-server (Go) writes them,
//! so tools parsing its JSON read ours unchanged.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serializer;

const NANOS_PER_SECOND: u128 = 1_000_000_000;
const NANOS_PER_MINUTE: u128 = 60 * NANOS_PER_SECOND;

/// A wall-clock time as Go's `time.Time` marshals it in UTC (RFC 3339 with
/// nanoseconds, trailing zeros trimmed): `2026-11-27T09:00:00.123456789Z`.
/// Times before 1970 are written as the epoch.
pub fn rfc3339(time: SystemTime) -> String {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since_epoch.as_secs();
    let (year, month, day) = civil_from_days(seconds / 86_400);
    let second_of_day = seconds % 86_400;
    let (hour, minute, second) = (
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
    );
    let fraction = fraction(u128::from(since_epoch.subsec_nanos()), 9);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{fraction}Z")
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (H. Hinnant's `civil_from_days`, for non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let shifted = days + 719_468; // days since 0000-03-01
    let era = shifted / 146_097;
    let day_of_era = shifted % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153; // 0 = March
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// `.ddd` for `value` out of `10^digits`, trailing zeros trimmed; empty
/// when the fraction is zero.
fn fraction(value: u128, digits: u32) -> String {
    let scale = 10u128.pow(digits);
    let mut part = value % scale;
    if part == 0 {
        return String::new();
    }
    let mut width = digits as usize;
    while part.is_multiple_of(10) {
        part /= 10;
        width -= 1;
    }
    format!(".{part:0width$}")
}

/// An uptime or idle time as nats-server's `myUptime` writes it: whole
/// seconds, largest unit first: `3s`, `1m2s`, `1h2m3s`, `2d3h4m5s`, `1y2d3h4m5s`.
pub fn uptime(duration: Duration) -> String {
    let total_seconds = duration.as_secs();
    let (total_minutes, total_hours) = (total_seconds / 60, total_seconds / 3600);
    let (total_days, years) = (total_hours / 24, total_hours / 24 / 365);
    let (seconds, minutes, hours, days) = (
        total_seconds % 60,
        total_minutes % 60,
        total_hours % 24,
        total_days % 365,
    );
    if years > 0 {
        format!("{years}y{days}d{hours}h{minutes}m{seconds}s")
    } else if total_days > 0 {
        format!("{total_days}d{hours}h{minutes}m{seconds}s")
    } else if total_hours > 0 {
        format!("{total_hours}h{minutes}m{seconds}s")
    } else if total_minutes > 0 {
        format!("{total_minutes}m{seconds}s")
    } else {
        format!("{seconds}s")
    }
}

/// A duration as Go's `time.Duration.String` writes it: `0s`, `800ns`,
/// `95µs`, `1.234ms`, `2.5s`, `1m0.5s`, `1h2m3s`.
pub fn go_duration(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}{}µs", nanos / 1_000, fraction(nanos, 3));
    }
    if nanos < NANOS_PER_SECOND {
        return format!("{}{}ms", nanos / 1_000_000, fraction(nanos, 6));
    }
    let within_minute = nanos % NANOS_PER_MINUTE;
    let seconds = format!(
        "{}{}s",
        within_minute / NANOS_PER_SECOND,
        fraction(within_minute, 9)
    );
    let total_minutes = nanos / NANOS_PER_MINUTE;
    match (total_minutes / 60, total_minutes % 60) {
        (0, 0) => seconds,
        (0, minutes) => format!("{minutes}m{seconds}"),
        (hours, minutes) => format!("{hours}h{minutes}m{seconds}"),
    }
}

/// A round-trip time as nats-server reports it (`client.getRTT`): truncated
/// to whole microseconds between 1µs and 1ms, then as a Go duration.
pub fn rtt(nanos: u64) -> String {
    let nanos = if nanos > 1_000 && nanos < 1_000_000 {
        nanos - nanos % 1_000
    } else {
        nanos
    };
    go_duration(Duration::from_nanos(nanos))
}

/// Nanoseconds in `duration`, as nats-server writes a `time.Duration` field.
pub fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// Milliseconds since the Unix epoch back to a `SystemTime`.
pub fn from_millis(millis: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(millis)
}

/// Serialize a float as Go's encoder does: integral values without a
/// fraction (`2`, not serde_json's `2.0`).
pub fn go_float<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0; // 2^53
    if value.is_finite() && value.fract() == 0.0 && value.abs() < EXACT_INTEGER_LIMIT {
        serializer.serialize_i64(*value as i64)
    } else {
        serializer.serialize_f64(*value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_go_rfc3339nano() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let time = UNIX_EPOCH + Duration::new(1_795_770_000, 123_456_789);
        assert_eq!(rfc3339(time), "2026-11-27T09:00:00.123456789Z");
        let time = UNIX_EPOCH + Duration::new(951_782_400, 500_000_000);
        assert_eq!(rfc3339(time), "2000-02-29T00:00:00.5Z");
        let time = UNIX_EPOCH + Duration::new(4_107_542_399, 40_000);
        assert_eq!(rfc3339(time), "2100-02-28T23:59:59.00004Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH - Duration::from_secs(5)),
            "1970-01-01T00:00:00Z"
        );
    }

    #[test]
    fn uptime_matches_nats_server_my_uptime() {
        let cases = [
            (0, "0s"),
            (3, "3s"),
            (62, "1m2s"),
            (3600, "1h0m0s"),
            (3723, "1h2m3s"),
            (2 * 86_400 + 3 * 3600 + 4 * 60 + 5, "2d3h4m5s"),
            (367 * 86_400 + 3600, "1y2d1h0m0s"),
        ];
        for (seconds, expected) in cases {
            assert_eq!(uptime(Duration::from_secs(seconds)), expected, "{seconds}s");
        }
        assert_eq!(uptime(Duration::from_millis(2_999)), "2s");
    }

    #[test]
    fn go_duration_matches_go_duration_string() {
        let cases = [
            (0, "0s"),
            (800, "800ns"),
            (1_000, "1µs"),
            (95_000, "95µs"),
            (1_500, "1.5µs"),
            (1_234_000, "1.234ms"),
            (1_000_000, "1ms"),
            (2_500_000_000, "2.5s"),
            (60_000_000_000, "1m0s"),
            (60_500_000_000, "1m0.5s"),
            (3_723_000_000_000, "1h2m3s"),
            (90_000_000_000_000, "25h0m0s"),
        ];
        for (nanos, expected) in cases {
            assert_eq!(
                go_duration(Duration::from_nanos(nanos)),
                expected,
                "{nanos}ns"
            );
        }
    }

    #[test]
    fn rtt_truncates_to_microseconds_below_a_millisecond() {
        assert_eq!(rtt(0), "0s");
        assert_eq!(rtt(95_123), "95µs");
        assert_eq!(rtt(1_234_567), "1.234567ms");
        assert_eq!(rtt(999), "999ns");
    }

    #[test]
    fn go_float_drops_the_fraction_of_integral_values() {
        let render = |value: f64| {
            let mut out = Vec::new();
            let mut serializer = serde_json::Serializer::new(&mut out);
            go_float(&value, &mut serializer).map(|_| String::from_utf8_lossy(&out).to_string())
        };
        assert_eq!(render(2.0).ok().as_deref(), Some("2"));
        assert_eq!(render(0.0).ok().as_deref(), Some("0"));
        assert_eq!(render(0.5).ok().as_deref(), Some("0.5"));
        assert_eq!(render(12.3).ok().as_deref(), Some("12.3"));
    }
}
