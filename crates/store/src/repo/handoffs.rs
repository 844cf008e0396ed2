//! Handoffs and the SLA: rep settings and absences, open handoffs, SLA
//! events, agreements and sign-offs, the escalation ladder and notifications.

use super::*;

/// Routing settings of every user who has them.
pub async fn rep_settings(conn: &mut AnyConnection) -> Result<Vec<RepSettings>, StoreError> {
    let sql = format!(
        "SELECT {} FROM rep_settings ORDER BY user_id",
        RepSettings::columns()
    );
    fetch(conn, &sql, &[]).await
}

/// Creates or replaces a rep's weight, cap and calendar (keeping the tag).
pub async fn upsert_rep_settings(
    conn: &mut AnyConnection,
    user_id: i64,
    weight: i64,
    capacity: Option<i64>,
    calendar: Option<&str>,
) -> Result<RepSettings, StoreError> {
    let sql = format!(
        "INSERT INTO rep_settings (user_id, weight, capacity, calendar, routing_tag) VALUES ($1, $2, $3, $4, 0) \
         ON CONFLICT (user_id) DO UPDATE SET weight = excluded.weight, capacity = excluded.capacity, calendar = excluded.calendar \
         RETURNING {}",
        RepSettings::columns()
    );
    let row = sqlx::query(&sql)
        .bind(user_id)
        .bind(weight)
        .bind(capacity)
        .bind(calendar.map(str::to_string))
        .fetch_one(conn)
        .await?;
    RepSettings::from_row(&row)
}

/// Stores a rep's new fair-queueing tag and the team's virtual time.
pub async fn save_routing_tags(
    conn: &mut AnyConnection,
    user_id: i64,
    tag: f64,
    virtual_time: f64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO rep_settings (user_id, weight, routing_tag) VALUES ($1, 1, $2) ON CONFLICT (user_id) DO UPDATE SET routing_tag = excluded.routing_tag",
    )
    .bind(user_id)
    .bind(tag)
    .execute(&mut *conn)
    .await?;
    sqlx::query("INSERT INTO routing_state (id, virtual_time) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET virtual_time = excluded.virtual_time")
        .bind(virtual_time)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn virtual_time(conn: &mut AnyConnection) -> Result<f64, StoreError> {
    use sqlx::Row;
    let row = sqlx::query("SELECT virtual_time FROM routing_state WHERE id = 1")
        .fetch_optional(conn)
        .await?;
    Ok(row
        .map(|r| r.try_get::<f64, _>(0))
        .transpose()?
        .unwrap_or(0.0))
}

/// Absences that overlap `[from, to)`.
pub async fn out_of_office_between(
    conn: &mut AnyConnection,
    from: Instant,
    to: Instant,
) -> Result<Vec<OutOfOffice>, StoreError> {
    let sql = format!(
        "SELECT {} FROM out_of_office WHERE starts_at < $1 AND ends_at > $2 ORDER BY user_id, starts_at",
        OutOfOffice::columns()
    );
    fetch(conn, &sql, &[to.millis().into(), from.millis().into()]).await
}

/// Open handoffs per assignee.
pub async fn open_handoff_counts(
    conn: &mut AnyConnection,
) -> Result<std::collections::HashMap<i64, i64>, StoreError> {
    use sqlx::Row;
    let rows = sqlx::query("SELECT assignee_id, COUNT(*) FROM handoffs WHERE decision IS NULL AND closed_at IS NULL AND assignee_id IS NOT NULL GROUP BY assignee_id")
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from_sqlx)
}

pub async fn open_handoff_of_contact(
    conn: &mut AnyConnection,
    contact_id: i64,
) -> Result<Option<Handoff>, StoreError> {
    let sql = format!(
        "SELECT {} FROM handoffs WHERE contact_id = $1 AND decision IS NULL AND closed_at IS NULL",
        Handoff::columns()
    );
    Ok(fetch(conn, &sql, &[contact_id.into()]).await?.pop())
}

pub async fn assignments_of(
    conn: &mut AnyConnection,
    handoff_id: i64,
) -> Result<Vec<HandoffAssignment>, StoreError> {
    let sql = format!(
        "SELECT {} FROM handoff_assignments WHERE handoff_id = $1 ORDER BY assigned_at, id",
        HandoffAssignment::columns()
    );
    fetch(conn, &sql, &[handoff_id.into()]).await
}

