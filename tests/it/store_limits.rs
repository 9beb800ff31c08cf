//! docs/limits.md on the store's side: bounded waits for the write lock (503 with
//! `Retry-After`) and for other locks, a statement bound that spares a long export, an import
//! that reads its input before it locks, refresh tokens refused without the lock, bounded
//! growth of refresh tokens and idempotency keys, the cap on access token lifetimes, and an
//! order's history paged like `/events`.

use std::io::Write as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

use futures_util::TryStreamExt as _;
use orders::Error;
use orders::auth::{Role, Tokens};
use orders::config::AuthConfig;
use orders::domain::{OrderFilter, OrderPatch, Timestamp};
use orders::store::{IDEMPOTENCY_KEYS_PER_SUBJECT, IdempotencyKey, Store, StoreOptions, StoredResponse};
use serde_json::json;
use sqlx::{AnyConnection, Connection as _, Executor as _};

use crate::api_helpers::{SECRET, auth_config, server_config, spawn_app_on};
use crate::helpers::{THREE_HOURS, TestDb, at, new_order};

/// The store's write lock on PostgreSQL (`POSTGRES_WRITE_LOCK` in src/store/session.rs).
const POSTGRES_WRITE_LOCK: i64 = 0x6f72_6465_7273;

/// Slack for a bounded wait on a busy machine: scheduling, SQLite's busy-handler sleeps.
const SLACK: Duration = Duration::from_secs(1);

/// A store on `db` whose writes wait at most `lock_timeout`, with services 123, 456 and 789.
async fn bounded_store(db: &TestDb, lock_timeout: Duration) -> Store {
    let options = StoreOptions {
        max_connections: 8,
        auto_migrate: true,
        min_gap: THREE_HOURS,
        lock_timeout,
        ..Default::default()
    };
    let store = Store::connect(&db.url, &options).await.expect("the test store opens");
    for (id, name) in [(123, "Inspection"), (456, "Analysis"), (789, "Testing")] {
        store.add_service(Some(id), name).await.expect("a sample service");
    }
    store
}

/// A connection of the test's own, outside any store.
async fn by_hand(db: &TestDb) -> AnyConnection {
    sqlx::any::install_default_drivers();
    AnyConnection::connect(&db.url).await.expect("a connection by hand")
}

/// Another session holding the store's write lock, as a stuck peer would: on PostgreSQL the
/// advisory lock every write takes, on SQLite the database's write lock.
async fn hold_write_lock(db: &TestDb) -> AnyConnection {
    let mut conn = by_hand(db).await;
    if db.is_postgres() {
        conn.execute("BEGIN").await.unwrap();
        sqlx::query("SELECT 1 FROM pg_advisory_xact_lock($1)")
            .bind(POSTGRES_WRITE_LOCK)
            .execute(&mut conn)
            .await
            .unwrap();
    } else {
        conn.execute("BEGIN IMMEDIATE").await.unwrap();
    }
    conn
}

async fn release(mut holder: AnyConnection) {
    holder.execute("ROLLBACK").await.unwrap();
}

async fn count(db: &TestDb, query: &'static str, subject: &str) -> i64 {
    sqlx::query_scalar(query).bind(subject).fetch_one(&mut by_hand(db).await).await.unwrap()
}

#[tokio::test]
async fn a_write_gives_up_on_a_held_write_lock_after_lock_timeout_and_succeeds_once_it_is_released() {
    let db = TestDb::new().await;
    let lock_timeout = Duration::from_millis(300);
    let store = bounded_store(&db, lock_timeout).await;
    let holder = hold_write_lock(&db).await;
    let started = Instant::now();
    let refused = store.create_order(&new_order(at("2030-01-01T00:00:00Z"), &[123]), "test").await;
    let waited = started.elapsed();
    match refused {
        Err(Error::Busy(message)) => {
            assert_eq!(message, "the write lock was not obtained within 300ms; try again");
        }
        other => panic!("expected busy, got {other:?}"),
    }
    assert!(waited >= lock_timeout - Duration::from_millis(50), "gave up early: {waited:?}");
    assert!(waited < lock_timeout + SLACK, "waited {waited:?}");
    eprintln!("a write gave up after {waited:?} (lock_timeout {lock_timeout:?})");
    release(holder).await;
    store.create_order(&new_order(at("2030-01-01T00:00:00Z"), &[123]), "test").await.expect("the lock is free again");
}

