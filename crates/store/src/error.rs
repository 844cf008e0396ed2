//! The store's one error type, and the one place where each backend's
//! constraint violations are recognised.

use sqlx::error::ErrorKind;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique key already holds this value; `field` is the column.
    #[error("a record with this {field} already exists")]
    Conflict { field: String },
    /// A reference to a row that does not exist.
    #[error("a referenced record does not exist")]
    MissingReference,
    #[error("the database refused the value: {0}")]
    Check(String),
    #[error("{0:?} is not a database URL (use sqlite://path or postgres://...)")]
    BadUrl(String),
    #[error("a stored value is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(sqlx::migrate::MigrateError),
}

impl StoreError {
    pub fn from_sqlx(e: sqlx::Error) -> StoreError {
        match e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) => match db.kind() {
                ErrorKind::UniqueViolation => StoreError::Conflict {
                    field: conflict_field(db.constraint(), db.message()),
                },
                ErrorKind::ForeignKeyViolation => StoreError::MissingReference,
                ErrorKind::CheckViolation | ErrorKind::NotNullViolation => {
                    StoreError::Check(db.message().to_string())
                }
                _ => StoreError::Database(sqlx::Error::Database(db)),
            },
            other => StoreError::Database(other),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::from_sqlx(e)
    }
}

/// The column behind a unique violation. PostgreSQL names the index
/// (`contacts_email_key`); SQLite names the columns
/// (`UNIQUE constraint failed: contacts.email`). Our index names follow
/// `<table>_<column>_key`, so both give the column.
fn conflict_field(constraint: Option<&str>, message: &str) -> String {
    if let Some(c) = constraint {
        let c = c.strip_suffix("_key").unwrap_or(c);
        for table in TABLES {
            if let Some(rest) = c.strip_prefix(table).and_then(|r| r.strip_prefix('_')) {
                return rest.to_string();
            }
        }
        return c.to_string();
    }
    if let Some(cols) = message.split("failed: ").nth(1) {
        return cols
            .split(", ")
            .map(|c| c.rsplit('.').next().unwrap_or(c))
            .collect::<Vec<_>>()
            .join(",");
    }
    "key".to_string()
}

const TABLES: &[&str] = &[
    "api_tokens",
    "playbook_versions",
    "stage_changes",
    "touchpoints",
    "activities",
    "campaigns",
    "contacts",
    "accounts",
    "visitors",
    "deals",
    "notes",
    "users",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backends_name_the_column() {
        assert_eq!(conflict_field(Some("contacts_email_key"), ""), "email");
        assert_eq!(
            conflict_field(Some("api_tokens_token_hash_key"), ""),
            "token_hash"
        );
        assert_eq!(
            conflict_field(None, "UNIQUE constraint failed: contacts.email"),
            "email"
        );
        assert_eq!(
            conflict_field(Some("stage_changes_natural_key"), ""),
            "natural"
        );
    }
}
