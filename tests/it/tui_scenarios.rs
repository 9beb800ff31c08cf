//! Dashboard scenarios: key sequences through the real key map, update and book tasks against
//! a real temporary store (SQLite, or PostgreSQL when configured), checking the store after each
//! step. Each runs twice: on the store, and in remote mode through a live `serve` on it. No
//! terminal: the screen is rendered on ratatui's `TestBackend`.

use crossterm::event::KeyCode;
use orders::auth::Role;
use orders::book::OrderBook;
use orders::book::local::LocalBook;
use orders::domain::{Money, NewOrder, OrderFilter, OrderPatch, ServiceRef};
use orders::remote::{RemoteBook, Secret, TokenSource};
use orders::store::Store;
use orders::tui::Identity;
use orders::tui::app::{Action, Mode, Tab};
use orders::tui::driver::Driver;
use orders::tui::form::Field;

use crate::api_helpers::{TestApp, server_config, spawn_app_on};
use crate::helpers::{TestDb, at, new_order, store_with_services};

/// Where the dashboard's book is: the store, or a live `serve` on it.
trait Side: OrderBook + Sized {
    /// Whom history names for the dashboard's writes.
    const ACTOR: &'static str;
    /// The book on `store` (over `db`), and what must live as long as it.
    async fn on(db: TestDb, store: Store) -> (Self, Keep);
}

/// The database, or the server that holds it, kept until the test ends.
#[allow(dead_code)] // held only to be dropped last
enum Keep {
    Database(TestDb),
    Server(TestApp),
}

impl Side for LocalBook {
    const ACTOR: &'static str = "tui:test";
    async fn on(db: TestDb, store: Store) -> (Self, Keep) {
        (LocalBook::new(store, Self::ACTOR), Keep::Database(db))
    }
}

impl Side for RemoteBook {
    const ACTOR: &'static str = "tester";
    async fn on(db: TestDb, store: Store) -> (Self, Keep) {
        let app = spawn_app_on(db, store, server_config()).await;
        (remote_book(&app, Role::Admin), Keep::Server(app))
    }
}

/// A book on `app` with a token for `role` (subject `tester`).
fn remote_book(app: &TestApp, role: Role) -> RemoteBook {
    RemoteBook::new(&app.base, TokenSource::fixed(Secret::new(app.token(role)))).expect("a valid URL")
}

/// Each named scenario, as two tests: `locally` on the store and `through_the_api`.
macro_rules! twice {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn locally() {
                super::$name::<orders::book::local::LocalBook>().await;
            }

            #[tokio::test]
            async fn through_the_api() {
                super::$name::<orders::remote::RemoteBook>().await;
            }
        }
    )*};
}

twice!(
    create_runs_into_a_conflict_keeps_the_form_and_saves_once_fixed,
    a_stale_edit_is_refused_and_reload_shows_the_stored_order,
    delete_asks_first_and_removes_only_the_confirmed_order,
    the_filter_narrows_the_table_by_service_date_and_id_and_esc_clears_it,
    jump_sort_and_copy_work_on_the_store,
    paging_through_many_orders_keeps_a_bounded_window_in_sort_order,
    the_services_tab_adds_renames_and_refuses_to_delete_one_in_use,
    a_database_that_stops_answering_shows_in_the_status_bar_and_the_dashboard_keeps_going,
    the_periodic_refresh_shows_others_changes_and_keeps_the_selected_order,
    history_shows_every_change_with_its_actor,
);

/// A dashboard on the sample catalogue and three orders, the store beside it to check.
async fn open<B: Side>() -> (Store, Driver<B>, Keep) {
    let db = TestDb::new().await;
    let store = store_with_services(&db).await;
    for (datetime, service) in
        [("2022-11-01T11:11:11.111Z", 123), ("2022-11-01T14:11:11.111Z", 789), ("2022-11-01T17:11:11.111Z", 456)]
    {
        store.create_order(&new_order(at(datetime), &[service]), "test").await.expect("a sample order");
    }
    let (book, keep) = B::on(db, store.clone()).await;
    let driver = Driver::open(book, false, 100, 30).await;
    (store, driver, keep)
}

