//! `orders healthcheck`, the container's health probe, against a live `orders serve`: 0 when
//! `/readyz` answers 200 (at `--url` or at `server.addr`, a wildcard reached over loopback), 1
//! when nothing listens or `/readyz` answers anything else, 2 for a URL or address it cannot use.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;

use sqlx::{Connection as _, Executor as _, PgConnection};

use crate::api_helpers::Server;
use crate::helpers::{PG_ENV, TestDb};

/// The port of `http://127.0.0.1:PORT`.
fn port_of(base: &str) -> &str {
    base.rsplit_once(':').expect("a base URL with a port").1
}

/// A loopback port nothing listens on (bound, then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn healthcheck_exits_0_when_serve_answers_readyz_with_200() {
    let db = TestDb::new().await;
    let server = Server::start(&db);
    let checked = db.cli().args(["healthcheck", "--url", &server.base]).assert().code(0);
    let said = String::from_utf8_lossy(&checked.get_output().stderr).into_owned();
    assert!(said.contains("/readyz answered 200"), "{said}");
}

#[tokio::test]
async fn healthcheck_without_url_asks_server_addr_and_reaches_a_wildcard_address_over_loopback() {
    let db = TestDb::new().await;
    let server = Server::start(&db);
    for addr in [format!("0.0.0.0:{}", port_of(&server.base)), format!("127.0.0.1:{}", port_of(&server.base))] {
        db.cli().arg("healthcheck").env("ORDERS__SERVER__ADDR", &addr).assert().code(0);
    }
}

#[tokio::test]
async fn healthcheck_exits_1_when_nothing_listens() {
    let db = TestDb::new().await;
    let url = format!("http://127.0.0.1:{}", free_port());
    let checked = db.cli().args(["healthcheck", "--url", &url]).assert().code(1);
    let said = String::from_utf8_lossy(&checked.get_output().stderr).into_owned();
    assert!(said.starts_with("orders: ") && said.contains("cannot be reached: Connection refused"), "{said}");
}

#[tokio::test]
async fn healthcheck_exits_1_when_readyz_answers_503() {
    // A server that answers every request 503, as `serve` does while its database is away:
    // the probe's verdict on the status, whatever the backend of this pass.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let answering = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("the probe connects");
        let mut request = [0_u8; 4096];
        let read = conn.read(&mut request).expect("the probe's request");
        conn.write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").unwrap();
        String::from_utf8_lossy(&request[..read]).into_owned()
    });
    let db = TestDb::new().await;
    let checked = db.cli().args(["healthcheck", "--url", &url]).assert().code(1);
    let said = String::from_utf8_lossy(&checked.get_output().stderr).into_owned();
    assert!(said.contains("/readyz answered 503"), "{said}");
    assert!(answering.join().unwrap().starts_with("GET /readyz HTTP/1.1\r\n"), "the probe asks for /readyz");
}

#[tokio::test]
async fn healthcheck_exits_1_when_the_server_accepts_but_never_answers() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (probe_done, until_probe_done) = std::sync::mpsc::channel::<()>();
    let holding = std::thread::spawn(move || {
        let connection = listener.accept().expect("the probe connects");
        let _ = until_probe_done.recv(); // keep the connection open, unanswered, until the probe is done
        drop(connection);
    });
    let db = TestDb::new().await;
    let checked = db.cli().args(["healthcheck", "--url", &url]).assert().code(1);
    let said = String::from_utf8_lossy(&checked.get_output().stderr).into_owned();
    assert!(said.contains("cannot be reached: no answer within"), "{said}");
    drop(probe_done);
    holding.join().unwrap();
}

#[tokio::test]
async fn healthcheck_exits_1_when_serves_postgresql_database_becomes_unreachable() {
    let db = TestDb::new().await;
    if !db.is_postgres() {
        return; // a SQLite file cannot be taken away from a running serve; the 503 test covers the status
    }
    let server = Server::start(&db);
    db.cli().args(["healthcheck", "--url", &server.base]).assert().code(0);
    let (_, name) = db.url.split('?').next().and_then(|url| url.rsplit_once('/')).expect("a database name");
    let admin = std::env::var(PG_ENV).expect("set on the PostgreSQL pass");
    let mut conn = PgConnection::connect(&admin).await.expect("the test server answers");
    conn.execute(sqlx::AssertSqlSafe(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))).await.unwrap();
    conn.execute(sqlx::AssertSqlSafe(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    )))
    .await
    .unwrap();
    let checked = db.cli().args(["healthcheck", "--url", &server.base]).assert().code(1);
    let said = String::from_utf8_lossy(&checked.get_output().stderr).into_owned();
    assert!(said.contains("/readyz answered 503"), "{said}");
    conn.execute(sqlx::AssertSqlSafe(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))).await.unwrap();
    db.cli().args(["healthcheck", "--url", &server.base]).assert().code(0);
}

#[tokio::test]
async fn healthcheck_refuses_a_url_or_server_addr_it_cannot_use_as_a_usage_error() {
    let db = TestDb::new().await;
    for url in ["127.0.0.1:8080", "ftp://127.0.0.1/", "http://", "not a url"] {
        let refused = db.cli().args(["healthcheck", "--url", url]).assert().code(2);
        let said = String::from_utf8_lossy(&refused.get_output().stderr).into_owned();
        assert!(said.starts_with("orders: --url "), "{url}: {said}");
    }
    let refused = db.cli().arg("healthcheck").env("ORDERS__SERVER__ADDR", "8080").assert().code(2);
    let said = String::from_utf8_lossy(&refused.get_output().stderr).into_owned();
    assert!(said.contains("server.addr \"8080\""), "{said}");
}
