//! The scheduling rule's checks in SQL, all of them. The database holds the rule itself
//! (migrations/*/0005: an exclusion constraint on PostgreSQL, triggers on SQLite) and refuses
//! every write that breaks it, whoever writes; what it cannot say is which order a write
//! conflicts with, and the store's errors name that order. The store therefore asks, in three
//! forms only:
//!
//! - [`NEAREST_IN_WINDOW`], the nearest order closer than the stored gap to one datetime: a
//!   create's or an update's check before it writes (its other checks come first, so a write
//!   that breaks several rules is refused for the same one whatever the schema finds first),
//!   and the naming of a conflict the schema found: a writer outside the store's lock won the
//!   race, or a batch of a SQLite import or a seed, then searched record by record. A range
//!   search on `orders_datetime_id`, on both backends.
//! - [`FIRST_TOO_CLOSE`], the first record of a PostgreSQL import's staging table too close to
//!   an earlier order, stored or staged: run only once the exclusion constraint refused the
//!   import's one insert (a million records looked up one by one would take minutes).
//! - [`CLOSEST_PAIR_UNDER`], the closest two stored orders under a new gap, named by
//!   `rules set-gap` when it refuses: one pass over `orders_datetime_id`.

use std::time::Duration;

use sqlx::AnyConnection;

use super::Store;
use crate::domain::Timestamp;
use crate::domain::schedule::gap_millis;
use crate::error::{Error, Result};

/// The scheduling rule's check: the nearest order closer than the stored minimum gap to a
/// datetime (bound three times: $1, $2 and $4), other than the order $3, with the gap.
/// The gap is read in the same statement (an uncorrelated subquery, evaluated once), so the
/// check follows the database's rule as of this write; the window is then a range search on
/// `orders_datetime_id`. With no gap stored (or 0) the window is empty.
const NEAREST_IN_WINDOW: &str = "SELECT id, datetime, (SELECT min_gap_ms FROM settings WHERE id = 1) \
     FROM orders WHERE datetime > $1 - (SELECT min_gap_ms FROM settings WHERE id = 1) \
     AND datetime < $2 + (SELECT min_gap_ms FROM settings WHERE id = 1) AND id <> $3 \
     ORDER BY abs(datetime - $4), id LIMIT 1";

/// The first record of the staging table `import_orders` too close to an earlier order (stored,
/// or an earlier record's), with the nearest such order, the gap's reach being $1 ms: (record,
/// distance, earlier id, its datetime, the record's datetime). Needs an index on the staging
/// table's datetime.
pub(super) const FIRST_TOO_CLOSE: &str = "SELECT s.record, abs(s.datetime - o.datetime), o.id, o.datetime, s.datetime \
     FROM import_orders s JOIN orders o ON o.datetime BETWEEN s.datetime - $1 AND s.datetime + $1 AND o.id <> s.id \
     UNION ALL SELECT s.record, abs(s.datetime - e.datetime), e.id, e.datetime, s.datetime \
     FROM import_orders s JOIN import_orders e ON e.datetime BETWEEN s.datetime - $1 AND s.datetime + $1 \
     AND e.record < s.record AND e.id <> s.id ORDER BY 1, 2, 3, 4, 5 LIMIT 1";

/// The closest two orders that are neighbours in datetime order and closer than $1 ms: if no
/// two neighbours are, no two orders are. One pass over `orders_datetime_id`.
const CLOSEST_PAIR_UNDER: &str = "SELECT prev_id, prev_datetime, id, datetime FROM (SELECT id, datetime, \
     lag(id) OVER w AS prev_id, lag(datetime) OVER w AS prev_datetime FROM orders WINDOW w AS (ORDER BY datetime, id)) \
     n WHERE prev_id IS NOT NULL AND datetime - prev_datetime < $1 ORDER BY datetime - prev_datetime, datetime, id LIMIT 1";

/// The name of the exclusion constraint (PostgreSQL) and the prefix of the triggers' messages
/// (SQLite) that hold the rule.
const GAP_CONSTRAINT: &str = "orders_min_gap";

/// Stands for the conflicting order's id in an [`Error::Schedule`] raised by the schema's rule
/// (which does not say which order it conflicts with) until [`Store::named`] looks it up. No
/// order has it (ids start at 1), and no such error leaves the store.
pub(super) const UNNAMED: i64 = 0;

impl Store {
    /// The scheduling rule: fails with the nearest order closer than the database's minimum
    /// gap to `datetime`, other than `except`. A range lookup on `orders_datetime_id`, so its
    /// cost does not grow with the table; the schema checks the write again (see `rules`).
    pub(super) async fn check_gap(
        &self,
        conn: &mut AnyConnection,
        datetime: Timestamp,
        except: Option<i64>,
    ) -> Result<()> {
        match nearest_conflict(conn, datetime, except).await? {
            None => Ok(()),
            Some(conflict) => Err(conflict),
        }
    }

    /// A write's result, with a conflict the schema found (see [`unnamed_conflict`]) named:
    /// once the write's transaction has ended, the nearest conflicting order (other than
    /// `except`) is looked up. Should it be gone by then (the concurrent write that caused the
    /// conflict was deleted or moved since), the write is worth trying again.
    pub(super) async fn named<T>(&self, result: Result<T>, except: Option<i64>) -> Result<T> {
        match result {
            Err(Error::Schedule { conflicting_id: UNNAMED, datetime, .. }) => {
                let found = self.read(|conn| Box::pin(nearest_conflict(conn, datetime, except))).await?;
                Err(found.unwrap_or_else(|| {
                    Error::Busy("a concurrent write conflicted with this one and is gone now; try again".to_owned())
                }))
            }
            other => other,
        }
    }
}

