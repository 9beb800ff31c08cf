//! The order store: the only place that speaks SQL.
//!
//! One [`Store`] serves both backends through sqlx's `Any` driver: every column is an integer
//! or text (instants in epoch milliseconds, money in cents), so one SQL text runs on SQLite and
//! PostgreSQL alike, and the few differences (the write lock, JSON aggregation, migrations)
//! are picked by [`Backend`] here. `sqlx::Error` is classified into [`crate::Error`] once, below.
//! One path leaves `Any`: an import on PostgreSQL streams its records with COPY, which only
//! PostgreSQL's own driver speaks (`copy_import`).

mod copy_import;
mod export;
mod history;
mod idempotency;
mod import;
mod lookups;
mod orders;
mod reader;
mod rules;
mod services;
mod session;
mod sql;
mod tokens;

use std::str::FromStr as _;
use std::sync::{Arc, Once};
use std::time::Duration;

use futures_util::future::BoxFuture;
use log::LevelFilter;
use sqlx::AnyConnection;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::postgres::PgConnectOptions;
use sqlx::{AnyPool, ConnectOptions as _, Executor as _};

use crate::config::{Config, SqliteSynchronous};
use crate::error::{Error, Result};

pub use idempotency::{
    CreateOnce, IDEMPOTENCY_KEYS_PER_SUBJECT, IDEMPOTENCY_TTL, IdempotencyKey, Remembered, StoredResponse,
};
pub use import::{ImportError, ImportReport, SeedReport};
pub use orders::OrderQuery;
pub use rules::Rule;
pub use tokens::{NewRefreshToken, RefreshGrant};

use session::{Bounds, tune_postgres, tune_sqlite};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Statements slower than this are logged (at info level: see `Store::connect`).
const SLOW_STATEMENT: Duration = Duration::from_secs(1);

/// The most rows one purge of expired records (refresh tokens, idempotency keys) deletes: it
/// runs inside a write, under the write lock, so its cost stays bounded however many records
/// expired at once; each write that purges adds one record and removes up to this many, so the
/// backlog drains.
const PURGE_BATCH: i64 = 1000;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Backend {
    /// Picks the backend from a database URL's scheme.
    ///
    /// # Errors
    /// [`Error::Invalid`] for any other scheme.
    pub fn from_url(url: &str) -> Result<Self> {
        match url.split_once(':').map(|(scheme, _)| scheme) {
            Some("sqlite") => Ok(Self::Sqlite),
            Some("postgres" | "postgresql") => Ok(Self::Postgres),
            _ => Err(Error::invalid(
                "database.url",
                "must start with sqlite:// or postgres:// (e.g. sqlite://orders.db)",
            )),
        }
    }
}

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Pool size.
    pub max_connections: u32,
    /// Apply pending migrations on open.
    pub auto_migrate: bool,
    /// The scheduling rule's minimum gap for a database that holds none yet (a new one); a
    /// database that holds one keeps it (see [`Store::rule_notice`]).
    pub min_gap: Duration,
    /// How long a write waits for the write lock (zero: as long as it takes).
    pub lock_timeout: Duration,
    /// How long a statement may run, and a session sit idle in a transaction (PostgreSQL;
    /// zero: no bound).
    pub statement_timeout: Duration,
    /// SQLite's `synchronous` setting: `Full` (a committed write survives a power loss) or
    /// `Normal` (it may not; faster).
    pub sqlite_synchronous: SqliteSynchronous,
}

impl StoreOptions {
    /// The options a configuration asks for.
    pub fn from_config(config: &Config) -> Self {
        Self {
            max_connections: config.database.max_connections.max(1),
            auto_migrate: config.database.auto_migrate,
            min_gap: config.rules.min_gap,
            lock_timeout: config.database.lock_timeout,
            statement_timeout: config.database.statement_timeout,
            sqlite_synchronous: config.database.sqlite_synchronous,
        }
    }
}

