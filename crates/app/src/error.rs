//! The application's one error type. The server maps it to problem+json,
//! the CLI prints it.

use smarketing_core::Invalid;
use smarketing_core::lifecycle::LifecycleError;
use smarketing_core::playbook::PlaybookError;
use smarketing_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// An input value is not acceptable.
    #[error("{0}")]
    Invalid(#[from] Invalid),
    /// Several input values are not acceptable (a batch, say); each error's
    /// field names its position.
    #[error("{} inputs are not valid; first: {}", .0.len(), .0[0])]
    InvalidMany(Vec<Invalid>),
    #[error("{0}")]
    Lifecycle(#[from] LifecycleError),
    #[error("{0}")]
    Playbook(#[from] PlaybookError),
    #[error("{what} {id} does not exist")]
    NotFound { what: &'static str, id: String },
    #[error("a {what} with this {field} already exists")]
    Conflict { what: &'static str, field: String },
    #[error("not allowed: {0}")]
    Forbidden(String),
    #[error("storage failed: {0}")]
    Store(StoreError),
    /// Too much work queued: the client should retry after this long.
    #[error("overloaded; retry after {retry_after_secs} s")]
    Overloaded { retry_after_secs: u64 },
    /// Over a quota: the client should retry after this long.
    #[error("over the quota; retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// The e-mail or password is wrong: one answer for both, so it does
    /// not tell which e-mails have accounts.
    #[error("the e-mail or password is wrong")]
    SignInFailed,
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { field } => AppError::Conflict {
                what: "record",
                field,
            },
            StoreError::MissingReference => AppError::Invalid(Invalid::new(
                "unknown_reference",
                "id",
                "a referenced record does not exist",
            )),
            StoreError::NotFound => AppError::NotFound {
                what: "record",
                id: String::new(),
            },
            other => AppError::Store(other),
        }
    }
}

impl AppError {
    pub fn not_found(what: &'static str, id: impl ToString) -> Self {
        AppError::NotFound {
            what,
            id: id.to_string(),
        }
    }
}

/// Turns a store "not found" into a named one.
pub(crate) fn named(what: &'static str, id: i64) -> impl FnOnce(StoreError) -> AppError {
    move |e| match e {
        StoreError::NotFound => AppError::not_found(what, id),
        StoreError::Conflict { field } => AppError::Conflict { what, field },
        other => other.into(),
    }
}
