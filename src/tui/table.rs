//! The two tables — orders (only the visible window's rows are built) and services — and the
//! detail pane of the selected order.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState, Wrap};

use super::app::{App, Mode};
use crate::domain::Order;

/// The orders table over the visible rows of the window.
pub fn draw_orders(frame: &mut Frame, app: &App, area: Rect) {
    let total = app.total.map_or_else(|| " · counting…".to_owned(), |n| format!(" · {} orders", group(n)));
    let block = Block::bordered().title(format!(" Orders{total} "));
    let window = &app.orders;
    if window.rows.is_empty() {
        let text = empty_text(app);
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }).block(block), area);
        return;
    }
    let visible = window.visible(app.height);
    let rows = visible.iter().map(|order| {
        Row::new([
            Cell::from(Line::from(order.id.to_string()).right_aligned()),
            Cell::from(app.zone.format(order.datetime)),
            Cell::from(Line::from(super::widgets::fee(order.totalfee)).right_aligned()),
            Cell::from(service_names(order)),
        ])
    });
    // Wide enough for the largest fee (1000000000.00) and for the widest id in view, so no
    // figure is ever cut (ids keep at least 10 columns, so scrolling rarely moves them).
    let id_width = visible.iter().map(|order| order.id.to_string().len()).max().unwrap_or(0).max(10);
    let widths = [
        Constraint::Length(id_width as u16),
        Constraint::Length(23),
        Constraint::Length(FEE_WIDTH),
        Constraint::Fill(1),
    ];
    let header = Row::new(["id", "datetime (local)", "fee", "services"]).style(app.theme.header);
    let table = Table::new(rows, widths).header(header).block(block).row_highlight_style(app.theme.selected);
    let mut state = TableState::default().with_selected(Some(window.selected.saturating_sub(window.top)));
    frame.render_stateful_widget(table, area, &mut state);
}

fn empty_text(app: &App) -> Vec<Line<'static>> {
    if app.busy > 0 && app.total.is_none() {
        return vec![Line::from("Loading…")];
    }
    if !app.filter.text.is_empty() {
        return vec![
            Line::from(format!("No orders match the filter “{}”.", app.filter.text)),
            Line::from("Press / to change it or Esc to clear it."),
        ];
    }
    let mut lines = vec![Line::from("No orders yet."), Line::from("")];
    if !app.read_only {
        lines.push(Line::from("Press n to create one,"));
    }
    lines.push(Line::from("or run `orders seed` in a shell to load the sample orders, then press r."));
    lines
}

/// The width of the largest fee there can be, `1000000000.00`.
const FEE_WIDTH: u16 = 13;

/// The service names of an order, comma-separated.
pub fn service_names(order: &Order) -> String {
    order.services.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
}

/// The detail pane of the selected order.
pub fn draw_detail(frame: &mut Frame, app: &App, area: Rect) {
    let block = Block::bordered().title(" Detail ");
    let Some(order) = app.orders.selected() else {
        frame.render_widget(block, area);
        return;
    };
    let label = |name: &'static str| Span::styled(format!("{name:<10}"), app.theme.header);
    let services = order.services.iter().map(|s| format!("{} {}", s.id, s.name)).collect::<Vec<_>>().join(", ");
    let lines = vec![
        Line::from(vec![label("order"), Span::raw(format!("{}  (version {})", order.id, order.version))]),
        Line::from(vec![label("datetime"), Span::raw(app.zone.format(order.datetime))]),
        Line::from(vec![label(""), Span::styled(order.datetime.to_string(), app.theme.dim)]),
        Line::from(vec![label("fee"), Span::raw(order.totalfee.to_string())]),
        Line::from(vec![label("services"), Span::raw(services)]),
        Line::from(vec![label("created"), Span::raw(app.zone.format(order.created_at))]),
        Line::from(vec![label("updated"), Span::raw(app.zone.format(order.updated_at))]),
    ];
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block), area);
}

/// The services catalogue.
pub fn draw_services(frame: &mut Frame, app: &App, area: Rect) {
    let block = Block::bordered().title(format!(" Services · {} ", app.services.len()));
    if app.services.is_empty() {
        let text = "No services yet. Press n to add one, or run `orders seed` for the sample.";
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }).block(block), area);
        return;
    }
    let rows = app
        .services
        .iter()
        .map(|s| Row::new([Cell::from(Line::from(s.id.to_string()).right_aligned()), Cell::from(s.name.clone())]));
    let header = Row::new(["id", "name"]).style(app.theme.header);
    let table = Table::new(rows, [Constraint::Length(12), Constraint::Fill(1)])
        .header(header)
        .block(block)
        .row_highlight_style(app.theme.selected);
    let selected = matches!(
        app.mode,
        Mode::Browse | Mode::ServiceName { .. } | Mode::ConfirmServiceDelete { .. } | Mode::Help { .. }
    );
    let mut state = TableState::default().with_selected(selected.then_some(app.service_selected));
    frame.render_stateful_widget(table, area, &mut state);
}

/// `1234567` as `1,234,567`.
pub fn group(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}
