//! Applying actions to the state: the one place the dashboard changes. Each action returns the
//! effects (store calls, clipboard) it needs; results come back later as actions too.

use super::app::{Action, Anchor, App, Effect, Loaded, Mode, Status, Tab};
use super::form::Form;
use super::keys::Command;
use super::window::Direction;
use crate::Error;
use crate::domain::SortOrder;

/// Applies one action; returns the effects to carry out.
pub fn update(app: &mut App, action: Action) -> Vec<Effect> {
    let effects = match action {
        Action::Command(command) => command_effects(app, command),
        Action::Type(key) => super::prompts::type_key(app, key),
        Action::Scroll(rows) if app.mode == Mode::Browse => move_by(app, rows),
        Action::Click(row) if app.mode == Mode::Browse => click(app, row),
        Action::Scroll(_) | Action::Click(_) => Vec::new(),
        Action::Resize(width, height) => {
            app.size = (width, height);
            app.height = super::ui::table_rows(width, height);
            move_by(app, 0) // keeps the selection on the smaller screen
        }
        Action::Tick => tick(app),
        Action::Unavailable(error) => {
            let again = if matches!(error, Error::Unavailable(_) | Error::Busy(_) | Error::Internal(_)) {
                " (trying again)"
            } else {
                ""
            };
            app.status = Some(Status { text: format!("{error}{again}"), error: true });
            Vec::new()
        }
        result => return super::results::apply(app, result),
    };
    app.busy += effects.iter().filter(|e| !matches!(e, Effect::Copy(_))).count();
    effects
}

fn command_effects(app: &mut App, command: Command) -> Vec<Effect> {
    if command == Command::Quit {
        app.quit = true;
        return Vec::new();
    }
    match &app.mode {
        Mode::Browse => browse(app, command),
        Mode::Help { .. } | Mode::History { .. } => overlay(app, command),
        Mode::Form(_) => super::prompts::form_command(app, command),
        _ => super::prompts::prompt_command(app, command),
    }
}

fn browse(app: &mut App, command: Command) -> Vec<Effect> {
    if app.status.as_ref().is_some_and(|s| !s.error) {
        app.status = None; // an informational message has been seen once the user acts
    }
    let page = isize::try_from(app.height.max(1)).unwrap_or(10);
    match command {
        Command::Help => app.mode = Mode::Help { scroll: 0 },
        Command::SwitchTab => {
            app.tab = if app.tab == Tab::Orders { Tab::Services } else { Tab::Orders };
            return vec![Effect::LoadServices];
        }
        Command::Down => return move_by(app, 1),
        Command::Up => return move_by(app, -1),
        Command::PageDown => return move_by(app, page),
        Command::PageUp => return move_by(app, -page),
        Command::Home if app.tab == Tab::Orders => return app.reload_rows(Anchor::Start, None),
        Command::End if app.tab == Tab::Orders => return app.reload_rows(Anchor::End, None),
        Command::Home => app.service_selected = 0,
        Command::End => app.service_selected = app.services.len().saturating_sub(1),
        Command::Refresh => return refresh(app),
        Command::Sort => {
            app.sort = next_sort(app.sort);
            app.status = Some(info(format!("sorted by {}", sort_label(app.sort))));
            return refresh(app);
        }
        Command::ClearFilter if !app.filter.text.is_empty() => {
            app.filter = Default::default();
            app.total = None;
            app.status = Some(info("filter cleared"));
            return refresh(app);
        }
        Command::Filter => app.mode = Mode::Filter(super::text::Input::new(app.filter.text.clone())),
        Command::Jump => app.mode = Mode::Jump(Default::default()),
        Command::History => {
            if let Some(order) = app.orders.selected() {
                let order_id = order.id;
                app.mode = Mode::History { order_id, events: None, scroll: 0 };
                return vec![Effect::History(order_id)];
            }
        }
        Command::CopyId | Command::CopyJson => return copy(app, command == Command::CopyJson),
        Command::New | Command::Edit | Command::Delete => return super::prompts::open_write(app, command),
        _ => {}
    }
    Vec::new()
}

fn overlay(app: &mut App, command: Command) -> Vec<Effect> {
    // Lines past the first screen: the help's headings and blank lines, two per history event.
    let lines = match &app.mode {
        Mode::Help { .. } => super::keys::help_lines(app.read_only).len() + 16,
        Mode::History { events, .. } => events.as_ref().map_or(0, |e| e.len() * 2 + 1),
        _ => 0,
    };
    let last = u16::try_from(lines.saturating_sub(app.height)).unwrap_or(u16::MAX);
    match (&mut app.mode, command) {
        (Mode::Help { scroll } | Mode::History { scroll, .. }, Command::Down) => *scroll = (*scroll + 1).min(last),
        (Mode::Help { scroll } | Mode::History { scroll, .. }, Command::Up) => *scroll = scroll.saturating_sub(1),
        (_, Command::Cancel) => app.mode = Mode::Browse,
        _ => {}
    }
    Vec::new()
}

