//! An order body as the domain read it, with the store's word on its services: shared by
//! `POST /orders` and `PUT`/`PATCH /orders/{id}`.

use serde_json::{Map, Value};

use crate::domain::{FieldError, input};
use crate::error::Error;
use crate::store::Store;

/// A body the domain read, or every field error at once: unknown services (which only the
/// store knows) beside the domain's own.
pub(super) async fn checked<T>(
    store: &Store,
    body: &Map<String, Value>,
    parsed: Result<T, Vec<FieldError>>,
) -> Result<T, Error> {
    match parsed {
        Ok(value) => Ok(value),
        Err(errors) => Err(store.invalid(errors, input::service_ids(body).as_deref()).await),
    }
}
