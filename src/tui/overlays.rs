//! The read-only overlays: `?` help, generated from the key map the handler uses, and `h` the
//! selected order's history.

use ratatui::Frame;
use ratatui::text::{Line, Span};

use super::app::{App, Mode};
use super::keys::{Context, help_lines};
use super::widgets::{lines, popup};
use crate::domain::Timestamp;

/// The key list, grouped by where each key applies.
pub fn draw_help(frame: &mut Frame, app: &App, scroll: u16) {
    let area = frame.area();
    let inner =
        popup(frame, " Keys (Esc closes, ↑↓ scroll) ".to_owned(), 78, area.height.saturating_sub(2), app.theme.focus);
    let mut out = Vec::new();
    let mut last: Option<Context> = None;
    for (context, keys, help) in help_lines(app.read_only) {
        if last != Some(context) {
            if last.is_some() {
                out.push(Line::from(""));
            }
            out.push(Line::styled(context.title(), app.theme.header));
            last = Some(context);
        }
        out.push(Line::from(vec![Span::raw(format!("  {keys:<22} ")), Span::raw(help)]));
    }
    out.push(Line::from(""));
    out.push(Line::styled("Mouse: wheel scrolls, click selects.", app.theme.dim));
    lines(frame, out, inner, scroll);
}

/// The history of one order, oldest change first.
pub fn draw_history(frame: &mut Frame, app: &App) {
    let Mode::History { order_id, events, scroll } = &app.mode else { return };
    let area = frame.area();
    let title = format!(" History of order {order_id} (Esc closes) ");
    let inner =
        popup(frame, title, area.width.saturating_sub(4).max(60), area.height.saturating_sub(4), app.theme.focus);
    let Some(events) = events else {
        lines(frame, vec![Line::from("Loading…")], inner, 0);
        return;
    };
    let mut out = vec![Line::styled(format!("{:>8}  {:<23}  {:<8} actor", "seq", "at", "kind"), app.theme.header)];
    for event in events {
        let order = &event.order;
        let names: Vec<&str> =
            order["services"].as_array().into_iter().flatten().filter_map(|s| s["name"].as_str()).collect();
        let datetime = order["datetime"].as_str().and_then(|t| Timestamp::parse(t).ok());
        let when = datetime.map_or_else(|| "?".to_owned(), |at| app.zone.format(at));
        let at = app.zone.format(event.at);
        out.push(Line::from(format!("{:>8}  {at:<23}  {:<8} {}", event.seq, event.kind.as_str(), event.actor)));
        let summary = format!("{:10}→ {when} · fee {} · {}", "", order["totalfee"], names.join(", "));
        out.push(Line::styled(summary, app.theme.dim));
    }
    if events.is_empty() {
        out.push(Line::from("No history."));
    }
    lines(frame, out, inner, *scroll);
}
