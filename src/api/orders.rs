//! `/orders`, `/orders/count`, `/orders/{id}` and `/orders/{id}/history`: reading, replacing,
//! patching and deleting orders, under the conditions of [`super::conditional`]. Listing and
//! counting live in [`listing`], creating (with idempotency keys) in [`create`], an order's
//! history in [`history`].

mod body;
mod create;
mod history;
mod listing;

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::{Method, StatusCode};
use warp::reply::Response;

use super::conditional::Condition;
use super::error::ApiError;
use super::reply::{self, ApiResult, finish, no_content};
use super::request::{Req, path_id, req};
use super::state::AppState;
use crate::auth::Role;
use crate::domain::input;
use crate::error::Error;
use body::checked;

/// Every order route.
pub fn routes(state: &AppState) -> BoxedFilter<(Response,)> {
    let collection = warp::path!("orders").and(req(state.clone())).then(collection);
    let count = warp::path!("orders" / "count").and(req(state.clone())).then(count_route);
    let one = warp::path!("orders" / String).and(req(state.clone())).then(one);
    let history = warp::path!("orders" / String / "history").and(req(state.clone())).then(history_route);
    collection.or(count).unify().or(one).unify().or(history).unify().boxed()
}

/// `GET /orders`, `POST /orders`.
async fn collection(req: Req) -> Response {
    let result = match req.method {
        Method::GET | Method::HEAD => listing::list(req).await,
        Method::POST => create::create(req).await,
        _ => Err(ApiError::MethodNotAllowed("GET, HEAD, POST")),
    };
    finish("/orders", result)
}

/// `GET`, `PUT`, `PATCH`, `DELETE /orders/{id}`.
async fn one(id: String, req: Req) -> Response {
    let result = match req.method {
        Method::GET | Method::HEAD => get(&id, &req).await,
        Method::PUT => update(&id, req, false).await,
        Method::PATCH => update(&id, req, true).await,
        Method::DELETE => delete(&id, &req).await,
        _ => Err(ApiError::MethodNotAllowed("GET, HEAD, PUT, PATCH, DELETE")),
    };
    finish("/orders/{id}", result)
}

/// `GET /orders/count`.
async fn count_route(req: Req) -> Response {
    let result = match req.method {
        Method::GET | Method::HEAD => listing::count(req).await,
        _ => Err(ApiError::MethodNotAllowed("GET, HEAD")),
    };
    finish("/orders/count", result)
}

/// `GET /orders/{id}/history`.
async fn history_route(id: String, req: Req) -> Response {
    let result = match req.method {
        Method::GET | Method::HEAD => history::page(&id, &req).await,
        _ => Err(ApiError::MethodNotAllowed("GET, HEAD")),
    };
    finish("/orders/{id}/history", result)
}

async fn get(id: &str, req: &Req) -> ApiResult {
    req.authorize(Role::Reader)?;
    let id = path_id("order", id)?;
    let order = req.state.store.get_order(id).await?;
    if Condition::if_none_match(&req.headers).names_current(order.version) {
        return Ok(reply::not_modified(&order));
    }
    reply::order(StatusCode::OK, &order)
}

/// `PUT` (a full replacement) or `PATCH` (a JSON merge patch).
async fn update(id: &str, mut req: Req, merge_patch: bool) -> ApiResult {
    let principal = req.authorize(Role::Writer)?;
    let body = req.json_object(merge_patch).await?;
    let id = path_id("order", id)?;
    let store = &req.state.store;
    let patch = checked(store, if merge_patch { input::patch(&body) } else { input::replacement(&body) }).await?;
    let condition = Condition::if_match(&req.headers);
    let order =
        conditional(&condition, id, |version| store.update_order(id, &patch, version, &principal.subject)).await?;
    reply::order(StatusCode::OK, &order)
}

async fn delete(id: &str, req: &Req) -> ApiResult {
    let principal = req.authorize(Role::Writer)?;
    let id = path_id("order", id)?;
    let condition = Condition::if_match(&req.headers);
    let store = &req.state.store;
    conditional(&condition, id, |version| store.delete_order(id, version, &principal.subject)).await?;
    Ok(no_content())
}

