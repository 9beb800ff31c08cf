//! A fresh database for each unit test that writes.

use sqlx::Executor as _;

/// A fresh database for a unit test that writes: a SQLite file, or, when the suite runs against
/// PostgreSQL (`ORDERS_TEST_DATABASE_URL`), a uniquely named database on that server, dropped
/// afterwards (as tests/it/helpers.rs does for the integration suite).
pub(crate) struct TestDatabase {
    pub(crate) url: String,
    postgres: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl TestDatabase {
    pub(crate) async fn new() -> Self {
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
