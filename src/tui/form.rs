//! The create / edit form: what was typed, which field has focus, the service picker, and the
//! errors the domain or the store gave back, each kept beside its field. Nothing typed is ever
//! cleared by an error.

use std::collections::BTreeSet;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::text::{Input, Zone};
use crate::Error;
use crate::domain::input::{Raw, RawOrder, RawServices, Shape};
use crate::domain::{FieldError, NewOrder, Order, OrderPatch, Service};

/// A form field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The appointment instant.
    Datetime,
    /// The fee.
    Fee,
    /// The service picker.
    Services,
}

/// The scheduling conflict a save ran into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The conflicting order.
    pub id: i64,
    /// The product's conflict message.
    pub message: String,
}

/// The form's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    /// The order being edited as it was opened (`None` for a new order).
    pub editing: Option<Order>,
    /// The datetime text.
    pub datetime: Input,
    /// The fee text.
    pub fee: Input,
    /// The picked service ids.
    pub picked: BTreeSet<i64>,
    /// The picker's cursor (an index into the catalogue).
    pub picker: usize,
    /// What was typed into the picker to find a service by name.
    pub typed: String,
    /// The focused field.
    pub focus: Field,
    /// Field errors from the last save, by field.
    pub errors: Vec<(Field, String)>,
    /// The scheduling conflict of the last save.
    pub conflict: Option<Conflict>,
    /// Set when the order moved on since it was opened: the message to show.
    pub stale: Option<String>,
    /// Any other failure of the last save.
    pub failure: Option<String>,
    /// A save is in flight.
    pub saving: bool,
}

/// What a valid form asks the store for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submission {
    /// Create this order.
    Create(NewOrder),
    /// Change an order, if it is still at `version`.
    Update {
        /// The order.
        id: i64,
        /// The changes.
        patch: OrderPatch,
        /// The version the form was opened at.
        version: i64,
    },
    /// An edit that changes nothing.
    Unchanged,
}

impl Form {
    /// An empty form for a new order.
    pub fn new_order() -> Self {
        Self::with(None, Input::default(), Input::default(), BTreeSet::new())
    }

    /// A form prefilled with `order`, shown in `zone`.
    pub fn edit(order: &Order, zone: Zone) -> Self {
        let picked = order.services.iter().map(|s| s.id).collect();
        let datetime = Input::new(zone.format(order.datetime));
        Self::with(Some(order.clone()), datetime, Input::new(order.totalfee.to_string()), picked)
    }

