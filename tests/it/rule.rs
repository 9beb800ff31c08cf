//! The database holds the scheduling rule (docs/orders.md): SQL typed by hand cannot break it,
//! a process configured with another gap follows the database's, `rules set-gap` changes it
//! only when every stored order keeps it, and writers racing a change never leave two orders
//! closer than the gap in force.

use std::time::Duration;

use orders::Error;
use orders::domain::Timestamp;
use orders::store::OrderQuery;
use predicates::prelude::*;
use serde_json::Value;
use sqlx::any::AnyQueryResult;
use sqlx::{AnyConnection, Connection as _, Executor as _};

use crate::helpers::{TestDb, at, new_order, random_writes, store_with_services};

const BASE: &str = "2030-01-01T12:00:00.000Z";
const HOUR_MS: i64 = 3_600_000;
const GAP_MS: i64 = 3 * HOUR_MS;

fn offset(ms: i64) -> Timestamp {
    Timestamp::from_millis(at(BASE).millis() + ms)
}

/// A connection of its own, as a person with psql or sqlite3 would have: no store, no lock.
async fn by_hand(db: &TestDb) -> AnyConnection {
    sqlx::any::install_default_drivers();
    AnyConnection::connect(&db.url).await.expect("a connection by hand")
}

/// Inserts order `id` at `datetime` by hand.
async fn insert(conn: &mut AnyConnection, id: i64, datetime: Timestamp) -> Result<AnyQueryResult, sqlx::Error> {
    sqlx::query(
        "INSERT INTO orders (id, datetime, totalfee_cents, version, created_at, updated_at) VALUES ($1, $2, 0, 1, 0, 0)",
    )
    .bind(id)
    .bind(datetime.millis())
    .execute(conn)
    .await
}

/// The statement was refused by the schema's rule: the exclusion constraint (23P01) on
/// PostgreSQL, a trigger on SQLite.
fn refused_by_the_rule(result: Result<AnyQueryResult, sqlx::Error>, what: &str) {
    match result {
        Err(sqlx::Error::Database(e)) => assert!(
            e.code().as_deref() == Some("23P01") || e.message().starts_with("orders_min_gap"),
            "{what}: refused for another reason: {e}"
        ),
        other => panic!("{what}: not refused: {other:?}"),
    }
}

/// The gap in force and the closest two orders' distance, read in one statement (one snapshot).
async fn gap_and_closest(conn: &mut AnyConnection) -> (i64, Option<i64>) {
    sqlx::query_as(
        "SELECT (SELECT min_gap_ms FROM settings WHERE id = 1), (SELECT min(step) FROM \
         (SELECT datetime - lag(datetime) OVER (ORDER BY datetime) AS step FROM orders) s)",
    )
    .fetch_one(conn)
    .await
    .expect("the rule and the closest pair")
}

#[tokio::test]
async fn sql_typed_by_hand_that_would_break_the_rule_is_refused_on_insert_and_update() {
    let db = TestDb::new().await;
    let store = store_with_services(&db).await;
    let a = store.create_order(&new_order(offset(0), &[123]), "t").await.unwrap();
    let mut conn = by_hand(&db).await;
    for (case, ms) in [("1 ms inside after", GAP_MS - 1), ("1 ms inside before", 1 - GAP_MS), ("same instant", 0)] {
        refused_by_the_rule(insert(&mut conn, 100, offset(ms)).await, case);
    }
    let two_too_close = sqlx::query(
        "INSERT INTO orders (id, datetime, totalfee_cents, version, created_at, updated_at) \
         VALUES (100, $1, 0, 1, 0, 0), (101, $2, 0, 1, 0, 0)",
    )
    .bind(offset(10 * HOUR_MS).millis())
    .bind(offset(11 * HOUR_MS).millis())
    .execute(&mut conn)
    .await;
    refused_by_the_rule(two_too_close, "two new rows too close to each other");
    insert(&mut conn, 100, offset(GAP_MS)).await.expect("exactly the gap apart is allowed");

    let mv = |id: i64, to: Timestamp| {
        sqlx::query("UPDATE orders SET datetime = $1 WHERE id = $2").bind(to.millis()).bind(id)
    };
    refused_by_the_rule(mv(100, offset(GAP_MS - 1)).execute(&mut conn).await, "moved 1 ms inside");
    refused_by_the_rule(mv(a.id, offset(1)).execute(&mut conn).await, "the store's order moved 1 ms towards it");
    let shift = conn.execute("UPDATE orders SET datetime = datetime + 1 WHERE id = 1").await;
    refused_by_the_rule(shift, "moved by an expression");
    mv(100, offset(GAP_MS + HOUR_MS)).execute(&mut conn).await.expect("moved further away");
    mv(100, offset(GAP_MS + HOUR_MS)).execute(&mut conn).await.expect("moved onto itself");
    conn.execute("UPDATE orders SET totalfee_cents = 5").await.expect("other columns change freely");

    let all = store.list_orders(&OrderQuery::default()).await.unwrap();
    let times: Vec<(i64, Timestamp)> = all.iter().map(|o| (o.id, o.datetime)).collect();
    assert_eq!(times, [(a.id, offset(0)), (100, offset(GAP_MS + HOUR_MS))], "nothing refused stays");
}

