//! `import` on PostgreSQL: every record is streamed with COPY into a temporary table, which a
//! few set-based statements then check and copy into the store, in one transaction.
//!
//! Written as multi-row inserts, 512 orders took ~25 statements, each one waiting for the last
//! (PostgreSQL and this process took turns: of 28 s for 1M orders, PostgreSQL worked 21 s and
//! this process 7.7 s). COPY streams instead: the
//! database stores rows while the next ones are parsed, and the writes are then what
//! PostgreSQL does for an `INSERT … SELECT` of its own (bench/sql/import_floor.sql), with its
//! reference checks run once per statement over all the rows.
//!
//! The first bad record is the one writing record by record would have named: a record that
//! cannot become an order ends the stream (the ones before it are still checked); the
//! scheduling rule is checked over every staged and stored order in datetime order — if no two
//! neighbours are too close, no two orders are — and only when two are does an exact query
//! name the pair; an id stored already or repeated fails the insert into `orders`, made under
//! a savepoint, and a query then finds its record. The earliest of these is the error.

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{Connection as _, Executor as _, Postgres, Transaction};

use std::time::Duration;

use super::Store;
use super::history::insert_history;
use super::import_records::{Catalogue, ImportError, ImportReport, NewOrders, taken, too_close};
use super::order_writes::{SELECT_LAST_ORDER_ID, next_after};
use super::orders::{insert_order_services, insert_orders};
use super::rules::{SELECT_GAP, gap_from_millis, is_gap_violation};
use super::services::{INSERT_SERVICE, SELECT_CATALOGUE};
use super::session::{Bounds, POSTGRES_BOUNDS, POSTGRES_TUNING};
use super::write_lock::{POSTGRES_BEGIN_WRITE, POSTGRES_TAKE_WRITE_LOCK, POSTGRES_WRITE_LOCK};
use crate::domain::service::name_key;
use crate::domain::{EventKind, NewOrder, Order, Service, schedule};
use crate::error::{Error, Result};

/// How many bytes of rows go into one COPY message.
const CHUNK: usize = 256 * 1024;

/// The staging table: one row per record, in record order, as the store will write it.
const CREATE_STAGING: &str = "CREATE TEMPORARY TABLE import_orders (record bigint NOT NULL, id bigint NOT NULL, \
     datetime bigint NOT NULL, totalfee_cents bigint NOT NULL, services bigint[] NOT NULL, snapshot text NOT NULL) \
     ON COMMIT DROP";

/// Whether any two orders, staged or stored, are within $1 ms of each other: one sorted pass
/// over the staged orders and the stored ones in their datetime range.
const ANY_TOO_CLOSE: &str = "SELECT EXISTS (SELECT 1 FROM (SELECT datetime - lag(datetime) OVER (ORDER BY datetime) \
     AS step FROM (SELECT datetime FROM import_orders UNION ALL SELECT o.datetime FROM orders o, \
     (SELECT min(datetime) - $1 AS lo, max(datetime) + $1 AS hi FROM import_orders) r \
     WHERE o.datetime BETWEEN r.lo AND r.hi) t) steps WHERE step <= $1)";

/// The first record too close to an earlier order (stored, or an earlier record's), with the
/// nearest such order: (record, distance, earlier id, its datetime, the record's datetime).
/// Needs an index on the staging table's datetime.
const FIRST_TOO_CLOSE: &str = "SELECT s.record, abs(s.datetime - o.datetime), o.id, o.datetime, s.datetime \
     FROM import_orders s JOIN orders o ON o.datetime BETWEEN s.datetime - $1 AND s.datetime + $1 AND o.id <> s.id \
     UNION ALL SELECT s.record, abs(s.datetime - e.datetime), e.id, e.datetime, s.datetime \
     FROM import_orders s JOIN import_orders e ON e.datetime BETWEEN s.datetime - $1 AND s.datetime + $1 \
     AND e.record < s.record AND e.id <> s.id ORDER BY 1, 2, 3, 4, 5 LIMIT 1";

