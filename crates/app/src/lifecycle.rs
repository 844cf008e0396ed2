//! The lifecycle kernel: building and saving contacts, every stage move
//! (checked by core, recorded as an append-only stage change), rescoring,
//! and the checks these need. Every path that changes a contact's stage
//! comes through here.

use crate::input::*;
use crate::{Actor, AppError};
use smarketing_core::lifecycle::check_move;
use smarketing_core::playbook::Profile;
use smarketing_core::scoring::{ScoreCard, ScoredTouch, score};
use smarketing_core::{Email, Instant, Invalid, Playbook, Stage, StageCause};
use smarketing_store::Conn as AnyConnection;
use smarketing_store::{Account, Contact, Handoff, StageChange, Touchpoint, User, repo};

/// The attributes persona and fit rules see.
pub fn profile(contact: &Contact, account: Option<&Account>) -> Profile {
    Profile {
        email_domain: contact.email.split_once('@').map(|(_, d)| d.to_string()),
        job_title: contact.job_title.clone(),
        persona: contact.persona.clone(),
        contact_country: contact.country.clone(),
        account_domain: account.and_then(|a| a.domain.clone()),
        industry: account.and_then(|a| a.industry.clone()),
        employee_count: account.and_then(|a| a.employee_count),
        company_size: account.and_then(|a| a.company_size.clone()),
        region: account.and_then(|a| a.region.clone()),
        account_country: account.and_then(|a| a.country.clone()),
    }
}

/// The touches that count toward a contact's engagement: all of them, or
/// those since it was last recycled (recycling restarts engagement, so a
/// rejected lead cannot qualify again on what sales already turned down).
pub(crate) fn engaging(contact: &Contact, touches: &[Touchpoint]) -> Vec<ScoredTouch> {
    touches
        .iter()
        .filter(|t| contact.recycled_at.is_none_or(|r| t.occurred_at > r))
        .map(scored)
        .collect()
}

pub(crate) fn scored(t: &Touchpoint) -> ScoredTouch {
    ScoredTouch {
        touchpoint_id: t.id,
        occurred_at: t.occurred_at.timestamp(),
        channel: t.channel.clone(),
        kind: t.kind.clone(),
    }
}

