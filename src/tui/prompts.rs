//! The dialogs: the form's commands, the filter, jump and service-name prompts, and the delete
//! confirmations (Cancel focused first, so no single keystroke deletes).

use crossterm::event::KeyEvent;

use super::app::{Anchor, App, Effect, Filter, Mode, Tab};
use super::form::{Field, Form, Submission};
use super::keys::Command;
use super::paging::refresh;
use super::status::{Status, failure, info};
use super::text::Input;
use crate::domain::{OrderFilter, parse_id, service};

/// A key typed into the focused field.
pub fn type_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    if matches!(app.mode, Mode::Filter(_) | Mode::Jump(_)) {
        app.status = None; // a refusal of what was typed goes once the user edits it
    }
    let catalogue = &app.services;
    match &mut app.mode {
        Mode::Filter(input) | Mode::Jump(input) | Mode::ServiceName { input, .. } => _ = input.handle(key),
        Mode::Form(form) => form.type_key(key, catalogue),
        _ => {}
    }
    Vec::new()
}

/// `n`, `e` and `d` on either tab; refused in read-only mode.
pub fn open_write(app: &mut App, command: Command) -> Vec<Effect> {
    if app.read_only {
        app.status = Some(info("read-only: this dashboard cannot create, edit or delete"));
        return Vec::new();
    }
    if app.tab == Tab::Services {
        if let Some(why) = &app.catalogue_locked {
            app.status = Some(info(why.clone()));
            return Vec::new();
        }
        let selected = app.selected_service().cloned();
        app.mode = match (command, selected) {
            (Command::New, _) => Mode::ServiceName { id: None, input: Input::default(), error: None },
            (Command::Edit, Some(s)) => Mode::ServiceName { id: Some(s.id), input: Input::new(s.name), error: None },
            (Command::Delete, Some(service)) => Mode::ConfirmServiceDelete { service, delete_focused: false },
            _ => Mode::Browse,
        };
        return Vec::new();
    }
    let selected = app.orders.selected().cloned();
    match (command, selected) {
        (Command::New, _) => {
            let form = app.draft.take().map_or_else(Form::new_order, |draft| *draft);
            open_form(app, form);
        }
        (Command::Edit, Some(order)) => {
            let draft = app.draft.take_if(|d| d.editing.as_ref().is_some_and(|e| e.id == order.id));
            open_form(app, draft.map_or_else(|| Form::edit(&order, app.zone), |draft| *draft));
        }
        (Command::Delete, Some(order)) => {
            app.mode = Mode::ConfirmDelete { order: Box::new(order), delete_focused: false }
        }
        _ => {}
    }
    Vec::new()
}

/// A command while the form is open.
pub fn form_command(app: &mut App, command: Command) -> Vec<Effect> {
    let Mode::Form(form) = &mut app.mode else { return Vec::new() };
    match command {
        Command::Submit if !form.saving => return submit(app),
        Command::Cancel => app.mode = Mode::Browse,
        Command::NextField => form.cycle(true),
        Command::PrevField => form.cycle(false),
        Command::Down | Command::Up => {
            let down = command == Command::Down;
            if form.focus != Field::Services || !form.move_picker(down, &app.services) {
                form.cycle(down);
            }
        }
        Command::Toggle if form.focus == Field::Services => form.toggle(&app.services),
        Command::GoToConflict => {
            if let Some(conflict) = form.conflict.clone() {
                let Mode::Form(form) = std::mem::replace(&mut app.mode, Mode::Browse) else { return Vec::new() };
                app.draft = Some(form);
                app.status = Some(info(format!("showing order {}; press n to return to your form", conflict.id)));
                return vec![Effect::Find(conflict.id)];
            }
        }
        Command::Reload => {
            if let (Some(_), Some(order)) = (&form.stale, &form.editing) {
                return vec![Effect::Reload(order.id)];
            }
        }
        _ => {}
    }
    Vec::new()
}

fn submit(app: &mut App) -> Vec<Effect> {
    let zone = app.zone;
    let Mode::Form(form) = &mut app.mode else { return Vec::new() };
    let effect = match form.submission(zone) {
        None => return Vec::new(),
        Some(Submission::Unchanged) => {
            app.mode = Mode::Browse;
            app.status = Some(info("nothing changed"));
            return Vec::new();
        }
        Some(Submission::Create(new)) => Effect::Create(new),
        Some(Submission::Update { id, patch, version }) => Effect::Update { id, patch, version },
    };
    form.saving = true;
    vec![effect]
}

