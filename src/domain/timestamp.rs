//! Instants in UTC with millisecond precision: parsed from RFC 3339 text with an offset,
//! printed as `YYYY-MM-DDTHH:MM:SS.sssZ`, stored as milliseconds since the Unix epoch.
//!
//! Every instant input can make lies in [`Timestamp::MIN`] … [`Timestamp::MAX`] (years
//! 0001–9999 in UTC, after the offset is applied): those are the instants that print as RFC
//! 3339, so whatever is accepted prints, exports and imports again. Leap seconds (`:60`) are
//! refused: a stored instant is milliseconds on a clock without them.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Local, SecondsFormat, TimeZone, Timelike as _, Utc};
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

    /// The earliest instant input may give: 0001-01-01T00:00:00.000Z.
    pub const MIN: Self = Self(-62_135_596_800_000);

    /// The latest instant input may give: 9999-12-31T23:59:59.999Z.
    pub const MAX: Self = Self(253_402_300_799_999);

    /// Parses RFC 3339 text with an offset (`Z` or `+hh:mm`); finer digits than milliseconds are
    /// truncated.
    ///
    /// # Errors
    /// A message naming the expected form when the text is anything else, a leap second, or
    /// an instant outside [`Timestamp::MIN`] … [`Timestamp::MAX`] once its offset is applied.
    pub fn parse(text: &str) -> Result<Self, String> {
        Self::from_datetime(&rfc3339(text)?, text)
    }

    /// Parses a filter's bound like [`Timestamp::parse`], but an instant between two
    /// milliseconds rounds up: stored instants are whole milliseconds, so `[from, to)` then
    /// keeps exactly those in the range (`to = ….1115Z` keeps an order at `.111`).
    ///
    /// # Errors
    /// As [`Timestamp::parse`].
    pub fn parse_bound(text: &str) -> Result<Self, String> {
        let at = rfc3339(text)?;
        let start = Self::from_datetime(&at, text)?;
        let between = at.timestamp_subsec_nanos() % 1_000_000 != 0;
        // MAX + 1 ms at most: a bound just past every instant, far from overflowing.
        Ok(Self(start.0 + i64::from(between)))
    }

    /// The instant a date-time read from `text` names (in any zone), truncated to the
    /// millisecond, when it is no leap second and lies in [`Timestamp::MIN`] …
    /// [`Timestamp::MAX`].
    ///
    /// # Errors
    /// A message naming the reason and `text` otherwise.
    pub fn from_datetime<Tz: TimeZone>(at: &DateTime<Tz>, text: &str) -> Result<Self, String> {
        // chrono keeps a leap second as a 60th second whose nanoseconds pass a billion.
        if at.nanosecond() >= 1_000_000_000 {
            return Err(format!("must not be a leap second (second 60), not {text:?}"));
        }
        let millis = at.timestamp_millis();
        if (Self::MIN.0..=Self::MAX.0).contains(&millis) {
            Ok(Self(millis))
        } else {
            Err(format!("must be from {} to {} in UTC, not {text:?}", Self::MIN, Self::MAX))
        }
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

/// RFC 3339 text with an offset, or the message naming the expected form.
fn rfc3339(text: &str) -> Result<DateTime<FixedOffset>, String> {
    DateTime::parse_from_rfc3339(text.trim()).map_err(|_| {
        format!("must be an RFC 3339 timestamp with an offset, like 2022-11-01T11:11:11.111Z, not {text:?}")
    })
}

impl FromStr for Timestamp {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Timestamp {
    /// `YYYY-MM-DDTHH:MM:SS.sssZ` for the years 0 to 9999, written digit by digit: every order
    /// in every response prints three of these. chrono's general RFC 3339 writer was 5 % of
    /// the server's instructions for `GET /orders/{id}`, and its calendar fields still ~500
    /// instructions a timestamp; [`civil_from_days`] is a few dozen. `None` for other years.
    fn four_digit_year_text(self) -> Option<[u8; 24]> {
        const MILLIS_PER_DAY: i64 = 86_400_000;
        let (year, month, day) = civil_from_days(self.0.div_euclid(MILLIS_PER_DAY));
        let year = u32::try_from(year).ok().filter(|year| *year <= 9999)?;
        // In 0..86_400_000: fits.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let millis = self.0.rem_euclid(MILLIS_PER_DAY) as u32;
        let mut text = *b"0000-00-00T00:00:00.000Z";
        let mut put = |at: usize, width: usize, mut value: u32| {
            for i in (at..at + width).rev() {
                text[i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        put(0, 4, year);
        put(5, 2, month);
        put(8, 2, day);
        put(11, 2, millis / 3_600_000);
        put(14, 2, millis / 60_000 % 60);
        put(17, 2, millis / 1000 % 60);
        put(20, 3, millis % 1000);
        Some(text)
    }
}

/// The proleptic Gregorian (year, month, day) of a day counted from 1970-01-01: Howard
/// Hinnant's `civil_from_days` (<https://howardhinnant.github.io/date_algorithms.html>), which
/// counts in 400-year eras of 146,097 days starting on March 1st.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // month and day are small
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468; // from 0000-03-01
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 } as u32;
    (year_of_era + era * 400 + i64::from(month <= 2), month, day)
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
    use chrono::{Datelike as _, NaiveDate, NaiveTime};
    use proptest::prelude::*;

    #[test]
    fn a_bound_between_two_milliseconds_rounds_up_and_a_whole_one_stays() {
        let at = |text| Timestamp::parse_bound(text).unwrap().millis();
        let base = Timestamp::parse("2022-11-01T11:11:11.111Z").unwrap().millis();
        assert_eq!(at("2022-11-01T11:11:11.111Z"), base);
        assert_eq!(at("2022-11-01T11:11:11.111000Z"), base);
        assert_eq!(at("2022-11-01T11:11:11.1105Z"), base);
        assert_eq!(at("2022-11-01T11:11:11.1110001Z"), base + 1);
        assert_eq!(at("2022-11-01T13:11:11.1115+02:00"), base + 1);
        assert!(Timestamp::parse_bound("soon").is_err());
    }

    #[test]
    fn offsets_are_converted_to_utc_and_printed_with_milliseconds() {
        let at = Timestamp::parse("2022-11-01T13:11:11.111+02:00").unwrap();
        assert_eq!(at.to_string(), "2022-11-01T11:11:11.111Z");
        assert_eq!(Timestamp::parse("2022-11-01T11:11:11Z").unwrap().to_string(), "2022-11-01T11:11:11.000Z");
    }

    #[test]
    fn instants_print_as_chrono_prints_them_from_year_0_to_9999_and_beyond() {
        for text in [
            "0001-01-01T00:00:00.000Z",
            "0999-12-31T23:59:59.999Z",
            "1969-12-31T23:59:59.999Z",
            "1970-01-01T00:00:00.000Z",
            "2024-02-29T12:34:56.789Z",
            "9999-12-31T23:59:59.999Z",
        ] {
            assert_eq!(Timestamp::parse(text).unwrap().to_string(), text);
        }
        // Stored instants outside the input range (typed into the database by hand) still print.
        for millis in [-62_167_219_200_001, 253_402_300_800_000, i64::from(i32::MAX) * 1000 + 7, -1, 0, 1] {
            let at = Timestamp::from_millis(millis);
            assert_eq!(at.to_string(), at.to_utc().to_rfc3339_opts(SecondsFormat::Millis, true), "{millis}");
            assert_eq!(serde_json::to_string(&at).unwrap(), format!("\"{at}\""), "{millis}");
        }
        assert_eq!(Timestamp::from_millis(-62_167_219_200_000).to_string(), "0000-01-01T00:00:00.000Z");
    }

    #[test]
    fn every_thirteenth_day_and_each_leap_boundary_from_year_0_to_9999_prints_as_chrono_prints_it() {
        let first = Timestamp::MIN.millis() - 366 * 86_400_000; // 0000-01-01, a leap year
        let last = Timestamp::MAX.millis();
        let day = 86_400_000;
        let mut days: Vec<i64> =
            (0..).map(|n| first + n * 13 * day + (n * 7_919_777) % day).take_while(|at| *at <= last).collect();
        for year in [4, 100, 400, 1600, 1900, 1970, 2000, 2024, 2100, 9996] {
            let feb_28 = Timestamp::parse(&format!("{year:04}-02-28T23:59:59.999Z")).unwrap().millis();
            days.extend((0..3).map(|n| feb_28 + n * day));
        }
        days.extend([first, first + 59 * day, first + 60 * day, last]);
        for millis in days {
            let at = Timestamp::from_millis(millis);
            assert_eq!(at.to_string(), at.to_utc().to_rfc3339_opts(SecondsFormat::Millis, true), "{millis}");
        }
    }

    #[test]
    fn the_range_is_years_1_to_9999_in_utc_once_the_offset_is_applied() {
        for (text, utc) in [
            ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z"),
            ("0000-12-31T23:00:00-01:00", "0001-01-01T00:00:00.000Z"),
            ("0001-01-01T23:59:00+23:59", "0001-01-01T00:00:00.000Z"),
            ("9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z"),
            ("9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999Z"),
            ("10000-01-01T00:59:59.999+01:00", "invalid"),
            ("9999-12-31T00:00:59.999-23:59", "9999-12-31T23:59:59.999Z"),
        ] {
            match utc {
                "invalid" => assert!(Timestamp::parse(text).is_err(), "{text}"),
                utc => assert_eq!(Timestamp::parse(text).map(|t| t.to_string()).as_deref(), Ok(utc), "{text}"),
            }
        }
        let range = "must be from 0001-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z in UTC";
        for text in [
            "9999-12-31T23:59:59.999-01:00",
            "0001-01-01T00:00:00+01:00",
            "0000-01-01T00:00:00Z",
            "0000-01-01T00:00:00+01:00",
            "0000-12-31T23:59:59.999Z",
            "9999-12-31T00:01:00-23:59",
            "0001-01-01T00:00:00+23:59",
        ] {
            assert_eq!(Timestamp::parse(text), Err(format!("{range}, not {text:?}")), "{text}");
            assert_eq!(Timestamp::parse_bound(text), Err(format!("{range}, not {text:?}")), "{text}");
        }
        assert_eq!(Timestamp::parse_bound("9999-12-31T23:59:59.9991Z").unwrap().millis(), Timestamp::MAX.millis() + 1);
    }

    #[test]
    fn a_leap_second_is_refused_with_its_own_reason() {
        for text in
            ["2016-12-31T23:59:60Z", "2016-12-31T23:59:60.5Z", "2017-01-01T00:59:60+01:00", "2022-11-01T11:11:60Z"]
        {
            assert_eq!(Timestamp::parse(text), Err(format!("must not be a leap second (second 60), not {text:?}")));
            assert!(Timestamp::parse_bound(text).is_err(), "{text}");
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
        for bad in [
            "2022-11-01T11:11:11",
            "2022-11-01",
            "yesterday",
            "",
            "2022-13-01T00:00:00Z",
            "2022-02-29T00:00:00Z",
            "2022-11-01T24:00:00Z",
            "2022-11-01T11:11:11+24:00",
            "+2022-11-01T11:11:11Z",
            "2022-11-01T11:11:11.Z",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad:?}");
        }
    }

    /// Instants anywhere in the range, often within two days of either end.
    fn instant() -> impl Strategy<Value = i64> {
        const TWO_DAYS: i64 = 2 * 86_400_000;
        let (min, max) = (Timestamp::MIN.millis(), Timestamp::MAX.millis());
        prop_oneof![min..min + TWO_DAYS, max - TWO_DAYS..=max, min..=max]
    }

    /// Offsets in minutes, often at either end (±23:59).
    fn offset_minutes() -> impl Strategy<Value = i32> {
        prop_oneof![Just(-1439), Just(1439), Just(0), -1439..=1439]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn every_instant_in_range_prints_as_rfc_3339_and_parses_back(millis in instant()) {
            let at = Timestamp::from_millis(millis);
            let text = at.to_string();
            prop_assert_eq!(text.len(), 24, "{}", text);
            prop_assert_eq!(Timestamp::parse(&text), Ok(at));
            prop_assert_eq!(serde_json::to_string(&at).unwrap(), format!("\"{text}\""));
        }

        #[test]
        fn every_instant_in_range_written_with_any_offset_parses_back_to_itself(
            millis in instant(),
            minutes in offset_minutes(),
        ) {
            let offset = FixedOffset::east_opt(minutes * 60).unwrap();
            let local = Timestamp::from_millis(millis).to_utc().with_timezone(&offset);
            let text = local.to_rfc3339_opts(SecondsFormat::Millis, false);
            if (0..=9999).contains(&local.year()) {
                prop_assert_eq!(Timestamp::parse(&text), Ok(Timestamp::from_millis(millis)), "{}", text);
            } else {
                // Year 10000 in that offset: chrono writes "+10000-…", which is not RFC 3339.
                prop_assert!(Timestamp::parse(&text).is_err(), "{}", text);
            }
        }

        #[test]
        fn any_four_digit_year_and_offset_is_accepted_exactly_when_utc_is_in_range(
            year in prop_oneof![Just(0), Just(1), Just(9999), 0..=9999_i32],
            day in 0..366_u32,
            second in 0..86_400_u32,
            nanos in 0..1_000_000_000_u32,
            minutes in offset_minutes(),
        ) {
            let date = NaiveDate::from_yo_opt(year, day % 365 + 1).unwrap();
            let local = date.and_time(NaiveTime::from_num_seconds_from_midnight_opt(second, nanos).unwrap());
            let sign = if minutes < 0 { '-' } else { '+' };
            let text = format!(
                "{}.{nanos:09}{sign}{:02}:{:02}",
                local.format("%Y-%m-%dT%H:%M:%S"),
                minutes.abs() / 60,
                minutes.abs() % 60
            );
            let utc_millis = (local - chrono::TimeDelta::minutes(minutes.into())).and_utc().timestamp_millis();
            let parsed = Timestamp::parse(&text);
            if (Timestamp::MIN.millis()..=Timestamp::MAX.millis()).contains(&utc_millis) {
                let at = Timestamp::from_millis(utc_millis);
                prop_assert_eq!(parsed, Ok(at), "{}", text);
                prop_assert_eq!(Timestamp::parse(&at.to_string()), Ok(at));
            } else {
                prop_assert!(parsed.unwrap_err().contains("in UTC"), "{}", text);
            }
        }

        #[test]
        fn any_text_at_all_is_refused_or_read_never_a_panic(text in "\\PC{0,40}|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{8,14}([Zz]|[+-][0-9]{2}:[0-9]{2})") {
            let (parsed, bound) = (Timestamp::parse(&text), Timestamp::parse_bound(&text));
            if let Ok(at) = parsed {
                prop_assert!(at >= Timestamp::MIN && at <= Timestamp::MAX);
                prop_assert!(bound.is_ok());
            }
        }
    }
}
