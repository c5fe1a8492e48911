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