/// The first record whose id history has seen (stored, or an order's that was deleted: ids are
/// never reused) or repeats an earlier record's, and the id.
const FIRST_TAKEN: &str = "SELECT record, id FROM (SELECT s.record, s.id FROM import_orders s JOIN orders o \
     ON o.id = s.id UNION ALL SELECT s.record, s.id FROM import_orders s WHERE EXISTS (SELECT 1 FROM history h \
     WHERE h.order_id = s.id) UNION ALL SELECT record, id FROM (SELECT record, id, lag(id) OVER (ORDER BY id, record) \
     AS previous FROM import_orders) r WHERE id = previous) taken ORDER BY record LIMIT 1";

/// Whether history has seen any staged id. A stored one also fails the insert into `orders`;
/// a deleted order's id fails nothing, so it is looked for before the orders are written.
const ANY_SEEN: &str =
    "SELECT EXISTS (SELECT 1 FROM import_orders s WHERE EXISTS (SELECT 1 FROM history h WHERE h.order_id = s.id))";

/// Imports `records` (see [`Store::import`]) on the PostgreSQL server `store` uses.
pub(super) async fn import(
    store: &Store,
    records: impl Iterator<Item = (usize, Result<NewOrder>)>,
    actor: &str,
) -> Result<ImportReport, ImportError> {
    let options = store.postgres.as_deref().expect("a PostgreSQL store keeps its connect options");
    let mut conn = connect(options, store.bounds).await.map_err(ImportError::outside)?;
    let mut tx = begin(&mut conn, store.bounds).await.map_err(ImportError::outside)?;
    let catalogue: Vec<(i64, String)> = sqlx::query_as(SELECT_CATALOGUE).fetch_all(&mut *tx).await.map_err(outside)?;
    let catalogue = Catalogue::new(catalogue.into_iter().map(|(id, name)| Service { id, name }).collect());
    let last_id: Option<i64> = sqlx::query_scalar(SELECT_LAST_ORDER_ID).fetch_one(&mut *tx).await.map_err(outside)?;
    let mut orders = NewOrders::new(catalogue, next_after(last_id).map_err(ImportError::outside)?);
    let gap: Option<i64> = sqlx::query_scalar(SELECT_GAP).fetch_optional(&mut *tx).await.map_err(outside)?;
    let gap = gap_from_millis(gap.unwrap_or(0));
    run(&mut tx, CREATE_STAGING).await?;
    let (staged, stopped) = stage(&mut tx, records, &mut orders).await?;
    if let Some(error) = first_bad_record(&mut tx, gap, stopped).await? {
        return Err(error);
    }
    for (record, service) in &orders.catalogue.created {
        let insert = sqlx::query(INSERT_SERVICE).bind(service.id).bind(&service.name).bind(name_key(&service.name));
        insert.execute(&mut *tx).await.map_err(|e| ImportError::at(*record, e.into()))?;
    }
    write(&mut tx, actor, orders.now.millis(), gap).await?;
    tx.commit().await.map_err(outside)?;
    let _ = conn.close().await;
    Ok(ImportReport { orders: staged, services: orders.catalogue.created.len() as u64 })
}

/// A connection of its own for the import (COPY needs PostgreSQL's own driver, not the pool's
/// `Any`), tuned and bounded as the pool's are, except that its statements are not: the COPY
/// and the writes after it take as long as the input is big (1M orders: tens of seconds). The
/// input is read before the import begins (see `cli::import`), so no statement waits on it.
async fn connect(options: &PgConnectOptions, bounds: Bounds) -> Result<PgConnection> {
    let mut conn = PgConnection::connect_with(options).await?;
    for setting in POSTGRES_TUNING {
        if let Err(e) = conn.execute(setting).await {
            tracing::debug!("cannot {setting}: {e}");
        }
    }
    let set = sqlx::query(POSTGRES_BOUNDS).bind(bounds.lock_millis()).bind("0").bind(bounds.statement_millis());
    if let Err(e) = set.execute(&mut conn).await {
        tracing::warn!("cannot bound lock waits on this database: {e}");
    }
    Ok(conn)
}

