//! An order's input as a surface collected it ([`RawOrder`]), read field by field into a
//! [`NewOrder`] or an [`OrderPatch`], or refused with every field error at once ([`Refusal`]).

use super::fields::{self, ReadTime};
use super::messages;
use super::raw::{Raw, RawServices};
use crate::domain::{FieldError, NewOrder, OrderPatch, ServiceRef, Timestamp};

/// Which fields an order's input must carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A new order: `datetime` may be left out (it means now); `totalfee` and `services` not.
    Create,
    /// A whole order (a replacement, an import record, an edit in the form): every field.
    Whole,
}

/// An order's input as a surface collected it: each field absent (`None`) or raw.
pub struct RawOrder<'a> {
    /// What the surface itself already refused, reported first: fields an order does not
    /// have, `null`s in a merge patch, a bad id argument.
    pub errors: Vec<FieldError>,
    /// The order's id (only import keeps one).
    pub id: Option<Raw<'a>>,
    /// The appointment instant.
    pub datetime: Option<Raw<'a>>,
    /// The fee.
    pub totalfee: Option<Raw<'a>>,
    /// The services.
    pub services: Option<RawServices<'a>>,
    /// How datetime text is read (default: RFC 3339 with an offset).
    pub read_time: ReadTime<'a>,
}

impl Default for RawOrder<'_> {
    fn default() -> Self {
        Self {
            errors: Vec::new(),
            id: None,
            datetime: None,
            totalfee: None,
            services: None,
            read_time: &Timestamp::parse,
        }
    }
}

/// An order's input refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Every field error, in field order.
    pub errors: Vec<FieldError>,
    /// The service ids when `services` itself was valid, so that the store can name the
    /// unknown ones beside the other errors.
    pub services: Option<Vec<i64>>,
}

impl From<Refusal> for Vec<FieldError> {
    fn from(refusal: Refusal) -> Self {
        refusal.errors
    }
}

impl RawOrder<'_> {
    /// Reads a new or whole order.
    ///
    /// # Errors
    /// Every field error at once.
    pub fn order(self, shape: Shape) -> Result<NewOrder, Refusal> {
        let (mut errors, read_time) = (self.errors, self.read_time);
        let id = self.id.and_then(|raw| collect(&mut errors, "id", fields::order_id(raw)));
        let datetime = match self.datetime {
            None if shape == Shape::Create => None,
            raw => required(&mut errors, "datetime", raw)
                .and_then(|raw| collect(&mut errors, "datetime", fields::datetime(raw, read_time))),
        };
        let totalfee = required(&mut errors, "totalfee", self.totalfee)
            .and_then(|raw| collect(&mut errors, "totalfee", fields::totalfee(raw)));
        let services =
            required(&mut errors, "services", self.services).and_then(|raw| fields::services(&raw, &mut errors));
        match (totalfee, services) {
            (Some(totalfee), Some(services)) if errors.is_empty() => Ok(NewOrder { id, datetime, totalfee, services }),
            (_, services) => Err(Refusal { errors, services: services.as_deref().map(ids) }),
        }
    }

    /// Reads the fields to change; an absent field stays as it is.
    ///
    /// # Errors
    /// Every field error at once.
    pub fn patch(self) -> Result<OrderPatch, Refusal> {
        let (mut errors, read_time) = (self.errors, self.read_time);
        let datetime = self.datetime.and_then(|raw| collect(&mut errors, "datetime", fields::datetime(raw, read_time)));
        let totalfee = self.totalfee.and_then(|raw| collect(&mut errors, "totalfee", fields::totalfee(raw)));
        let services = self.services.and_then(|raw| fields::services(&raw, &mut errors)).as_deref().map(ids);
        match errors.is_empty() {
            true => Ok(OrderPatch { datetime, totalfee, services }),
            false => Err(Refusal { errors, services }),
        }
    }
}

/// Keeps a field's value, or its error in `errors` under `field`.
pub fn collect<T>(errors: &mut Vec<FieldError>, field: &str, result: Result<T, String>) -> Option<T> {
    result.map_err(|message| errors.push(FieldError::new(field, message))).ok()
}

fn required<T>(errors: &mut Vec<FieldError>, field: &str, raw: Option<T>) -> Option<T> {
    if raw.is_none() {
        errors.push(FieldError::new(field, messages::REQUIRED));
    }
    raw
}

fn ids(services: &[ServiceRef]) -> Vec<i64> {
    services.iter().map(|s| s.id).collect()
}
