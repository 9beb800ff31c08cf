//! Importing in batches (an import on SQLite, a seed on both): multi-row inserts for orders,
//! their services and their history (a few statements of the same text each, so they run
//! prepared), under a savepoint; the schema's rule checks each row, and when it refuses the
//! batch is undone and its first record too close is looked for (see `gap`). The next batch
//! is read (and parsed) while the database writes the last one.

use std::collections::HashSet;
use std::time::Duration;

use sqlx::{AnyConnection, Executor as _};

use super::gap::{is_gap_violation, nearest_in_window};
use super::history::insert_history;
use super::import_records::{Catalogue, ImportError, ImportReport, NewOrders, taken, too_close};
use super::order_writes::{id_seen, next_order_id};
use super::orders::{insert_order_services, insert_orders};
use super::services::{INSERT_SERVICE, catalogue};
use super::sql::{Rows, Sql};
use super::{Backend, Store, rules};
use crate::domain::schedule;
use crate::domain::service::name_key;
use crate::domain::{EventKind, Money, NewOrder, Order, ServiceRef, Timestamp};
use crate::error::{Error, Result};

/// Records per batch: each batch's ids are looked up with one query that binds them twice, far
/// under either backend's limit (SQLite: 32766).
const BATCH: usize = 512;

/// Rows per insert statement: a batch's rows of each table in one statement (an order has a
/// few services), under either backend's limit on bound values.
const ROWS_PER_STATEMENT: usize = 2 * BATCH;

/// The sample catalogue of `orders seed`.
const SAMPLE_SERVICES: [(i64, &str); 3] = [(123, "Inspection"), (789, "Testing"), (456, "Analysis")];
/// The sample orders of `orders seed`: id, datetime, fee in cents, service; 3 h apart.
const SAMPLE_ORDERS: [(i64, &str, i64, i64); 3] = [
    (223, "2022-11-01T11:11:11.111Z", 10_000, 123),
    (224, "2022-11-01T14:11:11.111Z", 10_000, 789),
    (225, "2022-11-01T17:11:11.111Z", 10_000, 456),
];

/// An order ready to be written, with the record it came from.
struct Pending {
    record: usize,
    order: Order,
}

/// One batched import (or seed) in progress inside its transaction.
struct Importer<'s> {
    store: &'s Store,
    actor: &'s str,
    /// The minimum gap the database holds, read under the write lock.
    gap: Duration,
    orders: NewOrders,
    /// How many of `orders.catalogue.created` are stored.
    services_written: usize,
    batch: Vec<Pending>,
    written: u64,
}

impl<'s> Importer<'s> {
    async fn new(store: &'s Store, conn: &mut AnyConnection, actor: &'s str) -> Result<Self> {
        let catalogue = Catalogue::new(catalogue(conn).await?);
        Ok(Self {
            store,
            actor,
            gap: rules::stored_gap(conn).await?.unwrap_or_default(),
            orders: NewOrders::new(catalogue, next_order_id(conn).await?),
            services_written: 0,
            batch: Vec::with_capacity(BATCH),
            written: 0,
        })
    }

    /// Queues one record for the next [`Importer::flush`]; a bad one is reported only after
    /// the records before it are written and checked, so the error always names the first bad
    /// record.
    async fn add(
        &mut self,
        conn: &mut AnyConnection,
        record: usize,
        parsed: Result<NewOrder>,
    ) -> Result<(), ImportError> {
        match self.orders.order(record, parsed) {
            Ok(order) => {
                self.batch.push(Pending { record, order });
                Ok(())
            }
            Err(error) => {
                self.flush(conn).await?;
                Err(ImportError::at(record, error))
            }
        }
    }

    /// What was written.
    fn report(&self) -> ImportReport {
        ImportReport { orders: self.written, services: self.services_written as u64 }
    }

