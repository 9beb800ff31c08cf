//! Unit tests of the key handling and the update function: no terminal, no store — store
//! results are fed in as the actions the tasks would send.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::{Action, Anchor, App, Effect, Loaded, Mode, handle_key};
use super::fixtures::{app_with, catalogue, order};
use super::form::Field;
use super::identity::Identity;
use super::keys::Command;
use super::text::Zone;
use super::theme::Theme;
use super::update::update;
use crate::Error;
use crate::domain::{Money, Order, Service, Timestamp};

fn press(app: &mut App, code: KeyCode) -> Vec<Effect> {
    key(app, KeyEvent::new(code, KeyModifiers::NONE))
}

fn key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    match handle_key(app, key) {
        Some(action) => update(app, action),
        None => Vec::new(),
    }
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, KeyCode::Char(c));
    }
}

#[test]
fn arrows_pages_and_letters_move_the_selection() {
    let mut app = app_with(30, 80, 24, false);
    press(&mut app, KeyCode::Char('j'));
    press(&mut app, KeyCode::Down);
    assert_eq!(app.orders.selected().map(|o| o.id), Some(225));
    press(&mut app, KeyCode::PageDown);
    assert_eq!(app.orders.selected, 2 + app.height);
    press(&mut app, KeyCode::Char('k'));
    assert_eq!(app.orders.selected, 1 + app.height);
}

#[test]
fn moving_near_the_end_of_a_partial_window_fetches_the_next_page_by_keyset() {
    let mut app = app_with(12, 80, 24, false);
    app.orders.at_end = false;
    let effects = press(&mut app, KeyCode::Char('j'));
    let last = app.orders.rows.last().map(Order::key);
    assert!(matches!(&effects[..], [Effect::Extend { after, .. }] if Some(*after) == last), "{effects:?}");
}

#[test]
fn home_and_end_reload_from_either_end_of_the_sort_without_counting_again() {
    let mut app = app_with(3, 80, 24, false);
    assert!(matches!(&press(&mut app, KeyCode::End)[..], [Effect::Load { anchor: Anchor::End, .. }]));
    assert!(matches!(&press(&mut app, KeyCode::Char('g'))[..], [Effect::Load { anchor: Anchor::Start, .. }]));
    assert_eq!(app.total, Some(3));
}

#[test]
fn a_count_still_on_its_way_when_end_is_pressed_shows_when_it_arrives() {
    let mut app = App::new(false, Zone::Utc, Theme::mono());
    let effects = app.start();
    let Some(Effect::Count { generation, .. }) = effects.iter().find(|e| matches!(e, Effect::Count { .. })).cloned()
    else {
        panic!("the first effects count the orders: {effects:?}");
    };
    update(&mut app, Action::Services(Ok(catalogue())));
    press(&mut app, KeyCode::End);
    update(&mut app, Action::Counted(generation, Ok(1_000_000)));
    assert_eq!(app.total, Some(1_000_000));
    // A count for an older filter is still ignored.
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "testing");
    press(&mut app, KeyCode::Enter);
    update(&mut app, Action::Counted(generation, Ok(7)));
    assert_eq!(app.total, None);
}

#[test]
fn results_of_an_older_reload_are_ignored() {
    let mut app = app_with(3, 80, 24, false);
    let stale = Loaded { rows: vec![order(999, 9)], at_start: true, at_end: true, select: None, fallback: 0 };
    let older = app.generation - 1;
    update(&mut app, Action::Loaded(older, Ok(stale)));
    assert_eq!(app.orders.rows.len(), 3);
}

#[test]
fn the_read_only_dashboard_refuses_to_create_edit_or_delete() {
    let mut app = app_with(3, 80, 24, true);
    for c in ['n', 'e', 'd'] {
        assert!(press(&mut app, KeyCode::Char(c)).is_empty());
        assert_eq!(app.mode, Mode::Browse);
    }
    assert!(app.status.as_ref().is_some_and(|s| s.text.starts_with("read-only")));
}

#[test]
fn a_reader_token_browses_only_and_a_writer_is_told_catalogue_edits_need_admin() {
    let signed_in = |role: &str| {
        let mut app = app_with(3, 80, 24, false);
        update(&mut app, Action::SignedIn(Identity { subject: "alice".to_owned(), role: role.to_owned() }));
        app
    };
    let mut reader = signed_in("reader");
    assert_eq!(reader.status.clone().map(|s| s.text).as_deref(), Some("signed in as alice (reader): browse-only"));
    assert!(reader.read_only && press(&mut reader, KeyCode::Char('e')).is_empty());
    let mut writer = signed_in("writer");
    press(&mut writer, KeyCode::Char('e'));
    assert!(matches!(writer.mode, Mode::Form(_)), "a writer edits orders");
    for code in [KeyCode::Esc, KeyCode::Tab, KeyCode::Char('n')] {
        press(&mut writer, code);
    }
    assert_eq!(writer.mode, Mode::Browse);
    assert_eq!(writer.status.map(|s| s.text).as_deref(), Some("catalogue edits need admin: alice is a writer"));
}

