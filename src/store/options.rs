//! How to open a store: [`StoreOptions`], which the configuration builds.

use std::time::Duration;

use crate::config::{Config, SqliteSynchronous};

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Pool size.
    pub max_connections: u32,
    /// Apply pending migrations on open.
    pub auto_migrate: bool,
    /// The scheduling rule's minimum gap for a database that holds none yet (a new one); a
    /// database that holds one keeps it (see [`Store::rule_notice`]).
    pub min_gap: Duration,
    /// How long a write waits for the write lock (zero: as long as it takes).
    pub lock_timeout: Duration,
    /// How long a statement may run, and a session sit idle in a transaction (PostgreSQL;
    /// zero: no bound).
    pub statement_timeout: Duration,
    /// SQLite's `synchronous` setting: `Full` (a committed write survives a power loss) or
    /// `Normal` (it may not; faster).
    pub sqlite_synchronous: SqliteSynchronous,
}

impl StoreOptions {
    /// The options a configuration asks for.
    pub fn from_config(config: &Config) -> Self {
        Self {
            max_connections: config.database.max_connections.max(1),
            auto_migrate: config.database.auto_migrate,
            min_gap: config.rules.min_gap,
            lock_timeout: config.database.lock_timeout,
            statement_timeout: config.database.statement_timeout,
            sqlite_synchronous: config.database.sqlite_synchronous,
        }
    }
}

impl Default for StoreOptions {
    /// The documented defaults (`orders.toml`).
    fn default() -> Self {
        Self {
            max_connections: 8,
            auto_migrate: true,
            min_gap: Duration::from_secs(3 * 3600),
            lock_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
            sqlite_synchronous: SqliteSynchronous::Full,
        }
    }
}
