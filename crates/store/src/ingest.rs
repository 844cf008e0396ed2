//! Storage of event ingestion: sources and their hashed write keys, the
//! event log (one row per source and messageId, so a retried message is
//! never stored twice), the queue of events not yet applied, the userIds
//! a contact is known by, and stitching a visitor's touchpoints to a contact.

use crate::sql::{Arg, insert_many};
use crate::{Conn, StoreError};
use serde::Serialize;
use sqlx::Row;

/// A site or app that sends events.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Source {
    pub id: i64,
    pub name: String,
    /// Origins whose pages may send events from a browser (CORS).
    pub allowed_origins: Vec<String>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    /// The source's own quota, in events a second (None: the server's).
    pub events_per_second: Option<i64>,
    /// The source's own quota, in bytes a second (None: the server's).
    pub bytes_per_second: Option<i64>,
}

impl Source {
    /// Whether a browser on `origin` (scheme://host[:port]) may send events
    /// for this source; origins compare without regard to case.
    pub fn allows(&self, origin: &str) -> bool {
        self.allowed_origins
            .iter()
            .any(|o| o == "*" || o.eq_ignore_ascii_case(origin))
    }
}

const SOURCE_COLUMNS: &str =
    "id, name, allowed_origins, created_at, revoked_at, events_per_second, bytes_per_second";

fn source(r: &sqlx::any::AnyRow) -> Result<Source, sqlx::Error> {
    let origins: String = r.try_get("allowed_origins")?;
    Ok(Source {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        allowed_origins: serde_json::from_str(&origins).unwrap_or_default(),
        created_at: r.try_get("created_at")?,
        revoked_at: r.try_get("revoked_at")?,
        events_per_second: r.try_get("events_per_second")?,
        bytes_per_second: r.try_get("bytes_per_second")?,
    })
}

/// Sets a source's own quota (None: the server's); false when no source
/// has that name.
pub async fn set_source_quota(
    conn: &mut Conn,
    name: &str,
    events_per_second: Option<i64>,
    bytes_per_second: Option<i64>,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE sources SET events_per_second = $1, bytes_per_second = $2 WHERE name = $3",
    )
    .bind(events_per_second)
    .bind(bytes_per_second)
    .bind(name)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

pub async fn insert_source(
    conn: &mut Conn,
    name: &str,
    write_key_hash: &str,
    allowed_origins: &[String],
    now: i64,
) -> Result<Source, StoreError> {
    let sql = format!(
        "INSERT INTO sources (name, write_key_hash, allowed_origins, created_at) VALUES ($1, $2, $3, $4) RETURNING {SOURCE_COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(name)
        .bind(write_key_hash)
        .bind(serde_json::to_string(allowed_origins).expect("strings serialise"))
        .bind(now)
        .fetch_one(conn)
        .await
        .map_err(StoreError::from_sqlx)?;
    source(&row).map_err(StoreError::from_sqlx)
}

/// Every source, revoked ones too, by name.
pub async fn sources(conn: &mut Conn) -> Result<Vec<Source>, StoreError> {
    let sql = format!("SELECT {SOURCE_COLUMNS} FROM sources ORDER BY name");
    let rows = sqlx::query(&sql).fetch_all(conn).await?;
    rows.iter()
        .map(source)
        .collect::<Result<_, _>>()
        .map_err(StoreError::from_sqlx)
}

/// The unrevoked source a write key hash belongs to.
pub async fn source_by_key(conn: &mut Conn, hash: &str) -> Result<Option<Source>, StoreError> {
    let sql = format!(
        "SELECT {SOURCE_COLUMNS} FROM sources WHERE write_key_hash = $1 AND revoked_at IS NULL"
    );
    let row = sqlx::query(&sql).bind(hash).fetch_optional(conn).await?;
    row.as_ref()
        .map(source)
        .transpose()
        .map_err(StoreError::from_sqlx)
}

/// Revokes a source by name; false when there is no such unrevoked source.
pub async fn revoke_source(conn: &mut Conn, name: &str, now: i64) -> Result<bool, StoreError> {
    let done =
        sqlx::query("UPDATE sources SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(name)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives a source a new write key (the old one stops working); false when
/// there is no such unrevoked source.
pub async fn set_write_key(conn: &mut Conn, name: &str, hash: &str) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE sources SET write_key_hash = $1 WHERE name = $2 AND revoked_at IS NULL",
    )
    .bind(hash)
    .bind(name)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// One message to keep.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub source_id: i64,
    pub message_id: String,
    pub kind: &'static str,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    pub occurred_at: i64,
    pub received_at: i64,
    pub payload: String,
    /// The batch's shared context, stored once for all its events.
    pub context: Option<EventContext>,
}

/// A batch's shared context: its JSON and the SHA-256 it is stored by (one
/// row however many events, and however many batches, carry it).
#[derive(Debug, Clone)]
pub struct EventContext {
    pub hash: std::sync::Arc<String>,
    pub json: std::sync::Arc<String>,
}

/// Stores the distinct contexts of `events` (once each, by hash) and
/// returns each event's context id.
async fn context_ids(
    conn: &mut Conn,
    events: &[NewEvent],
    now: i64,
) -> Result<Vec<Option<i64>>, StoreError> {
    let mut ids: Vec<(std::sync::Arc<String>, i64)> = Vec::new();
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        let Some(c) = &e.context else {
            out.push(None);
            continue;
        };
        if let Some((_, id)) = ids.iter().find(|(h, _)| h == &c.hash) {
            out.push(Some(*id));
            continue;
        }
        sqlx::query(
            "INSERT INTO event_contexts (hash, context, created_at) VALUES ($1, $2, $3) ON CONFLICT (hash) DO NOTHING",
        )
        .bind(c.hash.as_str())
        .bind(c.json.as_str())
        .bind(now)
        .execute(&mut *conn)
        .await?;
        let id: i64 = sqlx::query("SELECT id FROM event_contexts WHERE hash = $1")
            .bind(c.hash.as_str())
            .fetch_one(&mut *conn)
            .await?
            .try_get(0)
            .map_err(StoreError::from_sqlx)?;
        ids.push((c.hash.clone(), id));
        out.push(Some(id));
    }
    Ok(out)
}