#[test]
fn enter_on_the_delete_confirmation_cancels_unless_delete_was_chosen() {
    let mut app = app_with(3, 80, 24, false);
    press(&mut app, KeyCode::Char('d'));
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    assert_eq!(app.mode, Mode::Browse);
    press(&mut app, KeyCode::Char('d'));
    press(&mut app, KeyCode::Tab);
    assert_eq!(press(&mut app, KeyCode::Enter), vec![Effect::Delete { id: 223, version: 1 }]);
}

#[test]
fn an_invalid_form_asks_nothing_of_the_store_and_keeps_the_text() {
    let mut app = app_with(3, 80, 24, false);
    press(&mut app, KeyCode::Char('n'));
    type_text(&mut app, "next week");
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    let Mode::Form(form) = &app.mode else { panic!("the form stays open") };
    assert_eq!(form.datetime.value(), "next week");
    assert!(form.error(Field::Datetime).is_some() && form.error(Field::Services).is_some());
}

fn filled_form(app: &mut App) -> Vec<Effect> {
    press(app, KeyCode::Char('n'));
    type_text(app, "2022-11-01 15:00");
    press(app, KeyCode::Tab);
    type_text(app, "50");
    press(app, KeyCode::Tab);
    press(app, KeyCode::Char(' '));
    press(app, KeyCode::Enter)
}

#[test]
fn a_conflict_shows_in_the_form_and_ctrl_o_opens_the_order_keeping_the_form() {
    let mut app = app_with(3, 80, 24, false);
    assert!(matches!(&filled_form(&mut app)[..], [Effect::Create(_)]));
    let conflict = Error::Schedule {
        conflicting_id: 224,
        conflicting_datetime: order(224, 1).datetime,
        datetime: Timestamp::parse("2022-11-01T15:00:00Z").unwrap(),
        min_gap: Duration::from_secs(3 * 3600),
    };
    update(&mut app, Action::Saved(Err(conflict)));
    let Mode::Form(form) = &app.mode else { panic!("the form stays open") };
    assert_eq!(form.conflict.as_ref().map(|c| c.id), Some(224));
    assert_eq!(key(&mut app, KeyEvent::new(KeyCode::Char('o'), KeyModifiers::CONTROL)), vec![Effect::Find(224)]);
    assert_eq!(app.mode, Mode::Browse);
    press(&mut app, KeyCode::Char('n'));
    let Mode::Form(form) = &app.mode else { panic!("n brings the form back") };
    assert_eq!((form.datetime.value(), form.fee.value()), ("2022-11-01 15:00", "50"));
}

/// Edits order 223's fee (appends "1"), saves, has the save refused as stale, and presses
/// Ctrl-R: the effects of that key.
fn edit_the_fee_until_stale_then_reload(app: &mut App) -> Vec<Effect> {
    press(app, KeyCode::Char('e'));
    press(app, KeyCode::Tab);
    type_text(app, "1");
    assert!(matches!(&press(app, KeyCode::Enter)[..], [Effect::Update { id: 223, version: 1, .. }]));
    update(app, Action::Saved(Err(Error::Stale { id: 223, expected: 1, actual: 2 })));
    key(app, KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL))
}

#[test]
fn a_stale_save_offers_a_reload_and_never_retries_by_itself() {
    let mut app = app_with(3, 80, 24, false);
    assert_eq!(edit_the_fee_until_stale_then_reload(&mut app), vec![Effect::Reload(223)]);
    let mut changed = order(223, 0);
    changed.version = 2;
    update(&mut app, Action::Reloaded(Ok(changed)));
    let Mode::Form(form) = &app.mode else { panic!("the form shows the stored order") };
    assert_eq!((form.editing.as_ref().map(|o| o.version), form.stale.is_none()), (Some(2), true));
}

#[test]
fn reloading_a_stale_edit_keeps_what_was_typed_on_top_of_the_stored_order() {
    let mut app = app_with(3, 80, 24, false);
    let opened = order(223, 0);
    let (typed_fee, opened_datetime) = (format!("{}1", opened.totalfee), app.zone.format(opened.datetime));
    edit_the_fee_until_stale_then_reload(&mut app);
    // Meanwhile someone else moved the order by a day and left its fee alone.
    let mut changed = order(223, 0);
    changed.version = 2;
    changed.datetime = Timestamp::from_millis(changed.datetime.millis() + 24 * 3_600_000);
    update(&mut app, Action::Reloaded(Ok(changed.clone())));
    let Mode::Form(form) = &app.mode else { panic!("the form shows the stored order") };
    assert_eq!(form.editing.as_ref().map(|o| o.version), Some(2));
    assert_eq!(form.fee.value(), typed_fee, "the typed fee is kept");
    assert_ne!(form.datetime.value(), opened_datetime, "the untouched datetime takes the stored one");
    assert_eq!(form.datetime.value(), app.zone.format(changed.datetime));
    assert!(matches!(&press(&mut app, KeyCode::Enter)[..], [Effect::Update { id: 223, version: 2, .. }]));
}