/// A version no order has (versions start at 1): a write asked for it checks everything a
/// write checks, in the order of docs/api.md, and then fails as stale without writing.
const NO_VERSION: i64 = 0;

/// Runs `write` (an update or a delete, which checks the version it is given in its own
/// transaction) under `If-Match`. The store takes one expected version, the header a set: the
/// write is tried with the lowest version the header names; when the order turns out to be at
/// another version the header also names (it moved on meanwhile, or the first guess was
/// wrong), it is tried again with that one. Versions only grow, so this ends within as many
/// tries as the header names versions.
async fn conditional<T, F, Fut>(condition: &Condition, id: i64, mut write: F) -> Result<T, ApiError>
where
    F: FnMut(Option<i64>) -> Fut,
    Fut: std::future::Future<Output = crate::error::Result<T>>,
{
    if matches!(condition, Condition::Absent | Condition::Any) {
        // `*` matches any existing order: the store answers 404 for a missing one.
        return Ok(write(None).await?);
    }
    let versions = condition.strong_versions();
    let mut expected = versions.first().copied().unwrap_or(NO_VERSION);
    loop {
        match write(Some(expected)).await {
            Err(Error::Stale { actual, .. }) if actual != expected && versions.contains(&actual) => expected = actual,
            Err(Error::Stale { actual, .. }) => return Err(precondition_failed(condition, id, actual)),
            other => return Ok(other?),
        }
    }
}

fn precondition_failed(condition: &Condition, id: i64, version: i64) -> ApiError {
    ApiError::PreconditionFailed { detail: condition.failure(id, version), current_version: version }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Runs [`conditional`] over a write that finds the order at each of `versions` in turn
    /// (it moves on between tries, then stays at the last); the versions the write was asked
    /// for, and the outcome.
    async fn run(if_match: &str, versions: &[i64]) -> (Vec<Option<i64>>, Result<i64, u16>) {
        let mut headers = warp::http::HeaderMap::new();
        headers.insert(warp::http::header::IF_MATCH, if_match.parse().unwrap());
        let condition = Condition::if_match(&headers);
        let asked = Mutex::new(Vec::new());
        let found = Mutex::new(versions.to_vec());
        let outcome = conditional(&condition, 7, |expected| {
            asked.lock().unwrap().push(expected);
            let mut found = found.lock().unwrap();
            let actual = if found.len() > 1 { found.remove(0) } else { found[0] };
            async move {
                match expected {
                    Some(expected) if expected != actual => Err(Error::Stale { id: 7, expected, actual }),
                    _ => Ok(actual),
                }
            }
        })
        .await;
        (asked.into_inner().unwrap(), outcome.map_err(|e| e.problem().status.as_u16()))
    }

    #[tokio::test]
    async fn a_list_is_tried_with_each_version_it_names_that_the_order_reaches() {
        assert_eq!(run("\"2\", \"5\"", &[5]).await, (vec![Some(2), Some(5)], Ok(5)), "the second guess");
        assert_eq!(run("\"2\", \"5\"", &[2]).await, (vec![Some(2)], Ok(2)), "the first guess");
        assert_eq!(run("\"2\", \"5\"", &[3]).await, (vec![Some(2)], Err(412)), "a version it does not name");
        assert_eq!(
            run("\"1\", \"2\", \"3\"", &[2, 3]).await,
            (vec![Some(1), Some(2), Some(3)], Ok(3)),
            "the order moved on between tries, to another named version"
        );
        assert_eq!(run("\"2\", \"3\"", &[3, 4]).await, (vec![Some(2), Some(3)], Err(412)), "moved past the list");
        assert_eq!(run("W/\"4\"", &[4]).await, (vec![Some(NO_VERSION)], Err(412)), "no strong tag: never written");
        assert_eq!(run("*", &[4]).await, (vec![None], Ok(4)), "any version");
    }
}
