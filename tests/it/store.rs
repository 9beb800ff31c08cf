//! The store's reads and bookkeeping: keyset paging in every order, streaming, history and the
//! change feed, versions, ids that are never reused, and the catalogue's rules.

use futures_util::TryStreamExt as _;
use orders::Error;
use orders::domain::{EventKind, Money, OrderFilter, OrderKey, OrderPatch, ServiceRef, SortOrder, Timestamp};
use orders::store::{OrderQuery, Store};

use crate::helpers::{TestDb, new_order, store_with_services};

const HOUR: i64 = 3_600_000;

/// `count` orders 3 h apart from 2030-01-01, alternating services 123 and 456.
async fn store_with_orders(db: &TestDb, count: i64) -> Store {
    let store = store_with_services(db).await;
    let start = Timestamp::parse("2030-01-01T00:00:00Z").unwrap().millis();
    for i in 0..count {
        let service = if i % 2 == 0 { 123 } else { 456 };
        store.create_order(&new_order(Timestamp::from_millis(start + i * 3 * HOUR), &[service]), "t").await.unwrap();
    }
    store
}

fn ids(orders: &[orders::domain::Order]) -> Vec<i64> {
    orders.iter().map(|o| o.id).collect()
}

#[tokio::test]
async fn keyset_pages_cover_every_order_once_in_every_sort_order() {
    let db = TestDb::new().await;
    let store = store_with_orders(&db, 7).await;
    for sort in [SortOrder::DatetimeAsc, SortOrder::DatetimeDesc, SortOrder::IdAsc, SortOrder::IdDesc] {
        let mut seen = Vec::new();
        let mut after: Option<OrderKey> = None;
        loop {
            let query = OrderQuery { sort, after, limit: Some(3), ..OrderQuery::default() };
            let page = store.list_orders(&query).await.unwrap();
            seen.extend(ids(&page));
            match page.last() {
                Some(last) if page.len() == 3 => after = Some(last.key()),
                _ => break,
            }
        }
        let mut expected: Vec<i64> = (1..=7).collect();
        if matches!(sort, SortOrder::DatetimeDesc | SortOrder::IdDesc) {
            expected.reverse();
        }
        assert_eq!(seen, expected, "{sort:?}");
    }
}

#[tokio::test]
async fn concurrent_lookups_share_statements_and_each_gets_its_own_order() {
    let db = TestDb::new().await;
    let store = store_with_orders(&db, 5).await;
    let before = store.stats();
    // Orders 1..=5 exist and 6..=9 do not; every id is asked for many times, in one burst.
    let asked: Vec<i64> = (0..200).map(|i| i % 9 + 1).collect();
    let answers = futures_util::future::join_all(asked.iter().map(|&id| store.get_order(id))).await;
    let start = Timestamp::parse("2030-01-01T00:00:00Z").unwrap().millis();
    for (&id, answer) in asked.iter().zip(answers) {
        match answer {
            Ok(order) => {
                assert!(id <= 5, "order {id} does not exist, yet was found");
                assert_eq!(order.id, id);
                assert_eq!(order.datetime.millis(), start + (id - 1) * 3 * HOUR);
                let service = if id % 2 == 1 { 123 } else { 456 };
                assert_eq!(order.services.iter().map(|s| s.id).collect::<Vec<_>>(), [service], "order {id}");
            }
            Err(Error::NotFound { what: "order", id: missing }) => assert_eq!((missing, id > 5), (id, true)),
            Err(other) => panic!("order {id}: {other}"),
        }
    }
    let after = store.stats();
    assert_eq!(after.lookups - before.lookups, 200);
    // The burst is queued before any statement runs (a single-threaded runtime): 32 a statement.
    let statements = after.lookup_statements - before.lookup_statements;
    assert!(statements <= 200_u64.div_ceil(32), "{statements} statements for 200 lookups");
}