/// The nearest order closer than the stored minimum gap to `datetime` (other than `except`),
/// as the [`Error::Schedule`] that names it.
async fn nearest_conflict(conn: &mut AnyConnection, datetime: Timestamp, except: Option<i64>) -> Result<Option<Error>> {
    let nearest = nearest_in_window(conn, datetime.millis(), except.unwrap_or(UNNAMED)).await?;
    Ok(nearest.map(|(conflicting_id, conflicting, gap)| Error::Schedule {
        conflicting_id,
        conflicting_datetime: Timestamp::from_millis(conflicting),
        datetime,
        min_gap: gap_from_millis(gap),
    }))
}

/// [`NEAREST_IN_WINDOW`] for the datetime `at` (milliseconds), other than the order `except`:
/// (its id, its datetime, the stored gap in milliseconds).
pub(super) async fn nearest_in_window(
    conn: &mut AnyConnection,
    at: i64,
    except: i64,
) -> sqlx::Result<Option<(i64, i64, i64)>> {
    sqlx::query_as(NEAREST_IN_WINDOW).bind(at).bind(at).bind(except).bind(at).fetch_optional(conn).await
}

/// A write of an order at `datetime` that the schema's rule refused, as a schedule conflict
/// still to be named ([`Store::named`]: the schema does not say which order it conflicts
/// with); any other failure as it classifies.
pub(super) fn unnamed_conflict(err: sqlx::Error, datetime: Timestamp) -> Error {
    if is_gap_violation(&err) {
        Error::Schedule { conflicting_id: UNNAMED, conflicting_datetime: datetime, datetime, min_gap: Duration::ZERO }
    } else {
        err.into()
    }
}

/// Whether a statement was refused by the schema's rule: the exclusion constraint (SQLSTATE
/// 23P01) on PostgreSQL, a trigger's RAISE on SQLite.
pub(super) fn is_gap_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            (db.code().as_deref() == Some("23P01") && db.constraint() == Some(GAP_CONSTRAINT))
                || db.message().starts_with(GAP_CONSTRAINT)
        }
        _ => false,
    }
}

/// A stored gap in milliseconds as a duration (the schema keeps it in 0 ..= 10,000 years).
pub(super) fn gap_from_millis(millis: i64) -> Duration {
    Duration::from_millis(u64::try_from(millis).unwrap_or(0))
}

/// Fails with the closest pair of stored orders closer than `gap`, if there is one.
pub(super) async fn refuse_closer_pairs(conn: &mut AnyConnection, gap: Duration) -> Result<()> {
    if gap.is_zero() {
        return Ok(());
    }
    let pair: Option<(i64, i64, i64, i64)> =
        sqlx::query_as(CLOSEST_PAIR_UNDER).bind(gap_millis(gap)).fetch_optional(conn).await?;
    match pair {
        None => Ok(()),
        Some((first_id, first, second_id, second)) => Err(Error::GapViolated {
            first_id,
            first_datetime: Timestamp::from_millis(first),
            second_id,
            second_datetime: Timestamp::from_millis(second),
            min_gap: gap,
        }),
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Executor as _;

    use super::*;
    use crate::store::{Backend, StoreOptions, TestDatabase};

    #[tokio::test]
    async fn the_gap_check_is_a_range_search_on_the_datetime_index() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("plan.db").display());
        let options = StoreOptions {
            max_connections: 1,
            auto_migrate: true,
            min_gap: Duration::from_secs(3600),
            ..StoreOptions::default()
        };
        let store = Store::connect(&url, &options).await.unwrap();
        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {NEAREST_IN_WINDOW}")))
                .bind(0_i64)
                .bind(1_i64)
                .bind(0_i64)
                .bind(0_i64)
                .fetch_all(&store.pool)
                .await
                .unwrap();
        let steps: Vec<&str> = plan.iter().map(|row| row.3.as_str()).collect();
        assert!(
            steps.iter().any(|s| s.contains("USING COVERING INDEX orders_datetime_id (datetime>? AND datetime<?)")),
            "{steps:?}"
        );
        assert!(!steps.iter().any(|s| s.starts_with("SCAN orders")), "no full scan: {steps:?}");
    }

    #[tokio::test]
    async fn the_gap_check_can_search_the_datetime_index_on_postgres_too() {
        let db = TestDatabase::new().await;
        let store = Store::connect(&db.url, &StoreOptions::default()).await.unwrap();
        if store.backend != Backend::Postgres {
            return; // SQLite: the_gap_check_is_a_range_search_on_the_datetime_index
        }
        // A freshly made table is too small for the planner to prefer an index: ask whether it
        // can use one. The gap's subqueries become parameters of the index condition.
        let mut tx = store.pool.begin().await.unwrap();
        tx.execute("SET LOCAL enable_seqscan = off").await.unwrap();
        let explain = sqlx::AssertSqlSafe(format!("EXPLAIN {NEAREST_IN_WINDOW}"));
        let plan: Vec<String> = sqlx::query_scalar(explain)
            .bind(0_i64)
            .bind(0_i64)
            .bind(0_i64)
            .bind(0_i64)
            .fetch_all(&mut *tx)
            .await
            .unwrap();
        let plan = plan.join("\n");
        assert!(
            plan.contains("Index Scan on orders_datetime_id") || plan.contains("using orders_datetime_id on orders"),
            "{plan}"
        );
        assert!(!plan.contains("Seq Scan on orders"), "{plan}");
        assert!(plan.contains("Index Cond: ((datetime > ('0'::bigint - $"), "{plan}");
    }
}
