//! History: the append-only record of every change to every order, and the change feed.

use sqlx::AnyConnection;
use sqlx::FromRow;

use super::Store;
use crate::domain::{Event, EventKind, Order, Timestamp};
use crate::error::{Error, Result};

#[derive(FromRow)]
struct EventRow {
    seq: i64,
    order_id: i64,
    kind: String,
    actor: String,
    at: i64,
    snapshot: String,
}

impl EventRow {
    fn into_event(self) -> Result<Event> {
        let bad = |what: &str| Error::Internal(format!("history event {} has an unreadable {what}", self.seq).into());
        Ok(Event {
            seq: self.seq,
            order_id: self.order_id,
            kind: EventKind::parse(&self.kind).ok_or_else(|| bad("kind"))?,
            order: serde_json::from_str(&self.snapshot).map_err(|_| bad("snapshot"))?,
            actor: self.actor,
            at: Timestamp::from_millis(self.at),
        })
    }
}

/// The head of an insert into `history` (before `VALUES` or `SELECT`), for one event and for
/// an import's many.
macro_rules! insert_history {
    () => {
        "INSERT INTO history (order_id, kind, actor, at, snapshot) "
    };
}
pub(super) use insert_history;

/// Records `kind` for `order` (as it is after the change) inside the change's transaction.
pub(super) async fn append_event(conn: &mut AnyConnection, kind: EventKind, order: &Order, actor: &str) -> Result<()> {
    let snapshot = serde_json::to_string(order).map_err(|e| Error::Internal(e.into()))?;
    // The instant of the write the event records: the order's own, so `at` equals its
    // `updated_at`; a delete has no such field.
    let at = match kind {
        EventKind::Deleted => Timestamp::now(),
        EventKind::Created | EventKind::Updated => order.updated_at,
    };
    sqlx::query(concat!(insert_history!(), "VALUES ($1, $2, $3, $4, $5)"))
        .bind(order.id)
        .bind(kind.as_str())
        .bind(actor)
        .bind(at.millis())
        .bind(snapshot)
        .execute(conn)
        .await?;
    Ok(())
}

impl Store {
    /// Every event of one order, oldest first; works for deleted orders too.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an id that never existed.
    pub async fn history(&self, order_id: i64) -> Result<Vec<Event>> {
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT seq, order_id, kind, actor, at, snapshot FROM history WHERE order_id = $1 ORDER BY seq",
        )
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            return Err(Error::NotFound { what: "order", id: order_id });
        }
        rows.into_iter().map(EventRow::into_event).collect()
    }

    /// One page of an order's events: those with `seq` greater than `after`, oldest first, at
    /// most `limit`; works for deleted orders too. Read along the index on (order_id, seq), so
    /// a page costs the same wherever it starts.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an id that never existed (an empty page past an order's last
    /// event is no error).
    pub async fn history_page(&self, order_id: i64, after: i64, limit: u32) -> Result<Vec<Event>> {
        let rows: Vec<EventRow> = self
            .read(|conn| {
                Box::pin(async move {
                    let rows = sqlx::query_as(
                        "SELECT seq, order_id, kind, actor, at, snapshot FROM history \
                         WHERE order_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                    )
                    .bind(order_id)
                    .bind(after)
                    .bind(i64::from(limit))
                    .fetch_all(&mut *conn)
                    .await?;
                    Ok(rows)
                })
            })
            .await?;
        if rows.is_empty() && !self.has_history(order_id).await? {
            return Err(Error::NotFound { what: "order", id: order_id });
        }
        rows.into_iter().map(EventRow::into_event).collect()
    }

    /// Whether an order with this id ever existed.
    async fn has_history(&self, order_id: i64) -> Result<bool> {
        self.read(|conn| {
            Box::pin(async move {
                let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM history WHERE order_id = $1 LIMIT 1")
                    .bind(order_id)
                    .fetch_optional(conn)
                    .await?;
                Ok(found.is_some())
            })
        })
        .await
    }

    /// The change feed: events with `seq` greater than `after`, ascending, at most `limit`.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn events(&self, after: i64, limit: u32) -> Result<Vec<Event>> {
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT seq, order_id, kind, actor, at, snapshot FROM history WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(EventRow::into_event).collect()
    }
}