#[tokio::test]
async fn a_lookup_whose_caller_gave_up_leaves_the_others_answered() {
    let db = TestDb::new().await;
    let store = store_with_orders(&db, 2).await;
    let mut abandoned = Box::pin(store.get_order(1));
    assert!(futures_util::poll!(&mut abandoned).is_pending(), "queued, its statement not yet run");
    let answered = store.get_order(2);
    drop(abandoned);
    assert_eq!(answered.await.unwrap().id, 2);
    assert_eq!(store.get_order(1).await.unwrap().id, 1);
    let stats = store.stats();
    assert_eq!(stats.lookups, 3, "the abandoned lookup was still read once: {stats:?}");
}

#[tokio::test]
async fn ties_on_datetime_are_ordered_by_id() {
    let db = TestDb::new().await;
    let store = db.store_with_gap(std::time::Duration::ZERO).await;
    store.add_service(Some(1), "Inspection").await.unwrap();
    let at = Timestamp::parse("2030-01-01T00:00:00Z").unwrap();
    for _ in 0..4 {
        store.create_order(&new_order(at, &[1]), "t").await.unwrap();
    }
    let first = store.list_orders(&OrderQuery { limit: Some(2), ..OrderQuery::default() }).await.unwrap();
    let rest = OrderQuery { after: Some(first[1].key()), limit: Some(10), ..OrderQuery::default() };
    assert_eq!((ids(&first), ids(&store.list_orders(&rest).await.unwrap())), (vec![1, 2], vec![3, 4]));
}

#[tokio::test]
async fn filters_combine_and_the_stream_yields_the_same_orders_as_the_list() {
    let db = TestDb::new().await;
    let store = store_with_orders(&db, 10).await;
    let filter = OrderFilter {
        from: Some(Timestamp::parse("2030-01-01T06:00:00Z").unwrap()),
        to: Some(Timestamp::parse("2030-01-02T03:00:00Z").unwrap()),
        service: Some(456),
    };
    let query = OrderQuery { filter: filter.clone(), ..OrderQuery::default() };
    let listed = store.list_orders(&query).await.unwrap();
    assert_eq!(ids(&listed), [4, 6, 8]);
    let streamed: Vec<_> = store.stream_orders(query).try_collect().await.unwrap();
    assert_eq!(streamed, listed);
    assert_eq!(store.count_orders(&filter).await.unwrap(), 3);
}

#[tokio::test]
async fn an_export_yields_every_order_by_id_as_of_its_start_whatever_is_written_meanwhile() {
    let db = TestDb::new().await;
    let store = store_with_orders(&db, 5).await;
    let two_services = OrderPatch { services: Some(vec![789, 123]), ..OrderPatch::default() };
    store.update_order(2, &two_services, None, "t").await.unwrap();
    let by_id = OrderQuery { sort: SortOrder::IdAsc, ..OrderQuery::default() };
    let before = store.list_orders(&by_id).await.unwrap();
    assert_eq!(before[1].services.iter().map(|s| s.id).collect::<Vec<_>>(), [123, 789]);

    let mut export = Box::pin(store.export_orders());
    let first = export.try_next().await.unwrap().expect("a first order");
    let later = Timestamp::parse("2031-01-01T00:00:00Z").unwrap();
    store.create_order(&new_order(later, &[456]), "t").await.unwrap();
    store.delete_order(5, None, "t").await.unwrap();
    store
        .update_order(3, &OrderPatch { totalfee: Some(Money::from_cents(1)), ..OrderPatch::default() }, None, "t")
        .await
        .unwrap();
    store.rename_service(123, "Renamed").await.unwrap();
    let rest: Vec<_> = export.try_collect().await.unwrap();

    assert_eq!([vec![first], rest].concat(), before);
}

