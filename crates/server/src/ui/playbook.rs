//! The playbook page: the shared language both teams read — stages with
//! their entry criteria, personas, channels, the score's rules and the MQL
//! threshold, rejection reasons — and its versions. Admins change the MQL
//! threshold here, through the same validation as a TOML import, after a
//! what-if preview of how many leads would meet it today.

use super::format::{self, When};
use super::page::{Chrome, Submitted, UiError, Viewer, render, see_other};
use crate::AppState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use smarketing_app::AppError;
use smarketing_app::rescoring::MqlWhatIf;
use smarketing_app::workspace::WorkspacePage;
use smarketing_core::{Action, Playbook, Relation};

#[derive(askama::Template)]
#[template(path = "playbook.html")]
struct PlaybookPage {
    chrome: Chrome,
    version: i64,
    stages: Vec<(String, String, String)>,
    personas: Vec<(String, String)>,
    channels: Vec<(String, String)>,
    fit_rules: Vec<(String, i64)>,
    engagement_rules: Vec<(String, i64)>,
    half_life: String,
    fit_min: i64,
    engagement_min: String,
    reasons: Vec<(String, String)>,
    versions: Vec<(i64, String, String, When)>,
    may_edit: bool,
    /// The thresholds asked about, and what they would do.
    what_if: Option<(i64, String, MqlWhatIf)>,
    error: Option<String>,
    saved: bool,
}

#[derive(Deserialize)]
pub struct PlaybookQuery {
    fit_min: Option<String>,
    engagement_min: Option<String>,
    saved: Option<String>,
}

/// The playbook in force with other MQL thresholds.
fn with_threshold(playbook: &Playbook, fit: &str, engagement: &str) -> Result<Playbook, AppError> {
    let bad = |field: &str, what: &str| {
        AppError::Invalid(smarketing_core::Invalid::new(
            "invalid_value",
            field,
            format!("{what} must be a number"),
        ))
    };
    let mut candidate = playbook.clone();
    candidate.scoring.mql_fit_min = fit
        .trim()
        .parse()
        .map_err(|_| bad("mql_fit_min", "the fit threshold"))?;
    candidate.scoring.mql_engagement_min = engagement
        .trim()
        .parse()
        .map_err(|_| bad("mql_engagement_min", "the engagement threshold"))?;
    Ok(candidate)
}

async fn page(
    s: &AppState,
    viewer: &Viewer,
    q: &PlaybookQuery,
) -> Result<(StatusCode, PlaybookPage), UiError> {
    let actor = viewer.actor();
    WorkspacePage::Playbook.open(&actor)?;
    let (version, playbook) = s.app.playbook().await?;
    let tz = playbook.calendar.zone().map_err(AppError::Invalid)?;
    let may_edit = actor.may(Action::ImportPlaybook, Relation::Company);
    let mut status = StatusCode::OK;
    let mut error = None;
    let what_if = match (&q.fit_min, &q.engagement_min, may_edit) {
        (Some(fit), Some(engagement), true) => {
            let asked = async {
                let candidate = with_threshold(&playbook, fit, engagement)?;
                let counts = s.app.mql_what_if(&candidate).await?;
                Ok::<_, AppError>((
                    candidate.scoring.mql_fit_min,
                    format!("{}", candidate.scoring.mql_engagement_min),
                    counts,
                ))
            };
            match asked.await {
                Ok(answer) => Some(answer),
                Err(AppError::Invalid(i)) => {
                    status = StatusCode::UNPROCESSABLE_ENTITY;
                    error = Some(i.message);
                    None
                }
                Err(AppError::Playbook(p)) => {
                    status = StatusCode::UNPROCESSABLE_ENTITY;
                    error = Some(p.to_string());
                    None
                }
                Err(e) => return Err(e.into()),
            }
        }
        _ => None,
    };
    let sc = &playbook.scoring;
    Ok((
        status,
        PlaybookPage {
            chrome: Chrome::new(viewer, Some(WorkspacePage::Playbook)),
            version,
            stages: playbook
                .stages
                .iter()
                .map(|st| {
                    (
                        st.name.clone(),
                        st.owner.as_str().to_string(),
                        st.entry_criterion.clone(),
                    )
                })
                .collect(),
            personas: playbook
                .personas
                .iter()
                .map(|p| (p.name.clone(), p.description.clone()))
                .collect(),
            channels: playbook
                .channels
                .iter()
                .map(|c| {
                    (
                        c.name.clone(),
                        if c.paid { "paid" } else { "earned or owned" }.to_string(),
                    )
                })
                .collect(),
            fit_rules: sc
                .fit_rules
                .iter()
                .map(|r| (r.description.clone(), r.points))
                .collect(),
            engagement_rules: sc
                .engagement_rules
                .iter()
                .map(|r| (r.description.clone(), r.points))
                .collect(),
            half_life: format!("{}", sc.engagement_half_life_days),
            fit_min: sc.mql_fit_min,
            engagement_min: format!("{}", sc.mql_engagement_min),
            reasons: playbook
                .rejection_reasons
                .iter()
                .map(|r| {
                    let outcome = match r.outcome {
                        smarketing_core::playbook::RejectOutcome::Disqualify => "disqualified",
                        smarketing_core::playbook::RejectOutcome::Recycle => {
                            "recycled to marketing"
                        }
                    };
                    (r.label.clone(), outcome.to_string())
                })
                .collect(),
            versions: s
                .app
                .playbook_versions()
                .await?
                .into_iter()
                .rev()
                .map(|v| {
                    (
                        v.version,
                        v.author,
                        v.note.unwrap_or_default(),
                        format::when(v.created_at.timestamp(), &tz),
                    )
                })
                .collect(),
            may_edit,
            what_if,
            error,
            saved: q.saved.is_some(),
        },
    ))
}

pub async fn show(
    State(s): State<AppState>,
    viewer: Viewer,
    Query(q): Query<PlaybookQuery>,
) -> Result<Response, UiError> {
    let (status, page) = page(&s, &viewer, &q).await?;
    render(status, &page)
}

#[derive(Deserialize)]
pub struct ThresholdForm {
    fit_min: String,
    engagement_min: String,
    note: Option<String>,
}

/// Stores the playbook with new MQL thresholds as the next version, as an
/// import would (the same validation and audit), then rescores.
pub async fn save_threshold(
    State(s): State<AppState>,
    submitted: Submitted<ThresholdForm>,
) -> Result<Response, UiError> {
    let actor = submitted.viewer.actor();
    let f = submitted.form;
    let (_, playbook) = s.app.playbook().await?;
    let result = match with_threshold(&playbook, &f.fit_min, &f.engagement_min) {
        Ok(candidate) => {
            s.app
                .import_playbook(
                    &candidate.to_toml(),
                    &submitted.viewer.session.user.email,
                    f.note.as_deref().filter(|n| !n.trim().is_empty()),
                    &actor,
                )
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => {
            s.app.spawn_rescore();
            Ok(see_other("/playbook?saved=1"))
        }
        Err(AppError::Invalid(_) | AppError::Playbook(_)) => {
            let q = PlaybookQuery {
                fit_min: Some(f.fit_min),
                engagement_min: Some(f.engagement_min),
                saved: None,
            };
            let (_, page) = page(&s, &submitted.viewer, &q).await?;
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(e.into()),
    }
}