/// The import's transaction, under the store's write lock (as `Store::begin_write` takes it,
/// waiting at most `database.lock_timeout`).
async fn begin(conn: &mut PgConnection, bounds: Bounds) -> Result<Transaction<'_, Postgres>> {
    let mut tx = conn.begin_with(POSTGRES_BEGIN_WRITE).await?;
    let lock = sqlx::query(POSTGRES_TAKE_WRITE_LOCK).bind(POSTGRES_WRITE_LOCK);
    lock.execute(&mut *tx).await.map_err(|e| bounds.classify_lock_wait(e))?;
    Ok(tx)
}

/// Streams every record that becomes an order into the staging table, stopping at the first
/// that cannot: how many were staged, and that record's error.
async fn stage(
    tx: &mut PgConnection,
    records: impl Iterator<Item = (usize, Result<NewOrder>)>,
    orders: &mut NewOrders,
) -> Result<(u64, Option<ImportError>), ImportError> {
    let mut copy = tx.copy_in_raw("COPY import_orders FROM STDIN").await.map_err(outside)?;
    let (mut chunk, mut staged, mut stopped) = (Vec::with_capacity(CHUNK + 4096), 0, None);
    for (record, parsed) in records {
        match orders.order(record, parsed) {
            Ok(order) => copy_row(&mut chunk, record, &order).map_err(ImportError::outside)?,
            Err(error) => {
                stopped = Some(ImportError::at(record, error));
                break;
            }
        }
        staged += 1;
        if chunk.len() >= CHUNK {
            copy.send(chunk.as_slice()).await.map_err(outside)?;
            chunk.clear();
        }
    }
    if !chunk.is_empty() {
        copy.send(chunk.as_slice()).await.map_err(outside)?;
    }
    copy.finish().await.map_err(outside)?;
    Ok((staged, stopped))
}

/// One staging row in COPY's text format: tab-separated, backslash escaped. The snapshot is
/// the order's JSON, which holds no raw tab or line break (JSON escapes them) but may hold
/// backslashes.
fn copy_row(out: &mut Vec<u8>, record: usize, order: &Order) -> Result<()> {
    use std::io::Write as _;
    let (id, datetime, cents) = (order.id, order.datetime.millis(), order.totalfee.cents());
    let internal = |e: std::io::Error| Error::Internal(e.to_string());
    write!(out, "{record}\t{id}\t{datetime}\t{cents}\t{{").map_err(internal)?;
    for (i, service) in order.services.iter().enumerate() {
        write!(out, "{}{}", if i == 0 { "" } else { "," }, service.id).map_err(internal)?;
    }
    out.extend_from_slice(b"}\t");
    let snapshot = serde_json::to_vec(order).map_err(|e| Error::Internal(e.to_string()))?;
    for part in snapshot.split_inclusive(|&b| b == b'\\') {
        out.extend_from_slice(part);
        if part.last() == Some(&b'\\') {
            out.push(b'\\');
        }
    }
    out.push(b'\n');
    Ok(())
}

/// The earliest failure among the staged records (an id taken, the scheduling rule) and the
/// record the stream stopped at, if any; on the same record a taken id is named, as writing
/// record by record would have found it first.
async fn first_bad_record(
    tx: &mut PgConnection,
    gap: Duration,
    stopped: Option<ImportError>,
) -> Result<Option<ImportError>, ImportError> {
    let close = first_too_close(tx, gap).await?;
    let seen: bool = sqlx::query_scalar(ANY_SEEN).fetch_one(&mut *tx).await.map_err(outside)?;
    if close.is_none() && stopped.is_none() && !seen {
        return Ok(None); // unless a stored id is taken: writing the orders finds that
    }
    // `min_by_key` keeps the first of equals: taken, then too close, then the stream's stop.
    let found = first_taken(tx).await?.into_iter().chain(close).chain(stopped);
    Ok(found.min_by_key(|e| e.record))
}

