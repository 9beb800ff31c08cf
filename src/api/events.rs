//! `GET /events`: the change feed — history events after a `seq`, ascending, paged by `limit`.

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::{Method, StatusCode};
use warp::reply::Response;

use super::AppState;
use super::error::ApiError;
use super::reply::{ApiResult, finish, json};
use super::request::{Req, limit_param, req};
use crate::auth::Role;

/// The page of events when `limit` is not given.
const DEFAULT_LIMIT: u32 = 100;

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
    let (mut after, mut limit) = (0_i64, DEFAULT_LIMIT);
    for (name, value) in req.query_params(&["after", "limit"])? {
        if name == "after" {
            after = value.parse().ok().filter(|n| *n >= 0).ok_or_else(|| {
                ApiError::BadRequest(format!("query parameter after: must be an integer ≥ 0, not {value:?}"))
            })?;
        } else {
            limit = limit_param(&value)?;
        }
    }
    json(StatusCode::OK, &req.state.store.events(after, limit).await?)
}