impl Default for StoreOptions {
    /// The documented defaults (`orders.toml`).
    fn default() -> Self {
        Self {
            max_connections: 8,
            auto_migrate: true,
            min_gap: Duration::from_secs(3 * 3600),
            lock_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
            sqlite_synchronous: SqliteSynchronous::Full,
        }
    }
}

/// What [`Store::stats`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreStats {
    /// Connections open in the pool.
    pub open: u32,
    /// Of those, idle.
    pub idle: usize,
    /// Orders looked up by id since the store opened.
    pub lookups: u64,
    /// Statements that answered those lookups (several lookups share one under load).
    pub lookup_statements: u64,
}

/// A handle on the order store; cheap to clone (the pool is shared).
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    /// Connections for single reads, outside the pool between uses (see `reader`).
    readers: Arc<reader::Stash>,
    /// Lookups of one order by id, queued to share statements (see `lookups`).
    lookups: Arc<lookups::Lookups>,
    /// Queues this process's SQLite writers (see [`Store::begin_write`]).
    write_gate: Arc<tokio::sync::Mutex<()>>,
    backend: Backend,
    /// How to open a connection of PostgreSQL's own driver (an import's COPY needs one).
    postgres: Option<Arc<PgConnectOptions>>,
    /// The gap a database that holds no rule yet is given (see `rules`).
    configured_gap: Duration,
    /// Said once when the configured gap is not the one the database holds.
    rule_notice: Option<Arc<str>>,
    /// The bounds on waiting for the database (see `session`).
    bounds: Bounds,
    /// SQLite's `synchronous` for every connection.
    synchronous: SqliteSynchronous,
}