#[tokio::test]
async fn history_records_every_change_in_order_and_the_feed_pages_by_seq() {
    let db = TestDb::new().await;
    let store = store_with_services(&db).await;
    let order = store.create_order(&new_order(Timestamp::from_millis(0), &[123]), "alice").await.unwrap();
    let patch =
        OrderPatch { totalfee: Some(Money::from_cents(5)), services: Some(vec![456, 789]), ..OrderPatch::default() };
    let updated = store.update_order(order.id, &patch, Some(1), "bob").await.unwrap();
    assert_eq!((updated.version, updated.totalfee), (2, Money::from_cents(5)));
    assert_eq!(updated.services.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["Analysis", "Testing"]);
    store.delete_order(order.id, Some(2), "carol").await.unwrap();

    let history = store.history(order.id).await.unwrap();
    let summary: Vec<_> = history.iter().map(|e| (e.kind, e.actor.as_str(), e.order["version"].as_i64())).collect();
    assert_eq!(
        summary,
        [
            (EventKind::Created, "alice", Some(1)),
            (EventKind::Updated, "bob", Some(2)),
            (EventKind::Deleted, "carol", Some(2))
        ]
    );
    assert_eq!(history[1].order["totalfee"].to_string(), "0.05");
    assert!(history.windows(2).all(|w| w[0].seq < w[1].seq));
    // An event is at the instant of the write it records: the order's own timestamp.
    assert_eq!((history[0].at, history[1].at), (order.updated_at, updated.updated_at));
    assert!(history[2].at >= updated.updated_at);

    let first = store.events(0, 2).await.unwrap();
    let rest = store.events(first[1].seq, 100).await.unwrap();
    assert_eq!((first.len(), rest.len()), (2, 1));
    assert_eq!(rest[0].kind, EventKind::Deleted);
    assert!(matches!(store.history(999).await, Err(Error::NotFound { what: "order", id: 999 })));
}

#[tokio::test]
async fn a_stale_version_is_refused_and_changes_nothing() {
    let db = TestDb::new().await;
    let store = store_with_services(&db).await;
    let order = store.create_order(&new_order(Timestamp::from_millis(0), &[123]), "t").await.unwrap();
    let patch = OrderPatch { totalfee: Some(Money::from_cents(1)), ..OrderPatch::default() };
    let err = store.update_order(order.id, &patch, Some(7), "t").await.unwrap_err();
    assert!(matches!(err, Error::Stale { expected: 7, actual: 1, .. }), "{err:?}");
    let err = store.delete_order(order.id, Some(0), "t").await.unwrap_err();
    assert!(matches!(err, Error::Stale { .. }), "{err:?}");
    assert_eq!(store.get_order(order.id).await.unwrap(), order);
}

#[tokio::test]
async fn once_the_largest_id_is_taken_new_ids_are_the_lowest_never_used() {
    let db = TestDb::new().await;
    let store = store_with_services(&db).await;
    store.add_service(Some(i64::MAX), "Max").await.unwrap();
    assert_eq!(store.add_service(None, "First free").await.unwrap().id, 1);
    assert_eq!(store.add_service(None, "Second free").await.unwrap().id, 2);

    let at = |hours: i64| Timestamp::from_millis(hours * HOUR);
    let mut largest = new_order(at(0), &[123]);
    largest.id = Some(i64::MAX);
    store.create_order(&largest, "t").await.unwrap();
    let first = store.create_order(&new_order(at(3), &[123]), "t").await.unwrap();
    assert_eq!(first.id, 1);
    store.delete_order(1, None, "t").await.unwrap();
    // 1 is in the history: never handed out again.
    assert_eq!(store.create_order(&new_order(at(6), &[123]), "t").await.unwrap().id, 2);
    assert_eq!(store.create_order(&new_order(at(9), &[123]), "t").await.unwrap().id, 3);
}

#[tokio::test]
async fn ids_of_deleted_orders_are_never_reused() {
    let db = TestDb::new().await;
    let store = store_with_orders(&db, 2).await;
    store.delete_order(2, None, "t").await.unwrap();
    let next = store.create_order(&new_order(Timestamp::from_millis(0), &[123]), "t").await.unwrap();
    assert_eq!(next.id, 3);
}

