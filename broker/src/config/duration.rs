//! Go's `time.ParseDuration` and `time.Duration.String`, which nats-server
//! uses for every duration option (`"30s"`, `"1m30s"`, `"500ms"`, `"2h"`),
//! so Starling accepts and prints exactly the same forms.

use std::fmt::Write;
use std::time::Duration;

const NANOS_PER_SECOND: u128 = 1_000_000_000;

/// Parses a Go duration into signed nanoseconds. The error text follows Go's
/// (`time: invalid duration "x"`).
pub(crate) fn parse_go_duration(text: &str) -> Result<i128, String> {
    let invalid = || format!("time: invalid duration \"{text}\"");
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let integer_digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let integer: i128 = if integer_digits == 0 {
            0
        } else {
            rest[..integer_digits].parse().map_err(|_| invalid())?
        };
        rest = &rest[integer_digits..];
        let mut fraction: i128 = 0;
        let mut scale: i128 = 1;
        let mut fraction_digits = 0;
        if let Some(after_dot) = rest.strip_prefix('.') {
            fraction_digits = after_dot.bytes().take_while(u8::is_ascii_digit).count();
            for digit in after_dot[..fraction_digits].bytes().take(18) {
                fraction = fraction * 10 + i128::from(digit - b'0');
                scale *= 10;
            }
            rest = &after_dot[fraction_digits..];
        }
        if integer_digits == 0 && fraction_digits == 0 {
            return Err(invalid());
        }
        let unit_length = rest
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_length];
        rest = &rest[unit_length..];
        let unit_nanos: i128 = match unit {
            "" => return Err(format!("time: missing unit in duration \"{text}\"")),
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3_600 * 1_000_000_000,
            other => {
                return Err(format!(
                    "time: unknown unit \"{other}\" in duration \"{text}\""
                ))
            }
        };
        // An integer of up to 39 digits parses, so its product with the
        // unit can overflow even i128 (found by fuzzing): Go calls any
        // overflow an invalid duration. The fraction has at most 18 digits.
        total = integer
            .checked_mul(unit_nanos)
            .and_then(|nanos| nanos.checked_add(fraction * unit_nanos / scale))
            .and_then(|nanos| total.checked_add(nanos))
            .ok_or_else(invalid)?;
        if total > i128::from(i64::MAX) {
            return Err(invalid());
        }
    }
    Ok(if negative { -total } else { total })
}

/// Formats like Go's `Duration.String`: `0s`, `500ms`, `10s`, `1m30s`, `2h0m0s`.
pub(crate) fn format_go_duration(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", decimal(nanos, 1_000));
    }
    if nanos < NANOS_PER_SECOND {
        return format!("{}ms", decimal(nanos, 1_000_000));
    }
    let whole_seconds = nanos / NANOS_PER_SECOND;
    let hours = whole_seconds / 3_600;
    let minutes = whole_seconds % 3_600 / 60;
    let seconds = decimal(nanos % (60 * NANOS_PER_SECOND), NANOS_PER_SECOND);
    let mut text = String::new();
    if hours > 0 {
        let _ = write!(text, "{hours}h");
    }
    if hours > 0 || minutes > 0 {
        let _ = write!(text, "{minutes}m");
    }
    text.push_str(&seconds);
    text.push('s');
    text
}

/// `value / unit` with the fraction's trailing zeros removed.
fn decimal(value: u128, unit: u128) -> String {
    let whole = value / unit;
    let fraction = value % unit;
    if fraction == 0 {
        return whole.to_string();
    }
    let width = unit.to_string().len() - 1;
    let digits = format!("{fraction:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i128 = 1_000_000_000;

    #[test]
    fn parses_go_duration_forms() {
        let cases = [
            ("0", 0),
            ("30s", 30 * SECOND),
            ("2m", 120 * SECOND),
            ("1h", 3600 * SECOND),
            ("1m30s", 90 * SECOND),
            ("500ms", SECOND / 2),
            ("1.5s", 3 * SECOND / 2),
            (".5s", SECOND / 2),
            ("1h2m3s4ms5us6ns", 3723 * SECOND + 4_005_006),
            ("10µs", 10_000),
            ("-1m", -60 * SECOND),
            ("+2s", 2 * SECOND),
        ];
        for (text, nanos) in cases {
            assert_eq!(parse_go_duration(text), Ok(nanos), "{text}");
        }
    }

    #[test]
    fn rejects_what_go_rejects() {
        assert_eq!(
            parse_go_duration("10"),
            Err("time: missing unit in duration \"10\"".into())
        );
        assert_eq!(
            parse_go_duration("10x"),
            Err("time: unknown unit \"x\" in duration \"10x\"".into())
        );
        for text in ["", "-", "s", ".s", "abc", "1.5.5s", "99999999999h"] {
            assert!(parse_go_duration(text).is_err(), "{text}");
        }
    }

    #[test]
    fn integer_overflowing_i128_times_unit_is_invalid_not_a_panic() {
        // From the config_parser fuzz target: 34 digits times 1e9 overflows
        // i128 (a panic with overflow checks, a wrapped value without).
        let text = "3099999999999999999999999999999999s";
        assert_eq!(
            parse_go_duration(text),
            Err(format!("time: invalid duration \"{text}\""))
        );
        let largest = "39999999999999999999999999999999999999h";
        assert!(parse_go_duration(largest).is_err());
    }

    #[test]
    fn formats_like_go() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(15), "15ns"),
            (Duration::from_micros(1500), "1.5ms"),
            (Duration::from_millis(500), "500ms"),
            (Duration::from_secs(10), "10s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(120), "2m0s"),
            (Duration::from_secs(7200), "2h0m0s"),
            (Duration::from_secs(3723), "1h2m3s"),
        ];
        for (duration, text) in cases {
            assert_eq!(format_go_duration(duration), text);
        }
    }
}
