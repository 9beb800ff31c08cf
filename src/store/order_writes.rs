//! Orders written: create, update and delete, each one transaction under the store's write
//! lock with its history event; and how ids are handed out (never reused).

use sqlx::AnyConnection;

use super::gap::unnamed_conflict;
use super::history::append_event;
use super::orders::{fetch_orders, insert_order_services, insert_orders};
use super::services::require_services;
use super::sql::Sql;
use super::{Backend, Store};
use crate::domain::{EventKind, Money, NewOrder, Order, OrderPatch, Timestamp};
use crate::error::{Error, Result};

impl Store {
    /// Creates an order, checking the scheduling rule in the same transaction.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an unknown service, [`Error::Schedule`] when another order is
    /// within the minimum gap.
    pub async fn create_order(&self, new: &NewOrder, actor: &str) -> Result<Order> {
        let created = async {
            let mut tx = self.begin_write().await?;
            let order = self.create_in(&mut tx, new, actor).await?;
            tx.commit().await?;
            Ok(order)
        };
        self.named(created.await, None).await
    }

    /// The create itself, inside a write transaction the caller commits.
    pub(super) async fn create_in(&self, tx: &mut AnyConnection, new: &NewOrder, actor: &str) -> Result<Order> {
        let service_ids: Vec<i64> = new.services.iter().map(|s| s.id).collect();
        require_services(tx, self.backend, &service_ids).await?;
        let datetime = new.datetime.unwrap_or_else(Timestamp::now);
        self.check_gap(tx, datetime, None).await?;
        let id = match new.id {
            Some(id) => {
                refuse_seen_id(tx, id).await?;
                id
            }
            None => next_order_id(tx).await?,
        };
        let order = insert_order(tx, self.backend, id, datetime, new.totalfee, &service_ids).await?;
        append_event(tx, EventKind::Created, &order, actor).await?;
        Ok(order)
    }

    /// Changes the fields `patch` gives; the scheduling rule is checked against every other
    /// order even when the datetime stays. An empty patch writes nothing: the order comes back
    /// as it is, at its version, with no history event (after the same version check).
    ///
    /// # Errors
    /// [`Error::Invalid`] for an unknown service, [`Error::NotFound`], [`Error::Stale`] when
    /// `if_version` is not the stored version, [`Error::Schedule`].
    pub async fn update_order(
        &self,
        id: i64,
        patch: &OrderPatch,
        if_version: Option<i64>,
        actor: &str,
    ) -> Result<Order> {
        if patch.is_empty() {
            // Nothing to change: no write, no new version, no history event.
            let order = self.get_order(id).await?;
            return match if_version {
                Some(expected) if expected != order.version => {
                    Err(Error::Stale { id, expected, actual: order.version })
                }
                _ => Ok(order),
            };
        }
        let updated = self.update_in(id, patch, if_version, actor).await;
        self.named(updated, Some(id)).await
    }

