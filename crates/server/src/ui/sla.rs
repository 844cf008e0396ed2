//! The SLA page: the agreement in words, every version with its sign-offs
//! and a sign button for the leads whose team has not signed the latest;
//! compliance by rep in a period; the breach ledger.

use super::format::{self, When};
use super::page::{Chrome, Submitted, UiError, Viewer, render, see_other};
use crate::AppState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use smarketing_app::AppError;
use smarketing_app::workspace::WorkspacePage;
use smarketing_core::{Action, Relation, Team};
use std::collections::HashMap;

#[derive(askama::Template)]
#[template(path = "sla.html")]
struct SlaPage {
    chrome: Chrome,
    period: String,
    versions: Vec<Version>,
    /// The version the viewer may sign now, for their team.
    may_sign: Option<(i64, &'static str)>,
    reps: Vec<RepLine>,
    total: RepLine,
    breaches: Vec<BreachLine>,
    done: bool,
    as_of: When,
    refreshing: bool,
}

struct Version {
    version: i64,
    status: &'static str,
    summary: String,
    marketing: Option<(String, When)>,
    sales: Option<(String, When)>,
    created: When,
}

struct RepLine {
    name: String,
    handoffs: u64,
    within: String,
    p50: String,
    p95: String,
    attempts: String,
    breaches: u64,
    at_risk: u64,
}

struct BreachLine {
    contact: String,
    rep: String,
    clock: String,
    due: Option<When>,
    late: String,
    escalations: String,
}

#[derive(Deserialize)]
pub struct SlaQuery {
    period: Option<String>,
    done: Option<String>,
}

fn line(r: &smarketing_app::sla_reports::RepCompliance) -> RepLine {
    RepLine {
        name: r.name.clone(),
        handoffs: r.handoffs,
        within: format::percent(r.within_sla),
        p50: format::hours(r.first_touch_p50_hours),
        p95: format::hours(r.first_touch_p95_hours),
        attempts: r
            .attempts_before_decision
            .map_or("—".into(), |a| format!("{a:.1}")),
        breaches: r.breaches,
        at_risk: r.open_at_risk,
    }
}

pub async fn show(
    State(s): State<AppState>,
    viewer: Viewer,
    Query(q): Query<SlaQuery>,
) -> Result<Response, UiError> {
    let actor = viewer.actor();
    WorkspacePage::Sla.open(&actor)?;
    let (_, playbook) = s.app.playbook().await?;
    let tz = playbook.calendar.zone().map_err(AppError::Invalid)?;
    let today = s.app.now().timestamp().to_zoned(tz.clone()).date();
    let period = q
        .period
        .unwrap_or_else(|| format!("{}-Q{}", today.year(), (today.month() - 1) / 3 + 1));
    let asked = period.clone();
    let snapshot = s
        .app
        .snapshot(&format!("sla report {period}"), move |app| async move {
            app.sla_report(&asked).await
        })
        .await?;
    let report = &snapshot.value;
    let users: HashMap<i64, String> = s
        .app
        .users()
        .await?
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect();
    let name = |id: i64| {
        users
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("user {id}"))
    };
    let agreements = s.app.agreements().await?;
    let signed = |o: &Option<smarketing_store::SlaSignoff>| {
        o.as_ref()
            .map(|s| (name(s.user_id), format::when(s.signed_at.timestamp(), &tz)))
    };
    let team = viewer.session.user.team;
    let may_sign = agreements.last().and_then(|latest| {
        let open = match team {
            Team::Marketing => latest.marketing_signoff.is_none(),
            Team::Sales => latest.sales_signoff.is_none(),
        };
        (open && actor.may(Action::SignAgreement, Relation::Own))
            .then_some((latest.version, team.as_str()))
    });
    let versions = agreements
        .iter()
        .rev()
        .map(|a| Version {
            version: a.version,
            status: match a.status.as_str() {
                "in_force" => "in force",
                "superseded" => "superseded",
                _ => "awaiting sign-off",
            },
            summary: a.summary.clone(),
            marketing: signed(&a.marketing_signoff),
            sales: signed(&a.sales_signoff),
            created: format::when(a.created_at.timestamp(), &tz),
        })
        .collect();
    let page = SlaPage {
        chrome: Chrome::new(&viewer, Some(WorkspacePage::Sla)),
        period,
        versions,
        may_sign,
        reps: report.sales.iter().map(line).collect(),
        total: line(&report.sales_total),
        breaches: report
            .breaches
            .iter()
            .map(|b| BreachLine {
                contact: b.contact_email.clone(),
                rep: b.assignee_id.map_or("—".into(), name),
                clock: b.clock.as_str().replace('_', " "),
                due: b.due_at.map(|d| format::when(d.timestamp(), &tz)),
                late: format!("{:.1} h", b.late_working_hours),
                escalations: if b.escalations.is_empty() {
                    "—".into()
                } else {
                    b.escalations.join(", ").replace('_', " ")
                },
            })
            .collect(),
        done: q.done.is_some(),
        as_of: format::when(snapshot.as_of.timestamp(), &tz),
        refreshing: snapshot.refreshing,
    };
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct SignForm {
    version: i64,
}

/// A lead signs the latest version for their team.
pub async fn sign(
    State(s): State<AppState>,
    submitted: Submitted<SignForm>,
) -> Result<Response, UiError> {
    let actor = submitted.viewer.actor();
    s.app
        .sign_agreement_as(
            submitted.form.version,
            &submitted.viewer.session.user,
            &actor,
        )
        .await?;
    Ok(see_other("/sla?done=signed"))
}
