//! One problem with one input field, as every surface reports it.

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
