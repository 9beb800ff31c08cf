//! The store's write lock, which every write takes first (see [`Store::begin_write`]).

use std::sync::Arc;

use sqlx::postgres::PgConnection;
use sqlx::{Any, AnyConnection, AssertSqlSafe, Connection as _, Executor as _, Postgres, Transaction};
use tokio::time::Instant;

use super::session::{Bounds, sqlite_busy_millis};
use super::{Backend, Store};
use crate::error::Result;

/// How a PostgreSQL write begins: READ COMMITTED (see [`Store::begin_write`]), then
/// [`POSTGRES_TAKE_WRITE_LOCK`].
const POSTGRES_BEGIN_WRITE: &str = "BEGIN ISOLATION LEVEL READ COMMITTED";

/// Takes the store's write lock until the transaction ends, waiting at most the session's
/// `lock_timeout`: the schema's `orders_write_lock()`, a transaction-scoped advisory lock whose
/// key is written in migrations/postgres/0006_declared_references.sql only. (It selects a
/// constant: the `Any` driver decodes no `void`.)
const POSTGRES_TAKE_WRITE_LOCK: &str = "SELECT 1 FROM orders_write_lock()";

impl Store {
    /// Begins a write transaction holding the store's write lock, waiting at most
    /// `database.lock_timeout` for it.
    ///
    /// Every write takes the same lock, so the scheduling rule's check and the write it guards
    /// are one atomic step for every writer: threads, processes, and several servers on one
    /// PostgreSQL. On SQLite, `BEGIN IMMEDIATE` takes the database's write lock up front (a
    /// plain `BEGIN` would take it at the first write and fail with SQLITE_BUSY instead of
    /// waiting). On PostgreSQL, a transaction-scoped advisory lock is taken first, in READ
    /// COMMITTED (named, whatever the database's default: under REPEATABLE READ the snapshot
    /// would be taken before the lock is granted), so every later statement's snapshot already
    /// sees whatever the previous holder committed; history `seq` values are therefore handed
    /// out in commit order. Changing the stored gap by hand takes the same lock (the settings
    /// trigger). The session's `lock_timeout` bounds the
    /// wait (set once per connection rather than by `SET LOCAL` in each write: no extra round
    /// trip, and it bounds every other lock wait of the pool's sessions too).
    ///
    /// SQLite writers of this process first queue on an in-process gate: SQLite's busy handler
    /// lets waiting writers poll with growing sleeps (up to 100 ms), which under concurrent
    /// creates gave p99 latencies of 700 ms and more while the lock sat free between polls.
    /// The gate only orders this process's writers; the database lock still decides, for other
    /// processes as before.
    ///
    /// # Errors
    /// [`Error::Busy`] naming the bound when the lock is not obtained in time.
    pub(super) async fn begin_write(&self) -> Result<WriteTx> {
        match self.backend {
            Backend::Sqlite => self.begin_sqlite_write().await,
            Backend::Postgres => {
                let mut tx = self.pool.begin_with(POSTGRES_BEGIN_WRITE).await?;
                let lock = (&mut *tx).execute(POSTGRES_TAKE_WRITE_LOCK).await;
                lock.map_err(|e| self.bounds.classify_lock_wait(e))?;
                Ok(WriteTx { tx, _gate: None })
            }
        }
    }

    /// The SQLite half of [`Store::begin_write`]: one deadline covers the gate and `BEGIN
    /// IMMEDIATE` together. Whatever the gate left of it is the busy timeout of that `BEGIN`
    /// (another process may hold the lock), set in the same call; the connection's own busy
    /// timeout, the whole bound, is restored once the transaction has begun.
    async fn begin_sqlite_write(&self) -> Result<WriteTx> {
        let bound = Some(self.bounds.lock_timeout).filter(|d| !d.is_zero());
        // A bound past what the clock can count (lock_timeout = "500000000000y") is none.
        let deadline = bound.and_then(|bound| Instant::now().checked_add(bound));
        let gate = Arc::clone(&self.write_gate).lock_owned();
        let gate = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, gate).await.map_err(|_| self.bounds.lock_refused())?,
            None => gate.await,
        };
        let left = sqlite_busy_millis(deadline.map(|deadline| deadline.saturating_duration_since(Instant::now())));
        let full = sqlite_busy_millis(bound);
        let begin = format!("PRAGMA busy_timeout = {left}; BEGIN IMMEDIATE; PRAGMA busy_timeout = {full}");
        let tx = self.pool.begin_with(AssertSqlSafe(begin)).await.map_err(|e| self.bounds.classify_lock_wait(e))?;
        Ok(WriteTx { tx, _gate: Some(gate) })
    }
}

/// A PostgreSQL import's transaction, on its own connection (see `copy_import`), under the
/// same lock as [`Store::begin_write`] takes.
pub(super) async fn begin_postgres_import(
    conn: &mut PgConnection,
    bounds: Bounds,
) -> Result<Transaction<'_, Postgres>> {
    let mut tx = conn.begin_with(POSTGRES_BEGIN_WRITE).await?;
    let lock = (&mut *tx).execute(POSTGRES_TAKE_WRITE_LOCK).await;
    lock.map_err(|e| bounds.classify_lock_wait(e))?;
    Ok(tx)
}

/// A write transaction, holding this process's write gate (SQLite) until it ends.
pub(super) struct WriteTx {
    tx: Transaction<'static, Any>,
    _gate: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    /// Commits; the gate opens once the commit is done.
    pub(super) async fn commit(self) -> sqlx::Result<()> {
        self.tx.commit().await
    }
}

impl std::ops::Deref for WriteTx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_writes_the_write_locks_key_once_and_takes_the_lock_by_name() {
        let migration = include_str!("../../migrations/postgres/0006_declared_references.sql");
        assert_eq!(migration.matches("pg_advisory_xact_lock(").count(), 1, "{migration}");
        assert!(migration.contains("CREATE FUNCTION orders_write_lock()"));
        assert!(migration.contains("PERFORM orders_write_lock();"), "the settings trigger takes it by name");
        assert!(POSTGRES_TAKE_WRITE_LOCK.contains("orders_write_lock()"));
    }
}