impl Store {
    /// Opens the store at `url` (`sqlite://FILE`, created on first use, or `postgres://…`),
    /// and migrates it when `options.auto_migrate` is set.
    ///
    /// The database's scheduling rule is then read, or, for a database that holds none yet,
    /// stored as `options.min_gap` says (see `rules`).
    ///
    /// # Errors
    /// [`Error::Invalid`] for a URL of another scheme or a minimum gap that is not whole
    /// milliseconds, [`Error::Unavailable`] when the database cannot be reached.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Self> {
        crate::domain::schedule::check_gap(options.min_gap).map_err(|e| Error::invalid("rules.min_gap", e))?;
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let backend = Backend::from_url(url)?;
        // The pool pings a connection before lending it (sqlx's default), so writes and other
        // pool users never start on one that died while idle (a database restart). The hot
        // single reads skip that round trip: they use the read stash (`reader`), which retries
        // on another connection instead (`Store::read`).
        let mut pool =
            AnyPoolOptions::new().max_connections(options.max_connections).acquire_timeout(reader::ACQUIRE_TIMEOUT);
        let bounds = Bounds { lock_timeout: options.lock_timeout, statement_timeout: options.statement_timeout };
        let synchronous = options.sqlite_synchronous;
        pool = match backend {
            Backend::Sqlite => {
                pool.after_connect(move |conn, _| Box::pin(async move { tune_sqlite(conn, bounds, synchronous).await }))
            }
            Backend::Postgres => {
                pool.after_connect(move |conn, _| Box::pin(async move { tune_postgres(conn, bounds).await }))
            }
        };
        let classify = |e| match e {
            sqlx::Error::Configuration(e) => Error::invalid("database.url", e.to_string()),
            other => Error::from(other),
        };
        // sqlx warns about any statement over a second, and a listing streamed to the end
        // (`export`, `GET /orders`) is one such statement by design: at 1M orders `export`
        // printed a warning on every run. Slow statements are information, logged by `serve`.
        let connect = AnyConnectOptions::from_str(&connect_url(backend, url))
            .map_err(classify)?
            .log_slow_statements(LevelFilter::Info, SLOW_STATEMENT);
        let postgres = match backend {
            Backend::Postgres => Some(Arc::new(
                PgConnectOptions::from_str(url)
                    .map_err(classify)?
                    .log_slow_statements(LevelFilter::Info, SLOW_STATEMENT),
            )),
            Backend::Sqlite => None,
        };
        let pool = pool.connect_lazy_with(connect);
        // As many again as the pool, for reads; none for an in-memory SQLite database, which
        // lives in its one pooled connection.
        let readers = match url.contains(":memory:") || options.max_connections <= 1 {
            true => 0,
            false => options.max_connections as usize,
        };
        let mut store = Self {
            pool,
            readers: reader::Stash::new(readers),
            lookups: lookups::Lookups::new(),
            write_gate: Arc::default(),
            backend,
            postgres,
            configured_gap: options.min_gap,
            rule_notice: None,
            bounds,
            synchronous,
        };
        let stored = match options.auto_migrate {
            true => store.migrate_and_establish().await?,
            false => store.establish_rule(options.min_gap).await?,
        };
        store.rule_notice = stored.filter(|&stored| stored != options.min_gap).map(|stored| {
            use crate::domain::schedule::format_gap;
            let (configured, stored) = (format_gap(options.min_gap), format_gap(stored));
            format!(
                "rules.min_gap is {configured} in the configuration, but this database holds {stored}: following \
                 the database (`orders rules` shows the rule; `orders rules set-gap` changes it)"
            )
            .into()
        });
        Ok(store)
    }

    /// Applies every pending migration.
    ///
    /// On the pool's connections, so within its bounds: on PostgreSQL a migration that waits
    /// more than `database.lock_timeout` for a lock (behind a long read, or another process
    /// migrating) fails rather than queue every other statement behind its own lock request,
    /// and one that must run longer than `database.statement_timeout` (an index on a large
    /// table) lifts that bound itself (`SET LOCAL statement_timeout = 0` as its first line).
    ///
    /// A database that holds no scheduling rule yet is then given the configured one.
    ///
    /// # Errors
    /// When the database is unreachable or a migration fails (or was changed after it ran).
    pub async fn migrate(&self) -> Result<()> {
        self.migrate_and_establish().await.map(drop)
    }

    /// [`Store::migrate`], returning the gap the database holds.
    async fn migrate_and_establish(&self) -> Result<Option<Duration>> {
        self.run_migrations().await?;
        self.establish_rule(self.configured_gap).await
    }

    async fn run_migrations(&self) -> Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(e) => Error::from(e),
            other => Error::Internal(format!("migration failed: {other}")),
        })
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// What to tell whoever opened the store when the configured minimum gap is not the one
    /// the database holds (which the store follows); `None` when they agree.
    pub fn rule_notice(&self) -> Option<&str> {
        self.rule_notice.as_deref()
    }

    /// Checks that the database answers (for `/readyz`).
    ///
    /// # Errors
    /// [`Error::Unavailable`] when it does not.
    pub async fn ping(&self) -> Result<()> {
        self.pool.execute("SELECT 1").await?;
        Ok(())
    }

    /// Gauges and counters of the store's connections and lookups, for the metrics.
    pub fn stats(&self) -> StoreStats {
        let (lookups, lookup_statements) = self.lookups.counts();
        StoreStats { open: self.pool.size(), idle: self.pool.num_idle(), lookups, lookup_statements }
    }

    /// Closes every connection, waiting for those in use to come back.
    pub async fn close(&self) {
        self.readers.close().await;
        self.pool.close().await;
    }

    /// Runs one read on a read connection (see `reader`). A connection that sat idle — in the
    /// read stash or in the pool — may have died meanwhile (a database restart, an idle
    /// timeout): when the read fails as unavailable midway, that connection is dropped and the
    /// read runs again on another. Each dead connection costs one try, so the tries are bounded
    /// by how many connections there can be; failing to get a connection at all is final.
    async fn read<T>(&self, read: impl for<'c> Fn(&'c mut AnyConnection) -> BoxFuture<'c, Result<T>>) -> Result<T> {
        let mut tries = self.readers.capacity() + self.pool.options().get_max_connections() as usize + 1;
        loop {
            let mut conn = self.readers.take(&self.pool).await?;
            match read(&mut conn).await {
                Ok(value) => {
                    conn.done();
                    return Ok(value);
                }
                Err(Error::Unavailable(_)) if tries > 1 => tries -= 1,
                Err(err) => return Err(err),
            }
        }
    }
}

