//! A quiet start: `orders serve` started twice on one database (the second start finds it
//! migrated) logs where it listens (and whether metrics have a listener of their own), that it
//! drains and that it stopped, and nothing else — on PostgreSQL no NOTICE such as
//! `relation "_sqlx_migrations" already exists` (that the store's own connections still
//! receive notices is checked beside the migrations, in src/store/connect.rs).

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use crate::api_helpers::SECRET;
use crate::helpers::TestDb;

/// `orders serve` on `db` at the default log level, stopped by SIGTERM as soon as it says where
/// it listens: everything it wrote to stderr.
fn serve_once(db: &TestDb) -> Vec<String> {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin!("orders"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .current_dir(db.dir.path())
        .env_remove("ORDERS_CONFIG")
        .env_remove("RUST_LOG")
        .env("ORDERS__DATABASE__URL", &db.url)
        .env("ORDERS__AUTH__JWT_SECRET", SECRET)
        .stderr(Stdio::piped())
        .spawn()
        .expect("orders serve starts");
    let stderr = BufReader::new(child.stderr.take().expect("stderr is piped"));
    let mut lines = Vec::new();
    for line in stderr.lines() {
        let line = line.expect("stderr is text");
        if line.starts_with("orders: listening on ") {
            let pid = child.id().to_string();
            Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
        }
        lines.push(line);
    }
    assert!(child.wait().expect("serve exits").success(), "{lines:#?}");
    lines
}

/// The lines a start and a stop with no request in between are expected to write.
fn expected(line: &str) -> bool {
    line.starts_with("orders: listening on http://127.0.0.1:")
        || line == "orders: no metrics listener (server.metrics_addr is unset); /metrics needs a token"
        || line == "orders: stopped"
        || serde_json::from_str::<serde_json::Value>(line).is_ok_and(|event| {
            event["message"] == "shutting down: draining in-flight requests" && event["level"] == "INFO"
        })
}

#[tokio::test]
async fn serve_started_twice_on_one_database_logs_only_where_it_listens_and_that_it_stopped() {
    let db = TestDb::new().await;
    for start in ["first", "second"] {
        let lines = serve_once(&db);
        assert!(lines.iter().any(|line| line.starts_with("orders: listening on ")), "{start} start: {lines:#?}");
        assert!(lines.iter().all(|line| !line.contains("already exists")), "{start} start: {lines:#?}");
        let unexpected: Vec<&String> = lines.iter().filter(|line| !expected(line)).collect();
        assert!(unexpected.is_empty(), "the {start} start logged more than it should: {unexpected:#?}");
    }
}
