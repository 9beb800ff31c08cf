//! Remote mode's book: the same scenarios through `LocalBook` on a store and through
//! `RemoteBook` on a live `serve` give the same results and the same errors; tokens are
//! refreshed before they expire and stored before use; the credentials file is private; an
//! API that goes away is `Unavailable`.

use std::fmt::Debug;
use std::time::Duration;

use futures_util::TryStreamExt as _;
use orders::Error;
use orders::api::{self, AppState};
use orders::auth::{Role, Tokens};
use orders::book::OrderBook;
use orders::book::local::LocalBook;
use orders::domain::{FieldError, Money, NewOrder, Order, OrderFilter, OrderPatch, ServiceRef, SortOrder, Timestamp};
use orders::remote::{self, CredentialsFile, RemoteBook, Secret, Selection, TokenSource};
use orders::store::{OrderQuery, Store};

use crate::api_helpers::{SECRET, TestApp, auth_config, server_config, spawn_app};
use crate::helpers::{TestDb, at, new_order, store_with_services};

/// A remote book on `app` with a fixed token for `role` (subject `tester`).
fn remote(app: &TestApp, role: Role) -> RemoteBook {
    RemoteBook::new(&app.base, TokenSource::fixed(Secret::new(app.token(role)))).expect("a valid URL")
}

/// A local book on a fresh database with the sample catalogue.
async fn local() -> (TestDb, LocalBook) {
    let db = TestDb::new().await;
    let store = store_with_services(&db).await;
    (db, LocalBook::new(store, "cli:tester"))
}

/// An order as compared across books: everything but the store's own timestamps.
fn shown(order: &Order) -> String {
    let services: Vec<String> = order.services.iter().map(|s| format!("{}:{}", s.id, s.name)).collect();
    format!("#{} {} fee {} [{}] v{}", order.id, order.datetime, order.totalfee, services.join(","), order.version)
}

/// An outcome as compared across books: the value shown, or the error exactly (its variant
/// and every field, hence its message and exit code).
fn outcome<T: Debug>(result: Result<T, Error>, show: impl Fn(&T) -> String) -> Result<String, String> {
    result.as_ref().map(show).map_err(|e| format!("{e:?}"))
}

fn order_outcome(result: Result<Order, Error>) -> Result<String, String> {
    outcome(result, shown)
}

fn fee(text: &str) -> Money {
    Money::parse(text).unwrap()
}

