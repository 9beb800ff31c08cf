//! Orders: reads (one, a page, a stream) and the checked writes (create, update, delete),
//! each write one transaction under the store's write lock with its history event.

use futures_util::future::BoxFuture;
use futures_util::{Stream, TryStreamExt as _};
use sqlx::FromRow;
use sqlx::{AnyConnection, Connection as _};

use super::history::append_event;
use super::sql::Sql;
use super::{Backend, Store};
use crate::domain::schedule::conflict_window;
use crate::domain::{
    EventKind, FieldError, Money, NewOrder, Order, OrderFilter, OrderKey, OrderPatch, Service, SortOrder, Timestamp,
};
use crate::error::{Error, Result};

/// One JSON text of an order's services, ascending by id; the aggregate differs by backend.
macro_rules! services_json {
    (Sqlite) => {
        "SELECT json_group_array(json_object('id', s.id, 'name', s.name) ORDER BY s.id)"
    };
    (Postgres) => {
        "SELECT json_agg(json_build_object('id', s.id, 'name', s.name) ORDER BY s.id)::text"
    };
}

/// An order's own columns on `orders o`, as [`OrderColumns`] reads them.
macro_rules! order_columns {
    () => {
        "o.id, o.datetime, o.totalfee_cents, o.version, o.created_at, o.updated_at"
    };
}
pub(super) use order_columns;

/// The head of an insert into `orders` (before `VALUES` or `SELECT`), for a create's one row
/// and an import's many.
macro_rules! insert_orders {
    () => {
        "INSERT INTO orders (id, datetime, totalfee_cents, version, created_at, updated_at) "
    };
}
pub(super) use insert_orders;

/// The head of an insert into `order_services`, for a create or update and an import.
macro_rules! insert_order_services {
    () => {
        "INSERT INTO order_services (order_id, service_id) "
    };
}
pub(super) use insert_order_services;

/// The columns of an order with its services aggregated into one JSON text per row, so a
/// listing is one index-ordered scan.
macro_rules! select_orders {
    ($backend:tt) => {
        concat!(
            "SELECT ",
            order_columns!(),
            ", (",
            services_json!($backend),
            " FROM order_services os JOIN services s ON s.id = os.service_id WHERE os.order_id = o.id) AS services",
            " FROM orders o"
        )
    };
}

/// The nearest order in a window of datetimes, other than one id: the scheduling rule's check.
const NEAREST_IN_WINDOW: &str = "SELECT id, datetime FROM orders WHERE datetime BETWEEN $1 AND $2 AND id <> $3 \
     ORDER BY abs(datetime - $4), id LIMIT 1";

/// A page of a listing.
#[derive(Debug, Clone, Default)]
pub struct OrderQuery {
    /// Which orders.
    pub filter: OrderFilter,
    /// In which order.
    pub sort: SortOrder,
    /// Continue strictly after this position (keyset paging).
    pub after: Option<OrderKey>,
    /// At most this many; `None` for all.
    pub limit: Option<u32>,
}

/// An order's own columns, as every read of orders selects them.
#[derive(FromRow)]
pub(super) struct OrderColumns {
    id: i64,
    datetime: i64,
    totalfee_cents: i64,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

impl OrderColumns {
    pub(super) fn id(&self) -> i64 {
        self.id
    }

    pub(super) fn into_order(self, services: Vec<Service>) -> Order {
        Order {
            id: self.id,
            datetime: Timestamp::from_millis(self.datetime),
            totalfee: Money::from_cents(self.totalfee_cents),
            services,
            version: self.version,
            created_at: Timestamp::from_millis(self.created_at),
            updated_at: Timestamp::from_millis(self.updated_at),
        }
    }
}

/// An order with its services as one JSON text.
#[derive(FromRow)]
struct OrderRow {
    #[sqlx(flatten)]
    order: OrderColumns,
    services: Option<String>,
}

impl OrderRow {
    fn into_order(self) -> Result<Order> {
        let services: Vec<Service> = match self.services.as_deref() {
            Some(json) => serde_json::from_str(json).map_err(|e| {
                Error::Internal(format!("order {} has unreadable services {json:?}: {e}", self.order.id))
            })?,
            None => Vec::new(),
        };
        Ok(self.order.into_order(services))
    }
}

fn select(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => select_orders!(Sqlite),
        Backend::Postgres => select_orders!(Postgres),
    }
}

