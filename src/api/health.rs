//! The operational routes: `GET /healthz` (the process answers), `GET /readyz` (the database
//! answers too) and `GET /openapi.json`, all unauthenticated, and `GET /metrics` (any role) over
//! the counters of `metrics`; the metrics listener renders them through [`prometheus_text`] too.

use std::time::Duration;

use serde_json::json;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;

use super::reply::{ApiResult, finish, json, with_status};
use super::request::{Req, req};
use super::state::AppState;
use crate::auth::Role;
use crate::error::Error;

/// The OpenAPI 3.1 document of every route.
pub const OPENAPI: &str = include_str!("openapi.json");

/// How long `/readyz` waits for the database before calling it unreachable.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// `/healthz`, `/readyz`, `/openapi.json`, `/metrics`.
pub fn routes(state: &AppState) -> BoxedFilter<(Response,)> {
    let healthz = warp::path!("healthz").and(req(state.clone())).then(healthz);
    let readyz = warp::path!("readyz").and(req(state.clone())).then(readyz);
    let openapi = warp::path!("openapi.json").and(req(state.clone())).then(openapi);
    healthz.or(readyz).unify().or(openapi).unify().or(metrics_route(state)).unify().boxed()
}

/// `GET /healthz`: 200 while the process runs.
async fn healthz(req: Req) -> Response {
    let result = req.only_get().and_then(|()| req.limit_by_address());
    finish("/healthz", result.and_then(|()| json(StatusCode::OK, &json!({ "status": "ok" }))))
}

/// `GET /readyz`: 200 when the database answers within [`READY_TIMEOUT`], else 503. Each call
/// asks the pool afresh, so it turns 200 again as soon as the database is back.
async fn readyz(req: Req) -> Response {
    finish("/readyz", ready(&req).await)
}

async fn ready(req: &Req) -> ApiResult {
    req.only_get()?;
    req.limit_by_address()?;
    match tokio::time::timeout(READY_TIMEOUT, req.state.store.ping()).await {
        Ok(Ok(())) => json(StatusCode::OK, &json!({ "status": "ready" })),
        Ok(Err(err)) => Err(Error::Unavailable(Box::new(err)).into()),
        Err(_) => Err(Error::Unavailable("the database did not answer in time".into()).into()),
    }
}

/// `GET /openapi.json`.
async fn openapi(req: Req) -> Response {
    let result = req.only_get().and_then(|()| req.limit_by_address());
    finish("/openapi.json", result.map(|()| with_status(StatusCode::OK, OPENAPI, "application/json")))
}

/// `GET /metrics`.
fn metrics_route(state: &AppState) -> BoxedFilter<(Response,)> {
    warp::path!("metrics").and(req(state.clone())).then(metrics).boxed()
}

async fn metrics(req: Req) -> Response {
    finish("/metrics", get(&req))
}

fn get(req: &Req) -> ApiResult {
    req.only_get()?;
    req.authorize(Role::Reader)?;
    prometheus_text(req)
}

/// The metrics as Prometheus text, 200.
pub(super) fn prometheus_text(req: &Req) -> ApiResult {
    let text = req.state.metrics.render(req.state.store.stats()).map_err(|e| Error::Internal(Box::new(e)))?;
    Ok(with_status(StatusCode::OK, text, super::metrics::CONTENT_TYPE))
}
