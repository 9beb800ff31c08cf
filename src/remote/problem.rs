//! The API's answers back into the crate's [`Error`], exactly as the server classified them
//! (`api::error` renders each error as a status and an RFC 9457 problem body; this reads them
//! back), so the same operation fails with the same error, message and exit code remotely as
//! locally.

use std::time::Duration;

use serde::Deserialize;

use crate::domain::{FieldError, Timestamp};
use crate::error::Error;

/// What a request was about, for the answers that do not say it themselves.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context {
    /// The record a 404 means is missing (`("order", 7)`).
    pub record: Option<(&'static str, i64)>,
    /// The version an `If-Match` asked for, which a 412 reports as stale.
    pub expected_version: Option<i64>,
}

impl Context {
    /// About one record.
    pub fn record(what: &'static str, id: i64) -> Self {
        Self { record: Some((what, id)), expected_version: None }
    }

    /// About one order, written at `version` if given.
    pub fn order_at(id: i64, version: Option<i64>) -> Self {
        Self { record: Some(("order", id)), expected_version: version }
    }
}

/// An RFC 9457 problem as the API renders it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Problem {
    #[serde(rename = "type")]
    kind: String,
    detail: String,
    errors: Vec<WireFieldError>,
    conflicting_order: Option<ConflictingOrder>,
    min_gap_seconds: Option<u64>,
    current_version: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct WireFieldError {
    field: String,
    message: String,
}

#[derive(Debug, Deserialize)]
struct ConflictingOrder {
    id: i64,
    datetime: String,
}

/// The detail of the API's 503 when its database is unreachable (`api::error`).
const DATABASE_UNAVAILABLE: &str = "the database is unavailable; try again later";

/// The error a non-success answer stands for.
pub fn classify(status: u16, body: &[u8], context: &Context, api: &str) -> Error {
    let problem: Problem = serde_json::from_slice(body).unwrap_or_default();
    let detail =
        if problem.detail.is_empty() { format!("the API at {api} answered {status}") } else { problem.detail.clone() };
    match (status, problem.kind.as_str()) {
        (401, _) => Error::Unauthorized(detail),
        (403, _) => Error::Forbidden(detail),
        (404, _) => match context.record {
            Some((what, id)) if detail != "no such route" => Error::NotFound { what, id },
            _ => Error::Internal(format!("the API at {api} has no such route: is it an older orders serve?").into()),
        },
        (409, "schedule-conflict") => schedule(&problem).unwrap_or(Error::Internal(detail.into())),
        (409, "duplicate") => Error::Duplicate(detail),
        (409, "in-use") => Error::InUse(detail),
        (412, _) => match (context.record, context.expected_version, problem.current_version) {
            (Some((_, id)), Some(expected), Some(actual)) => Error::Stale { id, expected, actual },
            _ => Error::Internal(detail.into()),
        },
        (422, "validation") => {
            Error::Invalid(problem.errors.into_iter().map(|e| FieldError::new(e.field, e.message)).collect())
        }
        (400 | 422, _) => Error::invalid("request", detail),
        (429, _) => Error::Busy(detail),
        (503, _) if detail == DATABASE_UNAVAILABLE => {
            Error::Unavailable(format!("the API at {api} cannot reach its database").into())
        }
        // The write lock not had in time, every stream slot taken: the server's own message.
        (503, _) => Error::Busy(detail),
        _ => Error::Internal(detail.into()),
    }
}

/// A `schedule-conflict` problem as [`Error::Schedule`]; the datetime asked for is the one
/// its detail names (an update that leaves the datetime alone is checked at the stored one).
fn schedule(problem: &Problem) -> Option<Error> {
    let conflicting = problem.conflicting_order.as_ref()?;
    let asked = problem.detail.rsplit_once(" of ")?.1;
    Some(Error::Schedule {
        conflicting_id: conflicting.id,
        conflicting_datetime: Timestamp::parse(&conflicting.datetime).ok()?,
        datetime: Timestamp::parse(asked).ok()?,
        min_gap: Duration::from_secs(problem.min_gap_seconds?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn classified(status: u16, body: &serde_json::Value, context: Context) -> Error {
        classify(status, body.to_string().as_bytes(), &context, "http://api")
    }

    #[test]
    fn a_schedule_conflict_reads_back_as_the_same_error() {
        let local = Error::Schedule {
            conflicting_id: 224,
            conflicting_datetime: Timestamp::parse("2022-11-01T14:11:11.111Z").unwrap(),
            datetime: Timestamp::parse("2022-11-01T15:00:00Z").unwrap(),
            min_gap: Duration::from_secs(3 * 3600),
        };
        let body = json!({"type": "schedule-conflict", "status": 409, "detail": local.to_string(),
            "conflicting_order": {"id": 224, "datetime": "2022-11-01T14:11:11.111Z"}, "min_gap_seconds": 10800});
        assert_eq!(classified(409, &body, Context::default()).to_string(), local.to_string());
    }

    #[test]
    fn statuses_map_to_the_errors_the_server_classified() {
        let stale = classified(
            412,
            &json!({"type": "precondition-failed", "detail": "x", "current_version": 3}),
            Context::order_at(7, Some(2)),
        );
        assert!(matches!(stale, Error::Stale { id: 7, expected: 2, actual: 3 }), "{stale:?}");
        let missing =
            classified(404, &json!({"type": "not-found", "detail": "order 7 not found"}), Context::record("order", 7));
        assert!(matches!(missing, Error::NotFound { what: "order", id: 7 }));
        let route =
            classified(404, &json!({"type": "not-found", "detail": "no such route"}), Context::record("order", 7));
        assert!(matches!(route, Error::Internal(_)));
        let invalid = classified(
            422,
            &json!({"type": "validation", "errors": [{"field": "services", "message": "unknown service id 9"}]}),
            Context::default(),
        );
        assert_eq!(invalid.to_string(), "invalid input: services: unknown service id 9");
        assert!(
            matches!(classified(403, &json!({"detail": "role reader may not do this: it needs writer"}), Context::default()), Error::Forbidden(m) if m.contains("needs writer"))
        );
        assert!(matches!(classified(429, &json!({}), Context::default()), Error::Busy(_)));
        let down = json!({"type": "unavailable", "detail": DATABASE_UNAVAILABLE});
        assert!(
            matches!(classified(503, &down, Context::default()), Error::Unavailable(m) if m.to_string().contains("http://api"))
        );
        let busy = json!({"type": "unavailable", "detail": "64 streamed listings are running"});
        assert!(matches!(classified(503, &busy, Context::default()), Error::Busy(m) if m.starts_with("64 streamed")));
        assert!(matches!(classify(502, b"<html>", &Context::default(), "http://api"), Error::Internal(_)));
    }
}
