//! Applying actions to the state: the one place the dashboard changes. Each action returns the
//! effects (store calls, clipboard) it needs; results come back later as actions too.

use super::app::{Action, Anchor, App, Effect, Mode, Tab};
use super::keys::Command;
use super::paging::{click, move_by, refresh, refresh_counting};
use super::sort::{next_sort, sort_label};
use super::status::{Status, info};
use crate::Error;

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
            app.height = super::layout::table_rows(width, height);
            move_by(app, 0) // keeps the selection on the smaller screen
        }
        Action::Tick => tick(app),
        Action::Unavailable(error) => {
            // First, so a long cause cut at the screen's edge cannot hide it.
            let again = if matches!(error, Error::Unavailable(_) | Error::Busy(_) | Error::Internal(_)) {
                "trying again · "
            } else {
                ""
            };
            app.status = Some(Status { text: format!("{again}{error}"), error: true });
            Vec::new()
        }
        Action::SignedIn(identity) => {
            signed_in(app, &identity);
            Vec::new()
        }
        result => return super::results::apply(app, result),
    };
    app.busy += effects.iter().filter(|e| !matches!(e, Effect::Copy(_))).count();
    effects
}

/// What the token's role lets the dashboard write: a `reader` browses only, a `writer` edits
/// orders but not the catalogue (the API would refuse either anyway; this says so up front).
fn signed_in(app: &mut App, identity: &super::identity::Identity) {
    let who = format!("signed in as {} ({})", identity.subject, identity.role);
    match identity.role.as_str() {
        "reader" => {
            app.read_only = true;
            app.status = Some(info(format!("{who}: browse-only")));
        }
        "writer" => {
            app.catalogue_locked = Some(format!("catalogue edits need admin: {} is a writer", identity.subject));
            app.status = Some(info(who));
        }
        _ => app.status = Some(info(who)),
    }
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
