//! Drawing: `draw(frame, &App)` lays out the tab bar, the current tab, the status bar and any
//! dialog on top. Rendering only reads the state; the per-screen files draw the parts.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};

use super::app::{App, Mode, Tab};
use super::layout::areas;
use super::sort::sort_label;

/// Draws the whole dashboard.
pub fn draw(frame: &mut Frame, app: &App) {
    let areas = areas(frame.area(), app.tab);
    draw_tabs(frame, app, areas.tabs);
    match app.tab {
        Tab::Orders => {
            super::table::draw_orders(frame, app, areas.table);
            super::table::draw_detail(frame, app, areas.detail);
        }
        Tab::Services => super::table::draw_services(frame, app, areas.table),
    }
    draw_status(frame, app, areas.status);
    match &app.mode {
        Mode::Form(form) => super::dialogs::draw_form(frame, app, form),
        Mode::ConfirmDelete { .. } | Mode::ConfirmServiceDelete { .. } => super::dialogs::draw_confirm(frame, app),
        Mode::ServiceName { .. } => super::dialogs::draw_service_name(frame, app),
        Mode::Help { scroll } => super::overlays::draw_help(frame, app, *scroll),
        Mode::History { .. } => super::overlays::draw_history(frame, app),
        Mode::Browse | Mode::Filter(_) | Mode::Jump(_) => {}
    }
}

fn draw_tabs(frame: &mut Frame, app: &App, area: Rect) {
    let tab = |name: &'static str, on: bool| {
        if on { Span::styled(format!(" {name} "), app.theme.tab) } else { Span::raw(format!(" {name} ")) }
    };
    let mut spans =
        vec![tab("Orders", app.tab == Tab::Orders), Span::raw("│"), tab("Services", app.tab == Tab::Services)];
    if app.tab == Tab::Orders {
        spans.push(Span::styled(format!("  sort: {}", sort_label(app.sort)), app.theme.dim));
        if !app.filter.text.is_empty() {
            spans.push(Span::styled(format!("  filter: {}", app.filter.text), app.theme.header));
        }
    }
    if app.read_only {
        spans.push(Span::styled("  [read-only]", app.theme.error));
    }
    frame.render_widget(Line::from(spans), area);
}

fn draw_status(frame: &mut Frame, app: &App, area: Rect) {
    let (prefix, input) = match &app.mode {
        Mode::Filter(input) => ("filter: ", Some(input)),
        Mode::Jump(input) => ("go to order: ", Some(input)),
        _ => ("", None),
    };
    let busy = if app.busy > 0 { " working… " } else { "" };
    let [left, right] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(busy.chars().count() as u16)]).areas(area);
    frame.render_widget(Span::styled(busy, app.theme.dim), right);
    if let Some(input) = input {
        let mut spans = vec![Span::raw(format!("{prefix}{}", input.value()))];
        match app.status.as_ref().filter(|s| s.error) {
            Some(status) => spans.push(Span::styled(format!("  ✗ {}", status.text), app.theme.error)),
            None if matches!(app.mode, Mode::Filter(_)) => {
                spans.push(Span::styled("   id · from:DATE · to:DATE · service name; Enter applies", app.theme.dim));
            }
            None => spans.push(Span::styled("   an order id; Enter goes", app.theme.dim)),
        }
        frame.render_widget(Line::from(spans), left);
        let x = left.x + (prefix.chars().count() + input.cursor()) as u16;
        frame.set_cursor_position((x.min(left.right().saturating_sub(1)), left.y));
        return;
    }
    let line = match &app.status {
        Some(status) if status.error => Line::styled(format!(" {}", status.text), app.theme.error),
        Some(status) => Line::from(format!(" {}", status.text)),
        None => Line::styled(hints(app), app.theme.dim),
    };
    frame.render_widget(line, left);
}

fn hints(app: &App) -> String {
    let writes = if app.read_only { "" } else { "n new  e edit  d delete  " };
    match app.tab {
        Tab::Orders => format!(" ? keys  {writes}/ filter  : jump  Tab services  q quit"),
        Tab::Services => format!(" ? keys  {writes}Tab orders  q quit"),
    }
}