/// Builds the listing query: filters, the keyset position, the order and the limit.
fn listing(backend: Backend, query: &OrderQuery) -> Sql {
    let mut sql = Sql::new(backend, select(backend));
    let conditions = push_filter(&mut sql, &query.filter);
    if let Some(after) = query.after {
        sql.push(if conditions == 0 { " WHERE " } else { " AND " });
        let (column, op) = match query.sort {
            SortOrder::DatetimeAsc => ("(o.datetime, o.id) ", ">"),
            SortOrder::DatetimeDesc => ("(o.datetime, o.id) ", "<"),
            SortOrder::IdAsc => ("o.id ", ">"),
            SortOrder::IdDesc => ("o.id ", "<"),
        };
        sql.push(column).push(op);
        match query.sort {
            SortOrder::DatetimeAsc | SortOrder::DatetimeDesc => {
                sql.push(" (").bind(after.datetime.millis()).push(", ").bind(after.id).push(")")
            }
            SortOrder::IdAsc | SortOrder::IdDesc => sql.push(" ").bind(after.id),
        };
    }
    sql.push(match query.sort {
        SortOrder::DatetimeAsc => " ORDER BY o.datetime, o.id",
        SortOrder::DatetimeDesc => " ORDER BY o.datetime DESC, o.id DESC",
        SortOrder::IdAsc => " ORDER BY o.id",
        SortOrder::IdDesc => " ORDER BY o.id DESC",
    });
    if let Some(limit) = query.limit {
        sql.push(" LIMIT ").bind(i64::from(limit));
    }
    sql
}

/// Appends the `WHERE` conditions of `filter` (on `orders o`); returns how many it added.
fn push_filter(sql: &mut Sql, filter: &OrderFilter) -> usize {
    let mut conditions = 0;
    let mut next = |sql: &mut Sql| {
        sql.push(if conditions == 0 { " WHERE " } else { " AND " });
        conditions += 1;
    };
    if let Some(from) = filter.from {
        next(sql);
        sql.push("o.datetime >= ").bind(from.millis());
    }
    if let Some(to) = filter.to {
        next(sql);
        sql.push("o.datetime < ").bind(to.millis());
    }
    if let Some(service) = filter.service {
        next(sql);
        sql.push("EXISTS (SELECT 1 FROM order_services f WHERE f.order_id = o.id AND f.service_id = ")
            .bind(service)
            .push(")");
    }
    conditions
}

impl Store {
    /// One order.
    ///
    /// # Errors
    /// [`Error::NotFound`] when there is no such order.
    pub async fn get_order(&self, id: i64) -> Result<Order> {
        self.look_up(id).await?.ok_or(Error::NotFound { what: "order", id })
    }

    /// The input's field errors as one [`Error::Invalid`], with every unknown service among
    /// `services` named too, so a caller hears of every field error at once. (Should the
    /// catalogue be unreadable, the other errors still stand.)
    pub async fn invalid(&self, mut errors: Vec<FieldError>, services: Option<&[i64]>) -> Error {
        if let Some(ids) = services.filter(|ids| !ids.is_empty()) {
            let (backend, ids) = (self.backend, ids.to_vec());
            let known = self
                .read(|conn| {
                    let ids = ids.clone();
                    Box::pin(async move { require_services(conn, backend, &ids).await })
                })
                .await;
            if let Err(Error::Invalid(unknown)) = known {
                errors.extend(unknown);
            }
        }
        Error::Invalid(errors)
    }

