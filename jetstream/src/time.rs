//! RFC 3339 timestamps with nanoseconds, UTC, as the JetStream API writes
//! them (`2026-12-07T14:20:00.123456789Z`). Time values are nanoseconds
//! since the Unix epoch; 0 is Go's zero time, which nats-server prints for
//! "never" (e.g. `first_ts` of an empty stream).

/// Go's zero `time.Time`, what nats-server writes for an unset timestamp.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// `nanos` since the epoch as RFC 3339 with nanoseconds; 0 (and negative
/// values, which the server never produces) give [`ZERO_TIME`].
pub fn rfc3339_nanos(nanos: i64) -> String {
    if nanos <= 0 {
        return ZERO_TIME.to_string();
    }
    let seconds = nanos / 1_000_000_000;
    let fraction = nanos % 1_000_000_000;
    let days = seconds / 86_400;
    let second_of_day = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second) = (
        second_of_day / 3600,
        (second_of_day % 3600) / 60,
        second_of_day % 60,
    );
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{fraction:09}Z")
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`); shared with the consumer's
/// Go-style timestamps (`consumer::time`).
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339_nanos(0), ZERO_TIME);
        assert_eq!(rfc3339_nanos(1), "1970-01-01T00:00:00.000000001Z");
        // 2000-02-29T12:34:56.5Z (a leap day).
        assert_eq!(
            rfc3339_nanos(951_827_696_500_000_000),
            "2000-02-29T12:34:56.500000000Z"
        );
        // 2026-12-31T23:59:59Z.
        assert_eq!(
            rfc3339_nanos(1_798_761_599_000_000_000),
            "2026-12-31T23:59:59.000000000Z"
        );
    }
}
