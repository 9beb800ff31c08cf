//! An order body as the domain read it, with the store's word on its services: shared by
//! `POST /orders` and `PUT`/`PATCH /orders/{id}`.

use crate::domain::input::Refusal;
use crate::error::Error;
use crate::store::Store;

/// A body the domain read, or every field error at once: unknown services (which only the
/// store knows) beside the domain's own.
pub(super) async fn checked<T>(store: &Store, parsed: Result<T, Refusal>) -> Result<T, Error> {
    match parsed {
        Ok(value) => Ok(value),
        Err(refused) => Err(store.invalid(refused.errors, refused.services.as_deref()).await),
    }
}