    /// A page of orders (or all of them, when `query.limit` is `None`: prefer
    /// [`Store::stream_orders`] for that).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn list_orders(&self, query: &OrderQuery) -> Result<Vec<Order>> {
        let rows = self
            .read(|conn| {
                let sql = listing(self.backend, query);
                Box::pin(async move { Ok(sql.query_as::<OrderRow>().fetch_all(conn).await?) })
            })
            .await?;
        rows.into_iter().map(OrderRow::into_order).collect()
    }

    /// Every order matching `query`, read as the caller consumes it: memory stays flat however
    /// many orders there are.
    ///
    /// The read runs on a connection of its own, outside the pool (see
    /// [`Store::connect_unpooled`]), closed when the stream ends or is dropped: a caller that
    /// consumes slowly, or not at all, holds no connection that writes and other reads need.
    /// On SQLite (WAL) a reader never blocks the writer either; on PostgreSQL the open
    /// statement's lock stops no write of orders (only DDL, such as `rules set-gap`, waits).
    pub fn stream_orders(&self, query: OrderQuery) -> impl Stream<Item = Result<Order>> + Send + 'static {
        let store = self.clone();
        async_stream::try_stream! {
            let mut own = store.connect_unpooled().await?;
            let mut pooled = None;
            let conn: &mut AnyConnection = match own.as_mut() {
                Some(conn) => conn,
                None => pooled.insert(store.pool.acquire().await?).as_mut(),
            };
            let mut rows = listing(store.backend, &query).query_as::<OrderRow>().fetch(conn);
            while let Some(row) = rows.try_next().await? {
                yield row.into_order()?;
            }
            drop(rows);
            if let Some(conn) = own {
                // Every row is read: a failure to say goodbye costs the caller nothing.
                let _ = conn.close().await;
            }
        }
    }

    /// How many orders match `filter`.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn count_orders(&self, filter: &OrderFilter) -> Result<i64> {
        self.read(|conn| {
            let mut sql = Sql::new(self.backend, "SELECT CAST(COUNT(*) AS BIGINT) FROM orders o");
            push_filter(&mut sql, filter);
            Box::pin(async move { Ok(sql.query_scalar::<i64>().fetch_one(conn).await?) })
        })
        .await
    }

    /// Creates an order, checking the scheduling rule in the same transaction.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an unknown service, [`Error::Schedule`] when another order is
    /// within the minimum gap.
    pub async fn create_order(&self, new: &NewOrder, actor: &str) -> Result<Order> {
        let mut tx = self.begin_write().await?;
        let order = self.create_in(&mut tx, new, actor).await?;
        tx.commit().await?;
        Ok(order)
    }

    /// The create itself, inside a write transaction the caller commits.
    pub(super) async fn create_in(&self, tx: &mut AnyConnection, new: &NewOrder, actor: &str) -> Result<Order> {
        let service_ids: Vec<i64> = new.services.iter().map(|s| s.id).collect();
        require_services(tx, self.backend, &service_ids).await?;
        let datetime = new.datetime.unwrap_or_else(Timestamp::now);
        self.check_gap(tx, datetime, None).await?;
        let id = match new.id {
            Some(id) => id,
            None => next_order_id(tx).await?,
        };
        let order = insert_order(tx, self.backend, id, datetime, new.totalfee, &service_ids).await?;
        append_event(tx, EventKind::Created, &order, actor).await?;
        Ok(order)
    }

    /// Changes the fields `patch` gives; the scheduling rule is checked against every other
    /// order even when the datetime stays.
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
        .await?;
        if let Some(services) = &patch.services {
            sqlx::query("DELETE FROM order_services WHERE order_id = $1").bind(id).execute(&mut *tx).await?;
            link_services(&mut tx, self.backend, id, services).await?;
        }
        let order = fetch_order(&mut tx, self.backend, id).await?.ok_or(Error::NotFound { what: "order", id })?;
        append_event(&mut tx, EventKind::Updated, &order, actor).await?;
        tx.commit().await?;
        Ok(order)
    }

    /// Deletes an order; its history stays.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Stale`] when `if_version` is not the stored version.
    pub async fn delete_order(&self, id: i64, if_version: Option<i64>, actor: &str) -> Result<Order> {
        let mut tx = self.begin_write().await?;
        let order = fetch_current(&mut tx, self.backend, id, if_version).await?;
        sqlx::query("DELETE FROM orders WHERE id = $1").bind(id).execute(&mut *tx).await?;
        append_event(&mut tx, EventKind::Deleted, &order, actor).await?;
        tx.commit().await?;
        Ok(order)
    }

    /// The scheduling rule: fails with the nearest order closer than the minimum gap to
    /// `datetime`, other than `except`. A range lookup on `orders_datetime_id`, so its cost
    /// does not grow with the table.
    pub(super) async fn check_gap(
        &self,
        conn: &mut AnyConnection,
        datetime: Timestamp,
        except: Option<i64>,
    ) -> Result<()> {
        let Some((low, high)) = conflict_window(datetime, self.min_gap) else { return Ok(()) };
        let nearest: Option<(i64, i64)> = sqlx::query_as(NEAREST_IN_WINDOW)
            .bind(low)
            .bind(high)
            .bind(except.unwrap_or(0))
            .bind(datetime.millis())
            .fetch_optional(&mut *conn)
            .await?;
        match nearest {
            None => Ok(()),
            Some((conflicting_id, at)) => Err(Error::Schedule {
                conflicting_id,
                conflicting_datetime: Timestamp::from_millis(at),
                datetime,
                min_gap: self.min_gap,
            }),
        }
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

/// The orders among `ids` (in no particular order; an id asked twice is read once).
pub(super) fn fetch_orders<'c>(
    conn: &'c mut AnyConnection,
    backend: Backend,
    ids: &[i64],
) -> BoxFuture<'c, Result<Vec<Order>>> {
    let mut sql = Sql::new(backend, select(backend));
    sql.push(" WHERE o.id IN (").bind_list(ids).push(")");
    Box::pin(async move {
        let rows = sql.query_as::<OrderRow>().fetch_all(conn).await?;
        rows.into_iter().map(OrderRow::into_order).collect()
    })
}

