//! Single reads, run again on another connection when the one they got had died while idle.

use futures_util::future::BoxFuture;
use sqlx::AnyConnection;

use super::Store;
use crate::error::{Error, Result};

impl Store {
    /// Runs one read on a read connection (see `reader`). A connection that sat idle — in the
    /// read stash or in the pool — may have died meanwhile (a database restart, an idle
    /// timeout): when the read fails as unavailable midway, that connection is dropped and the
    /// read runs again on another. Each dead connection costs one try, so the tries are bounded
    /// by how many connections there can be; failing to get a connection at all is final.
    pub(super) async fn read<T>(
        &self,
        read: impl for<'c> Fn(&'c mut AnyConnection) -> BoxFuture<'c, Result<T>>,
    ) -> Result<T> {
        let mut tries = self.readers.capacity() + self.pool.options().get_max_connections() as usize + 1;
        loop {
            let mut conn = self.readers.take(&self.pool).await?;
            match read(&mut conn).await {
                Ok(value) => {
                    conn.done();
                    return Ok(value);
                }
                Err(Error::Unavailable(_)) if tries > 1 => tries -= 1,
                Err(err) => return Err(err),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::store::StoreOptions;

    #[tokio::test]
    async fn a_read_that_found_its_connection_dead_runs_again_and_other_failures_are_final() {
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        let options = StoreOptions {
            max_connections: 2,
            auto_migrate: false,
            min_gap: Duration::ZERO,
            ..StoreOptions::default()
        };
        let store = Store::connect("sqlite::memory:", &options).await.unwrap();
        let calls = AtomicUsize::new(0);
        let value = store
            .read(|_| {
                let call = calls.fetch_add(1, SeqCst);
                Box::pin(async move { if call == 0 { Err(Error::Unavailable("gone".into())) } else { Ok(call) } })
            })
            .await
            .unwrap();
        assert_eq!((value, calls.load(SeqCst)), (1, 2));
        calls.store(0, SeqCst);
        let failed = store
            .read(|_| {
                calls.fetch_add(1, SeqCst);
                Box::pin(async { Err::<(), _>(Error::Internal("a bad statement".into())) })
            })
            .await;
        assert!(matches!(failed, Err(Error::Internal(_))));
        assert_eq!(calls.load(SeqCst), 1, "only a dead connection is worth another try");
    }
}