pub async fn sla_events_of(
    conn: &mut AnyConnection,
    handoff_id: i64,
) -> Result<Vec<SlaEvent>, StoreError> {
    let sql = format!(
        "SELECT {} FROM sla_events WHERE handoff_id = $1 ORDER BY at, id",
        SlaEvent::columns()
    );
    fetch(conn, &sql, &[handoff_id.into()]).await
}

/// Records a clock change once; returns whether it was new.
pub async fn record_sla_event(
    conn: &mut AnyConnection,
    handoff_id: i64,
    clock: &str,
    state: &str,
    at: Instant,
    now: Instant,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO sla_events (handoff_id, clock, state, at, recorded_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (handoff_id, clock, state, at) DO NOTHING",
    )
    .bind(handoff_id)
    .bind(clock)
    .bind(state)
    .bind(at.millis())
    .bind(now.millis())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn sla_agreements(conn: &mut AnyConnection) -> Result<Vec<SlaAgreement>, StoreError> {
    let sql = format!(
        "SELECT {} FROM sla_agreements ORDER BY version",
        SlaAgreement::columns()
    );
    fetch(conn, &sql, &[]).await
}

pub async fn insert_sla_agreement(
    conn: &mut AnyConnection,
    playbook_version: i64,
    policy: &str,
    summary: &str,
    now: Instant,
) -> Result<SlaAgreement, StoreError> {
    use sqlx::Row;
    let next: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) + 1 FROM sla_agreements")
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    let sql = format!(
        "INSERT INTO sla_agreements (version, playbook_version, policy, summary, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING {}",
        SlaAgreement::columns()
    );
    let row = sqlx::query(&sql)
        .bind(next)
        .bind(playbook_version)
        .bind(policy)
        .bind(summary)
        .bind(now.millis())
        .fetch_one(conn)
        .await?;
    SlaAgreement::from_row(&row)
}

pub async fn sla_signoffs(conn: &mut AnyConnection) -> Result<Vec<SlaSignoff>, StoreError> {
    let sql = format!(
        "SELECT {} FROM sla_signoffs ORDER BY agreement_id, signed_at",
        SlaSignoff::columns()
    );
    fetch(conn, &sql, &[]).await
}

pub async fn insert_sla_signoff(
    conn: &mut AnyConnection,
    agreement_id: i64,
    team: Team,
    user_id: i64,
    now: Instant,
) -> Result<SlaSignoff, StoreError> {
    let sql = format!(
        "INSERT INTO sla_signoffs (agreement_id, team, user_id, signed_at) VALUES ($1, $2, $3, $4) RETURNING {}",
        SlaSignoff::columns()
    );
    let row = sqlx::query(&sql)
        .bind(agreement_id)
        .bind(team.as_str())
        .bind(user_id)
        .bind(now.millis())
        .fetch_one(conn)
        .await?;
    SlaSignoff::from_row(&row)
}

/// Schedules an escalation step once per assignment.
pub async fn schedule_escalation(
    conn: &mut AnyConnection,
    handoff_id: i64,
    clock: &str,
    step: &str,
    assigned_at: Instant,
    due_at: Instant,
    now: Instant,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO escalations (handoff_id, clock, step, assigned_at, due_at, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (handoff_id, clock, step, assigned_at) DO NOTHING",
    )
    .bind(handoff_id)
    .bind(clock)
    .bind(step)
    .bind(assigned_at.millis())
    .bind(due_at.millis())
    .bind(now.millis())
    .execute(conn)
    .await?;
    Ok(())
}

/// Handoffs with escalations due by `now`, locked for this transaction so
/// that one scheduler works through a handoff's steps in order while others
/// take other handoffs (`lock` from `Store::skip_locked`).
pub async fn handoffs_with_due_escalations(
    conn: &mut AnyConnection,
    now: Instant,
    limit: i64,
    lock: &str,
) -> Result<Vec<i64>, StoreError> {
    use sqlx::Row;
    let sql = format!(
        "SELECT id FROM handoffs WHERE id IN (SELECT handoff_id FROM escalations WHERE fired_at IS NULL AND due_at <= $1) ORDER BY id LIMIT $2{lock}"
    );
    let rows = sqlx::query(&sql)
        .bind(now.millis())
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| r.try_get::<i64, _>(0))
        .collect::<Result<_, _>>()
        .map_err(StoreError::from_sqlx)
}

