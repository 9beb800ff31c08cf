//! Instants in UTC with millisecond precision: parsed from RFC 3339 text with an offset,
//! printed as `YYYY-MM-DDTHH:MM:SS.sssZ`, stored as milliseconds since the Unix epoch.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Local, SecondsFormat, Utc};
use serde::{Serialize, Serializer};

/// A UTC instant, truncated to the millisecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The instant `millis` milliseconds after 1970-01-01T00:00:00Z.
    pub const fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the Unix epoch (the stored form).
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// The current instant, truncated to the millisecond.
    pub fn now() -> Self {
        Self(Utc::now().timestamp_millis())
    }

    /// Parses RFC 3339 text with an offset (`Z` or `+hh:mm`); finer digits than milliseconds are
    /// truncated.
    ///
    /// # Errors
    /// A message naming the expected form when the text is anything else.
    pub fn parse(text: &str) -> Result<Self, String> {
        DateTime::parse_from_rfc3339(text.trim()).map(|at| Self(at.timestamp_millis())).map_err(|_| {
            format!("must be an RFC 3339 timestamp with an offset, like 2022-11-01T11:11:11.111Z, not {text:?}")
        })
    }

    /// The instant as a chrono UTC date-time.
    pub fn to_utc(self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.0).unwrap_or_default()
    }

    /// The instant in the machine's local time zone, for people.
    pub fn to_local(self) -> DateTime<Local> {
        self.to_utc().with_timezone(&Local)
    }

    /// The distance between two instants.
    pub fn distance(self, other: Self) -> Duration {
        Duration::from_millis(self.0.abs_diff(other.0))
    }
}

impl FromStr for Timestamp {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_utc().to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_converted_to_utc_and_printed_with_milliseconds() {
        let at = Timestamp::parse("2022-11-01T13:11:11.111+02:00").unwrap();
        assert_eq!(at.to_string(), "2022-11-01T11:11:11.111Z");
        assert_eq!(Timestamp::parse("2022-11-01T11:11:11Z").unwrap().to_string(), "2022-11-01T11:11:11.000Z");
    }

    #[test]
    fn finer_digits_are_truncated_not_rounded() {
        let at = Timestamp::parse("2022-11-01T11:11:11.111999Z").unwrap();
        assert_eq!(at.to_string(), "2022-11-01T11:11:11.111Z");
        let before_epoch = Timestamp::parse("1969-12-31T23:59:59.9999Z").unwrap();
        assert_eq!(before_epoch.to_string(), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn text_without_an_offset_or_date_is_refused() {
        for bad in ["2022-11-01T11:11:11", "2022-11-01", "yesterday", "", "2022-13-01T00:00:00Z"] {
            assert!(Timestamp::parse(bad).is_err(), "{bad:?}");
        }
    }
}
