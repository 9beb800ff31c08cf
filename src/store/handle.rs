//! The [`Store`] handle every store module adds its methods to, the [`Backend`] it talks to,
//! and the statistics it reports. Its fields are the store's own (`pub(super)`): the modules
//! beside this one read them; nothing outside `store/` can.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{AnyPool, Executor as _};

use super::options::SqliteSynchronous;
use super::session::Bounds;
use super::{lookup_queue, reader};
use crate::error::{Error, Result};

/// The most rows one purge of expired records (refresh tokens, idempotency keys) deletes: it
/// runs inside a write, under the write lock, so its cost stays bounded however many records
/// expired at once; each write that purges adds one record and removes up to this many, so the
/// backlog drains.
pub(super) const PURGE_BATCH: i64 = 1000;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Backend {
    /// Picks the backend from a database URL's scheme.
    ///
    /// # Errors
    /// [`Error::Invalid`] for any other scheme.
    pub fn from_url(url: &str) -> Result<Self> {
        match url.split_once(':').map(|(scheme, _)| scheme) {
            Some("sqlite") => Ok(Self::Sqlite),
            Some("postgres" | "postgresql") => Ok(Self::Postgres),
            _ => Err(Error::invalid(
                "database.url",
                "must start with sqlite:// or postgres:// (e.g. sqlite://orders.db)",
            )),
        }
    }
}

/// What [`Store::stats`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreStats {
    /// Connections open in the pool.
    pub open: u32,
    /// Of those, idle.
    pub idle: usize,
    /// Orders looked up by id since the store opened.
    pub lookups: u64,
    /// Statements that answered those lookups (several lookups share one under load).
    pub lookup_statements: u64,
}

/// A handle on the order store; cheap to clone (the pool is shared).
#[derive(Debug, Clone)]
pub struct Store {
    pub(super) pool: AnyPool,
    /// Connections for single reads, outside the pool between uses (see `reader`).
    pub(super) readers: Arc<reader::Stash>,
    /// Lookups of one order by id, queued to share statements (see `lookups`).
    pub(super) lookups: Arc<lookup_queue::Lookups>,
    /// Queues this process's SQLite writers (see [`Store::begin_write`]).
    pub(super) write_gate: Arc<tokio::sync::Mutex<()>>,
    pub(super) backend: Backend,
    /// How to open a connection of PostgreSQL's own driver (an import's COPY needs one).
    pub(super) postgres: Option<Arc<PgConnectOptions>>,
    /// The gap a database that holds no rule yet is given (see `rules`).
    pub(super) configured_gap: Duration,
    /// Said once when the configured gap is not the one the database holds.
    pub(super) rule_notice: Option<Arc<str>>,
    /// The bounds on waiting for the database (see `session`).
    pub(super) bounds: Bounds,
    /// SQLite's `synchronous` for every connection.
    pub(super) synchronous: SqliteSynchronous,
}

impl Store {
    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// What to tell whoever opened the store when the configured minimum gap is not the one
    /// the database holds (which the store follows); `None` when they agree.
    pub fn rule_notice(&self) -> Option<&str> {
        self.rule_notice.as_deref()
    }

    /// Checks that the database answers (for `/readyz`).
    ///
    /// # Errors
    /// [`Error::Unavailable`] when it does not.
    pub async fn ping(&self) -> Result<()> {
        self.pool.execute("SELECT 1").await?;
        Ok(())
    }

    /// Gauges and counters of the store's connections and lookups, for the metrics.
    pub fn stats(&self) -> StoreStats {
        let (lookups, lookup_statements) = self.lookups.counts();
        StoreStats { open: self.pool.size(), idle: self.pool.num_idle(), lookups, lookup_statements }
    }

    /// Closes every connection, waiting for those in use to come back.
    pub async fn close(&self) {
        self.readers.close().await;
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backend_is_picked_by_the_url_scheme() {
        assert_eq!(Backend::from_url("sqlite://orders.db").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::from_url("postgres://u@h/db").unwrap(), Backend::Postgres);
        assert_eq!(Backend::from_url("postgresql://u@h/db").unwrap(), Backend::Postgres);
        assert!(Backend::from_url("mysql://u@h/db").is_err());
        assert!(Backend::from_url("orders.db").is_err());
    }
}
