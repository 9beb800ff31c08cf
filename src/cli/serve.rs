//! `orders serve`: opens the store, checks the signing secret, binds the address (and the
//! metrics listener's, when `server.metrics_addr` is set) and runs the HTTP API until SIGINT or
//! SIGTERM, draining in-flight requests within `server.shutdown_grace`.

use anyhow::Context as _;
use tokio::net::TcpListener;

use crate::api::{self, AppState};
use crate::auth::{self, Tokens};
use crate::config::Config;

/// Runs the server; returns once it has shut down.
///
/// # Errors
/// A secret shorter than 32 bytes, an unreachable database, an address that cannot be bound.
pub async fn run(config: &Config, addr: Option<&str>) -> anyhow::Result<()> {
    let shutdown = api::shutdown_signal();
    let tokens = Tokens::new(&auth::load_secret(config)?, &config.auth)?;
    let store = super::open::open_store(config).await?;
    let addr = addr.unwrap_or(&config.server.addr);
    let listener = api::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    let metrics_listener = match config.server.metrics_addr.as_deref() {
        Some(metrics_addr) => Some(
            api::bind(metrics_addr)
                .await
                .with_context(|| format!("cannot listen on {metrics_addr} (server.metrics_addr)"))?,
        ),
        None => None,
    };
    eprintln!("orders: listening on http://{}", address(&listener)?);
    match &metrics_listener {
        Some(metrics) => eprintln!("orders: metrics without a token on http://{}/metrics", address(metrics)?),
        None => eprintln!("orders: no metrics listener (server.metrics_addr is unset); /metrics needs a token"),
    }
    let state = AppState::new(store.clone(), tokens, config.server.clone());
    api::serve_with_metrics_listener(listener, metrics_listener, state, shutdown).await;
    store.close().await;
    crate::logging::finish(); // the last request lines, before the line that says it stopped
    eprintln!("orders: stopped");
    Ok(())
}

/// The address a listener is bound to (the port chosen, for port 0).
fn address(listener: &TcpListener) -> anyhow::Result<std::net::SocketAddr> {
    listener.local_addr().context("the listener has no address")
}