#[test]
fn a_field_changed_on_both_sides_reloads_as_stored_and_is_named() {
    let opened = order(223, 0);
    let mut form = super::form::Form::edit(&opened, Zone::Utc);
    form.fee = super::text::Input::new("80".to_owned());
    let mut stored = opened.clone();
    stored.version = 2;
    stored.totalfee = Money::from_cents(9_000);
    let (rebased, collided) = form.rebased(&stored, Zone::Utc);
    assert_eq!((rebased.fee.value(), collided), ("90", vec!["fee"]), "a change nobody here saw is not overwritten");
}

#[test]
fn the_filter_reads_ids_dates_and_service_names() {
    let mut app = app_with(3, 80, 24, false);
    let filter = super::prompts::parse_filter(&app, "from:2022-11-01 to:2022-11-02T00:00:00Z test").unwrap();
    assert_eq!(filter.store.service, Some(789));
    assert_eq!(filter.store.from, Some(Timestamp::parse("2022-11-01T00:00:00Z").unwrap()));
    assert_eq!(super::prompts::parse_filter(&app, "224").unwrap().id, Some(224));
    assert!(super::prompts::parse_filter(&app, "plumbing").is_err());
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "analysis");
    let effects = press(&mut app, KeyCode::Enter);
    assert!(matches!(&effects[..], [Effect::Load { filter, .. }, _] if filter.service == Some(456)), "{effects:?}");
}

#[test]
fn sorting_and_refreshing_reload_around_the_selected_order() {
    let mut app = app_with(3, 80, 24, false);
    press(&mut app, KeyCode::Char('j'));
    let effects = press(&mut app, KeyCode::Char('s'));
    assert!(effects.iter().any(|e| matches!(e, Effect::Load { select: Some(224), anchor: Anchor::Around(_), .. })));
    let Some(&Effect::Count { generation: sorted, .. }) = effects.iter().find(|e| matches!(e, Effect::Count { .. }))
    else {
        panic!("a new sort counts the orders: {effects:?}");
    };
    app.busy = 0;
    let effects = update(&mut app, Action::Tick);
    assert!(effects.iter().any(|e| matches!(e, Effect::Load { select: Some(224), .. })));
    assert!(update(&mut app, Action::Tick).is_empty(), "no refresh piles onto one in flight");
    assert!(!effects.iter().any(|e| matches!(e, Effect::Count { .. })), "ticks count only now and then");
    update(&mut app, Action::Counted(sorted, Ok(5)));
    assert_eq!(app.total, Some(5), "a tick that did not count leaves the count asked for before it");
}

#[test]
fn y_copies_the_id_and_shift_y_the_json() {
    let mut app = app_with(3, 80, 24, false);
    assert_eq!(press(&mut app, KeyCode::Char('y')), vec![Effect::Copy("223".to_owned())]);
    let effects = key(&mut app, KeyEvent::new(KeyCode::Char('Y'), KeyModifiers::SHIFT));
    assert!(matches!(&effects[..], [Effect::Copy(json)] if json.contains("\"totalfee\":100")), "{effects:?}");
}

#[test]
fn ctrl_c_quits_from_anywhere_but_q_in_a_text_field_is_typed() {
    let mut app = app_with(3, 80, 24, false);
    press(&mut app, KeyCode::Char('/'));
    press(&mut app, KeyCode::Char('q'));
    assert!(!app.quit && matches!(&app.mode, Mode::Filter(input) if input.value() == "q"));
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('n'));
    press(&mut app, KeyCode::BackTab);
    assert!(matches!(handle_key(&app, KeyEvent::from(KeyCode::Char('q'))), Some(Action::Type(_))), "type-ahead");
    key(&mut app, KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(app.quit);
}

#[test]
fn a_database_error_shows_in_the_status_bar_and_clears_when_it_answers_again() {
    let mut app = app_with(3, 80, 24, false);
    let effects = press(&mut app, KeyCode::Char('r'));
    let generation = app.generation;
    update(&mut app, Action::Loaded(generation, Err(Error::Unavailable("connection refused".into()))));
    assert!(app.status.as_ref().is_some_and(|s| s.error && s.text.contains("database unavailable")));
    assert_eq!(app.orders.rows.len(), 3, "what was shown stays");
    let loaded = Loaded { rows: vec![order(223, 0)], at_start: true, at_end: true, select: Some(223), fallback: 0 };
    update(&mut app, Action::Loaded(generation, Ok(loaded)));
    assert!(app.status.is_none() && !effects.is_empty());
}

