//! The one place database failures become [`Error`]s: a bounded wait that ran out is
//! [`Error::Busy`], an unreachable database [`Error::Unavailable`], and what no caller handles
//! where its meaning is known [`Error::Internal`].

use crate::error::{Error, because};

impl From<sqlx::Error> for Error {
    /// The one place database failures are classified: a bounded wait that ran out (a lock,
    /// a statement, SQLite's busy timeout) is [`Error::Busy`]; unreachable is
    /// [`Error::Unavailable`]; everything else not handled where its meaning is known is
    /// [`Error::Internal`].
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err
            && let Some(why) = busy_reason(db.code().as_deref())
        {
            return Error::Busy(why.to_owned());
        }
        let unavailable = match &err {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            // A connection cut during the handshake (a server going down, a proxy refusing)
            // surfaces as a protocol error: the database cannot be talked to.
            | sqlx::Error::Protocol(_) => return Error::Unavailable(Box::new(err)),
            sqlx::Error::Database(db) if is_unavailable_code(db.code().as_deref()) => db.message().to_owned(),
            // A database nobody migrated (auto_migrate off): say what to do.
            sqlx::Error::Database(db)
                if db.code().as_deref() == Some("42P01") || db.message().starts_with("no such table") =>
            {
                let text = format!("{} (is the database migrated? run `orders migrate`)", db.message());
                return Error::Internal(because(text, err));
            }
            _ => return Error::Internal(Box::new(err)),
        };
        Error::Unavailable(because(unavailable, err))
    }
}

/// On PostgreSQL the SQLSTATE classes 08 (connection), 28 (the login refused), 53 (resources)
/// and 57P (shutdown), a session ended for sitting idle in a transaction (25P03), and what a
/// server answers a connection to a database that does not exist (3D000) or does not accept
/// connections now (55000); SQLITE_LOCKED (6), SQLITE_CANTOPEN (14) and their extended codes
/// on SQLite. (SQLITE_BUSY is a bounded wait that ran out: see `busy_reason`.)
fn is_unavailable_code(code: Option<&str>) -> bool {
    let Some(code) = code else { return false };
    // SQLSTATEs are always five characters; SQLite's (extended) result codes are shorter numbers.
    if code.len() == 5 {
        return ["08", "28", "53", "57P", "25P03", "3D000", "55000"].iter().any(|prefix| code.starts_with(prefix));
    }
    code.parse::<i32>().is_ok_and(|sqlite| matches!(sqlite & 0xff, 6 | 14))
}

/// Whether a failed statement broke a UNIQUE or PRIMARY KEY constraint.
pub(super) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Whether a failed statement broke a FOREIGN KEY constraint.
pub(super) fn is_foreign_key_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_foreign_key_violation())
}

/// Why a statement failed in a way worth trying again shortly, if it did: on PostgreSQL a lock
/// wait over `lock_timeout` (55P03) or a statement cancelled (57014: over `statement_timeout`,
/// or by an administrator); on SQLite SQLITE_BUSY (5) and its extended codes, the database
/// locked by another writer past the busy timeout.
pub(super) fn busy_reason(code: Option<&str>) -> Option<&'static str> {
    match code? {
        "55P03" => Some("a lock was not obtained within database.lock_timeout; try again"),
        "57014" => Some("a statement ran longer than database.statement_timeout (or was cancelled); try again"),
        sqlite if sqlite.len() < 5 && sqlite.parse::<i32>().is_ok_and(|code| code & 0xff == 5) => {
            Some("the database is locked by another writer; try again")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_and_statement_timeouts_and_sqlite_busy_mean_busy_and_nothing_else_does() {
        assert!(busy_reason(Some("55P03")).is_some(), "lock_not_available");
        assert!(busy_reason(Some("57014")).is_some(), "query_canceled");
        assert!(busy_reason(Some("5")).is_some(), "SQLITE_BUSY");
        assert!(busy_reason(Some("517")).is_some(), "SQLITE_BUSY_SNAPSHOT");
        assert!(busy_reason(Some("6")).is_none(), "SQLITE_LOCKED is another matter");
        assert!(busy_reason(Some("23505")).is_none());
        assert!(busy_reason(Some("08006")).is_none());
        assert!(busy_reason(None).is_none());
    }

    #[test]
    fn connection_codes_mean_unavailable() {
        assert!(is_unavailable_code(Some("6")));
        assert!(is_unavailable_code(Some("14")));
        assert!(!is_unavailable_code(Some("5")), "SQLITE_BUSY is busy, not unavailable");
        assert!(is_unavailable_code(Some("25P03")), "a session cut while idle in a transaction");
        assert!(is_unavailable_code(Some("08006")));
        assert!(is_unavailable_code(Some("57P01")));
        assert!(is_unavailable_code(Some("3D000")), "database does not exist");
        assert!(is_unavailable_code(Some("55000")), "database not accepting connections");
        assert!(is_unavailable_code(Some("28P01")), "password authentication failed");
        assert!(!is_unavailable_code(Some("23505")));
        assert!(!is_unavailable_code(Some("2067")));
        assert!(!is_unavailable_code(None));
        let cut = sqlx::Error::Protocol("connection closed during the handshake".into());
        assert!(matches!(Error::from(cut), Error::Unavailable(_)));
    }

    #[test]
    fn a_classified_database_error_keeps_its_cause_and_its_text() {
        let err = Error::from(sqlx::Error::PoolTimedOut);
        assert_eq!(err.to_string(), format!("database unavailable: {}", sqlx::Error::PoolTimedOut));
        let cause = std::error::Error::source(&err).expect("the cause is kept");
        assert!(cause.downcast_ref::<sqlx::Error>().is_some(), "{cause:?}");
    }
}
