//! SLA clocks and their escalation ladder: each handoff's clocks evaluated in
//! its rep's calendar with every change recorded once, and the steps (the rep
//! at risk, the managers at breach, a reassignment after an untouched lead's
//! first-touch breach) scheduled as rows with due times. Each step is claimed
//! and carried out in one transaction, so it fires exactly once however many
//! servers run and however long they were down.

use crate::outbox::emit;
use crate::routing::{SalesTeam, route_lead};
use crate::sla_terms::SlaTerms;
use crate::{App, AppError};
use serde::Serialize;
use smarketing_core::calendar::WorkingCalendar;
use smarketing_core::sla::{Clock, ClockKind, ClockState, HandoffFacts, evaluate_all};
use smarketing_core::{Instant, Playbook};
use smarketing_store::{Conn, Contact, Handoff, HandoffAssignment, Notification, User, repo};

/// The activities on a handoff's lead that its clocks count: logged since
/// it was assigned, by the assignee or another seller — not marketing's,
/// nor an anonymous import's.
pub(crate) fn sales_work<'a>(
    activities: &'a [smarketing_store::Activity],
    h: &'a Handoff,
    team: &'a SalesTeam,
) -> impl Iterator<Item = &'a smarketing_store::Activity> {
    activities
        .iter()
        .filter(|a| h.assigned_at.is_some_and(|s| a.occurred_at >= s))
        .filter(|a| {
            a.user_id
                .is_some_and(|u| Some(u) == h.assignee_id || team.is_seller(u))
        })
}