/// A handoff's unfired escalations due by `now`, in due order.
pub async fn due_escalations_of(
    conn: &mut AnyConnection,
    handoff_id: i64,
    now: Instant,
) -> Result<Vec<Escalation>, StoreError> {
    let sql = format!(
        "SELECT {} FROM escalations WHERE handoff_id = $1 AND fired_at IS NULL AND due_at <= $2 ORDER BY due_at, id",
        Escalation::columns()
    );
    fetch(conn, &sql, &[handoff_id.into(), now.millis().into()]).await
}

/// Claims an escalation for firing; false when another process already did.
pub async fn claim_escalation(
    conn: &mut AnyConnection,
    id: i64,
    now: Instant,
    outcome: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE escalations SET fired_at = $1, outcome = $2 WHERE id = $3 AND fired_at IS NULL",
    )
    .bind(now.millis())
    .bind(outcome)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn escalations_of(
    conn: &mut AnyConnection,
    handoff_id: i64,
) -> Result<Vec<Escalation>, StoreError> {
    let sql = format!(
        "SELECT {} FROM escalations WHERE handoff_id = $1 ORDER BY due_at, id",
        Escalation::columns()
    );
    fetch(conn, &sql, &[handoff_id.into()]).await
}

pub async fn insert_notification(
    conn: &mut AnyConnection,
    user_id: i64,
    kind: &str,
    handoff_id: Option<i64>,
    title: &str,
    body: &str,
    now: Instant,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO notifications (user_id, kind, handoff_id, title, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(user_id)
        .bind(kind)
        .bind(handoff_id)
        .bind(title)
        .bind(body)
        .bind(now.millis())
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn notifications_of(
    conn: &mut AnyConnection,
    user_id: i64,
    unread_only: bool,
    limit: i64,
) -> Result<Vec<Notification>, StoreError> {
    let unread = if unread_only {
        " AND read_at IS NULL"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {} FROM notifications WHERE user_id = $1{unread} ORDER BY created_at DESC, id DESC LIMIT $2",
        Notification::columns()
    );
    fetch(conn, &sql, &[user_id.into(), limit.into()]).await
}

/// Marks a user's notification read; false when it is not theirs.
pub async fn mark_notification_read(
    conn: &mut AnyConnection,
    id: i64,
    user_id: i64,
    now: Instant,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE notifications SET read_at = COALESCE(read_at, $1) WHERE id = $2 AND user_id = $3",
    )
    .bind(now.millis())
    .bind(id)
    .bind(user_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ids of open handoffs with an assignee (for the scheduler's sweep).
pub async fn open_assigned_handoffs(conn: &mut AnyConnection) -> Result<Vec<Handoff>, StoreError> {
    let sql = format!(
        "SELECT {} FROM handoffs WHERE decision IS NULL AND closed_at IS NULL AND assignee_id IS NOT NULL ORDER BY id",
        Handoff::columns()
    );
    fetch(conn, &sql, &[]).await
}

/// Overwrites the outcome of a claimed escalation.
pub async fn set_escalation_outcome(
    conn: &mut AnyConnection,
    id: i64,
    outcome: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE escalations SET outcome = $1 WHERE id = $2")
        .bind(outcome)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Live contacts still in SAL that sales accepted (from a handoff) before
/// `before`, with when they last did — imported history does not count.
pub async fn sals_entered_before(
    conn: &mut AnyConnection,
    before: Instant,
) -> Result<Vec<(i64, Instant)>, StoreError> {
    use sqlx::Row;
    let rows = sqlx::query(
        "SELECT c.id, MAX(s.changed_at) FROM contacts c \
         JOIN stage_changes s ON s.contact_id = c.id AND s.to_stage = 'sal' \
         AND s.cause = 'handoff_accepted' \
         WHERE c.stage = 'sal' AND c.merged_into_id IS NULL \
         GROUP BY c.id HAVING MAX(s.changed_at) < $1 ORDER BY c.id",
    )
    .bind(before.millis())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let at =
                Instant::from_millis(r.try_get(1)?).map_err(|e| StoreError::Corrupt(e.message))?;
            Ok((r.try_get(0)?, at))
        })
        .collect()
}