impl Store {
    /// A connection of its own, outside the pool: opened with the pool's options and given the
    /// same session settings, for a long read (a streamed listing) that must hold no
    /// connection other work needs. Opening waits at most as long as a pool acquire; the
    /// connection closes when dropped. `None` for an in-memory SQLite database, which another
    /// connection would not see.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the database cannot be reached in time, or the store is
    /// closed.
    pub(super) async fn connect_unpooled(&self) -> Result<Option<AnyConnection>> {
        if self.pool.is_closed() {
            return Err(sqlx::Error::PoolClosed.into());
        }
        let options = self.pool.connect_options();
        let url = options.database_url.as_str();
        if url.contains(":memory:") || url.contains("mode=memory") {
            return Ok(None);
        }
        let connect = async {
            let mut conn = options.connect().await?;
            // A stream's one statement lasts as long as its client takes to read: no statement
            // bound (a stalled client is cut by `server.stream_stall` instead); the lock bound stays.
            let bounds = Bounds { statement_timeout: Duration::ZERO, ..self.bounds };
            match self.backend {
                Backend::Sqlite => tune_sqlite(&mut conn, bounds, self.synchronous).await?,
                Backend::Postgres => tune_postgres(&mut conn, bounds).await?,
            }
            Ok::<_, Error>(conn)
        };
        match tokio::time::timeout(reader::ACQUIRE_TIMEOUT, connect).await {
            Ok(conn) => conn.map(Some),
            Err(_) => Err(Error::Unavailable("timed out connecting to the database".to_owned())),
        }
    }
}

/// SQLite files are created on first use unless the URL says otherwise.
fn connect_url(backend: Backend, url: &str) -> String {
    match backend {
        Backend::Sqlite if !url.contains("mode=") && !url.contains(":memory:") => {
            format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
        }
        _ => url.to_owned(),
    }
}

impl From<sqlx::Error> for Error {
    /// The one place database failures are classified: a bounded wait that ran out (a lock,
    /// a statement, SQLite's busy timeout) is [`Error::Busy`]; unreachable is
    /// [`Error::Unavailable`]; everything else not handled where its meaning is known is
    /// [`Error::Internal`].
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err
            && let Some(why) = session::busy_reason(db.code().as_deref())
        {
            return Error::Busy(why.to_owned());
        }
        match &err {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => Error::Unavailable(err.to_string()),
            // A connection cut during the handshake (a server going down, a proxy refusing)
            // surfaces as a protocol error: the database cannot be talked to.
            sqlx::Error::Protocol(_) => Error::Unavailable(err.to_string()),
            sqlx::Error::Database(db) if is_unavailable_code(db.code().as_deref()) => {
                Error::Unavailable(db.message().to_owned())
            }
            // A database nobody migrated (auto_migrate off): say what to do.
            sqlx::Error::Database(db)
                if db.code().as_deref() == Some("42P01") || db.message().starts_with("no such table") =>
            {
                Error::Internal(format!("{} (is the database migrated? run `orders migrate`)", db.message()))
            }
            _ => Error::Internal(err.to_string()),
        }
    }
}

/// On PostgreSQL the SQLSTATE classes 08 (connection), 28 (the login refused), 53 (resources)
/// and 57P (shutdown), a session ended for sitting idle in a transaction (25P03), and what a
/// server answers a connection to a database that does not exist (3D000) or does not accept
/// connections now (55000); SQLITE_LOCKED (6), SQLITE_CANTOPEN (14) and their extended codes
/// on SQLite. (SQLITE_BUSY is a bounded wait that ran out: see `session::busy_reason`.)
fn is_unavailable_code(code: Option<&str>) -> bool {
    let Some(code) = code else { return false };
    // SQLSTATEs are always five characters; SQLite's (extended) result codes are shorter numbers.
    if code.len() == 5 {
        return ["08", "28", "53", "57P", "25P03", "3D000", "55000"].iter().any(|prefix| code.starts_with(prefix));
    }
    code.parse::<i32>().is_ok_and(|sqlite| matches!(sqlite & 0xff, 6 | 14))
}

