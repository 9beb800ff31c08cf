//! `/orders`, `/orders/{id}` and `/orders/{id}/history`: reading, replacing, patching and
//! deleting orders. Listing lives in [`listing`], creating (with idempotency keys) in
//! [`create`], an order's history in [`history`].

mod create;
mod history;
mod listing;

use serde_json::{Map, Value};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::{Method, StatusCode};
use warp::reply::Response;

use super::AppState;
use super::error::ApiError;
use super::reply::{self, ApiResult, finish, no_content};
use super::request::{Req, path_id, req};
use crate::auth::Role;
use crate::domain::{FieldError, input};
use crate::error::Error;
use crate::store::Store;

/// Every order route.
pub fn routes(state: &AppState) -> BoxedFilter<(Response,)> {
    let collection = warp::path!("orders").and(req(state.clone())).then(collection);
    let one = warp::path!("orders" / String).and(req(state.clone())).then(one);
    let history = warp::path!("orders" / String / "history").and(req(state.clone())).then(history_route);
    collection.or(one).unify().or(history).unify().boxed()
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

/// `GET /orders/{id}/history`.
async fn history_route(id: String, req: Req) -> Response {
    let result = match req.method {
        Method::GET | Method::HEAD => history::page(&id, &req).await,
        _ => Err(ApiError::MethodNotAllowed("GET, HEAD")),
    };
    finish("/orders/{id}/history", result)
}

/// A body the domain read, or every field error at once: unknown services (which only the
/// store knows) beside the domain's own.
async fn checked<T>(store: &Store, body: &Map<String, Value>, parsed: Result<T, Vec<FieldError>>) -> Result<T, Error> {
    match parsed {
        Ok(value) => Ok(value),
        Err(errors) => Err(store.invalid(errors, input::service_ids(body).as_deref()).await),
    }
}

async fn get(id: &str, req: &Req) -> ApiResult {
    req.authorize(Role::Reader)?;
    let id = path_id("order", id)?;
    let order = req.state.store.get_order(id).await?;
    reply::order(StatusCode::OK, &order)
}

/// `PUT` (a full replacement) or `PATCH` (a JSON merge patch).
async fn update(id: &str, mut req: Req, merge_patch: bool) -> ApiResult {
    let principal = req.authorize(Role::Writer)?;
    let body = req.json_object(merge_patch).await?;
    let id = path_id("order", id)?;
    let store = &req.state.store;
    let patch =
        checked(store, &body, if merge_patch { input::patch(&body) } else { input::replacement(&body) }).await?;
    let if_version = req.if_match();
    let order = if patch.is_empty() {
        // An empty merge patch changes nothing: no new version, no history event.
        let order = store.get_order(id).await?;
        match if_version {
            Some(expected) if expected != order.version => {
                return Err(Error::Stale { id, expected, actual: order.version }.into());
            }
            _ => order,
        }
    } else {
        store.update_order(id, &patch, if_version, &principal.subject).await?
    };
    reply::order(StatusCode::OK, &order)
}

async fn delete(id: &str, req: &Req) -> ApiResult {
    let principal = req.authorize(Role::Writer)?;
    let id = path_id("order", id)?;
    req.state.store.delete_order(id, req.if_match(), &principal.subject).await?;
    Ok(no_content())
}
