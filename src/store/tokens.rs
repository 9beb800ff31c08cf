//! Refresh tokens: stored by hash only, single use, grouped in families so that a reused
//! token revokes every token descended from the same `token issue`.

use super::Store;
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

impl Store {
    /// Stores a new refresh token, the first of its family (rotation adds the others: see
    /// [`Store::rotate_refresh_token`]).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn add_refresh_token(&self, token: &NewRefreshToken) -> Result<()> {
        let mut tx = self.begin_write().await?;
        insert_token(&mut tx, token).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Uses the refresh token whose hash is `old_hash` once: marks it used and stores
    /// `successor` (same subject, role and family) in its place. A token used before revokes
    /// its whole family, and the call fails.
    ///
    /// # Errors
    /// [`Error::Unauthorized`] for an unknown, expired, revoked or reused token.
    pub async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        successor_hash: &str,
        expires_at: Timestamp,
    ) -> Result<RefreshGrant> {
        let now = Timestamp::now().millis();
        let refused = || Error::Unauthorized("the refresh token is invalid, expired or revoked".to_owned());
        let mut tx = self.begin_write().await?;
        let row: Option<TokenRow> = sqlx::query_as(
            "SELECT subject, role, family, expires_at, used_at, revoked_at FROM refresh_tokens WHERE token_hash = $1",
        )
        .bind(old_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Err(refused()) };
        if row.used_at.is_some() && row.revoked_at.is_none() {
            // Reuse: someone holds a copy. Revoke the family, and commit that even though the
            // request fails.
            sqlx::query("UPDATE refresh_tokens SET revoked_at = $1 WHERE family = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(&row.family)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            tracing::warn!(subject = %row.subject, "refresh token reused: its family is revoked");
            return Err(refused());
        }
        // A used token that is not revoked was handled above as a reuse.
        if row.revoked_at.is_some() || row.expires_at <= now {
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
            expires_at,
        };
        insert_token(&mut tx, &successor).await?;
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

async fn insert_token(conn: &mut sqlx::AnyConnection, token: &NewRefreshToken) -> Result<()> {
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