fn selected_id<B>(driver: &Driver<B>) -> Option<i64> {
    driver.app.orders.selected().map(|o| o.id)
}

async fn create_runs_into_a_conflict_keeps_the_form_and_saves_once_fixed<B: Side>() {
    let (store, mut tui, _keep) = open::<B>().await;
    tui.press(KeyCode::Char('n')).await;
    tui.type_text("2022-11-01 15:00").await;
    tui.press(KeyCode::Tab).await;
    tui.type_text("50").await;
    tui.press(KeyCode::Tab).await;
    tui.press(KeyCode::Char(' ')).await; // Analysis, first by name
    tui.press(KeyCode::Enter).await;
    let Mode::Form(form) = &tui.app.mode else { panic!("the form stays open:\n{}", tui.screen()) };
    let conflict = form.conflict.clone().expect("a conflict");
    assert!(tui.screen().contains("is within 3h of"), "{}", tui.screen());
    assert_eq!(store.count_orders(&OrderFilter::default()).await.unwrap(), 3);

    tui.ctrl('o').await;
    assert_eq!(selected_id(&tui), Some(conflict.id), "Ctrl-O shows the conflicting order");
    tui.press(KeyCode::Char('n')).await;
    let Mode::Form(form) = &tui.app.mode else { panic!("n brings the form back") };
    assert_eq!((form.datetime.value(), form.fee.value()), ("2022-11-01 15:00", "50"), "nothing typed is lost");

    tui.press(KeyCode::BackTab).await;
    tui.press(KeyCode::BackTab).await;
    tui.ctrl('u').await;
    tui.type_text("2022-11-01 20:11:11.111").await;
    tui.press(KeyCode::Enter).await;
    assert_eq!(tui.app.mode, Mode::Browse, "{}", tui.screen());
    let created = store.get_order(selected_id(&tui).expect("the new order is selected")).await.unwrap();
    assert_eq!(
        (created.datetime, created.totalfee, created.services[0].id),
        (at("2022-11-01T20:11:11.111Z"), Money::from_cents(5000), 456)
    );
    let history = store.history(created.id).await.unwrap();
    assert_eq!(history[0].actor, B::ACTOR);
}

async fn a_stale_edit_is_refused_and_reload_shows_the_stored_order<B: Side>() {
    let (store, mut tui, _keep) = open::<B>().await;
    let id = selected_id(&tui).unwrap();
    tui.press(KeyCode::Char('e')).await;
    tui.press(KeyCode::Tab).await;
    tui.ctrl('u').await;
    tui.type_text("80").await;
    let elsewhere = OrderPatch { totalfee: Some(Money::from_cents(9000)), ..OrderPatch::default() };
    store.update_order(id, &elsewhere, None, "cli:other").await.unwrap();
    tui.press(KeyCode::Enter).await;
    let Mode::Form(form) = &tui.app.mode else { panic!("the form stays open") };
    assert!(form.stale.is_some(), "{}", tui.screen());
    assert_eq!(store.get_order(id).await.unwrap().totalfee, Money::from_cents(9000), "nothing was overwritten");

    tui.ctrl('r').await;
    let Mode::Form(form) = &tui.app.mode else { panic!("the form shows the stored order") };
    // The fee changed on both sides: the stored one shows, and the focus stays on it.
    assert_eq!((form.fee.value(), form.editing.as_ref().map(|o| o.version)), ("90", Some(2)));
    assert_eq!(form.focus, Field::Fee);
    tui.ctrl('u').await;
    tui.type_text("80").await;
    tui.press(KeyCode::Enter).await;
    let saved = store.get_order(id).await.unwrap();
    assert_eq!((saved.totalfee, saved.version), (Money::from_cents(8000), 3));
}

