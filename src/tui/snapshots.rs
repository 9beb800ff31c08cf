//! Render snapshots on ratatui's `TestBackend` at 80×24 and 120×40: the table with its detail
//! pane, the form with an error, a conflict and a stale edit, the delete confirmation, help,
//! history, the services tab and the empty store.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::app::{Action, App, handle_key};
use super::fixtures::{app_with, order};
use super::ui::draw;
use super::update::update;
use crate::Error;
use crate::domain::{Event, EventKind, Timestamp};

const SIZES: [(u16, u16); 2] = [(80, 24), (120, 40)];

fn render(app: &App) -> String {
    let (width, height) = app.size;
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| draw(frame, app)).unwrap();
    terminal.backend().to_string()
}

fn keys(app: &mut App, keys: &[KeyCode]) {
    for &code in keys {
        if let Some(action) = handle_key(app, KeyEvent::new(code, KeyModifiers::NONE)) {
            update(app, action);
        }
    }
}

fn text(app: &mut App, text: &str) {
    keys(app, &text.chars().map(KeyCode::Char).collect::<Vec<_>>());
}

fn snapshot(name: &str, prepare: impl Fn(&mut App)) {
    for (width, height) in SIZES {
        let mut app = app_with(40, width, height, false);
        prepare(&mut app);
        app.busy = 0;
        insta::assert_snapshot!(format!("{name}_{width}x{height}"), render(&app));
    }
}

#[test]
fn the_table_shows_the_visible_rows_and_the_selection_detail() {
    snapshot("table", |app| keys(app, &[KeyCode::Down, KeyCode::Down]));
}

#[test]
fn the_form_shows_each_error_beside_its_field() {
    snapshot("form_error", |app| {
        keys(app, &[KeyCode::Char('n')]);
        text(app, "tomorrow");
        keys(app, &[KeyCode::Tab]);
        text(app, "12.345");
        keys(app, &[KeyCode::Enter]);
    });
}

#[test]
fn a_conflict_names_the_order_and_the_key_to_open_it() {
    snapshot("form_conflict", |app| {
        keys(app, &[KeyCode::Char('n')]);
        text(app, "2022-11-01 15:00");
        keys(app, &[KeyCode::Tab]);
        text(app, "50");
        keys(app, &[KeyCode::Tab, KeyCode::Char(' '), KeyCode::Enter]);
        let conflict = Error::Schedule {
            conflicting_id: 224,
            conflicting_datetime: order(224, 1).datetime,
            datetime: Timestamp::parse("2022-11-01T15:00:00Z").unwrap(),
            min_gap: Duration::from_secs(3 * 3600),
        };
        update(app, Action::Saved(Err(conflict)));
    });
}

#[test]
fn a_stale_edit_says_so_and_offers_a_reload() {
    snapshot("form_stale", |app| {
        keys(app, &[KeyCode::Char('e'), KeyCode::Tab]);
        text(app, "0");
        keys(app, &[KeyCode::Enter]);
        update(app, Action::Saved(Err(Error::Stale { id: 223, expected: 1, actual: 2 })));
    });
}

#[test]
fn the_delete_confirmation_names_the_order_with_cancel_focused() {
    snapshot("confirm_delete", |app| keys(app, &[KeyCode::Down, KeyCode::Char('d')]));
}

#[test]
fn help_lists_the_key_map() {
    snapshot("help", |app| keys(app, &[KeyCode::Char('?')]));
}

#[test]
fn the_services_tab_lists_the_catalogue() {
    snapshot("services", |app| keys(app, &[KeyCode::Tab, KeyCode::Down]));
}

#[test]
fn history_lists_each_change_with_its_actor() {
    snapshot("history", |app| {
        keys(app, &[KeyCode::Char('h')]);
        let mut events = Vec::new();
        for (seq, kind, fee) in [(1, EventKind::Created, 100), (7, EventKind::Updated, 120)] {
            let mut order = order(223, 0);
            order.totalfee = crate::domain::Money::from_cents(fee * 100);
            let at = Timestamp::parse("2022-10-02T08:00:00Z").unwrap();
            let order = serde_json::to_value(&order).unwrap();
            events.push(Event { seq, order_id: 223, kind, actor: "tui:ana".to_owned(), at, order });
        }
        update(app, Action::History(223, Ok(events)));
    });
}

#[test]
fn an_empty_store_says_how_to_begin() {
    for (width, height) in SIZES {
        let mut app = app_with(0, width, height, false);
        app.busy = 0;
        insta::assert_snapshot!(format!("empty_{width}x{height}"), render(&app));
    }
}

#[test]
fn the_largest_fee_and_id_show_whole_in_the_table() {
    use super::app::Loaded;
    use crate::domain::Money;
    let mut app = app_with(0, 80, 24, false);
    let mut big = order(i64::MAX, 0);
    big.totalfee = Money::from_cents(100_000_000_000);
    let generation = app.generation;
    let loaded = Loaded { rows: vec![big], at_start: true, at_end: true, select: None, fallback: 0 };
    update(&mut app, Action::Loaded(generation, Ok(loaded)));
    let screen = render(&app);
    let row = screen.lines().find(|line| line.contains("9223372036854775807")).unwrap_or_else(|| panic!("{screen}"));
    assert!(row.contains(" 1000000000.00 "), "{row}");
}

#[test]
fn the_filter_prompt_and_read_only_marker_show_in_the_bars() {
    let mut app = app_with(40, 80, 24, true);
    keys(&mut app, &[KeyCode::Char('/')]);
    text(&mut app, "from:2022-11-02 testing");
    app.busy = 0;
    insta::assert_snapshot!("filter_read_only_80x24", render(&app));
}

#[test]
fn a_filter_the_dashboard_cannot_read_is_refused_beside_the_prompt() {
    let mut app = app_with(40, 80, 24, false);
    keys(&mut app, &[KeyCode::Char('/')]);
    text(&mut app, "plumbing");
    keys(&mut app, &[KeyCode::Enter]);
    app.busy = 0;
    insta::assert_snapshot!("filter_refused_80x24", render(&app));
}

#[test]
fn every_screen_draws_on_a_tiny_terminal_without_panicking() {
    let screens: [&[KeyCode]; 7] = [
        &[],
        &[KeyCode::Char('n'), KeyCode::Enter],
        &[KeyCode::Char('d')],
        &[KeyCode::Char('?')],
        &[KeyCode::Char('/')],
        &[KeyCode::Tab, KeyCode::Char('n')],
        &[KeyCode::Char('h')],
    ];
    for (width, height) in [(1, 1), (12, 5), (30, 8)] {
        for keys_pressed in screens {
            let mut app = app_with(5, width, height, false);
            keys(&mut app, keys_pressed);
            let screen = render(&app);
            assert_eq!(screen.lines().count(), usize::from(height), "{keys_pressed:?} at {width}x{height}");
        }
    }
}