#[tokio::test]
async fn writers_queued_in_one_process_wait_at_most_lock_timeout_in_all() {
    // On SQLite a writer first queues on the process's gate, then waits on the database: the
    // two waits share one bound. The second writer comes while the first still waits, and gets
    // the gate with part of its bound left: only that part is left for the database.
    let db = TestDb::new().await;
    let lock_timeout = Duration::from_secs(1);
    let store = bounded_store(&db, lock_timeout).await;
    let holder = hold_write_lock(&db).await;
    let writes = (0..2).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(400) * i).await;
            let started = Instant::now();
            let datetime = Timestamp::from_millis(at("2030-01-01T00:00:00Z").millis() + i64::from(i) * 4 * 3_600_000);
            let result = store.create_order(&new_order(datetime, &[123]), "test").await;
            (result, started.elapsed())
        })
    });
    for write in futures_util::future::join_all(writes).await {
        let (result, waited) = write.unwrap();
        assert!(matches!(result, Err(Error::Busy(_))), "{result:?}");
        assert!(waited < lock_timeout + Duration::from_millis(450), "waited {waited:?}");
    }
    release(holder).await;
}

#[tokio::test]
async fn post_orders_is_503_unavailable_with_retry_after_while_another_session_holds_the_write_lock() {
    let db = TestDb::new().await;
    let store = bounded_store(&db, Duration::from_millis(300)).await;
    let holder = hold_write_lock(&db).await;
    let app = spawn_app_on(db, store, server_config()).await;
    let body = json!({"datetime": "2030-01-01T00:00:00Z", "totalfee": 100, "services": [123]});
    let started = Instant::now();
    let refused = app.send("POST", "/orders", &body).await;
    let waited = started.elapsed();
    assert_eq!((refused.status, refused.problem_type().as_str()), (503, "unavailable"), "{}", refused.text);
    assert!(refused.header("retry-after").is_some_and(|s| s.parse::<u64>().is_ok()), "{:?}", refused.headers);
    assert!(refused.json()["detail"].as_str().unwrap().contains("within 300ms"), "{}", refused.text);
    assert!(waited < Duration::from_millis(300) + SLACK, "waited {waited:?}");
    release(holder).await;
    assert_eq!(app.send("POST", "/orders", &body).await.status, 201);
}

#[tokio::test]
async fn on_postgresql_a_read_queued_behind_a_table_lock_gives_up_after_lock_timeout() {
    let db = TestDb::new().await;
    if !db.is_postgres() {
        return; // SQLite readers never wait on a lock (WAL)
    }
    let store = bounded_store(&db, Duration::from_millis(300)).await;
    let mut holder = by_hand(&db).await;
    holder.execute("BEGIN").await.unwrap();
    holder.execute("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE").await.unwrap();
    let started = Instant::now();
    let read = store.count_orders(&OrderFilter::default()).await;
    assert!(matches!(read, Err(Error::Busy(_))), "{read:?}");
    assert!(started.elapsed() < Duration::from_millis(300) + SLACK, "waited {:?}", started.elapsed());
    release(holder).await;
    assert_eq!(store.count_orders(&OrderFilter::default()).await.unwrap(), 0);
}

