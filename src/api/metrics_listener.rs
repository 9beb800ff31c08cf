//! The routes of the metrics listener (`server.metrics_addr`): `GET /metrics` with no token, so
//! that a Prometheus scraper needs no long-lived access token, and nothing else: every other
//! path is 404, every other method on `/metrics` 405 — no business route, no OpenAPI document,
//! no token endpoint, no health check. The same text as the main listener's authenticated
//! `GET /metrics`, limited per client address like the other routes without a token.
//!
//! It runs in the accept loop of [`super::server`], with the main listener's header timeout,
//! write stall and shutdown drain, and its own connection cap of [`MAX_CONNECTIONS`]. Scrapes
//! are neither logged nor counted: a scraper polls forever at a fixed rate, and Prometheus
//! records each scrape's success itself (`up`).

use std::future::Future;

use tokio::net::TcpListener;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::error;
use super::health::prometheus_text;
use super::reply::finish;
use super::request::{Req, req};
use super::server;
use super::state::AppState;
use crate::config::ServerConfig;

/// Connections open at once on the metrics listener (at most `server.max_connections`): room
/// for a few scrapers, while a client that opens many cannot take more of the process's file
/// descriptors than this. Beyond it new connections wait in the kernel's queue.
pub const MAX_CONNECTIONS: usize = 64;

/// Serves the metrics on `listener` until `shutdown` resolves, then drains like the main
/// listener.
pub async fn run(listener: TcpListener, state: &AppState, shutdown: impl Future<Output = ()>) {
    server::run(listener, routes(state), &limits(&state.limits), shutdown).await;
}

/// The main listener's limits, with [`MAX_CONNECTIONS`].
fn limits(main: &ServerConfig) -> ServerConfig {
    ServerConfig { max_connections: main.max_connections.min(MAX_CONNECTIONS), ..main.clone() }
}

/// `GET /metrics`, and 404 for every other path.
fn routes(state: &AppState) -> BoxedFilter<(Response,)> {
    warp::path!("metrics").and(req(state.clone())).then(scrape).recover(error::recover).unify().boxed()
}

async fn scrape(req: Req) -> Response {
    let result = req.only_get().and_then(|()| req.limit_by_address()).and_then(|()| prometheus_text(&req));
    finish("/metrics", result)
}
