//! The crate's one error type. Each boundary classifies it once: `api::error` into an HTTP
//! status and problem body, `main` into an exit code, the dashboard into its status bar.

use std::fmt;
use std::time::Duration;

use crate::domain::schedule::format_gap;
use crate::domain::{FieldError, Timestamp};

/// Everything that can go wrong in library code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such order, service or other record.
    #[error("{what} {id} not found")]
    NotFound {
        /// What kind of record (`order`, `service`).
        what: &'static str,
        /// The id asked for.
        id: i64,
    },
    /// Input that breaks the domain's rules; every field error at once.
    #[error("invalid input: {}", join(.0))]
    Invalid(Vec<FieldError>),
    /// The scheduling rule refused a write.
    #[error(
        "order {} at {} is within {} of {datetime}",
        .conflicting_id, .conflicting_datetime, format_gap(*.min_gap)
    )]
    Schedule {
        /// The nearest order that conflicts.
        conflicting_id: i64,
        /// Its datetime.
        conflicting_datetime: Timestamp,
        /// The datetime that was asked for.
        datetime: Timestamp,
        /// The configured minimum gap.
        min_gap: Duration,
    },
    /// A new minimum gap that stored orders break (`orders rules set-gap`): the closest two.
    #[error(
        "orders {} at {} and {} at {} are {} apart, closer than {}",
        .first_id, .first_datetime, .second_id, .second_datetime,
        format_gap(.first_datetime.distance(*.second_datetime)), format_gap(*.min_gap)
    )]
    GapViolated {
        /// The earlier order of the closest pair.
        first_id: i64,
        /// Its datetime.
        first_datetime: Timestamp,
        /// The later one.
        second_id: i64,
        /// Its datetime.
        second_datetime: Timestamp,
        /// The gap they break.
        min_gap: Duration,
    },
    /// The catalogue already has that service id or name, or an import repeats an existing id.
    #[error("{0}")]
    Duplicate(String),
    /// A service is still used by orders.
    #[error("{0}")]
    InUse(String),
    /// The record changed since the caller read it (`If-Match` / version check).
    #[error("order {id} is at version {actual}, not {expected}: it changed since it was read")]
    Stale {
        /// The order.
        id: i64,
        /// The version the caller had.
        expected: i64,
        /// The version stored now.
        actual: i64,
    },
    /// Missing or bad credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// Credentials good, role too low.
    #[error("{0}")]
    Forbidden(String),
    /// The database cannot be reached, or in remote mode the API (whose message names it).
    #[error("{}", unavailable(.0))]
    Unavailable(#[source] Cause),
    /// The server or database is busy: a write did not get the write lock in time, every
    /// stream slot is taken. Worth trying again shortly; the message is safe to show.
    #[error("{0}")]
    Busy(String),
    /// A bug or an unexpected failure; the cause goes to the log, never to a client.
    #[error("internal error: {0}")]
    Internal(#[source] Cause),
}

/// What caused an [`Error::Unavailable`] or an [`Error::Internal`], kept for the log: a
/// library's error, or a text (`"…".into()`), or [`because`] for both.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// A cause in the crate's own words (`text`, which usually quotes the source), keeping the
/// source error it came from.
pub fn because(text: impl Into<String>, source: impl Into<Cause>) -> Cause {
    Box::new(Because { text: text.into(), source: source.into() })
}

#[derive(Debug)]
struct Because {
    text: String,
    source: Cause,
}

impl fmt::Display for Because {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for Because {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// The last error in `error`'s chain of sources: the one that says what happened (a transport
/// error's `Connection refused`, which its own message leaves out).
pub fn innermost_cause<'e>(error: &'e (dyn std::error::Error + 'static)) -> &'e (dyn std::error::Error + 'static) {
    let mut cause = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause
}

/// The crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A single field error.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, message)])
    }
}

/// What cannot be reached: the API when the message names it, else the database.
fn unavailable(cause: &Cause) -> String {
    let message = cause.to_string();
    if message.starts_with("the API at ") { message } else { format!("database unavailable: {message}") }
}

fn join(errors: &[FieldError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_conflict_names_the_order_its_datetime_and_the_gap() {
        let err = Error::Schedule {
            conflicting_id: 224,
            conflicting_datetime: Timestamp::parse("2022-11-01T14:11:11.111Z").unwrap(),
            datetime: Timestamp::parse("2022-11-01T15:00:00Z").unwrap(),
            min_gap: Duration::from_secs(3 * 3600),
        };
        assert_eq!(err.to_string(), "order 224 at 2022-11-01T14:11:11.111Z is within 3h of 2022-11-01T15:00:00.000Z");
    }

    #[test]
    fn a_gap_that_stored_orders_break_names_both_and_the_gap() {
        let err = Error::GapViolated {
            first_id: 224,
            first_datetime: Timestamp::parse("2022-11-01T14:11:11.111Z").unwrap(),
            second_id: 225,
            second_datetime: Timestamp::parse("2022-11-01T17:11:11.111Z").unwrap(),
            min_gap: Duration::from_secs(4 * 3600),
        };
        assert_eq!(
            err.to_string(),
            "orders 224 at 2022-11-01T14:11:11.111Z and 225 at 2022-11-01T17:11:11.111Z are 3h apart, closer than 4h"
        );
    }

    #[test]
    fn invalid_input_lists_every_field() {
        let err = Error::Invalid(vec![
            FieldError::new("totalfee", "is required"),
            FieldError::new("services", "is required"),
        ]);
        assert_eq!(err.to_string(), "invalid input: totalfee: is required; services: is required");
    }
}
