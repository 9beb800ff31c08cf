//! One request as a handler sees it, and the checks every handler runs in the order docs/api.md
//! gives them: the token (401, 403) and the client's rate (429; by address on routes without a
//! token), the content type (415), the body size (413), the body's JSON (400), path ids and
//! query parameters (400).

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt as _, TryStreamExt};
use serde_json::{Map, Value};
use warp::Filter;
use warp::http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use warp::http::{HeaderMap, Method};

use super::error::ApiError;
use super::rate_limit::Client;
use super::server::Peer;
use super::state::AppState;
use crate::auth::{Principal, Role};
use crate::domain::parse_id;
use crate::error::Error;

/// A matched request: its method, headers, raw query and not-yet-read body.
pub struct Req {
    /// Shared server state.
    pub state: AppState,
    /// The method.
    pub method: Method,
    /// The headers.
    pub headers: HeaderMap,
    /// The raw query string ("" when absent).
    pub query: String,
    /// The client's address (absent only when no accept loop served the request).
    pub peer: Option<std::net::SocketAddr>,
    // A Mutex only to make `Req` Sync (handlers hold `&Req` across awaits); it is only ever
    // reached through `&mut self`, so it is never locked.
    body: std::sync::Mutex<Option<BoxStream<'static, Result<Bytes, warp::Error>>>>,
}

/// Extracts a [`Req`]. Put it after the path filter, so only the matched route takes the body.
pub fn req(state: AppState) -> impl Filter<Extract = (Req,), Error = warp::Rejection> + Clone {
    let query = warp::query::raw().or(warp::any().map(String::new)).unify();
    warp::any()
        .map(move || state.clone())
        .and(warp::method())
        .and(warp::header::headers_cloned())
        .and(query)
        .and(warp::ext::optional::<Peer>())
        .and(warp::body::stream())
        .map(|state, method, headers, query, peer: Option<Peer>, body| {
            let body = TryStreamExt::map_ok(body, to_bytes).boxed();
            let peer = peer.map(|Peer(addr)| addr);
            Req { state, method, headers, query, peer, body: std::sync::Mutex::new(Some(body)) }
        })
}

fn to_bytes(mut buf: impl bytes::Buf) -> Bytes {
    buf.copy_to_bytes(buf.remaining())
}

