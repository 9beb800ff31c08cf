//! `POST /orders`, with `Idempotency-Key`: a repeat of a completed request (same subject, key
//! and body) gets the first response again and writes nothing; the same key with another
//! body is 422 `idempotency-mismatch`. The key is kept in the store (see
//! `store::idempotency`), so replays survive restarts and hold across servers.

use warp::http::StatusCode;

use crate::api::error::ApiError;
use crate::api::reply::{self, ApiResult, replay};
use crate::api::request::Req;
use crate::auth::{Role, sha256_hex};
use crate::domain::{Order, input};
use crate::error::Error;
use crate::store::{CreateOnce, IdempotencyKey, StoredResponse};

/// The longest accepted `Idempotency-Key`.
const MAX_KEY_LEN: usize = 255;

/// `POST /orders`.
pub(super) async fn create(mut req: Req) -> ApiResult {
    let principal = req.authorize(Role::Writer)?;
    let body = req.json_object(false).await?;
    let key = match req.header("idempotency-key") {
        None if req.headers.contains_key("idempotency-key") => {
            return Err(ApiError::BadRequest("Idempotency-Key must be printable ASCII".to_owned()));
        }
        None => None,
        Some(key) if key.is_empty() || key.len() > MAX_KEY_LEN => {
            return Err(ApiError::BadRequest(format!("Idempotency-Key must be 1 to {MAX_KEY_LEN} characters")));
        }
        Some(key) => Some(IdempotencyKey {
            subject: principal.subject.clone(),
            key: key.to_owned(),
            // The body's canonical text (keys sorted), so a repeat with its keys reordered is the same.
            request_hash: sha256_hex(&serde_json::to_string(&body).map_err(|e| Error::Internal(e.to_string()))?),
        }),
    };
    let store = &req.state.store;
    let Some(key) = key else {
        let new = match input::new_order(&body) {
            Ok(new) => new,
            Err(errors) => return Err(store.invalid(errors, input::service_ids(&body).as_deref()).await.into()),
        };
        let order = store.create_order(&new, &principal.subject).await?;
        return Ok(replay(&stored_created(&order)));
    };
    if let Some(earlier) = store.find_idempotency_key(&key.subject, &key.key).await? {
        return replay_or_mismatch(&key, &earlier.request_hash, &earlier.response);
    }
    let outcome = match input::new_order(&body) {
        Ok(new) => store.create_order_once(&new, &principal.subject, &key, stored_created).await,
        Err(errors) => Err(store.invalid(errors, input::service_ids(&body).as_deref()).await),
    };
    match outcome {
        Ok(CreateOnce::Created(response)) => Ok(replay(&response)),
        Ok(CreateOnce::Replayed(earlier)) => replay_or_mismatch(&key, &earlier.request_hash, &earlier.response),
        Err(err) => {
            let err = ApiError::App(err);
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
    }
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
