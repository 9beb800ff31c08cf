//! `/services` and `/services/{id}`: the catalogue. Reading needs `reader`; adding, renaming
//! and deleting need `admin`.

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::header::LOCATION;
use warp::http::{Method, StatusCode};
use warp::reply::Response;

use super::error::ApiError;
use super::reply::{ApiResult, finish, json, no_content, set_header};
use super::request::{Req, path_id, req};
use super::state::AppState;
use crate::auth::Role;
use crate::domain::input;
use crate::error::Error;

/// Every service route.
pub fn routes(state: &AppState) -> BoxedFilter<(Response,)> {
    let collection = warp::path!("services").and(req(state.clone())).then(collection);
    let one = warp::path!("services" / String).and(req(state.clone())).then(one);
    collection.or(one).unify().boxed()
}

/// `GET /services`, `POST /services`.
async fn collection(req: Req) -> Response {
    let result = match req.method {
        Method::GET | Method::HEAD => list(&req).await,
        Method::POST => add(req).await,
        _ => Err(ApiError::MethodNotAllowed("GET, HEAD, POST")),
    };
    finish("/services", result)
}

/// `GET`, `PUT`, `DELETE /services/{id}`.
async fn one(id: String, req: Req) -> Response {
    let result = match req.method {
        Method::GET | Method::HEAD => get(&id, &req).await,
        Method::PUT => rename(&id, req).await,
        Method::DELETE => delete(&id, &req).await,
        _ => Err(ApiError::MethodNotAllowed("GET, HEAD, PUT, DELETE")),
    };
    finish("/services/{id}", result)
}

async fn list(req: &Req) -> ApiResult {
    req.authorize(Role::Reader)?;
    json(StatusCode::OK, &req.state.store.list_services().await?)
}

async fn get(id: &str, req: &Req) -> ApiResult {
    req.authorize(Role::Reader)?;
    let id = path_id("service", id)?;
    json(StatusCode::OK, &req.state.store.get_service(id).await?)
}

async fn add(mut req: Req) -> ApiResult {
    req.authorize(Role::Admin)?;
    let body = req.json_object(false).await?;
    let (id, name) = input::service(&body, true).map_err(Error::Invalid)?;
    let service = req.state.store.add_service(id, &name).await?;
    let mut response = json(StatusCode::CREATED, &service)?;
    set_header(&mut response, LOCATION, &format!("/services/{}", service.id));
    Ok(response)
}

async fn rename(id: &str, mut req: Req) -> ApiResult {
    req.authorize(Role::Admin)?;
    let body = req.json_object(false).await?;
    let id = path_id("service", id)?;
    let (_, name) = input::service(&body, false).map_err(Error::Invalid)?;
    json(StatusCode::OK, &req.state.store.rename_service(id, &name).await?)
}

async fn delete(id: &str, req: &Req) -> ApiResult {
    req.authorize(Role::Admin)?;
    let id = path_id("service", id)?;
    req.state.store.delete_service(id).await?;
    Ok(no_content())
}
