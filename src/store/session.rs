//! How the store's connections are set up: each backend's session settings, and the bounds
//! of SPEC section 8 on waiting for
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
//! gate's timeout and SQLite's busy timeout together (see `write_lock`).

use std::time::Duration;

use sqlx::{AnyConnection, AssertSqlSafe, Executor as _};

use super::options::SqliteSynchronous;
use crate::error::Error;

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
pub(super) fn sqlite_busy_millis(wait: Option<Duration>) -> i64 {
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

#[cfg(test)]
mod tests {
    use super::*;

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
