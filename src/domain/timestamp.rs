//! Instants in UTC with millisecond precision: parsed from RFC 3339 text with an offset,
//! printed as `YYYY-MM-DDTHH:MM:SS.sssZ`, stored as milliseconds since the Unix epoch.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Datelike as _, Local, SecondsFormat, Timelike as _, Utc};
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

impl Timestamp {
    /// `YYYY-MM-DDTHH:MM:SS.sssZ` for the years 0 to 9999, written digit by digit: every order
    /// in every response prints three of these, and chrono's general RFC 3339 writer was 5 %
    /// of the server's instructions for `GET /orders/{id}`. `None` for other years.
    fn four_digit_year_text(self) -> Option<[u8; 24]> {
        let at = self.to_utc();
        let year = u32::try_from(at.year()).ok().filter(|year| *year <= 9999)?;
        let mut text = *b"0000-00-00T00:00:00.000Z";
        let mut put = |at: usize, width: usize, mut value: u32| {
            for i in (at..at + width).rev() {
                text[i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        put(0, 4, year);
        put(5, 2, at.month());
        put(8, 2, at.day());
        put(11, 2, at.hour());
        put(14, 2, at.minute());
        put(17, 2, at.second());
        put(20, 3, at.timestamp_subsec_millis().min(999));
        Some(text)
    }
}

impl fmt::Display for Timestamp {
    /// `YYYY-MM-DDTHH:MM:SS.sssZ`; years past 9999 or before 0 as chrono writes them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.four_digit_year_text() {
            Some(text) => f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?),
            None => f.write_str(&self.to_utc().to_rfc3339_opts(SecondsFormat::Millis, true)),
        }
    }
}

impl Serialize for Timestamp {
    /// The [`Display`](fmt::Display) text, handed to the serializer as one string: through
    /// `collect_str` serde_json ran it through a `fmt::Write` adaptor instead.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.four_digit_year_text().as_ref().map(|text| std::str::from_utf8(text)) {
            Some(Ok(text)) => serializer.serialize_str(text),
            _ => serializer.collect_str(self),
        }
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
    fn instants_print_as_chrono_prints_them_from_year_0_to_9999_and_beyond() {
        for text in [
            "0000-01-01T00:00:00.000Z",
            "0999-12-31T23:59:59.999Z",
            "1969-12-31T23:59:59.999Z",
            "1970-01-01T00:00:00.000Z",
            "2024-02-29T12:34:56.789Z",
            "9999-12-31T23:59:59.999Z",
        ] {
            assert_eq!(Timestamp::parse(text).unwrap().to_string(), text);
        }
        for millis in [-62_167_219_200_001, 253_402_300_800_000, i64::from(i32::MAX) * 1000 + 7, -1, 0, 1] {
            let at = Timestamp::from_millis(millis);
            assert_eq!(at.to_string(), at.to_utc().to_rfc3339_opts(SecondsFormat::Millis, true), "{millis}");
            assert_eq!(serde_json::to_string(&at).unwrap(), format!("\"{at}\""), "{millis}");
        }
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
