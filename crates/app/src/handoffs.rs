//! Handoffs: an MQL routed to a sales rep, worked against SLA clocks in the
//! rep's working calendar, and closed by an accept or a reject with a reason.
//! Every step is a stage change with its actor and cause.

use crate::Actor;
use crate::crm::{Paging, change_stage, profile, scored};
use crate::error::named;
use crate::input::{ACTIVITY_KINDS, ACTIVITY_OUTCOMES, BODY_MAX, NAME_MAX, one_of, opt_text, text};
use crate::{App, AppError};
use serde::{Deserialize, Serialize};
use smarketing_core::access::Action;
use smarketing_core::calendar::{CalendarSpec, WorkingCalendar};
use smarketing_core::playbook::RejectOutcome;
use smarketing_core::routing::{RepState, route};
use smarketing_core::scoring::{ScoreCard, score};
use smarketing_core::sla::{Clock, HandoffFacts, evaluate_all};
use smarketing_core::{Instant, Invalid, Playbook, Role, Stage, Team};
use smarketing_store::{
    Account, Activity, Conn, Contact, Handoff, HandoffAssignment, Note, OutOfOffice, Page,
    SlaEvent, StageChange, Touchpoint, User, Where, repo,
};
use std::collections::HashMap;

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
    pub kind: String,
    /// `attempt` (default) or `connect`.
    pub outcome: Option<String>,
    pub subject: Option<String>,
    pub body: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub occurred_at: Option<Instant>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RepSettingsInput {
    /// Share of round-robin leads relative to other reps (default 1).
    pub weight: Option<i64>,
    /// Most open handoffs at once (default: the playbook's).
    pub capacity: Option<i64>,
    /// The rep's own working calendar; absent = the company calendar.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub calendar: Option<CalendarSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OutOfOfficeInput {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub starts_at: Instant,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub ends_at: Instant,
    pub note: Option<String>,
}

fn is_rep(u: &User) -> bool {
    u.team == Team::Sales && u.role != Role::Admin
}

/// A rep's working calendar: their own (or the company's), with the
/// company's holidays and their absences.
fn rep_calendar(
    playbook: &Playbook,
    own: Option<&str>,
    away: &[&OutOfOffice],
) -> Result<WorkingCalendar, AppError> {
    let mut spec: CalendarSpec = match own {
        Some(json) => serde_json::from_str(json).map_err(|e| {
            AppError::Store(smarketing_store::StoreError::Corrupt(format!(
                "rep calendar: {e}"
            )))
        })?,
        None => playbook.calendar.clone(),
    };
    for h in &playbook.calendar.holidays {
        if !spec.holidays.iter().any(|x| x.date == h.date) {
            spec.holidays.push(h.clone());
        }
    }
    for a in away {
        spec.out_of_office
            .push(smarketing_core::calendar::AwaySpec {
                from: a.starts_at.to_string(),
                to: a.ends_at.to_string(),
            });
    }
    Ok(WorkingCalendar::from_spec(&spec)?)
}

/// What routing and the clocks need to know about the sales team now.
pub(crate) struct SalesTeam {
    reps: Vec<User>,
    settings: HashMap<i64, smarketing_store::RepSettings>,
    away: Vec<OutOfOffice>,
    /// Calendars built so far, by user (None: the company's). Building one
    /// (and its day table) is costly; a team lives for one operation, in
    /// which the playbook does not change.
    cache: std::sync::Mutex<HashMap<Option<i64>, WorkingCalendar>>,
}

impl SalesTeam {
    /// Sales managers, who hear about breaches.
    pub(crate) fn managers(&self) -> impl Iterator<Item = &User> {
        self.reps.iter().filter(|u| u.role == Role::Manager)
    }

