//! The order book: every operation the dashboard and the record commands perform on orders and
//! the service catalogue, as one interface with two implementations. [`local::LocalBook`] runs them on
//! the store in this process (SQLite or PostgreSQL opened directly), writing history in the
//! name of the local user; [`crate::remote::RemoteBook`] runs them through `orders serve`,
//! where the token's subject is the actor, and fails with the same errors. The dashboard and the commands take any
//! [`OrderBook`] and cannot tell which one they hold; SQL stays in `store/`, HTTP in the client.

pub mod local;

use std::future::Future;

use futures_util::stream::BoxStream;

use crate::domain::{Event, FieldError, NewOrder, Order, OrderFilter, OrderPatch, Service, SortOrder};
use crate::store::OrderQuery;
use crate::{Error, Result};

/// What can be done to orders and the catalogue, wherever they are kept. Every write is made
/// in the book's own name (the local user, or the token's subject).
pub trait OrderBook: Clone + Send + Sync + 'static {
    /// One order.
    fn get_order(&self, id: i64) -> impl Future<Output = Result<Order>> + Send;
    /// One page of a listing (keyset paging: `query.after`, `query.limit`).
    fn list_orders(&self, query: &OrderQuery) -> impl Future<Output = Result<Vec<Order>>> + Send;
    /// Every order `query` selects, in its sort, page by page as the consumer reads.
    fn stream_orders(&self, query: OrderQuery) -> BoxStream<'static, Result<Order>>;
    /// Every order, ascending by id (`orders export`). The store reads them in one snapshot;
    /// by default, the listing in that sort.
    fn export_orders(&self) -> BoxStream<'static, Result<Order>> {
        self.stream_orders(OrderQuery { sort: SortOrder::IdAsc, ..OrderQuery::default() })
    }
    /// How many orders `filter` selects.
    fn count_orders(&self, filter: &OrderFilter) -> impl Future<Output = Result<i64>> + Send;
    /// Creates an order; the scheduling rule is checked.
    fn create_order(&self, new: &NewOrder) -> impl Future<Output = Result<Order>> + Send;
    /// Changes the fields `patch` gives, when the order is still at `if_version` (if given).
    /// An empty patch changes nothing (no new version, no history event) and returns the
    /// order as it is, as the API's empty merge patch does.
    fn update_order(
        &self,
        id: i64,
        patch: &OrderPatch,
        if_version: Option<i64>,
    ) -> impl Future<Output = Result<Order>> + Send;
    /// Deletes an order, when it is still at `if_version` (if given).
    fn delete_order(&self, id: i64, if_version: Option<i64>) -> impl Future<Output = Result<()>> + Send;
    /// Every event of one order, oldest first.
    fn history(&self, order_id: i64) -> impl Future<Output = Result<Vec<Event>>> + Send;
    /// The catalogue, by id.
    fn list_services(&self) -> impl Future<Output = Result<Vec<Service>>> + Send;
    /// One service.
    fn get_service(&self, id: i64) -> impl Future<Output = Result<Service>> + Send;
    /// Adds a service (with the given id, or the next one).
    fn add_service(&self, id: Option<i64>, name: &str) -> impl Future<Output = Result<Service>> + Send;
    /// Renames a service.
    fn rename_service(&self, id: i64, name: &str) -> impl Future<Output = Result<Service>> + Send;
    /// Deletes a service no order uses.
    fn delete_service(&self, id: i64) -> impl Future<Output = Result<Service>> + Send;
    /// The input's field errors as one [`Error::Invalid`], with every unknown service among
    /// `services` named too, so a caller hears of every field error at once.
    fn invalid(&self, errors: Vec<FieldError>, services: Option<&[i64]>) -> impl Future<Output = Error> + Send;
}