    /// The form for `stored` (the order as it is now) with what was changed in this form
    /// against the order it was opened with kept on top: a stale edit reloads without losing
    /// what was typed. A field changed on both sides shows the stored value (saving must not
    /// overwrite a change nobody here has seen); those fields are returned, to be named.
    pub fn rebased(&self, stored: &Order, zone: Zone) -> (Self, Vec<&'static str>) {
        let mut fresh = Self::edit(stored, zone);
        fresh.focus = self.focus;
        let Some(opened) = &self.editing else { return (fresh, Vec::new()) };
        let mut collided = Vec::new();
        let mut keep = |name: &'static str, typed: bool, moved: bool| {
            if typed && moved {
                collided.push(name);
            }
            typed && !moved
        };
        if keep("datetime", self.datetime.value() != zone.format(opened.datetime), stored.datetime != opened.datetime) {
            fresh.datetime = self.datetime.clone();
        }
        if keep("fee", self.fee.value() != opened.totalfee.to_string(), stored.totalfee != opened.totalfee) {
            fresh.fee = self.fee.clone();
        }
        let ids = |order: &Order| order.services.iter().map(|s| s.id).collect::<BTreeSet<i64>>();
        if keep("services", self.picked != ids(opened), ids(stored) != ids(opened)) {
            fresh.picked = self.picked.clone();
        }
        (fresh, collided)
    }

    fn with(editing: Option<Order>, datetime: Input, fee: Input, picked: BTreeSet<i64>) -> Self {
        Self {
            editing,
            datetime,
            fee,
            picked,
            picker: 0,
            typed: String::new(),
            focus: Field::Datetime,
            errors: Vec::new(),
            conflict: None,
            stale: None,
            failure: None,
            saving: false,
        }
    }

    /// The error shown under `field`, if any.
    pub fn error(&self, field: Field) -> Option<&str> {
        self.errors.iter().find(|(f, _)| *f == field).map(|(_, m)| m.as_str())
    }

    /// Moves the focus forward (or back).
    pub fn cycle(&mut self, forward: bool) {
        self.typed.clear();
        self.focus = match (self.focus, forward) {
            (Field::Datetime, true) | (Field::Services, false) => Field::Fee,
            (Field::Fee, true) | (Field::Datetime, false) => Field::Services,
            (Field::Services, true) | (Field::Fee, false) => Field::Datetime,
        };
    }

    /// Applies a key that is not a form command: typing into a text field, or moving and
    /// jumping by first letter in the picker.
    pub fn type_key(&mut self, key: KeyEvent, catalogue: &[Service]) {
        match self.focus {
            Field::Datetime => _ = self.datetime.handle(key),
            Field::Fee => _ = self.fee.handle(key),
            Field::Services => match key.code {
                KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => self.seek(c, catalogue),
                KeyCode::PageDown | KeyCode::End => self.picker = catalogue.len().saturating_sub(1),
                KeyCode::PageUp | KeyCode::Home => self.picker = 0,
                _ => {}
            },
        }
    }

    /// Type-ahead in the picker: moves to the first service whose name starts with what was
    /// typed so far (or, when none does, with just this character).
    fn seek(&mut self, c: char, catalogue: &[Service]) {
        let find = |prefix: &str| catalogue.iter().position(|s| s.name.to_lowercase().starts_with(prefix));
        self.typed.extend(c.to_lowercase());
        let found = find(&self.typed).or_else(|| {
            self.typed = c.to_lowercase().collect();
            find(&self.typed)
        });
        if let Some(i) = found {
            self.picker = i;
        }
    }

    /// Moves the picker's cursor; `false` when it is at the edge and focus should move on.
    pub fn move_picker(&mut self, down: bool, catalogue: &[Service]) -> bool {
        match down {
            true if self.picker + 1 < catalogue.len() => self.picker += 1,
            false if self.picker > 0 => self.picker -= 1,
            _ => return false,
        }
        true
    }

    /// Picks or unpicks the service under the picker's cursor.
    pub fn toggle(&mut self, catalogue: &[Service]) {
        if let Some(service) = catalogue.get(self.picker)
            && !self.picked.remove(&service.id)
        {
            self.picked.insert(service.id);
        }
    }

    /// Reads what was typed, through the domain's reader, into what to ask the store, or
    /// every field error at once (which are then also kept on the form).
    pub fn submission(&mut self, zone: Zone) -> Option<Submission> {
        self.errors.clear();
        self.conflict = None;
        self.failure = None;
        let read_time = |text: &str| zone.parse(text);
        let (datetime, new) = (self.datetime.value(), self.editing.is_none());
        let input = RawOrder {
            // A new order's empty datetime means now; an edit's must be filled in.
            datetime: (!new || !datetime.trim().is_empty()).then_some(Raw::Text(datetime)),
            totalfee: Some(Raw::Text(self.fee.value())),
            services: Some(RawServices::Picked(self.picked.iter().copied().collect())),
            read_time: &read_time,
            ..RawOrder::default()
        };
        match input.order(if new { Shape::Create } else { Shape::Whole }) {
            Ok(order) => Some(self.build(order, zone)),
            Err(refused) => {
                self.errors = refused.errors.iter().map(field_error).collect();
                None
            }
        }
    }

    fn build(&self, new: NewOrder, zone: Zone) -> Submission {
        let Some(order) = &self.editing else { return Submission::Create(new) };
        let before: Vec<i64> = order.services.iter().map(|s| s.id).collect();
        let after: Vec<i64> = new.services.iter().map(|s| s.id).collect();
        // Text left as shown keeps the stored instant exactly (the display may round).
        let datetime = new.datetime.filter(|_| self.datetime.value().trim() != zone.format(order.datetime));
        let patch = OrderPatch {
            datetime: datetime.filter(|at| *at != order.datetime),
            totalfee: Some(new.totalfee).filter(|fee| *fee != order.totalfee),
            services: Some(after).filter(|s| *s != before),
        };
        if patch.is_empty() {
            Submission::Unchanged
        } else {
            Submission::Update { id: order.id, patch, version: order.version }
        }
    }

    /// Keeps a failed save's error beside the field it concerns.
    pub fn show_error(&mut self, error: &Error) {
        self.saving = false;
        match error {
            Error::Invalid(fields) => self.errors = fields.iter().map(field_error).collect(),
            Error::Schedule { conflicting_id, .. } => {
                self.conflict = Some(Conflict { id: *conflicting_id, message: error.to_string() });
            }
            Error::Stale { .. } => self.stale = Some(error.to_string()),
            Error::NotFound { what: "service", .. } => self.errors = vec![(Field::Services, error.to_string())],
            other => self.failure = Some(other.to_string()),
        }
    }
}