/// Every write and read of the book interface, with its outcome.
async fn scenario(book: &impl OrderBook) -> Vec<(&'static str, Result<String, String>)> {
    let mut steps = Vec::new();
    let first = book.create_order(&new_order(at("2022-11-01T10:00:00Z"), &[123])).await;
    steps.push(("create", order_outcome(first)));
    let second = NewOrder { totalfee: fee("99.95"), ..new_order(at("2022-11-01T20:00:00.250Z"), &[456, 123]) };
    steps.push(("create with two services", order_outcome(book.create_order(&second).await)));
    steps.push((
        "create too close",
        order_outcome(book.create_order(&new_order(at("2022-11-01T11:00:00Z"), &[123])).await),
    ));
    steps.push((
        "create with an unknown service",
        order_outcome(book.create_order(&new_order(at("2022-11-03T10:00:00Z"), &[123, 999])).await),
    ));
    let invalid =
        book.invalid(vec![FieldError::new("totalfee", "must not be negative, got -1")], Some(&[123, 998, 999])).await;
    steps.push(("invalid input with unknown services", Err(format!("{invalid:?}"))));

    let fee_only = OrderPatch { totalfee: Some(fee("120")), ..OrderPatch::default() };
    steps.push(("update at its version", order_outcome(book.update_order(1, &fee_only, Some(1)).await)));
    steps.push(("update at a stale version", order_outcome(book.update_order(1, &fee_only, Some(1)).await)));
    let too_close = OrderPatch { datetime: Some(at("2022-11-01T18:00:00Z")), ..OrderPatch::default() };
    steps.push(("update too close", order_outcome(book.update_order(1, &too_close, None).await)));
    let services = OrderPatch { services: Some(vec![456, 789]), ..OrderPatch::default() };
    steps.push(("update services", order_outcome(book.update_order(1, &services, Some(2)).await)));
    steps.push(("empty update", order_outcome(book.update_order(1, &OrderPatch::default(), Some(3)).await)));
    steps.push(("empty update, stale", order_outcome(book.update_order(1, &OrderPatch::default(), Some(2)).await)));
    steps.push(("update a missing order", order_outcome(book.update_order(999, &fee_only, None).await)));
    steps.push(("get", order_outcome(book.get_order(2).await)));
    steps.push(("get a missing order", order_outcome(book.get_order(999).await)));

    let with_456 = OrderFilter { service: Some(456), ..OrderFilter::default() };
    steps.push(("count by service", outcome(book.count_orders(&with_456).await, ToString::to_string)));
    let from =
        OrderFilter { from: Some(at("2022-11-01T15:00:00Z")), to: Some(at("2022-11-02T00:00:00Z")), service: None };
    steps.push(("count by range", outcome(book.count_orders(&from).await, ToString::to_string)));

    steps.push(("delete at a stale version", outcome(book.delete_order(2, Some(7)).await, |()| "deleted".to_owned())));
    steps.push(("delete", outcome(book.delete_order(2, Some(1)).await, |()| "deleted".to_owned())));
    steps.push(("delete again", outcome(book.delete_order(2, None).await, |()| "deleted".to_owned())));
    steps.push(("delete without a version", outcome(book.delete_order(1, None).await, |()| "deleted".to_owned())));
    let events = |events: &Vec<orders::domain::Event>| {
        let shown: Vec<String> = events
            .iter()
            .map(|e| format!("{} {} v{} fee {}", e.order_id, e.kind.as_str(), e.order["version"], e.order["totalfee"]))
            .collect();
        shown.join("; ")
    };
    steps.push(("history", outcome(book.history(1).await, events)));
    steps.push(("history of a deleted order", outcome(book.history(2).await, events)));
    steps.push(("history of an order that never was", outcome(book.history(999).await, events)));

    let service = |s: &orders::domain::Service| format!("{} {}", s.id, s.name);
    steps.push(("add a service", outcome(book.add_service(None, " Radon ").await, service)));
    steps.push(("add a service with an id", outcome(book.add_service(Some(900), "Mold").await, service)));
    steps.push(("add a taken name", outcome(book.add_service(None, "radon").await, service)));
    steps.push(("add a taken id", outcome(book.add_service(Some(123), "Other").await, service)));
    steps.push(("rename", outcome(book.rename_service(456, "Lab analysis").await, service)));
    steps.push(("rename to a taken name", outcome(book.rename_service(456, "MOLD").await, service)));
    steps.push(("rename a missing service", outcome(book.rename_service(5, "X").await, service)));
    book.create_order(&new_order(at("2022-12-01T10:00:00Z"), &[789])).await.expect("an order using 789");
    steps.push(("delete a service in use", outcome(book.delete_service(789).await, service)));
    steps.push(("delete a service", outcome(book.delete_service(900).await, service)));
    steps.push(("delete a missing service", outcome(book.delete_service(900).await, service)));
    steps.push(("get a missing service", outcome(book.get_service(900).await, service)));
    let catalogue = |all: &Vec<orders::domain::Service>| all.iter().map(service).collect::<Vec<_>>().join(", ");
    steps.push(("the catalogue", outcome(book.list_services().await, catalogue)));
    steps
}

#[tokio::test]
async fn every_operation_gives_the_same_result_or_error_remotely_as_locally() {
    let (_db, local) = local().await;
    let app = spawn_app().await;
    let expected = scenario(&local).await;
    let got = scenario(&remote(&app, Role::Admin)).await;
    for ((step, local), (_, remote)) in expected.iter().zip(&got) {
        assert_eq!(remote, local, "{step}");
    }
    assert_eq!(got.len(), expected.len());
    // The scenario does meet the errors it is about.
    let errors: Vec<&str> = expected
        .iter()
        .filter_map(|(_, o)| o.as_ref().err())
        .map(|e| e.split([' ', '(', '{']).next().unwrap())
        .collect();
    for variant in ["Schedule", "Invalid", "Stale", "NotFound", "Duplicate", "InUse"] {
        assert!(errors.contains(&variant), "no {variant} among {errors:?}");
    }
}

#[tokio::test]
async fn history_names_the_token_subject_as_the_actor_of_remote_writes() {
    let app = spawn_app().await;
    let book = remote(&app, Role::Writer);
    let order = book.create_order(&new_order(at("2022-11-01T10:00:00Z"), &[123])).await.unwrap();
    book.update_order(order.id, &OrderPatch { totalfee: Some(fee("5")), ..OrderPatch::default() }, None).await.unwrap();
    let actors: Vec<String> = book.history(order.id).await.unwrap().into_iter().map(|e| e.actor).collect();
    assert_eq!(actors, ["tester", "tester"]);
}