    /// Creates the services named since the last flush, then writes the queued orders and
    /// fails with the first record (in input order) whose id is taken or that is too close to
    /// an order before it.
    async fn flush(&mut self, conn: &mut AnyConnection) -> Result<(), ImportError> {
        // The catalogue, read under the write lock, already refused a taken id or name.
        for (record, service) in &self.orders.catalogue.created[self.services_written..] {
            let insert = sqlx::query(INSERT_SERVICE).bind(service.id).bind(&service.name).bind(name_key(&service.name));
            insert.execute(&mut *conn).await.map_err(|e| ImportError::at(*record, e.into()))?;
            self.services_written += 1;
        }
        if self.batch.is_empty() {
            return Ok(());
        }
        let (backend, actor) = (self.store.backend, self.actor);
        let batch = std::mem::take(&mut self.batch);
        // The database looks for taken ids while the batch's inserts are built (the query is
        // sent first), then writes what comes before the first taken one: nearly always all.
        let (first_taken, inserts) = tokio::join!(biased; first_taken_id(conn, backend, &batch), async { insert_statements(backend, &batch, actor) });
        let (valid, taken_ones) = batch.split_at(first_taken?.unwrap_or(batch.len()));
        if !valid.is_empty() {
            let inserts = if taken_ones.is_empty() { inserts } else { insert_statements(backend, valid, actor) };
            self.write_batch(conn, valid, inserts.map_err(ImportError::outside)?).await?;
            self.written += valid.len() as u64;
        }
        match taken_ones.first() {
            Some(pending) => Err(taken(pending.record, pending.order.id)),
            None => Ok(()),
        }
    }

    /// Runs a batch's inserts under a savepoint. The schema's rule checks every row as it is
    /// inserted (see `rules`) and refuses a statement with a row too close to an order before
    /// it, without saying which: the batch is then undone and its first bad record found here.
    async fn write_batch(
        &self,
        conn: &mut AnyConnection,
        batch: &[Pending],
        inserts: Vec<Sql>,
    ) -> Result<(), ImportError> {
        let outside = |e: sqlx::Error| ImportError::outside(e.into());
        conn.execute("SAVEPOINT import_batch").await.map_err(outside)?;
        for statement in inserts {
            match statement.query().execute(&mut *conn).await {
                Ok(_) => {}
                Err(e) if is_gap_violation(&e) => {
                    conn.execute("ROLLBACK TO SAVEPOINT import_batch").await.map_err(outside)?;
                    return Err(self.first_too_close(conn, batch).await?.unwrap_or_else(|| outside(e)));
                }
                Err(e) => return Err(outside(e)),
            }
        }
        conn.execute("RELEASE SAVEPOINT import_batch").await.map_err(outside)?;
        Ok(())
    }

    /// The first record of `batch` (not written) too close to an order before it: a stored
    /// one, or an earlier record of the batch; named with the nearest such order. One
    /// index-backed lookup per record, on this failure path only.
    async fn first_too_close(
        &self,
        conn: &mut AnyConnection,
        batch: &[Pending],
    ) -> Result<Option<ImportError>, ImportError> {
        let Some(reach) = schedule::conflict_reach(self.gap) else { return Ok(None) };
        for (i, pending) in batch.iter().enumerate() {
            let at = pending.order.datetime.millis();
            let stored =
                nearest_in_window(conn, at, pending.order.id).await.map_err(|e| ImportError::outside(e.into()))?;
            let earlier = batch[..i].iter().map(|e| (e.order.id, e.order.datetime.millis()));
            let nearest = stored
                .map(|(id, datetime, _)| (id, datetime))
                .into_iter()
                .chain(earlier)
                .filter(|&(_, datetime)| datetime.abs_diff(at) <= reach.unsigned_abs())
                .min_by_key(|&(id, datetime)| (datetime.abs_diff(at), id, datetime));
            if let Some(nearest) = nearest {
                return Ok(Some(too_close(pending.record, nearest, at, self.gap)));
            }
        }
        Ok(None)
    }
}

/// Takes the next [`BATCH`] records (parsing them, when `records` parses as it goes), giving
/// way after each so that a flush awaiting the database in the same task sends its next
/// statement as soon as the last one is done.
async fn read_ahead<T>(records: &mut impl Iterator<Item = T>, into: &mut Vec<T>) {
    for record in records.by_ref().take(BATCH) {
        into.push(record);
        tokio::task::yield_now().await;
    }
}

/// The position in `batch` of the first order whose id history has seen (an order has it or
/// had it: ids are never reused) or that repeats an id earlier in the batch.
async fn first_taken_id(
    conn: &mut AnyConnection,
    backend: Backend,
    batch: &[Pending],
) -> Result<Option<usize>, ImportError> {
    let ids: Vec<i64> = batch.iter().map(|p| p.order.id).collect();
    let mut sql = Sql::new(backend, "SELECT id FROM orders WHERE id IN (");
    sql.bind_list(&ids).push(") UNION SELECT order_id FROM history WHERE order_id IN (");
    sql.bind_list(&ids).push(")");
    let stored: HashSet<i64> =
        sql.query_scalar().fetch_all(conn).await.map_err(|e| ImportError::outside(e.into()))?.into_iter().collect();
    let mut seen = HashSet::with_capacity(batch.len());
    Ok(batch.iter().position(|p| stored.contains(&p.order.id) || !seen.insert(p.order.id)))
}

