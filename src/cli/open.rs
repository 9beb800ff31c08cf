//! Opening the configured store for a command, and saying once per process that the configured
//! minimum gap is not the one the database holds.

use crate::config::Config;
use crate::store::{Store, StoreOptions};

/// Opens the configured store.
///
/// # Errors
/// When the URL is invalid or the database unreachable.
pub(super) async fn open_store(config: &Config) -> crate::Result<Store> {
    let store = Store::connect(config.database.url.expose(), &StoreOptions::from_config(config)).await?;
    warn_once(&store);
    Ok(store)
}

/// Says on stderr, once per process, that the configured minimum gap is not the database's.
fn warn_once(store: &Store) {
    static WARNED: std::sync::Once = std::sync::Once::new();
    if let Some(notice) = store.rule_notice() {
        WARNED.call_once(|| eprintln!("orders: {notice}"));
    }
}

/// Runs `command` on the store opened for one script command, then closes the store, whatever
/// the command returned.
///
/// # Errors
/// When the store cannot be opened; else what `command` returned.
pub(super) async fn with_command_store<T, E: From<crate::Error>>(
    config: &Config,
    command: impl AsyncFnOnce(&Store) -> Result<T, E>,
) -> Result<T, E> {
    let store = open_store(config).await?;
    let result = command(&store).await;
    store.close().await;
    result
}
