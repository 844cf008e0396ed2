//! Merging one contact into another and undoing it: the rows that move
//! with the person, and the record of each merge that makes it reversible.

use crate::StoreError;
use crate::records::FromRow;
use crate::sql::Arg;
use crate::{json_columns, record};
use serde::{Deserialize, Serialize};
use smarketing_core::Instant;
use sqlx::{AnyConnection, Row};
use std::collections::BTreeMap;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// The rows a merge moved from the merged contact to the survivor, by id
/// (identities by userId); an unmerge moves exactly these back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MovedRows {
    pub touchpoints: Vec<i64>,
    pub visitors: Vec<i64>,
    pub identities: Vec<String>,
    pub activities: Vec<i64>,
    pub notes: Vec<i64>,
    pub deals: Vec<i64>,
    /// The merged contact's open handoff, when the survivor had none.
    pub handoffs: Vec<i64>,
}

/// A survivor field the merge changed: its value before and after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FilledField {
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub before: serde_json::Value,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub after: serde_json::Value,
}

record! {
    /// One merge of `merged_id` into `survivor_id`.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[cfg_attr(feature = "openapi", derive(ToSchema))]
    pub struct ContactMerge in "contact_merges" {
        pub id: i64,
        pub survivor_id: i64,
        pub merged_id: i64,
        /// `manual`, `alias` or `identify`.
        pub cause: String,
        /// The event that revealed the two records are one person.
        pub event_id: Option<i64>,
        pub actor: String,
        pub actor_user_id: Option<i64>,
        pub merged_at: Instant,
        pub moved: MovedRows,
        /// Survivor fields the merge filled or changed, by column name.
        pub filled: BTreeMap<String, FilledField>,
        pub unmerged_at: Option<Instant>,
        pub unmerged_by: Option<String>,
    }
}

json_columns!(MovedRows, BTreeMap<String, FilledField>);

/// The tables whose rows belong to a contact by `contact_id` and move with
/// it, with the column naming each row.
const MOVING: [(&str, &str); 6] = [
    ("touchpoints", "id"),
    ("visitors", "id"),
    ("contact_identities", "user_id"),
    ("activities", "id"),
    ("notes", "id"),
    ("deals", "id"),
];

fn slot<'a>(rows: &'a mut MovedRows, table: &str) -> Option<&'a mut Vec<i64>> {
    match table {
        "touchpoints" => Some(&mut rows.touchpoints),
        "visitors" => Some(&mut rows.visitors),
        "activities" => Some(&mut rows.activities),
        "notes" => Some(&mut rows.notes),
        "deals" => Some(&mut rows.deals),
        "handoffs" => Some(&mut rows.handoffs),
        _ => None,
    }
}

/// Moves every row of contact `from` to contact `to`, and `from`'s open
/// handoff when `to` has none (a contact has at most one open handoff).
pub async fn move_contact_rows(
    conn: &mut AnyConnection,
    from: i64,
    to: i64,
) -> Result<MovedRows, StoreError> {
    let mut moved = MovedRows::default();
    for (table, key) in MOVING {
        let sql =
            format!("UPDATE {table} SET contact_id = $1 WHERE contact_id = $2 RETURNING {key}");
        let rows = sqlx::query(&sql)
            .bind(to)
            .bind(from)
            .fetch_all(&mut *conn)
            .await?;
        match slot(&mut moved, table) {
            Some(ids) => {
                for r in &rows {
                    ids.push(r.try_get(0)?);
                }
                ids.sort_unstable();
            }
            None => {
                for r in &rows {
                    moved.identities.push(r.try_get(0)?);
                }
                moved.identities.sort();
            }
        }
    }
    let rows = sqlx::query(
        "UPDATE handoffs SET contact_id = $1 WHERE contact_id = $2 AND decision IS NULL AND closed_at IS NULL \
         AND NOT EXISTS (SELECT 1 FROM handoffs h WHERE h.contact_id = $1 AND h.decision IS NULL AND h.closed_at IS NULL) \
         RETURNING id",
    )
    .bind(to)
    .bind(from)
    .fetch_all(&mut *conn)
    .await?;
    for r in &rows {
        moved.handoffs.push(r.try_get(0)?);
    }
    Ok(moved)
}

/// Moves the rows a merge moved back from the survivor to the merged
/// contact — those still on the survivor; a row moved on since stays.
pub async fn move_rows_back(
    conn: &mut AnyConnection,
    moved: &MovedRows,
    survivor: i64,
    merged: i64,
) -> Result<(), StoreError> {
    // Bounded lists keep every statement under both backends' parameter limits.
    const CHUNK: usize = 500;
    let mut back = moved.clone();
    for (table, key) in MOVING.iter().copied().chain([("handoffs", "id")]) {
        let args: Vec<Arg> = match slot(&mut back, table) {
            Some(ids) => ids.iter().map(|&i| Arg::from(i)).collect(),
            None => moved
                .identities
                .iter()
                .map(|u| Arg::from(u.as_str()))
                .collect(),
        };
        for chunk in args.chunks(CHUNK) {
            let list = (0..chunk.len())
                .map(|i| format!("${}", i + 3))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "UPDATE {table} SET contact_id = $1 WHERE contact_id = $2 AND {key} IN ({list})"
            );
            let mut all = vec![Arg::from(merged), Arg::from(survivor)];
            all.extend_from_slice(chunk);
            crate::sql::bind_all(sqlx::query(&sql), &all)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

/// Every merge a contact took part in, as survivor or as merged, oldest first.
pub async fn merges_of(
    conn: &mut AnyConnection,
    contact_id: i64,
) -> Result<Vec<ContactMerge>, StoreError> {
    let sql = format!(
        "SELECT {} FROM contact_merges WHERE survivor_id = $1 OR merged_id = $1 ORDER BY id",
        ContactMerge::columns()
    );
    crate::repo::fetch(conn, &sql, &[contact_id.into()]).await
}

/// Whether a merge of these two contacts (either way round) was undone:
/// an event does not merge them again.
pub async fn merge_was_undone(
    conn: &mut AnyConnection,
    a: i64,
    b: i64,
) -> Result<bool, StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*) FROM contact_merges WHERE unmerged_at IS NOT NULL \
         AND ((survivor_id = $1 AND merged_id = $2) OR (survivor_id = $2 AND merged_id = $1))",
    )
    .bind(a)
    .bind(b)
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get::<i64, _>(0)? > 0)
}

/// Locks two contacts' rows in id order on PostgreSQL, so two merges
/// touching one record run one after the other (SQLite's writers are
/// serial already).
pub async fn lock_contacts(conn: &mut AnyConnection, ids: [i64; 2]) -> Result<(), StoreError> {
    let lock = if conn.backend_name() == "PostgreSQL" {
        " FOR UPDATE"
    } else {
        ""
    };
    let sql = format!("SELECT id FROM contacts WHERE id IN ($1, $2) ORDER BY id{lock}");
    sqlx::query(&sql)
        .bind(ids[0])
        .bind(ids[1])
        .fetch_all(&mut *conn)
        .await?;
    Ok(())
}