/// 2,500 orders whose datetimes run in another order than their ids, with three services.
async fn many_orders(store: &Store) {
    let start = at("2020-01-01T00:00:00Z").millis();
    let records = (1..=2500_i64).map(|id| {
        let slot = (id * 7919) % 2500;
        let new = NewOrder {
            id: Some(id),
            datetime: Some(Timestamp::from_millis(start + slot * 4 * 3_600_000)),
            totalfee: Money::from_cents(id),
            services: vec![ServiceRef { id: [123, 456, 789][(id % 3) as usize], name: None }],
        };
        (id as usize, Ok(new))
    });
    store.import(records, "import").await.expect("the orders import");
}

/// Every order `query` selects, page by page of `size` through `after`.
async fn paged(book: &impl OrderBook, query: &OrderQuery, size: u32) -> Vec<i64> {
    let (mut ids, mut after) = (Vec::new(), None);
    loop {
        let page = book.list_orders(&OrderQuery { after, limit: Some(size), ..query.clone() }).await.unwrap();
        assert!(page.len() <= size as usize);
        let Some(last) = page.last() else { return ids };
        after = Some(last.key());
        ids.extend(page.iter().map(|o| o.id));
    }
}

#[tokio::test]
async fn keyset_pages_and_streams_agree_with_the_store_in_every_sort_and_filter() {
    let app = spawn_app().await;
    many_orders(&app.store).await;
    let (local, remote) = (LocalBook::new(app.store.clone(), "cli:tester"), remote(&app, Role::Reader));
    let filters = [
        OrderFilter::default(),
        OrderFilter { service: Some(456), ..OrderFilter::default() },
        OrderFilter {
            from: Some(at("2020-03-01T00:00:00Z")),
            to: Some(at("2020-06-01T00:00:00.001Z")),
            service: Some(789),
        },
    ];
    for sort in [SortOrder::DatetimeAsc, SortOrder::DatetimeDesc, SortOrder::IdAsc, SortOrder::IdDesc] {
        for filter in &filters {
            let query = OrderQuery { filter: filter.clone(), sort, ..OrderQuery::default() };
            let everything: Vec<Order> = local.stream_orders(query.clone()).try_collect().await.unwrap();
            let expected: Vec<i64> = everything.iter().map(|o| o.id).collect();
            assert!(expected.len() > 20, "{sort:?} {filter:?}: a scenario worth paging");
            let streamed: Vec<Order> = remote.stream_orders(query.clone()).try_collect().await.unwrap();
            assert_eq!(streamed, everything, "{sort:?} {filter:?}: the remote stream, orders whole");
            assert_eq!(paged(&remote, &query, 97).await, expected, "{sort:?} {filter:?}: remote pages");
            assert_eq!(paged(&local, &query, 97).await, expected, "{sort:?} {filter:?}: local pages");
            let limited = OrderQuery { limit: Some(1500), ..query.clone() };
            let ids: Vec<i64> = remote.list_orders(&limited).await.unwrap().iter().map(|o| o.id).collect();
            assert_eq!(ids, expected[..expected.len().min(1500)], "{sort:?} {filter:?}: a limit past one request");
            assert_eq!(remote.count_orders(filter).await.unwrap(), expected.len() as i64);
        }
    }
}

#[tokio::test]
async fn a_reader_token_cannot_write_and_a_writer_cannot_edit_the_catalogue() {
    let app = spawn_app().await;
    let reader = remote(&app, Role::Reader);
    let identity = reader.identity().await.unwrap();
    assert_eq!((identity.sub.as_str(), identity.role.as_str()), ("tester", "reader"), "the dashboard can tell");
    assert_eq!(reader.list_services().await.unwrap().len(), 3, "a reader reads");
    let refused = reader.create_order(&new_order(at("2022-11-01T10:00:00Z"), &[123])).await.unwrap_err();
    assert!(
        matches!(&refused, Error::Forbidden(why) if why == "role reader may not do this: it needs writer"),
        "{refused:?}"
    );
    let refused = remote(&app, Role::Writer).add_service(None, "Radon").await.unwrap_err();
    assert!(matches!(&refused, Error::Forbidden(why) if why.ends_with("needs admin")), "{refused:?}");
    let anonymous = RemoteBook::new(&app.base, TokenSource::fixed(Secret::new("not-a-token"))).unwrap();
    assert!(matches!(anonymous.get_order(1).await, Err(Error::Unauthorized(_))));
}

