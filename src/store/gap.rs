//! The scheduling rule's check for one datetime, and naming the order a write conflicts with.

use std::time::Duration;

use sqlx::AnyConnection;

use super::Store;
use crate::domain::Timestamp;
use crate::error::{Error, Result};

/// The scheduling rule's check: the nearest order closer than the stored minimum gap to a
/// datetime (bound three times: $1, $2 and $4), other than the order $3, with the gap.
/// The gap is read in the same statement (an uncorrelated subquery, evaluated once), so the
/// check follows the database's rule as of this write; the window is then a range search on
/// `orders_datetime_id`. With no gap stored (or 0) the window is empty.
pub(super) const NEAREST_IN_WINDOW: &str = "SELECT id, datetime, (SELECT min_gap_ms FROM settings WHERE id = 1) \
     FROM orders WHERE datetime > $1 - (SELECT min_gap_ms FROM settings WHERE id = 1) \
     AND datetime < $2 + (SELECT min_gap_ms FROM settings WHERE id = 1) AND id <> $3 \
     ORDER BY abs(datetime - $4), id LIMIT 1";

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
    let at = datetime.millis();
    let nearest: Option<(i64, i64, i64)> = sqlx::query_as(NEAREST_IN_WINDOW)
        .bind(at)
        .bind(at)
        .bind(except.unwrap_or(UNNAMED))
        .bind(at)
        .fetch_optional(conn)
        .await?;
    Ok(nearest.map(|(conflicting_id, conflicting, gap)| Error::Schedule {
        conflicting_id,
        conflicting_datetime: Timestamp::from_millis(conflicting),
        datetime,
        min_gap: super::rules::gap_from_millis(gap),
    }))
}

/// A write of an order at `datetime` that the schema's rule refused, as a schedule conflict
/// still to be named ([`Store::named`]: the schema does not say which order it conflicts
/// with); any other failure as it classifies.
pub(super) fn unnamed_conflict(err: sqlx::Error, datetime: Timestamp) -> Error {
    if super::rules::is_gap_violation(&err) {
        Error::Schedule { conflicting_id: UNNAMED, conflicting_datetime: datetime, datetime, min_gap: Duration::ZERO }
    } else {
        err.into()
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
