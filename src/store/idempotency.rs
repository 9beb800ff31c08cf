//! Idempotency keys of `POST /orders`: the first completed response to a (subject, key) is
//! kept for 24 hours and replayed for a repeat.
//!
//! A create and its key are written in one transaction under the store's write lock, and the
//! key is looked up again inside that transaction, so two identical requests racing each other
//! create one order: the second finds the first's key once it holds the lock.
//!
//! The table's growth is bounded twice (SPEC section 8): a key expires after
//! [`IDEMPOTENCY_TTL`] and each new key purges expired ones (up to `PURGE_BATCH` a time), and
//! a subject holds at most [`IDEMPOTENCY_KEYS_PER_SUBJECT`], its oldest going first.

use std::time::Duration;

use sqlx::AnyConnection;

use super::{PURGE_BATCH, Store};
use crate::domain::{NewOrder, Order, Timestamp};
use crate::error::{Error, Result, because};

/// How long a key is remembered.
pub const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 3600);

/// The most keys one subject holds: storing another drops its oldest. A client retries a
/// request within minutes, so its last thousand keys cover every retry any sane client makes;
/// a runaway one (a new key per request, up to `server.rate_limit` a second) costs at most this
/// many rows (each holding a response of at most an order's size) instead of a day's worth.
pub const IDEMPOTENCY_KEYS_PER_SUBJECT: i64 = 1000;

/// Which request a key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// The token subject (keys are scoped to it).
    pub subject: String,
    /// The `Idempotency-Key` header.
    pub key: String,
    /// A hash of the request body, to tell a repeat from a different request.
    pub request_hash: String,
}

/// A response as it is kept and replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// The HTTP status.
    pub status: u16,
    /// The headers worth replaying (`Location`, `ETag`, `Content-Type`).
    pub headers: Vec<(String, String)>,
    /// The body text.
    pub body: String,
}

/// A remembered key: the body hash it was first used with and its response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    /// The first request's body hash.
    pub request_hash: String,
    /// The first completed response.
    pub response: StoredResponse,
}

/// What an idempotent create did.
#[derive(Debug, Clone)]
pub enum CreateOnce {
    /// It created the order; this response is now remembered.
    Created(StoredResponse),
    /// The key was already used: nothing was written.
    Replayed(Remembered),
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    request_hash: String,
    status: i64,
    headers: String,
    body: String,
}

impl KeyRow {
    fn into_remembered(self) -> Result<Remembered> {
        let headers = serde_json::from_str(&self.headers)
            .map_err(|e| Error::Internal(because(format!("unreadable idempotency headers: {e}"), e)))?;
        let status =
            u16::try_from(self.status).map_err(|e| Error::Internal(because(format!("bad stored status: {e}"), e)))?;
        Ok(Remembered {
            request_hash: self.request_hash,
            response: StoredResponse { status, headers, body: self.body },
        })
    }
}

fn cutoff() -> i64 {
    Timestamp::now().millis() - i64::try_from(IDEMPOTENCY_TTL.as_millis()).unwrap_or(i64::MAX)
}

async fn find(conn: &mut AnyConnection, subject: &str, key: &str) -> Result<Option<Remembered>> {
    let row: Option<KeyRow> = sqlx::query_as(
        "SELECT request_hash, status, headers, body FROM idempotency_keys \
         WHERE subject = $1 AND key = $2 AND created_at > $3",
    )
    .bind(subject)
    .bind(key)
    .bind(cutoff())
    .fetch_optional(conn)
    .await?;
    row.map(KeyRow::into_remembered).transpose()
}

/// Stores `key` with its response, for a key [`find`] just did not find under the write lock:
/// a row still stored under it has expired (the purge is bounded, so it may not have gone yet)
/// and is replaced.
async fn insert(conn: &mut AnyConnection, key: &IdempotencyKey, response: &StoredResponse) -> Result<()> {
    sqlx::query(
        "DELETE FROM idempotency_keys WHERE (subject, key) IN \
         (SELECT subject, key FROM idempotency_keys WHERE created_at <= $1 ORDER BY created_at LIMIT $2)",
    )
    .bind(cutoff())
    .bind(PURGE_BATCH)
    .execute(&mut *conn)
    .await?;
    let headers = serde_json::to_string(&response.headers).map_err(|e| Error::Internal(e.into()))?;
    sqlx::query(
        "INSERT INTO idempotency_keys (subject, key, request_hash, status, headers, body, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (subject, key) DO UPDATE SET \
         request_hash = excluded.request_hash, status = excluded.status, headers = excluded.headers, \
         body = excluded.body, created_at = excluded.created_at",
    )
    .bind(&key.subject)
    .bind(&key.key)
    .bind(&key.request_hash)
    .bind(i64::from(response.status))
    .bind(headers)
    .bind(&response.body)
    .bind(Timestamp::now().millis())
    .execute(&mut *conn)
    .await?;
    // The subject's oldest keys beyond its bound: those at or below its bound-th newest.
    sqlx::query(
        "DELETE FROM idempotency_keys WHERE subject = $1 AND (created_at, key) <= \
         (SELECT created_at, key FROM idempotency_keys WHERE subject = $1 \
         ORDER BY created_at DESC, key DESC LIMIT 1 OFFSET $2)",
    )
    .bind(&key.subject)
    .bind(IDEMPOTENCY_KEYS_PER_SUBJECT)
    .execute(conn)
    .await?;
    Ok(())
}

impl Store {
    /// The remembered response for `subject`'s `key`, if it was used in the last 24 h.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn find_idempotency_key(&self, subject: &str, key: &str) -> Result<Option<Remembered>> {
        self.read(|conn| {
            let (subject, key) = (subject.to_owned(), key.to_owned());
            Box::pin(async move { find(conn, &subject, &key).await })
        })
        .await
    }

    /// Remembers `response` for `key` unless the key is already taken; returns what was
    /// remembered before when it was.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn remember_response(
        &self,
        key: &IdempotencyKey,
        response: &StoredResponse,
    ) -> Result<Option<Remembered>> {
        let mut tx = self.begin_write().await?;
        if let Some(earlier) = find(&mut tx, &key.subject, &key.key).await? {
            return Ok(Some(earlier));
        }
        insert(&mut tx, key, response).await?;
        tx.commit().await?;
        Ok(None)
    }

    /// Creates an order once per key: when the key is already taken nothing is written and the
    /// remembered response comes back; otherwise the order and `respond(&order)` are written in
    /// one transaction.
    ///
    /// # Errors
    /// As [`Store::create_order`].
    pub async fn create_order_once(
        &self,
        new: &NewOrder,
        actor: &str,
        key: &IdempotencyKey,
        respond: impl FnOnce(&Order) -> StoredResponse + Send,
    ) -> Result<CreateOnce> {
        let created = async {
            let mut tx = self.begin_write().await?;
            if let Some(earlier) = find(&mut tx, &key.subject, &key.key).await? {
                return Ok(CreateOnce::Replayed(earlier));
            }
            let order = self.create_in(&mut tx, new, actor).await?;
            let response = respond(&order);
            insert(&mut tx, key, &response).await?;
            tx.commit().await?;
            Ok(CreateOnce::Created(response))
        };
        self.named(created.await, None).await
    }
}