/// Keeps events; a (source, messageId) already kept is skipped. Returns how
/// many were new.
pub async fn insert_events(conn: &mut Conn, events: &[NewEvent]) -> Result<u64, StoreError> {
    let now = events.first().map_or(0, |e| e.received_at);
    let contexts = context_ids(conn, events, now).await?;
    let rows: Vec<Vec<Arg>> = events
        .iter()
        .zip(contexts)
        .map(|(e, context)| {
            vec![
                e.source_id.into(),
                e.message_id.clone().into(),
                e.kind.into(),
                e.user_id.clone().into(),
                e.anonymous_id.clone().into(),
                e.occurred_at.into(),
                e.received_at.into(),
                e.payload.clone().into(),
                context.into(),
            ]
        })
        .collect();
    insert_many(
        conn,
        "events",
        &[
            "source_id",
            "message_id",
            "type",
            "user_id",
            "anonymous_id",
            "occurred_at",
            "received_at",
            "payload",
            "context_id",
        ],
        &rows,
        "ON CONFLICT (source_id, message_id) DO NOTHING",
    )
    .await
}

/// Keeps the events of several requests in one transaction (one commit,
/// one fsync); how many of each request's were new. On PostgreSQL each
/// request is one `INSERT … SELECT FROM UNNEST` of column arrays (in
/// array order, so ids follow arrival and events apply in order) — one
/// statement with eight parameters however many rows, where a multi-row
/// `VALUES` costs a parameter per value to bind and plan.
pub async fn keep_events(
    store: &crate::Store,
    requests: &[&[NewEvent]],
) -> Result<Vec<u64>, StoreError> {
    let Some(pg) = store.pg() else {
        let mut stored = Vec::with_capacity(requests.len());
        let mut tx = store.begin().await?;
        for events in requests {
            stored.push(insert_events(&mut tx, events).await?);
        }
        tx.commit().await.map_err(StoreError::from_sqlx)?;
        return Ok(stored);
    };
    // Two writers given the same messageIds in opposite orders (a client
    // retrying while its first try is still queued) can deadlock on the
    // unique index; PostgreSQL then aborts one, which tries again and
    // finds the other's rows kept.
    let mut attempt = 0;
    loop {
        match keep_events_pg(pg, requests).await {
            Err(sqlx::Error::Database(e))
                if e.code().as_deref() == Some("40P01") && attempt < 5 =>
            {
                attempt += 1;
            }
            r => return r.map_err(StoreError::from_sqlx),
        }
    }
}

