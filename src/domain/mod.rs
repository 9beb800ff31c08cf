//! The domain: the values `orders` deals in and the rules they obey, free of any I/O.
//!
//! Entry points (CLI, HTTP, dashboard) turn their input into these types through the parsers
//! here, so every front end refuses the same things with the same messages.

pub mod input;
pub mod money;
pub mod number;
pub mod order;
pub mod schedule;
pub mod service;
pub mod timestamp;

pub use money::Money;
pub use number::whole_number;
pub use order::{Event, EventKind, NewOrder, Order, OrderFilter, OrderKey, OrderPatch, SortOrder};
pub use service::{Service, ServiceRef};
pub use timestamp::Timestamp;

use serde::Serialize;

/// One problem with one input field; inputs report every such problem at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field's name as the caller spelled it (`totalfee`, `services[1]`, `datetime`).
    pub field: String,
    /// What is wrong, lowercase, without a trailing period.
    pub message: String,
}

impl FieldError {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// The largest id an order or a service may have (ids run from 1 to 2^63−1).
pub const MAX_ID: i64 = i64::MAX;

/// Parses an id from its decimal text: an integer from 1 to 2^63−1.
///
/// # Errors
/// A message fit for a [`FieldError`] when the text is anything else.
pub fn parse_id(text: &str) -> Result<i64, String> {
    let trimmed = text.trim();
    match trimmed.parse::<i64>() {
        Ok(id) if id >= 1 && !trimmed.starts_with('+') => Ok(id),
        _ => Err(format!("must be an integer from 1 to {MAX_ID}, not {text:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_accepted_from_one_to_the_largest_i64() {
        assert_eq!(parse_id("1"), Ok(1));
        assert_eq!(parse_id("9223372036854775807"), Ok(i64::MAX));
        for bad in ["0", "-1", "9223372036854775808", "1.0", "abc", "", "+5"] {
            assert!(parse_id(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
