//! Bulk loading: `import` (all records in one transaction, all or nothing) and `seed` (the
//! sample catalogue and orders, idempotently). Both create the services records name and keep
//! the scheduling rule.

use std::collections::HashMap;

use sqlx::AnyConnection;

use super::Store;
use super::history::append_event;
use super::orders::{insert_order, next_order_id};
use super::services::insert_service;
use crate::domain::service::name_key;
use crate::domain::{EventKind, Money, NewOrder, ServiceRef, Timestamp};
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

/// The sample catalogue of `orders seed`.
const SAMPLE_SERVICES: [(i64, &str); 3] = [(123, "Inspection"), (789, "Testing"), (456, "Analysis")];
/// The sample orders of `orders seed`: id, datetime, fee in cents, service; 3 h apart.
const SAMPLE_ORDERS: [(i64, &str, i64, i64); 3] = [
    (223, "2022-11-01T11:11:11.111Z", 10_000, 123),
    (224, "2022-11-01T14:11:11.111Z", 10_000, 789),
    (225, "2022-11-01T17:11:11.111Z", 10_000, 456),
];

/// The catalogue as seen inside one import transaction, with the services it created.
struct Catalogue {
    names: HashMap<i64, String>,
    ids_by_key: HashMap<String, i64>,
}

impl Catalogue {
    async fn load(conn: &mut AnyConnection) -> Result<Self> {
        let rows: Vec<(i64, String)> = sqlx::query_as("SELECT id, name FROM services").fetch_all(conn).await?;
        let ids_by_key = rows.iter().map(|(id, name)| (name_key(name), *id)).collect();
        Ok(Self { names: rows.into_iter().collect(), ids_by_key })
    }

    /// Makes sure the service a record names exists under that id and name, creating it when
    /// neither is known. Returns whether it was created.
    async fn resolve(&mut self, conn: &mut AnyConnection, service: &ServiceRef) -> Result<bool> {
        let id = service.id;
        match (self.names.get(&id), &service.name) {
            (Some(known), Some(name)) if name_key(known) != name_key(name) => {
                Err(Error::Duplicate(format!("service {id} is known as {known:?}, not {name:?}")))
            }
            (Some(_), _) => Ok(false),
            (None, None) => Err(Error::invalid(
                "services",
                format!("unknown service id {id} (give its name, {{\"id\": {id}, \"name\": …}}, to create it)"),
            )),
            (None, Some(name)) => {
                if let Some(other) = self.ids_by_key.get(&name_key(name)) {
                    return Err(Error::Duplicate(format!("a service named {name:?} already exists (id {other})")));
                }
                insert_service(conn, id, name).await?;
                self.ids_by_key.insert(name_key(name), id);
                self.names.insert(id, name.clone());
                Ok(true)
            }
        }
    }
}

impl Store {
    /// Imports records as new orders in one transaction: every one is written, or none.
    ///
    /// Each record keeps its id (or gets the next free one), datetime, fee and services, starts
    /// at version 1 and gets one `created` event by `actor`. A record whose parsing failed is
    /// passed in as its error, so the failure names it.
    ///
    /// # Errors
    /// The first bad record and why: invalid, an existing order id, a service known under
    /// another name, or the scheduling rule.
    pub async fn import<I>(&self, records: I, actor: &str) -> Result<ImportReport, ImportError>
    where
        I: IntoIterator<Item = (usize, Result<NewOrder>)>,
    {
        let outside = |error| ImportError { record: None, error };
        let mut tx = self.begin_write().await.map_err(outside)?;
        let mut catalogue = Catalogue::load(&mut tx).await.map_err(outside)?;
        let mut report = ImportReport::default();
        for (record, parsed) in records {
            let written = match parsed {
                Ok(new) => self.import_one(&mut tx, &mut catalogue, &new, actor).await,
                Err(error) => Err(error),
            };
            let created = written.map_err(|error| ImportError { record: Some(record), error })?;
            report.orders += 1;
            report.services += created;
        }
        tx.commit().await.map_err(|e| outside(e.into()))?;
        Ok(report)
    }

    /// Loads the sample catalogue and orders; what is already there is left alone, so running
    /// it twice changes nothing.
    ///
    /// # Errors
    /// When a sample service's name belongs to another id, or a sample order conflicts with an
    /// existing order under the scheduling rule.
    pub async fn seed(&self, actor: &str) -> Result<ImportReport> {
        let mut tx = self.begin_write().await?;
        let mut catalogue = Catalogue::load(&mut tx).await?;
        let mut report = ImportReport::default();
        for (id, name) in SAMPLE_SERVICES {
            report.services +=
                u64::from(catalogue.resolve(&mut tx, &ServiceRef { id, name: Some(name.to_owned()) }).await?);
        }
        for (id, datetime, cents, service) in SAMPLE_ORDERS {
            let exists: Option<i64> =
                sqlx::query_scalar("SELECT id FROM orders WHERE id = $1").bind(id).fetch_optional(&mut *tx).await?;
            if exists.is_some() {
                continue;
            }
            let new = NewOrder {
                id: Some(id),
                datetime: Some(Timestamp::parse(datetime).map_err(Error::Internal)?),
                totalfee: Money::from_cents(cents),
                services: vec![ServiceRef { id: service, name: None }],
            };
            self.import_one(&mut tx, &mut catalogue, &new, actor).await?;
            report.orders += 1;
        }
        tx.commit().await?;
        Ok(report)
    }

    /// Writes one record; returns how many services it created.
    async fn import_one(
        &self,
        conn: &mut AnyConnection,
        catalogue: &mut Catalogue,
        new: &NewOrder,
        actor: &str,
    ) -> Result<u64> {
        let mut created = 0;
        for service in &new.services {
            created += u64::from(catalogue.resolve(conn, service).await?);
        }
        let datetime = new.datetime.ok_or_else(|| Error::invalid("datetime", "is required"))?;
        self.check_gap(conn, datetime, None).await?;
        let id = match new.id {
            Some(id) => id,
            None => next_order_id(conn).await?,
        };
        let service_ids: Vec<i64> = new.services.iter().map(|s| s.id).collect();
        let order = insert_order(conn, self.backend, id, datetime, new.totalfee, &service_ids).await?;
        append_event(conn, EventKind::Created, &order, actor).await?;
        Ok(created)
    }
}
