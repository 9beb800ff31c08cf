//! How to open a store: [`StoreOptions`] (the configuration builds them: `config.rs`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Pool size.
    pub max_connections: u32,
    /// Apply pending migrations on open.
    pub auto_migrate: bool,
    /// The scheduling rule's minimum gap for a database that holds none yet (a new one); a
    /// database that holds one keeps it (see [`Store::rule_notice`](super::Store::rule_notice)).
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

/// SQLite's `PRAGMA synchronous` in WAL mode (`database.sqlite_synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    /// Every commit is synced to disk before it is acknowledged.
    Full,
    /// Commits are synced at checkpoints only: faster, and a power loss can drop the last ones.
    Normal,
}