/// The clocks of a handoff now, under the terms it is held to, recording
/// any change not yet recorded.
pub(crate) async fn clocks(
    conn: &mut Conn,
    terms: &mut SlaTerms,
    team: &SalesTeam,
    h: &Handoff,
    now: Instant,
) -> Result<Vec<Clock>, AppError> {
    let playbook = terms.of(conn, h).await?;
    let playbook = playbook.as_ref();
    let cal = team.calendar(playbook, h.assignee_id)?;
    let activities = repo::activities_of_contact(conn, h.contact_id).await?;
    let facts = HandoffFacts {
        started_at: h.assigned_at.map(Instant::timestamp),
        activities: sales_work(&activities, h, team)
            .map(|a| {
                (
                    a.occurred_at.timestamp(),
                    a.outcome == smarketing_core::ActivityOutcome::Connect,
                )
            })
            .collect(),
        decided_at: h.ended_at().map(Instant::timestamp),
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
    if h.is_open()
        && let Some(assigned_at) = h.assigned_at
    {
        schedule_escalations(conn, playbook, &cal, h.id, assigned_at, &clocks, now).await?;
    }
    Ok(clocks)
}

/// Schedules the ladder for the clocks of an assignment: the rep at risk,
/// the managers at breach, and a reassignment after a first-touch breach.
pub(crate) async fn schedule_escalations(
    conn: &mut Conn,
    playbook: &Playbook,
    cal: &WorkingCalendar,
    handoff_id: i64,
    assigned_at: Instant,
    clocks: &[Clock],
    now: Instant,
) -> Result<(), AppError> {
    // Each assignment's ladder is scheduled once; skip the inserts when it is.
    let have: std::collections::HashSet<(String, String)> = repo::escalations_of(conn, handoff_id)
        .await?
        .into_iter()
        .filter(|e| e.assigned_at == assigned_at)
        .map(|e| (e.clock, e.step))
        .collect();
    let wanted = |clock: &str, step: &str| !have.contains(&(clock.to_string(), step.to_string()));
    for c in clocks.iter().filter(|c| c.state != ClockState::Met) {
        let clock = c.kind.as_str();
        if !(wanted(clock, "notify_rep")
            || wanted(clock, "notify_manager")
            || (c.kind == ClockKind::FirstTouch && wanted(clock, "reassign")))
        {
            continue;
        }
        if let Some(at) = c.at_risk_at {
            repo::schedule_escalation(
                conn,
                handoff_id,
                clock,
                "notify_rep",
                assigned_at,
                Instant::from(at),
                now,
            )
            .await?;
        }
        if let Some(due) = c.due_at {
            repo::schedule_escalation(
                conn,
                handoff_id,
                clock,
                "notify_manager",
                assigned_at,
                Instant::from(due),
                now,
            )
            .await?;
            if c.kind == ClockKind::FirstTouch {
                let grace = jiff::SignedDuration::from_secs_f64(
                    playbook.sla.reassign_after_breach_working_hours * 3600.0,
                );
                if let Some(at) = cal.add_working(due, grace) {
                    repo::schedule_escalation(
                        conn,
                        handoff_id,
                        clock,
                        "reassign",
                        assigned_at,
                        Instant::from(at),
                        now,
                    )
                    .await?;
                }
            }
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct EscalationRun {
    pub fired: u64,
    pub skipped: u64,
}

impl App {
    /// The caller's in-app feed, newest first.
    pub async fn notifications(
        &self,
        user: &User,
        unread_only: bool,
    ) -> Result<Vec<Notification>, AppError> {
        let mut conn = self.store().acquire().await?;
        Ok(repo::notifications_of(&mut conn, user.id, unread_only, 200).await?)
    }

    pub async fn mark_notification_read(&self, id: i64, user: &User) -> Result<(), AppError> {
        let mut conn = self.store().acquire().await?;
        if repo::mark_notification_read(&mut conn, id, user.id, self.now()).await? {
            Ok(())
        } else {
            Err(AppError::not_found("notification", id))
        }
    }

    /// Re-evaluates the clocks of every open handoff (recording events and
    /// scheduling the ladder); run at start so nothing is missed after downtime.
    pub async fn sweep_clocks(&self) -> Result<usize, AppError> {
        let (version, playbook) = self.playbook().await?;
        let mut terms = SlaTerms::new(version, playbook);
        let now = self.now();
        let mut tx = self.store().begin().await?;
        let team = SalesTeam::load(&mut tx, now).await?;
        let open = repo::open_assigned_handoffs(&mut tx).await?;
        for h in &open {
            clocks(&mut tx, &mut terms, &team, h, now).await?;
        }
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(open.len())
    }

    /// Fires every escalation due by now, each exactly once. A scheduler
    /// locks the handoffs it works on and takes their due steps in order, so
    /// a step made moot by an earlier one (a reassignment) is skipped, the
    /// same as it would have been had nobody been down.
    pub async fn run_due_escalations(&self, batch: i64) -> Result<EscalationRun, AppError> {
        let (version, playbook) = self.playbook().await?;
        let mut terms = SlaTerms::new(version, playbook.clone());
        let mut run = EscalationRun::default();
        loop {
            let now = self.now();
            let mut tx = self.store().begin().await?;
            let ids = repo::handoffs_with_due_escalations(
                &mut tx,
                now,
                batch,
                self.store().skip_locked(),
            )
            .await?;
            if ids.is_empty() {
                break;
            }
            let team = SalesTeam::load(&mut tx, now).await?;
            for id in &ids {
                // The handoff and its clocks, re-read only after a step that
                // changes them (a reassignment).
                let mut state: Option<(Handoff, Vec<Clock>)> = None;
                for e in repo::due_escalations_of(&mut tx, *id, now).await? {
                    // The claim is the exactly-once guard: a second process finds fired_at set.
                    if !repo::claim_escalation(&mut tx, e.id, now, "fired").await? {
                        continue;
                    }
                    if state.is_none() {
                        let h: Handoff = repo::get(&mut tx, e.handoff_id).await?;
                        let c = if h.is_open() {
                            clocks(&mut tx, &mut terms, &team, &h, now).await?
                        } else {
                            vec![]
                        };
                        state = Some((h, c));
                    }
                    let (h, cs) = state.as_ref().expect("loaded above");
                    let current = h.is_open() && h.assigned_at == Some(e.assigned_at);
                    let clock = cs.iter().find(|c| c.kind.as_str() == e.clock);
                    let live = current
                        && clock.is_some_and(|c| match e.step.as_str() {
                            // Only a lead nobody touched is taken away: a
                            // late touch keeps it (the breach stays recorded).
                            "reassign" => c.met_at.is_none(),
                            _ => c.state != ClockState::Met,
                        });
                    if !live {
                        repo::set_escalation_outcome(&mut tx, e.id, "skipped").await?;
                        run.skipped += 1;
                        continue;
                    }
                    let h = h.clone();
                    fire(
                        &mut tx, &playbook, &mut terms, &team, &h, &e.clock, &e.step, now,
                    )
                    .await?;
                    run.fired += 1;
                    if e.step == "reassign" {
                        state = None;
                    }
                }
            }
            tx.commit()
                .await
                .map_err(smarketing_store::StoreError::from)?;
            if (ids.len() as i64) < batch {
                break;
            }
        }
        Ok(run)
    }
}

/// Carries out one step of the ladder (a reassignment routes by the
/// current playbook; the clocks keep the handoff's terms).
#[allow(clippy::too_many_arguments)]
async fn fire(
    conn: &mut Conn,
    playbook: &Playbook,
    terms: &mut SlaTerms,
    team: &SalesTeam,
    h: &Handoff,
    clock: &str,
    step: &str,
    now: Instant,
) -> Result<(), AppError> {
    let contact: Contact = repo::get(conn, h.contact_id).await?;
    let who = contact.email.clone();
    let label = clock.replace('_', " ");
    match step {
        "notify_rep" => {
            if let Some(rep) = h.assignee_id {
                repo::insert_notification(
                    conn,
                    rep,
                    "sla.at_risk",
                    Some(h.id),
                    &format!("{label} clock at risk"),
                    &format!("Work the lead {who} before its {label} deadline."),
                    now,
                )
                .await?;
            }
            emit(conn, "sla.at_risk", &serde_json::json!({ "handoff_id": h.id, "clock": clock, "assignee_id": h.assignee_id }), Some(h.contact_id), now).await?;
        }
        "notify_manager" => {
            for m in team.managers() {
                repo::insert_notification(
                    conn,
                    m.id,
                    "sla.breached",
                    Some(h.id),
                    &format!("{label} SLA breached"),
                    &format!("The lead {who} missed its {label} deadline."),
                    now,
                )
                .await?;
            }
            emit(conn, "sla.breached", &serde_json::json!({ "handoff_id": h.id, "clock": clock, "assignee_id": h.assignee_id }), Some(h.contact_id), now).await?;
        }
        "reassign" => {
            let decision = route_lead(conn, playbook, team, &contact, now, h.assignee_id).await?;
            if let Some(to) = decision.assignee {
                let mut moved = h.clone();
                moved.assignee_id = Some(to);
                moved.assigned_at = Some(now);
                moved.route_rule = "reassigned".into();
                moved.route_reason = format!("first-touch SLA breached; {}", decision.reason);
                moved.updated_at = now;
                let moved = repo::update(conn, h.id, &moved).await?;
                repo::insert(
                    conn,
                    &HandoffAssignment {
                        id: 0,
                        handoff_id: h.id,
                        user_id: Some(to),
                        assigned_at: now,
                        actor: "system".into(),
                        actor_user_id: None,
                        rule: "sla_breach".into(),
                        reason: moved.route_reason.clone(),
                    },
                )
                .await?;
                let mut c = contact.clone();
                c.owner_id = Some(to);
                repo::update(conn, c.id, &c).await?;
                repo::insert_notification(
                    conn,
                    to,
                    "handoff.reassigned",
                    Some(h.id),
                    "A lead was reassigned to you",
                    &format!("{who}: {}", moved.route_reason),
                    now,
                )
                .await?;
                clocks(conn, terms, team, &moved, now).await?;
                emit(
                    conn,
                    "handoff.reassigned",
                    &serde_json::json!({ "handoff": moved, "from": h.assignee_id }),
                    Some(moved.contact_id),
                    now,
                )
                .await?;
            }
        }
        _ => {}
    }
    Ok(())
}
