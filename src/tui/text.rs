//! The dashboard's small text helpers: a one-line text input with a cursor, and how instants are
//! shown and typed (local time for people, RFC 3339 accepted too).

use chrono::{DateTime, Local, NaiveDateTime, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::domain::Timestamp;

/// A one-line text field; the cursor counts characters, not bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Input {
    text: String,
    cursor: usize,
}

impl Input {
    /// A field holding `text`, the cursor at its end.
    pub fn new(text: impl Into<String>) -> Self {
        let text = text.into();
        let cursor = text.chars().count();
        Self { text, cursor }
    }

    /// What was typed.
    pub fn value(&self) -> &str {
        &self.text
    }

    /// The cursor's position in characters.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Applies an editing key; returns whether the key was one.
    pub fn handle(&mut self, key: KeyEvent) -> bool {
        let byte = |text: &str, at: usize| text.char_indices().nth(at).map_or(text.len(), |(i, _)| i);
        let len = self.text.chars().count();
        match key.code {
            KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.text.drain(..byte(&self.text, self.cursor));
                self.cursor = 0;
            }
            KeyCode::Char(c) if !key.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) => {
                self.text.insert(byte(&self.text, self.cursor), c);
                self.cursor += 1;
            }
            KeyCode::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                self.text.remove(byte(&self.text, self.cursor));
            }
            KeyCode::Delete if self.cursor < len => {
                self.text.remove(byte(&self.text, self.cursor));
            }
            KeyCode::Left => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Right => self.cursor = (self.cursor + 1).min(len),
            KeyCode::Home => self.cursor = 0,
            KeyCode::End => self.cursor = len,
            KeyCode::Backspace | KeyCode::Delete => {}
            _ => return false,
        }
        true
    }
}

/// The zone instants are shown and typed in: the machine's local zone, or UTC (tests, and
/// anyone who sets `TZ=UTC`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// The machine's local time zone.
    Local,
    /// UTC.
    Utc,
}

impl Zone {
    /// `at` as `YYYY-MM-DD HH:MM:SS` in this zone, with milliseconds when there are any.
    pub fn format(self, at: Timestamp) -> String {
        let pattern = if at.millis().rem_euclid(1000) == 0 { "%Y-%m-%d %H:%M:%S" } else { "%Y-%m-%d %H:%M:%S%.3f" };
        match self {
            Self::Local => at.to_local().format(pattern).to_string(),
            Self::Utc => at.to_utc().format(pattern).to_string(),
        }
    }

    /// `at` to the minute, for narrow columns.
    pub fn short(self, at: Timestamp) -> String {
        let pattern = "%Y-%m-%d %H:%M";
        match self {
            Self::Local => at.to_local().format(pattern).to_string(),
            Self::Utc => at.to_utc().format(pattern).to_string(),
        }
    }

