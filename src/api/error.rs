//! Every error the API answers with, rendered once as an `application/problem+json` body
//! (RFC 9457) with its status: the crate's [`Error`], the HTTP-level problems (bodies, paths,
//! methods), and warp's own rejections.

use std::convert::Infallible;
use std::time::Duration;

use serde_json::{Value, json};
use warp::http::header::{ALLOW, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;

use crate::error::Error;
use crate::store::StoredResponse;

/// A failed request.
#[derive(Debug)]
pub enum ApiError {
    /// Anything the domain or the store refused.
    App(Error),
    /// The body is not JSON, or not an object.
    MalformedJson(String),
    /// A path id or a query parameter is malformed.
    BadRequest(String),
    /// No such route.
    NoRoute,
    /// The path exists, the method does not; the methods that do.
    MethodNotAllowed(&'static str),
    /// The body is larger than `server.body_limit` (bytes).
    PayloadTooLarge(u64),
    /// The body is not JSON by its content type.
    UnsupportedMediaType(String),
    /// An `Idempotency-Key` was used with another body.
    IdempotencyMismatch(String),
    /// The client is over `server.rate_limit`; how long until it may ask again.
    RateLimited(Duration),
    /// `If-Match` does not hold for the order at `current_version`: why.
    PreconditionFailed {
        /// What the header said and why it does not match.
        detail: String,
        /// The stored version.
        current_version: i64,
    },
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        Self::App(err)
    }
}

/// A problem ready to send: status, extra headers, body.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The HTTP status.
    pub status: StatusCode,
    /// Headers besides the content type (`Allow`, `WWW-Authenticate`).
    pub headers: Vec<(&'static str, String)>,
    /// The problem object.
    pub body: Value,
}

impl Problem {
    fn new(status: StatusCode, kind: &str, detail: impl Into<String>) -> Self {
        let title = status.canonical_reason().unwrap_or("Error");
        let body = json!({ "type": kind, "title": title, "status": status.as_u16(), "detail": detail.into() });
        Self { status, headers: Vec::new(), body }
    }

    fn with(mut self, key: &str, value: Value) -> Self {
        self.body[key] = value;
        self
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The response.
    pub fn into_response(self) -> Response {
        let mut response = Response::new(self.body.to_string().into());
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        response
    }

    /// The response as the idempotency store keeps it.
    pub fn to_stored(&self) -> StoredResponse {
        let mut headers = vec![("content-type".to_owned(), "application/problem+json".to_owned())];
        headers.extend(self.headers.iter().map(|(n, v)| ((*n).to_owned(), v.clone())));
        StoredResponse { status: self.status.as_u16(), headers, body: self.body.to_string() }
    }
}

impl ApiError {
    /// The status and body this error is answered with. 5xx bodies say nothing of the cause,
    /// which goes to the log.
    pub fn problem(&self) -> Problem {
        match self {
            Self::App(err) => app_problem(err),
            Self::MalformedJson(detail) => Problem::new(StatusCode::BAD_REQUEST, "malformed-json", detail),
            Self::BadRequest(detail) => Problem::new(StatusCode::BAD_REQUEST, "bad-request", detail),
            Self::NoRoute => Problem::new(StatusCode::NOT_FOUND, "not-found", "no such route"),
            Self::MethodNotAllowed(allow) => {
                Problem::new(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", format!("this path allows {allow}"))
                    .header(ALLOW.as_str(), *allow)
            }
            Self::PayloadTooLarge(limit) => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                format!("the body is larger than the limit of {limit} bytes"),
            ),
            Self::UnsupportedMediaType(detail) => {
                Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", detail)
            }
            Self::IdempotencyMismatch(key) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-mismatch",
                format!("Idempotency-Key {key:?} was used with another body"),
            ),
            Self::RateLimited(wait) => {
                let seconds = retry_after_seconds(*wait);
                Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate-limited",
                    format!("too many requests from this client; try again in {seconds} s"),
                )
                .header(RETRY_AFTER.as_str(), seconds.to_string())
            }
            Self::PreconditionFailed { detail, current_version } => {
                Problem::new(StatusCode::PRECONDITION_FAILED, "precondition-failed", detail)
                    .with("current_version", json!(current_version))
            }
        }
    }
}

