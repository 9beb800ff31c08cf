//! The scheduling rule the database holds (SPEC section 2): the minimum gap stored in
//! `settings`, enforced by the schema for every writer (migrations/*/0005_scheduling_rule.sql:
//! an exclusion constraint on PostgreSQL, triggers on SQLite), initialized from the
//! configuration when a store first opens a database, and changed only by [`Store::set_min_gap`].
//!
//! The store's own checks (`gap`) read the gap in the statement that looks for a conflict,
//! under the write lock, so a process follows a change made by another at its next write;
//! what the configuration says matters only to a database with no stored gap.

use std::time::Duration;

use sqlx::{AnyConnection, Executor as _};

use super::gap::{gap_from_millis, is_gap_violation, refuse_closer_pairs};
use super::session::POSTGRES_LONG_READ;
use super::{Backend, Store};
use crate::domain::schedule::{self, format_gap, gap_millis};
use crate::error::{Error, Result};

/// The stored gap (no row: a database no store has opened since it was migrated).
pub(super) const SELECT_GAP: &str = "SELECT min_gap_ms FROM settings WHERE id = 1";

/// The rule in force, as `orders rules` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// No two orders closer than this; zero: the rule is off.
    pub min_gap: Duration,
    /// What in the schema enforces it, as found in the database's catalogue (empty when
    /// nothing does: a gap of zero, or a schema changed by hand).
    pub enforced_by: Vec<String>,
}

/// The gap the database holds, if any.
///
/// # Errors
/// When the database fails (or is not migrated).
pub(super) async fn stored_gap(conn: &mut AnyConnection) -> Result<Option<Duration>> {
    let millis: Option<i64> = sqlx::query_scalar(SELECT_GAP).fetch_optional(conn).await?;
    Ok(millis.map(gap_from_millis))
}

/// The configured gap cannot initialize a database whose orders (stored before the rule was)
/// are closer: a configuration to change, named with the pair.
fn not_storable(err: Error) -> Error {
    match err {
        Error::GapViolated { first_id, first_datetime, second_id, second_datetime, min_gap } => Error::invalid(
            "rules.min_gap",
            format!(
                "this database holds no rule yet, and {} cannot be it: orders {first_id} and {second_id} are {} \
                 apart; configure at most that to store the rule",
                format_gap(min_gap),
                format_gap(first_datetime.distance(second_datetime))
            ),
        ),
        other => other,
    }
}

/// Whether a failed read means the database is not migrated yet (no `settings` table).
fn is_not_migrated(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db)
        if db.code().as_deref() == Some("42P01") || db.message().starts_with("no such table"))
}