pub(crate) fn check_channel(
    playbook: &Playbook,
    field: &str,
    channel: &str,
) -> Result<String, Invalid> {
    let c = channel.trim();
    if playbook.has_channel(c) {
        Ok(c.to_string())
    } else {
        Err(Invalid::new(
            "unknown_channel",
            field,
            format!(
                "{c:?} is not a channel of the playbook; expected one of {}",
                playbook
                    .channels
                    .iter()
                    .map(|c| c.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ))
    }
}

pub(crate) fn check_persona(playbook: &Playbook, persona: &str) -> Result<String, Invalid> {
    let p = persona.trim();
    if playbook.has_persona(p) {
        Ok(p.to_string())
    } else {
        Err(Invalid::new(
            "unknown_persona",
            "persona",
            format!("{p:?} is not a persona of the playbook"),
        ))
    }
}

pub(crate) fn parse_stage(playbook: &Playbook, field: &str, s: &str) -> Result<Stage, Invalid> {
    let stage: Stage = s.parse().map_err(|e: Invalid| e.at(field))?;
    if !playbook.has_stage(stage) {
        return Err(Invalid::new(
            "stage_not_in_playbook",
            field,
            format!("stage {stage} is not part of the playbook"),
        ));
    }
    Ok(stage)
}

/// Builds (but does not save) a new contact from input: normalised e-mail,
/// persona matched when not given, starting stage checked, fit scored.
pub(crate) fn new_contact(
    playbook: &Playbook,
    input: &ContactInput,
    account: Option<&Account>,
    now: Instant,
) -> Result<Contact, Invalid> {
    let stage = match &input.stage {
        Some(s) => parse_stage(playbook, "stage", s)?,
        None => Stage::Lead,
    };
    if stage.is_side_state() {
        return Err(Invalid::new(
            "invalid_stage",
            "stage",
            "a new contact starts in a funnel stage, not recycled or disqualified",
        ));
    }
    let created_at = input.created_at.unwrap_or(now);
    let mut c = Contact {
        id: 0,
        external_id: opt_text("external_id", input.external_id.as_deref(), NAME_MAX)?,
        email: Email::parse(&input.email)?.to_string(),
        first_name: opt_text("first_name", input.first_name.as_deref(), NAME_MAX)?,
        last_name: opt_text("last_name", input.last_name.as_deref(), NAME_MAX)?,
        job_title: opt_text("job_title", input.job_title.as_deref(), NAME_MAX)?,
        phone: opt_text("phone", input.phone.as_deref(), 50)?,
        country: opt_text("country", input.country.as_deref(), 100)?,
        account_id: input.account_id,
        owner_id: input.owner_id,
        persona: input
            .persona
            .as_deref()
            .map(|p| check_persona(playbook, p))
            .transpose()?,
        stage,
        source_channel: input
            .source_channel
            .as_deref()
            .map(|c| check_channel(playbook, "source_channel", c))
            .transpose()?,
        fit_score: 0,
        engagement_score: 0.0,
        scored_at: None,
        first_touch: None,
        last_touch: None,
        merged_into_id: None,
        recycled_at: None,
        created_at,
        updated_at: now,
    };
    if c.persona.is_none() {
        c.persona = playbook
            .match_persona(&profile(&c, account))
            .map(str::to_string);
    }
    let card = score(playbook, &profile(&c, account), &[], created_at.timestamp());
    c.fit_score = card.fit;
    c.scored_at = Some(created_at);
    Ok(c)
}

/// A record merged into another takes no new rows or changes: the caller
/// is pointed at the one it became.
pub(crate) fn check_not_merged(c: &Contact, field: &str) -> Result<(), Invalid> {
    match c.merged_into_id {
        Some(into) => Err(Invalid::new(
            "merged_contact",
            field,
            format!(
                "contact {} was merged into contact {into}; use {into}",
                c.id
            ),
        )),
        None => Ok(()),
    }
}

/// [`check_not_merged`] for an optional contact reference that may not exist
/// (a missing one is reported by the insert's foreign key).
pub(crate) async fn check_contact_ref(
    conn: &mut AnyConnection,
    field: &str,
    id: Option<i64>,
) -> Result<(), AppError> {
    if let Some(id) = id
        && let Ok(c) = repo::get::<Contact>(conn, id).await
    {
        check_not_merged(&c, field)?;
    }
    Ok(())
}

pub(crate) async fn check_user_ref(
    conn: &mut AnyConnection,
    field: &str,
    id: Option<i64>,
) -> Result<(), AppError> {
    if let Some(id) = id {
        repo::get::<User>(conn, id).await.map_err(|_| {
            Invalid::new(
                "unknown_reference",
                field,
                format!("user {id} does not exist"),
            )
        })?;
    }
    Ok(())
}

/// Saves a new contact with its first stage change.
pub(crate) async fn insert_contact(
    conn: &mut AnyConnection,
    contact: &Contact,
    actor: &Actor,
) -> Result<Contact, AppError> {
    if crate::privacy::was_erased(conn, &contact.email, contact.created_at).await? {
        return Err(crate::privacy::erased_person("email").into());
    }
    let saved = repo::insert(conn, contact).await.map_err(|e| match e {
        smarketing_store::StoreError::Conflict { field } => AppError::Conflict {
            what: "contact",
            field,
        },
        smarketing_store::StoreError::MissingReference => AppError::Invalid(Invalid::new(
            "unknown_reference",
            "account_id",
            "the account or owner does not exist",
        )),
        other => other.into(),
    })?;
    let change = StageChange {
        id: 0,
        contact_id: saved.id,
        from_stage: None,
        to_stage: saved.stage,
        changed_at: saved.created_at,
        actor: actor.label.clone(),
        actor_user_id: actor.user_id,
        cause: StageCause::Created,
        reason_code: None,
        note: None,
        touchpoint_id: None,
    };
    repo::insert(conn, &change).await?;
    Ok(saved)
}

/// One lifecycle move: where to, why, by whom, when.
#[derive(Debug, Clone)]
pub struct StageMove<'a> {
    pub to: Stage,
    pub cause: StageCause,
    /// The playbook's rejection reason a move into a side state needs.
    pub reason: Option<&'a str>,
    pub actor: &'a Actor,
    /// The touch that caused it (a hand-raiser, the touch over the threshold).
    pub touchpoint_id: Option<i64>,
    pub note: Option<String>,
    pub at: Instant,
}

impl<'a> StageMove<'a> {
    /// A move to `to` for `cause`, by `actor`, at `at`; no reason, touch or note.
    pub fn new(to: Stage, cause: StageCause, actor: &'a Actor, at: Instant) -> Self {
        StageMove {
            to,
            cause,
            reason: None,
            actor,
            touchpoint_id: None,
            note: None,
            at,
        }
    }
}

/// Applies one lifecycle move to `contact` (checked by core) and records it.
pub(crate) async fn change_stage(
    conn: &mut AnyConnection,
    playbook: &Playbook,
    contact: &mut Contact,
    m: StageMove<'_>,
) -> Result<StageChange, AppError> {
    let StageMove {
        to,
        cause,
        reason,
        actor,
        touchpoint_id,
        note,
        at,
    } = m;
    check_move(playbook, Some(contact.stage), to, reason)?;
    let change = StageChange {
        id: 0,
        contact_id: contact.id,
        from_stage: Some(contact.stage),
        to_stage: to,
        changed_at: at,
        actor: actor.label.clone(),
        actor_user_id: actor.user_id,
        cause,
        reason_code: if to.is_side_state() {
            reason.map(str::to_string)
        } else {
            None
        },
        note,
        touchpoint_id,
    };
    let saved = repo::insert(conn, &change).await.map_err(|e| match e {
        smarketing_store::StoreError::Conflict { .. } => AppError::Conflict {
            what: "stage change",
            field: "changed_at".into(),
        },
        other => other.into(),
    })?;
    contact.stage = to;
    contact.updated_at = at;
    if to == Stage::Recycled {
        contact.recycled_at = Some(at);
    }
    *contact = repo::update(conn, contact.id, &*contact).await?;
    // Every path out of MQL other than sales' decision (which closes the
    // handoff itself) leaves the loop: the open handoff closes with the
    // move's cause, and its clocks stop.
    let decided = matches!(
        cause,
        StageCause::HandoffAccepted | StageCause::HandoffRejected
    );
    if to != Stage::Mql && !decided {
        close_open_handoff(conn, contact.id, cause.as_str(), actor, at).await?;
    }
    Ok(saved)
}

/// Closes the contact's open handoff, if it has one, because it left the
/// loop by another path than a decision (`cause`: a stage change's cause,
/// `merged`, `erased`). Its clocks stop and its pending escalations are
/// skipped; the `handoff.closed` webhook tells the outside.
pub(crate) async fn close_open_handoff(
    conn: &mut AnyConnection,
    contact_id: i64,
    cause: &str,
    actor: &Actor,
    at: Instant,
) -> Result<Option<Handoff>, AppError> {
    let Some(mut h) = repo::open_handoff_of_contact(conn, contact_id).await? else {
        return Ok(None);
    };
    // A move recorded as of an earlier time (an import, a deal's own date)
    // cannot close the handoff before it was opened.
    let at = if at.millis() < h.created_at.millis() {
        h.created_at
    } else {
        at
    };
    h.closed_at = Some(at);
    h.closed_cause = Some(cause.to_string());
    h.closed_by = actor.user_id;
    h.updated_at = at;
    let h = repo::update(conn, h.id, &h).await?;
    crate::outbox::emit(
        conn,
        "handoff.closed",
        &serde_json::json!({ "handoff": &h }),
        Some(h.contact_id),
        at,
    )
    .await?;
    Ok(Some(h))
}

/// Recomputes and caches a contact's scores at `at`, and its first and
/// last touch.
pub(crate) async fn rescore(
    conn: &mut AnyConnection,
    playbook: &Playbook,
    mut contact: Contact,
    at: Instant,
) -> Result<(Contact, ScoreCard), AppError> {
    let account = match contact.account_id {
        Some(a) => Some(repo::get::<Account>(conn, a).await?),
        None => None,
    };
    let rows = repo::touchpoints_of_contact(conn, contact.id).await?;
    // The touches changed, so where the contact came from may have too.
    contact.set_touch_origins(&rows);
    let touches = engaging(&contact, &rows);
    let card = score(
        playbook,
        &profile(&contact, account.as_ref()),
        &touches,
        at.timestamp(),
    );
    contact.fit_score = card.fit;
    contact.engagement_score = card.engagement;
    contact.scored_at = Some(at);
    let saved = repo::update(conn, contact.id, &contact).await?;
    Ok((saved, card))
}

/// The record a contact became: itself, or the survivor of the merges it
/// went into.
pub(crate) async fn live(conn: &mut AnyConnection, mut c: Contact) -> Result<Contact, AppError> {
    // A merge needs both records live, so chains are short; the bound
    // only guards against a corrupt cycle.
    for _ in 0..64 {
        match c.merged_into_id {
            Some(into) => c = repo::get(conn, into).await?,
            None => return Ok(c),
        }
    }
    Err(smarketing_store::StoreError::Corrupt(format!("contact {} merges in a cycle", c.id)).into())
}
