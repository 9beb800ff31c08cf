//! Opening a store: the pool and its per-connection session settings, the migrations, the
//! scheduling rule a new database is given, and a connection outside the pool for long reads.

use std::str::FromStr as _;
use std::sync::{Arc, Once};
use std::time::Duration;

use log::LevelFilter;
use sqlx::AnyConnection;
use sqlx::ConnectOptions as _;
use sqlx::Executor as _;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::postgres::PgConnectOptions;

use super::session::{Bounds, tune_postgres, tune_sqlite};
use super::{Backend, Store, StoreOptions, lookup_queue, reader};
use crate::error::{Error, Result, because};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Statements slower than this are logged (at info level: see `Store::connect`).
const SLOW_STATEMENT: Duration = Duration::from_secs(1);

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
            lookups: lookup_queue::Lookups::new(),
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
        let (migrator, pool) = match self.backend {
            Backend::Sqlite => (&SQLITE_MIGRATIONS, self.pool.clone()),
            Backend::Postgres => (&POSTGRES_MIGRATIONS, self.migration_pool()),
        };
        let result = migrator.run(&pool).await;
        if self.backend == Backend::Postgres {
            pool.close().await;
        }
        result.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(e) => Error::from(e),
            other => Error::Internal(because(format!("migration failed: {other}"), other)),
        })
    }

    /// On PostgreSQL, a pool of one connection for the migrations, given the pool's session
    /// settings and told to send no NOTICEs (WARNINGs and worse still come). sqlx's migrator
    /// starts with `CREATE TABLE IF NOT EXISTS _sqlx_migrations`, and on every start after the
    /// first PostgreSQL answers it with a NOTICE ("relation … already exists, skipping") that
    /// sqlx logs at INFO: `serve` printed it on every start. The store's own pool keeps the
    /// server's default, and the migration pool is closed once they ran.
    fn migration_pool(&self) -> sqlx::AnyPool {
        let bounds = self.bounds;
        AnyPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(reader::ACQUIRE_TIMEOUT)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    tune_postgres(conn, bounds).await?;
                    conn.execute("SET client_min_messages = warning").await.map(drop)
                })
            })
            .connect_lazy_with((*self.pool.connect_options()).clone())
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
            Err(_) => Err(Error::Unavailable("timed out connecting to the database".into())),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteSynchronous;

    #[test]
    fn sqlite_files_are_created_unless_the_url_picks_a_mode() {
        assert_eq!(connect_url(Backend::Sqlite, "sqlite://o.db"), "sqlite://o.db?mode=rwc");
        assert_eq!(connect_url(Backend::Sqlite, "sqlite://o.db?cache=shared"), "sqlite://o.db?cache=shared&mode=rwc");
        assert_eq!(connect_url(Backend::Sqlite, "sqlite://o.db?mode=ro"), "sqlite://o.db?mode=ro");
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
    async fn only_the_migrations_connection_is_spared_the_databases_notices() {
        let database = crate::store::test_database::TestDatabase::new().await;
        Store::connect(&database.url, &StoreOptions::default()).await.unwrap().close().await;
        let store = Store::connect(&database.url, &StoreOptions::default()).await.unwrap(); // migrated already
        if store.backend == Backend::Sqlite {
            return; // SQLite sends no notices: there is no setting to check
        }
        let level: String =
            sqlx::query_scalar("SELECT current_setting('client_min_messages')").fetch_one(&store.pool).await.unwrap();
        assert_eq!(level, "notice", "the store's own pool keeps the server's default");
        let mut migrating = store.migration_pool().acquire().await.unwrap();
        let level: String = sqlx::query_scalar("SELECT current_setting('client_min_messages')")
            .fetch_one(&mut *migrating)
            .await
            .unwrap();
        assert_eq!(level, "warning");
        store.close().await;
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
}
