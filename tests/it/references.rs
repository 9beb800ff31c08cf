//! The references between orders, their services and the catalogue hold for every writer, not
//! only the store: SQL run by hand is refused or cascaded exactly as declared foreign keys
//! would do it: declared foreign keys on both backends (on PostgreSQL again since
//! migrations/postgres/0006_declared_references.sql), and these tests keep the two alike.

use std::time::Duration;

use orders::store::Store;
use sqlx::{AnyConnection, Connection as _, Executor as _};

use crate::helpers::{TestDb, at, new_order, store_with_services};

/// A store with order 1 (service 123) and order 2 (services 123 and 456); 789 is unused.
async fn two_orders(db: &TestDb) -> Store {
    let store = store_with_services(db).await;
    store.create_order(&new_order(at("2030-01-01T00:00:00Z"), &[123]), "t").await.unwrap();
    store.create_order(&new_order(at("2030-01-02T00:00:00Z"), &[123, 456]), "t").await.unwrap();
    store
}

/// A connection of its own, as a person with psql would have.
async fn by_hand(db: &TestDb) -> AnyConnection {
    sqlx::any::install_default_drivers();
    AnyConnection::connect(&db.url).await.expect("a connection by hand")
}

/// Each statement is refused as a foreign key violation: SQLSTATE 23503 on PostgreSQL; on
/// SQLite, its FOREIGN KEY constraint (a RESTRICT reports SQLITE_CONSTRAINT_TRIGGER, not
/// _FOREIGNKEY).
async fn refused_as_a_foreign_key(conn: &mut AnyConnection, statements: &[&'static str]) {
    for &sql in statements {
        match conn.execute(sql).await {
            Err(sqlx::Error::Database(e)) => {
                assert!(e.is_foreign_key_violation() || e.message() == "FOREIGN KEY constraint failed", "{sql}: {e}");
            }
            other => panic!("{sql} was not refused as a foreign key violation: {other:?}"),
        }
    }
}

async fn services_named(conn: &mut AnyConnection, order_id: i64) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM order_services WHERE order_id = $1")
        .bind(order_id)
        .fetch_one(conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_order_service_naming_no_order_or_no_service_is_refused() {
    let db = TestDb::new().await;
    let _store = two_orders(&db).await;
    let mut conn = by_hand(&db).await;
    refused_as_a_foreign_key(
        &mut conn,
        &[
            "INSERT INTO order_services (order_id, service_id) VALUES (99, 123)",
            "INSERT INTO order_services (order_id, service_id) VALUES (1, 999)",
            "INSERT INTO order_services (order_id, service_id) VALUES (1, 789), (99, 789)",
            "UPDATE order_services SET service_id = 999 WHERE order_id = 1",
            "UPDATE order_services SET order_id = 99 WHERE order_id = 1",
        ],
    )
    .await;
    assert_eq!(services_named(&mut conn, 1).await, 1, "nothing of a refused statement stays");
    conn.execute("INSERT INTO order_services (order_id, service_id) VALUES (1, 789)").await.unwrap();
    assert_eq!(services_named(&mut conn, 1).await, 2);
}

#[tokio::test]
async fn deleting_an_order_by_hand_deletes_its_services_too() {
    let db = TestDb::new().await;
    let store = two_orders(&db).await;
    let mut conn = by_hand(&db).await;
    conn.execute("DELETE FROM orders WHERE id = 2").await.unwrap();
    assert_eq!(services_named(&mut conn, 2).await, 0);
    assert_eq!(services_named(&mut conn, 1).await, 1, "other orders keep theirs");
    assert!(store.delete_service(456).await.is_ok(), "456 is no longer in use");
    if db.is_postgres() {
        conn.execute("TRUNCATE orders CASCADE").await.unwrap();
        assert_eq!(services_named(&mut conn, 1).await, 0, "TRUNCATE … CASCADE takes them along as well");
    }
}

#[tokio::test]
async fn a_service_or_an_order_in_use_keeps_its_id_and_a_used_service_stays() {
    let db = TestDb::new().await;
    let _store = two_orders(&db).await;
    let mut conn = by_hand(&db).await;
    refused_as_a_foreign_key(
        &mut conn,
        &[
            "DELETE FROM services WHERE id = 456",
            "DELETE FROM services",
            "UPDATE services SET id = 1000 WHERE id = 123",
            "UPDATE orders SET id = 1000 WHERE id = 2",
        ],
    )
    .await;
    if db.is_postgres() {
        // A declared key refuses to truncate the table it references (SQLSTATE 0A000).
        let refused = conn.execute("TRUNCATE services").await.unwrap_err();
        assert!(refused.to_string().contains("referenced in a foreign key constraint"), "{refused}");
    }
    // What no order names may change or go.
    conn.execute("UPDATE services SET id = 790 WHERE id = 789").await.unwrap();
    conn.execute("DELETE FROM services WHERE id = 790").await.unwrap();
    conn.execute(
        "INSERT INTO orders (id, datetime, totalfee_cents, version, created_at, updated_at) VALUES (7, 0, 0, 1, 0, 0)",
    )
    .await
    .unwrap();
    conn.execute("UPDATE orders SET id = 8 WHERE id = 7").await.unwrap();
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM orders ORDER BY id").fetch_all(&mut conn).await.unwrap();
    assert_eq!(ids, [1, 2, 8]);
}

#[tokio::test]
async fn a_reference_checked_by_hand_waits_for_the_store_writer_and_sees_what_it_committed() {
    let db = TestDb::new().await;
    if !db.is_postgres() {
        return; // SQLite has one writer at a time: there is no interleaving to check
    }
    let _store = two_orders(&db).await;
    // A writer holding the store's write lock (as every store write does) deletes order 2...
    let mut writer = by_hand(&db).await;
    writer.execute("BEGIN").await.unwrap();
    writer.execute("SELECT 1 FROM pg_advisory_xact_lock(122537101324915)").await.unwrap();
    writer.execute("DELETE FROM orders WHERE id = 2").await.unwrap();
    // ... while someone else names it: their check waits for the lock ...
    let mut other = by_hand(&db).await;
    let naming = tokio::spawn(async move {
        other.execute("INSERT INTO order_services (order_id, service_id) VALUES (2, 789)").await.map(drop)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!naming.is_finished(), "the check waits for the writer's lock");
    // ... and once the delete is committed, it sees the order gone.
    writer.execute("COMMIT").await.unwrap();
    match naming.await.unwrap() {
        Err(sqlx::Error::Database(e)) => assert!(e.is_foreign_key_violation(), "{e}"),
        other => panic!("naming a deleted order was not refused: {other:?}"),
    }
    assert_eq!(services_named(&mut writer, 2).await, 0);
}

#[tokio::test]
async fn the_store_writes_in_read_committed_whatever_the_databases_default() {
    let db = TestDb::new().await;
    if !db.is_postgres() {
        return; // isolation levels are PostgreSQL's
    }
    let mut conn = by_hand(&db).await;
    let name: String = sqlx::query_scalar("SELECT current_database()::text").fetch_one(&mut conn).await.unwrap();
    conn.execute(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {name} SET default_transaction_isolation = 'repeatable read'"
    )))
    .await
    .unwrap();
    let store = two_orders(&db).await; // connections opened after the change
    store.create_order(&new_order(at("2030-01-03T00:00:00Z"), &[456]), "t").await.unwrap();
    store.delete_order(1, None, "t").await.unwrap();
}
