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
        "SELECT id, source_id, message_id, type, occurred_at, received_at, payload, \
                (SELECT c.context FROM event_contexts c WHERE c.id = events.context_id) AS context \
         FROM events \
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
            let context: Option<String> = r.try_get("context").map_err(StoreError::from_sqlx)?;
            Ok(PersonEvent {
                id: r.try_get("id").map_err(StoreError::from_sqlx)?,
                source_id: r.try_get("source_id").map_err(StoreError::from_sqlx)?,
                message_id: r.try_get("message_id").map_err(StoreError::from_sqlx)?,
                kind: r.try_get("type").map_err(StoreError::from_sqlx)?,
                occurred_at: r.try_get("occurred_at").map_err(StoreError::from_sqlx)?,
                received_at: r.try_get("received_at").map_err(StoreError::from_sqlx)?,
                // As the client sent it: with its batch's shared context.
                payload: match serde_json::from_str(&payload) {
                    Ok(serde_json::Value::Object(mut body)) => {
                        if let Some(Ok(shared)) = context.as_deref().map(serde_json::from_str) {
                            smarketing_core::ingest::apply_context(&mut body, shared);
                        }
                        serde_json::Value::Object(body)
                    }
                    Ok(other) => other,
                    Err(_) => serde_json::Value::String(payload),
                },
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
    purge_orphan_contexts(conn).await?;
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

/// What erasing a person deleted, table by table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Erased {
    pub contacts: u64,
    pub touchpoints: u64,
    pub stage_changes: u64,
    pub activities: u64,
    pub notes: u64,
    pub handoffs: u64,
    pub notifications: u64,
    pub merges: u64,
    pub events: u64,
    pub visitors: u64,
    pub identities: u64,
    pub consents: u64,
    pub webhook_deliveries: u64,
    /// Deals kept (the company's revenue) with the person taken off them.
    pub deals_detached: u64,
    /// Audit entries whose before and after were blanked.
    pub audit_entries_redacted: u64,
    /// Other records whose free text named them (a note on their company,
    /// a deal or call named after them, a notification), with each
    /// mention replaced by "[erased]".
    pub mentions_redacted: u64,
}

/// Free text that may name someone, as (table, column, audit object kind).
const FREE_TEXT: &[(&str, &str, &str)] = &[
    ("notes", "body", "note"),
    ("deals", "name", "deal"),
    ("activities", "subject", "activity"),
    ("activities", "body", "activity"),
    ("notifications", "title", "notification"),
    ("notifications", "body", "notification"),
];

/// Rewrites every free text in [`FREE_TEXT`] that holds one of `mentions`
/// with the mention blanked; the records rewritten, as (kind, id).
async fn redact_mentions(
    conn: &mut Conn,
    mentions: &[String],
) -> Result<Vec<(&'static str, i64)>, StoreError> {
    let Some(finder) = smarketing_core::redaction::Mentions::new(mentions) else {
        return Ok(Vec::new());
    };
    let mut rewritten = Vec::new();
    for (table, column, kind) in FREE_TEXT {
        // A coarse filter in SQL, the exact one (whole words) in Rust.
        // LOWER() is ASCII-only on SQLite, so the mention as written is
        // tried too.
        let filter = (0..mentions.len())
            .map(|i| {
                format!(
                    "LOWER({column}) LIKE ${} ESCAPE '\\' OR {column} LIKE ${} ESCAPE '\\'",
                    2 * i + 1,
                    2 * i + 2
                )
            })
            .collect::<Vec<_>>()
            .join(" OR ");
        let sql =
            format!("SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL AND ({filter})");
        let mut q = sqlx::query(&sql);
        for m in mentions {
            q = q
                .bind(format!("%{}%", like_escaped(&m.to_lowercase())))
                .bind(format!("%{}%", like_escaped(m)));
        }
        let rows = q.fetch_all(&mut *conn).await?;
        for r in rows {
            let id: i64 = r.try_get(0).map_err(StoreError::from_sqlx)?;
            let text: String = r.try_get(1).map_err(StoreError::from_sqlx)?;
            if let Some(redacted) = finder.redact(&text) {
                sqlx::query(&format!("UPDATE {table} SET {column} = $1 WHERE id = $2"))
                    .bind(redacted)
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
                rewritten.push((*kind, id));
            }
        }
    }
    rewritten.sort_unstable();
    rewritten.dedup();
    Ok(rewritten)
}

/// The contacts that are one person with `contact_id`: the record it was
/// merged into, if any, up to the surviving one, and every record merged
/// into that, at any depth.
pub async fn person_contacts(conn: &mut Conn, contact_id: i64) -> Result<Vec<i64>, StoreError> {
    let mut root = contact_id;
    for _ in 0..1000 {
        let row = sqlx::query("SELECT merged_into_id FROM contacts WHERE id = $1")
            .bind(root)
            .fetch_optional(&mut *conn)
            .await?;
        match row.and_then(|r| r.try_get::<Option<i64>, _>(0).ok().flatten()) {
            Some(up) => root = up,
            None => break,
        }
    }
    let mut all = vec![root];
    let mut frontier = vec![root];
    while let Some(id) = frontier.pop() {
        let rows = sqlx::query("SELECT id FROM contacts WHERE merged_into_id = $1")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
        for r in rows {
            let child: i64 = r.try_get(0).map_err(StoreError::from_sqlx)?;
            if !all.contains(&child) {
                all.push(child);
                frontier.push(child);
            }
        }
    }
    Ok(all)
}

/// `(id1, id2, …)` for an `IN` list of ids: numbers we hold, never input
/// text, so written into the statement.
fn id_list(ids: &[i64]) -> String {
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    format!("({})", list.join(", "))
}

/// The `IN` list of quoted texts, bound as parameters from `$first`.
fn text_params(n: usize, first: usize) -> String {
    let list: Vec<String> = (first..first + n).map(|i| format!("${i}")).collect();
    format!("({})", list.join(", "))
}

async fn ids(conn: &mut Conn, sql: &str) -> Result<Vec<i64>, StoreError> {
    let rows = sqlx::query(sql).fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| r.try_get::<i64, _>(0).map_err(StoreError::from_sqlx))
        .collect()
}

