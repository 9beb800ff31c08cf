//! Refresh tokens: stored by hash only, single use, grouped in families so that a reused
//! token revokes every token descended from the same `token issue`.
//!
//! A family lives `auth.refresh_ttl` from its first issue: every successor inherits that
//! expiry, so rotating never extends it. A used token is kept until its family expires (so
//! presenting it again is still recognized as reuse), then the whole family is purged: each
//! issue and rotation deletes up to [`PURGE_BATCH`] expired tokens, more than it adds.
//!
//! Refusing costs no lock (SPEC section 8): a presented token is first looked up by a plain
//! read of its hash, and an unknown, expired or revoked one is refused there. Only a plausible
//! one — unused, or used but its family not yet revoked — takes the write lock, and is judged
//! again under it, since a concurrent rotation may have used it meanwhile.

use sqlx::AnyConnection;

use super::{PURGE_BATCH, Store};
use crate::domain::Timestamp;
use crate::error::{Error, Result};

/// A refresh token to store: its hash, never the token itself.
#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    /// SHA-256 of the token text, hex.
    pub hash: String,
    /// Whose token it is.
    pub subject: String,
    /// The role its access tokens get.
    pub role: String,
    /// The family: every rotation of one issued token shares it.
    pub family: String,
    /// When it stops being accepted.
    pub expires_at: Timestamp,
}

/// Who a rotated refresh token belonged to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshGrant {
    /// The subject.
    pub subject: String,
    /// The role.
    pub role: String,
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    subject: String,
    role: String,
    family: String,
    expires_at: i64,
    used_at: Option<i64>,
    revoked_at: Option<i64>,
}

/// What presenting a token leads to.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Unknown, expired, or its family revoked: refused, nothing to write.
    Refuse,
    /// Used before and its family still live: someone holds a copy; revoke the family.
    Reuse,
    /// Unused and live: rotate it.
    Rotate,
}

fn verdict(row: Option<&TokenRow>, now: i64) -> Verdict {
    match row {
        None => Verdict::Refuse,
        Some(row) if row.revoked_at.is_some() || row.expires_at <= now => Verdict::Refuse,
        Some(row) if row.used_at.is_some() => Verdict::Reuse,
        Some(_) => Verdict::Rotate,
    }
}

async fn find_token(conn: &mut AnyConnection, hash: &str) -> Result<Option<TokenRow>> {
    let row = sqlx::query_as(
        "SELECT subject, role, family, expires_at, used_at, revoked_at FROM refresh_tokens WHERE token_hash = $1",
    )
    .bind(hash)
    .fetch_optional(conn)
    .await?;
    Ok(row)
}

impl Store {
    /// Stores a new refresh token, the first of its family (rotation adds the others: see
    /// [`Store::rotate_refresh_token`]); its `expires_at` is the family's. Purges expired
    /// families on the way.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn add_refresh_token(&self, token: &NewRefreshToken) -> Result<()> {
        let mut tx = self.begin_write().await?;
        insert_token(&mut tx, token).await?;
        purge_expired(&mut tx, Timestamp::now().millis()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Uses the refresh token whose hash is `old_hash` once: marks it used and stores
    /// `successor_hash` in its place, with the same subject, role, family and expiry. A token
    /// used before revokes its whole family, and the call fails.
    ///
    /// # Errors
    /// [`Error::Unauthorized`] for an unknown, expired, revoked or reused token;
    /// [`Error::Busy`] when a plausible one does not get the write lock in time.
    pub async fn rotate_refresh_token(&self, old_hash: &str, successor_hash: &str) -> Result<RefreshGrant> {
        let now = Timestamp::now().millis();
        let refused = || Error::Unauthorized("the refresh token is invalid, expired or revoked".to_owned());
        let seen = self
            .read(|conn| {
                let hash = old_hash.to_owned();
                Box::pin(async move { find_token(conn, &hash).await })
            })
            .await?;
        if verdict(seen.as_ref(), now) == Verdict::Refuse {
            return Err(refused());
        }
        let mut tx = self.begin_write().await?;
        let row = find_token(&mut tx, old_hash).await?;
        let Some(row) = row.filter(|row| verdict(Some(row), now) != Verdict::Refuse) else { return Err(refused()) };
        if verdict(Some(&row), now) == Verdict::Reuse {
            // Someone holds a copy. Revoke the family, and commit that even though the request
            // fails.
            sqlx::query("UPDATE refresh_tokens SET revoked_at = $1 WHERE family = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(&row.family)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            tracing::warn!(subject = %row.subject, "refresh token reused: its family is revoked");
            return Err(refused());
        }
        sqlx::query("UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2")
            .bind(now)
            .bind(old_hash)
            .execute(&mut *tx)
            .await?;
        let successor = NewRefreshToken {
            hash: successor_hash.to_owned(),
            subject: row.subject.clone(),
            role: row.role.clone(),
            family: row.family,
            expires_at: Timestamp::from_millis(row.expires_at),
        };
        insert_token(&mut tx, &successor).await?;
        purge_expired(&mut tx, now).await?;
        tx.commit().await?;
        Ok(RefreshGrant { subject: row.subject, role: row.role })
    }

    /// Revokes every refresh token of `subject`; returns how many were not revoked before.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn revoke_refresh_tokens(&self, subject: &str) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("UPDATE refresh_tokens SET revoked_at = $1 WHERE subject = $2 AND revoked_at IS NULL")
            .bind(Timestamp::now().millis())
            .bind(subject)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}

async fn insert_token(conn: &mut AnyConnection, token: &NewRefreshToken) -> Result<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, subject, role, family, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&token.hash)
    .bind(&token.subject)
    .bind(&token.role)
    .bind(&token.family)
    .bind(Timestamp::now().millis())
    .bind(token.expires_at.millis())
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes up to [`PURGE_BATCH`] tokens whose family has expired (a family's tokens all
/// expire together, used ones included), oldest expiry first.
async fn purge_expired(conn: &mut AnyConnection, now: i64) -> Result<()> {
    sqlx::query(
        "DELETE FROM refresh_tokens WHERE token_hash IN \
         (SELECT token_hash FROM refresh_tokens WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)",
    )
    .bind(now)
    .bind(PURGE_BATCH)
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(expires_at: i64, used_at: Option<i64>, revoked_at: Option<i64>) -> TokenRow {
        let text = String::new;
        TokenRow { subject: text(), role: text(), family: text(), expires_at, used_at, revoked_at }
    }

    #[test]
    fn only_a_live_token_is_worth_the_write_lock() {
        let now = 1_000;
        let cases = [
            ("unknown", None, Verdict::Refuse),
            ("live and unused", Some(row(2_000, None, None)), Verdict::Rotate),
            ("used, family live", Some(row(2_000, Some(500), None)), Verdict::Reuse),
            ("used, family revoked", Some(row(2_000, Some(500), Some(600))), Verdict::Refuse),
            ("revoked", Some(row(2_000, None, Some(600))), Verdict::Refuse),
            ("expired", Some(row(1_000, None, None)), Verdict::Refuse),
            ("used and expired", Some(row(900, Some(500), None)), Verdict::Refuse),
        ];
        for (case, row, expected) in cases {
            assert_eq!(verdict(row.as_ref(), now), expected, "{case}");
        }
    }
}
