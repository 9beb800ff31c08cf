//! Store results coming back to the dashboard: each lands where the user is looking — rows in
//! the table, errors beside the form's fields or in the status bar — and never blocks input.

use super::app::{Action, App, Effect, Mode};
use super::form::Form;
use super::paging::{loaded, pages_wanted};
use super::prompts::{after_write, jumped};
use super::status::{failure, info};
use crate::Error;

/// Applies a store result; returns any follow-up effects.
pub fn apply(app: &mut App, result: Action) -> Vec<Effect> {
    app.busy = app.busy.saturating_sub(1);
    let effects = match result {
        Action::Loaded(generation, result) => {
            loaded(app, generation, result);
            pages_wanted(app)
        }
        Action::Extended(generation, direction, after, result) => match result {
            Ok((rows, complete)) if generation == app.generation => {
                let height = app.height;
                app.orders.extend(direction, after, rows, complete, height);
                pages_wanted(app)
            }
            Ok(_) => Vec::new(),
            Err(error) => {
                app.orders.pending = [false; 2];
                app.status = Some(failure(&error));
                Vec::new()
            }
        },
        Action::Counted(generation, result) => {
            match result {
                Ok(total) if generation == app.counting => app.total = Some(total),
                Ok(_) => {}
                Err(error) => app.status = Some(failure(&error)),
            }
            Vec::new()
        }
        Action::Services(result) => {
            services(app, result);
            Vec::new()
        }
        Action::Saved(result) => saved(app, result),
        Action::Reloaded(result) => {
            reloaded(app, result);
            Vec::new()
        }
        Action::Deleted(id, result) => {
            app.status = Some(match result {
                Ok(()) => info(format!("deleted order {id}")),
                Err(error) => failure(&error),
            });
            after_write(app, None)
        }
        Action::Found(result) => jumped(app, result),
        Action::History(id, result) => {
            history(app, id, result);
            Vec::new()
        }
        Action::ServiceSaved(deleted, result) => service_saved(app, deleted, result),
        _ => Vec::new(),
    };
    finish(app, effects)
}

fn finish(app: &mut App, effects: Vec<Effect>) -> Vec<Effect> {
    app.busy += effects.len();
    effects
}

fn services(app: &mut App, result: Result<Vec<crate::domain::Service>, Error>) {
    match result {
        Ok(mut services) => {
            services.sort_by_key(|s| (s.name.to_lowercase(), s.id));
            let selected = app.selected_service().map(|s| s.id);
            app.service_selected = selected
                .and_then(|id| services.iter().position(|s| s.id == id))
                .unwrap_or(app.service_selected)
                .min(services.len().saturating_sub(1));
            app.services = services;
        }
        Err(error) => app.status = Some(failure(&error)),
    }
}

fn saved(app: &mut App, result: Result<crate::domain::Order, Error>) -> Vec<Effect> {
    match result {
        Ok(order) => {
            let created = matches!(&app.mode, Mode::Form(form) if form.editing.is_none());
            let verb = if created { "created" } else { "saved" };
            app.status = Some(info(format!("{verb} order {}", order.id)));
            // Show a saved edit at once; the reload that follows puts it in its sorted place.
            if let Some(row) = app.orders.rows.iter_mut().find(|o| o.id == order.id) {
                *row = order.clone();
            }
            after_write(app, Some(&order))
        }
        Err(error) => {
            match &mut app.mode {
                Mode::Form(form) => form.show_error(&error),
                _ => app.status = Some(failure(&error)),
            }
            Vec::new()
        }
    }
}

fn reloaded(app: &mut App, result: Result<crate::domain::Order, Error>) {
    match result {
        Ok(order) => {
            let (form, collided) = match &app.mode {
                Mode::Form(form) if form.editing.as_ref().is_some_and(|o| o.id == order.id) => {
                    form.rebased(&order, app.zone)
                }
                _ => (Form::edit(&order, app.zone), Vec::new()),
            };
            let kept = if collided.is_empty() {
                " with your changes on top; Enter saves".to_owned()
            } else {
                format!(": {} changed meanwhile, shown as stored", collided.join(" and "))
            };
            app.status = Some(info(format!("order {} reloaded at version {}{kept}", order.id, order.version)));
            app.mode = Mode::Form(Box::new(form));
        }
        Err(error) => {
            if let Mode::Form(form) = &mut app.mode {
                form.failure = Some(error.to_string());
            }
        }
    }
}

fn history(app: &mut App, id: i64, result: Result<Vec<crate::domain::Event>, Error>) {
    match (result, &mut app.mode) {
        (Ok(list), Mode::History { order_id, events, .. }) if *order_id == id => *events = Some(list),
        (Ok(_), _) => {}
        (Err(error), _) => {
            app.status = Some(failure(&error));
            if matches!(app.mode, Mode::History { .. }) {
                app.mode = Mode::Browse;
            }
        }
    }
}

fn service_saved(app: &mut App, deleted: bool, result: Result<crate::domain::Service, Error>) -> Vec<Effect> {
    match result {
        Ok(service) => {
            if !deleted {
                // Select what was just added or renamed; the reload keeps it selected by id.
                app.services.retain(|s| s.id != service.id);
                app.services.push(service.clone());
                app.services.sort_by_key(|s| (s.name.to_lowercase(), s.id));
                app.service_selected = app.services.iter().position(|s| s.id == service.id).unwrap_or(0);
            }
            let verb = if deleted { "deleted" } else { "saved" };
            app.status = Some(info(format!("{verb} service {} {}", service.id, service.name)));
            app.mode = Mode::Browse;
            vec![Effect::LoadServices]
        }
        Err(error) => {
            match &mut app.mode {
                Mode::ServiceName { error: shown, .. } => *shown = Some(error.to_string()),
                _ => app.status = Some(failure(&error)),
            }
            Vec::new()
        }
    }
}
