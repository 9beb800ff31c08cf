//! Connections for single-statement reads, kept out of the pool.
//!
//! Measured gain (sqlx 0.9.1, the setup of `lookups`' A/B): 22.3k and 20.7k requests/s of
//! `GET /orders/{id}` with these connections, 18.9k and 16.8k with reads on the pool (p99
//! 5.7-8.3 ms against 7.8-10.2 ms): 1.2x. Delete this module (reads then take a pooled
//! connection) when sqlx no longer pings a connection as it goes back to its pool (sqlx-core's
//! `return_to_pool`: check at each sqlx upgrade), or when that A/B shows less than 10 %.
//!
//! sqlx 0.9 pings every connection it takes back into its pool (`PoolConnection` drop →
//! `return_to_pool` → `ping`), whatever the pool options say: on PostgreSQL a full round trip
//! (Sync → ReadyForQuery) after every statement, which doubled the database work of
//! `GET /orders/{id}`. Reads therefore use a small set of their own: connections taken from
//! the pool once and detached from it, lent to one read at a time (at most `capacity` at
//! once, waiting like a pool acquire), and put back without a ping when the read completed.
//! Only reads use them: no transaction (and so no lock) can ever be left open on one. A read
//! that fails or is cancelled midway drops its connection, and a later read opens another;
//! `Store::read` retries a read that found its idle connection dead (after a database restart).

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection as _};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{Error, Result};

/// How long a read waits for a connection; the pool's acquire timeout too.
pub(super) const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// The read connections: `capacity` permits, and the idle connections.
pub(super) struct Stash {
    idle: Mutex<Vec<AnyConnection>>,
    permits: Arc<Semaphore>,
    capacity: usize,
}

impl std::fmt::Debug for Stash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stash").field("capacity", &self.capacity).finish_non_exhaustive()
    }
}

impl Stash {
    /// At most `capacity` read connections (0: reads use the pool, with its ping).
    pub(super) fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            idle: Mutex::new(Vec::with_capacity(capacity)),
            permits: Arc::new(Semaphore::new(capacity)),
            capacity,
        })
    }

    /// A connection for one read: an idle one, else a new one detached from the pool.
    pub(super) async fn take(self: &Arc<Self>, pool: &AnyPool) -> Result<Reader> {
        if self.capacity == 0 {
            let conn = Conn::Pooled(pool.acquire().await?);
            return Ok(Reader { conn: Some(conn), stash: Arc::clone(self), permit: None, done: false });
        }
        let permit = tokio::time::timeout(ACQUIRE_TIMEOUT, Arc::clone(&self.permits).acquire_owned())
            .await
            .map_err(|_| Error::Unavailable("timed out waiting for a database connection".into()))?
            .map_err(|_| Error::Unavailable("the store is closed".into()))?;
        let idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => pool.acquire().await?.detach(),
        };
        let conn = Some(Conn::Detached(conn));
        Ok(Reader { conn, stash: Arc::clone(self), permit: Some(permit), done: false })
    }

    /// How many read connections there may be at once.
    pub(super) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Closes every idle read connection and refuses further reads (before the pool closes).
    pub(super) async fn close(&self) {
        self.permits.close();
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(PoisonError::into_inner));
        for conn in idle {
            let _ = conn.close().await;
        }
    }
}

enum Conn {
    Pooled(PoolConnection<Any>),
    Detached(AnyConnection),
}

/// A connection lent for one read; [`Reader::done`] once the read succeeded puts it back
/// for the next one.
pub(super) struct Reader {
    conn: Option<Conn>,
    stash: Arc<Stash>,
    permit: Option<OwnedSemaphorePermit>,
    done: bool,
}

impl Reader {
    /// The read completed: the connection is idle and may serve the next read.
    pub(super) fn done(&mut self) {
        self.done = true;
    }
}

impl Deref for Reader {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match self.conn.as_ref().expect("a reader holds its connection until dropped") {
            Conn::Pooled(conn) => conn,
            Conn::Detached(conn) => conn,
        }
    }
}

impl DerefMut for Reader {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self.conn.as_mut().expect("a reader holds its connection until dropped") {
            Conn::Pooled(conn) => conn,
            Conn::Detached(conn) => conn,
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        // A pooled connection goes back through sqlx's release; a detached one that failed or
        // was cancelled midway is closed without ceremony, as sqlx does with a broken one.
        if let (Some(Conn::Detached(conn)), true) = (self.conn.take(), self.done) {
            self.stash.idle.lock().unwrap_or_else(PoisonError::into_inner).push(conn);
        }
        drop(self.permit.take()); // only once the connection is back
    }
}