/// A command in a prompt or a confirmation.
pub fn prompt_command(app: &mut App, command: Command) -> Vec<Effect> {
    if command == Command::Cancel {
        app.mode = Mode::Browse;
        return Vec::new();
    }
    match (&mut app.mode, command) {
        (
            Mode::ConfirmDelete { delete_focused, .. } | Mode::ConfirmServiceDelete { delete_focused, .. },
            Command::NextField,
        ) => {
            *delete_focused = !*delete_focused;
            Vec::new()
        }
        (_, Command::Submit) => submit_prompt(app),
        _ => Vec::new(),
    }
}

fn submit_prompt(app: &mut App) -> Vec<Effect> {
    match std::mem::replace(&mut app.mode, Mode::Browse) {
        Mode::ConfirmDelete { order, delete_focused: true } => {
            vec![Effect::Delete { id: order.id, version: order.version }]
        }
        Mode::ConfirmServiceDelete { service, delete_focused: true } => vec![Effect::DeleteService(service.id)],
        Mode::Jump(input) => match parse_id(input.value()) {
            Ok(id) => vec![Effect::Find(id)],
            Err(message) => {
                app.status = Some(Status { text: format!("order id {message}"), error: true });
                app.mode = Mode::Jump(input);
                Vec::new()
            }
        },
        Mode::Filter(input) => match parse_filter(app, input.value()) {
            Ok(filter) => {
                app.status = Some(info(if filter.text.is_empty() { "filter cleared" } else { "filter applied" }));
                app.filter = filter;
                app.total = None;
                app.reload(Anchor::Start, None)
            }
            Err(message) => {
                app.status = Some(Status { text: message, error: true });
                app.mode = Mode::Filter(input);
                Vec::new()
            }
        },
        Mode::ServiceName { id, input, .. } => match service::parse_name(input.value()) {
            Ok(name) => {
                app.mode = Mode::ServiceName { id, input, error: None };
                vec![Effect::SaveService { id, name }]
            }
            Err(message) => {
                app.mode = Mode::ServiceName { id, input, error: Some(format!("name {message}")) };
                Vec::new()
            }
        },
        _ => Vec::new(), // Cancel was focused: nothing happens
    }
}

/// Reads the filter text: an order id (`224` or `id:224`), `from:DATE`, `to:DATE` (local time
/// or RFC 3339; a bare date means its midnight) and the rest as a service name.
///
/// # Errors
/// A message naming the term that could not be read.
pub fn parse_filter(app: &App, text: &str) -> Result<Filter, String> {
    let mut filter = Filter { text: text.trim().to_owned(), id: None, store: OrderFilter::default() };
    let mut name = Vec::new();
    for term in text.split_whitespace() {
        let instant = |value: &str| {
            let midnight = format!("{value} 00:00");
            app.zone.parse(value).or_else(|e| app.zone.parse(&midnight).map_err(|_| e))
        };
        if let Some(value) = term.strip_prefix("from:") {
            filter.store.from = Some(instant(value).map_err(|e| format!("from {e}"))?);
        } else if let Some(value) = term.strip_prefix("to:") {
            filter.store.to = Some(instant(value).map_err(|e| format!("to {e}"))?);
        } else if let Some(value) = term.strip_prefix("id:") {
            filter.id = Some(parse_id(value).map_err(|e| format!("id {e}"))?);
        } else if term.bytes().all(|b| b.is_ascii_digit()) {
            filter.id = Some(parse_id(term).map_err(|e| format!("id {e}"))?);
        } else {
            name.push(term);
        }
    }
    if !name.is_empty() {
        let name = name.join(" ").to_lowercase();
        let found = app.services.iter().find(|s| s.name.to_lowercase() == name).or_else(|| {
            let mut partial = app.services.iter().filter(|s| s.name.to_lowercase().contains(&name));
            partial.next().filter(|_| partial.next().is_none())
        });
        filter.store.service = Some(found.ok_or_else(|| format!("no single service is named like {name:?}"))?.id);
    }
    Ok(filter)
}

/// After a save or delete: back to the table, reloaded around `order` (or the selection).
pub fn after_write(app: &mut App, order: Option<&crate::domain::Order>) -> Vec<Effect> {
    app.mode = Mode::Browse;
    match order {
        Some(order) => app.reload(Anchor::Around(order.key()), Some(order.id)),
        None => refresh(app),
    }
}

/// The action a jump result turns into.
pub fn jumped(app: &mut App, result: Result<crate::domain::Order, crate::Error>) -> Vec<Effect> {
    match result {
        Ok(order) => {
            if !app.filter.text.is_empty() {
                app.filter = Filter::default();
                app.total = None;
            }
            app.tab = Tab::Orders;
            app.reload(Anchor::Around(order.key()), Some(order.id))
        }
        Err(error) => {
            app.status = Some(failure(&error));
            Vec::new()
        }
    }
}

/// Opens the form for a new order (or brings back a draft set aside).
fn open_form(app: &mut App, form: Form) {
    app.mode = Mode::Form(Box::new(form));
}
