//! `orders serve`: opens the store, checks the signing secret, binds the address and runs the
//! HTTP API until SIGINT or SIGTERM, draining in-flight requests within `server.shutdown_grace`.

use anyhow::Context as _;

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
    let local = listener.local_addr().context("the listener has no address")?;
    eprintln!("orders: listening on http://{local}");
    let state = AppState::new(store.clone(), tokens, config.server.clone());
    api::serve(listener, state, shutdown).await;
    store.close().await;
    crate::logging::finish(); // the last request lines, before the line that says it stopped
    eprintln!("orders: stopped");
    Ok(())
}