#[tokio::test]
async fn the_stored_rule_changed_by_hand_is_checked_and_every_writer_follows_it() {
    let db = TestDb::new().await;
    let store = store_with_services(&db).await;
    store.create_order(&new_order(offset(0), &[123]), "t").await.unwrap();
    store.create_order(&new_order(offset(GAP_MS), &[123]), "t").await.unwrap();
    let mut conn = by_hand(&db).await;
    let wider = conn.execute("UPDATE settings SET min_gap_ms = 10800001").await;
    assert!(wider.is_err(), "a gap the stored orders break is refused: {wider:?}");
    assert!(conn.execute("DELETE FROM settings").await.is_err(), "the rule is not removed, only set to 0");
    assert_eq!(store.min_gap().await.unwrap(), Duration::from_secs(3 * 3600), "nothing changed");

    conn.execute("UPDATE settings SET min_gap_ms = 3600000").await.expect("a gap they keep");
    assert_eq!(store.min_gap().await.unwrap(), Duration::from_secs(3600), "the store reads the database's gap");
    let near = store.create_order(&new_order(offset(2 * GAP_MS), &[123]), "t").await.expect("3h after the last order");
    refused_by_the_rule(
        insert(&mut conn, 100, Timestamp::from_millis(near.datetime.millis() + HOUR_MS - 1)).await,
        "1h rule",
    );
    insert(&mut conn, 100, Timestamp::from_millis(near.datetime.millis() + HOUR_MS)).await.expect("exactly 1h");
    let err = store.create_order(&new_order(offset(2 * GAP_MS + HOUR_MS / 2), &[123]), "t").await.unwrap_err();
    assert!(matches!(err, Error::Schedule { min_gap, .. } if min_gap == Duration::from_secs(3600)), "{err:?}");
}

#[tokio::test]
async fn a_gap_of_zero_turns_the_rule_off_in_the_schema_too() {
    let db = TestDb::new().await;
    let store = db.store_with_gap(Duration::ZERO).await;
    store.add_service(Some(1), "Inspection").await.unwrap();
    assert_eq!(store.rule().await.unwrap().enforced_by, Vec::<String>::new(), "nothing enforces a gap of 0");
    let mut conn = by_hand(&db).await;
    insert(&mut conn, 1, offset(0)).await.expect("by hand");
    insert(&mut conn, 2, offset(0)).await.expect("the same instant, by hand");
    store.create_order(&new_order(offset(0), &[1]), "t").await.expect("the same instant, by the store");
    let err = store.set_min_gap(Duration::from_millis(1)).await.unwrap_err();
    assert!(matches!(err, Error::GapViolated { first_id: 1, second_id: 2, .. }), "{err:?}");
}

