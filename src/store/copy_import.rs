//! `import` on PostgreSQL: every record is streamed with COPY into a temporary table, which a
//! few set-based statements then check and copy into the store, in one transaction.
//!
//! Written as multi-row inserts, 512 orders took ~25 statements, each one waiting for the last
//! (PostgreSQL and this process took turns: of 28 s for 1M orders, PostgreSQL worked 21 s and
//! this process 7.7 s). COPY streams instead: the database stores rows while the next ones are
//! parsed, and the writes are then what PostgreSQL does for an `INSERT … SELECT` of its own
//! (bench/sql/import_floor.sql). With the foreign keys declared again and the rule's exclusion
//! constraint, 1M orders took 69.2 s against that floor's 62.9 s (1.10x, 2 shared cores).
//!
//! The first bad record is the one writing record by record would have named: a record that
//! cannot become an order ends the stream (the ones before it are still checked); the staged
//! orders are then written by one insert, which the schema checks as the rows go in (an id
//! stored already, the scheduling rule); only when it refuses, history has seen a staged id
//! (a deleted order's: ids are never reused), or the stream stopped, is the insert undone and
//! the first bad record named by exact queries. The earliest of these is the error.

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{Connection as _, Executor as _};

use std::time::Duration;

use super::Store;
use super::db_errors::is_unique_violation;
use super::gap::{FIRST_TOO_CLOSE, gap_from_millis, is_gap_violation};
use super::history::insert_history;
use super::import_records::{Catalogue, ImportError, ImportReport, NewOrders, taken, too_close};
use super::order_writes::{SELECT_LAST_ORDER_ID, next_after};
use super::orders::{insert_order_services, insert_orders};
use super::rules::SELECT_GAP;
use super::services::{INSERT_SERVICE, SELECT_CATALOGUE};
use super::session::{Bounds, POSTGRES_BOUNDS, POSTGRES_TUNING};
use super::write_lock::begin_postgres_import;
use crate::domain::service::name_key;
use crate::domain::{EventKind, NewOrder, Order, Service, schedule};
use crate::error::{Error, Result};

/// How many bytes of rows go into one COPY message.
const CHUNK: usize = 256 * 1024;

/// The staging table: one row per record, in record order, as the store will write it.
const CREATE_STAGING: &str = "CREATE TEMPORARY TABLE import_orders (record bigint NOT NULL, id bigint NOT NULL, \
     datetime bigint NOT NULL, totalfee_cents bigint NOT NULL, services bigint[] NOT NULL, snapshot text NOT NULL) \
     ON COMMIT DROP";

/// The first record whose id history has seen (stored, or an order's that was deleted: ids are
/// never reused) or repeats an earlier record's, and the id.
const FIRST_TAKEN: &str = "SELECT record, id FROM (SELECT s.record, s.id FROM import_orders s JOIN orders o \
     ON o.id = s.id UNION ALL SELECT s.record, s.id FROM import_orders s WHERE EXISTS (SELECT 1 FROM history h \
     WHERE h.order_id = s.id) UNION ALL SELECT record, id FROM (SELECT record, id, lag(id) OVER (ORDER BY id, record) \
     AS previous FROM import_orders) r WHERE id = previous) taken ORDER BY record LIMIT 1";

