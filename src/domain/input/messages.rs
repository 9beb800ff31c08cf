//! The words an order's input is refused with, once for every surface: the API's problem
//! bodies, the CLI's stderr, the dashboard's field errors and import's line errors all print
//! these. A single value's own rules keep their messages beside their parsers
//! ([`Money::parse`](crate::domain::Money::parse), [`Timestamp::parse`](crate::domain::Timestamp::parse),
//! [`parse_id`](crate::domain::parse_id), [`parse_name`](crate::domain::service::parse_name)).

use serde_json::Value;

/// A field the input must carry is missing.
pub const REQUIRED: &str = "is required";

/// An order's `services` is empty.
pub const NO_SERVICE: &str = "must name at least one service";

/// A merge patch sets a field to `null`.
pub const NOT_NULL: &str = "must not be null: it cannot be removed";

/// A JSON `totalfee` written as a string.
pub const FEE_AS_STRING: &str = "must be a JSON number, not a string";

/// A service body's field that a service does not have.
pub const NOT_A_SERVICE_FIELD: &str = "is not a field of a service";

/// A service body's `name` that is not a string.
pub const NAME_NOT_A_STRING: &str = "must be a string";

/// An order's `services` names `id` twice.
pub fn same_service_twice(id: i64) -> String {
    format!("the same service twice: {id}")
}

/// A field that an order does not have, with the ones it may have.
pub fn not_an_order_field(allowed: &[&str]) -> String {
    format!("is not a field of an order (expected one of: {})", allowed.join(", "))
}

/// A JSON `datetime` that is not a string.
pub fn not_a_timestamp_string(value: &Value) -> String {
    format!("must be an RFC 3339 timestamp string, not {value}")
}

/// A JSON `totalfee` that is neither a number nor a string.
pub fn not_a_number(value: &Value) -> String {
    format!("must be a JSON number, not {value}")
}

/// A JSON `services` that is not an array.
pub fn not_an_array(value: &Value) -> String {
    format!("must be an array of service ids, not {value}")
}