#[tokio::test]
async fn a_process_configured_with_0s_cannot_break_the_rule_the_database_holds_and_warns_once() {
    let db = TestDb::new().await;
    db.cli().arg("seed").assert().success();
    let warning =
        "orders: rules.min_gap is 0s in the configuration, but this database holds 3h: following the database";
    let refused = db
        .cli()
        .env("ORDERS__RULES__MIN_GAP", "0s")
        .args(["create", "--datetime", "2022-11-01T12:00:00Z", "--fee", "1", "--service", "123"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains(
            "order 223 at 2022-11-01T11:11:11.111Z is within 3h of 2022-11-01T12:00:00.000Z",
        ));
    let stderr = String::from_utf8_lossy(&refused.get_output().stderr).into_owned();
    assert_eq!(stderr.matches(warning).count(), 1, "{stderr}");
    // The same with a store opened in this process: it follows the database.
    let store = db.store_with_gap(Duration::ZERO).await;
    assert!(store.rule_notice().is_some());
    let err = store.create_order(&new_order(at("2022-11-01T12:00:00Z"), &[123]), "t").await.unwrap_err();
    assert!(matches!(err, Error::Schedule { conflicting_id: 223, .. }), "{err:?}");
    assert_eq!(store.count_orders(&Default::default()).await.unwrap(), 3);
    // A gap the millisecond store would truncate is invalid configuration.
    for gap in ["1ms 500us", "500us"] {
        db.cli()
            .env("ORDERS__RULES__MIN_GAP", gap)
            .arg("list")
            .assert()
            .code(5)
            .stderr(predicate::str::contains("rules.min_gap must be a whole number of milliseconds"));
    }
}

fn json(output: &[u8]) -> Value {
    serde_json::from_slice(output).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(output)))
}