/// [`context_ids`] on PostgreSQL's own connection type.
async fn pg_context_ids(
    tx: &mut sqlx::PgConnection,
    events: &[NewEvent],
) -> Result<Vec<Option<i64>>, sqlx::Error> {
    let mut ids: Vec<(std::sync::Arc<String>, i64)> = Vec::new();
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        let Some(c) = &e.context else {
            out.push(None);
            continue;
        };
        if let Some((_, id)) = ids.iter().find(|(h, _)| h == &c.hash) {
            out.push(Some(*id));
            continue;
        }
        // Insert when new, and the id either way; a row another writer
        // committed meanwhile is not in this statement's snapshot, so it
        // is read by a statement of its own.
        let found: Option<i64> = sqlx::query_scalar(
            "WITH new AS (INSERT INTO event_contexts (hash, context, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (hash) DO NOTHING RETURNING id) \
             SELECT id FROM new UNION ALL SELECT id FROM event_contexts WHERE hash = $1 LIMIT 1",
        )
        .bind(c.hash.as_str())
        .bind(c.json.as_str())
        .bind(e.received_at)
        .fetch_optional(&mut *tx)
        .await?;
        let id = match found {
            Some(id) => id,
            None => {
                sqlx::query_scalar("SELECT id FROM event_contexts WHERE hash = $1")
                    .bind(c.hash.as_str())
                    .fetch_one(&mut *tx)
                    .await?
            }
        };
        ids.push((c.hash.clone(), id));
        out.push(Some(id));
    }
    Ok(out)
}

async fn keep_events_pg(
    pg: &sqlx::PgPool,
    requests: &[&[NewEvent]],
) -> Result<Vec<u64>, sqlx::Error> {
    let mut stored = Vec::with_capacity(requests.len());
    let mut tx = pg.begin().await?;
    for events in requests {
        let contexts = pg_context_ids(&mut tx, events).await?;
        let col = |f: fn(&NewEvent) -> i64| events.iter().map(f).collect::<Vec<i64>>();
        let text =
            |f: fn(&NewEvent) -> Option<&str>| events.iter().map(f).collect::<Vec<Option<&str>>>();
        let done = sqlx::query(
            "INSERT INTO events (source_id, message_id, type, user_id, anonymous_id, occurred_at, received_at, payload, context_id) \
             SELECT s, m, t, u, a, o, r, p, c FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::text[], $9::bigint[]) \
             WITH ORDINALITY AS e (s, m, t, u, a, o, r, p, c, n) ORDER BY n \
             ON CONFLICT (source_id, message_id) DO NOTHING",
        )
        .bind(col(|e| e.source_id))
        .bind(text(|e| Some(e.message_id.as_str())))
        .bind(text(|e| Some(e.kind)))
        .bind(text(|e| e.user_id.as_deref()))
        .bind(text(|e| e.anonymous_id.as_deref()))
        .bind(col(|e| e.occurred_at))
        .bind(col(|e| e.received_at))
        .bind(text(|e| Some(e.payload.as_str())))
        .bind(contexts)
        .execute(&mut *tx)
        .await?;
        stored.push(done.rows_affected());
    }
    tx.commit().await?;
    Ok(stored)
}

/// A kept event waiting to be applied.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub id: i64,
    pub source_id: i64,
    pub kind: String,
    pub occurred_at: i64,
    pub received_at: i64,
    pub payload: String,
    /// Its batch's shared context, as stored once.
    pub context: Option<String>,
}

/// The oldest events not yet applied, in arrival order. `lock` is the
/// backend's row-claiming suffix, so two processes never apply one event.
pub async fn unprocessed_events(
    conn: &mut Conn,
    limit: i64,
    lock: &str,
) -> Result<Vec<StoredEvent>, StoreError> {
    let sql = format!(
        "SELECT e.id, e.source_id, e.type, e.occurred_at, e.received_at, e.payload, \
         (SELECT c.context FROM event_contexts c WHERE c.id = e.context_id) \
         FROM events e WHERE e.processed_at IS NULL ORDER BY e.id LIMIT $1{lock}"
    );
    let rows = sqlx::query(&sql).bind(limit).fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            Ok(StoredEvent {
                id: r.try_get(0)?,
                source_id: r.try_get(1)?,
                kind: r.try_get(2)?,
                occurred_at: r.try_get(3)?,
                received_at: r.try_get(4)?,
                payload: r.try_get(5)?,
                context: r.try_get(6)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from_sqlx)
}

/// Deletes a kept event (one from a person who was erased), and its
/// batch's context when no other event points at it.
pub async fn forget_event(conn: &mut Conn, id: i64) -> Result<(), StoreError> {
    let context: Option<i64> = sqlx::query("SELECT context_id FROM events WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .and_then(|r| r.try_get(0).ok().flatten());
    sqlx::query("DELETE FROM events WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    if let Some(c) = context {
        sqlx::query(
            "DELETE FROM event_contexts WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM events WHERE context_id = $1)",
        )
        .bind(c)
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// Marks an event applied, with why it did nothing when it did nothing.
pub async fn mark_processed(
    conn: &mut Conn,
    id: i64,
    now: i64,
    outcome: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE events SET processed_at = $1, outcome = $2 WHERE id = $3")
        .bind(now)
        .bind(outcome)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Marks events applied without remark, in one statement.
pub async fn mark_all_processed(conn: &mut Conn, ids: &[i64], now: i64) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let list = (0..ids.len())
        .map(|i| format!("${}", i + 2))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("UPDATE events SET processed_at = $1 WHERE id IN ({list})");
    let mut q = sqlx::query(&sql).bind(now);
    for id in ids {
        q = q.bind(*id);
    }
    q.execute(conn).await?;
    Ok(())
}

/// How many events are kept, and how many of them wait to be applied.
pub async fn event_counts(conn: &mut Conn) -> Result<(i64, i64), StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN processed_at IS NULL THEN 1 ELSE 0 END), 0) FROM events",
    )
    .fetch_one(conn)
    .await?;
    Ok((
        row.try_get(0).map_err(StoreError::from_sqlx)?,
        row.try_get(1).map_err(StoreError::from_sqlx)?,
    ))
}

