//! The dialogs drawn over the table: the order form (errors under their fields, the conflict
//! with its jump key, the stale-edit notice), the delete confirmations and the service name.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::app::{App, Mode};
use super::form::{Field, Form};
use super::table::service_names;
use super::text::Input;
use super::widgets::{lines, popup};

const LABEL: usize = 10;
/// The form's width (less on a narrower terminal).
const FORM_WIDTH: u16 = 76;
/// Picker rows shown at once.
const PICKER_ROWS: usize = 6;

/// The create / edit form.
pub fn draw_form(frame: &mut Frame, app: &App, form: &Form) {
    let title = match &form.editing {
        Some(order) => format!(" Edit order {} (version {}) ", order.id, order.version),
        None => " New order ".to_owned(),
    };
    let picker_rows = app.services.len().clamp(1, PICKER_ROWS);
    let width = usize::from(frame.area().width.min(FORM_WIDTH).saturating_sub(2));
    let mut out: Vec<Line> = Vec::new();
    let mut cursor = None;
    let hint = if form.editing.is_some() { "local time or RFC 3339" } else { "local time or RFC 3339; empty: now" };
    let fields =
        [(Field::Datetime, "datetime", &form.datetime, hint), (Field::Fee, "fee", &form.fee, "e.g. 100 or 99.95")];
    for (field, label, input, hint) in fields {
        text_field(app, form, (field, label, input, hint), width, &mut out, &mut cursor);
    }
    picker(app, form, picker_rows, width, &mut out);
    let error_lines = |text: String, out: &mut Vec<Line>| {
        out.extend(
            super::widgets::wrap("✗ ", &text, "  ", width).into_iter().map(|l| Line::styled(l, app.theme.error)),
        );
    };
    if let Some(conflict) = &form.conflict {
        error_lines(conflict.message.clone(), &mut out);
        out.push(Line::from(format!("  Ctrl-O: open order {} (your form is kept)", conflict.id)));
    }
    if let Some(stale) = &form.stale {
        error_lines(stale.clone(), &mut out);
        out.push(Line::from("  Ctrl-R: load the stored order, keep edits it did not touch · Esc: cancel"));
    }
    if let Some(failure) = &form.failure {
        error_lines(failure.clone(), &mut out);
    }
    let action = if form.saving { "saving…" } else { "Enter save" };
    out.push(Line::styled(format!("{action} · Esc cancel · Tab/↑↓ move · Space pick"), app.theme.dim));
    let inner = popup(frame, title, FORM_WIDTH, out.len() as u16 + 2, app.theme.focus);
    lines(frame, out, inner, 0);
    if let Some((row, column)) = cursor {
        frame.set_cursor_position((inner.x + column, inner.y + row));
    }
}

/// A text field line and, under it, its error (wrapped) or its hint.
fn text_field(
    app: &App,
    form: &Form,
    (field, label, input, hint): (Field, &'static str, &Input, &'static str),
    width: usize,
    out: &mut Vec<Line<'static>>,
    cursor: &mut Option<(u16, u16)>,
) {
    let focused = form.focus == field;
    let style = if focused { app.theme.focus } else { ratatui::style::Style::new() };
    let marker = if focused { "▸" } else { " " };
    if focused {
        *cursor = Some((out.len() as u16, (LABEL + 3 + input.cursor()) as u16));
    }
    out.push(Line::from(vec![
        Span::styled(format!("{marker}{label:<LABEL$} "), style),
        Span::raw(format!("[{:<40}]", input.value())),
    ]));
    field_note(app, form.error(field), hint.to_owned(), width, out);
}

/// The line(s) under a field: its error, wrapped, or else a hint.
fn field_note(app: &App, error: Option<&str>, hint: String, width: usize, out: &mut Vec<Line<'static>>) {
    match error {
        Some(error) => {
            let (first, rest) = (format!("{:LABEL$}  ✗ ", ""), " ".repeat(LABEL + 4));
            let lines = super::widgets::wrap(&first, error, &rest, width);
            out.extend(lines.into_iter().map(|l| Line::styled(l, app.theme.error)));
        }
        None => out.push(Line::styled(format!("{:LABEL$}  {hint}", ""), app.theme.dim)),
    }
}

