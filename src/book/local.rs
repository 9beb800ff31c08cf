//! [`OrderBook`] on the store in this process: each call is the store's own, with writes
//! recorded in history under the book's actor (`cli:<user>`, `tui:<user>`).

use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;

use super::OrderBook;
use crate::domain::{Event, FieldError, NewOrder, Order, OrderFilter, OrderPatch, Service};
use crate::store::{OrderQuery, Store};
use crate::{Error, Result};

/// The store, and the name its writes are made in.
#[derive(Debug, Clone)]
pub struct LocalBook {
    store: Store,
    actor: String,
}

impl LocalBook {
    /// A book on `store` whose writes name `actor` in history.
    pub fn new(store: Store, actor: impl Into<String>) -> Self {
        Self { store, actor: actor.into() }
    }

    /// The store underneath, for what only a local store does (migrate, import, the rule).
    pub fn store(&self) -> &Store {
        &self.store
    }
}

impl OrderBook for LocalBook {
    async fn get_order(&self, id: i64) -> Result<Order> {
        self.store.get_order(id).await
    }

    async fn list_orders(&self, query: &OrderQuery) -> Result<Vec<Order>> {
        self.store.list_orders(query).await
    }

    fn stream_orders(&self, query: OrderQuery) -> BoxStream<'static, Result<Order>> {
        self.store.stream_orders(query).boxed()
    }

    fn export_orders(&self) -> BoxStream<'static, Result<Order>> {
        self.store.export_orders().boxed()
    }

    async fn count_orders(&self, filter: &OrderFilter) -> Result<i64> {
        self.store.count_orders(filter).await
    }

    async fn create_order(&self, new: &NewOrder) -> Result<Order> {
        self.store.create_order(new, &self.actor).await
    }

    async fn update_order(&self, id: i64, patch: &OrderPatch, if_version: Option<i64>) -> Result<Order> {
        self.store.update_order(id, patch, if_version, &self.actor).await
    }

    async fn delete_order(&self, id: i64, if_version: Option<i64>) -> Result<()> {
        self.store.delete_order(id, if_version, &self.actor).await
    }

    async fn history(&self, order_id: i64) -> Result<Vec<Event>> {
        self.store.history(order_id).await
    }

    async fn list_services(&self) -> Result<Vec<Service>> {
        self.store.list_services().await
    }

    async fn get_service(&self, id: i64) -> Result<Service> {
        self.store.get_service(id).await
    }

    async fn add_service(&self, id: Option<i64>, name: &str) -> Result<Service> {
        self.store.add_service(id, name).await
    }

    async fn rename_service(&self, id: i64, name: &str) -> Result<Service> {
        self.store.rename_service(id, name).await
    }

    async fn delete_service(&self, id: i64) -> Result<Service> {
        self.store.delete_service(id).await
    }

    async fn invalid(&self, errors: Vec<FieldError>, services: Option<&[i64]>) -> Error {
        self.store.invalid(errors, services).await
    }
}
