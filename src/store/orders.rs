//! Orders read: one, a page, a stream, a count; and the SQL every read and write of orders
//! shares (their columns, the services as one JSON text, the heads of their inserts).

use futures_util::future::BoxFuture;
use futures_util::{Stream, TryStreamExt as _};
use sqlx::FromRow;
use sqlx::{AnyConnection, Connection as _};

use super::services::require_services;
use super::sql::Sql;
use super::{Backend, Store};
use crate::domain::{FieldError, Money, Order, OrderFilter, OrderKey, Service, SortOrder, Timestamp};
use crate::error::{Error, Result, because};

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
pub(super) struct OrderRow {
    #[sqlx(flatten)]
    order: OrderColumns,
    services: Option<String>,
}

impl OrderRow {
    pub(super) fn into_order(self) -> Result<Order> {
        let services: Vec<Service> = match self.services.as_deref() {
            Some(json) => serde_json::from_str(json).map_err(|e| {
                Error::Internal(because(format!("order {} has unreadable services {json:?}: {e}", self.order.id), e))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreOptions;

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
