//! `GET /events`: the change feed — history events after a `seq`, ascending, paged by `limit`;
//! also the `after`/`limit` parameters an order's history is paged by.

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::{Method, StatusCode};
use warp::reply::Response;

use super::error::ApiError;
use super::reply::{ApiResult, finish, json};
use super::request::{Req, limit_param, req, whole_number};
use super::state::AppState;
use crate::auth::Role;

/// The page of events when `limit` is not given.
pub(super) const DEFAULT_LIMIT: u32 = 100;

/// `GET /events`.
pub fn routes(state: &AppState) -> BoxedFilter<(Response,)> {
    warp::path!("events").and(req(state.clone())).then(events).boxed()
}

async fn events(req: Req) -> Response {
    let result = match req.method {
        Method::GET | Method::HEAD => feed(&req).await,
        _ => Err(ApiError::MethodNotAllowed("GET, HEAD")),
    };
    finish("/events", result)
}

async fn feed(req: &Req) -> ApiResult {
    req.authorize(Role::Reader)?;
    let (after, limit) = seq_page(req)?;
    json(StatusCode::OK, &req.state.store.events(after, limit).await?)
}

/// `after` (a `seq`, default 0) and `limit` (1–1000, default [`DEFAULT_LIMIT`]), the only
/// query parameters of a route paged by `seq`.
///
/// # Errors
/// 400 for any other parameter or a malformed value.
pub(super) fn seq_page(req: &Req) -> Result<(i64, u32), ApiError> {
    let (mut after, mut limit) = (0_i64, DEFAULT_LIMIT);
    for (name, value) in req.query_params(&["after", "limit"])? {
        if name == "after" {
            after = whole_number(&value).filter(|n| *n >= 0).ok_or_else(|| {
                ApiError::BadRequest(format!("query parameter after: must be an integer ≥ 0, not {value:?}"))
            })?;
        } else {
            limit = limit_param(&value)?;
        }
    }
    Ok((after, limit))
}