#[tokio::test]
async fn on_postgresql_an_export_whose_reader_dawdles_is_not_cut_by_statement_timeout() {
    // Its one statement lasts as long as its reader takes: far more orders than the socket
    // buffers hold, and a reader that stops for longer than the statement bound.
    const COUNT: usize = 50_000;
    let db = TestDb::new().await;
    if !db.is_postgres() {
        return; // SQLite has no statement bound
    }
    let loader = bounded_store(&db, Duration::from_secs(5)).await;
    let start = at("2040-01-01T00:00:00Z").millis();
    let records = (1..=COUNT).map(|n| {
        let mut new = new_order(Timestamp::from_millis(start + i64::try_from(n).unwrap() * 4 * 3_600_000), &[123]);
        new.id = Some(i64::try_from(n).unwrap());
        (n, Ok(new))
    });
    loader.import(records, "import").await.unwrap();
    loader.close().await;
    let statement_timeout = Duration::from_millis(200);
    let options = StoreOptions { min_gap: THREE_HOURS, statement_timeout, ..Default::default() };
    let store = Store::connect(&db.url, &options).await.unwrap();
    let mut export = Box::pin(store.export_orders());
    export.try_next().await.unwrap().expect("a first order");
    tokio::time::sleep(statement_timeout * 5).await;
    let rest: Vec<_> = export.try_collect().await.expect("the export runs to its end");
    assert_eq!(rest.len() + 1, COUNT);
}

