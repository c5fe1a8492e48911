//! Timestamps in PocketBase's text form: `2024-01-31 12:34:56.789Z` (UTC, milliseconds).

use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;

const FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:3]Z");

pub fn format(t: OffsetDateTime) -> String {
    // The format has no fallible parts for a UTC time; keep a readable fallback regardless.
    t.format(FORMAT).unwrap_or_else(|_| t.to_string())
}

pub fn now() -> String {
    format(OffsetDateTime::now_utc())
}

pub fn unix_seconds() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

pub fn unix_micros() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000) as i64
}

/// Parses the date forms PocketBase accepts: its own `2006-01-02 15:04:05.000Z`, RFC 3339
/// (`T` separator, any offset), and a bare `2006-01-02`. Returned in UTC.
pub fn parse(s: &str) -> Option<OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    use time::{Date, PrimitiveDateTime, UtcOffset};

    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.to_offset(UtcOffset::UTC));
    }
    let normalized = s.replacen(' ', "T", 1);
    if let Ok(t) = OffsetDateTime::parse(&normalized, &Rfc3339) {
        return Some(t.to_offset(UtcOffset::UTC));
    }
    let naive = normalized.trim_end_matches('Z');
    let with_fraction =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond]");
    let without = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    for fmt in [with_fraction, without] {
        if let Ok(t) = PrimitiveDateTime::parse(naive, fmt) {
            return Some(t.assume_utc());
        }
    }
    Date::parse(s, format_description!("[year]-[month]-[day]"))
        .ok()
        .map(|d| d.midnight().assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_forms_into_pocketbase_format() {
        let cases = [
            ("2024-01-31 12:34:56.789Z", "2024-01-31 12:34:56.789Z"),
            ("2024-01-31T12:34:56Z", "2024-01-31 12:34:56.000Z"),
            ("2024-01-31T14:34:56+02:00", "2024-01-31 12:34:56.000Z"),
            ("2024-01-31 12:34:56", "2024-01-31 12:34:56.000Z"),
            ("2024-01-31", "2024-01-31 00:00:00.000Z"),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input).map(format).as_deref(), Some(want), "{input}");
        }
        assert_eq!(parse("yesterday"), None);
    }
}