impl Req {
    /// The caller, when its access token is valid, its role at least `min` and its subject
    /// within `server.rate_limit`.
    ///
    /// # Errors
    /// 401 for a missing or bad token, 403 for a role too low, 429 over the rate.
    pub fn authorize(&self, min: Role) -> Result<Principal, ApiError> {
        let header = self
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| Error::Unauthorized("an Authorization: Bearer <token> header is required".to_owned()))?;
        let text = header.to_str().unwrap_or_default();
        let token = match text.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => token.trim(),
            _ => return Err(Error::Unauthorized("the Authorization header must be Bearer <token>".to_owned()).into()),
        };
        let principal = self.state.tokens.verify(token)?;
        if principal.role < min {
            return Err(Error::Forbidden(format!(
                "role {} may not do this: it needs {}",
                principal.role.as_str(),
                min.as_str()
            ))
            .into());
        }
        self.state.rate_limit.check(&Client::Subject(principal.subject.clone()))?;
        Ok(principal)
    }

    /// Counts a request of a route without a token against its client's address.
    ///
    /// # Errors
    /// 429 over `server.rate_limit`.
    pub fn limit_by_address(&self) -> Result<(), ApiError> {
        // Without an address (no accept loop served it) every such request shares one count.
        let ip = self.peer.map_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |addr| addr.ip());
        self.state.rate_limit.check(&Client::address(ip))
    }

    /// Reads the body as one JSON object. `merge_patch` also accepts
    /// `application/merge-patch+json`.
    ///
    /// # Errors
    /// 415 for another content type, 413 over the body limit, 400 for anything but an object.
    pub async fn json_object(&mut self, merge_patch: bool) -> Result<Map<String, Value>, ApiError> {
        json_object(&self.json_body(merge_patch).await?)
    }

    /// The body's bytes, when it is of a JSON content type (see [`Req::json_object`]).
    ///
    /// # Errors
    /// 415 for another content type, 413 over the body limit.
    pub async fn json_body(&mut self, merge_patch: bool) -> Result<Vec<u8>, ApiError> {
        self.check_content_type(merge_patch)?;
        self.read_body().await
    }

    fn check_content_type(&self, merge_patch: bool) -> Result<(), ApiError> {
        let given = self.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let essence = given.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        if essence == "application/json" || (merge_patch && essence == "application/merge-patch+json") {
            return Ok(());
        }
        let accepted =
            if merge_patch { "application/json or application/merge-patch+json" } else { "application/json" };
        Err(ApiError::UnsupportedMediaType(format!("the body must be {accepted}, not {given:?}")))
    }

    async fn read_body(&mut self) -> Result<Vec<u8>, ApiError> {
        let limit = self.state.body_limit();
        let declared = self.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
        if declared.is_some_and(|length: u64| length > limit) {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        let mut bytes = Vec::new();
        let taken = self.body.get_mut().map(Option::take).unwrap_or_default();
        let Some(mut body) = taken else { return Ok(bytes) };
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| ApiError::MalformedJson(format!("the body could not be read: {e}")))?;
            if (bytes.len() + chunk.len()) as u64 > limit {
                return Err(ApiError::PayloadTooLarge(limit));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    /// The query parameters, refusing any not in `allowed` and any given twice.
    ///
    /// # Errors
    /// 400 for a malformed query or an unknown or repeated parameter.
    pub fn query_params(&self, allowed: &[&str]) -> Result<Vec<(String, String)>, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&self.query)
            .map_err(|e| ApiError::BadRequest(format!("malformed query string: {e}")))?;
        for (i, (name, _)) in pairs.iter().enumerate() {
            if !allowed.contains(&name.as_str()) {
                return Err(ApiError::BadRequest(format!(
                    "unknown query parameter {name:?} (allowed: {})",
                    allowed.join(", ")
                )));
            }
            if pairs[..i].iter().any(|(other, _)| other == name) {
                return Err(ApiError::BadRequest(format!("query parameter {name:?} is given twice")));
            }
        }
        Ok(pairs)
    }

    /// Refuses every method but `GET` and `HEAD` (for routes that only read; hyper leaves a
    /// `HEAD` answer's body out and keeps its headers).
    ///
    /// # Errors
    /// 405 naming `GET, HEAD`.
    pub fn only_get(&self) -> Result<(), ApiError> {
        match self.method {
            Method::GET | Method::HEAD => Ok(()),
            _ => Err(ApiError::MethodNotAllowed("GET, HEAD")),
        }
    }

    /// A header's text, if present and printable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The most a `limit` query parameter may ask for (`GET /orders`, `GET /events`).
pub const MAX_LIMIT: u32 = 1000;

/// A `limit` query parameter: an integer from 1 to [`MAX_LIMIT`].
///
/// # Errors
/// 400 for anything else.
pub fn limit_param(value: &str) -> Result<u32, ApiError> {
    whole_number(value).and_then(|n| u32::try_from(n).ok()).filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| {
        ApiError::BadRequest(format!("query parameter limit: must be from 1 to {MAX_LIMIT}, not {value:?}"))
    })
}

/// A path id: an integer from 1 to 2^63−1.
///
/// # Errors
/// 400 for anything else.
pub fn path_id(what: &str, text: &str) -> Result<i64, ApiError> {
    id_text(text).map_err(|e| ApiError::BadRequest(format!("{what} id {e}")))
}

/// An id in a path or a query: an integer from 1 to 2^63−1, in any spelling
/// [`whole_number`] reads.
///
/// # Errors
/// The domain's message for an id that is not one.
pub fn id_text(text: &str) -> Result<i64, String> {
    match whole_number(text) {
        Some(id) if id >= 1 => Ok(id),
        _ => parse_id(text),
    }
}

