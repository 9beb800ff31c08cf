//! A field's value as a surface collected it, before the domain reads it: text (flags, the
//! form), a JSON value (the API, import) or ids picked from the catalogue.

use serde_json::Value;

/// One field's value as a surface collected it, not yet read.
#[derive(Debug, Clone, Copy)]
pub enum Raw<'a> {
    /// Text from a flag or a form field.
    Text(&'a str),
    /// A value from a JSON body (an API request or an import record).
    Json(&'a Value),
}

/// An order's `services` as a surface collected them, not yet read.
#[derive(Debug, Clone)]
pub enum RawServices<'a> {
    /// A JSON value: valid when an array of service references.
    Json(&'a Value),
    /// One text per service id (the CLI's repeated `--service`).
    Texts(&'a [String]),
    /// Ids picked from the catalogue (the dashboard's picker).
    Picked(Vec<i64>),
}