/// Moves the selection of the current tab.
pub fn move_by(app: &mut App, rows: isize) -> Vec<Effect> {
    if app.tab == Tab::Services {
        let last = app.services.len().saturating_sub(1);
        app.service_selected = app.service_selected.saturating_add_signed(rows).min(last);
        return Vec::new();
    }
    let height = app.height;
    let wanted = app.orders.move_by(rows, height);
    wanted.into_iter().map(|(direction, after)| extend(app, direction, after)).collect()
}

fn click(app: &mut App, row: usize) -> Vec<Effect> {
    if app.tab == Tab::Services {
        if row < app.services.len() {
            app.service_selected = row;
        }
        return Vec::new();
    }
    let height = app.height;
    let wanted = app.orders.click(row, height);
    wanted.into_iter().map(|(direction, after)| extend(app, direction, after)).collect()
}

fn extend(app: &App, direction: Direction, after: crate::domain::OrderKey) -> Effect {
    Effect::Extend { generation: app.generation, filter: app.filter.store.clone(), sort: app.sort, direction, after }
}

/// The pages to fetch so that enough rows are loaded around the selection.
pub fn pages_wanted(app: &mut App) -> Vec<Effect> {
    let height = app.height;
    let wanted = app.orders.wanted(height);
    wanted.into_iter().map(|(direction, after)| extend(app, direction, after)).collect()
}

/// Reloads around the selected order, keeping it selected.
pub fn refresh(app: &mut App) -> Vec<Effect> {
    refresh_counting(app, true)
}

/// [`refresh`], counting the orders again only when `count` says so.
fn refresh_counting(app: &mut App, count: bool) -> Vec<Effect> {
    let mut effects = vec![Effect::LoadServices];
    let (anchor, select) = match app.orders.selected() {
        Some(order) => (Anchor::Around(order.key()), Some(order.id)),
        None => (Anchor::Start, None),
    };
    effects.extend(if count { app.reload(anchor, select) } else { app.reload_rows(anchor, select) });
    effects
}

fn tick(app: &mut App) -> Vec<Effect> {
    // Never pile reloads onto a slow database, and leave open dialogs alone.
    if app.busy > 0 || !matches!(app.mode, Mode::Browse | Mode::Help { .. }) {
        return Vec::new();
    }
    // Counting a filtered million rows is the one costly query: do it on every twelfth tick only.
    app.ticks += 1;
    refresh_counting(app, app.ticks.is_multiple_of(COUNT_EVERY))
}

/// Periodic refreshes between two counts of the matching orders.
const COUNT_EVERY: u64 = 12;

fn copy(app: &mut App, json: bool) -> Vec<Effect> {
    let Some(order) = app.orders.selected() else { return Vec::new() };
    let text = if json { serde_json::to_string(order).unwrap_or_default() } else { order.id.to_string() };
    let what = if json { "JSON" } else { "id" };
    app.status = Some(info(format!("copied order {}'s {what} to the clipboard", order.id)));
    vec![Effect::Copy(text)]
}

fn next_sort(sort: SortOrder) -> SortOrder {
    match sort {
        SortOrder::DatetimeAsc => SortOrder::DatetimeDesc,
        SortOrder::DatetimeDesc => SortOrder::IdAsc,
        SortOrder::IdAsc => SortOrder::IdDesc,
        SortOrder::IdDesc => SortOrder::DatetimeAsc,
    }
}

/// How the sort is named on screen.
pub fn sort_label(sort: SortOrder) -> &'static str {
    match sort {
        SortOrder::DatetimeAsc => "datetime ↑",
        SortOrder::DatetimeDesc => "datetime ↓",
        SortOrder::IdAsc => "id ↑",
        SortOrder::IdDesc => "id ↓",
    }
}

/// An informational status line.
pub fn info(text: impl Into<String>) -> Status {
    Status { text: text.into(), error: false }
}

/// An error status line.
pub fn failure(error: &Error) -> Status {
    Status { text: error.to_string(), error: true }
}

/// Applies a reload's rows when they belong to the current generation.
pub fn loaded(app: &mut App, generation: u64, result: Result<Loaded, Error>) {
    if generation != app.generation {
        return;
    }
    match result {
        Ok(loaded) => {
            let edges = (loaded.at_start, loaded.at_end);
            app.orders.replace(loaded.rows, edges, loaded.select, loaded.fallback, app.height);
            app.shown = generation;
            if app.status.as_ref().is_some_and(|s| s.error) {
                app.status = None; // the database answers again
            }
        }
        Err(error) => app.status = Some(failure(&error)),
    }
}

/// Opens the form for a new order (or brings back a draft set aside).
pub fn open_form(app: &mut App, form: Form) {
    app.mode = Mode::Form(Box::new(form));
}