#[tokio::test]
async fn rules_set_gap_refuses_a_gap_stored_orders_break_naming_the_closest_pair_and_accepts_one_they_keep() {
    let db = TestDb::new().await;
    db.cli().arg("seed").assert().success();
    let shown = db.cli().args(["rules", "-o", "json"]).assert().success();
    let rule = json(&shown.get_output().stdout);
    assert_eq!((&rule["min_gap"], &rule["min_gap_ms"]), (&Value::from("3h"), &Value::from(10_800_000)));
    assert_eq!(rule["enforced_by"].as_array().map(Vec::len), Some(if db.is_postgres() { 1 } else { 2 }), "{rule}");
    db.cli().args(["rules", "-o", "table"]).assert().success().stdout(predicate::str::contains("10800000"));
    db.cli()
        .args(["rules", "-o", "csv"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("min_gap,min_gap_ms,enforced_by\n3h,10800000,"));

    for gap in ["4h", "3h 1ms"] {
        db.cli().args(["rules", "set-gap", gap]).assert().code(4).stderr(predicate::str::contains(format!(
            "orders: cannot set the gap to {gap}: orders 223 at 2022-11-01T11:11:11.111Z and 224 at \
             2022-11-01T14:11:11.111Z are 3h apart, closer than {gap}"
        )));
    }
    db.cli().args(["rules", "set-gap", "1ms 500us"]).assert().code(5).stderr(predicate::str::contains("milliseconds"));
    db.cli().args(["rules", "set-gap", "soon"]).assert().code(5);
    let kept = db.cli().args(["rules", "-o", "json"]).assert().success();
    assert_eq!(json(&kept.get_output().stdout)["min_gap_ms"], 10_800_000, "a refused change changes nothing");

    let set = db.cli().args(["rules", "set-gap", "2h", "-o", "json"]).assert().success();
    assert_eq!(json(&set.get_output().stdout)["min_gap"], "2h");
    db.cli()
        .args(["create", "--datetime", "2022-11-01T19:11:11.111Z", "--fee", "1", "--service", "123", "-o", "json"])
        .assert()
        .success();
    db.cli().args(["rules", "set-gap", "3h"]).assert().code(4).stderr(predicate::str::contains(
        "orders 225 at 2022-11-01T17:11:11.111Z and 226 at 2022-11-01T19:11:11.111Z are 2h apart, closer than 3h",
    ));
    // 0s turns it off (nothing enforces it), and a gap the stored orders keep turns it back on.
    let off = db.cli().args(["rules", "set-gap", "0s", "-o", "json"]).assert().success();
    assert_eq!(json(&off.get_output().stdout)["enforced_by"], serde_json::json!([]));
    db.cli()
        .args(["create", "--datetime", "2022-11-01T11:11:11.111Z", "--fee", "1", "--service", "123"])
        .assert()
        .success();
    db.cli().args(["rules", "set-gap", "1ms"]).assert().code(4).stderr(predicate::str::contains("are 0s apart"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writers_racing_set_gap_never_leave_two_orders_closer_than_the_gap_in_force() {
    let db = TestDb::new().await;
    // Two stores, as two processes would have: their own pools (and on SQLite their own
    // in-process gates), one database.
    let stores = [store_with_services(&db).await, db.store().await];
    let writers: Vec<_> = (0..8u64)
        .map(|writer| {
            let store = stores[(writer % 2) as usize].clone();
            tokio::spawn(async move { random_writes(&store, writer, 25, at(BASE), 72).await })
        })
        .collect();
    let setter = {
        let stores = stores.clone();
        tokio::spawn(async move {
            let (mut set, mut refused) = (0, 0);
            for (i, hours) in [1, 2, 4, 3, 5, 1, 2, 6, 1, 3, 2, 4].into_iter().enumerate() {
                match stores[i % 2].set_min_gap(Duration::from_secs(hours * 3600)).await {
                    Ok(rule) => {
                        assert_eq!(rule.min_gap, Duration::from_secs(hours * 3600));
                        set += 1;
                    }
                    Err(Error::GapViolated { .. }) => refused += 1,
                    Err(other) => panic!("set-gap {hours}h failed: {other:?}"),
                }
            }
            (set, refused)
        })
    };
    let checker = {
        let mut conn = by_hand(&db).await;
        tokio::spawn(async move {
            let mut checks = 0;
            while checks < 40 {
                let (gap, closest) = gap_and_closest(&mut conn).await;
                assert!(closest.is_none_or(|closest| closest >= gap), "two orders {closest:?} ms apart under {gap} ms");
                checks += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    for writer in writers {
        writer.await.unwrap();
    }
    let (set, refused) = setter.await.unwrap();
    checker.await.unwrap();
    assert!(set > 0, "some changes of the gap went through ({refused} refused)");
    let gap = stores[0].min_gap().await.unwrap();
    let all = stores[0].list_orders(&OrderQuery::default()).await.unwrap();
    assert!(all.len() > 1, "the writers created orders");
    for pair in all.windows(2) {
        let apart = pair[1].datetime.millis() - pair[0].datetime.millis();
        assert!(
            apart >= i64::try_from(gap.as_millis()).unwrap(),
            "orders {} and {} are {apart} ms apart",
            pair[0].id,
            pair[1].id
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_written_by_hand_while_a_create_checks_is_refused_by_the_schema_and_named() {
    let db = TestDb::new().await;
    let store = store_with_services(&db).await;
    let mut conn = by_hand(&db).await;
    // On SQLite the hand's transaction holds the database's write lock, so the store's create
    // waits for it and its own check sees the hand's order; on PostgreSQL the create's check
    // cannot see the uncommitted order, and the exclusion constraint refuses its insert once
    // the hand commits.
    conn.execute(if db.is_postgres() { "BEGIN" } else { "BEGIN IMMEDIATE" }).await.unwrap();
    insert(&mut conn, 500, offset(0)).await.unwrap();
    let create = {
        let store = store.clone();
        tokio::spawn(async move { store.create_order(&new_order(offset(HOUR_MS), &[123]), "t").await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    conn.execute("COMMIT").await.unwrap();
    let err = create.await.unwrap().unwrap_err();
    assert!(
        matches!(err, Error::Schedule { conflicting_id: 500, conflicting_datetime, min_gap, .. }
            if conflicting_datetime == offset(0) && min_gap == Duration::from_secs(3 * 3600)),
        "{err:?}"
    );
}
