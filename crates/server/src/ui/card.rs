//! The handoff card: everything a rep needs to decide — who the lead is,
//! why the score made them an MQL (each rule and its points), what they
//! did lately, the clocks and their history, marketing's notes, the work
//! logged and every assignment — with the queue's actions.

use super::format::{self, When};
use super::page::{Chrome, UiError, Viewer, render};
use super::queue::{ActionForms, Failed, done_message, reasons};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use smarketing_app::AppError;
use smarketing_app::workspace::WorkspacePage;
use smarketing_core::scoring::ScorePart;
use std::collections::HashMap;

#[derive(askama::Template)]
#[template(path = "card.html")]
pub(super) struct CardPage {
    chrome: Chrome,
    id: i64,
    name: String,
    email: String,
    title: String,
    account: String,
    stage: String,
    fit: i64,
    engagement: String,
    thresholds: String,
    meets: bool,
    rules: Vec<(String, String, String)>,
    touches: Vec<(When, String, String)>,
    clocks: Vec<(String, String, String)>,
    history: Vec<(When, String)>,
    notes: Vec<(When, String, String)>,
    activities: Vec<(When, String, String)>,
    assignments: Vec<(When, String, String)>,
    decision: Option<String>,
    open: bool,
    rep_id: i64,
    reps: Vec<(i64, String)>,
    reasons: Vec<(String, String)>,
    may_reassign: bool,
    done: Option<&'static str>,
    failed: Option<Failed>,
    back: &'static str,
}

impl ActionForms for CardPage {
    fn failed(&self) -> Option<&Failed> {
        self.failed.as_ref()
    }
}

#[derive(Deserialize)]
pub struct CardQuery {
    done: Option<String>,
}

pub(super) async fn page(
    s: &AppState,
    viewer: &Viewer,
    id: i64,
    done: Option<&str>,
    failed: Option<Failed>,
) -> Result<CardPage, UiError> {
    let actor = viewer.actor();
    let card = s.app.handoff_card_for(&actor, id).await?;
    let (_, playbook) = s.app.playbook().await?;
    let tz = playbook.calendar.zone().map_err(AppError::Invalid)?;
    let users: HashMap<i64, smarketing_store::User> = s
        .app
        .users()
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let name = |id: Option<i64>| {
        id.and_then(|i| users.get(&i))
            .map_or("—".to_string(), |u| u.name.clone())
    };
    let c = &card.contact;
    let h = &card.handoff;
    let assignee = h.assignee_id.and_then(|i| users.get(&i));
    let may_reassign = assignee.is_some_and(|u| {
        actor.may(
            smarketing_core::Action::ReassignHandoff,
            actor.relation_to(Some(u.id), Some(u.team)),
        )
    });
    let reps = users
        .values()
        .filter(|u| {
            u.team == smarketing_core::Team::Sales
                && u.disabled_at.is_none()
                && u.role != smarketing_core::Role::Viewer
        })
        .map(|u| (u.id, u.name.clone()))
        .collect::<std::collections::BTreeMap<_, _>>()
        .into_iter()
        .collect();
    let when = |i: smarketing_core::Instant| format::when(i.timestamp(), &tz);
    Ok(CardPage {
        chrome: Chrome::new(viewer, Some(WorkspacePage::Queue)),
        id,
        name: match (&c.first_name, &c.last_name) {
            (Some(f), Some(l)) => format!("{f} {l}"),
            (Some(n), None) | (None, Some(n)) => n.clone(),
            (None, None) => c.email.clone(),
        },
        email: c.email.clone(),
        title: c.job_title.clone().unwrap_or_default(),
        account: card.account.as_ref().map_or("—".into(), |a| a.name.clone()),
        stage: c.stage.to_string(),
        fit: card.score.fit,
        engagement: format!("{:.1}", card.score.engagement),
        thresholds: format!(
            "MQL at fit ≥ {} and engagement ≥ {:.0}",
            card.score.fit_threshold, card.score.engagement_threshold
        ),
        meets: card.score.meets_mql_threshold,
        rules: card
            .score
            .contributions
            .iter()
            .map(|r| {
                (
                    match r.part {
                        ScorePart::Fit => "fit".to_string(),
                        ScorePart::Engagement => "engagement".to_string(),
                    },
                    r.rule.replace('_', " "),
                    format!("{:+.1}", r.value),
                )
            })
            .collect(),
        touches: card
            .recent_touches
            .iter()
            .map(|t| {
                (
                    when(t.occurred_at),
                    t.kind
                        .clone()
                        .unwrap_or_else(|| "touch".into())
                        .replace('_', " "),
                    match &t.utm_campaign {
                        Some(campaign) => format!("{} · {campaign}", t.channel),
                        None => t.channel.clone(),
                    },
                )
            })
            .collect(),
        clocks: card
            .clocks
            .iter()
            .map(|k| {
                (
                    k.kind.as_str().replace('_', " "),
                    k.state.as_str().replace('_', " "),
                    format!(
                        "{} used of {}",
                        format::working(k.used_seconds),
                        format::working(k.budget_seconds)
                    ),
                )
            })
            .collect(),
        history: card
            .sla_events
            .iter()
            .map(|e| {
                (
                    when(e.at),
                    format!(
                        "{}: {}",
                        e.clock.replace('_', " "),
                        e.state.replace('_', " ")
                    ),
                )
            })
            .collect(),
        notes: card
            .notes
            .iter()
            .map(|n| (when(n.created_at), name(n.author_id), n.body.clone()))
            .collect(),
        activities: card
            .activities
            .iter()
            .map(|a| {
                (
                    when(a.occurred_at),
                    format!("{} {} by {}", a.kind, a.outcome, name(a.user_id)),
                    a.subject.clone().unwrap_or_default(),
                )
            })
            .collect(),
        assignments: card
            .assignments
            .iter()
            .map(|a| (when(a.assigned_at), name(a.user_id), a.reason.clone()))
            .collect(),
        decision: h.decision.map(|d| match &h.reason_code {
            Some(r) => format!("{d} ({})", r.replace('_', " ")),
            None => d.to_string(),
        }),
        open: h.is_open(),
        rep_id: h.assignee_id.unwrap_or_default(),
        reps,
        reasons: reasons(&playbook),
        may_reassign,
        done: done.and_then(done_message),
        failed,
        back: "card",
    })
}

pub async fn show(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Query(q): Query<CardQuery>,
) -> Result<Response, UiError> {
    let page = page(&s, &viewer, id, q.done.as_deref(), None).await?;
    render(StatusCode::OK, &page)
}