/// The integer `text` spells, surrounding whitespace aside: decimal digits (`-` allowed), or a
/// whole number written with a fraction or an exponent (`14.0`, `1.4e1`, `1e+2`). The OpenAPI
/// document types ids, limits and sequence numbers as JSON Schema integers, which count those
/// spellings as integers, and clients send them so (a Python client formats 14.0 as "14.0").
pub fn whole_number(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(n) = text.parse::<i64>() {
        return (!text.starts_with('+')).then_some(n);
    }
    crate::domain::whole_number(text)
}

/// The ids of an order body (`services`, as numbers or `{"id": …}`) or a service body (`id`)
/// that are whole numbers spelled with a fraction or an exponent (`14.0`, `1.4e1`), as plain
/// integers: JSON Schema's `integer` (which the OpenAPI document says ids are) counts them as
/// integers, so the server reads them as the ids they are.
pub fn whole_ids_as_integers(body: &mut Map<String, Value>) {
    if let Some(id) = body.get_mut("id") {
        whole_number_as_integer(id);
    }
    if let Some(Value::Array(services)) = body.get_mut("services") {
        for element in services {
            match element {
                Value::Object(reference) => {
                    if let Some(id) = reference.get_mut("id") {
                        whole_number_as_integer(id);
                    }
                }
                other => whole_number_as_integer(other),
            }
        }
    }
}

fn whole_number_as_integer(value: &mut Value) {
    let Value::Number(number) = value else { return };
    let text = number.to_string();
    if text.contains(['.', 'e', 'E'])
        && let Some(integer) = whole_number(&text)
    {
        *value = Value::from(integer);
    }
}

/// A body as one JSON object.
///
/// # Errors
/// 400 for anything but a JSON object.
pub fn json_object(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(mut map)) => {
            whole_ids_as_integers(&mut map);
            Ok(map)
        }
        Ok(_) => Err(ApiError::MalformedJson("the body must be a JSON object".to_owned())),
        Err(e) => Err(ApiError::MalformedJson(format!("the body is not valid JSON: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn whole_numbers_are_read_in_every_spelling_of_a_json_integer() {
        for (text, expected) in [
            ("14", Some(14)),
            (" 14 ", Some(14)),
            ("014", Some(14)),
            ("14.0", Some(14)),
            ("14.000", Some(14)),
            ("1.4e1", Some(14)),
            ("1.4E+1", Some(14)),
            ("140e-1", Some(14)),
            ("1e+16", Some(10_000_000_000_000_000)),
            ("-3.0", Some(-3)),
            ("9223372036854775807.0", Some(i64::MAX)),
            ("9223372036854775808.0", None),
            ("14.5", None),
            ("1.45e1", None),
            ("+14", None),
            ("14.", None), // not a JSON number, as for fees
            (".5", None),
            ("1e", None),
            ("e1", None),
            ("1.2.3", None),
            ("0x10", None),
            ("", None),
            ("1e999999", None),
        ] {
            assert_eq!(whole_number(text), expected, "{text:?}");
        }
        assert_eq!(id_text("210270.0"), Ok(210_270));
        assert!(id_text("0.0").is_err() && id_text("-1").is_err());
        assert_eq!(limit_param("5.0").ok(), Some(5));
    }

    #[test]
    fn whole_ids_spelled_as_fractions_or_exponents_become_integers() {
        let mut body = json_object(
            br#"{"id": 7.0, "services": [14.0, 1.5e1, {"id": 1.6E1, "name": 2.0}, "17.0", 18, 1.5, 1e30], "totalfee": 2.0}"#,
        )
        .unwrap();
        whole_ids_as_integers(&mut body);
        assert_eq!(
            Value::Object(body),
            json!({
                "id": 7, "services": [14, 15, {"id": 16, "name": 2.0}, "17.0", 18, 1.5, 1e30], "totalfee": 2.0
            })
        );
    }
}
