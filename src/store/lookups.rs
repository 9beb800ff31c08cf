//! One order by id, with concurrent lookups sharing a statement.
//!
//! Measured gain (sqlx 0.9.1, release build, PostgreSQL 15 sharing the benchmark's 2 cores,
//! 50k orders, wrk `GET /orders/{id}` at 32 connections, two rounds side by side): 22.3k and
//! 20.7k requests/s with shared statements, 12.6k and 9.8k with one statement per lookup
//! (p99 5.7-8.3 ms against 25-83 ms): 1.8-2.1x. Delete this module (`get_order` then reads its
//! one id through `Store::read`) when that A/B shows less than 10 %: where the database has
//! cores to spare, a backend woken per lookup costs little.
//!
//! Every `GET /orders/{id}` used to be its own statement: a round trip to the database, and
//! on PostgreSQL a backend woken for one row. Under load most of that is overhead (waking the
//! backend, the protocol, the statement's executor start-up), so lookups that wait at the
//! same time now go out together: `WHERE o.id IN (…)`, at most [`BATCH`] ids a statement and
//! at most [`SLOTS`] statements at once. A lookup that arrives while a slot is free starts a
//! statement at once with its one id, so nothing waits to be batched; the others queue, and
//! the next statement takes every one of them (the list padded to a power of two by
//! repeating its last id, so each connection prepares six statements, not thirty-two).
//! Each lookup still sees the orders as they were at some moment between its arrival and
//! its answer, as a statement of its own would: it is read by a statement that started
//! after it was queued.
//!
//! The statements run on their own task, so a caller that goes away (a client that hung up)
//! cancels only its own wait, never the statement others wait on.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::{OwnedSemaphorePermit, oneshot};

use super::Store;
use super::lookup_queue::Waiter;
use super::orders::fetch_orders;
use crate::domain::Order;
use crate::error::{Error, Result};

/// The most ids one statement asks for.
const BATCH: usize = 32;

impl Store {
    /// The order `id`, or `None`: queued, and read by the next statement with a free slot.
    pub(super) async fn look_up(&self, id: i64) -> Result<Option<Order>> {
        let (answer, answered) = oneshot::channel();
        self.lookups.waiting().push((id, answer));
        self.start_lookups();
        match answered.await {
            Ok(answer) => answer.map_err(owned),
            Err(_) => Err(Error::Internal(format!("the lookup of order {id} was abandoned").into())),
        }
    }

    /// Starts a statement task when lookups wait and a slot is free. (Outside a runtime, as
    /// while one shuts down and drops its tasks, nobody is left to answer.)
    fn start_lookups(&self) {
        if self.lookups.waiting().is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        if let Ok(permit) = Arc::clone(&self.lookups.slots).try_acquire_owned() {
            let slot = Slot { store: self.clone(), permit: Some(permit) };
            runtime.spawn(slot.run());
        }
    }
}

/// A statement slot, held by the task that answers queued lookups.
struct Slot {
    store: Store,
    permit: Option<OwnedSemaphorePermit>,
}

impl Slot {
    /// Answers queued lookups, [`BATCH`] at a time, until none wait.
    async fn run(self) {
        let store = &self.store;
        loop {
            let batch: Vec<Waiter> = {
                let mut waiting = store.lookups.waiting();
                let oldest = waiting.len().min(BATCH);
                waiting.drain(..oldest).collect()
            };
            if batch.is_empty() {
                break;
            }
            let ids = padded_ids(&batch);
            let backend = store.backend;
            let found = store.read(|conn| fetch_orders(conn, backend, &ids)).await;
            store.lookups.statements.fetch_add(1, Ordering::Relaxed);
            store.lookups.answered.fetch_add(batch.len() as u64, Ordering::Relaxed);
            answer(batch, found);
        }
    }
}

impl Drop for Slot {
    /// Frees the slot however the task ended (even by a panic), then starts a statement for
    /// any lookup queued after the last batch was taken, which found no free slot.
    fn drop(&mut self) {
        drop(self.permit.take());
        self.store.start_lookups();
    }
}

/// The batch's ids, the last repeated up to the next power of two (`IN` ignores repeats).
fn padded_ids(batch: &[Waiter]) -> Vec<i64> {
    let mut ids: Vec<i64> = batch.iter().map(|(id, _)| *id).collect();
    let last = *ids.last().expect("a batch is never empty");
    ids.resize(ids.len().next_power_of_two(), last);
    ids
}

/// Hands each waiter its order (or `None`, or the statement's error).
fn answer(mut batch: Vec<Waiter>, found: Result<Vec<Order>>) {
    let mut found = match found {
        Ok(found) => found,
        Err(err) => {
            let err = Arc::new(err);
            for (_, answer) in batch {
                let _ = answer.send(Err(Arc::clone(&err)));
            }
            return;
        }
    };
    while let Some((id, answer)) = batch.pop() {
        let asked_again = batch.iter().any(|(other, _)| *other == id);
        let order = match found.iter().position(|order| order.id == id) {
            Some(at) if asked_again => Some(found[at].clone()),
            Some(at) => Some(found.swap_remove(at)),
            None => None,
        };
        let _ = answer.send(Ok(order)); // the caller may have gone: nobody to tell
    }
}

/// A failed statement's error as told to one lookup it answered: the error itself to the last
/// one, the same kind of error with the same text to the others (a read fails as unavailable,
/// busy or internal only).
fn owned(shared: Arc<Error>) -> Error {
    Arc::try_unwrap(shared).unwrap_or_else(|shared| match &*shared {
        Error::Busy(why) => Error::Busy(why.clone()),
        Error::Unavailable(_) => Error::Unavailable(Box::new(Shared(shared))),
        _ => Error::Internal(Box::new(Shared(shared))),
    })
}

/// A cause shared by several errors: says what the shared error's own cause says.
#[derive(Debug)]
struct Shared(Arc<Error>);

impl Shared {
    fn cause(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        match &*self.0 {
            Error::Unavailable(cause) | Error::Internal(cause) => &**cause,
            other => other,
        }
    }
}

impl std::fmt::Display for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self.cause(), f)
    }
}

impl std::error::Error for Shared {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause().source()
    }
}