async fn delete_asks_first_and_removes_only_the_confirmed_order<B: Side>() {
    let (store, mut tui, _keep) = open::<B>().await;
    tui.press(KeyCode::Char('j')).await;
    let id = selected_id(&tui).unwrap();
    tui.press(KeyCode::Char('d')).await;
    assert!(tui.screen().contains(&format!("Delete order {id}")), "{}", tui.screen());
    tui.press(KeyCode::Enter).await;
    assert_eq!(store.count_orders(&OrderFilter::default()).await.unwrap(), 3, "Enter alone cancels");
    tui.press(KeyCode::Char('d')).await;
    tui.press(KeyCode::Tab).await;
    tui.press(KeyCode::Enter).await;
    assert!(store.get_order(id).await.is_err());
    assert_eq!(store.count_orders(&OrderFilter::default()).await.unwrap(), 2);
    assert_eq!(tui.app.orders.rows.len(), 2);
    assert!(tui.screen().contains(&format!("deleted order {id}")));
}

async fn the_filter_narrows_the_table_by_service_date_and_id_and_esc_clears_it<B: Side>() {
    let (_store, mut tui, _keep) = open::<B>().await;
    tui.press(KeyCode::Char('/')).await;
    tui.type_text("testing").await;
    tui.press(KeyCode::Enter).await;
    let ids: Vec<i64> = tui.app.orders.rows.iter().map(|o| o.id).collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(tui.app.orders.rows[0].services[0].name, "Testing");
    tui.press(KeyCode::Esc).await;
    assert_eq!(tui.app.orders.rows.len(), 3);
    tui.press(KeyCode::Char('/')).await;
    tui.type_text("from:2022-11-01T12:00:00Z").await;
    tui.press(KeyCode::Enter).await;
    assert_eq!(tui.app.orders.rows.len(), 2);
    tui.press(KeyCode::Char('/')).await;
    tui.ctrl('u').await;
    tui.type_text(&ids[0].to_string()).await;
    tui.press(KeyCode::Enter).await;
    assert_eq!(selected_id(&tui), Some(ids[0]));
    assert_eq!(tui.app.orders.rows.len(), 1);
}

async fn jump_sort_and_copy_work_on_the_store<B: Side>() {
    let (_store, mut tui, _keep) = open::<B>().await;
    let last = tui.app.orders.rows[2].id;
    tui.press(KeyCode::Char(':')).await;
    tui.type_text(&last.to_string()).await;
    tui.press(KeyCode::Enter).await;
    assert_eq!(selected_id(&tui), Some(last));
    tui.press(KeyCode::Char('s')).await; // datetime, latest first: the selection stays
    assert_eq!((selected_id(&tui), tui.app.orders.rows[0].id), (Some(last), last));
    tui.press(KeyCode::Char('y')).await;
    assert_eq!(tui.copied, [last.to_string()]);
    tui.press(KeyCode::Char(':')).await;
    tui.type_text("999999").await;
    tui.press(KeyCode::Enter).await;
    assert!(tui.screen().contains("order 999999 not found"), "{}", tui.screen());
}

async fn paging_through_many_orders_keeps_a_bounded_window_in_sort_order<B: Side>() {
    let db = TestDb::new().await;
    let store = store_with_services(&db).await;
    let count: i64 = if db.is_postgres() { 1200 } else { 1500 };
    let start = at("2020-01-01T00:00:00Z").millis();
    let records = (0..count).map(|i| {
        let datetime = Some(orders::domain::Timestamp::from_millis(start + i * 3 * 3_600_000));
        let services = vec![ServiceRef { id: 123, name: None }];
        (i as usize + 1, Ok(NewOrder { id: Some(i + 1), datetime, totalfee: Money::from_cents(i), services }))
    });
    store.import(records, "import").await.expect("the import");
    let (book, _keep) = B::on(db, store).await;
    let mut tui = Driver::open(book, true, 100, 30).await;
    let height = tui.app.height as i64;
    for _ in 0..60 {
        tui.press(KeyCode::PageDown).await;
        assert!(tui.app.orders.rows.len() <= 1000, "the window stays bounded");
    }
    assert_eq!(selected_id(&tui), Some(1 + 60 * height));
    tui.press(KeyCode::End).await;
    assert_eq!(selected_id(&tui), Some(count));
    tui.press(KeyCode::Char('k')).await;
    assert_eq!(selected_id(&tui), Some(count - 1));
    tui.press(KeyCode::Home).await;
    assert_eq!(selected_id(&tui), Some(1));
    assert_eq!(tui.app.total, Some(count), "the count arrives beside the rows");
}

