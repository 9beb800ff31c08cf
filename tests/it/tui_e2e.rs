//! The real binary in a pseudo-terminal (expectrl), its screen read through a terminal emulator
//! (vt100), each test on a local store and again logged in to a live `orders serve`: open a
//! seeded store, create an order through the form, edit it, delete it, quit — checking the store
//! after each step and that the terminal is restored on the way out; a browse-only dashboard
//! (`--read-only`, or a reader's token); and a store that cannot be reached yet, then can.

use orders::domain::{Money, OrderFilter};
use orders::store::Store;

use crate::api_helpers::{Server, refresh_token};
use crate::helpers::TestDb;
use crate::pty::{Tty, orders_command};

/// The dashboard (`orders` with `args`) on `db`, in a terminal of `cols` × `rows`.
fn open(db: &TestDb, args: &[&str], cols: u16, rows: u16) -> Tty {
    Tty::spawn(orders_command(db, args), cols, rows)
}

async fn fees(store: &Store) -> Vec<Money> {
    let orders = store.list_orders(&Default::default()).await.unwrap();
    orders.into_iter().map(|o| o.totalfee).collect()
}

#[tokio::test]
async fn the_dashboard_creates_edits_and_deletes_an_order_in_a_real_terminal_and_restores_it() {
    creates_edits_and_deletes(false).await;
}

#[tokio::test]
async fn logged_in_to_a_live_serve_the_dashboard_creates_edits_and_deletes_an_order_as_the_subject() {
    creates_edits_and_deletes(true).await;
}

/// Opens the dashboard on a seeded database, or with `remote` on a live `orders serve` on it
/// after `orders login` as alice (writer); creates, edits and deletes an order through it.
async fn creates_edits_and_deletes(remote: bool) {
    let db = TestDb::new().await;
    db.cli().arg("seed").assert().success();
    let store = db.store().await;
    let server = remote.then(|| log_in(&db, "alice", "writer"));
    let mut tty = open(&db, &[], 100, 30);
    tty.wait_for("2022-11-01 17:11:11.111");

    tty.send("n");
    tty.wait_for("New order");
    // The picker lists the catalogue once it has loaded (under load, after the form opens).
    tty.wait_for("[ ] Analysis (456)");
    tty.send("2022-11-02 09:00\t42.5\t \r");
    tty.wait_for("created order");
    tty.wait_for("42.50"); // the reload that selects the new order has arrived
    assert_eq!(store.count_orders(&OrderFilter::default()).await.unwrap(), 4);
    assert!(fees(&store).await.contains(&Money::from_cents(4250)));
    let created = store.list_orders(&Default::default()).await.unwrap();
    let created = created.iter().find(|o| o.totalfee == Money::from_cents(4250)).expect("the new order").id;

    tty.send("e");
    tty.wait_for("Edit order");
    tty.send("\t\x1543\r");
    tty.wait_for("saved order");
    tty.wait_for("43.00");
    let fees_now = fees(&store).await;
    assert!(fees_now.contains(&Money::from_cents(4300)) && !fees_now.contains(&Money::from_cents(4250)));

    tty.send("d");
    tty.wait_for("Cancel");
    tty.send("\t\r");
    tty.wait_for("deleted order");
    assert_eq!(store.count_orders(&OrderFilter::default()).await.unwrap(), 3);
    assert!(!fees(&store).await.contains(&Money::from_cents(4300)));

    tty.send("q");
    tty.assert_exited_and_restored();
    let actors: Vec<String> = store.history(created).await.unwrap().into_iter().map(|e| e.actor).collect();
    assert_eq!(actors.len(), 3);
    let by = if server.is_some() { "alice" } else { "tui:" };
    assert!(actors.iter().all(|actor| actor.starts_with(by)), "{actors:?}");
}

#[tokio::test]
async fn a_read_only_dashboard_refuses_writes_copies_by_osc_52_and_ctrl_c_quits_restoring_the_terminal() {
    browses_only(false).await;
}

#[tokio::test]
async fn logged_in_with_a_reader_token_the_dashboard_browses_only_copies_by_osc_52_and_ctrl_c_quits() {
    browses_only(true).await;
}