    /// [`Store::update_order`] in its transaction; a conflict the schema found is unnamed.
    async fn update_in(&self, id: i64, patch: &OrderPatch, if_version: Option<i64>, actor: &str) -> Result<Order> {
        let mut tx = self.begin_write().await?;
        if let Some(services) = &patch.services {
            require_services(&mut tx, self.backend, services).await?;
        }
        let current = fetch_current(&mut tx, self.backend, id, if_version).await?;
        let datetime = patch.datetime.unwrap_or(current.datetime);
        self.check_gap(&mut tx, datetime, Some(id)).await?;
        let totalfee = patch.totalfee.unwrap_or(current.totalfee);
        sqlx::query(
            "UPDATE orders SET datetime = $1, totalfee_cents = $2, version = version + 1, updated_at = $3 WHERE id = $4",
        )
        .bind(datetime.millis())
        .bind(totalfee.cents())
        .bind(Timestamp::now().millis())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| unnamed_conflict(e, datetime))?;
        if let Some(services) = &patch.services {
            sqlx::query("DELETE FROM order_services WHERE order_id = $1").bind(id).execute(&mut *tx).await?;
            link_services(&mut tx, self.backend, id, services).await?;
        }
        let order = fetch_order(&mut tx, self.backend, id).await?.ok_or(Error::NotFound { what: "order", id })?;
        append_event(&mut tx, EventKind::Updated, &order, actor).await?;
        tx.commit().await?;
        Ok(order)
    }

    /// Deletes an order; its history stays (its `deleted` event holds the order as it was).
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Stale`] when `if_version` is not the stored version.
    pub async fn delete_order(&self, id: i64, if_version: Option<i64>, actor: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let order = fetch_current(&mut tx, self.backend, id, if_version).await?;
        sqlx::query("DELETE FROM orders WHERE id = $1").bind(id).execute(&mut *tx).await?;
        append_event(&mut tx, EventKind::Deleted, &order, actor).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The order as stored now, after checking the caller's version.
async fn fetch_current(conn: &mut AnyConnection, backend: Backend, id: i64, if_version: Option<i64>) -> Result<Order> {
    let order = fetch_order(conn, backend, id).await?.ok_or(Error::NotFound { what: "order", id })?;
    match if_version {
        Some(expected) if expected != order.version => Err(Error::Stale { id, expected, actual: order.version }),
        _ => Ok(order),
    }
}

/// One order, inside a write: [`fetch_orders`] with its one id (the statement a lone lookup
/// sends too).
async fn fetch_order(conn: &mut AnyConnection, backend: Backend, id: i64) -> Result<Option<Order>> {
    Ok(fetch_orders(conn, backend, &[id]).await?.pop())
}

/// Whether history has seen an order id: an order has it, or had it (SPEC section 8: ids are
/// never reused, so an old `ETag` never matches another order). Two primary-key lookups.
pub(super) const SELECT_ID_SEEN: &str = "SELECT 1 WHERE EXISTS (SELECT 1 FROM orders WHERE id = $1) \
     OR EXISTS (SELECT 1 FROM history WHERE order_id = $2)";

/// Fails with [`Error::Duplicate`] when history has seen `id`.
async fn refuse_seen_id(conn: &mut AnyConnection, id: i64) -> Result<()> {
    if id_seen(conn, id).await? {
        return Err(Error::Duplicate(format!("order {id} already exists or existed (ids are never reused)")));
    }
    Ok(())
}

/// Whether history has seen `id` (see [`SELECT_ID_SEEN`]).
pub(super) async fn id_seen(conn: &mut AnyConnection, id: i64) -> Result<bool> {
    let seen: Option<i64> = sqlx::query_scalar(SELECT_ID_SEEN).bind(id).bind(id).fetch_optional(conn).await?;
    Ok(seen.is_some())
}

/// The next order id: one past every order that ever existed, deleted ones included (their
/// history stays addressable by id), so an id is never reused. Runs under the write lock.
/// Once the largest id there can be was taken (an import may name it), the lowest id no
/// order ever had instead: never reused either, only out of order.
pub(super) async fn next_order_id(conn: &mut AnyConnection) -> Result<i64> {
    match next_after(sqlx::query_scalar(SELECT_LAST_ORDER_ID).fetch_one(&mut *conn).await?) {
        Ok(id) => Ok(id),
        Err(exhausted) => {
            sqlx::query_scalar::<_, Option<i64>>(SELECT_LOWEST_UNUSED_ORDER_ID).fetch_one(conn).await?.ok_or(exhausted)
        }
    }
}

/// The lowest id no order ever had (NULL when every one did): see [`next_order_id`]. It
/// subtracts rather than adds, so the largest id never overflows.
const SELECT_LOWEST_UNUSED_ORDER_ID: &str = "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM orders WHERE id = 1) \
     AND NOT EXISTS (SELECT 1 FROM history WHERE order_id = 1) THEN 1 ELSE (SELECT id + 1 FROM (SELECT id, \
     lead(id) OVER (ORDER BY id) AS next FROM (SELECT id FROM orders UNION SELECT order_id FROM history) used) \
     ids WHERE next - 1 > id ORDER BY id LIMIT 1) END";

/// The largest order id that ever existed (NULL for none): see [`next_order_id`].
pub(super) const SELECT_LAST_ORDER_ID: &str =
    "SELECT max(m) FROM (SELECT max(id) AS m FROM orders UNION ALL SELECT max(order_id) FROM history) ids";

/// The id after [`SELECT_LAST_ORDER_ID`]'s answer.
pub(super) fn next_after(max: Option<i64>) -> Result<i64> {
    max.unwrap_or(0).checked_add(1).ok_or_else(|| Error::Internal("order ids are exhausted".into()))
}

/// Inserts a new order (version 1) with its services and reads it back.
async fn insert_order(
    conn: &mut AnyConnection,
    backend: Backend,
    id: i64,
    datetime: Timestamp,
    totalfee: Money,
    services: &[i64],
) -> Result<Order> {
    let now = Timestamp::now().millis();
    sqlx::query(concat!(insert_orders!(), "VALUES ($1, $2, $3, 1, $4, $4)"))
        .bind(id)
        .bind(datetime.millis())
        .bind(totalfee.cents())
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(|e| {
            if super::db_errors::is_unique_violation(&e) {
                Error::Duplicate(format!("order {id} already exists"))
            } else {
                unnamed_conflict(e, datetime)
            }
        })?;
    link_services(conn, backend, id, services).await?;
    fetch_order(conn, backend, id).await?.ok_or(Error::NotFound { what: "order", id })
}

async fn link_services(conn: &mut AnyConnection, backend: Backend, order_id: i64, services: &[i64]) -> Result<()> {
    let mut sql = Sql::new(backend, concat!(insert_order_services!(), "VALUES "));
    for (i, service) in services.iter().enumerate() {
        sql.push(if i == 0 { "(" } else { ", (" }).bind(order_id).push(", ").bind(*service).push(")");
    }
    sql.query().execute(conn).await.map_err(|e| {
        if super::db_errors::is_foreign_key_violation(&e) {
            Error::invalid("services", "unknown service id")
        } else {
            e.into()
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::store::gap::UNNAMED;
    use crate::store::{StoreOptions, TestDatabase};

    #[tokio::test]
    async fn a_write_the_schema_refuses_is_named_once_its_transaction_has_ended() {
        let db = TestDatabase::new().await;
        let options = StoreOptions { max_connections: 1, ..StoreOptions::default() };
        let store = Store::connect(&db.url, &options).await.unwrap();
        store.add_service(Some(1), "Inspection").await.unwrap();
        let at = Timestamp::parse("2030-01-01T00:00:00Z").unwrap();
        let first = store
            .create_order(
                &crate::domain::NewOrder {
                    id: None,
                    datetime: Some(at),
                    totalfee: Money::from_cents(1),
                    services: vec![crate::domain::ServiceRef { id: 1, name: None }],
                },
                "t",
            )
            .await
            .unwrap();
        // An insert the store's own check did not see coming (as when a writer outside the
        // store's lock commits first): the schema refuses it without naming the order.
        let close = Timestamp::from_millis(at.millis() + 1000);
        let mut tx = store.begin_write().await.unwrap();
        let refused = insert_order(&mut tx, store.backend, 99, close, Money::from_cents(1), &[1]).await;
        assert!(matches!(refused, Err(Error::Schedule { conflicting_id: UNNAMED, .. })), "{refused:?}");
        drop(tx);
        // One pooled connection: naming it needs the write's connection back.
        match store.named(refused, None).await {
            Err(Error::Schedule { conflicting_id, conflicting_datetime, datetime, min_gap }) => {
                assert_eq!((conflicting_id, conflicting_datetime, datetime), (first.id, at, close));
                assert_eq!(min_gap, Duration::from_secs(3 * 3600));
            }
            other => panic!("not named: {other:?}"),
        }
    }
}