async fn the_services_tab_adds_renames_and_refuses_to_delete_one_in_use<B: Side>() {
    let (store, mut tui, _keep) = open::<B>().await;
    tui.press(KeyCode::Tab).await;
    assert_eq!(tui.app.tab, Tab::Services);
    tui.press(KeyCode::Char('n')).await;
    tui.type_text("Radon").await;
    tui.press(KeyCode::Enter).await;
    let radon = store.list_services().await.unwrap().into_iter().find(|s| s.name == "Radon").expect("added");
    tui.press(KeyCode::Char('n')).await;
    tui.type_text("radon").await;
    tui.press(KeyCode::Enter).await;
    assert!(matches!(&tui.app.mode, Mode::ServiceName { error: Some(_), .. }), "a duplicate name is refused");
    tui.press(KeyCode::Esc).await;
    tui.press(KeyCode::Home).await; // Analysis, in use by an order
    tui.press(KeyCode::Char('d')).await;
    tui.press(KeyCode::Tab).await;
    tui.press(KeyCode::Enter).await;
    assert!(tui.app.status.as_ref().is_some_and(|s| s.error), "{}", tui.screen());
    assert_eq!(store.list_services().await.unwrap().len(), 4);
    let at_radon = tui.app.services.iter().position(|s| s.id == radon.id).unwrap();
    tui.app.service_selected = at_radon;
    tui.press(KeyCode::Char('e')).await;
    tui.ctrl('u').await;
    tui.type_text("Radon test").await;
    tui.press(KeyCode::Enter).await;
    assert_eq!(store.get_service(radon.id).await.unwrap().name, "Radon test");
}

async fn a_database_that_stops_answering_shows_in_the_status_bar_and_the_dashboard_keeps_going<B: Side>() {
    let (store, mut tui, _keep) = open::<B>().await;
    store.close().await;
    tui.press(KeyCode::Char('r')).await;
    let status = tui.app.status.clone().expect("a status line");
    assert!(status.error, "{status:?}");
    assert_eq!(tui.app.orders.rows.len(), 3, "what was shown stays on screen");
    tui.press(KeyCode::Char('j')).await;
    assert_eq!(tui.app.orders.selected, 1, "keys still work");
    assert!(tui.screen().contains(&status.text), "{}", tui.screen());
}

async fn the_periodic_refresh_shows_others_changes_and_keeps_the_selected_order<B: Side>() {
    let (store, mut tui, _keep) = open::<B>().await;
    tui.press(KeyCode::Char('j')).await;
    let selected = selected_id(&tui).unwrap();
    let earlier = store.create_order(&new_order(at("2022-10-01T00:00:00Z"), &[123]), "cli:other").await.unwrap();
    tui.apply(orders::tui::app::Action::Tick).await;
    assert_eq!(tui.app.orders.rows.first().map(|o| o.id), Some(earlier.id), "the new order shows");
    assert_eq!(selected_id(&tui), Some(selected), "the selection follows its order, not its row");

    store.delete_order(selected, None, "cli:other").await.unwrap();
    tui.apply(orders::tui::app::Action::Tick).await;
    assert_eq!(tui.app.orders.rows.len(), 3);
    assert!(selected_id(&tui).is_some_and(|id| id != selected), "a deleted selection moves to a neighbour");
}