/// The statements that insert orders, their services and their `created` events: a few
/// multi-row statements for the batch.
fn insert_statements(backend: Backend, batch: &[Pending], actor: &str) -> Result<Vec<Sql>> {
    let mut orders = Rows::new(backend, concat!(insert_orders!(), "VALUES "), ROWS_PER_STATEMENT);
    let mut links = Rows::new(backend, concat!(insert_order_services!(), "VALUES "), ROWS_PER_STATEMENT);
    let mut events = Rows::new(backend, concat!(insert_history!(), "VALUES "), ROWS_PER_STATEMENT);
    for Pending { order, .. } in batch {
        let row = orders.next_row().bind(order.id).push(", ").bind(order.datetime.millis()).push(", ");
        row.bind(order.totalfee.cents()).push(", 1, ").bind(order.created_at.millis()).push(", ");
        row.bind(order.updated_at.millis()).push(")");
        for service in &order.services {
            links.next_row().bind(order.id).push(", ").bind(service.id).push(")");
        }
        let snapshot = serde_json::to_string(order).map_err(|e| Error::Internal(e.into()))?;
        let row = events.next_row().bind(order.id).push(", ").bind_text(EventKind::Created.as_str()).push(", ");
        row.bind_text(actor).push(", ").bind(order.created_at.millis()).push(", ").bind_text(&snapshot).push(")");
    }
    Ok([orders, links, events].into_iter().flat_map(Rows::into_statements).collect())
}

impl Store {
    /// [`Store::import`] batch by batch.
    pub(super) async fn import_in_batches(
        &self,
        mut records: impl Iterator<Item = (usize, Result<NewOrder>)>,
        actor: &str,
    ) -> Result<ImportReport, ImportError> {
        let mut tx = self.begin_write().await.map_err(ImportError::outside)?;
        let mut importer = Importer::new(self, &mut tx, actor).await.map_err(ImportError::outside)?;
        let mut ahead = Vec::with_capacity(BATCH);
        read_ahead(&mut records, &mut ahead).await;
        while !ahead.is_empty() {
            for (record, parsed) in ahead.drain(..) {
                importer.add(&mut tx, record, parsed).await?;
            }
            // The database writes this batch while the next one is parsed.
            let (flushed, ()) = tokio::join!(biased; importer.flush(&mut tx), read_ahead(&mut records, &mut ahead));
            flushed?;
        }
        tx.commit().await.map_err(|e| ImportError::outside(e.into()))?;
        Ok(importer.report())
    }

    /// Loads the sample catalogue and orders; what is already there is left alone, so running
    /// it twice changes nothing. A sample order whose id history has seen is not written: when
    /// it was deleted, its id stays taken (ids are never reused), so it is skipped and named
    /// in the report rather than failing the seed, which stays safe to run at every start.
    ///
    /// # Errors
    /// When a sample service's name belongs to another id, or a sample order conflicts with an
    /// existing order under the scheduling rule.
    pub async fn seed(&self, actor: &str) -> Result<SeedReport> {
        let mut tx = self.begin_write().await?;
        let mut importer = Importer::new(self, &mut tx, actor).await?;
        for (id, name) in SAMPLE_SERVICES {
            importer.orders.catalogue.resolve(0, &ServiceRef { id, name: Some(name.to_owned()) })?;
        }
        let mut not_reused = Vec::new();
        for (record, (id, datetime, cents, service)) in SAMPLE_ORDERS.into_iter().enumerate() {
            let exists: Option<i64> =
                sqlx::query_scalar("SELECT id FROM orders WHERE id = $1").bind(id).fetch_optional(&mut *tx).await?;
            if exists.is_some() {
                continue;
            }
            if id_seen(&mut tx, id).await? {
                not_reused.push(id);
                continue;
            }
            let new = NewOrder {
                id: Some(id),
                datetime: Some(Timestamp::parse(datetime).map_err(|e| Error::Internal(e.into()))?),
                totalfee: Money::from_cents(cents),
                services: vec![ServiceRef { id: service, name: None }],
            };
            importer.add(&mut tx, record + 1, Ok(new)).await.map_err(|e| e.error)?;
        }
        importer.flush(&mut tx).await.map_err(|e| e.error)?;
        tx.commit().await?;
        Ok(SeedReport { added: importer.report(), not_reused })
    }
}

/// What `seed` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedReport {
    /// What it wrote.
    pub added: ImportReport,
    /// Sample order ids it did not write because they belonged to deleted orders.
    pub not_reused: Vec<i64>,
}
