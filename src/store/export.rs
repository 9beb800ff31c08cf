//! `export`: every order, ascending by id, read in one snapshot.
//!
//! The listing's statement builds each order's services as JSON inside the database (a join
//! and a JSON aggregate per order), which made that statement alone 5.6 s of PostgreSQL time
//! for 1M orders. An export needs no filter and no particular order, so it asks for less: the
//! orders in primary-key order with their service ids as one `1,2` text (aggregated by a
//! grouped join), and takes the names from the catalogue, read once in the same read-only
//! transaction, so the ids and the names are one consistent snapshot.

use std::collections::HashMap;

use futures_util::{Stream, TryStreamExt as _};
use sqlx::FromRow;

use super::orders::{OrderColumns, order_columns};
use super::services::catalogue;
use super::session::POSTGRES_LONG_READ;
use super::{Backend, Store};
use crate::domain::{Order, Service};
use crate::error::{Error, Result};

/// Every order with its service ids (`$ids`: the backend's text aggregate), ascending by id.
macro_rules! export_statement {
    ($ids:literal) => {
        concat!(
            "SELECT ",
            order_columns!(),
            ", ",
            $ids,
            " AS service_ids FROM orders o LEFT JOIN order_services os ON os.order_id = o.id GROUP BY o.id ORDER BY o.id"
        )
    };
}

/// The export statement for `backend`.
fn statement(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => export_statement!("group_concat(os.service_id)"),
        Backend::Postgres => export_statement!("string_agg(os.service_id::text, ',')"),
    }
}

/// One snapshot for the catalogue and the orders: SQLite's read transaction begins at its
/// first read; PostgreSQL needs REPEATABLE READ for two statements to share one. There the
/// export lifts the statement bound for its transaction (`POSTGRES_LONG_READ`): its one
/// statement lasts as long as its reader takes to consume every order.
fn begin(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "BEGIN",
        Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
    }
}

/// An order with its service ids as one `1,2` text.
#[derive(FromRow)]
struct ExportRow {
    #[sqlx(flatten)]
    order: OrderColumns,
    service_ids: Option<String>,
}

impl ExportRow {
    fn into_order(self, names: &HashMap<i64, String>) -> Result<Order> {
        let id = self.order.id();
        let unreadable = |what: &str| Error::Internal(format!("order {id} has {what} {:?}", self.service_ids).into());
        let mut services = Vec::with_capacity(2);
        for service in self.service_ids.as_deref().unwrap_or_default().split(',').filter(|s| !s.is_empty()) {
            let service: i64 = service.parse().map_err(|_| unreadable("unreadable service ids"))?;
            let name = names.get(&service).ok_or_else(|| unreadable("a service missing from the catalogue in"))?;
            services.push(Service { id: service, name: name.clone() });
        }
        services.sort_unstable_by_key(|service| service.id);
        Ok(self.order.into_order(services))
    }
}

impl Store {
    /// Every order, ascending by id, as of one moment: writes committed while the export
    /// runs are not in it. Memory stays flat however many orders there are.
    pub fn export_orders(&self) -> impl Stream<Item = Result<Order>> + Send + 'static {
        let (pool, backend) = (self.pool.clone(), self.backend);
        async_stream::try_stream! {
            let mut tx = pool.begin_with(begin(backend)).await?;
            if backend == Backend::Postgres {
                sqlx::query(POSTGRES_LONG_READ).execute(&mut *tx).await?;
            }
            let names: HashMap<i64, String> = catalogue(&mut tx).await?.into_iter().map(|s| (s.id, s.name)).collect();
            let mut rows = sqlx::query_as::<_, ExportRow>(statement(backend)).fetch(&mut *tx);
            while let Some(row) = rows.try_next().await? {
                yield row.into_order(&names)?;
            }
            drop(rows);
            tx.commit().await?;
        }
    }
}
