//! How the store's connections are set up and how a write begins: each backend's session
//! settings, the write lock every write takes, and the bounds of SPEC section 8 on waiting for
//! the database (`database.lock_timeout`, `database.statement_timeout`), whose failures are
//! [`Error::Busy`]: worth trying again shortly, answered 503 with `Retry-After`.
//!
//! On PostgreSQL the bounds are session settings, made once where the pool opens a connection
//! (so they cost no round trip per write): `lock_timeout` bounds the wait for the advisory
//! write lock and for any other lock a statement waits for (a reader queued behind DDL, say);
//! `statement_timeout` bounds each statement; `idle_in_transaction_session_timeout` (the same
//! value) ends a session that sits in a transaction doing nothing, so a process frozen while it
//! holds the write lock frees it. A read that is long by design (an export) lifts the last two
//! for its own transaction ([`POSTGRES_LONG_READ`]); an import's connection never has a
//! statement bound (its COPY and its set-based writes take as long as the input is big).
//! SQLite has no statement timeout; the wait for its write lock is bounded by the in-process
//! gate's timeout and SQLite's busy timeout together (see [`Store::begin_write`]).

use std::sync::Arc;
use std::time::Duration;

use sqlx::{Any, AnyConnection, AssertSqlSafe, Executor as _, Transaction};
use tokio::time::Instant;

use super::{Backend, Store};
use crate::config::SqliteSynchronous;
use crate::error::{Error, Result};

/// The key of the PostgreSQL advisory lock that serializes every write (see [`Store::begin_write`]);
/// the schema's reference triggers take it too, written out as a number in their migration.
pub(super) const POSTGRES_WRITE_LOCK: i64 = 0x6f72_6465_7273; // "orders"

/// How a PostgreSQL write begins: READ COMMITTED (see [`Store::begin_write`]), then
/// [`POSTGRES_TAKE_WRITE_LOCK`].
pub(super) const POSTGRES_BEGIN_WRITE: &str = "BEGIN ISOLATION LEVEL READ COMMITTED";

/// Takes [`POSTGRES_WRITE_LOCK`] (bound as `$1`) until the transaction ends; waits at most the
/// session's `lock_timeout`.
pub(super) const POSTGRES_TAKE_WRITE_LOCK: &str = "SELECT 1 FROM pg_advisory_xact_lock($1)";

/// Settings for every PostgreSQL connection (see `tune_postgres`).
pub(super) const POSTGRES_TUNING: [&str; 2] = ["SET jit = off", "SET max_parallel_workers_per_gather = 0"];

/// A session's bounds, each in milliseconds as text (`0`: none): `lock_timeout` ($1),
/// `statement_timeout` ($2), `idle_in_transaction_session_timeout` ($3).
pub(super) const POSTGRES_BOUNDS: &str = "SELECT set_config('lock_timeout', $1, false), \
     set_config('statement_timeout', $2, false), set_config('idle_in_transaction_session_timeout', $3, false)";

/// Lifts the statement and idle-in-transaction bounds until the current transaction ends, for
/// a read that is long by design and holds no lock a writer needs: an export (and a streamed
/// listing, should it run in a transaction of its own), whose one statement lasts as long as
/// its client takes to read every order. The lock bound stays.
pub(super) const POSTGRES_LONG_READ: &str = "SELECT set_config('statement_timeout', '0', true), \
     set_config('idle_in_transaction_session_timeout', '0', true)";

/// The configured bounds on waiting for the database.
#[derive(Debug, Clone, Copy)]
pub(super) struct Bounds {
    /// How long a write waits for the write lock (zero: as long as it takes).
    pub(super) lock_timeout: Duration,
    /// How long a statement may run, and a PostgreSQL session sit idle in a transaction.
    pub(super) statement_timeout: Duration,
}

impl Bounds {
    /// `lock_timeout` as PostgreSQL reads it.
    pub(super) fn lock_millis(self) -> String {
        self.lock_timeout.as_millis().to_string()
    }

    /// `statement_timeout` (and the idle-in-transaction bound) as PostgreSQL reads it.
    pub(super) fn statement_millis(self) -> String {
        self.statement_timeout.as_millis().to_string()
    }

    /// Why a write gave up waiting for the lock, naming the configured bound.
    pub(super) fn lock_refused(self) -> Error {
        Error::Busy(format!(
            "the write lock was not obtained within {}; try again",
            humantime::format_duration(self.lock_timeout)
        ))
    }

    /// A failed wait for the write lock as [`Bounds::lock_refused`]; any other failure as
    /// it classifies.
    pub(super) fn classify_lock_wait(self, err: sqlx::Error) -> Error {
        match Error::from(err) {
            Error::Busy(_) => self.lock_refused(),
            other => other,
        }
    }
}

/// SQLite's busy timeout (milliseconds, an `int`) for a wait of at most `wait`; zero for no
/// bound is as long as SQLite can wait.
fn sqlite_busy_millis(wait: Option<Duration>) -> i64 {
    wait.map_or(i64::from(i32::MAX), |wait| {
        i64::try_from(wait.as_millis()).unwrap_or(i64::MAX).min(i64::from(i32::MAX))
    })
}