/// A server over `store` whose access tokens live `access_ttl`.
async fn serve_with_ttl(store: Store, access_ttl: Duration) -> (String, Tokens, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (base, tokens, stop, _task) = serve_on(listener, store, SECRET, access_ttl);
    (base, tokens, stop)
}

/// A server on `listener` over `store`, signing with `secret`.
fn serve_on(
    listener: tokio::net::TcpListener,
    store: Store,
    secret: &str,
    access_ttl: Duration,
) -> (String, Tokens, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let base = format!("http://{}", listener.local_addr().unwrap());
    let tokens = Tokens::new(secret.as_bytes(), &orders::config::AuthConfig { access_ttl, ..auth_config() }).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let state = AppState::new(store, tokens.clone(), server_config());
    let task = tokio::spawn(api::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    (base, tokens, stop, task)
}

/// A refresh token for `subject` as `role`, as `orders token issue --refresh` mints it.
async fn refresh_token(tokens: &Tokens, store: &Store, subject: &str, role: Role) -> Secret {
    let issued = tokens.issue(store, subject, role, None, true).await.unwrap();
    Secret::new(issued.refresh_token.unwrap())
}

fn stored_token(file: &CredentialsFile) -> String {
    file.load().unwrap().expect("a login").refresh_token.expose().to_owned()
}

#[tokio::test]
async fn a_login_is_kept_private_and_refreshed_before_its_access_token_expires() {
    let db = TestDb::new().await;
    let store = store_with_services(&db).await;
    let (base, tokens, _stop) = serve_with_ttl(store.clone(), Duration::from_secs(4)).await;
    let file = CredentialsFile::at(db.dir.path().join("config/orders/credentials.toml"));
    let minted = refresh_token(&tokens, &store, "alice", Role::Writer).await;

    let who = remote::login(&file, &format!("{base}/"), &minted).await.unwrap();
    assert_eq!((who.api.as_str(), who.subject.as_str(), who.role.as_str()), (base.as_str(), "alice", "writer"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(file.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the credentials file is private");
    }
    let leftovers: Vec<_> = std::fs::read_dir(file.path().parent().unwrap()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left beside it");
    let after_login = stored_token(&file);
    assert_ne!(after_login, minted.expose(), "the rotated token is stored, not the spent one");

    let book = remote::open(Selection::default(), &file).unwrap().expect("a stored login means remote mode");
    let order = book.create_order(&new_order(at("2022-11-01T10:00:00Z"), &[123])).await.unwrap();
    let first_session = stored_token(&file);
    assert_ne!(first_session, after_login, "the first request refreshed, and stored the next token first");
    let shown = format!("{book:?} {:?} {who:?}", file.load().unwrap());
    for secret in [minted.expose(), &after_login, &first_session] {
        assert!(!shown.contains(secret), "Debug shows no token: {shown}");
    }

    // Three of its four seconds later the access token is still valid, but due for renewal.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    book.update_order(order.id, &OrderPatch { totalfee: Some(fee("7")), ..OrderPatch::default() }, Some(1))
        .await
        .unwrap();
    assert_ne!(stored_token(&file), first_session, "renewed before it expired");
    let actors: Vec<String> = book.history(order.id).await.unwrap().into_iter().map(|e| e.actor).collect();
    assert_eq!(actors, ["alice", "alice"]);

    // A new session (say, after a crash) continues from what the file holds.
    let again = remote::open(Selection::default(), &file).unwrap().unwrap();
    assert_eq!(again.get_order(order.id).await.unwrap().version, 2);
    assert!(remote::logout(&file).unwrap());
    assert!(remote::open(Selection::default(), &file).unwrap().is_none(), "logged out: local mode");
}

#[tokio::test]
async fn concurrent_first_requests_share_one_refresh() {
    let db = TestDb::new().await;
    let store = store_with_services(&db).await;
    let (base, tokens, _stop) = serve_with_ttl(store.clone(), Duration::from_secs(900)).await;
    let file = CredentialsFile::at(db.dir.path().join("credentials.toml"));
    remote::login(&file, &base, &refresh_token(&tokens, &store, "bob", Role::Reader).await).await.unwrap();
    let book = remote::open(Selection::default(), &file).unwrap().unwrap();
    let calls: Vec<_> = (0..8)
        .map(|_| {
            tokio::spawn({
                let book = book.clone();
                async move { book.list_services().await }
            })
        })
        .collect();
    for call in calls {
        // Two refreshes with one token would be a reuse, which revokes the login.
        assert_eq!(call.await.unwrap().unwrap().len(), 3);
    }
}

#[tokio::test]
async fn a_used_refresh_token_asks_the_user_to_log_in_again() {
    let db = TestDb::new().await;
    let store = store_with_services(&db).await;
    let (base, tokens, _stop) = serve_with_ttl(store.clone(), Duration::from_secs(900)).await;
    let file = CredentialsFile::at(db.dir.path().join("credentials.toml"));
    let minted = refresh_token(&tokens, &store, "carol", Role::Writer).await;
    remote::login(&file, &base, &minted).await.unwrap();

    let reused = remote::login(&file, &base, &minted).await.unwrap_err();
    let expected = format!("log in again with `orders login {base}`");
    assert!(matches!(&reused, Error::Unauthorized(why) if why.ends_with(&expected)), "{reused:?}");
    // Reuse revoked the whole family: the stored login is spent too.
    let book = remote::open(Selection::default(), &file).unwrap().unwrap();
    let refused = book.list_services().await.unwrap_err();
    assert!(matches!(&refused, Error::Unauthorized(why) if why.ends_with(&expected)), "{refused:?}");
    assert!(!refused.to_string().contains(minted.expose()));
}

#[tokio::test]
async fn an_api_that_goes_away_mid_session_is_unavailable_naming_its_url() {
    let app = spawn_app().await;
    let book = remote(&app, Role::Writer);
    let order = book.create_order(&new_order(at("2022-11-01T10:00:00Z"), &[123])).await.unwrap();
    let base = app.base.clone();
    let _db = app.stop().await;
    let failed = book.get_order(order.id).await.unwrap_err();
    assert!(matches!(&failed, Error::Unavailable(why) if why.to_string().contains(&base)), "{failed:?}");
    let streamed: Result<Vec<Order>, Error> = book.stream_orders(OrderQuery::default()).try_collect().await;
    assert!(matches!(streamed, Err(Error::Unavailable(_))));
}

#[tokio::test]
async fn a_long_history_is_read_whole_through_its_next_links() {
    let app = spawn_app().await;
    let order = app.store.create_order(&new_order(at("2022-11-01T10:00:00Z"), &[123]), "cli:tester").await.unwrap();
    for cents in 1..=1000 {
        let patch = OrderPatch { totalfee: Some(Money::from_cents(cents)), ..OrderPatch::default() };
        app.store.update_order(order.id, &patch, None, "cli:tester").await.unwrap();
    }
    let local = LocalBook::new(app.store.clone(), "cli:tester").history(order.id).await.unwrap();
    assert_eq!(local.len(), 1001, "more than one page of the API's largest");
    assert_eq!(remote(&app, Role::Reader).history(order.id).await.unwrap(), local);
}

#[tokio::test]
async fn an_access_token_the_server_no_longer_accepts_is_refreshed_once_and_the_request_retried() {
    let db = TestDb::new().await;
    let store = store_with_services(&db).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (base, tokens, stop, task) = serve_on(listener, store.clone(), SECRET, Duration::from_secs(900));
    let file = CredentialsFile::at(db.dir.path().join("credentials.toml"));
    remote::login(&file, &base, &refresh_token(&tokens, &store, "dave", Role::Reader).await).await.unwrap();
    let book = remote::open(Selection::default(), &file).unwrap().unwrap();
    assert_eq!(book.list_services().await.unwrap().len(), 3);
    let before = stored_token(&file);

    // The server restarts with another secret: the access token in hand is refused (401),
    // the refresh token (kept in the database) still works.
    stop.send(()).unwrap();
    task.await.unwrap();
    let listener = tokio::net::TcpListener::bind(addr).await.expect("the same port again");
    let rotated = "another-test-secret-that-is-long-enough-987654321";
    let _server = serve_on(listener, store, rotated, Duration::from_secs(900));
    assert_eq!(book.list_services().await.unwrap().len(), 3, "refreshed and retried");
    assert_ne!(stored_token(&file), before);
}
