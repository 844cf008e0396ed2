//! The audit log: what people (and the system) changed, appended in the
//! same transaction as the change itself, so the log and the data cannot
//! disagree. The table refuses updates and deletes (triggers on both
//! databases); admins read and export it.

use crate::{Actor, App, AppError};
use serde::Serialize;
use smarketing_core::Instant;
use smarketing_core::access::{Action, Relation};
use smarketing_store::{AuditEntry, Conn, repo};

/// Appends one entry: `actor` did `action` (`object.verb`) to the object
/// `kind` `id`, which was `before` and became `after`.
pub(crate) async fn record(
    conn: &mut Conn,
    actor: &Actor,
    action: &str,
    (kind, id): (&str, &(dyn std::fmt::Display + Sync)),
    before: Option<&impl Serialize>,
    after: Option<&impl Serialize>,
    now: Instant,
) -> Result<(), AppError> {
    fn json(v: Option<&impl Serialize>) -> Option<String> {
        v.map(|v| serde_json::to_string(v).expect("values serialise"))
    }
    repo::insert(
        conn,
        &AuditEntry {
            id: 0,
            at: now,
            actor: actor.label.clone(),
            actor_user_id: actor.user_id,
            address: actor.address.clone(),
            action: action.to_string(),
            object_kind: kind.to_string(),
            object_id: id.to_string(),
            before: json(before),
            after: json(after),
            redacted_at: None,
        },
    )
    .await?;
    Ok(())
}

/// Appends an update of a record: only the fields that changed, as they
/// were and as they became (the log keeps no more personal data than the
/// change itself).
pub(crate) async fn record_update(
    conn: &mut Conn,
    actor: &Actor,
    action: &str,
    (kind, id): (&str, i64),
    before: &impl Serialize,
    after: &impl Serialize,
    now: Instant,
) -> Result<(), AppError> {
    let (old, new) = changed(before, after);
    record(
        conn,
        actor,
        action,
        (kind, &id),
        Some(&old),
        Some(&new),
        now,
    )
    .await
}

/// The fields of two serialised records that differ (bookkeeping like
/// `updated_at` left out).
fn changed(
    before: &impl Serialize,
    after: &impl Serialize,
) -> (
    serde_json::Map<String, serde_json::Value>,
    serde_json::Map<String, serde_json::Value>,
) {
    let as_map = |v: serde_json::Value| match v {
        serde_json::Value::Object(m) => m,
        _ => Default::default(),
    };
    let before = as_map(serde_json::to_value(before).expect("records serialise"));
    let after = as_map(serde_json::to_value(after).expect("records serialise"));
    let mut old = serde_json::Map::new();
    let mut new = serde_json::Map::new();
    for (k, v) in &after {
        if k != "updated_at" && before.get(k) != Some(v) {
            old.insert(k.clone(), before.get(k).cloned().unwrap_or_default());
            new.insert(k.clone(), v.clone());
        }
    }
    (old, new)
}

/// Nothing, for an entry that has no before or no after.
pub(crate) const NOTHING: Option<&()> = None;

impl App {
    /// The audit log, newest first: entries at or after `since`, at most
    /// `limit` (admins only).
    pub async fn audit_log(
        &self,
        since: Option<Instant>,
        limit: i64,
        actor: &Actor,
    ) -> Result<Vec<AuditEntry>, AppError> {
        actor.authorize(Action::ReadAudit, Relation::Company)?;
        let mut conn = self.store().acquire().await?;
        Ok(repo::audit_entries(&mut conn, since, limit.clamp(1, 10_000)).await?)
    }
}
