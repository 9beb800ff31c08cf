//! The order store: the only place that speaks SQL.
//!
//! One [`Store`] serves both backends through sqlx's `Any` driver: every column is an integer
//! or text (instants in epoch milliseconds, money in cents), so one SQL text runs on SQLite and
//! PostgreSQL alike, and the few differences (the write lock, JSON aggregation, migrations)
//! are picked by [`Backend`]. `sqlx::Error` is classified into [`crate::Error`] once (`db_errors`).
//! One path leaves `Any`: an import on PostgreSQL streams its records with COPY, which only
//! PostgreSQL's own driver speaks (`copy_import`).

mod batch_import;
mod connect;
mod copy_import;
mod db_errors;
mod export;
mod gap;
mod handle;
mod history;
mod idempotency;
mod import;
mod import_records;
mod lookup_queue;
mod lookups;
mod options;
mod order_writes;
mod orders;
mod read;
mod reader;
mod rules;
mod services;
mod session;
mod sql;
#[cfg(test)]
mod test_database;
mod tokens;
mod write_lock;

pub use batch_import::SeedReport;
pub use handle::{Backend, Store, StoreStats};
pub use idempotency::{
    CreateOnce, IDEMPOTENCY_KEYS_PER_SUBJECT, IDEMPOTENCY_TTL, IdempotencyKey, Remembered, StoredResponse,
};
pub use import_records::{ImportError, ImportReport};
pub use options::{SqliteSynchronous, StoreOptions};
pub use orders::OrderQuery;
pub use rules::Rule;
pub use tokens::{NewRefreshToken, RefreshGrant};

use handle::PURGE_BATCH;
#[cfg(test)]
use test_database::TestDatabase;