    pub(crate) async fn load(conn: &mut Conn, now: Instant) -> Result<SalesTeam, AppError> {
        let reps = repo::users(conn)
            .await?
            .into_iter()
            .filter(is_rep)
            .collect();
        let settings = repo::rep_settings(conn)
            .await?
            .into_iter()
            .map(|s| (s.user_id, s))
            .collect();
        // Absences that matter for clocks running now: a generous window.
        let from = Instant::from_millis(now.millis() - 400 * 86_400_000).unwrap_or(now);
        let to = Instant::from_millis(now.millis() + 400 * 86_400_000).unwrap_or(now);
        let away = repo::out_of_office_between(conn, from, to).await?;
        Ok(SalesTeam {
            reps,
            settings,
            away,
            cache: Default::default(),
        })
    }

    pub(crate) fn calendar(
        &self,
        playbook: &Playbook,
        user_id: Option<i64>,
    ) -> Result<WorkingCalendar, AppError> {
        if let Some(c) = self
            .cache
            .lock()
            .ok()
            .and_then(|m| m.get(&user_id).cloned())
        {
            return Ok(c);
        }
        let built = self.build_calendar(playbook, user_id)?;
        if let Ok(mut m) = self.cache.lock() {
            m.insert(user_id, built.clone());
        }
        Ok(built)
    }

    fn build_calendar(
        &self,
        playbook: &Playbook,
        user_id: Option<i64>,
    ) -> Result<WorkingCalendar, AppError> {
        let own = user_id
            .and_then(|u| self.settings.get(&u))
            .and_then(|s| s.calendar.as_deref());
        let away: Vec<&OutOfOffice> = self
            .away
            .iter()
            .filter(|a| Some(a.user_id) == user_id)
            .collect();
        rep_calendar(playbook, own, &away)
    }
}

fn hours_until_working(cal: &WorkingCalendar, now: Instant) -> f64 {
    let tick = jiff::SignedDuration::from_millis(1);
    match cal.add_working(now.timestamp(), tick) {
        Some(t) => ((t.as_millisecond() - 1 - now.millis()) as f64 / 3_600_000.0).max(0.0),
        None => f64::INFINITY,
    }
}

/// Every rep as routing sees them now; `except` is left out (the rep a
/// breached lead is taken from).
pub(crate) fn rep_states(
    playbook: &Playbook,
    team: &SalesTeam,
    open: &HashMap<i64, i64>,
    now: Instant,
    except: Option<i64>,
) -> Result<Vec<RepState>, AppError> {
    let mut states = Vec::with_capacity(team.reps.len());
    for r in team.reps.iter().filter(|r| Some(r.id) != except) {
        let s = team.settings.get(&r.id);
        let cal = team.calendar(playbook, Some(r.id))?;
        states.push(RepState {
            user_id: r.id,
            name: r.name.clone(),
            email: r.email.clone(),
            weight: s.map(|s| s.weight.max(1) as u32).unwrap_or(1),
            open_handoffs: open.get(&r.id).copied().unwrap_or(0) as u32,
            capacity: s.and_then(|s| s.capacity).map(|c| c as u32),
            out_of_office: team
                .away
                .iter()
                .any(|a| a.user_id == r.id && a.starts_at <= now && now < a.ends_at),
            hours_until_working: hours_until_working(&cal, now),
            tag: s.map(|s| s.routing_tag).unwrap_or(0.0),
        });
    }
    Ok(states)
}