/// The first staged record whose id is taken.
async fn first_taken(tx: &mut PgConnection) -> Result<Option<ImportError>, ImportError> {
    let first: Option<(i64, i64)> = sqlx::query_as(FIRST_TAKEN).fetch_optional(&mut *tx).await.map_err(outside)?;
    Ok(first.map(|(record, id)| taken(record_number(record), id)))
}

/// The first staged record too close to an earlier order.
async fn first_too_close(tx: &mut PgConnection, gap: Duration) -> Result<Option<ImportError>, ImportError> {
    let Some(reach) = schedule::conflict_reach(gap) else {
        return Ok(None);
    };
    let any: bool = sqlx::query_scalar(ANY_TOO_CLOSE).bind(reach).fetch_one(&mut *tx).await.map_err(outside)?;
    if !any {
        return Ok(None);
    }
    run(tx, "CREATE INDEX ON import_orders (datetime)").await?;
    let first: Option<(i64, i64, i64, i64, i64)> =
        sqlx::query_as(FIRST_TOO_CLOSE).bind(reach).fetch_optional(&mut *tx).await.map_err(outside)?;
    Ok(first.map(|(record, _, earlier, earlier_at, datetime)| {
        too_close(record_number(record), (earlier, earlier_at), datetime, gap)
    }))
}

/// Writes the staged orders, their services and their `created` events. The staging table
/// was written once, by COPY, so a plain scan returns its rows in record order, and the
/// events' `seq` follows the records.
///
/// The exclusion constraint checks every row again (see `rules`); it can only refuse one when
/// a writer outside the store's lock (SQL typed by hand) committed an order too close since
/// the checks ran, and the first record too close is then found again, that order now seen.
async fn write(tx: &mut PgConnection, actor: &str, now: i64, gap: Duration) -> Result<(), ImportError> {
    run(tx, "SAVEPOINT import_orders").await?;
    let orders = concat!(insert_orders!(), "SELECT id, datetime, totalfee_cents, 1, $1, $1 FROM import_orders");
    match sqlx::query(orders).bind(now).execute(&mut *tx).await {
        Ok(_) => {}
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            run(tx, "ROLLBACK TO SAVEPOINT import_orders").await?;
            let first = first_taken(tx).await?;
            return Err(first.unwrap_or_else(|| ImportError::outside(Error::Internal(e.to_string()))));
        }
        Err(e) if is_gap_violation(&e) => {
            run(tx, "ROLLBACK TO SAVEPOINT import_orders").await?;
            let first = first_too_close(tx, gap).await?;
            return Err(first.unwrap_or_else(|| outside(e)));
        }
        Err(e) => return Err(outside(e)),
    }
    let services = concat!(insert_order_services!(), "SELECT id, unnest(services) FROM import_orders");
    run(tx, services).await?;
    let history = concat!(insert_history!(), "SELECT id, $1, $2, $3, snapshot FROM import_orders");
    let history = sqlx::query(history).bind(EventKind::Created.as_str()).bind(actor).bind(now);
    history.execute(&mut *tx).await.map_err(outside)?;
    Ok(())
}

/// Runs one statement that takes no values.
async fn run(tx: &mut PgConnection, sql: &'static str) -> Result<(), ImportError> {
    tx.execute(sql).await.map(drop).map_err(outside)
}

/// A record number as staged (records are numbered from 1, so it always fits).
fn record_number(staged: i64) -> usize {
    usize::try_from(staged).unwrap_or(usize::MAX)
}

/// A database failure not about any one record.
fn outside(e: sqlx::Error) -> ImportError {
    ImportError::outside(e.into())
}