    /// Reads an instant typed as RFC 3339 (`2022-11-01T11:11:11Z`) or as a time in this zone
    /// (`2022-11-01 12:11`, seconds and milliseconds optional, `T` or a space between). Either
    /// way the domain's rules hold: years 0001–9999 in UTC, no leap second.
    ///
    /// # Errors
    /// The domain's message for RFC 3339 text it refuses (out of range, a leap second), else a
    /// message naming both accepted forms.
    pub fn parse(self, text: &str) -> Result<Timestamp, String> {
        let text = text.trim();
        match Timestamp::parse(text) {
            Ok(at) => return Ok(at),
            // RFC 3339 text, but refused: the API's message, not a hint at another form.
            Err(message) if DateTime::parse_from_rfc3339(text).is_ok() => return Err(message),
            Err(_) => {}
        }
        let naive = ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
            .iter()
            .find_map(|pattern| NaiveDateTime::parse_from_str(text, pattern).ok());
        let instant = naive.and_then(|naive| match self {
            Self::Local => Local.from_local_datetime(&naive).earliest().map(|at| Timestamp::from_datetime(&at, text)),
            Self::Utc => Some(Timestamp::from_datetime(&Utc.from_utc_datetime(&naive), text)),
        });
        instant.unwrap_or_else(|| {
            Err(format!(
                "must be a local time like 2022-11-01 12:00 or RFC 3339 like 2022-11-01T11:11:11Z, not {text:?}"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn typing_editing_and_moving_the_cursor_work_on_characters() {
        let mut input = Input::new("1é");
        for code in [KeyCode::Left, KeyCode::Char('x'), KeyCode::End, KeyCode::Backspace, KeyCode::Home] {
            assert!(input.handle(key(code)));
        }
        assert_eq!((input.value(), input.cursor()), ("1x", 0));
        assert!(input.handle(key(KeyCode::Delete)));
        assert_eq!(input.value(), "x");
        assert!(!input.handle(key(KeyCode::Enter)));
    }

    #[test]
    fn instants_are_typed_as_rfc_3339_or_zone_time_and_shown_in_the_zone() {
        let at = Timestamp::parse("2022-11-01T11:11:11.111Z").unwrap();
        assert_eq!(Zone::Utc.format(at), "2022-11-01 11:11:11.111");
        assert_eq!(Zone::Utc.parse("2022-11-01 11:11:11.111"), Ok(at));
        assert_eq!(Zone::Utc.parse("2022-11-01T12:11:11.111+01:00"), Ok(at));
        assert_eq!(
            Zone::Utc.parse("2022-11-01 11:11").map(|t| Zone::Utc.format(t)).as_deref(),
            Ok("2022-11-01 11:11:00")
        );
        let err = Zone::Utc.parse("tomorrow").unwrap_err();
        assert!(err.contains("local time like 2022-11-01 12:00"), "{err}");
    }

    #[test]
    fn typed_instants_obey_the_domain_range_and_refuse_leap_seconds_with_its_messages() {
        for text in ["9999-12-31T23:59:59.999-01:00", "0000-01-01T00:00:00+01:00", "2016-12-31T23:59:60Z"] {
            assert_eq!(Zone::Utc.parse(text), Err(Timestamp::parse(text).unwrap_err()), "{text}");
            assert_eq!(Zone::Local.parse(text), Err(Timestamp::parse(text).unwrap_err()), "{text}");
        }
        let range = "must be from 0001-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z in UTC";
        for text in ["0000-06-01 12:00", "+10000-01-01 00:00", "-0001-01-01 00:00"] {
            assert_eq!(Zone::Utc.parse(text), Err(format!("{range}, not {text:?}")), "{text}");
        }
        let leap = "2016-12-31 23:59:60";
        assert_eq!(Zone::Utc.parse(leap), Err(format!("must not be a leap second (second 60), not {leap:?}")));
        assert_eq!(Zone::Utc.parse("0001-01-01 00:00"), Ok(Timestamp::MIN));
        assert_eq!(Zone::Utc.parse("9999-12-31 23:59:59.999"), Ok(Timestamp::MAX));
    }

    proptest! {
        #[test]
        fn any_typed_instant_is_read_within_the_range_or_refused_never_a_panic(
            year in prop_oneof![-262_145..=262_144_i32, -2..=2_i32, 9998..=10_001_i32],
            rest in "-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,12})?)?([Zz]|[+-][0-9]{2}:[0-9]{2})?",
            garbage in "\\PC{0,30}",
        ) {
            let typed = if (0..=9999).contains(&year) { format!("{year:04}{rest}") } else { format!("{year:+05}{rest}") };
            for text in [typed.as_str(), garbage.as_str()] {
                for zone in [Zone::Utc, Zone::Local] {
                    if let Ok(at) = zone.parse(text) {
                        prop_assert!(at >= Timestamp::MIN && at <= Timestamp::MAX, "{text} read as {at}");
                        // (In a local zone, an hour that repeats at a DST change reads as its first.)
                        if zone == Zone::Utc {
                            prop_assert_eq!(zone.parse(&zone.format(at)), Ok(at), "{} shown as {}", text, zone.format(at));
                        }
                    }
                }
            }
        }
    }
}
