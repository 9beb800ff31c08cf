//! Test fixtures: a fresh database per test — a temporary SQLite file, or, when
//! `ORDERS_TEST_DATABASE_URL` is set, a uniquely named PostgreSQL database created on that
//! server and dropped afterwards — and the real binary pointed at it.

use std::time::Duration;

use orders::Error;
use orders::domain::OrderPatch;
use orders::domain::{Money, NewOrder, ServiceRef, Timestamp};
use orders::store::{OrderQuery, Store, StoreOptions};
use sqlx::{Connection as _, Executor as _, PgConnection};

/// The environment variable naming a PostgreSQL server (any database on it) to test against.
pub const PG_ENV: &str = "ORDERS_TEST_DATABASE_URL";

/// The default minimum gap, 3 h.
pub const THREE_HOURS: Duration = Duration::from_secs(3 * 3600);

/// One test's own database.
pub struct TestDb {
    /// The URL the product is given.
    pub url: String,
    /// Keeps the SQLite file's folder alive; also a scratch folder for the test.
    pub dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// A fresh, empty (unmigrated) database.
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        match std::env::var(PG_ENV).ok().filter(|url| !url.is_empty()) {
            None => Self { url: format!("sqlite://{}", dir.path().join("orders.db").display()), dir, postgres: None },
            Some(admin) => {
                let name = format!("orders_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = PgConnection::connect(&admin)
                    .await
                    .unwrap_or_else(|e| panic!("{PG_ENV}={admin} is set but PostgreSQL is unreachable: {e}"));
                conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.expect("CREATE DATABASE");
                let url = with_database(&admin, &name);
                Self { url, dir, postgres: Some((admin, name)) }
            }
        }
    }

    /// Whether this test runs on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    /// The store over this database with the default 3 h rule, migrated.
    pub async fn store(&self) -> Store {
        self.store_with_gap(THREE_HOURS).await
    }

    /// The store with another minimum gap.
    pub async fn store_with_gap(&self, min_gap: Duration) -> Store {
        let options = StoreOptions { max_connections: 16, auto_migrate: true, min_gap, ..StoreOptions::default() };
        Store::connect(&self.url, &options).await.expect("the test store opens")
    }

    /// The real binary, pointed at this database, run in the scratch folder.
    pub fn cli(&self) -> assert_cmd::Command {
        assert_cmd::Command::from_std(self.cli_process())
    }

    /// The same, as a plain process to spawn (for concurrent runs).
    pub fn cli_process(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin!("orders"));
        cmd.current_dir(self.dir.path())
            .env_remove("ORDERS_CONFIG")
            .env("ORDERS__DATABASE__URL", &self.url)
            // Local unless a test asks for remote mode: no login of the user running the tests.
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env_remove("ORDERS_TOKEN")
            .env_remove("ORDERS__CLIENT__API")
            .env("NO_COLOR", "1");
        cmd
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.postgres.take() else { return };
        // Drop runs outside any runtime guarantee: use a thread with its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
            runtime.block_on(async {
                let mut conn = PgConnection::connect(&admin).await?;
                conn.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).await?;
                Ok::<_, sqlx::Error>(())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop test database: {e}");
        }
    }
}

/// `admin` with its database name replaced by `name`.
fn with_database(admin: &str, name: &str) -> String {
    let (base, query) = admin.split_once('?').map_or((admin, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..].find('/').map_or(base.len(), |i| scheme_end + i);
    let mut url = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        url = format!("{url}?{query}");
    }
    url
}

/// An instant from RFC 3339 text.
pub fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).expect("a valid test timestamp")
}

/// A create request at `datetime` for fee 100 and the given services.
pub fn new_order(datetime: Timestamp, services: &[i64]) -> NewOrder {
    NewOrder {
        id: None,
        datetime: Some(datetime),
        totalfee: Money::from_cents(10_000),
        services: services.iter().map(|&id| ServiceRef { id, name: None }).collect(),
    }
}

/// A store with the sample catalogue (123, 456, 789) and no orders.
pub async fn store_with_services(db: &TestDb) -> Store {
    let store = db.store().await;
    for (id, name) in [(123, "Inspection"), (456, "Analysis"), (789, "Testing")] {
        store.add_service(Some(id), name).await.expect("a sample service");
    }
    store
}

/// `count` random creates and datetime-moving updates by one writer (seeded by `writer`) in the
/// `window_hours` after `start`, so that conflicts are frequent; a schedule conflict or an order
/// another writer deleted is expected, anything else fails the test.
pub async fn random_writes(store: &Store, writer: u64, count: usize, start: Timestamp, window_hours: i64) {
    let mut seed = writer.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..count {
        let window = u64::try_from(window_hours * 3_600_000).expect("a positive window");
        let when = Timestamp::from_millis(start.millis() + i64::try_from(next() % window).unwrap());
        let result = if next() % 2 == 0 {
            store.create_order(&new_order(when, &[123]), "t").await.map(drop)
        } else {
            let page = store.list_orders(&OrderQuery { limit: Some(50), ..OrderQuery::default() }).await.unwrap();
            match page.get(usize::try_from(next()).unwrap() % page.len().max(1)) {
                Some(order) => {
                    let patch = OrderPatch { datetime: Some(when), ..OrderPatch::default() };
                    store.update_order(order.id, &patch, None, "t").await.map(drop)
                }
                None => Ok(()),
            }
        };
        match result {
            Ok(()) | Err(Error::Schedule { .. } | Error::NotFound { .. }) => {}
            Err(other) => panic!("writer {writer} failed: {other:?}"),
        }
    }
}

#[test]
fn the_postgres_database_name_is_replaced_in_the_url() {
    assert_eq!(with_database("postgres://u@h:5432/postgres", "t1"), "postgres://u@h:5432/t1");
    assert_eq!(with_database("postgres://u@h/postgres?sslmode=disable", "t1"), "postgres://u@h/t1?sslmode=disable");
    assert_eq!(with_database("postgres://u@h", "t1"), "postgres://u@h/t1");
}