impl Store {
    /// The minimum gap the database holds (zero while no store has initialized it).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn min_gap(&self) -> Result<Duration> {
        Ok(self.read(|conn| Box::pin(stored_gap(conn))).await?.unwrap_or_default())
    }

    /// The rule in force and what in the schema enforces it.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn rule(&self) -> Result<Rule> {
        let backend = self.backend;
        self.read(|conn| {
            Box::pin(async move {
                let min_gap = stored_gap(conn).await?.unwrap_or_default();
                // A gap of 0 has no constraint on PostgreSQL; SQLite's triggers stay, inert.
                let enforced_by = match min_gap.is_zero() {
                    true => Vec::new(),
                    false => enforcement(conn, backend).await?,
                };
                Ok(Rule { min_gap, enforced_by })
            })
        })
        .await
    }

    /// Changes the minimum gap, in one transaction under the write lock, after checking every
    /// stored order against it; returns the rule then in force.
    ///
    /// On PostgreSQL the exclusion constraint is dropped and added again with the new gap
    /// (the settings trigger does it), which rechecks every order and locks `orders` against
    /// reads and writes meanwhile; its statement bound is lifted for that transaction.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a gap that is not whole milliseconds or too long,
    /// [`Error::GapViolated`] naming the closest two orders when any two are closer than `gap`.
    pub async fn set_min_gap(&self, gap: Duration) -> Result<Rule> {
        schedule::check_gap(gap).map_err(|e| Error::invalid("min_gap", e))?;
        let mut tx = self.begin_write().await?;
        if self.backend == Backend::Postgres {
            (&mut *tx).execute(POSTGRES_LONG_READ).await?;
        }
        refuse_closer_pairs(&mut tx, gap).await?;
        let stored = sqlx::query("UPDATE settings SET min_gap_ms = $1 WHERE id = 1").bind(gap_millis(gap));
        if stored.execute(&mut *tx).await.map_err(|e| self.schema_refusal(e, gap))?.rows_affected() == 0 {
            let insert = sqlx::query("INSERT INTO settings (id, min_gap_ms) VALUES (1, $1)").bind(gap_millis(gap));
            insert.execute(&mut *tx).await.map_err(|e| self.schema_refusal(e, gap))?;
        }
        tx.commit().await?;
        self.rule().await
    }

    /// Stores `configured` as the rule of a database that holds none yet (a new one); returns
    /// the stored gap, or `None` for a database not migrated yet. Reads first, so opening a
    /// database that has its rule takes no write lock.
    ///
    /// # Errors
    /// [`Error::GapViolated`] when the orders already stored (a database migrated from before
    /// the rule was stored) are closer than `configured`; when the database fails.
    pub(super) async fn establish_rule(&self, configured: Duration) -> Result<Option<Duration>> {
        let read = self.read(|conn| {
            Box::pin(async move {
                match sqlx::query_scalar::<_, i64>(SELECT_GAP).fetch_optional(conn).await {
                    Ok(millis) => Ok(Some(millis.map(gap_from_millis))),
                    Err(e) if is_not_migrated(&e) => Ok(None),
                    Err(e) => Err(e.into()),
                }
            })
        });
        match read.await? {
            None => return Ok(None),
            Some(Some(gap)) => return Ok(Some(gap)),
            Some(None) => {}
        }
        let mut tx = self.begin_write().await?;
        if let Some(gap) = stored_gap(&mut tx).await? {
            return Ok(Some(gap)); // another process stored it meanwhile
        }
        if self.backend == Backend::Postgres {
            (&mut *tx).execute(POSTGRES_LONG_READ).await?;
        }
        refuse_closer_pairs(&mut tx, configured).await.map_err(not_storable)?;
        let insert = sqlx::query("INSERT INTO settings (id, min_gap_ms) VALUES (1, $1)").bind(gap_millis(configured));
        insert.execute(&mut *tx).await.map_err(|e| self.schema_refusal(e, configured))?;
        tx.commit().await?;
        Ok(Some(configured))
    }

    /// A change of the gap the schema refused although the closest pair was checked first:
    /// only a writer outside the store's lock can cause it. Said as a conflict to try again.
    fn schema_refusal(&self, err: sqlx::Error, gap: Duration) -> Error {
        if is_gap_violation(&err) {
            Error::Busy(format!(
                "orders written meanwhile are closer than {}; check with `orders rules` and try again",
                format_gap(gap)
            ))
        } else {
            err.into()
        }
    }
}

/// What in the schema enforces the rule, from the database's own catalogue.
async fn enforcement(conn: &mut AnyConnection, backend: Backend) -> Result<Vec<String>> {
    Ok(match backend {
        Backend::Postgres => {
            let sql = "SELECT conname || ': ' || pg_get_constraintdef(oid) FROM pg_constraint \
                       WHERE conrelid = 'orders'::regclass AND conname = 'orders_min_gap'";
            sqlx::query_scalar::<_, String>(sql).fetch_all(conn).await?
        }
        Backend::Sqlite => {
            let sql = "SELECT 'trigger ' || name FROM sqlite_master WHERE type = 'trigger' \
                       AND tbl_name = 'orders' AND name LIKE 'orders_min_gap%' ORDER BY name";
            sqlx::query_scalar::<_, String>(sql).fetch_all(conn).await?
        }
    })
}
