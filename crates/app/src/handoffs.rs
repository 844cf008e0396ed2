//! Handoffs: an MQL routed to a sales rep, worked against SLA clocks in the
//! rep's working calendar under the terms in force when it was opened, and
//! ended by an accept or a reject with a reason (or closed when the lead
//! leaves the loop another way). Every step is a stage change with its actor
//! and cause.

use crate::activities::log_activity;
use crate::error::named;
use crate::escalations::clocks;
use crate::input::{ActivityInput, BODY_MAX, NAME_MAX, one_of, opt_text, text};
use crate::lifecycle::{StageMove, change_stage, engaging, profile};
use crate::listing::Paging;
use crate::routing::{SalesTeam, is_rep, route_lead};
use crate::sla_terms::{SlaTerms, Terms};
use crate::{Actor, App, AppError};
use serde::{Deserialize, Serialize};
use smarketing_core::access::{Action, Relation};
use smarketing_core::playbook::RejectOutcome;
use smarketing_core::scoring::{ScoreCard, score};
use smarketing_core::sla::Clock;
use smarketing_core::{Decision, Instant, Invalid, Playbook, Stage, StageCause, Team};
use smarketing_store::filters::{HandoffRows, HandoffState};
use smarketing_store::{
    Account, Activity, Conn, Contact, Handoff, HandoffAssignment, Note, Page, SlaEvent,
    StageChange, Touchpoint, User, repo,
};
use std::sync::Arc;

/// A handoff with its clocks as of now.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HandoffView {
    pub handoff: Handoff,
    pub clocks: Vec<Clock>,
}

