//! What every handler shares: the store, the token keys, the limits, the metrics and the
//! stream and rate limits.

use std::sync::Arc;

use super::metrics::Metrics;
use super::rate_limit::RateLimit;
use crate::auth::Tokens;
use crate::config::ServerConfig;
use crate::store::Store;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The store.
    pub store: Store,
    /// Token minting and checking.
    pub tokens: Arc<Tokens>,
    /// The server's limits (`[server]`).
    pub limits: Arc<ServerConfig>,
    /// Request counters and latency histograms.
    pub metrics: Arc<Metrics>,
    /// One permit per streamed `GET /orders` that may run at once (`server.max_streams`).
    pub streams: Arc<tokio::sync::Semaphore>,
    /// Requests per client (`server.rate_limit`).
    pub rate_limit: Arc<RateLimit>,
}

impl AppState {
    /// State over `store`, signing with `tokens`, within `limits`.
    pub fn new(store: Store, tokens: Tokens, limits: ServerConfig) -> Self {
        let streams = limits.max_streams.min(tokio::sync::Semaphore::MAX_PERMITS);
        let streams = Arc::new(tokio::sync::Semaphore::new(streams));
        let rate_limit = Arc::new(RateLimit::new(limits.rate_limit));
        Self {
            store,
            tokens: Arc::new(tokens),
            limits: Arc::new(limits),
            metrics: Arc::new(Metrics::default()),
            streams,
            rate_limit,
        }
    }

    /// Largest accepted body, bytes.
    pub fn body_limit(&self) -> u64 {
        self.limits.body_limit.as_u64()
    }
}