#[tokio::test]
async fn an_import_never_reuses_the_id_of_a_deleted_order() {
    let db = TestDb::new().await;
    let store = store_with_services(&db).await;
    let gone = store.create_order(&new_order(Timestamp::from_millis(0), &[123]), "t").await.unwrap();
    store.delete_order(gone.id, None, "t").await.unwrap();
    let mut reused = new_order(Timestamp::from_millis(30 * HOUR), &[123]);
    reused.id = Some(gone.id);
    let records = vec![(1, Ok(new_order(Timestamp::from_millis(15 * HOUR), &[123]))), (2, Ok(reused))];
    let err = store.import(records, "import").await.unwrap_err();
    assert_eq!(err.record, Some(2));
    assert!(
        matches!(&err.error, Error::Duplicate(message) if message.starts_with("order 1 already exists or existed")),
        "{:?}",
        err.error
    );
    assert_eq!(store.count_orders(&Default::default()).await.unwrap(), 0, "nothing was written");
    let imported =
        store.import(vec![(1, Ok(new_order(Timestamp::from_millis(15 * HOUR), &[123])))], "import").await.unwrap();
    assert_eq!(imported.orders, 1);
    assert_eq!(
        store.get_order(2).await.unwrap().datetime,
        Timestamp::from_millis(15 * HOUR),
        "an id of its own, after the deleted one"
    );
}

#[tokio::test]
async fn unknown_services_are_a_validation_error_naming_them() {
    let db = TestDb::new().await;
    let store = store_with_services(&db).await;
    let err = store.create_order(&new_order(Timestamp::from_millis(0), &[123, 5, 6]), "t").await.unwrap_err();
    assert_eq!(err.to_string(), "invalid input: services: unknown service id 5, 6");
    let order = store.create_order(&new_order(Timestamp::from_millis(0), &[123]), "t").await.unwrap();
    let patch = OrderPatch { services: Some(vec![42]), ..OrderPatch::default() };
    assert!(matches!(store.update_order(order.id, &patch, None, "t").await, Err(Error::Invalid(_))));
}

#[tokio::test]
async fn the_catalogue_keeps_ids_and_names_unique_and_in_use_services_undeletable() {
    let db = TestDb::new().await;
    let store = store_with_services(&db).await;
    store.create_order(&new_order(Timestamp::from_millis(0), &[123]), "t").await.unwrap();
    assert!(matches!(store.add_service(Some(123), "Other").await, Err(Error::Duplicate(_))));
    assert!(matches!(store.add_service(None, "analysis").await, Err(Error::Duplicate(_))));
    assert!(matches!(store.rename_service(456, "TESTING").await, Err(Error::Duplicate(_))));
    assert_eq!(store.rename_service(456, "analysis").await.unwrap().name, "analysis", "its own name in another case");
    assert!(matches!(store.delete_service(123).await, Err(Error::InUse(_))));
    assert!(matches!(store.delete_service(999).await, Err(Error::NotFound { what: "service", .. })));
    assert_eq!(store.delete_service(789).await.unwrap().name, "Testing");
    assert_eq!(store.add_service(None, "Radon").await.unwrap().id, 457);
}

#[tokio::test]
async fn migrating_twice_is_harmless_and_the_store_reopens_with_its_data() {
    let db = TestDb::new().await;
    let store = store_with_orders(&db, 1).await;
    store.migrate().await.unwrap();
    store.close().await;
    let reopened = db.store().await;
    assert_eq!(reopened.count_orders(&OrderFilter::default()).await.unwrap(), 1);
}

/// Import records 3 h apart from 2040-01-01 with ids from 1, as the CLI would pass them.
fn import_records(count: usize) -> Vec<(usize, orders::Result<orders::domain::NewOrder>)> {
    let start = Timestamp::parse("2040-01-01T00:00:00Z").unwrap().millis();
    (1..=count)
        .map(|n| {
            let mut new = new_order(Timestamp::from_millis(start + (n as i64) * 3 * HOUR), &[123]);
            new.id = Some(n as i64);
            (n, Ok(new))
        })
        .collect()
}

