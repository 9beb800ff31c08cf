//! Dynamic SQL with numbered placeholders (`$1`, `$2`, …), which both backends accept.
//!
//! sqlx's `QueryBuilder<Any>` writes `?` placeholders, which PostgreSQL rejects; every value
//! bound here is an integer, so this small builder is all the store needs.

use std::fmt::Write as _;

use sqlx::any::AnyArguments;
use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::{Any, Arguments as _, AssertSqlSafe, FromRow};

/// SQL text being assembled, with the values its placeholders stand for.
#[derive(Default)]
pub(super) struct Sql {
    text: String,
    args: AnyArguments,
}

impl Sql {
    /// Starts with fixed text.
    pub(super) fn new(text: &str) -> Self {
        Self { text: text.to_owned(), args: AnyArguments::default() }
    }

    /// Appends fixed SQL text (never user input).
    pub(super) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `value`.
    pub(super) fn bind(&mut self, value: i64) -> &mut Self {
        self.args.add(value).expect("an integer always encodes");
        let _ = write!(self.text, "${}", self.args.len());
        self
    }

    /// Appends `$a, $b, …` bound to `values`.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        let mut sql = Sql::new("SELECT 1 WHERE a = ");
        sql.bind(7).push(" AND b IN (").bind_list(&[1, 2]).push(")");
        assert_eq!(sql.text, "SELECT 1 WHERE a = $1 AND b IN ($2, $3)");
    }
}