/// Whether history has seen any staged id. A stored one fails the insert into `orders`; a
/// deleted order's id fails nothing, so it is looked for once the orders are written.
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
    let mut tx = begin_postgres_import(&mut conn, store.bounds).await.map_err(ImportError::outside)?;
    let catalogue: Vec<(i64, String)> = sqlx::query_as(SELECT_CATALOGUE).fetch_all(&mut *tx).await.map_err(outside)?;
    let catalogue = Catalogue::new(catalogue.into_iter().map(|(id, name)| Service { id, name }).collect());
    let last_id: Option<i64> = sqlx::query_scalar(SELECT_LAST_ORDER_ID).fetch_one(&mut *tx).await.map_err(outside)?;
    let mut orders = NewOrders::new(catalogue, next_after(last_id).map_err(ImportError::outside)?);
    let gap: Option<i64> = sqlx::query_scalar(SELECT_GAP).fetch_optional(&mut *tx).await.map_err(outside)?;
    let gap = gap_from_millis(gap.unwrap_or(0));
    run(&mut tx, CREATE_STAGING).await?;
    let (staged, stopped) = stage(&mut tx, records, &mut orders).await?;
    if let Some(error) = write_orders(&mut tx, orders.now.millis(), gap, stopped).await? {
        return Err(error);
    }
    for (record, service) in &orders.catalogue.created {
        let insert = sqlx::query(INSERT_SERVICE).bind(service.id).bind(&service.name).bind(name_key(&service.name));
        insert.execute(&mut *tx).await.map_err(|e| ImportError::at(*record, e.into()))?;
    }
    write_services_and_history(&mut tx, actor, orders.now.millis()).await?;
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
    let internal = |e: std::io::Error| Error::Internal(e.into());
    write!(out, "{record}\t{id}\t{datetime}\t{cents}\t{{").map_err(internal)?;
    for (i, service) in order.services.iter().enumerate() {
        write!(out, "{}{}", if i == 0 { "" } else { "," }, service.id).map_err(internal)?;
    }
    out.extend_from_slice(b"}\t");
    let snapshot = serde_json::to_vec(order).map_err(|e| Error::Internal(e.into()))?;
    for part in snapshot.split_inclusive(|&b| b == b'\\') {
        out.extend_from_slice(part);
        if part.last() == Some(&b'\\') {
            out.push(b'\\');
        }
    }
    out.push(b'\n');
    Ok(())
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
    run(tx, "CREATE INDEX ON import_orders (datetime)").await?;
    let first: Option<(i64, i64, i64, i64, i64)> =
        sqlx::query_as(FIRST_TOO_CLOSE).bind(reach).fetch_optional(&mut *tx).await.map_err(outside)?;
    Ok(first.map(|(record, _, earlier, earlier_at, datetime)| {
        too_close(record_number(record), (earlier, earlier_at), datetime, gap)
    }))
}

/// Writes the staged orders, unless a record is bad: then nothing is written, and the first
/// bad record is returned, the earliest of a taken id, the scheduling rule and the record the
/// stream stopped at (`stopped`); on the same record a taken id is named, as writing record by
/// record would have found it first.
///
/// The schema checks the rule (the exclusion constraint) and ids stored already (the primary
/// key) as the rows go in, under a savepoint; only when it refuses, or history has seen an id,
/// or the stream stopped, is the insert undone and the first bad record looked for.
async fn write_orders(
    tx: &mut PgConnection,
    now: i64,
    gap: Duration,
    stopped: Option<ImportError>,
) -> Result<Option<ImportError>, ImportError> {
    run(tx, "SAVEPOINT import_orders").await?;
    let orders = concat!(insert_orders!(), "SELECT id, datetime, totalfee_cents, 1, $1, $1 FROM import_orders");
    let refused = match sqlx::query(orders).bind(now).execute(&mut *tx).await {
        Ok(_) => None,
        Err(e) if is_unique_violation(&e) || is_gap_violation(&e) => Some(e),
        Err(e) => return Err(outside(e)),
    };
    if refused.is_none() && stopped.is_none() {
        let seen: bool = sqlx::query_scalar(ANY_SEEN).fetch_one(&mut *tx).await.map_err(outside)?;
        if !seen {
            run(tx, "RELEASE SAVEPOINT import_orders").await?;
            return Ok(None);
        }
    }
    run(tx, "ROLLBACK TO SAVEPOINT import_orders").await?;
    let close = match refused {
        Some(_) => first_too_close(tx, gap).await?,
        None => None, // the insert passed the rule
    };
    // `min_by_key` keeps the first of equals: taken, then too close, then the stream's stop.
    let found = first_taken(tx).await?.into_iter().chain(close).chain(stopped).min_by_key(|e| e.record);
    // Refused, yet no record is to blame: a writer outside the store's lock (SQL typed by
    // hand) changed the orders meanwhile.
    Ok(found.or_else(|| refused.map(outside)))
}

/// Writes the services and the `created` events of the orders just written. The staging table
/// was written once, by COPY, so a plain scan returns its rows in record order, and the
/// events' `seq` follows the records.
async fn write_services_and_history(tx: &mut PgConnection, actor: &str, now: i64) -> Result<(), ImportError> {
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
