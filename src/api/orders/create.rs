//! `POST /orders`, with `Idempotency-Key`: a repeat of a completed request (same subject, key
//! and body) gets the first response again and writes nothing; the same key with another
//! body is 422 `idempotency-mismatch`. The key is kept in the store (see
//! `store::idempotency`), so replays survive restarts and hold across servers.

use serde_json::{Map, Value};
use warp::http::StatusCode;

use super::body::checked;
use crate::api::error::ApiError;
use crate::api::reply::{self, ApiResult, replay};
use crate::api::request::{Req, json_object};
use crate::auth::{Role, sha256_hex};
use crate::domain::{Order, input};
use crate::error::Error;
use crate::store::{CreateOnce, IdempotencyKey, StoredResponse};

/// The longest accepted `Idempotency-Key`.
const MAX_KEY_LEN: usize = 255;

/// `POST /orders`.
pub(super) async fn create(mut req: Req) -> ApiResult {
    let principal = req.authorize(Role::Writer)?;
    let key = idempotency_key(&req);
    let body = req.json_body(false).await;
    // docs/api.md, which error wins: the body's 415 and 413 before a malformed key's 400.
    let (key, body) = match (key, body) {
        (Ok(key), body) => (key, body),
        (Err(_), Err(refused)) => return Err(refused),
        (Err(malformed), Ok(_)) => return Err(malformed),
    };
    let store = &req.state.store;
    let Some(key) = key else {
        let body = json_object(&body?)?;
        let new = checked(store, input::new_order(&body)).await?;
        let order = store.create_order(&new, &principal.subject).await?;
        return Ok(replay(&stored_created(&order)));
    };
    let (body, request_hash) = parse_and_hash(body)?;
    let key = IdempotencyKey { subject: principal.subject.clone(), key, request_hash };
    if let Some(earlier) = store.find_idempotency_key(&key.subject, &key.key).await? {
        return replay_or_mismatch(&key, &earlier.request_hash, &earlier.response);
    }
    let err = match body {
        // A body refused as such (415, 413, 400) is a completed response too.
        Err(refused) => refused,
        Ok(body) => {
            let created = match checked(store, input::new_order(&body)).await {
                Ok(new) => store.create_order_once(&new, &principal.subject, &key, stored_created).await,
                Err(invalid) => Err(invalid),
            };
            match created {
                Ok(CreateOnce::Created(response)) => return Ok(replay(&response)),
                Ok(CreateOnce::Replayed(earlier)) => {
                    return replay_or_mismatch(&key, &earlier.request_hash, &earlier.response);
                }
                Err(err) => ApiError::App(err),
            }
        }
    };
    let problem = err.problem();
    if problem.status.is_server_error() {
        return Err(err);
    }
    // A completed refusal is remembered too, unless another request got there first.
    match store.remember_response(&key, &problem.to_stored()).await? {
        Some(earlier) => replay_or_mismatch(&key, &earlier.request_hash, &earlier.response),
        None => Err(err),
    }
}

/// The `Idempotency-Key` header, if any.
///
/// # Errors
/// 400 for a key that is not 1 to [`MAX_KEY_LEN`] printable ASCII characters.
fn idempotency_key(req: &Req) -> Result<Option<String>, ApiError> {
    match req.header("idempotency-key") {
        None if req.headers.contains_key("idempotency-key") => {
            Err(ApiError::BadRequest("Idempotency-Key must be printable ASCII".to_owned()))
        }
        None => Ok(None),
        Some(key) if key.is_empty() || key.len() > MAX_KEY_LEN => {
            Err(ApiError::BadRequest(format!("Idempotency-Key must be 1 to {MAX_KEY_LEN} characters")))
        }
        Some(key) => Ok(Some(key.to_owned())),
    }
}

/// A request body read as a JSON object, or why it is not one.
type Body = Result<Map<String, Value>, ApiError>;

/// The body as a JSON object, and what tells a repeat from another request under one key:
/// the object's canonical text (keys sorted, so a repeat with its keys reordered is the
/// same), else the bytes that are not one, else the refusal of a body never read (415, 413).
fn parse_and_hash(body: Result<Vec<u8>, ApiError>) -> Result<(Body, String), ApiError> {
    let (parsed, text) = match body {
        Ok(bytes) => match json_object(&bytes) {
            Ok(map) => {
                let canonical = serde_json::to_vec(&map).map_err(|e| Error::Internal(e.into()))?;
                (Ok(map), canonical)
            }
            Err(refused) => (Err(refused), [b"not an object: ".as_slice(), &bytes].concat()),
        },
        Err(refused) => {
            let text = format!("refused: {}", refused.problem().body).into_bytes();
            (Err(refused), text)
        }
    };
    Ok((parsed, sha256_hex(&text)))
}

fn replay_or_mismatch(key: &IdempotencyKey, first_hash: &str, response: &StoredResponse) -> ApiResult {
    if first_hash == key.request_hash {
        Ok(replay(response))
    } else {
        Err(ApiError::IdempotencyMismatch(key.key.clone()))
    }
}

/// The 201 with `Location` and `ETag`, as the idempotency store keeps it and as it is sent
/// whether or not a key asked to remember it.
fn stored_created(order: &Order) -> StoredResponse {
    StoredResponse {
        status: StatusCode::CREATED.as_u16(),
        headers: vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("location".to_owned(), format!("/orders/{}", order.id)),
            ("etag".to_owned(), reply::etag(order)),
        ],
        body: serde_json::to_string(order).unwrap_or_default(),
    }
}