#[test]
fn the_services_tab_adds_renames_and_asks_before_deleting() {
    let mut app = app_with(3, 80, 24, false);
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Char('n'));
    type_text(&mut app, "Radon");
    assert_eq!(press(&mut app, KeyCode::Enter), vec![Effect::SaveService { id: None, name: "Radon".to_owned() }]);
    update(&mut app, Action::ServiceSaved(false, Err(Error::Duplicate("service name Radon is taken".to_owned()))));
    assert!(matches!(&app.mode, Mode::ServiceName { error: Some(e), .. } if e.contains("taken")));
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('e'));
    assert!(matches!(&app.mode, Mode::ServiceName { id: Some(456), input, .. } if input.value() == "Analysis"));
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('d'));
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    press(&mut app, KeyCode::Char('d'));
    press(&mut app, KeyCode::Right);
    assert_eq!(press(&mut app, KeyCode::Enter), vec![Effect::DeleteService(456)]);
}

#[test]
fn help_opens_and_closes_with_its_keys() {
    let mut app = app_with(3, 80, 24, false);
    press(&mut app, KeyCode::Char('?'));
    assert_eq!(
        handle_key(&app, KeyEvent::from(KeyCode::Esc)).map(|a| matches!(a, Action::Command(Command::Cancel))),
        Some(true)
    );
    for _ in 0..500 {
        press(&mut app, KeyCode::Down);
    }
    let Mode::Help { scroll } = app.mode else { panic!("help stays open") };
    assert!(scroll < 100, "scrolling stops at the end of the list, not at {scroll}");
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.mode, Mode::Browse);
}

#[test]
fn a_service_just_added_is_selected() {
    let mut app = app_with(3, 80, 24, false);
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Char('n'));
    type_text(&mut app, "Mold");
    press(&mut app, KeyCode::Enter);
    update(&mut app, Action::ServiceSaved(false, Ok(Service { id: 5, name: "Mold".to_owned() })));
    assert_eq!(app.selected_service().map(|s| s.id), Some(5));
}

#[test]
fn a_click_selects_the_row_under_the_mouse_and_the_wheel_scrolls() {
    let mut app = app_with(40, 80, 24, false);
    let row = super::layout::clicked_row(&app, 10, 6);
    assert_eq!(row, Some(3), "rows start under the border and the header");
    assert_eq!(super::layout::clicked_row(&app, 10, 1), None);
    update(&mut app, Action::Click(3));
    assert_eq!(app.orders.selected().map(|o| o.id), Some(226));
    update(&mut app, Action::Scroll(3));
    assert_eq!(app.orders.selected().map(|o| o.id), Some(229));
}

#[test]
fn a_resize_changes_how_many_rows_a_page_moves() {
    let mut app = app_with(100, 80, 24, false);
    let small = app.height;
    update(&mut app, Action::Resize(200, 50));
    assert!(app.height > small);
    press(&mut app, KeyCode::PageDown);
    assert_eq!(app.orders.selected, app.height);
}

#[test]
fn shrinking_the_terminal_keeps_the_selected_row_on_screen() {
    let mut app = app_with(100, 200, 50, false);
    press(&mut app, KeyCode::PageDown);
    update(&mut app, Action::Resize(80, 24));
    let window = &app.orders;
    assert!(window.selected >= window.top && window.selected < window.top + app.height);
}

#[test]
fn a_new_filter_drops_the_old_count_until_the_new_one_arrives() {
    let mut app = app_with(3, 80, 24, false);
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "testing");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.total, None);
    let generation = app.generation;
    update(&mut app, Action::Counted(generation, Ok(1)));
    assert_eq!(app.total, Some(1));
}

#[test]
fn a_saved_edit_shows_in_the_table_before_the_reload_arrives() {
    let mut app = app_with(3, 80, 24, false);
    press(&mut app, KeyCode::Char('e'));
    press(&mut app, KeyCode::Tab);
    type_text(&mut app, "1");
    press(&mut app, KeyCode::Enter);
    let mut stored = order(223, 0);
    (stored.totalfee, stored.version) = (Money::from_cents(100_000), 2);
    let effects = update(&mut app, Action::Saved(Ok(stored.clone())));
    assert_eq!(app.orders.selected(), Some(&stored));
    assert!(matches!(&effects[..], [Effect::Load { select: Some(223), .. }, _]), "{effects:?}");
}
