//! Lists: the paging and created-at range every list of records accepts.

use serde::Deserialize;
use smarketing_core::{Instant, Invalid};
use smarketing_store::filters::Created;

/// Largest page a list returns.
pub const MAX_LIMIT: u32 = 500;
pub const DEFAULT_LIMIT: u32 = 50;

/// Paging and the created-at range every list accepts.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct Paging {
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    pub limit: Option<u32>,
}

impl Paging {
    pub(crate) fn limit(&self) -> Result<u32, Invalid> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(n) => Err(Invalid::new(
                "invalid_limit",
                "limit",
                format!("limit must be between 1 and {MAX_LIMIT}, got {n}"),
            )),
        }
    }
    pub(crate) fn cursor(&self) -> Result<Option<&str>, Invalid> {
        match self.cursor.as_deref() {
            Some(c) if smarketing_store::sql::decode_cursor(c).is_none() => Err(Invalid::new(
                "invalid_cursor",
                "cursor",
                "the cursor is not one this API returned",
            )),
            c => Ok(c),
        }
    }
}

/// The created-at range of a list's query (`created_from`, `created_to`).
pub(crate) fn created(from: &Option<String>, to: &Option<String>) -> Result<Created, Invalid> {
    let at = |s: &Option<String>, field| s.as_deref().map(|s| Instant::parse(s, field)).transpose();
    Ok(Created {
        from: at(from, "created_from")?,
        to: at(to, "created_to")?,
    })
}
