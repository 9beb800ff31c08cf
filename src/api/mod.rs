//! The JSON HTTP API (`orders serve`): the route tree, the shared state, the per-request log
//! line, request id and metrics, and [`serve`] over a pre-bound listener with graceful shutdown
//! ([`serve_with_metrics_listener`] adds the unauthenticated metrics listener beside it).
//!
//! Each route matches its path first and then answers every method itself (405 with `Allow`
//! for the others), so an unknown path is 404, a wrong method 405, and authentication runs
//! only after both matched. Handlers run their checks in the precedence order of docs/api.md (see
//! [`request`]); the one root recover renders what warp itself rejects.

mod auth;
mod conditional;
pub mod error;
mod events;
mod health;
mod metrics;
mod metrics_listener;
mod orders;
mod rate_limit;
pub mod reply;
pub mod request;
mod server;
mod services;
mod state;

use std::future::Future;
use std::time::Instant;

use futures_util::FutureExt as _;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::header::HeaderName;
use warp::http::{HeaderValue, Method};
use warp::path::FullPath;
use warp::reply::Response;

pub use health::OPENAPI;
pub use metrics::Metrics;
pub use rate_limit::RateLimit;
pub use server::bind;
pub use state::AppState;

/// The target of the one log line per request: `RUST_LOG=orders::api=warn` leaves it out.
pub const REQUEST_TARGET: &str = "orders::api::request";

/// The request id header (echoed, or generated when absent or unprintable), as text and as a name.
const REQUEST_ID_HEADER: &str = "x-request-id";
const REQUEST_ID: HeaderName = HeaderName::from_static(REQUEST_ID_HEADER);

/// Every route, recovered, with the request id, the log line and the metrics around it.
pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let api = orders::routes(&state)
        .or(services::routes(&state))
        .unify()
        .or(events::routes(&state))
        .unify()
        .or(auth::routes(&state))
        .unify()
        .or(health::routes(&state))
        .unify()
        .recover(error::recover)
        .unify();
    let metrics = state.metrics.clone();
    let request_id = warp::header::value(REQUEST_ID_HEADER).map(Some).or(warp::any().map(|| None)).unify();
    warp::any()
        .map(Instant::now)
        .and(warp::method())
        .and(warp::path::full())
        .and(request_id)
        .and(api)
        .map(move |start: Instant, method: Method, path: FullPath, id: Option<HeaderValue>, response: Response| {
            observe(&metrics, start, &method, &path, id.as_ref(), response)
        })
        .boxed()
}

/// Echoes or generates the request id, logs the one line and counts the request.
fn observe(
    metrics: &Metrics,
    start: Instant,
    method: &Method,
    path: &FullPath,
    given_id: Option<&HeaderValue>,
    mut response: Response,
) -> Response {
    let request_id = given_id
        .and_then(|v| v.to_str().ok())
        .filter(|id| !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), ToOwned::to_owned);
    reply::set_header(&mut response, REQUEST_ID, &request_id);
    let route = response.extensions().get::<reply::RouteLabel>().map_or("unmatched", |label| label.0);
    let latency = start.elapsed();
    metrics.record(route, method, response.status(), latency);
    let status = response.status().as_u16();
    let latency_ms = latency.as_secs_f64() * 1000.0;
    let (method, path) = (method.as_str(), path.as_str());
    let request_id = request_id.as_str();
    tracing::info!(target: REQUEST_TARGET, method, route, path, status, latency_ms, request_id, "request");
    response
}

/// Serves the API on `listener` until `shutdown` resolves, then lets in-flight requests
/// finish for at most `server.shutdown_grace` and cuts what remains (see [`server`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    serve_with_metrics_listener(listener, None, state, shutdown).await;
}

/// [`serve`], and, when `metrics_listener` is given, the metrics alone on it without a token
/// (see [`metrics_listener`]); both stop accepting when `shutdown` resolves and drain within the
/// same `server.shutdown_grace`. Returns once both are closed.
pub async fn serve_with_metrics_listener(
    listener: tokio::net::TcpListener,
    metrics_listener: Option<tokio::net::TcpListener>,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let signal = async move {
        shutdown.await;
        tracing::info!(target: "orders::api", "shutting down: draining in-flight requests");
    }
    .shared();
    let api = server::run(listener, routes(state.clone()), &state.limits, signal.clone());
    match metrics_listener {
        None => api.await,
        Some(metrics) => {
            tokio::join!(api, metrics_listener::run(metrics, &state, signal));
        }
    }
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is called, not when the
/// future is first polled, so a signal that arrives as soon as the server says it listens is
/// never the default "terminate at once".
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            match (interrupt, terminate) {
                (Ok(mut interrupt), Ok(mut terminate)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = terminate.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
