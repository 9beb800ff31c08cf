//! Drawing: `draw(frame, &App)` lays out the tab bar, the current tab, the status bar and any
//! dialog on top. Rendering only reads the state; the per-screen files draw the parts.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::app::{App, Mode, Tab};
use super::update::sort_label;

/// Rows of the detail pane when it sits under the table (narrow terminals).
const DETAIL_ROWS: u16 = 9;
/// From this width on the detail pane sits beside the table.
pub const WIDE: u16 = 110;

/// The parts of the screen.
#[derive(Debug, Clone, Copy)]
pub struct Areas {
    /// The tab bar.
    pub tabs: Rect,
    /// The table (with its border).
    pub table: Rect,
    /// The detail pane.
    pub detail: Rect,
    /// The status bar.
    pub status: Rect,
}

/// Lays out a screen of `area`.
pub fn areas(area: Rect, tab: Tab) -> Areas {
    let [tabs, body, status] =
        Layout::vertical([Constraint::Length(1), Constraint::Fill(1), Constraint::Length(1)]).areas(area);
    let (table, detail) = match tab {
        Tab::Services => (body, Rect::default()),
        Tab::Orders if area.width >= WIDE => {
            let [table, detail] = Layout::horizontal([Constraint::Fill(1), Constraint::Length(44)]).areas(body);
            (table, detail)
        }
        Tab::Orders => {
            let [table, detail] = Layout::vertical([Constraint::Fill(1), Constraint::Length(DETAIL_ROWS)]).areas(body);
            (table, detail)
        }
    };
    Areas { tabs, table, detail, status }
}

/// How many table rows fit on a terminal of this size (borders and header taken off).
pub fn table_rows(width: u16, height: u16) -> usize {
    usize::from(areas(Rect::new(0, 0, width, height), Tab::Orders).table.height.saturating_sub(3)).max(1)
}

/// The table row under a mouse click at (`column`, `row`), if any.
pub fn clicked_row(app: &App, column: u16, row: u16) -> Option<usize> {
    let table = areas(Rect::new(0, 0, app.size.0, app.size.1), app.tab).table;
    let body = Rect { y: table.y + 2, height: table.height.saturating_sub(3), ..table };
    body.contains(Position::new(column, row)).then(|| usize::from(row - body.y))
}

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

/// A rectangle of at most `width` × `height` in the middle of `area`, cleared, with a border.
pub fn popup(frame: &mut Frame, title: String, width: u16, height: u16, style: Style) -> Rect {
    let area = frame.area();
    let rect = area.centered(Constraint::Length(width.min(area.width)), Constraint::Length(height.min(area.height)));
    frame.render_widget(Clear, rect);
    let block = Block::bordered().title(title).border_style(style);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    inner
}

/// Renders lines into `area`, scrolled by `scroll` lines.
pub fn lines(frame: &mut Frame, lines: Vec<Line<'_>>, area: Rect, scroll: u16) {
    frame.render_widget(Paragraph::new(lines).scroll((scroll, 0)), area);
}

/// Splits `text` into lines at spaces, the first starting with `first` and the rest with
/// `rest`, none longer than `width` characters (so line counts, and cursor rows, are known
/// before drawing).
pub fn wrap(first: &str, text: &str, rest: &str, width: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut line = first.to_owned();
    let mut empty = true;
    for word in text.split(' ') {
        if !empty && line.chars().count() + 1 + word.chars().count() > width {
            out.push(std::mem::replace(&mut line, rest.to_owned()));
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push(line);
    out
}

/// A fee with two decimals, for columns of figures.
pub fn fee(money: crate::domain::Money) -> String {
    let cents = money.cents();
    format!("{}.{:02}", cents / 100, cents % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_wrap_at_spaces_with_an_indent() {
        assert_eq!(wrap("> ", "aaaa bbbb cccc dddd", "  ", 12), ["> aaaa bbbb", "  cccc dddd"]);
        assert_eq!(fee(crate::domain::Money::from_cents(10_010)), "100.10");
    }
}