fn field_error(error: &FieldError) -> (Field, String) {
    let field = match error.field.as_str() {
        "datetime" => Field::Datetime,
        "totalfee" => Field::Fee,
        _ => Field::Services,
    };
    (field, error.message.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Money, Timestamp, input};

    fn catalogue() -> Vec<Service> {
        [(123, "Inspection"), (456, "Analysis"), (789, "Testing")]
            .into_iter()
            .map(|(id, name)| Service { id, name: name.to_owned() })
            .collect()
    }

    fn type_text(form: &mut Form, text: &str) {
        for c in text.chars() {
            form.type_key(KeyEvent::from(KeyCode::Char(c)), &catalogue());
        }
    }

    #[test]
    fn every_bad_field_is_reported_at_once_and_the_text_is_kept() {
        let mut form = Form::new_order();
        type_text(&mut form, "soon");
        form.cycle(true);
        type_text(&mut form, "-1");
        assert_eq!(form.submission(Zone::Utc), None);
        let fields: Vec<Field> = form.errors.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, [Field::Datetime, Field::Fee, Field::Services]);
        assert_eq!((form.datetime.value(), form.fee.value()), ("soon", "-1"));
    }

    #[test]
    fn the_form_refuses_what_the_api_refuses_with_the_same_messages() {
        let mut form = Form::new_order();
        type_text(&mut form, "2016-12-31T23:59:60Z");
        form.cycle(true);
        type_text(&mut form, "1e27");
        assert_eq!(form.submission(Zone::Utc), None);
        let body = r#"{"datetime": "2016-12-31T23:59:60Z", "totalfee": 1e27, "services": []}"#;
        let from_api = input::new_order(&serde_json::from_str(body).unwrap()).unwrap_err();
        assert_eq!(form.errors, from_api.errors.iter().map(field_error).collect::<Vec<_>>());
        assert_eq!(form.error(Field::Services), Some(input::messages::NO_SERVICE));
    }

    #[test]
    fn a_valid_new_order_becomes_a_create_with_the_picked_services() {
        let mut form = Form::new_order();
        type_text(&mut form, "2022-11-02 10:00");
        form.cycle(true);
        type_text(&mut form, "99.95");
        form.cycle(true);
        type_text(&mut form, "t");
        form.toggle(&catalogue());
        let Some(Submission::Create(new)) = form.submission(Zone::Utc) else { panic!("a create") };
        assert_eq!(new.datetime, Some(Timestamp::parse("2022-11-02T10:00:00Z").unwrap()));
        assert_eq!((new.totalfee.cents(), new.services[0].id), (9995, 789));
    }

    #[test]
    fn typing_in_the_picker_finds_a_service_by_the_start_of_its_name() {
        let mut catalogue = catalogue();
        catalogue.insert(2, Service { id: 5, name: "Insulation".to_owned() });
        let mut form = Form::new_order();
        form.cycle(false);
        let type_in = |text: &str, form: &mut Form| {
            text.chars().for_each(|c| form.type_key(KeyEvent::from(KeyCode::Char(c)), &catalogue));
        };
        type_in("insu", &mut form);
        assert_eq!(form.picker, 2);
        type_in("t", &mut form);
        assert_eq!(form.picker, 3, "no name starts with 'insut': start again from t (Testing)");
    }

    #[test]
    fn an_edit_sends_only_what_changed_and_the_version_it_was_opened_at() {
        let order = Order {
            id: 7,
            datetime: Timestamp::parse("2022-11-01T11:11:11.111Z").unwrap(),
            totalfee: Money::from_cents(10_000),
            services: vec![catalogue()[0].clone()],
            version: 3,
            created_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
        };
        let mut form = Form::edit(&order, Zone::Utc);
        assert_eq!(form.submission(Zone::Utc), Some(Submission::Unchanged));
        form.cycle(true);
        type_text(&mut form, "5");
        let Some(Submission::Update { id, patch, version }) = form.submission(Zone::Utc) else { panic!("an update") };
        assert_eq!((id, version, patch.totalfee, patch.datetime), (7, 3, Some(Money::from_cents(100_500)), None));
    }

    #[test]
    fn store_errors_land_beside_their_fields() {
        let mut form = Form::new_order();
        form.show_error(&Error::Invalid(vec![FieldError::new("totalfee", "must not be negative, got -1")]));
        assert_eq!(form.error(Field::Fee), Some("must not be negative, got -1"));
        form.show_error(&Error::Stale { id: 1, expected: 1, actual: 2 });
        assert!(form.stale.as_deref().is_some_and(|m| m.contains("changed since it was read")));
    }
}
