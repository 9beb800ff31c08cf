//! The status bar's message: informational (it goes once the user acts) or an error (it stays
//! until the cause is gone).

use crate::Error;

/// A line in the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// What to say.
    pub text: String,
    /// Whether it is an error (shown in the error style).
    pub error: bool,
}

/// An informational status line.
pub fn info(text: impl Into<String>) -> Status {
    Status { text: text.into(), error: false }
}

/// An error status line.
pub fn failure(error: &Error) -> Status {
    Status { text: error.to_string(), error: true }
}
