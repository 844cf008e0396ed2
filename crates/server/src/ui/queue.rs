//! My queue: a rep's open handoffs, soonest due first, each with why it is
//! here, its score and source, its clocks in working time, and one form
//! per action (accept, reject with a reason, log an attempt; reassign for
//! managers). Every form works without JavaScript; htmx refreshes the list
//! every minute.

use super::format::{self, When};
use super::page::{Chrome, Submitted, UiError, Viewer, render, see_other};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use smarketing_app::AppError;
use smarketing_app::handoffs::{AcceptInput, HandoffActivityInput, ReassignInput, RejectInput};
use smarketing_app::workspace::{Queue, QueueItem, WorkspacePage};
use smarketing_core::sla::{ClockKind, ClockState};

#[derive(askama::Template)]
#[template(path = "queue.html")]
struct QueuePage {
    chrome: Chrome,
    rep_name: String,
    rep_id: i64,
    own: bool,
    on_track: u32,
    at_risk: u32,
    breached: u32,
    working_now: bool,
    rows: Vec<Row>,
    reps: Vec<(i64, String)>,
    reasons: Vec<(String, String)>,
    done: Option<&'static str>,
    /// An action that failed: on which handoff, which field, why, and
    /// what was typed.
    failed: Option<Failed>,
    may_reassign: bool,
}

pub(super) struct Failed {
    pub handoff_id: i64,
    pub action: String,
    pub field: String,
    pub message: String,
    pub sent: Vec<(String, String)>,
}

/// A page with the handoff action forms: where the last action failed,
/// and what was typed, to show beside the field.
pub(super) trait ActionForms {
    fn failed(&self) -> Option<&Failed>;

    /// The error for `action` on handoff `id`, if that is what failed.
    fn error_for(&self, id: &i64, action: &str) -> Option<&Failed> {
        self.failed()
            .filter(|f| f.handoff_id == *id && f.action == action)
    }

    /// What was typed into `field` of `action` on handoff `id`, kept after an error.
    fn typed(&self, id: &i64, action: &str, field: &str) -> String {
        self.error_for(id, action)
            .and_then(|f| f.sent.iter().find(|(k, _)| k == field))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }
}

impl ActionForms for QueuePage {
    fn failed(&self) -> Option<&Failed> {
        self.failed.as_ref()
    }
}

/// One handoff as the queue shows it.
struct Row {
    id: i64,
    name: String,
    email: String,
    title: String,
    persona: String,
    fit: i64,
    engagement: String,
    source: String,
    campaign: String,
    route_reason: String,
    attempts: u32,
    attempts_agreed: u32,
    clock: Option<ClockRow>,
}

struct ClockRow {
    label: &'static str,
    /// The state in words (colour is never the only signal).
    state: &'static str,
    class: &'static str,
    /// Working time left (or, breached, over by).
    left: String,
    left_seconds: i64,
    due: Option<When>,
}

fn clock_label(kind: ClockKind) -> &'static str {
    match kind {
        ClockKind::FirstTouch => "First touch",
        ClockKind::Attempts => "Attempts",
        ClockKind::Decision => "Decision",
    }
}

fn row(item: &QueueItem, tz: &jiff::tz::TimeZone) -> Row {
    let c = &item.contact;
    let name = match (&c.first_name, &c.last_name) {
        (Some(f), Some(l)) => format!("{f} {l}"),
        (Some(n), None) | (None, Some(n)) => n.clone(),
        (None, None) => c.email.clone(),
    };
    let clock = item.next_clock().map(|k| {
        let left = k.budget_seconds - k.used_seconds;
        let (state, class) = match k.state {
            ClockState::OnTrack => ("on track", "ok"),
            ClockState::AtRisk => ("at risk", "warn"),
            ClockState::Breached => ("breached", "bad"),
            ClockState::Met => ("met", "ok"),
        };
        ClockRow {
            label: clock_label(k.kind),
            state,
            class,
            left: if left >= 0 {
                format!("{} of working time left", format::working(left))
            } else {
                format!("over by {} of working time", format::working(left))
            },
            left_seconds: left,
            due: k.due_at.map(|d| format::when(d, tz)),
        }
    });
    Row {
        id: item.handoff.id,
        name,
        email: c.email.clone(),
        title: c.job_title.clone().unwrap_or_default(),
        persona: c.persona.clone().unwrap_or_else(|| "—".into()),
        fit: c.fit_score,
        engagement: format!("{:.0}", c.engagement_score),
        source: c.source_channel.clone().unwrap_or_else(|| "—".into()),
        campaign: c
            .first_touch
            .as_ref()
            .and_then(|t| t.utm_campaign.clone())
            .unwrap_or_else(|| "—".into()),
        route_reason: item.handoff.route_reason.clone(),
        attempts: item.attempts,
        attempts_agreed: item.attempts_agreed,
        clock,
    }
}

#[derive(Deserialize)]
pub struct QueueQuery {
    rep: Option<i64>,
    done: Option<String>,
}