/// About how many kept events wait to be applied, without a scan: the ids
/// from the oldest waiting event to the newest kept (an upper bound — ids
/// skipped by a refused duplicate count too). Two index lookups however
/// many events there are, so a monitor can ask it often under load.
pub async fn unapplied_span(conn: &mut Conn) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "SELECT COALESCE((SELECT MAX(id) FROM events) - (SELECT MIN(id) FROM events WHERE processed_at IS NULL) + 1, 0)",
    )
    .fetch_one(conn)
    .await?;
    row.try_get(0).map_err(StoreError::from_sqlx)
}

/// The contact a userId belongs to.
pub async fn contact_by_user_id(conn: &mut Conn, user_id: &str) -> Result<Option<i64>, StoreError> {
    let row = sqlx::query("SELECT contact_id FROM contact_identities WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(conn)
        .await?;
    row.map(|r| r.try_get(0))
        .transpose()
        .map_err(StoreError::from_sqlx)
}

/// The contact an anonymous visitor was stitched to.
pub async fn contact_by_anonymous_id(
    conn: &mut Conn,
    anonymous_id: &str,
) -> Result<Option<i64>, StoreError> {
    let row = sqlx::query("SELECT contact_id FROM visitors WHERE anonymous_id = $1")
        .bind(anonymous_id)
        .fetch_optional(conn)
        .await?;
    Ok(row
        .map(|r| r.try_get::<Option<i64>, _>(0))
        .transpose()
        .map_err(StoreError::from_sqlx)?
        .flatten())
}

/// Records that a userId is this contact (the first contact named wins).
pub async fn add_identity(
    conn: &mut Conn,
    user_id: &str,
    contact_id: i64,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO contact_identities (user_id, contact_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(user_id)
    .bind(contact_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Stitches an anonymous visitor to a contact: the visitor and every
/// touchpoint it left without a contact now belong to the contact. Returns
/// the ids of the touchpoints moved.
pub async fn stitch_visitor(
    conn: &mut Conn,
    anonymous_id: &str,
    contact_id: i64,
    at: smarketing_core::Instant,
) -> Result<Vec<i64>, StoreError> {
    // The upsert points the visitor at the contact.
    let visitor =
        crate::repo::upsert_visitor(&mut *conn, anonymous_id, Some(contact_id), at).await?;
    let rows = sqlx::query(
        "UPDATE touchpoints SET contact_id = $1 WHERE visitor_id = $2 AND contact_id IS NULL RETURNING id",
    )
    .bind(contact_id)
    .bind(visitor)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| r.try_get::<i64, _>(0))
        .collect::<Result<_, _>>()
        .map_err(StoreError::from_sqlx)
}

/// Every kept messageId of a source with how many rows hold it (always one:
/// the crash test checks it).
pub async fn message_id_counts(
    conn: &mut Conn,
    source_id: i64,
) -> Result<Vec<(String, i64)>, StoreError> {
    let rows = sqlx::query(
        "SELECT message_id, COUNT(*) FROM events WHERE source_id = $1 GROUP BY message_id",
    )
    .bind(source_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from_sqlx)
}

/// Page, screen and track events applied without a reason against the
/// touchpoints there are: each such event makes exactly one, so the crash
/// test expects the two equal once everything is applied.
pub async fn applied_touch_counts(conn: &mut Conn) -> Result<(i64, i64), StoreError> {
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM events WHERE type IN ('page', 'screen', 'track') AND processed_at IS NOT NULL AND outcome IS NULL), (SELECT COUNT(*) FROM touchpoints)",
    )
    .fetch_one(conn)
    .await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

/// The latest kept events: id, type, and why applying did nothing (if it did).
pub async fn recent_events(
    conn: &mut Conn,
    limit: i64,
) -> Result<Vec<(i64, String, Option<String>)>, StoreError> {
    let rows = sqlx::query("SELECT id, type, outcome FROM events ORDER BY id DESC LIMIT $1")
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from_sqlx)
}
