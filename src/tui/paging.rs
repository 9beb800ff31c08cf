//! Which orders are loaded: moving the selection (and fetching the pages it nears), reloading
//! around the selected order, and applying the rows a reload brings back.

use super::app::{Anchor, App, Effect, Loaded, Tab};
use super::status::failure;
use super::window::Direction;
use crate::Error;
use crate::domain::OrderKey;

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

/// Selects the row clicked (`row` counts from the table's first visible row).
pub fn click(app: &mut App, row: usize) -> Vec<Effect> {
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

/// The effect fetching the page after `after` in `direction`, for the current reload.
fn extend(app: &App, direction: Direction, after: OrderKey) -> Effect {
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
pub fn refresh_counting(app: &mut App, count: bool) -> Vec<Effect> {
    let mut effects = vec![Effect::LoadServices];
    let (anchor, select) = match app.orders.selected() {
        Some(order) => (Anchor::Around(order.key()), Some(order.id)),
        None => (Anchor::Start, None),
    };
    effects.extend(if count { app.reload(anchor, select) } else { app.reload_rows(anchor, select) });
    effects
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