/// Everything a rep needs to decide: why this lead is an MQL, what it did
/// lately, who it is, what marketing noted, and the clocks.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HandoffCard {
    pub handoff: Handoff,
    pub clocks: Vec<Clock>,
    pub contact: Contact,
    pub account: Option<Account>,
    pub score: ScoreCard,
    /// The ten most recent touches, newest first.
    pub recent_touches: Vec<Touchpoint>,
    pub notes: Vec<Note>,
    pub activities: Vec<Activity>,
    pub assignments: Vec<HandoffAssignment>,
    pub sla_events: Vec<SlaEvent>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct HandoffFilter {
    pub assignee_id: Option<i64>,
    /// Handoffs held by members of this team (`sales` or `marketing`).
    pub team: Option<String>,
    /// `open`, `accepted` or `rejected`.
    pub decision: Option<String>,
    /// Only handoffs with a clock in this state: `on_track`, `at_risk`, `breached`, `met`.
    pub clock_state: Option<String>,
    pub contact_id: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AcceptInput {
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RejectInput {
    /// A rejection reason code of the playbook (required).
    pub reason: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReassignInput {
    pub user_id: i64,
    /// Why (required).
    pub reason: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HandoffActivityInput {
    /// `call`, `email`, `meeting` or `note`.
    #[cfg_attr(feature = "openapi", schema(value_type = smarketing_core::ActivityKind))]
    pub kind: String,
    /// `attempt` (default) or `connect`.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<smarketing_core::ActivityOutcome>))]
    pub outcome: Option<String>,
    pub subject: Option<String>,
    pub body: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub occurred_at: Option<Instant>,
}

/// Opens and routes a handoff for a contact that just became an MQL (unless
/// one is already open). Runs inside the caller's transaction.
pub(crate) async fn open_handoff(
    conn: &mut Conn,
    playbook: &Playbook,
    contact: &Contact,
    mql_change: &StageChange,
    now: Instant,
) -> Result<Option<Handoff>, AppError> {
    if repo::open_handoff_of_contact(conn, contact.id)
        .await?
        .is_some()
    {
        return Ok(None);
    }
    let team = SalesTeam::load(conn, now).await?;
    let decision = route_lead(conn, playbook, &team, contact, now, None).await?;
    // Held to the agreement both teams have signed by now, whatever is
    // signed later.
    let terms = Terms::now(conn).await?;
    let rule = serde_json::to_value(decision.rule)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let handoff = repo::insert(
        conn,
        &Handoff {
            id: 0,
            contact_id: contact.id,
            mql_change_id: Some(mql_change.id),
            assignee_id: decision.assignee,
            assigned_at: decision.assignee.map(|_| now),
            route_rule: rule.clone(),
            route_reason: decision.reason.clone(),
            decision: None,
            decided_at: None,
            decided_by: None,
            reason_code: None,
            decision_note: None,
            playbook_version: Some(terms.playbook_version),
            agreement_version: terms.agreement_version,
            closed_at: None,
            closed_cause: None,
            closed_by: None,
            created_at: now,
            updated_at: now,
        },
    )
    .await?;
    repo::insert(
        conn,
        &HandoffAssignment {
            id: 0,
            handoff_id: handoff.id,
            user_id: decision.assignee,
            assigned_at: now,
            actor: "system".into(),
            actor_user_id: None,
            rule,
            reason: decision.reason,
        },
    )
    .await?;
    // Start the clocks (and schedule the escalation ladder) at once.
    let mut held = SlaTerms::new(terms.playbook_version, Arc::new(playbook.clone()));
    clocks(conn, &mut held, &team, &handoff, now).await?;
    crate::outbox::emit(
        conn,
        "handoff.created",
        &serde_json::json!({ "handoff": &handoff }),
        Some(handoff.contact_id),
        now,
    )
    .await?;
    // The contact's owner follows the handoff.
    if let Some(user) = decision.assignee
        && contact.owner_id != Some(user)
    {
        let mut c = contact.clone();
        c.owner_id = Some(user);
        repo::update(conn, c.id, &c).await?;
    }
    Ok(Some(handoff))
}

/// The rep's decision on a handoff.
fn record_decision(
    h: &mut Handoff,
    decision: Decision,
    reason: Option<&str>,
    note: Option<String>,
    actor: &Actor,
    now: Instant,
) {
    h.decision = Some(decision);
    h.decided_at = Some(now);
    h.decided_by = actor.user_id;
    h.reason_code = reason.map(str::to_string);
    h.decision_note = note;
    h.updated_at = now;
}

/// Saves a changed handoff, reads its clocks (recording their changes) and
/// commits.
async fn save_and_view(
    mut tx: smarketing_store::Tx<'static>,
    terms: &mut SlaTerms,
    h: &Handoff,
    now: Instant,
) -> Result<HandoffView, AppError> {
    let h = repo::update(&mut tx, h.id, h).await?;
    let team = SalesTeam::load(&mut tx, now).await?;
    let clocks = clocks(&mut tx, terms, &team, &h, now).await?;
    tx.commit()
        .await
        .map_err(smarketing_store::StoreError::from)?;
    Ok(HandoffView { handoff: h, clocks })
}

/// How a handoff stands to an actor. Handoffs are sales' work: the
/// assigned rep's own, their team's for everyone else in sales, and the
/// other team's for marketing, which hands leads over but does not decide them.
fn relation(actor: &Actor, h: &Handoff) -> Relation {
    if actor.user_id.is_some() && actor.user_id == h.assignee_id {
        Relation::Own
    } else if actor.team == Some(Team::Sales) {
        Relation::Team
    } else {
        Relation::Other
    }
}

/// Whether `actor` may work `h` (decide it, log on it, or move its lead out
/// of MQL by hand): the permission table on how it stands to them.
pub(crate) fn may_work(actor: &Actor, h: &Handoff) -> Result<(), AppError> {
    actor.authorize(Action::WorkHandoff, relation(actor, h))
}

fn still_open(h: &Handoff) -> Result<(), AppError> {
    match (&h.decision, &h.closed_cause) {
        (Some(d), _) => Err(AppError::Invalid(Invalid::new(
            "handoff_closed",
            "decision",
            format!("this handoff was already {d}"),
        ))),
        (None, Some(cause)) => Err(AppError::Invalid(Invalid::new(
            "handoff_closed",
            "decision",
            format!("this handoff was closed ({cause}): the lead left the loop another way"),
        ))),
        (None, None) => Ok(()),
    }
}

impl App {
    pub async fn handoffs(
        &self,
        f: &HandoffFilter,
        paging: &Paging,
    ) -> Result<Page<HandoffView>, AppError> {
        let (version, playbook) = self.playbook().await?;
        let mut terms = SlaTerms::new(version, playbook);
        let now = self.now();
        let state = match f.decision.as_deref() {
            None => None,
            Some("open") => Some(HandoffState::Open),
            Some("closed") => Some(HandoffState::Closed),
            Some(d) => {
                one_of("decision", d, &["open", "accepted", "rejected", "closed"])?;
                Some(HandoffState::Decided(d.parse()?))
            }
        };
        let w = HandoffRows {
            assignee_id: f.assignee_id,
            team: f.team.as_deref().map(str::parse::<Team>).transpose()?,
            contact_id: f.contact_id,
            state,
        }
        .to_where();
        let state = f
            .clock_state
            .as_deref()
            .map(|s| {
                one_of(
                    "clock_state",
                    s,
                    &["on_track", "at_risk", "breached", "met"],
                )
            })
            .transpose()?;
        let mut conn = self.store().begin().await?;
        let team = SalesTeam::load(&mut conn, now).await?;
        // Clock states are computed, so a clock filter reads on until the page is full.
        let limit = paging.limit()?;
        let mut cursor = paging.cursor()?.map(str::to_string);
        let mut items = Vec::new();
        let next = loop {
            let page =
                repo::page::<Handoff>(&mut conn, w.clone(), cursor.as_deref(), limit).await?;
            for h in page.items {
                let clocks = clocks(&mut conn, &mut terms, &team, &h, now).await?;
                let keep = state
                    .as_deref()
                    .is_none_or(|s| clocks.iter().any(|c| c.state.as_str() == s));
                if keep && items.len() < limit as usize {
                    items.push(HandoffView { handoff: h, clocks });
                }
            }
            match page.next_cursor {
                Some(c) if items.len() < limit as usize => cursor = Some(c),
                other => {
                    break if items.len() >= limit as usize {
                        other
                    } else {
                        None
                    };
                }
            }
        };
        conn.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        let next_cursor = match (next, items.last()) {
            (Some(_), Some(last)) => Some(smarketing_store::sql::encode_cursor(last.handoff.id)),
            _ => None,
        };
        Ok(Page { items, next_cursor })
    }

    pub async fn handoff_card(&self, id: i64) -> Result<HandoffCard, AppError> {
        let (version, playbook) = self.playbook().await?;
        let mut terms = SlaTerms::new(version, playbook.clone());
        let now = self.now();
        let mut conn = self.store().begin().await?;
        let h: Handoff = repo::get(&mut conn, id)
            .await
            .map_err(named("handoff", id))?;
        let team = SalesTeam::load(&mut conn, now).await?;
        let clocks = clocks(&mut conn, &mut terms, &team, &h, now).await?;
        let contact: Contact = repo::get(&mut conn, h.contact_id).await?;
        let account = match contact.account_id {
            Some(a) => Some(repo::get::<Account>(&mut conn, a).await?),
            None => None,
        };
        let touches = repo::touchpoints_of_contact(&mut conn, contact.id).await?;
        let scored_touches = engaging(&contact, &touches);
        let score = ScoreCard {
            playbook_version: Some(version),
            ..score(
                &playbook,
                &profile(&contact, account.as_ref()),
                &scored_touches,
                now.timestamp(),
            )
        };
        let mut recent = touches;
        recent.reverse();
        recent.truncate(10);
        let card = HandoffCard {
            clocks,
            notes: repo::notes_of_contact(&mut conn, contact.id).await?,
            activities: repo::activities_of_contact(&mut conn, contact.id).await?,
            assignments: repo::assignments_of(&mut conn, id).await?,
            sla_events: repo::sla_events_of(&mut conn, id).await?,
            score,
            recent_touches: recent,
            account,
            contact,
            handoff: h,
        };
        conn.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(card)
    }

    /// The rep accepts: the contact becomes sales-accepted (SAL, or SQL when
    /// the playbook has no SAL stage).
    pub async fn accept_handoff(
        &self,
        id: i64,
        input: AcceptInput,
        actor: &Actor,
    ) -> Result<HandoffView, AppError> {
        let (version, playbook) = self.playbook().await?;
        let now = self.now();
        let mut tx = self.store().begin().await?;
        let mut h: Handoff = repo::get(&mut tx, id).await.map_err(named("handoff", id))?;
        may_work(actor, &h)?;
        still_open(&h)?;
        let note = opt_text("note", input.note.as_deref(), BODY_MAX)?;
        let mut c: Contact = repo::get(&mut tx, h.contact_id).await?;
        let before_stage = c.stage;
        let to = if playbook.has_stage(Stage::Sal) {
            Stage::Sal
        } else {
            Stage::Sql
        };
        if c.stage.funnel_rank().is_none_or(|r| r < to as u8) {
            let m = StageMove {
                note: note.clone(),
                ..StageMove::new(to, StageCause::HandoffAccepted, actor, now)
            };
            change_stage(&mut tx, &playbook, &mut c, m).await?;
        }
        let stage_before = serde_json::json!({ "decision": h.decision, "stage": before_stage });
        record_decision(&mut h, Decision::Accepted, None, note, actor, now);
        crate::audit::record(
            &mut tx,
            actor,
            "handoff.accept",
            ("handoff", &id),
            Some(&stage_before),
            Some(&serde_json::json!({ "decision": h.decision, "stage": c.stage })),
            now,
        )
        .await?;
        save_and_view(tx, &mut SlaTerms::new(version, playbook), &h, now).await
    }

    /// The rep rejects with a reason: the contact is disqualified or
    /// recycled to nurture, as the reason says.
    pub async fn reject_handoff(
        &self,
        id: i64,
        input: RejectInput,
        actor: &Actor,
    ) -> Result<HandoffView, AppError> {
        let (version, playbook) = self.playbook().await?;
        let now = self.now();
        let code = input
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .ok_or_else(|| {
                Invalid::new(
                    "reason_required",
                    "reason",
                    "rejecting a handoff needs a rejection reason code",
                )
            })?;
        let reason = playbook
            .rejection_reason(code)
            .ok_or_else(|| {
                Invalid::new(
                    "unknown_reason",
                    "reason",
                    format!("{code:?} is not a rejection reason of the playbook"),
                )
            })?
            .clone();
        let note = opt_text("note", input.note.as_deref(), BODY_MAX)?;
        let mut tx = self.store().begin().await?;
        let mut h: Handoff = repo::get(&mut tx, id).await.map_err(named("handoff", id))?;
        may_work(actor, &h)?;
        still_open(&h)?;
        let mut c: Contact = repo::get(&mut tx, h.contact_id).await?;
        let before = serde_json::json!({ "decision": h.decision, "stage": c.stage });
        let to = match reason.outcome {
            RejectOutcome::Disqualify => Stage::Disqualified,
            RejectOutcome::Recycle => Stage::Recycled,
        };
        let m = StageMove {
            reason: Some(code),
            note: note.clone(),
            ..StageMove::new(to, StageCause::HandoffRejected, actor, now)
        };
        change_stage(&mut tx, &playbook, &mut c, m).await?;
        record_decision(&mut h, Decision::Rejected, Some(code), note, actor, now);
        crate::audit::record(
            &mut tx,
            actor,
            "handoff.reject",
            ("handoff", &id),
            Some(&before),
            Some(&serde_json::json!({ "decision": h.decision, "reason": code, "stage": c.stage })),
            now,
        )
        .await?;
        save_and_view(tx, &mut SlaTerms::new(version, playbook.clone()), &h, now).await
    }

    /// A manager hands the lead to another rep; the clocks restart for them.
    pub async fn reassign_handoff(
        &self,
        id: i64,
        input: ReassignInput,
        actor: &Actor,
    ) -> Result<HandoffView, AppError> {
        let (version, playbook) = self.playbook().await?;
        let now = self.now();
        let reason = text("reason", &input.reason, NAME_MAX)?;
        let mut tx = self.store().begin().await?;
        let mut h: Handoff = repo::get(&mut tx, id).await.map_err(named("handoff", id))?;
        actor.authorize(Action::ReassignHandoff, relation(actor, &h))?;
        still_open(&h)?;
        let target: User = repo::get(&mut tx, input.user_id).await.map_err(|_| {
            Invalid::new(
                "unknown_reference",
                "user_id",
                format!("user {} does not exist", input.user_id),
            )
        })?;
        if !is_rep(&target) {
            return Err(Invalid::new(
                "not_a_rep",
                "user_id",
                format!("{} is not a sales rep", target.name),
            )
            .into());
        }
        if h.assignee_id == Some(target.id) {
            return Err(Invalid::new(
                "same_assignee",
                "user_id",
                format!("{} already has this handoff", target.name),
            )
            .into());
        }
        crate::audit::record(
            &mut tx,
            actor,
            "handoff.reassign",
            ("handoff", &id),
            Some(&serde_json::json!({ "assignee_id": h.assignee_id })),
            Some(&serde_json::json!({ "assignee_id": target.id, "reason": reason })),
            now,
        )
        .await?;
        h.assignee_id = Some(target.id);
        h.assigned_at = Some(now);
        h.route_rule = "reassigned".into();
        h.route_reason = format!("reassigned by {}: {reason}", actor.label);
        h.updated_at = now;
        let h = repo::update(&mut tx, id, &h).await?;
        repo::insert(
            &mut tx,
            &HandoffAssignment {
                id: 0,
                handoff_id: id,
                user_id: Some(target.id),
                assigned_at: now,
                actor: actor.label.clone(),
                actor_user_id: actor.user_id,
                rule: "reassigned".into(),
                reason,
            },
        )
        .await?;
        crate::outbox::emit(
            &mut tx,
            "handoff.reassigned",
            &serde_json::json!({ "handoff": &h, "by": actor.label }),
            Some(h.contact_id),
            now,
        )
        .await?;
        let mut c: Contact = repo::get(&mut tx, h.contact_id).await?;
        c.owner_id = Some(target.id);
        repo::update(&mut tx, c.id, &c).await?;
        let team = SalesTeam::load(&mut tx, now).await?;
        let mut terms = SlaTerms::new(version, playbook);
        let clocks = clocks(&mut tx, &mut terms, &team, &h, now).await?;
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(HandoffView { handoff: h, clocks })
    }

    /// Logs a call, e-mail, meeting or note on the handoff's contact; it
    /// counts as an attempt, or a connect.
    pub async fn log_handoff_activity(
        &self,
        id: i64,
        input: HandoffActivityInput,
        actor: &Actor,
    ) -> Result<Activity, AppError> {
        let (_, playbook) = self.playbook().await?;
        let now = self.now();
        let mut tx = self.store().begin().await?;
        let h: Handoff = repo::get(&mut tx, id).await.map_err(named("handoff", id))?;
        may_work(actor, &h)?;
        let input = ActivityInput {
            contact_id: h.contact_id,
            deal_id: None,
            user_id: None,
            kind: input.kind,
            outcome: input.outcome,
            subject: input.subject,
            body: input.body,
            occurred_at: input.occurred_at,
        };
        let saved = log_activity(&mut tx, &playbook, &input, actor, now).await?;
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(saved)
    }
}
