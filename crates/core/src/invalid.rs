//! The one shape of "this input is not valid": a stable code, the field at
//! fault and a sentence for a human. Every layer above maps it unchanged.

use std::fmt;

/// An input value that cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// Stable, machine-readable code such as `invalid_email`.
    pub code: &'static str,
    /// The field at fault, in the caller's vocabulary (`email`, `amount_minor`).
    pub field: String,
    /// What is wrong, for a human.
    pub message: String,
}

impl Invalid {
    pub fn new(code: &'static str, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code,
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same problem, reported against another field name (for example a
    /// CSV column instead of a JSON key).
    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.field = field.into();
        self
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for Invalid {}