#[tokio::test]
async fn an_import_names_the_first_bad_record_across_batches_whatever_kind_of_error_follows() {
    let db = TestDb::new().await;
    let store = store_with_services(&db).await;
    let mut records = import_records(1200);
    // Record 700 is within 3 h of record 100 (another batch); record 701 repeats id 5; record
    // 702 is unparseable. The first bad one, 700, is named, with record 100's order.
    let near_100 = records[99].1.as_ref().unwrap().datetime.unwrap().millis() + HOUR;
    records[699].1.as_mut().unwrap().datetime = Some(Timestamp::from_millis(near_100));
    records[700].1.as_mut().unwrap().id = Some(5);
    records[701].1 = Err(Error::invalid("record", "is not JSON"));
    let err = store.import(records, "import").await.unwrap_err();
    assert_eq!(err.record, Some(700));
    assert!(matches!(err.error, Error::Schedule { conflicting_id: 100, .. }), "{:?}", err.error);
    assert_eq!(store.count_orders(&OrderFilter::default()).await.unwrap(), 0, "nothing was written");
}

#[tokio::test]
async fn an_import_refuses_an_id_repeated_within_the_input_and_writes_nothing() {
    let db = TestDb::new().await;
    let store = store_with_services(&db).await;
    let mut records = import_records(10);
    records[7].1.as_mut().unwrap().id = Some(3);
    let err = store.import(records, "import").await.unwrap_err();
    assert_eq!(
        (err.record, err.error.to_string()),
        (
            Some(8),
            "order 3 already exists or existed (ids are never reused), or an earlier record has its id".to_owned()
        )
    );
    assert_eq!(store.count_orders(&OrderFilter::default()).await.unwrap(), 0);
}

#[tokio::test]
async fn an_import_of_many_batches_writes_every_order_with_its_history() {
    let db = TestDb::new().await;
    let store = store_with_services(&db).await;
    let report = store.import(import_records(1234), "import").await.unwrap();
    assert_eq!((report.orders, report.services), (1234, 0));
    assert_eq!(store.count_orders(&OrderFilter::default()).await.unwrap(), 1234);
    let last = store.get_order(1234).await.unwrap();
    let history = store.history(1234).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].order, serde_json::to_value(&last).unwrap(), "the event holds the order as stored");
    let next = store.create_order(&new_order(Timestamp::from_millis(0), &[123]), "t").await.unwrap();
    assert_eq!(next.id, 1235, "ids continue after the imported ones");
}

#[tokio::test]
async fn an_import_names_the_earliest_bad_record_whether_its_id_is_taken_or_its_time_too_close() {
    let db = TestDb::new().await;
    let store = store_with_orders(&db, 1).await; // order 1 at 2030-01-01T00:00Z
    let stored_at = store.get_order(1).await.unwrap().datetime.millis();
    let at = |hours: i64| Some(Timestamp::from_millis(stored_at + hours * HOUR));
    let record = |id: Option<i64>, datetime| {
        let mut new = new_order(Timestamp::from_millis(0), &[123]);
        (new.id, new.datetime) = (id, datetime);
        new
    };
    let cases = [
        ("a taken id before a time too close", vec![(Some(10), at(100)), (Some(1), at(200)), (None, at(101))], 2),
        ("a time too close before a taken id", vec![(Some(10), at(100)), (None, at(101)), (Some(1), at(200))], 2),
        ("a repeated id that is also too close", vec![(Some(10), at(100)), (Some(10), at(101))], 2),
        ("too close to a stored order", vec![(Some(10), at(1)), (Some(11), at(100))], 1),
    ];
    for (case, records, bad) in cases {
        let records = records.into_iter().enumerate().map(|(i, (id, datetime))| (i + 1, Ok(record(id, datetime))));
        let err = store.import(records, "import").await.unwrap_err();
        assert_eq!(err.record, Some(bad), "{case}: {}", err.error);
        match case {
            "a taken id before a time too close" => {
                assert_eq!(
                    err.error.to_string(),
                    "order 1 already exists or existed (ids are never reused), or an earlier record has its id"
                )
            }
            "a repeated id that is also too close" => {
                assert_eq!(
                    err.error.to_string(),
                    "order 10 already exists or existed (ids are never reused), or an earlier record has its id"
                )
            }
            "a time too close before a taken id" => {
                assert!(matches!(err.error, Error::Schedule { conflicting_id: 10, .. }), "{case}: {:?}", err.error);
            }
            _ => assert!(matches!(err.error, Error::Schedule { conflicting_id: 1, .. }), "{case}: {:?}", err.error),
        }
        assert_eq!(store.count_orders(&OrderFilter::default()).await.unwrap(), 1, "{case}: nothing was written");
    }
    // A record that cannot become an order ends the import, after the ones before it are checked.
    let records = vec![(1, Ok(record(Some(10), at(1)))), (2, Err(Error::invalid("record", "is not JSON")))];
    let err = store.import(records, "import").await.unwrap_err();
    assert_eq!(err.record, Some(1), "the earlier record is too close to order 1: {}", err.error);
}