/// Makes SQLite fit for several writers: WAL (readers never block the writer), a busy timeout
/// of `database.lock_timeout` (writers from other processes wait that long instead of failing
/// at once), foreign keys on; and durable as `database.sqlite_synchronous` says. With `FULL`
/// (the default, SPEC section 8) every commit syncs the WAL before it returns, so an
/// acknowledged write survives a power loss, and with it the change feed's `seq` (AUTOINCREMENT
/// keeps its high-water mark in the same file); with `NORMAL` the WAL is synced only at
/// checkpoints, and the last commits before a power loss can be lost (never corrupted).
pub(super) async fn tune_sqlite(
    conn: &mut AnyConnection,
    bounds: Bounds,
    synchronous: SqliteSynchronous,
) -> sqlx::Result<()> {
    conn.execute("PRAGMA journal_mode = WAL").await?;
    conn.execute(match synchronous {
        SqliteSynchronous::Full => "PRAGMA synchronous = FULL",
        SqliteSynchronous::Normal => "PRAGMA synchronous = NORMAL",
    })
    .await?;
    let busy = sqlite_busy_millis(Some(bounds.lock_timeout).filter(|d| !d.is_zero()));
    conn.execute(AssertSqlSafe(format!("PRAGMA busy_timeout = {busy}"))).await?;
    conn.execute("PRAGMA foreign_keys = ON").await?;
    Ok(())
}

/// Session settings for an interactive store's connections: the bounds (see the module), and
///
/// - PostgreSQL's JIT compiles plans whose estimated cost is high — such as the batched gap
///   check of an import — and spends ~25 ms doing so on queries that then run in under 1 ms.
///   Every query here is short and index-backed, so JIT only ever costs.
/// - Parallel workers: the one query that gets them is the count of every order (the
///   dashboard's total), which then takes every core for its ~140 ms at 1M orders, and the
///   dashboard's End, issued meanwhile, waited for it (~180 ms instead of ~2 ms). One core for
///   a background count keeps the interactive queries beside it fast.
///
/// A PostgreSQL-compatible server without a setting keeps its default (and says so in the log
/// for a bound). An import's own connection applies the same [`POSTGRES_TUNING`] and bounds
/// (but no statement bound); a function generic over both connection types does not compile
/// inside the pool's `after_connect` hook.
pub(super) async fn tune_postgres(conn: &mut AnyConnection, bounds: Bounds) -> sqlx::Result<()> {
    for setting in POSTGRES_TUNING {
        if let Err(e) = conn.execute(setting).await {
            tracing::debug!("cannot {setting}: {e}");
        }
    }
    let statement = bounds.statement_millis();
    let set = sqlx::query(POSTGRES_BOUNDS).bind(bounds.lock_millis()).bind(statement.clone()).bind(statement);
    if let Err(e) = set.execute(&mut *conn).await {
        tracing::warn!("cannot bound lock waits and statements on this database: {e}");
    }
    Ok(())
}

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
    /// out in commit order. The reference triggers of the schema take the same lock
    /// (migrations/postgres/0003_order_references.sql). The session's `lock_timeout` bounds the
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
                let lock = sqlx::query(POSTGRES_TAKE_WRITE_LOCK).bind(POSTGRES_WRITE_LOCK);
                lock.execute(&mut *tx).await.map_err(|e| self.bounds.classify_lock_wait(e))?;
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

/// Why a statement failed in a way worth trying again shortly, if it did: on PostgreSQL a lock
/// wait over `lock_timeout` (55P03) or a statement cancelled (57014: over `statement_timeout`,
/// or by an administrator); on SQLite SQLITE_BUSY (5) and its extended codes, the database
/// locked by another writer past the busy timeout.
pub(super) fn busy_reason(code: Option<&str>) -> Option<&'static str> {
    match code? {
        "55P03" => Some("a lock was not obtained within database.lock_timeout; try again"),
        "57014" => Some("a statement ran longer than database.statement_timeout (or was cancelled); try again"),
        sqlite if sqlite.len() < 5 && sqlite.parse::<i32>().is_ok_and(|code| code & 0xff == 5) => {
            Some("the database is locked by another writer; try again")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_and_statement_timeouts_and_sqlite_busy_mean_busy_and_nothing_else_does() {
        assert!(busy_reason(Some("55P03")).is_some(), "lock_not_available");
        assert!(busy_reason(Some("57014")).is_some(), "query_canceled");
        assert!(busy_reason(Some("5")).is_some(), "SQLITE_BUSY");
        assert!(busy_reason(Some("517")).is_some(), "SQLITE_BUSY_SNAPSHOT");
        assert!(busy_reason(Some("6")).is_none(), "SQLITE_LOCKED is another matter");
        assert!(busy_reason(Some("23505")).is_none());
        assert!(busy_reason(Some("08006")).is_none());
        assert!(busy_reason(None).is_none());
    }

    #[test]
    fn a_refused_lock_names_the_configured_bound() {
        let bounds = Bounds { lock_timeout: Duration::from_millis(1500), statement_timeout: Duration::ZERO };
        assert_eq!(bounds.lock_refused().to_string(), "the write lock was not obtained within 1s 500ms; try again");
        assert_eq!(bounds.lock_millis(), "1500");
        assert_eq!(bounds.statement_millis(), "0", "zero is PostgreSQL's 'no bound'");
    }

    #[test]
    fn sqlites_busy_timeout_is_the_bound_in_milliseconds_capped_at_what_sqlite_takes() {
        assert_eq!(sqlite_busy_millis(Some(Duration::from_millis(300))), 300);
        assert_eq!(sqlite_busy_millis(Some(Duration::ZERO)), 0);
        assert_eq!(sqlite_busy_millis(Some(Duration::from_secs(100 * 24 * 3600))), i64::from(i32::MAX));
        assert_eq!(sqlite_busy_millis(None), i64::from(i32::MAX));
    }
}
