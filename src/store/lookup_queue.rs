//! The queue behind shared lookups (`lookups`): the lookups waiting for a statement, the
//! statement slots, and the counts the metrics report. It knows nothing of the store, so the
//! store's handle can own one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{Semaphore, oneshot};

use crate::domain::Order;
use crate::error::{Error, Result};

/// The most lookup statements at once: one in the database while the next is on the wire.
/// On this project's 2-core benchmark machine one slot gave 1.5× pgbench's rate for the
/// single-id statement, two 1.3×, eight (a statement per read connection) 0.75×: the fewer
/// the statements, the more lookups each carries and the fewer times a backend wakes. One
/// alone would cap the rate at [`BATCH`] lookups per round trip to a distant database.
const SLOTS: usize = 2;

/// A queued lookup: the id, and where its answer goes (a failed statement's error is shared by
/// every lookup it answered).
pub(super) type Waiter = (i64, oneshot::Sender<Result<Option<Order>, Arc<Error>>>);

/// The queued lookups and the statement slots.
pub(super) struct Lookups {
    waiting: Mutex<Vec<Waiter>>,
    pub(super) slots: Arc<Semaphore>,
    /// Lookups answered, and the statements that answered them, for the metrics.
    pub(super) answered: AtomicU64,
    pub(super) statements: AtomicU64,
}

impl std::fmt::Debug for Lookups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lookups").field("slots", &self.slots.available_permits()).finish_non_exhaustive()
    }
}

impl Lookups {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            waiting: Mutex::new(Vec::new()),
            slots: Arc::new(Semaphore::new(SLOTS)),
            answered: AtomicU64::new(0),
            statements: AtomicU64::new(0),
        })
    }

    /// (lookups answered, statements that answered them) since the store opened.
    pub(super) fn counts(&self) -> (u64, u64) {
        (self.answered.load(Ordering::Relaxed), self.statements.load(Ordering::Relaxed))
    }

    pub(super) fn waiting(&self) -> std::sync::MutexGuard<'_, Vec<Waiter>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
