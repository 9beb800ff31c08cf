//! The service catalogue's values: a service, its name rules, and the four shapes in which an
//! order may refer to one.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::id::parse_id;

/// A catalogue entry: an id and a unique (case-insensitively) name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    /// 1 … 2^63−1.
    pub id: i64,
    /// 1–100 characters, trimmed.
    pub name: String,
}

/// The longest service name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// Trims a service name and checks its length.
///
/// # Errors
/// A message when the trimmed name is empty or longer than 100 characters.
pub fn parse_name(text: &str) -> Result<String, String> {
    let name = text.trim();
    match name.chars().count() {
        0 => Err("must not be empty".to_owned()),
        n if n > MAX_NAME_CHARS => Err(format!("must be at most {MAX_NAME_CHARS} characters, got {n}")),
        // A line break or NUL would break every table that shows the name (and PostgreSQL
        // refuses NUL in text): the same refusal on both backends.
        _ if name.chars().any(char::is_control) => {
            Err("must not contain control characters (line breaks, tabs, NUL …)".to_owned())
        }
        _ => Ok(name.to_owned()),
    }
}

/// The key under which names are unique: case-folded, so `Inspection` and `INSPECTION` collide.
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// A reference to a service inside an order's input: an id, and on import the name it had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRef {
    /// The service's id.
    pub id: i64,
    /// The name given beside the id, if any (only import uses it).
    pub name: Option<String>,
}

impl ServiceRef {
    /// Reads one element of a `services` array: `123`, `"123"`, `{"id":123}` or `{"id":"123"}`,
    /// with an optional `name` beside the id.
    ///
    /// # Errors
    /// A message when the element has none of those shapes or the id is out of range.
    pub fn from_json(value: &Value) -> Result<Self, String> {
        match value {
            Value::Object(fields) => {
                let id = fields.get("id").ok_or("must have an \"id\"")?;
                if let Some(unknown) = fields.keys().find(|k| *k != "id" && *k != "name") {
                    return Err(format!("unknown field {unknown:?}"));
                }
                let name = match fields.get("name") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(name)) => Some(parse_name(name).map_err(|e| format!("name {e}"))?),
                    Some(_) => return Err("name must be a string".to_owned()),
                };
                Ok(Self { id: id_from_json(id, "a service id")?, name })
            }
            other => Ok(Self { id: id_from_json(other, "a service id")?, name: None }),
        }
    }
}

/// An id given as a JSON integer or as a string of digits; `what` names it in the message
/// (`a service id`, `an order id`).
///
/// # Errors
/// A message when the value is neither, or out of 1 … 2^63−1.
pub fn id_from_json(value: &Value, what: &str) -> Result<i64, String> {
    match value {
        Value::Number(n) => parse_id(&n.to_string()),
        Value::String(s) => parse_id(s),
        _ => Err(format!("must be {what} (an integer or a string of digits), not {value}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_four_reference_shapes_are_accepted_and_a_name_is_kept() {
        for value in [json!(123), json!("123"), json!({"id": 123}), json!({"id": "123"})] {
            assert_eq!(ServiceRef::from_json(&value), Ok(ServiceRef { id: 123, name: None }), "{value}");
        }
        let named = ServiceRef::from_json(&json!({"id": 123, "name": " Inspection "})).unwrap();
        assert_eq!(named.name.as_deref(), Some("Inspection"));
    }

    #[test]
    fn other_reference_shapes_are_refused() {
        for value in
            [json!(0), json!(-5), json!(1.5), json!("x"), json!(null), json!([1]), json!({}), json!({"id": 1, "x": 2})]
        {
            assert!(ServiceRef::from_json(&value).is_err(), "{value}");
        }
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(parse_name("  Testing "), Ok("Testing".to_owned()));
        assert!(parse_name("   ").is_err());
        assert!(parse_name(&"x".repeat(101)).is_err());
        assert!(parse_name(&"é".repeat(100)).is_ok());
    }

    #[test]
    fn names_with_control_characters_are_refused() {
        for name in ["a\u{0}b", "new\nline", "tab\there", "bell\u{7}", "del\u{7f}"] {
            assert!(parse_name(name).is_err(), "{name:?}");
        }
        assert_eq!(parse_name("Radon, \"deluxe\"; ü"), Ok("Radon, \"deluxe\"; ü".to_owned()));
    }
}