/// Opens a browse-only dashboard on a seeded database: by `--read-only`, or with `remote`
/// through a live `serve` after `orders login` as bob, a reader. No write gets through, `y`
/// copies by OSC 52, Ctrl-C quits.
async fn browses_only(remote: bool) {
    let db = TestDb::new().await;
    db.cli().arg("seed").assert().success();
    let _server = remote.then(|| log_in(&db, "bob", "reader"));
    let mut tty = open(&db, if remote { &[] } else { &["tui", "--read-only"] }, 80, 24);
    tty.wait_for("[read-only]");
    tty.wait_for("2022-11-01 11:11:11.111"); // the rows have arrived: 223 is selected
    if remote {
        tty.wait_for("signed in as bob (reader): browse-only");
    }
    tty.send("n");
    tty.wait_for("read-only: this dashboard cannot");
    assert_eq!(db.store().await.count_orders(&OrderFilter::default()).await.unwrap(), 3);
    tty.send("y");
    tty.wait_for("copied order 223's id");
    assert!(String::from_utf8_lossy(&tty.raw).contains("\x1b]52;c;MjIz\x07"), "OSC 52 carries base64 of 223");
    tty.send("\x03");
    tty.assert_exited_and_restored();
}

/// Starts `serve` on `db` and logs in to it as `subject` with `role`.
fn log_in(db: &TestDb, subject: &str, role: &str) -> Server {
    let server = Server::start(db);
    let token = refresh_token(db, subject, role);
    db.cli().args(["login", &server.base]).write_stdin(token).assert().success();
    server
}

#[tokio::test]
async fn an_unreachable_database_shows_in_the_status_bar_and_the_dashboard_still_quits_cleanly() {
    let mut db = TestDb::new().await;
    db.url = format!("sqlite://{}/missing/folder/orders.db", db.dir.path().display());
    shows_the_failure_and_quits(&db);
}

#[tokio::test]
async fn an_api_that_cannot_be_reached_shows_in_the_status_bar_and_the_dashboard_still_quits_cleanly() {
    let db = TestDb::new().await;
    let server = log_in(&db, "alice", "writer");
    assert!(server.terminate().success());
    shows_the_failure_and_quits(&db);
}

/// Opens the dashboard on a store it cannot reach: the failure shows, keys still work, `q`
/// quits and restores the terminal.
fn shows_the_failure_and_quits(db: &TestDb) {
    let mut tty = open(db, &[], 100, 30);
    tty.wait_for("trying again · ");
    assert!(tty.contents().contains("working…"), "{}", tty.contents());
    tty.send("j?");
    tty.wait_for("Keys (Esc closes");
    tty.send("\x1b");
    tty.wait_until("closing the help", |screen| !screen.contains("Keys (Esc closes"));
    tty.send("q");
    tty.assert_exited_and_restored();
}

#[tokio::test]
async fn once_the_database_can_be_opened_the_dashboard_connects_by_itself_and_shows_its_orders() {
    let mut db = TestDb::new().await;
    let (staging, later) = (db.dir.path().join("staging"), db.dir.path().join("later"));
    std::fs::create_dir(&staging).unwrap();
    db.url = format!("sqlite://{}/orders.db", staging.display());
    db.cli().arg("seed").assert().success();
    db.url = format!("sqlite://{}/orders.db", later.display());
    let mut tty = open(&db, &[], 100, 30);
    tty.wait_for("trying again · ");
    // The seeded store appears where the dashboard looks, as a volume being mounted would.
    std::fs::rename(&staging, &later).unwrap();
    connects_by_itself(tty);
}

#[tokio::test]
async fn once_the_api_is_back_the_dashboard_connects_by_itself_and_shows_its_orders() {
    let db = TestDb::new().await;
    db.cli().arg("seed").assert().success();
    let server = log_in(&db, "alice", "writer");
    let addr = server.base.trim_start_matches("http://").to_owned();
    assert!(server.terminate().success());
    let mut tty = open(&db, &[], 100, 30);
    tty.wait_for("trying again · ");
    let _server = Server::start_at(&db, &addr);
    connects_by_itself(tty);
}

/// Waits for the seeded orders to replace the failure on the screen, then quits.
fn connects_by_itself(mut tty: Tty) {
    tty.wait_until("the seeded orders, with the failure gone from the status bar", |screen| {
        screen.contains("Orders · 3 orders") && screen.contains("2022-11-01 17:11:11.111") && !screen.contains("trying")
    });
    tty.wait_for("services  123 Inspection"); // the selected order's detail
    tty.send("q");
    tty.assert_exited_and_restored();
}