async fn page(
    s: &AppState,
    viewer: &Viewer,
    rep: Option<i64>,
    done: Option<&str>,
    failed: Option<Failed>,
) -> Result<QueuePage, UiError> {
    let actor = viewer.actor();
    let queue: Queue = s.app.queue(&actor, rep).await?;
    let (_, playbook) = s.app.playbook().await?;
    let tz = playbook.calendar.zone().map_err(AppError::Invalid)?;
    let may_reassign = actor.may(
        smarketing_core::Action::ReassignHandoff,
        actor.relation_to(Some(queue.rep.id), Some(queue.rep.team)),
    );
    Ok(QueuePage {
        chrome: Chrome::new(viewer, Some(WorkspacePage::Queue)),
        rep_name: queue.rep.name.clone(),
        rep_id: queue.rep.id,
        own: Some(queue.rep.id) == actor.user_id,
        on_track: queue.on_track,
        at_risk: queue.at_risk,
        breached: queue.breached,
        working_now: queue.working_now,
        rows: queue.items.iter().map(|i| row(i, &tz)).collect(),
        reps: queue.reps.iter().map(|u| (u.id, u.name.clone())).collect(),
        reasons: reasons(&playbook),
        done: done.and_then(done_message),
        failed,
        may_reassign,
    })
}

/// The playbook's rejection reasons, as (code, label) for a picker.
pub(super) fn reasons(playbook: &smarketing_core::Playbook) -> Vec<(String, String)> {
    playbook
        .rejection_reasons
        .iter()
        .map(|r| (r.code.clone(), r.label.clone()))
        .collect()
}

/// What the page says after an action went through.
pub(super) fn done_message(action: &str) -> Option<&'static str> {
    match action {
        "accept" => Some("Accepted. The lead is sales-accepted now."),
        "reject" => Some("Rejected. Marketing sees the reason in the closed loop."),
        "attempt" => Some("Attempt logged."),
        "reassign" => Some("Reassigned."),
        _ => None,
    }
}

pub async fn show(
    State(s): State<AppState>,
    viewer: Viewer,
    Query(q): Query<QueueQuery>,
) -> Result<Response, UiError> {
    let page = page(&s, &viewer, q.rep, q.done.as_deref(), None).await?;
    render(StatusCode::OK, &page)
}

/// The fields of every action's form; each action reads its own.
#[derive(Deserialize)]
pub struct ActionForm {
    rep: Option<i64>,
    /// `card` when the form was on the handoff card: back there after.
    back: Option<String>,
    note: Option<String>,
    reason: Option<String>,
    kind: Option<String>,
    outcome: Option<String>,
    subject: Option<String>,
    user_id: Option<String>,
}

fn blank_is_none(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

pub async fn act(
    State(s): State<AppState>,
    Path((id, action)): Path<(i64, String)>,
    submitted: Submitted<ActionForm>,
) -> Result<Response, UiError> {
    let actor = submitted.viewer.actor();
    let f = submitted.form;
    let rep = f.rep;
    let back = match (f.back.as_deref(), rep) {
        (Some("card"), _) if action != "reassign" => format!("/handoffs/{id}?done={action}"),
        (_, Some(r)) => format!("/queue?rep={r}&done={action}"),
        (_, None) => format!("/queue?done={action}"),
    };
    let result = match action.as_str() {
        "accept" => s
            .app
            .accept_handoff(
                id,
                AcceptInput {
                    note: blank_is_none(f.note),
                },
                &actor,
            )
            .await
            .map(drop),
        "reject" => s
            .app
            .reject_handoff(
                id,
                RejectInput {
                    reason: blank_is_none(f.reason),
                    note: blank_is_none(f.note),
                },
                &actor,
            )
            .await
            .map(drop),
        "attempt" => s
            .app
            .log_handoff_activity(
                id,
                HandoffActivityInput {
                    kind: f.kind.unwrap_or_else(|| "call".into()),
                    outcome: blank_is_none(f.outcome),
                    subject: blank_is_none(f.subject),
                    body: None,
                    occurred_at: None,
                },
                &actor,
            )
            .await
            .map(drop),
        "reassign" => {
            let user_id = f
                .user_id
                .as_deref()
                .unwrap_or("")
                .parse::<i64>()
                .map_err(|_| {
                    AppError::Invalid(smarketing_core::Invalid::new(
                        "required",
                        "user_id",
                        "choose the rep to give this lead to",
                    ))
                });
            match user_id {
                Ok(user_id) => s
                    .app
                    .reassign_handoff(
                        id,
                        ReassignInput {
                            user_id,
                            reason: f.reason.unwrap_or_default(),
                        },
                        &actor,
                    )
                    .await
                    .map(drop),
                Err(e) => Err(e),
            }
        }
        _ => return Err(AppError::not_found("action", &action).into()),
    };

    match result {
        Ok(()) => Ok(see_other(&back)),
        // A mistake in the form: the queue again, the error beside the
        // field, what was typed kept.
        Err(AppError::Invalid(i)) => {
            let failed = Failed {
                handoff_id: id,
                action,
                field: i.field.clone(),
                message: i.message.clone(),
                sent: submitted.sent,
            };
            if back.starts_with("/handoffs/") {
                return super::card::page(&s, &submitted.viewer, id, None, Some(failed))
                    .await
                    .and_then(|p| render(StatusCode::UNPROCESSABLE_ENTITY, &p));
            }
            let page = page(&s, &submitted.viewer, rep, None, Some(failed)).await?;
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(e.into()),
    }
}
