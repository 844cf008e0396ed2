//! Building blocks for SQL that serves both backends: bound arguments,
//! WHERE clauses with numbered `$n` placeholders, keyset pages and
//! multi-row inserts.

use crate::StoreError;
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection};

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Int(Option<i64>),
    Float(Option<f64>),
    Text(Option<String>),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}
impl From<f64> for Arg {
    fn from(v: f64) -> Self {
        Arg::Float(Some(v))
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(Some(v))
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(Some(v.to_string()))
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::Text(v)
    }
}
impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Self {
        Arg::Text(v.map(str::to_string))
    }
}

/// Binds `args` in order to a query.
pub fn bind_all<'q>(
    mut q: Query<'q, Any, AnyArguments<'q>>,
    args: &[Arg],
) -> Query<'q, Any, AnyArguments<'q>> {
    for a in args {
        q = match a {
            Arg::Int(v) => q.bind(*v),
            Arg::Float(v) => q.bind(*v),
            Arg::Text(v) => q.bind(v.clone()),
        };
    }
    q
}

/// A conjunction of conditions with their arguments. Each condition is
/// written with `?` where its one argument goes; it becomes `$n`.
#[derive(Debug, Default, Clone)]
pub struct Where {
    parts: Vec<String>,
    pub args: Vec<Arg>,
}

impl Where {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `condition` (with one `?`) bound to `arg`, when `arg` is some.
    pub fn and<T: Into<Arg>>(&mut self, condition: &str, arg: Option<T>) -> &mut Self {
        if let Some(a) = arg {
            self.args.push(a.into());
            let n = self.args.len();
            self.parts
                .push(condition.replacen('?', &format!("${n}"), 1));
        }
        self
    }

    /// Adds a condition that takes no argument (written by us, never input).
    pub fn and_sql(&mut self, condition: &'static str) -> &mut Self {
        self.parts.push(condition.to_string());
        self
    }

    /// The placeholder for the next argument pushed with [`Where::arg`].
    pub fn arg(&mut self, arg: impl Into<Arg>) -> String {
        self.args.push(arg.into());
        format!("${}", self.args.len())
    }

    /// ` WHERE a AND b`, or nothing.
    pub fn clause(&self) -> String {
        if self.parts.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.parts.join(" AND "))
        }
    }
}

/// One page of a keyset-paginated list.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Opaque cursors: the last id seen, so pages stay stable while rows are added.
pub fn encode_cursor(id: i64) -> String {
    format!("c{id:x}")
}

pub fn decode_cursor(cursor: &str) -> Option<i64> {
    cursor
        .strip_prefix('c')
        .and_then(|h| i64::from_str_radix(h, 16).ok())
        .filter(|id| *id >= 0)
}

/// Inserts many rows with multi-row VALUES statements, chunked below the
/// bind-parameter limits of both backends. `tail` follows the VALUES list
/// (an ON CONFLICT clause, or nothing).
pub async fn insert_many<S: AsRef<str>>(
    conn: &mut AnyConnection,
    table: &str,
    columns: &[S],
    rows: &[Vec<Arg>],
    tail: &str,
) -> Result<u64, StoreError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let per_chunk = (30_000 / columns.len()).clamp(1, 1000);
    // SQLite resolves a numbered parameter by scanning every parameter name,
    // which makes huge `$n` statements quadratic; plain `?` binds in order.
    // This is the one dialect rule of bulk inserts.
    let sqlite = conn.backend_name() == "SQLite";
    let mut affected = 0;
    for chunk in rows.chunks(per_chunk) {
        let names: Vec<&str> = columns.iter().map(AsRef::as_ref).collect();
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", names.join(", "));
        let mut n = 0;
        for (i, row) in chunk.iter().enumerate() {
            debug_assert_eq!(row.len(), columns.len());
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for j in 0..row.len() {
                n += 1;
                if j > 0 {
                    sql.push_str(", ");
                }
                if sqlite {
                    sql.push('?');
                } else {
                    sql.push_str(&format!("${n}"));
                }
            }
            sql.push(')');
        }
        sql.push(' ');
        sql.push_str(tail);
        let args: Vec<Arg> = chunk.iter().flatten().cloned().collect();
        let q = bind_all(sqlx::query(&sql), &args);
        affected += q
            .execute(&mut *conn)
            .await
            .map_err(StoreError::from_sqlx)?
            .rows_affected();
    }
    Ok(affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_numbers_placeholders() {
        let mut w = Where::new();
        w.and("stage = ?", Some("mql"))
            .and("owner_id = ?", None::<i64>)
            .and("id > ?", Some(7i64));
        assert_eq!(w.clause(), " WHERE stage = $1 AND id > $2");
        assert_eq!(w.args.len(), 2);
        assert_eq!(decode_cursor(&encode_cursor(12345)), Some(12345));
        assert_eq!(decode_cursor("nonsense"), None);
    }
}
