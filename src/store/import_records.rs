//! What both ways of importing share: the catalogue as records see it, turning a record into
//! an order, and the errors that name a record.

use std::collections::HashMap;
use std::time::Duration;

use crate::domain::service::name_key;
use crate::domain::{NewOrder, Order, Service, ServiceRef, Timestamp};
use crate::error::{Error, Result};

/// What an import or a seed wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Orders created.
    pub orders: u64,
    /// Services created.
    pub services: u64,
}

/// Why an import wrote nothing: the first bad record (1-based; `None` when the failure was not
/// about a record) and what was wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{}{error}", record.map(|n| format!("record {n}: ")).unwrap_or_default())]
pub struct ImportError {
    /// The 1-based number of the record (a line, or an array element).
    pub record: Option<usize>,
    /// What was wrong.
    pub error: Error,
}

impl ImportError {
    pub(super) fn at(record: usize, error: Error) -> Self {
        Self { record: Some(record), error }
    }

    pub(super) fn outside(error: Error) -> Self {
        Self { record: None, error }
    }
}

/// The catalogue as seen inside one import transaction, with the services its records name
/// that are not stored yet.
pub(super) struct Catalogue {
    names: HashMap<i64, String>,
    ids_by_key: HashMap<String, i64>,
    /// Services to create, each with the record that named it first, in that order.
    pub(super) created: Vec<(usize, Service)>,
}

impl Catalogue {
    /// The catalogue of these stored services.
    pub(super) fn new(services: Vec<Service>) -> Self {
        let ids_by_key = services.iter().map(|s| (name_key(&s.name), s.id)).collect();
        let names = services.into_iter().map(|s| (s.id, s.name)).collect();
        Self { names, ids_by_key, created: Vec::new() }
    }

    /// The service a record names, known under that id and name, or to be created (added to
    /// [`Catalogue::created`]) when neither is known.
    pub(super) fn resolve(&mut self, record: usize, service: &ServiceRef) -> Result<Service> {
        let id = service.id;
        match (self.names.get(&id), &service.name) {
            (Some(known), Some(name)) if name_key(known) != name_key(name) => {
                Err(Error::Duplicate(format!("service {id} is known as {known:?}, not {name:?}")))
            }
            (Some(known), _) => Ok(Service { id, name: known.clone() }),
            (None, None) => Err(Error::invalid(
                "services",
                format!("unknown service id {id} (give its name, {{\"id\": {id}, \"name\": …}}, to create it)"),
            )),
            (None, Some(name)) => {
                if let Some(other) = self.ids_by_key.get(&name_key(name)) {
                    return Err(Error::Duplicate(format!("a service named {name:?} already exists (id {other})")));
                }
                self.ids_by_key.insert(name_key(name), id);
                self.names.insert(id, name.clone());
                let service = Service { id, name: name.clone() };
                self.created.push((record, service.clone()));
                Ok(service)
            }
        }
    }
}

/// Turns records into the orders an import writes.
pub(super) struct NewOrders {
    pub(super) catalogue: Catalogue,
    next_id: i64,
    /// Every order's `created_at` and `updated_at`, and its event's `at`.
    pub(super) now: Timestamp,
}

impl NewOrders {
    /// Orders for a store with this catalogue whose next free id is `next_id`.
    pub(super) fn new(catalogue: Catalogue, next_id: i64) -> Self {
        Self { catalogue, next_id, now: Timestamp::now() }
    }

    /// The order a record becomes: its services resolved (to be created when named and new),
    /// its id kept or assigned above every id seen so far.
    pub(super) fn order(&mut self, record: usize, parsed: Result<NewOrder>) -> Result<Order> {
        let new = parsed?;
        let datetime = new.datetime.ok_or_else(|| Error::invalid("datetime", "is required"))?;
        let services = new.services.iter().map(|s| self.catalogue.resolve(record, s)).collect::<Result<Vec<_>>>()?;
        let id = new.id.unwrap_or(self.next_id);
        self.next_id = self.next_id.max(id.saturating_add(1));
        let now = self.now;
        Ok(Order { id, datetime, totalfee: new.totalfee, services, version: 1, created_at: now, updated_at: now })
    }
}

/// The scheduling rule's failure for `record`, whose order at `datetime` is too close to the
/// nearest earlier one (stored, or from an earlier record).
pub(super) fn too_close(record: usize, earlier: (i64, i64), datetime: i64, min_gap: Duration) -> ImportError {
    let (conflicting_id, at) = earlier;
    ImportError::at(
        record,
        Error::Schedule {
            conflicting_id,
            conflicting_datetime: Timestamp::from_millis(at),
            datetime: Timestamp::from_millis(datetime),
            min_gap,
        },
    )
}

/// The failure for `record`, whose order id history has seen (an order has it or had it) or
/// repeats an earlier record's.
pub(super) fn taken(record: usize, id: i64) -> ImportError {
    // Both checks find every case at once (earlier records are staged or written by then).
    ImportError::at(
        record,
        Error::Duplicate(format!(
            "order {id} already exists or existed (ids are never reused), or an earlier record has its id"
        )),
    )
}
