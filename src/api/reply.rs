//! Building responses: JSON bodies, the headers handlers add, the route label the log and the
//! metrics read, and turning a handler's result into the one response it sends.

use serde::Serialize;
use warp::http::header::{CONTENT_TYPE, ETAG, HeaderName};
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;

use super::error::ApiError;
use crate::domain::Order;
use crate::store::StoredResponse;

/// The route template a response answered (`/orders/{id}`), for the log and the metrics.
#[derive(Debug, Clone, Copy)]
pub struct RouteLabel(pub &'static str);

/// What handlers return.
pub type ApiResult = Result<Response, ApiError>;

/// A JSON response.
///
/// # Errors
/// 500 when the value cannot be serialized (a bug).
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> ApiResult {
    // Room for one order (~400 bytes) up front: grown from empty, the buffer was reallocated
    // six times for it.
    let mut body = Vec::with_capacity(512);
    serde_json::to_writer(&mut body, value)
        .map_err(|e| crate::Error::Internal(crate::error::because(format!("cannot render JSON: {e}"), e)))?;
    Ok(with_status(status, body, "application/json"))
}

/// A response with a body of the given content type (a `&'static str` is sent without a copy).
pub fn with_status(status: StatusCode, body: impl Into<bytes::Bytes>, content_type: &'static str) -> Response {
    let mut response = Response::new(body.into().into());
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// 204.
pub fn no_content() -> Response {
    let mut response = Response::new(String::new().into());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// Sets a header (values are always ASCII here; a bad one is dropped).
pub fn set_header(response: &mut Response, name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

/// An order's `ETag`: its version, quoted.
pub fn etag(order: &Order) -> String {
    format!("\"{}\"", order.version)
}

/// An order with its `ETag`.
///
/// # Errors
/// As [`json`].
pub fn order(status: StatusCode, order: &Order) -> ApiResult {
    let mut response = json(status, order)?;
    set_header(&mut response, ETAG, &etag(order));
    Ok(response)
}

/// 304 for a `GET` whose `If-None-Match` names the order's current tag: its `ETag`, no body.
pub fn not_modified(order: &Order) -> Response {
    let mut response = Response::new(String::new().into());
    *response.status_mut() = StatusCode::NOT_MODIFIED;
    set_header(&mut response, ETAG, &etag(order));
    response
}

/// A remembered response, sent again.
pub fn replay(stored: &StoredResponse) -> Response {
    let mut response = Response::new(stored.body.clone().into());
    *response.status_mut() = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in &stored.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name.as_str()), HeaderValue::from_str(value)) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// The response a handler's result becomes, labelled with its route.
pub fn finish(route: &'static str, result: ApiResult) -> Response {
    let mut response = result.unwrap_or_else(|err| err.problem().into_response());
    response.extensions_mut().insert(RouteLabel(route));
    response
}