/// `Retry-After` for a wait: whole seconds, rounded up, at least 1.
fn retry_after_seconds(wait: Duration) -> u64 {
    let whole = wait.as_secs();
    let seconds = if wait.subsec_nanos() > 0 { whole.saturating_add(1) } else { whole };
    seconds.max(1)
}

fn app_problem(err: &Error) -> Problem {
    match err {
        Error::NotFound { .. } => Problem::new(StatusCode::NOT_FOUND, "not-found", err.to_string()),
        Error::Invalid(errors) => {
            Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "validation", err.to_string()).with("errors", json!(errors))
        }
        Error::Schedule { conflicting_id, conflicting_datetime, min_gap, .. } => {
            Problem::new(StatusCode::CONFLICT, "schedule-conflict", err.to_string())
                .with("conflicting_order", json!({ "id": conflicting_id, "datetime": conflicting_datetime }))
                .with("min_gap_seconds", json!(min_gap.as_secs()))
        }
        // No route changes the rule (`orders rules set-gap` is local); the closest pair as a
        // schedule conflict, should one ever come to the API.
        Error::GapViolated { first_id, first_datetime, min_gap, .. } => {
            Problem::new(StatusCode::CONFLICT, "schedule-conflict", err.to_string())
                .with("conflicting_order", json!({ "id": first_id, "datetime": first_datetime }))
                .with("min_gap_seconds", json!(min_gap.as_secs()))
        }
        Error::Duplicate(_) => Problem::new(StatusCode::CONFLICT, "duplicate", err.to_string()),
        Error::InUse(_) => Problem::new(StatusCode::CONFLICT, "in-use", err.to_string()),
        Error::Stale { actual, .. } => {
            Problem::new(StatusCode::PRECONDITION_FAILED, "precondition-failed", err.to_string())
                .with("current_version", json!(actual))
        }
        Error::Unauthorized(_) => Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", err.to_string())
            .header(WWW_AUTHENTICATE.as_str(), "Bearer"),
        Error::Forbidden(_) => Problem::new(StatusCode::FORBIDDEN, "forbidden", err.to_string()),
        Error::Unavailable(_) => {
            tracing::error!(error = %err, "database unavailable");
            Problem::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the database is unavailable; try again later")
                .header(RETRY_AFTER.as_str(), "5")
        }
        Error::Busy(_) => {
            tracing::warn!(error = %err, "busy");
            Problem::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", err.to_string())
                .header(RETRY_AFTER.as_str(), "1")
        }
        Error::Internal(_) => {
            tracing::error!(error = %err, "internal error");
            Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "an internal error occurred")
        }
    }
}

/// The root recover: warp's own rejections in the same problem shape. Routes match the path
/// and then answer every method, header and body themselves (the filters they use for the
/// request id and the query cannot reject), so what reaches here is an unknown path: 404.
/// Anything else would be a bug, logged and answered 500.
pub async fn recover(rejection: warp::Rejection) -> Result<Response, Infallible> {
    let problem = if rejection.is_not_found() {
        ApiError::NoRoute.problem()
    } else {
        tracing::error!(?rejection, "unhandled rejection");
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "an internal error occurred")
    };
    Ok(problem.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_whole_seconds_rounded_up_and_never_zero() {
        for (wait, expected, why) in [
            (Duration::ZERO, 1, "no wait still says 1"),
            (Duration::from_millis(5), 1, "a few milliseconds"),
            (Duration::from_secs(1), 1, "exactly one second"),
            (Duration::from_millis(1001), 2, "just over a second"),
            (Duration::MAX, u64::MAX, "no overflow"),
        ] {
            assert_eq!(retry_after_seconds(wait), expected, "{why}");
        }
    }

    #[test]
    fn a_rate_limited_request_is_429_rate_limited_with_retry_after() {
        let problem = ApiError::RateLimited(Duration::from_millis(2500)).problem();
        assert_eq!(
            (problem.status, problem.body["type"].as_str()),
            (StatusCode::TOO_MANY_REQUESTS, Some("rate-limited"))
        );
        assert_eq!(problem.headers, vec![("retry-after", "3".to_owned())]);
    }
}