/// Fails with a field error naming every service id that is not in the catalogue.
async fn require_services(conn: &mut AnyConnection, backend: Backend, ids: &[i64]) -> Result<()> {
    let mut sql = Sql::new(backend, "SELECT id FROM services WHERE id IN (");
    sql.bind_list(ids).push(")");
    let found: Vec<i64> = sql.query_scalar().fetch_all(conn).await?;
    let missing: Vec<String> = ids.iter().filter(|id| !found.contains(id)).map(ToString::to_string).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::invalid("services", format!("unknown service id {}", missing.join(", "))))
    }
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
    max.unwrap_or(0).checked_add(1).ok_or_else(|| Error::Internal("order ids are exhausted".to_owned()))
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
            if super::is_unique_violation(&e) {
                Error::Duplicate(format!("order {id} already exists"))
            } else {
                e.into()
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
        if super::is_foreign_key_violation(&e) { Error::invalid("services", "unknown service id") } else { e.into() }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::store::StoreOptions;

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
    async fn a_streams_own_connection_is_outside_the_pool_with_the_pools_session_settings_but_no_statement_bound() {
        // PostgreSQL when the suite runs against it, else a SQLite file.
        let dir = tempfile::tempdir().unwrap();
        let url = std::env::var("ORDERS_TEST_DATABASE_URL")
            .ok()
            .filter(|url| !url.is_empty())
            .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("own.db").display()));
        let options = StoreOptions { max_connections: 1, auto_migrate: false, ..StoreOptions::default() };
        let store = Store::connect(&url, &options).await.unwrap();
        let held = store.pool.acquire().await.unwrap();
        let mut own = store.connect_unpooled().await.unwrap().expect("a connection of its own");
        let expected: &[(&str, &str)] = match store.backend {
            Backend::Postgres => &[
                ("SELECT current_setting('jit')", "off"),
                ("SELECT current_setting('lock_timeout')", "5s"),
                ("SELECT current_setting('statement_timeout')", "0"),
            ],
            Backend::Sqlite => &[
                ("SELECT CAST((SELECT * FROM pragma_busy_timeout) AS TEXT)", "5000"),
                ("SELECT CAST((SELECT * FROM pragma_foreign_keys) AS TEXT)", "1"),
            ],
        };
        for (query, value) in expected {
            let got: String = sqlx::query_scalar(*query).fetch_one(&mut own).await.unwrap();
            assert_eq!(got, *value, "{query}");
        }
        assert_eq!(
            (store.pool.size(), store.pool.num_idle()),
            (1, 0),
            "opened while the pool's one connection is taken"
        );
        drop(held);
        let memory = Store::connect("sqlite::memory:", &options).await.unwrap();
        assert!(memory.connect_unpooled().await.unwrap().is_none(), "in memory, another connection sees nothing");
    }
}