#[tokio::test]
async fn an_import_records_each_order_as_stored_and_its_events_in_input_order() {
    let db = TestDb::new().await;
    let store = store_with_services(&db).await;
    let start = Timestamp::parse("2040-01-01T00:00:00Z").unwrap().millis();
    let odd = ServiceRef { id: 7, name: Some(r#"Back\slash "quoted" ü"#.to_owned()) };
    let records: Vec<_> = [(Some(5), 0), (Some(3), 1), (Some(9), 99_999_999), (None, 10)]
        .into_iter()
        .enumerate()
        .map(|(i, (id, cents))| {
            let mut new = new_order(Timestamp::from_millis(start + i as i64 * 3 * HOUR + 7), &[123, 456]);
            (new.id, new.totalfee) = (id, Money::from_cents(cents));
            new.services.insert(0, odd.clone()); // in ascending id order, as parsing leaves them
            (i + 1, Ok(new))
        })
        .collect();
    let report = store.import(records, "import").await.unwrap();
    assert_eq!((report.orders, report.services), (4, 1));
    let events = store.events(0, 100).await.unwrap();
    assert_eq!(events.iter().map(|e| e.order_id).collect::<Vec<_>>(), [5, 3, 9, 10], "events follow the input");
    for event in events {
        let stored = store.get_order(event.order_id).await.unwrap();
        assert_eq!(stored.services.iter().map(|s| s.id).collect::<Vec<_>>(), [7, 123, 456]);
        assert_eq!(event.order, serde_json::to_value(&stored).unwrap(), "the event holds the order as stored");
    }
}

#[tokio::test]
async fn reads_and_writes_after_the_database_dropped_every_idle_connection_still_succeed() {
    let db = TestDb::new().await;
    let store = store_with_orders(&db, 1).await;
    let order = store.get_order(1).await.unwrap();
    if db.is_postgres() {
        // A database restart (or an idle timeout) kills the connections the store keeps idle.
        let name = db.url.rsplit('/').next().unwrap().split('?').next().unwrap().to_owned();
        let admin = std::env::var(crate::helpers::PG_ENV).unwrap();
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await.unwrap();
        let killed: Vec<bool> =
            sqlx::query_scalar("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
                .bind(&name)
                .fetch_all(&mut conn)
                .await
                .unwrap();
        assert!(!killed.is_empty(), "the store had idle connections to kill");
    }
    // On SQLite an embedded file's connections cannot be dropped from outside: every call
    // below simply reuses an idle connection.
    assert_eq!(store.list_services().await.unwrap().len(), 3, "pool users get a live connection");
    store.create_order(&new_order(Timestamp::from_millis(0), &[123]), "t").await.expect("so do writes");
    assert_eq!(store.history(1).await.unwrap().len(), 1);
    assert_eq!(store.get_order(1).await.unwrap(), order, "a read retries on another connection");
    assert_eq!(store.count_orders(&OrderFilter::default()).await.unwrap(), 2);
}
