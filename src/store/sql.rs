//! Dynamic SQL with each backend's own placeholders: `$1`, `$2`, … for PostgreSQL, `?` for
//! SQLite.
//!
//! sqlx's `QueryBuilder<Any>` writes `?` placeholders, which PostgreSQL rejects. SQLite accepts
//! `$N` too, but sqlx binds a named parameter by asking SQLite for its name, a linear search
//! of the statement's names: quadratic in the number of parameters, and 34 % of the CPU time of
//! a SQLite `import` (500-row inserts of five values each). Plain `?` parameters have no name.
//! Every value the store binds is an integer or text, so this small builder is all it needs.

use std::fmt::Write as _;

use sqlx::any::AnyArguments;
use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::{Any, Arguments as _, AssertSqlSafe, FromRow};

use super::Backend;

/// SQL text being assembled, with the values its placeholders stand for.
pub(super) struct Sql {
    text: String,
    args: AnyArguments,
    backend: Backend,
}

impl Sql {
    /// Starts with fixed text, for `backend`'s placeholders.
    pub(super) fn new(backend: Backend, text: &str) -> Self {
        Self { text: text.to_owned(), args: AnyArguments::default(), backend }
    }

    /// Appends the placeholder of the value just added.
    fn placeholder(&mut self) {
        match self.backend {
            Backend::Sqlite => self.text.push('?'),
            Backend::Postgres => {
                let _ = write!(self.text, "${}", self.args.len());
            }
        }
    }

    /// Appends fixed SQL text (never user input).
    pub(super) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `value`.
    pub(super) fn bind(&mut self, value: i64) -> &mut Self {
        self.args.add(value).expect("an integer always encodes");
        self.placeholder();
        self
    }

    /// Appends a placeholder bound to a text value.
    pub(super) fn bind_text(&mut self, value: &str) -> &mut Self {
        self.args.add(value.to_owned()).expect("text always encodes");
        self.placeholder();
        self
    }

    /// Appends `$a, $b, …` (or `?, ?, …`) bound to `values`.
    pub(super) fn bind_list(&mut self, values: &[i64]) -> &mut Self {
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(*value);
        }
        self
    }

    /// The statement, for `execute`.
    pub(super) fn query(self) -> Query<'static, Any, AnyArguments> {
        sqlx::query_with(AssertSqlSafe(self.text), self.args)
    }

    /// The statement, decoding rows as `T`.
    pub(super) fn query_as<T: for<'r> FromRow<'r, sqlx::any::AnyRow>>(self) -> QueryAs<'static, Any, T, AnyArguments> {
        sqlx::query_as_with(AssertSqlSafe(self.text), self.args)
    }

    /// The statement, decoding the first column as `T`.
    pub(super) fn query_scalar<T>(self) -> QueryScalar<'static, Any, T, AnyArguments>
    where
        (T,): for<'r> FromRow<'r, sqlx::any::AnyRow>,
    {
        sqlx::query_scalar_with(AssertSqlSafe(self.text), self.args)
    }
}

/// A multi-row `INSERT … VALUES (…), (…)` split into statements of at most `rows_per_statement`
/// rows. Full statements share one SQL text, so each backend parses it once per connection and
/// then runs its cached prepared statement.
pub(super) struct Rows {
    header: &'static str,
    rows_per_statement: usize,
    done: Vec<Sql>,
    current: Sql,
    rows: usize,
}

impl Rows {
    /// Rows for `header` (`INSERT INTO t (a, b) VALUES `).
    pub(super) fn new(backend: Backend, header: &'static str, rows_per_statement: usize) -> Self {
        Self { header, rows_per_statement, done: Vec::new(), current: Sql::new(backend, header), rows: 0 }
    }

    /// Opens the next row (`(` is written; the caller binds the values and writes `)`),
    /// starting a new statement when the current one is full.
    pub(super) fn next_row(&mut self) -> &mut Sql {
        if self.rows == self.rows_per_statement {
            let next = Sql::new(self.current.backend, self.header);
            self.done.push(std::mem::replace(&mut self.current, next));
            self.rows = 0;
        }
        self.current.push(if self.rows == 0 { "(" } else { ", (" });
        self.rows += 1;
        &mut self.current
    }

    /// The statements to execute, in order.
    pub(super) fn into_statements(mut self) -> Vec<Sql> {
        if self.rows > 0 {
            self.done.push(self.current);
        }
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_placeholders_are_numbered_in_order() {
        let mut sql = Sql::new(Backend::Postgres, "SELECT 1 WHERE a = ");
        sql.bind(7).push(" AND b IN (").bind_list(&[1, 2]).push(")");
        assert_eq!(sql.text, "SELECT 1 WHERE a = $1 AND b IN ($2, $3)");
    }

    #[test]
    fn sqlite_placeholders_are_anonymous() {
        let mut sql = Sql::new(Backend::Sqlite, "SELECT 1 WHERE a = ");
        sql.bind(7).push(" AND b IN (").bind_list(&[1, 2]).push(")");
        assert_eq!(sql.text, "SELECT 1 WHERE a = ? AND b IN (?, ?)");
    }

    #[test]
    fn inserts_are_split_every_rows_per_statement_rows_so_full_statements_share_their_text() {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let mut rows = Rows::new(backend, "INSERT INTO t (a, b) VALUES ", 4);
            for i in 0..10 {
                rows.next_row().bind(i).push(", ").bind_text("x").push(")");
            }
            let statements = rows.into_statements();
            let sizes: Vec<usize> = statements.iter().map(|s| s.args.len()).collect();
            assert_eq!(sizes, [8, 8, 4], "{backend:?}");
            assert_eq!(statements[0].text, statements[1].text, "{backend:?}");
            assert!(Rows::new(backend, "INSERT", 100).into_statements().is_empty());
        }
    }
}