/// Routes a lead among the team and stores the fair-queueing state.
pub(crate) async fn route_lead(
    conn: &mut Conn,
    playbook: &Playbook,
    team: &SalesTeam,
    contact: &Contact,
    now: Instant,
    except: Option<i64>,
) -> Result<smarketing_core::routing::RouteDecision, AppError> {
    let account = match contact.account_id {
        Some(a) => Some(repo::get::<Account>(conn, a).await?),
        None => None,
    };
    let open = repo::open_handoff_counts(conn).await?;
    let states = rep_states(playbook, team, &open, now, except)?;
    let vt = repo::virtual_time(conn).await?;
    let owner = account
        .as_ref()
        .and_then(|a| a.owner_id)
        .filter(|o| Some(*o) != except);
    let decision = route(
        &playbook.routing,
        &profile(contact, account.as_ref()),
        owner,
        &states,
        vt,
    );
    if let (Some(user), Some(tag), Some(vt)) = (
        decision.assignee,
        decision.new_tag,
        decision.new_virtual_time,
    ) {
        repo::save_routing_tags(conn, user, tag, vt).await?;
    }
    Ok(decision)
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
    clocks(conn, playbook, &team, &handoff, now).await?;
    crate::jobs::emit(
        conn,
        "handoff.created",
        &serde_json::json!({ "handoff": &handoff }),
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

/// The clocks of a handoff now, recording any change not yet recorded.
pub(crate) async fn clocks(
    conn: &mut Conn,
    playbook: &Playbook,
    team: &SalesTeam,
    h: &Handoff,
    now: Instant,
) -> Result<Vec<Clock>, AppError> {
    let cal = team.calendar(playbook, h.assignee_id)?;
    let activities = repo::activities_of_contact(conn, h.contact_id).await?;
    let facts = HandoffFacts {
        started_at: h.assigned_at.map(Instant::timestamp),
        activities: activities
            .iter()
            .filter(|a| h.assigned_at.is_some_and(|s| a.occurred_at >= s))
            .map(|a| (a.occurred_at.timestamp(), a.outcome == "connect"))
            .collect(),
        decided_at: h.decided_at.map(Instant::timestamp),
    };
    let clocks = evaluate_all(&playbook.sla, &cal, &facts, now.timestamp());
    // Record only what is new: one read instead of an insert per change.
    let recorded: std::collections::HashSet<(String, String, i64)> =
        repo::sla_events_of(conn, h.id)
            .await?
            .into_iter()
            .map(|e| (e.clock, e.state, e.at.millis()))
            .collect();
    for c in &clocks {
        for ch in &c.changes {
            let at = Instant::from(ch.at);
            if !recorded.contains(&(
                c.kind.as_str().to_string(),
                ch.state.as_str().to_string(),
                at.millis(),
            )) {
                repo::record_sla_event(conn, h.id, c.kind.as_str(), ch.state.as_str(), at, now)
                    .await?;
            }
        }
    }
    if h.decision.is_none()
        && let Some(assigned_at) = h.assigned_at
    {
        crate::jobs::schedule_escalations(conn, playbook, &cal, h.id, assigned_at, &clocks, now)
            .await?;
    }
    Ok(clocks)
}

/// The rep's decision on a handoff.
fn record_decision(
    h: &mut Handoff,
    decision: &str,
    reason: Option<&str>,
    note: Option<String>,
    actor: &Actor,
    now: Instant,
) {
    h.decision = Some(decision.into());
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
    playbook: &Playbook,
    h: &Handoff,
    now: Instant,
) -> Result<HandoffView, AppError> {
    let h = repo::update(&mut tx, h.id, h).await?;
    let team = SalesTeam::load(&mut tx, now).await?;
    let clocks = clocks(&mut tx, playbook, &team, &h, now).await?;
    tx.commit()
        .await
        .map_err(smarketing_store::StoreError::from)?;
    Ok(HandoffView { handoff: h, clocks })
}

fn may_work(actor: &Actor, h: &Handoff) -> Result<(), AppError> {
    actor.authorize(Action::WorkHandoff, actor.relation_to(h.assignee_id, None))
}

fn still_open(h: &Handoff) -> Result<(), AppError> {
    match &h.decision {
        None => Ok(()),
        Some(d) => Err(AppError::Invalid(Invalid::new(
            "handoff_closed",
            "decision",
            format!("this handoff was already {d}"),
        ))),
    }
}

impl App {
    pub async fn handoffs(
        &self,
        f: &HandoffFilter,
        paging: &Paging,
    ) -> Result<Page<HandoffView>, AppError> {
        let (_, playbook) = self.playbook().await?;
        let now = self.now();
        let mut w = Where::new();
        w.and("handoffs.assignee_id = ?", f.assignee_id);
        if let Some(t) = &f.team {
            let team: Team = t.parse()?;
            w.and(
                "handoffs.assignee_id IN (SELECT id FROM users WHERE team = ?)",
                Some(team.as_str()),
            );
        }
        w.and("handoffs.contact_id = ?", f.contact_id);
        match f.decision.as_deref() {
            None => {}
            Some("open") => {
                w.and("handoffs.decision IS NULL AND 1 = ?", Some(1i64));
            }
            Some(d) => {
                w.and(
                    "handoffs.decision = ?",
                    Some(one_of("decision", d, &["open", "accepted", "rejected"])?),
                );
            }
        }
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
                let clocks = clocks(&mut conn, &playbook, &team, &h, now).await?;
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
        let (_, playbook) = self.playbook().await?;
        let now = self.now();
        let mut conn = self.store().begin().await?;
        let h: Handoff = repo::get(&mut conn, id)
            .await
            .map_err(named("handoff", id))?;
        let team = SalesTeam::load(&mut conn, now).await?;
        let clocks = clocks(&mut conn, &playbook, &team, &h, now).await?;
        let contact: Contact = repo::get(&mut conn, h.contact_id).await?;
        let account = match contact.account_id {
            Some(a) => Some(repo::get::<Account>(&mut conn, a).await?),
            None => None,
        };
        let touches = repo::touchpoints_of_contact(&mut conn, contact.id).await?;
        let scored_touches: Vec<_> = touches.iter().map(scored).collect();
        let score = score(
            &playbook,
            &profile(&contact, account.as_ref()),
            &scored_touches,
            now.timestamp(),
        );
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
        let (_, playbook) = self.playbook().await?;
        let now = self.now();
        let mut tx = self.store().begin().await?;
        let mut h: Handoff = repo::get(&mut tx, id).await.map_err(named("handoff", id))?;
        may_work(actor, &h)?;
        still_open(&h)?;
        let note = opt_text("note", input.note.as_deref(), BODY_MAX)?;
        let mut c: Contact = repo::get(&mut tx, h.contact_id).await?;
        let to = if playbook.has_stage(Stage::Sal) {
            Stage::Sal
        } else {
            Stage::Sql
        };
        if c.stage.funnel_rank().is_none_or(|r| r < to as u8) {
            change_stage(
                &mut tx,
                &playbook,
                &mut c,
                to,
                None,
                actor,
                "handoff_accepted",
                None,
                note.clone(),
                now,
            )
            .await?;
        }
        record_decision(&mut h, "accepted", None, note, actor, now);
        save_and_view(tx, &playbook, &h, now).await
    }

    /// The rep rejects with a reason: the contact is disqualified or
    /// recycled to nurture, as the reason says.
    pub async fn reject_handoff(
        &self,
        id: i64,
        input: RejectInput,
        actor: &Actor,
    ) -> Result<HandoffView, AppError> {
        let (_, playbook) = self.playbook().await?;
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
        let to = match reason.outcome {
            RejectOutcome::Disqualify => Stage::Disqualified,
            RejectOutcome::Recycle => Stage::Recycled,
        };
        change_stage(
            &mut tx,
            &playbook,
            &mut c,
            to,
            Some(code),
            actor,
            "handoff_rejected",
            None,
            note.clone(),
            now,
        )
        .await?;
        record_decision(&mut h, "rejected", Some(code), note, actor, now);
        save_and_view(tx, &playbook, &h, now).await
    }

    /// A manager hands the lead to another rep; the clocks restart for them.
    pub async fn reassign_handoff(
        &self,
        id: i64,
        input: ReassignInput,
        actor: &Actor,
    ) -> Result<HandoffView, AppError> {
        actor.authorize(Action::ReassignHandoff, actor.relation_to(None, None))?;
        let (_, playbook) = self.playbook().await?;
        let now = self.now();
        let reason = text("reason", &input.reason, NAME_MAX)?;
        let mut tx = self.store().begin().await?;
        let mut h: Handoff = repo::get(&mut tx, id).await.map_err(named("handoff", id))?;
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
        crate::jobs::emit(
            &mut tx,
            "handoff.reassigned",
            &serde_json::json!({ "handoff": &h, "by": actor.label }),
            now,
        )
        .await?;
        let mut c: Contact = repo::get(&mut tx, h.contact_id).await?;
        c.owner_id = Some(target.id);
        repo::update(&mut tx, c.id, &c).await?;
        let team = SalesTeam::load(&mut tx, now).await?;
        let clocks = clocks(&mut tx, &playbook, &team, &h, now).await?;
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
        let now = self.now();
        let mut tx = self.store().begin().await?;
        let h: Handoff = repo::get(&mut tx, id).await.map_err(named("handoff", id))?;
        may_work(actor, &h)?;
        let a = Activity {
            id: 0,
            contact_id: h.contact_id,
            deal_id: None,
            user_id: actor.user_id,
            kind: one_of("kind", &input.kind, ACTIVITY_KINDS)?,
            outcome: one_of(
                "outcome",
                input.outcome.as_deref().unwrap_or("attempt"),
                ACTIVITY_OUTCOMES,
            )?,
            subject: opt_text("subject", input.subject.as_deref(), NAME_MAX)?,
            body: opt_text("body", input.body.as_deref(), BODY_MAX)?,
            occurred_at: input.occurred_at.unwrap_or(now),
            created_at: now,
            updated_at: now,
        };
        if a.occurred_at.millis() > now.millis() + 60_000 {
            return Err(Invalid::new(
                "in_the_future",
                "occurred_at",
                "an activity cannot be logged ahead of time",
            )
            .into());
        }
        let saved = repo::insert(&mut tx, &a).await?;
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(saved)
    }

    /// Sets a rep's routing weight, open-handoff cap and working calendar.
    pub async fn set_rep_settings(
        &self,
        user_id: i64,
        input: RepSettingsInput,
        actor: &Actor,
    ) -> Result<smarketing_store::RepSettings, AppError> {
        actor.authorize(
            Action::EditRepSettings,
            actor.relation_to(Some(user_id), None),
        )?;
        let weight = input.weight.unwrap_or(1);
        if !(1..=100).contains(&weight) {
            return Err(Invalid::new(
                "invalid_weight",
                "weight",
                "weight must be between 1 and 100",
            )
            .into());
        }
        if input.capacity.is_some_and(|c| c < 1) {
            return Err(Invalid::new(
                "invalid_capacity",
                "capacity",
                "capacity must be at least 1",
            )
            .into());
        }
        let calendar = match &input.calendar {
            Some(spec) => {
                WorkingCalendar::from_spec(spec).map_err(|e| {
                    let field = format!("calendar.{}", e.field);
                    e.at(field)
                })?;
                Some(serde_json::to_string(spec).expect("a calendar spec serialises"))
            }
            None => None,
        };
        let mut conn = self.store().acquire().await?;
        let user: User = repo::get(&mut conn, user_id)
            .await
            .map_err(named("user", user_id))?;
        if !is_rep(&user) {
            return Err(Invalid::new(
                "not_a_rep",
                "user_id",
                format!("{} is not a sales rep", user.name),
            )
            .into());
        }
        Ok(repo::upsert_rep_settings(
            &mut conn,
            user_id,
            weight,
            input.capacity,
            calendar.as_deref(),
        )
        .await?)
    }

    /// Records an absence; routing skips the rep and their clocks pause.
    pub async fn add_out_of_office(
        &self,
        user_id: i64,
        input: OutOfOfficeInput,
        actor: &Actor,
    ) -> Result<OutOfOffice, AppError> {
        actor.authorize(
            Action::RecordAbsence,
            actor.relation_to(Some(user_id), None),
        )?;
        if input.ends_at <= input.starts_at {
            return Err(Invalid::new(
                "invalid_range",
                "ends_at",
                "an absence must end after it starts",
            )
            .into());
        }
        let mut conn = self.store().acquire().await?;
        repo::get::<User>(&mut conn, user_id)
            .await
            .map_err(named("user", user_id))?;
        let row = OutOfOffice {
            id: 0,
            user_id,
            starts_at: input.starts_at,
            ends_at: input.ends_at,
            note: opt_text("note", input.note.as_deref(), NAME_MAX)?,
            created_at: self.now(),
        };
        Ok(repo::insert(&mut conn, &row).await?)
    }
}