#[tokio::test]
async fn an_import_from_a_pipe_whose_writer_stalls_does_not_keep_other_writers_waiting() {
    let db = TestDb::new().await;
    db.cli().args(["services", "add", "Radon", "--id", "1"]).assert().success();
    let mut import = db
        .cli_process()
        .args(["import", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = import.stdin.take().unwrap();
    writeln!(input, r#"{{"id": 1000, "datetime": "2030-01-01T00:00:00Z", "totalfee": 1, "services": [1]}}"#).unwrap();
    input.flush().unwrap();
    // Time for the import to open the store and read that line; the writer then stalls.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let started = Instant::now();
    db.cli()
        .args(["create", "--datetime", "2031-01-01T00:00:00Z", "--fee", "5", "--service", "1"])
        .env("ORDERS__DATABASE__LOCK_TIMEOUT", "3s")
        .assert()
        .success();
    eprintln!("create beside a stalled import took {:?}", started.elapsed());
    drop(input); // end of input: the import goes ahead
    let imported = import.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&imported.stderr);
    assert!(imported.status.success(), "{stderr}");
    assert!(stderr.contains("imported 1 order (0 new services)"), "{stderr}");
    db.cli().args(["get", "1000"]).assert().success();
}

/// `POST /auth/refresh` with `token`: (status, how long it took).
async fn refresh(app: &crate::api_helpers::TestApp, token: &str) -> (u16, Duration) {
    let started = Instant::now();
    let body = json!({ "refresh_token": token }).to_string();
    let reply = app.call("POST", "/auth/refresh", None, Some(&body), &[]).await;
    (reply.status, started.elapsed())
}

#[tokio::test]
async fn refresh_tokens_that_cannot_work_are_refused_at_once_while_the_write_lock_is_held() {
    let db = TestDb::new().await;
    let lock_timeout = Duration::from_secs(2);
    let store = bounded_store(&db, lock_timeout).await;
    let app = spawn_app_on(db, store, server_config()).await;
    let tokens = app.tokens();
    let issue =
        async || tokens.issue(&app.store, "alice", Role::Reader, None, true).await.unwrap().refresh_token.unwrap();
    let (used, live) = (issue().await, issue().await);
    let rotated = tokens.refresh(&app.store, &used).await.unwrap().refresh_token.unwrap();
    assert_eq!(refresh(&app, &used).await.0, 401, "reuse revokes the family");
    let holder = hold_write_lock(app.db()).await;
    for (case, token) in [("garbage", "not-a-token"), ("used, family revoked", &used), ("revoked", &rotated)] {
        let (status, took) = refresh(&app, token).await;
        assert_eq!(status, 401, "{case}");
        assert!(took < Duration::from_millis(500), "{case}: {took:?} (lock_timeout {lock_timeout:?})");
    }
    let (status, took) = refresh(&app, &live).await;
    assert_eq!(status, 503, "a live token waits for the lock like any write");
    assert!(took >= lock_timeout - Duration::from_millis(50), "{took:?}");
    release(holder).await;
    assert_eq!(refresh(&app, &live).await.0, 200);
}

/// Tokens whose refresh-token families live `refresh_ttl`.
fn tokens_living(refresh_ttl: Duration) -> Tokens {
    Tokens::new(SECRET.as_bytes(), &AuthConfig { refresh_ttl, ..auth_config() }).unwrap()
}

#[tokio::test]
async fn rotation_never_extends_a_refresh_token_family_past_its_first_issue() {
    let db = TestDb::new().await;
    let store = db.store().await;
    let tokens = tokens_living(Duration::from_secs(1));
    let issued_at = Instant::now();
    let first = tokens.issue(&store, "bob", Role::Reader, None, true).await.unwrap().refresh_token.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second = tokens.refresh(&store, &first).await.unwrap().refresh_token.unwrap();
    let same = "SELECT CAST(COUNT(DISTINCT expires_at) AS BIGINT) FROM refresh_tokens WHERE subject = $1";
    assert_eq!(count(&db, same, "bob").await, 1, "the successor inherits the family's expiry");
    tokio::time::sleep_until((issued_at + Duration::from_millis(1100)).into()).await;
    let late = tokens.refresh(&store, &second).await;
    assert!(matches!(late, Err(Error::Unauthorized(_))), "{late:?}");
}

#[tokio::test]
async fn an_expired_family_is_purged_with_its_used_tokens_when_another_token_is_issued() {
    let db = TestDb::new().await;
    let store = db.store().await;
    let tokens = tokens_living(Duration::from_secs(1));
    let rows = "SELECT CAST(COUNT(*) AS BIGINT) FROM refresh_tokens WHERE subject = $1";
    let first = tokens.issue(&store, "carol", Role::Reader, None, true).await.unwrap().refresh_token.unwrap();
    tokens.refresh(&store, &first).await.unwrap();
    assert_eq!(count(&db, rows, "carol").await, 2, "a used token stays while its family lives");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    tokens.issue(&store, "dave", Role::Reader, None, true).await.unwrap();
    assert_eq!(count(&db, rows, "carol").await, 0);
    assert_eq!(count(&db, rows, "dave").await, 1);
}

fn key(subject: &str, key: &str) -> IdempotencyKey {
    IdempotencyKey { subject: subject.to_owned(), key: key.to_owned(), request_hash: "h".to_owned() }
}

fn response(body: &str) -> StoredResponse {
    StoredResponse { status: 201, headers: Vec::new(), body: body.to_owned() }
}

#[tokio::test]
async fn a_subject_keeps_at_most_its_bound_of_idempotency_keys_and_loses_the_oldest_first() {
    let db = TestDb::new().await;
    let store = db.store().await;
    let bound = usize::try_from(IDEMPOTENCY_KEYS_PER_SUBJECT).unwrap();
    store.remember_response(&key("calm", "only"), &response("calm")).await.unwrap();
    for i in 0..bound + 5 {
        let name = format!("k{i:04}");
        assert!(store.remember_response(&key("busy", &name), &response(&name)).await.unwrap().is_none());
    }
    let rows = "SELECT CAST(COUNT(*) AS BIGINT) FROM idempotency_keys WHERE subject = $1";
    assert_eq!(count(&db, rows, "busy").await, IDEMPOTENCY_KEYS_PER_SUBJECT);
    for gone in ["k0000", "k0004"] {
        assert!(store.find_idempotency_key("busy", gone).await.unwrap().is_none(), "{gone}");
    }
    for kept in ["k0005".to_owned(), format!("k{:04}", bound + 4)] {
        assert!(store.find_idempotency_key("busy", &kept).await.unwrap().is_some(), "{kept}");
    }
    assert!(store.find_idempotency_key("calm", "only").await.unwrap().is_some(), "other subjects keep theirs");
}

#[tokio::test]
async fn expired_idempotency_keys_are_purged_and_an_expired_key_can_be_used_again() {
    let db = TestDb::new().await;
    let store = db.store().await;
    let day_ago = Timestamp::now().millis() - 25 * 3_600_000;
    let mut conn = by_hand(&db).await;
    for name in ["again", "stale"] {
        sqlx::query(
            "INSERT INTO idempotency_keys (subject, key, request_hash, status, headers, body, created_at) \
             VALUES ('s', $1, 'old', 201, '[]', 'old', $2)",
        )
        .bind(name)
        .bind(day_ago)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    assert!(store.remember_response(&key("s", "again"), &response("new")).await.unwrap().is_none());
    let found = store.find_idempotency_key("s", "again").await.unwrap().expect("the new response");
    assert_eq!(found.response.body, "new");
    assert_eq!(count(&db, "SELECT CAST(COUNT(*) AS BIGINT) FROM idempotency_keys WHERE subject = $1", "s").await, 1);
}

#[tokio::test]
async fn token_issue_refuses_a_ttl_above_max_access_ttl_and_names_the_maximum() {
    let db = TestDb::new().await;
    let issue = |ttl: &str| {
        let mut cmd = db.cli();
        cmd.env("ORDERS__AUTH__JWT_SECRET", SECRET).env("ORDERS__AUTH__MAX_ACCESS_TTL", "2h");
        cmd.args(["token", "issue", "--subject", "ci", "--role", "reader", "--ttl", ttl]).assert()
    };
    issue("2h").success();
    issue("2h 1s").code(5).stderr("orders: invalid input: ttl: must be at most 2h (auth.max_access_ttl), not 2h 1s\n");
}

#[tokio::test]
async fn an_orders_history_pages_by_seq_with_a_link_to_the_next_page() {
    let db = TestDb::new().await;
    let store = bounded_store(&db, Duration::from_secs(5)).await;
    let app = spawn_app_on(db, store, server_config()).await;
    let (a, b) = (app.create("2030-01-01T00:00:00Z", &[123]).await, app.create("2030-02-01T00:00:00Z", &[123]).await);
    let (a, b) = (a["id"].as_i64().unwrap(), b["id"].as_i64().unwrap());
    // a's events interleave with b's, so a's seqs have gaps.
    for fee in 1..=4 {
        for id in [a, b] {
            let patch =
                OrderPatch { totalfee: Some(orders::domain::Money::from_cents(fee * 100)), ..Default::default() };
            app.store.update_order(id, &patch, None, "test").await.unwrap();
        }
    }
    let mut path = format!("/orders/{a}/history?limit=2");
    let (mut seqs, mut pages) = (Vec::new(), 0);
    loop {
        let page = app.get(&path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.text);
        let events = page.json();
        assert!(events.as_array().unwrap().iter().all(|e| e["order_id"] == a));
        seqs.extend(events.as_array().unwrap().iter().map(|e| e["seq"].as_i64().unwrap()));
        pages += 1;
        let Some(link) = page.header("link") else { break };
        let next = link.strip_prefix('<').and_then(|l| l.strip_suffix(">; rel=\"next\"")).expect("a next link");
        path = next.to_owned();
    }
    assert_eq!((seqs.len(), pages), (5, 3), "{seqs:?}");
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let whole = app.get(&format!("/orders/{a}/history")).await;
    assert_eq!((whole.json().as_array().unwrap().len(), whole.header("link")), (5, None));
    let past_the_end = app.get(&format!("/orders/{a}/history?after={}", seqs[4])).await;
    assert_eq!((past_the_end.status, past_the_end.json()), (200, json!([])));
    assert_eq!(app.get("/orders/999999/history?after=0").await.status, 404, "an id that never existed");
    for bad in ["limit=0", "limit=1001", "after=-1", "after=x", "page=2"] {
        assert_eq!(app.get(&format!("/orders/{a}/history?{bad}")).await.status, 400, "{bad}");
    }
}

#[tokio::test]
async fn orders_history_prints_every_event_however_many_pages_the_api_would_take() {
    let db = TestDb::new().await;
    let store = bounded_store(&db, Duration::from_secs(5)).await;
    let order = store.create_order(&new_order(at("2030-01-01T00:00:00Z"), &[123]), "test").await.unwrap();
    for fee in 1..=150 {
        let patch = OrderPatch { totalfee: Some(orders::domain::Money::from_cents(fee)), ..Default::default() };
        store.update_order(order.id, &patch, None, "test").await.unwrap();
    }
    store.close().await;
    let history = db.cli().args(["history", &order.id.to_string(), "-o", "json"]).assert().success();
    let events: serde_json::Value = serde_json::from_slice(&history.get_output().stdout).unwrap();
    assert_eq!(events.as_array().unwrap().len(), 151);
}
