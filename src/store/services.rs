//! The service catalogue: list, add, rename and delete, with unique ids and case-insensitively
//! unique names, and no deleting a service that orders still use.

use sqlx::AnyConnection;

use super::sql::Sql;
use super::{Backend, Store};
use crate::domain::Service;
use crate::domain::service::{name_key, parse_name};
use crate::error::{Error, Result};

/// The lowest id no service has (NULL when every one is taken); it subtracts rather than
/// adds, so the largest id never overflows.
const SELECT_LOWEST_FREE_SERVICE_ID: &str = "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM services WHERE id = 1) \
     THEN 1 ELSE (SELECT s.id + 1 FROM services s WHERE NOT EXISTS (SELECT 1 FROM services t WHERE t.id - 1 = s.id) \
     AND s.id < 9223372036854775807 ORDER BY s.id LIMIT 1) END";

impl Store {
    /// The whole catalogue, by id.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn list_services(&self) -> Result<Vec<Service>> {
        self.read(|conn| Box::pin(catalogue(conn))).await
    }

    /// One service.
    ///
    /// # Errors
    /// [`Error::NotFound`] when there is no such service.
    pub async fn get_service(&self, id: i64) -> Result<Service> {
        let mut conn = self.pool.acquire().await?;
        find_service(&mut conn, id).await?.ok_or(Error::NotFound { what: "service", id })
    }

    /// Adds a service under `id` (or the next free id) and `name`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a bad name, [`Error::Duplicate`] when the id or the name is taken.
    pub async fn add_service(&self, id: Option<i64>, name: &str) -> Result<Service> {
        let name = parse_name(name).map_err(|e| Error::invalid("name", e))?;
        let mut tx = self.begin_write().await?;
        let id = match id {
            Some(id) => id,
            None => {
                let max: Option<i64> = sqlx::query_scalar("SELECT max(id) FROM services").fetch_one(&mut *tx).await?;
                match max.unwrap_or(0).checked_add(1) {
                    Some(id) => id,
                    // The largest id there can be is taken: the lowest free one instead.
                    None => sqlx::query_scalar::<_, Option<i64>>(SELECT_LOWEST_FREE_SERVICE_ID)
                        .fetch_one(&mut *tx)
                        .await?
                        .ok_or_else(|| Error::Internal("service ids are exhausted".into()))?,
                }
            }
        };
        let service = insert_service(&mut tx, id, &name).await?;
        tx.commit().await?;
        Ok(service)
    }

    /// Renames a service.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a bad name, [`Error::NotFound`], [`Error::Duplicate`] when another
    /// service has that name.
    pub async fn rename_service(&self, id: i64, name: &str) -> Result<Service> {
        let name = parse_name(name).map_err(|e| Error::invalid("name", e))?;
        let mut tx = self.begin_write().await?;
        find_service(&mut tx, id).await?.ok_or(Error::NotFound { what: "service", id })?;
        ensure_name_free(&mut tx, &name, Some(id)).await?;
        sqlx::query("UPDATE services SET name = $1, name_key = $2 WHERE id = $3")
            .bind(&name)
            .bind(name_key(&name))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Service { id, name })
    }

    /// Deletes a service no order uses.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::InUse`] while any order uses it.
    pub async fn delete_service(&self, id: i64) -> Result<Service> {
        let mut tx = self.begin_write().await?;
        let service = find_service(&mut tx, id).await?.ok_or(Error::NotFound { what: "service", id })?;
        let users: i64 =
            sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM order_services WHERE service_id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        if users > 0 {
            let orders = if users == 1 { "1 order" } else { &format!("{users} orders") };
            return Err(Error::InUse(format!("service {id} ({}) is used by {orders}", service.name)));
        }
        sqlx::query("DELETE FROM services WHERE id = $1").bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(service)
    }
}

/// The whole catalogue, by id: `(id, name)` rows.
pub(super) const SELECT_CATALOGUE: &str = "SELECT id, name FROM services ORDER BY id";

/// A new service: id, name and its case-folded key ([`name_key`]).
pub(super) const INSERT_SERVICE: &str = "INSERT INTO services (id, name, name_key) VALUES ($1, $2, $3)";

/// The whole catalogue, by id, as `conn` sees it (inside its transaction, if any).
pub(super) async fn catalogue(conn: &mut AnyConnection) -> Result<Vec<Service>> {
    let rows: Vec<(i64, String)> = sqlx::query_as(SELECT_CATALOGUE).fetch_all(conn).await?;
    Ok(rows.into_iter().map(|(id, name)| Service { id, name }).collect())
}

pub(super) async fn find_service(conn: &mut AnyConnection, id: i64) -> Result<Option<Service>> {
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT id, name FROM services WHERE id = $1").bind(id).fetch_optional(conn).await?;
    Ok(row.map(|(id, name)| Service { id, name }))
}

/// Inserts a service whose id and name must both be free.
pub(super) async fn insert_service(conn: &mut AnyConnection, id: i64, name: &str) -> Result<Service> {
    if let Some(existing) = find_service(conn, id).await? {
        return Err(Error::Duplicate(format!("service {id} already exists ({})", existing.name)));
    }
    ensure_name_free(conn, name, None).await?;
    sqlx::query(INSERT_SERVICE).bind(id).bind(name).bind(name_key(name)).execute(conn).await?;
    Ok(Service { id, name: name.to_owned() })
}

/// Fails when a service other than `except` already has `name` (case-insensitively).
async fn ensure_name_free(conn: &mut AnyConnection, name: &str, except: Option<i64>) -> Result<()> {
    let holder: Option<(i64, String)> = sqlx::query_as("SELECT id, name FROM services WHERE name_key = $1")
        .bind(name_key(name))
        .fetch_optional(conn)
        .await?;
    match holder {
        Some((id, existing)) if Some(id) != except => {
            Err(Error::Duplicate(format!("a service named {existing:?} already exists (id {id})")))
        }
        _ => Ok(()),
    }
}

/// Fails with a field error naming every service id that is not in the catalogue.
pub(super) async fn require_services(conn: &mut AnyConnection, backend: Backend, ids: &[i64]) -> Result<()> {
    let mut sql = Sql::new(backend, "SELECT id FROM services WHERE id IN (");
    sql.bind_list(ids).push(")");
    let found: Vec<i64> = sql.query_scalar().fetch_all(conn).await?;
    let missing: Vec<String> = ids.iter().filter(|id| !found.contains(id)).map(ToString::to_string).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::invalid("services", format!("unknown service id {}", missing.join(", "))))
    }
}