/// Whether a failed statement broke a UNIQUE or PRIMARY KEY constraint.
fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Whether a failed statement broke a FOREIGN KEY constraint.
fn is_foreign_key_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_foreign_key_violation())
}

/// A fresh database for a unit test that writes: a SQLite file, or, when the suite runs against
/// PostgreSQL (`ORDERS_TEST_DATABASE_URL`), a uniquely named database on that server, dropped
/// afterwards (as tests/it/helpers.rs does for the integration suite).
#[cfg(test)]
pub(super) struct TestDatabase {
    pub(super) url: String,
    postgres: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

#[cfg(test)]
impl TestDatabase {
    pub(super) async fn new() -> Self {
        use sqlx::Connection as _;
        let dir = tempfile::tempdir().unwrap();
        match std::env::var("ORDERS_TEST_DATABASE_URL").ok().filter(|url| !url.is_empty()) {
            None => {
                Self { url: format!("sqlite://{}", dir.path().join("unit.db").display()), postgres: None, _dir: dir }
            }
            Some(admin) => {
                let name = format!("orders_unit_{}", uuid::Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
                conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.unwrap();
                let (base, _) = admin.rsplit_once('/').expect("a PostgreSQL URL names a database");
                Self { url: format!("{base}/{name}"), postgres: Some((admin, name)), _dir: dir }
            }
        }
    }
}

#[cfg(test)]
impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((admin, name)) = self.postgres.take() else { return };
        let _ = std::thread::spawn(move || {
            use sqlx::Connection as _;
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&admin).await?;
                conn.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).await
            })
        })
        .join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_and_rule_triggers_take_the_stores_write_lock() {
        for migration in [
            include_str!("../../migrations/postgres/0003_order_references.sql"),
            include_str!("../../migrations/postgres/0005_scheduling_rule.sql"),
        ] {
            assert!(migration.contains(&format!("pg_advisory_xact_lock({})", session::POSTGRES_WRITE_LOCK)));
        }
    }

    #[test]
    fn the_backend_is_picked_by_the_url_scheme() {
        assert_eq!(Backend::from_url("sqlite://orders.db").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::from_url("postgres://u@h/db").unwrap(), Backend::Postgres);
        assert_eq!(Backend::from_url("postgresql://u@h/db").unwrap(), Backend::Postgres);
        assert!(Backend::from_url("mysql://u@h/db").is_err());
        assert!(Backend::from_url("orders.db").is_err());
    }

    #[test]
    fn sqlite_files_are_created_unless_the_url_picks_a_mode() {
        assert_eq!(connect_url(Backend::Sqlite, "sqlite://o.db"), "sqlite://o.db?mode=rwc");
        assert_eq!(connect_url(Backend::Sqlite, "sqlite://o.db?cache=shared"), "sqlite://o.db?cache=shared&mode=rwc");
        assert_eq!(connect_url(Backend::Sqlite, "sqlite://o.db?mode=ro"), "sqlite://o.db?mode=ro");
    }

    #[test]
    fn connection_codes_mean_unavailable() {
        assert!(is_unavailable_code(Some("6")));
        assert!(is_unavailable_code(Some("14")));
        assert!(!is_unavailable_code(Some("5")), "SQLITE_BUSY is busy, not unavailable");
        assert!(is_unavailable_code(Some("25P03")), "a session cut while idle in a transaction");
        assert!(is_unavailable_code(Some("08006")));
        assert!(is_unavailable_code(Some("57P01")));
        assert!(is_unavailable_code(Some("3D000")), "database does not exist");
        assert!(is_unavailable_code(Some("55000")), "database not accepting connections");
        assert!(is_unavailable_code(Some("28P01")), "password authentication failed");
        assert!(!is_unavailable_code(Some("23505")));
        assert!(!is_unavailable_code(Some("2067")));
        assert!(!is_unavailable_code(None));
        let cut = sqlx::Error::Protocol("connection closed during the handshake".into());
        assert!(matches!(Error::from(cut), Error::Unavailable(_)));
    }

    #[tokio::test]
    async fn every_connection_gets_its_backends_session_settings() {
        // PostgreSQL when the suite runs against it (CI's second run), else a SQLite file.
        let dir = tempfile::tempdir().unwrap();
        let url = std::env::var("ORDERS_TEST_DATABASE_URL")
            .ok()
            .filter(|url| !url.is_empty())
            .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("settings.db").display()));
        let options = StoreOptions {
            max_connections: 2,
            auto_migrate: false,
            min_gap: Duration::ZERO,
            lock_timeout: Duration::from_millis(1500),
            statement_timeout: Duration::from_secs(20),
            sqlite_synchronous: SqliteSynchronous::Full,
        };
        let store = Store::connect(&url, &options).await.unwrap();
        let expected: &[(&str, &str)] = match store.backend {
            Backend::Postgres => &[
                ("SELECT current_setting('jit')", "off"),
                ("SELECT current_setting('max_parallel_workers_per_gather')", "0"),
                ("SELECT current_setting('lock_timeout')", "1500ms"),
                ("SELECT current_setting('statement_timeout')", "20s"),
                ("SELECT current_setting('idle_in_transaction_session_timeout')", "20s"),
            ],
            Backend::Sqlite => &[
                ("SELECT CAST((SELECT * FROM pragma_journal_mode) AS TEXT)", "wal"),
                ("SELECT CAST((SELECT * FROM pragma_foreign_keys) AS TEXT)", "1"),
                ("SELECT CAST((SELECT * FROM pragma_busy_timeout) AS TEXT)", "1500"),
                ("SELECT CAST((SELECT * FROM pragma_synchronous) AS TEXT)", "2"),
            ],
        };
        // Both connections of the pool at once: each got the settings when it was opened.
        let mut connections = [store.pool.acquire().await.unwrap(), store.pool.acquire().await.unwrap()];
        for conn in &mut connections {
            for (query, value) in expected {
                let got: String = sqlx::query_scalar(*query).fetch_one(&mut **conn).await.unwrap();
                assert_eq!(got, *value, "{query}");
            }
        }
    }

    #[tokio::test]
    async fn sqlite_syncs_every_commit_unless_configured_normal() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("sync.db").display());
        for (synchronous, pragma) in [(SqliteSynchronous::Full, 2), (SqliteSynchronous::Normal, 1)] {
            let options =
                StoreOptions { max_connections: 1, sqlite_synchronous: synchronous, ..StoreOptions::default() };
            let store = Store::connect(&url, &options).await.unwrap();
            let got: i64 = sqlx::query_scalar("SELECT * FROM pragma_synchronous").fetch_one(&store.pool).await.unwrap();
            assert_eq!(got, pragma, "{synchronous:?}");
            store.close().await;
        }
    }

    #[tokio::test]
    async fn a_read_that_found_its_connection_dead_runs_again_and_other_failures_are_final() {
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        let options = StoreOptions {
            max_connections: 2,
            auto_migrate: false,
            min_gap: Duration::ZERO,
            ..StoreOptions::default()
        };
        let store = Store::connect("sqlite::memory:", &options).await.unwrap();
        let calls = AtomicUsize::new(0);
        let value = store
            .read(|_| {
                let call = calls.fetch_add(1, SeqCst);
                Box::pin(async move { if call == 0 { Err(Error::Unavailable("gone".to_owned())) } else { Ok(call) } })
            })
            .await
            .unwrap();
        assert_eq!((value, calls.load(SeqCst)), (1, 2));
        calls.store(0, SeqCst);
        let failed = store
            .read(|_| {
                calls.fetch_add(1, SeqCst);
                Box::pin(async { Err::<(), _>(Error::Internal("a bad statement".to_owned())) })
            })
            .await;
        assert!(matches!(failed, Err(Error::Internal(_))));
        assert_eq!(calls.load(SeqCst), 1, "only a dead connection is worth another try");
    }
}