fn picker(app: &App, form: &Form, rows: usize, width: usize, out: &mut Vec<Line<'static>>) {
    let focused = form.focus == Field::Services;
    let style = if focused { app.theme.focus } else { ratatui::style::Style::new() };
    let marker = if focused { "▸" } else { " " };
    let start = form.picker.saturating_sub(rows - 1).min(app.services.len().saturating_sub(rows));
    if app.services.is_empty() {
        out.push(Line::from(format!("{marker}{:<LABEL$} (no services: add some on the Services tab)", "services")));
    }
    for (i, service) in app.services.iter().enumerate().skip(start).take(rows) {
        let label = if i == start { format!("{marker}{:<LABEL$} ", "services") } else { " ".repeat(LABEL + 2) };
        let check = if form.picked.contains(&service.id) { "[x]" } else { "[ ]" };
        let item = format!("{check} {} ({})", service.name, service.id);
        let item = if focused && i == form.picker { Span::styled(item, app.theme.selected) } else { Span::raw(item) };
        out.push(Line::from(vec![Span::styled(label, style), item]));
    }
    let picked: Vec<&str> =
        app.services.iter().filter(|s| form.picked.contains(&s.id)).map(|s| s.name.as_str()).collect();
    field_note(app, form.error(Field::Services), format!("picked: {}", picked.join(", ")), width, out);
    out.push(Line::from(""));
}

/// The delete confirmations (order or service), Cancel focused first.
pub fn draw_confirm(frame: &mut Frame, app: &App) {
    let (title, what, note, delete_focused) = match &app.mode {
        Mode::ConfirmDelete { order, delete_focused } => (
            format!(" Delete order {}? ", order.id),
            format!(
                "order {} · {} · fee {} · {}",
                order.id,
                app.zone.format(order.datetime),
                order.totalfee,
                service_names(order)
            ),
            "This cannot be undone; its history is kept.",
            *delete_focused,
        ),
        Mode::ConfirmServiceDelete { service, delete_focused } => (
            format!(" Delete service {}? ", service.id),
            format!("service {} {}", service.id, service.name),
            "The store refuses while any order uses it.",
            *delete_focused,
        ),
        _ => return,
    };
    let inner = popup(frame, title, 72, 8, app.theme.error);
    let button = |name: &str, on: bool| {
        if on { Span::styled(format!("> {name} <"), app.theme.selected) } else { Span::raw(format!("  {name}  ")) }
    };
    let out = vec![
        Line::from(format!("Delete {what}?")),
        Line::from(note),
        Line::from(""),
        Line::from(vec![button("Cancel", !delete_focused), Span::raw("   "), button("Delete", delete_focused)])
            .centered(),
        Line::styled("Tab/←/→ choose · Enter press · Esc cancel", app.theme.dim).centered(),
    ];
    lines(frame, out, inner, 0);
}

/// The add / rename service prompt.
pub fn draw_service_name(frame: &mut Frame, app: &App) {
    let Mode::ServiceName { id, input, error } = &app.mode else { return };
    let title = match id {
        Some(id) => format!(" Rename service {id} "),
        None => " Add service ".to_owned(),
    };
    let inner: Rect = popup(frame, title, 60, 6, app.theme.focus);
    let mut out = vec![Line::from(format!("name [{:<40}]", input.value()))];
    match error {
        Some(error) => out.push(Line::styled(format!("✗ {error}"), app.theme.error)),
        None => out.push(Line::styled("1–100 characters, unique (ignoring case)", app.theme.dim)),
    }
    out.push(Line::styled("Enter save · Esc cancel", app.theme.dim));
    lines(frame, out, inner, 0);
    frame.set_cursor_position((inner.x + 6 + input.cursor() as u16, inner.y));
}
