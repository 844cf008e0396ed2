//! Everything held about one person that is not on their contact row's
//! own tables: the ids they are known by, their raw kept events, their
//! deals and handoffs — for a GDPR export (and, later, erasure).

use crate::records::{Deal, Handoff};
use crate::repo::fetch;
use crate::table::FromRow;
use crate::{Conn, StoreError};
use serde::Serialize;
use sqlx::Row;

/// A kept event, as the client sent it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonEvent {
    pub id: i64,
    pub source_id: i64,
    pub message_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub occurred_at: i64,
    pub received_at: i64,
    /// The message as received (JSON).
    pub payload: serde_json::Value,
}

/// The rest of what is held about a contact.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonRecords {
    /// The `userId`s they are known by.
    pub user_ids: Vec<String>,
    /// The browsers' anonymous ids stitched to them.
    pub anonymous_ids: Vec<String>,
    pub events: Vec<PersonEvent>,
    pub deals: Vec<Deal>,
    pub handoffs: Vec<Handoff>,
}

async fn texts(conn: &mut Conn, sql: &str, contact_id: i64) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query(sql).bind(contact_id).fetch_all(conn).await?;
    rows.iter()
        .map(|r| r.try_get::<String, _>(0).map_err(StoreError::from_sqlx))
        .collect()
}

/// What is held about contact `contact_id` beyond its own row, touches,
/// stage changes, activities and notes.
pub async fn person_records(conn: &mut Conn, contact_id: i64) -> Result<PersonRecords, StoreError> {
    let user_ids = texts(
        conn,
        "SELECT user_id FROM contact_identities WHERE contact_id = $1 ORDER BY user_id",
        contact_id,
    )
    .await?;
    let anonymous_ids = texts(
        conn,
        "SELECT anonymous_id FROM visitors WHERE contact_id = $1 ORDER BY anonymous_id",
        contact_id,
    )
    .await?;
    let rows = sqlx::query(
        "SELECT id, source_id, message_id, type, occurred_at, received_at, payload FROM events \
         WHERE user_id IN (SELECT user_id FROM contact_identities WHERE contact_id = $1) \
            OR anonymous_id IN (SELECT anonymous_id FROM visitors WHERE contact_id = $1) \
         ORDER BY id",
    )
    .bind(contact_id)
    .fetch_all(&mut *conn)
    .await?;
    let events = rows
        .iter()
        .map(|r| -> Result<PersonEvent, StoreError> {
            let payload: String = r.try_get("payload").map_err(StoreError::from_sqlx)?;
            Ok(PersonEvent {
                id: r.try_get("id").map_err(StoreError::from_sqlx)?,
                source_id: r.try_get("source_id").map_err(StoreError::from_sqlx)?,
                message_id: r.try_get("message_id").map_err(StoreError::from_sqlx)?,
                kind: r.try_get("type").map_err(StoreError::from_sqlx)?,
                occurred_at: r.try_get("occurred_at").map_err(StoreError::from_sqlx)?,
                received_at: r.try_get("received_at").map_err(StoreError::from_sqlx)?,
                payload: serde_json::from_str(&payload)
                    .unwrap_or(serde_json::Value::String(payload)),
            })
        })
        .collect::<Result<_, _>>()?;
    let deals = fetch(
        conn,
        &format!(
            "SELECT {} FROM deals WHERE contact_id = $1 ORDER BY id",
            Deal::columns()
        ),
        &[contact_id.into()],
    )
    .await?;
    let handoffs = fetch(
        conn,
        &format!(
            "SELECT {} FROM handoffs WHERE contact_id = $1 ORDER BY id",
            Handoff::columns()
        ),
        &[contact_id.into()],
    )
    .await?;
    Ok(PersonRecords {
        user_ids,
        anonymous_ids,
        events,
        deals,
        handoffs,
    })
}

/// What a retention pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Purged {
    pub visitors: u64,
    pub touchpoints: u64,
    pub events: u64,
}

/// Deletes what is held about anonymous visitors (never identified) last
/// seen before `cutoff` (milliseconds): their touches, their applied raw
/// events, and the visitors themselves. Identified people are kept.
pub async fn purge_anonymous_visitors(conn: &mut Conn, cutoff: i64) -> Result<Purged, StoreError> {
    const STALE: &str = "SELECT id FROM visitors WHERE contact_id IS NULL AND last_seen_at < $1";
    let touchpoints = sqlx::query(&format!(
        "DELETE FROM touchpoints WHERE contact_id IS NULL AND visitor_id IN ({STALE})"
    ))
    .bind(cutoff)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let events = sqlx::query(
        "DELETE FROM events WHERE user_id IS NULL AND processed_at IS NOT NULL AND occurred_at < $1 \
         AND anonymous_id IN (SELECT anonymous_id FROM visitors WHERE contact_id IS NULL AND last_seen_at < $1)",
    )
    .bind(cutoff)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let visitors = sqlx::query(
        "DELETE FROM visitors WHERE contact_id IS NULL AND last_seen_at < $1 \
         AND NOT EXISTS (SELECT 1 FROM touchpoints t WHERE t.visitor_id = visitors.id)",
    )
    .bind(cutoff)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(Purged {
        visitors,
        touchpoints,
        events,
    })
}