async fn run(conn: &mut Conn, sql: &str) -> Result<u64, StoreError> {
    Ok(sqlx::query(sql).execute(&mut *conn).await?.rows_affected())
}

/// Deletes everything held about the contacts `contacts` (one person, from
/// [`person_contacts`]): their rows, touches, stage history, activities,
/// notes, handoffs with their clocks, escalations and notifications,
/// merges, consents, identities, visitors, kept raw events and queued
/// webhook messages. Deals stay, without them. Audit entries about them
/// keep who did what and when, with the before and after blanked.
pub async fn erase_person(
    conn: &mut Conn,
    contacts: &[i64],
    now: i64,
) -> Result<Erased, StoreError> {
    let c = id_list(contacts);
    let records = {
        let rows = sqlx::query(&format!(
            "SELECT email, first_name, last_name FROM contacts WHERE id IN {c}"
        ))
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|r| {
                Ok::<_, sqlx::Error>((
                    r.try_get::<String, _>(0)?,
                    r.try_get::<Option<String>, _>(1)?,
                    r.try_get::<Option<String>, _>(2)?,
                ))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(StoreError::from_sqlx)?
    };
    let emails: Vec<String> = records.iter().map(|r| r.0.clone()).collect();
    let mentions = smarketing_core::redaction::mentions(
        records
            .iter()
            .map(|(e, f, l)| (e.as_str(), f.as_deref(), l.as_deref())),
    );
    let handoffs = ids(
        conn,
        &format!("SELECT id FROM handoffs WHERE contact_id IN {c}"),
    )
    .await?;
    let notes = ids(
        conn,
        &format!("SELECT id FROM notes WHERE contact_id IN {c}"),
    )
    .await?;
    let activities = ids(
        conn,
        &format!("SELECT id FROM activities WHERE contact_id IN {c}"),
    )
    .await?;
    let merges = ids(
        conn,
        &format!("SELECT id FROM contact_merges WHERE survivor_id IN {c} OR merged_id IN {c}"),
    )
    .await?;
    let visitors = ids(
        conn,
        &format!("SELECT id FROM visitors WHERE contact_id IN {c}"),
    )
    .await?;
    let user_ids = {
        let rows = sqlx::query(&format!(
            "SELECT user_id FROM contact_identities WHERE contact_id IN {c}"
        ))
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map_err(StoreError::from_sqlx))
            .collect::<Result<Vec<_>, _>>()?
    };
    let anonymous_ids = {
        let rows = sqlx::query(&format!(
            "SELECT anonymous_id FROM visitors WHERE contact_id IN {c}"
        ))
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map_err(StoreError::from_sqlx))
            .collect::<Result<Vec<_>, _>>()?
    };
    let h = id_list(&handoffs);
    let mut e = Erased::default();
    // The one thing that may delete history: the triggers let it through
    // for the contacts listed here, in this transaction only.
    run(
        conn,
        &format!(
            "INSERT INTO erasures_in_progress (contact_id) VALUES {}",
            contacts
                .iter()
                .map(|c| format!("({c})"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
    .await?;
    if !handoffs.is_empty() {
        e.notifications = run(
            conn,
            &format!("DELETE FROM notifications WHERE handoff_id IN {h}"),
        )
        .await?;
        run(
            conn,
            &format!("DELETE FROM escalations WHERE handoff_id IN {h}"),
        )
        .await?;
        run(
            conn,
            &format!("DELETE FROM sla_events WHERE handoff_id IN {h}"),
        )
        .await?;
        run(
            conn,
            &format!("DELETE FROM handoff_assignments WHERE handoff_id IN {h}"),
        )
        .await?;
        e.handoffs = run(conn, &format!("DELETE FROM handoffs WHERE id IN {h}")).await?;
    }
    // Merges the person took part in name records outside the erased set
    // too (a merge since undone): those records' merge entries carry the
    // person's values.
    let merge_parties = ids(
        conn,
        &format!(
            "SELECT survivor_id FROM contact_merges WHERE survivor_id IN {c} OR merged_id IN {c} \
             UNION SELECT merged_id FROM contact_merges WHERE survivor_id IN {c} OR merged_id IN {c}"
        ),
    )
    .await?;
    let merge_events = ids(
        conn,
        &format!("SELECT event_id FROM contact_merges WHERE event_id IS NOT NULL AND (survivor_id IN {c} OR merged_id IN {c})"),
    )
    .await?;
    e.merges = run(
        conn,
        &format!("DELETE FROM contact_merges WHERE survivor_id IN {c} OR merged_id IN {c}"),
    )
    .await?;
    e.activities = run(
        conn,
        &format!("DELETE FROM activities WHERE contact_id IN {c}"),
    )
    .await?;
    e.notes = run(conn, &format!("DELETE FROM notes WHERE contact_id IN {c}")).await?;
    e.deals_detached = run(
        conn,
        &format!("UPDATE deals SET contact_id = NULL WHERE contact_id IN {c}"),
    )
    .await?;
    e.stage_changes = run(
        conn,
        &format!("DELETE FROM stage_changes WHERE contact_id IN {c}"),
    )
    .await?;
    let v = id_list(&visitors);
    let touches = if visitors.is_empty() {
        format!("contact_id IN {c}")
    } else {
        format!("contact_id IN {c} OR visitor_id IN {v}")
    };
    e.touchpoints = run(conn, &format!("DELETE FROM touchpoints WHERE {touches}")).await?;
    e.identities = run(
        conn,
        &format!("DELETE FROM contact_identities WHERE contact_id IN {c}"),
    )
    .await?;
    // Their kept raw events: by the ids they were known by, and those a
    // merge of theirs was revealed by.
    if !merge_events.is_empty() {
        e.events += run(
            conn,
            &format!("DELETE FROM events WHERE id IN {}", id_list(&merge_events)),
        )
        .await?;
    }
    for (column, values) in [("user_id", &user_ids), ("anonymous_id", &anonymous_ids)] {
        for chunk in values.chunks(500) {
            let sql = format!(
                "DELETE FROM events WHERE {column} IN {}",
                text_params(chunk.len(), 1)
            );
            let mut q = sqlx::query(&sql);
            for value in chunk {
                q = q.bind(value.as_str());
            }
            e.events += q.execute(&mut *conn).await?.rows_affected();
        }
    }
    // Shared contexts only their events pointed at went with them.
    purge_orphan_contexts(conn).await?;
    e.visitors = run(
        conn,
        &format!("DELETE FROM visitors WHERE contact_id IN {c}"),
    )
    .await?;
    e.consents = run(
        conn,
        &format!("DELETE FROM consents WHERE contact_id IN {c}"),
    )
    .await?;
    e.webhook_deliveries = run(
        conn,
        &format!("DELETE FROM webhook_deliveries WHERE contact_id IN {c}"),
    )
    .await?;
    // Messages and notifications that name them without pointing at a
    // handoff of theirs (queued before messages said whom they were
    // about, or a notice to marketing's leads).
    for email in &emails {
        // The e-mail whole, as a JSON value: not another address that
        // contains this one.
        let quoted_email = serde_json::to_string(email).expect("a string serialises");
        e.webhook_deliveries += sqlx::query(
            "DELETE FROM webhook_deliveries WHERE contact_id IS NULL AND payload LIKE $1 ESCAPE '\\'",
        )
        .bind(format!("%\"email\":{}%", like_escaped(&quoted_email)))
        .execute(&mut *conn)
        .await?
        .rows_affected();
        // Notices that begin with the lead's e-mail ("ana@x.io: …").
        e.notifications += sqlx::query(
            "DELETE FROM notifications WHERE handoff_id IS NULL AND body LIKE $1 ESCAPE '\\'",
        )
        .bind(format!("{}: %", like_escaped(email)))
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    // Other records' free text that names them: a note on their company,
    // a deal or call named after them.
    let rewritten = redact_mentions(conn, &mentions).await?;
    e.mentions_redacted = rewritten.len() as u64;
    run(
        conn,
        &format!("UPDATE contacts SET merged_into_id = NULL WHERE id IN {c}"),
    )
    .await?;
    e.contacts = run(conn, &format!("DELETE FROM contacts WHERE id IN {c}")).await?;
    run(
        conn,
        &format!("DELETE FROM erasures_in_progress WHERE contact_id IN {c}"),
    )
    .await?;
    // The audit log keeps that something was done to them, by whom, when;
    // not what their data was.
    let mut about = vec![format!(
        "(object_kind = 'contact' AND object_id IN {})",
        quoted(contacts)
    )];
    for (kind, list) in [
        ("handoff", &handoffs),
        ("note", &notes),
        ("activity", &activities),
        ("contact_merge", &merges),
    ] {
        if !list.is_empty() {
            about.push(format!(
                "(object_kind = '{kind}' AND object_id IN {})",
                quoted(list)
            ));
        }
    }
    for (kind, id) in &rewritten {
        about.push(format!("(object_kind = '{kind}' AND object_id = '{id}')"));
    }
    if !merge_parties.is_empty() {
        about.push(format!(
            "(object_kind = 'contact' AND action = 'contact.merge' AND object_id IN {})",
            quoted(&merge_parties)
        ));
    }
    e.audit_entries_redacted = sqlx::query(&format!(
        "UPDATE audit_log SET before = NULL, after = NULL, redacted_at = $1 WHERE redacted_at IS NULL AND ({})",
        about.join(" OR ")
    ))
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(e)
}

/// `text` with LIKE's wildcards and the escape character escaped.
fn like_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// `('1', '2', …)`: ids as the audit log's text object ids.
fn quoted(ids: &[i64]) -> String {
    let list: Vec<String> = ids.iter().map(|i| format!("'{i}'")).collect();
    format!("({})", list.join(", "))
}

/// Whether an erased person's tombstone has this e-mail hash.
pub async fn is_erased(conn: &mut Conn, email_hash: &str) -> Result<bool, StoreError> {
    Ok(
        sqlx::query("SELECT 1 FROM erased_people WHERE email_hash = $1")
            .bind(email_hash)
            .fetch_optional(conn)
            .await?
            .is_some(),
    )
}

/// Every tombstone's e-mail hash (for an import to check its rows against).
pub async fn erased_hashes(conn: &mut Conn) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query("SELECT email_hash FROM erased_people")
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| r.try_get::<String, _>(0).map_err(StoreError::from_sqlx))
        .collect()
}

/// Leaves a tombstone (once per e-mail hash).
pub async fn add_tombstone(conn: &mut Conn, email_hash: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO erased_people (email_hash, erased_at) VALUES ($1, $2) ON CONFLICT (email_hash) DO NOTHING",
    )
    .bind(email_hash)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// This installation's key named `name`; `fresh` (random) becomes it on
/// first use. Two first uses at once agree on one.
pub async fn instance_key(
    conn: &mut Conn,
    name: &str,
    fresh: &str,
    now: i64,
) -> Result<String, StoreError> {
    sqlx::query(
        "INSERT INTO instance_keys (name, secret, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(fresh)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let row = sqlx::query("SELECT secret FROM instance_keys WHERE name = $1")
        .bind(name)
        .fetch_one(conn)
        .await?;
    row.try_get(0).map_err(StoreError::from_sqlx)
}

/// Deletes the batch contexts no kept event points at any more.
pub async fn purge_orphan_contexts(conn: &mut Conn) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "DELETE FROM event_contexts WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.context_id = event_contexts.id)",
    )
    .execute(conn)
    .await?
    .rows_affected())
}
