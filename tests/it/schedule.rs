//! The scheduling rule through the store: its edges on create and update, the refusal's
//! content, disabling it, and concurrent writers that can never break it.

use std::time::Duration;

use orders::Error;
use orders::domain::{OrderPatch, Timestamp};
use orders::store::OrderQuery;

use crate::helpers::{THREE_HOURS, TestDb, at, new_order, random_writes, store_with_services};

const BASE: &str = "2030-01-01T12:00:00.000Z";
const GAP_MS: i64 = 3 * 3600 * 1000;

fn offset(ms: i64) -> Timestamp {
    Timestamp::from_millis(at(BASE).millis() + ms)
}

#[tokio::test]
async fn create_exactly_min_gap_apart_is_allowed_before_and_after() {
    let db = TestDb::new().await;
    let store = store_with_services(&db).await;
    store.create_order(&new_order(offset(0), &[123]), "t").await.unwrap();
    store.create_order(&new_order(offset(GAP_MS), &[123]), "t").await.expect("exactly 3h after");
    store.create_order(&new_order(offset(-GAP_MS), &[123]), "t").await.expect("exactly 3h before");
}

#[tokio::test]
async fn create_one_millisecond_inside_min_gap_is_refused_before_and_after() {
    let db = TestDb::new().await;
    let store = store_with_services(&db).await;
    let first = store.create_order(&new_order(offset(0), &[123]), "t").await.unwrap();
    for (case, ms) in
        [("1 ms less than 3h after", GAP_MS - 1), ("1 ms less than 3h before", -GAP_MS + 1), ("same instant", 0)]
    {
        match store.create_order(&new_order(offset(ms), &[123]), "t").await {
            Err(Error::Schedule { conflicting_id, conflicting_datetime, min_gap, .. }) => {
                assert_eq!(conflicting_id, first.id, "{case}");
                assert_eq!(conflicting_datetime, first.datetime, "{case}");
                assert_eq!(min_gap, Duration::from_secs(3 * 3600), "{case}");
            }
            other => panic!("{case}: expected a schedule conflict, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_refusal_names_the_nearest_conflicting_order() {
    let db = TestDb::new().await;
    let store = db.store_with_gap(Duration::from_secs(3600)).await;
    store.add_service(Some(1), "Inspection").await.unwrap();
    // Two existing orders 1h apart; a request 20 min after the second is nearest to it.
    let _early = store.create_order(&new_order(offset(0), &[1]), "t").await.unwrap();
    let late = store.create_order(&new_order(offset(3_600_000), &[1]), "t").await.unwrap();
    let err = store.create_order(&new_order(offset(3_600_000 + 1_200_000), &[1]), "t").await.unwrap_err();
    assert!(matches!(err, Error::Schedule { conflicting_id, .. } if conflicting_id == late.id), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("order {} at 2030-01-01T13:00:00.000Z is within 1h of 2030-01-01T13:20:00.000Z", late.id)
    );
}

#[tokio::test]
async fn an_update_that_moves_an_order_is_checked_against_every_other_order() {
    let db = TestDb::new().await;
    let store = store_with_services(&db).await;
    let a = store.create_order(&new_order(offset(0), &[123]), "t").await.unwrap();
    let b = store.create_order(&new_order(offset(2 * GAP_MS), &[123]), "t").await.unwrap();
    let into_a = OrderPatch { datetime: Some(offset(GAP_MS - 1)), ..OrderPatch::default() };
    let err = store.update_order(b.id, &into_a, None, "t").await.unwrap_err();
    assert!(matches!(err, Error::Schedule { conflicting_id, .. } if conflicting_id == a.id), "{err:?}");
    let exactly = OrderPatch { datetime: Some(offset(GAP_MS)), ..OrderPatch::default() };
    let moved = store.update_order(b.id, &exactly, None, "t").await.expect("exactly 3h from a");
    assert_eq!((moved.datetime, moved.version), (offset(GAP_MS), 2));
    // Moving an order by less than the gap does not conflict with itself.
    let nudge = OrderPatch { datetime: Some(offset(GAP_MS + 60_000)), ..OrderPatch::default() };
    store.update_order(b.id, &nudge, None, "t").await.expect("an order never conflicts with itself");
}

#[tokio::test]
async fn a_store_configured_with_another_gap_follows_the_gap_the_database_holds() {
    let db = TestDb::new().await;
    // The first store initializes the new database with its 1h …
    let loose = db.store_with_gap(Duration::from_secs(3600)).await;
    assert_eq!(loose.rule_notice(), None);
    loose.add_service(Some(1), "Inspection").await.unwrap();
    let a = loose.create_order(&new_order(offset(0), &[1]), "t").await.unwrap();
    // … and one configured with 3h (or 0s) follows the database, and says so.
    for configured in [THREE_HOURS, Duration::ZERO] {
        let other = db.store_with_gap(configured).await;
        let notice = other.rule_notice().expect("a store configured otherwise says so");
        assert!(notice.contains("this database holds 1h"), "{notice}");
        assert_eq!(other.min_gap().await.unwrap(), Duration::from_secs(3600));
        let err = other.create_order(&new_order(offset(3_600_000 - 1), &[1]), "t").await.unwrap_err();
        assert!(
            matches!(err, Error::Schedule { conflicting_id, min_gap, .. } if conflicting_id == a.id && min_gap == Duration::from_secs(3600)),
            "{configured:?}: {err:?}"
        );
    }
    db.store().await.create_order(&new_order(offset(3_600_000), &[1]), "t").await.expect("1h apart is allowed");
}

#[tokio::test]
async fn a_zero_min_gap_disables_the_rule() {
    let db = TestDb::new().await;
    let store = db.store_with_gap(Duration::ZERO).await;
    store.add_service(Some(1), "Inspection").await.unwrap();
    for _ in 0..3 {
        store.create_order(&new_order(offset(0), &[1]), "t").await.expect("same instant allowed with 0s");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_32_concurrent_conflicting_creates_exactly_one_succeeds_and_the_rest_are_conflicts() {
    let db = TestDb::new().await;
    let store = store_with_services(&db).await;
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let store = store.clone();
            // All within 3h of each other: 32 requests spread over 31 minutes.
            tokio::spawn(async move { store.create_order(&new_order(offset(i * 60_000), &[123]), "t").await })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => created += 1,
            Err(Error::Schedule { .. }) => {}
            Err(other) => panic!("a writer failed with something other than a conflict: {other:?}"),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(store.count_orders(&Default::default()).await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_random_mix_of_concurrent_creates_and_moves_never_leaves_two_orders_too_close() {
    let db = TestDb::new().await;
    let store = store_with_services(&db).await;
    // 16 writers, each doing 25 random creates or datetime-moving updates in a 48h window, so
    // that conflicts are frequent.
    let writers: Vec<_> = (0..16u64)
        .map(|writer| {
            let store = store.clone();
            tokio::spawn(async move { random_writes(&store, writer, 25, at(BASE), 48).await })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let all = store.list_orders(&OrderQuery::default()).await.unwrap();
    assert!(all.len() > 1, "the mix should have created several orders");
    for pair in all.windows(2) {
        let gap = pair[1].datetime.millis() - pair[0].datetime.millis();
        assert!(gap >= GAP_MS, "orders {} and {} are {gap} ms apart", pair[0].id, pair[1].id);
    }
}

#[tokio::test]
async fn of_10_concurrent_processes_creating_conflicting_orders_exactly_one_succeeds() {
    let db = TestDb::new().await;
    drop(store_with_services(&db).await);
    let children: Vec<_> = (0..10)
        .map(|i| {
            let datetime = offset(i * 60_000).to_string();
            db.cli_process()
                .args(["create", "--datetime", &datetime, "--fee", "1", "--service", "123"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("the binary starts")
        })
        .collect();
    let mut codes: Vec<i32> = Vec::new();
    for child in children {
        let output = child.wait_with_output().unwrap();
        let code = output.status.code().unwrap();
        assert!(
            code == 0 || (code == 4 && String::from_utf8_lossy(&output.stderr).contains("is within 3h")),
            "a process failed with something other than a conflict: {code} {}",
            String::from_utf8_lossy(&output.stderr)
        );
        codes.push(code);
    }
    assert_eq!(codes.iter().filter(|&&c| c == 0).count(), 1, "exit codes: {codes:?}");
    assert_eq!(db.store().await.count_orders(&Default::default()).await.unwrap(), 1);
}