async fn history_shows_every_change_with_its_actor<B: Side>() {
    let (store, mut tui, _keep) = open::<B>().await;
    let id = selected_id(&tui).unwrap();
    let patch = OrderPatch { totalfee: Some(Money::from_cents(12_000)), ..OrderPatch::default() };
    store.update_order(id, &patch, None, "cli:ana").await.unwrap();
    tui.press(KeyCode::Char('h')).await;
    let Mode::History { events: Some(events), .. } = &tui.app.mode else { panic!("the history:\n{}", tui.screen()) };
    assert_eq!(events.len(), 2);
    let screen = tui.screen();
    assert!(screen.contains("created") && screen.contains("updated") && screen.contains("cli:ana"), "{screen}");
    assert!(screen.contains("fee 120"), "{screen}");
}

/// A dashboard through a live `serve` with a token for `role`, told whom the token is for as
/// the command line tells it.
async fn open_remote_as(role: Role) -> (Store, Driver<RemoteBook>, TestApp) {
    let (store, _, Keep::Server(app)) = open::<RemoteBook>().await else { unreachable!("a remote book") };
    let book = remote_book(&app, role);
    let claims = book.identity().await.expect("the token's claims");
    let mut tui = Driver::open(book, false, 100, 30).await;
    tui.apply(Action::SignedIn(Identity { subject: claims.sub, role: claims.role })).await;
    (store, tui, app)
}

#[tokio::test]
async fn a_reader_token_opens_the_dashboard_browse_only() {
    let (store, mut tui, _app) = open_remote_as(Role::Reader).await;
    assert!(tui.screen().contains("signed in as tester (reader): browse-only"), "{}", tui.screen());
    assert_eq!(tui.app.orders.rows.len(), 3, "it browses");
    for key in ['n', 'e', 'd'] {
        tui.press(KeyCode::Char(key)).await;
        assert_eq!(tui.app.mode, Mode::Browse);
    }
    assert_eq!(store.count_orders(&OrderFilter::default()).await.unwrap(), 3);
}

#[tokio::test]
async fn a_writer_token_edits_orders_and_is_told_catalogue_edits_need_admin() {
    let (store, mut tui, _app) = open_remote_as(Role::Writer).await;
    let id = selected_id(&tui).unwrap();
    tui.press(KeyCode::Char('e')).await;
    tui.press(KeyCode::Tab).await;
    tui.ctrl('u').await;
    tui.type_text("70").await;
    tui.press(KeyCode::Enter).await;
    assert_eq!(store.get_order(id).await.unwrap().totalfee, Money::from_cents(7000));
    assert_eq!(store.history(id).await.unwrap()[1].actor, "tester", "the token's subject");
    tui.press(KeyCode::Tab).await;
    tui.press(KeyCode::Char('n')).await;
    assert_eq!(tui.app.mode, Mode::Browse);
    assert!(tui.screen().contains("catalogue edits need admin: tester is a writer"), "{}", tui.screen());
}

#[tokio::test]
async fn an_api_that_goes_away_shows_in_the_status_bar_and_the_dashboard_keeps_going() {
    let (_store, mut tui, app) = open_remote_as(Role::Admin).await;
    let base = app.base.clone();
    let _db = app.stop().await;
    tui.press(KeyCode::Char('r')).await;
    let status = tui.app.status.clone().expect("a status line");
    assert!(status.error && status.text.starts_with(&format!("the API at {base}")), "{status:?}");
    assert_eq!(tui.app.orders.rows.len(), 3, "what was shown stays on screen");
    tui.press(KeyCode::Char('j')).await;
    assert_eq!(tui.app.orders.selected, 1, "keys still work");
    tui.apply(Action::Tick).await;
    assert!(tui.app.status.as_ref().is_some_and(|s| s.error), "the periodic refresh tries again");
}
