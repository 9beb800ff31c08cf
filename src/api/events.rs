//! `GET /events`: the change feed — history events after a `seq`, ascending, paged by `limit`.

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::{Method, StatusCode};
use warp::reply::Response;

use super::AppState;
use super::error::ApiError;
use super::reply::{ApiResult, finish, json};
use super::request::{Req, req};
use crate::auth::Role;

/// The default and the largest page of events.
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

/// `GET /events`.
pub fn routes(state: &AppState) -> BoxedFilter<(Response,)> {
    warp::path!("events").and(req(state.clone())).then(events).boxed()
}

async fn events(req: Req) -> Response {
    let result = match req.method {
        Method::GET => feed(&req).await,
        _ => Err(ApiError::MethodNotAllowed("GET")),
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
            limit = value.parse().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| {
                ApiError::BadRequest(format!("query parameter limit: must be from 1 to {MAX_LIMIT}, not {value:?}"))
            })?;
        }
    }
    json(StatusCode::OK, &req.state.store.events(after, limit).await?)
}
