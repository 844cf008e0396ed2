//! Team Revenue, the home page both teams open first: revenue won against
//! the goal, marketing's MQLs against the SLA commitment, sales' SLA kept,
//! the funnel with the previous period beside it, rejection reasons and
//! the clocks at risk now. Money is left out where the profile may not
//! see revenue.

use super::format;
use super::page::{Chrome, UiError, Viewer, render};
use crate::AppState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use smarketing_app::AppError;
use smarketing_app::reports::CohortQuery;
use smarketing_app::workspace::WorkspacePage;
use smarketing_core::period::Period;
use smarketing_core::sla::ClockState;
use std::collections::BTreeMap;

#[derive(askama::Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
    period: String,
    previous: String,
    periods: Vec<(String, String)>,
    revenue: Option<Revenue>,
    mqls: u64,
    mqls_previous: u64,
    commitment: Option<u64>,
    acceptance: String,
    acceptance_previous: String,
    min_acceptance: String,
    within_sla: String,
    within_sla_previous: String,
    first_touch_p50: String,
    first_touch_p95: String,
    funnel: Vec<FunnelLine>,
    reasons: Vec<(String, u64)>,
    at_risk_now: u64,
    breached_now: u64,
    open_handoffs: u64,
    as_of: format::When,
    refreshing: bool,
}

/// Everything the page shows, computed together as one snapshot.
struct HomeData {
    goal: Option<smarketing_app::goals::GoalActual>,
    /// (deals, revenue) won in the period so far.
    won: (i64, i64),
    won_before: i64,
    sla: smarketing_app::sla_reports::SlaReport,
    sla_before: smarketing_app::sla_reports::SlaReport,
    funnel: smarketing_app::reports::FunnelReport,
    status: smarketing_app::sla_reports::SlaStatus,
}

struct Revenue {
    won: String,
    won_previous: String,
    goal: String,
    deals: i64,
    pace: String,
    projection: String,
    /// Bar widths of the bullet chart, out of 300.
    won_width: u32,
    expected_width: u32,
    goal_set: bool,
}

struct FunnelLine {
    stage: String,
    reached: u64,
    rate: String,
    previous: Option<u64>,
}

#[derive(Deserialize)]
pub struct HomeQuery {
    period: Option<String>,
}

/// The current quarter, month and year, and the ones before them, for the
/// period picker.
fn periods_around(today: jiff::civil::Date) -> Vec<Period> {
    let y = today.year();
    let q = ((today.month() - 1) / 3 + 1) as u8;
    let m = today.month() as u8;
    let quarter = Period::Quarter(y, q);
    let month = Period::Month(y, m);
    vec![
        quarter,
        quarter.previous(),
        month,
        month.previous(),
        Period::Year(y),
        Period::Year(y).previous(),
    ]
}

fn bar(part: f64, whole: f64) -> u32 {
    if whole <= 0.0 {
        return 0;
    }
    ((part / whole).clamp(0.0, 1.0) * 300.0).round() as u32
}

pub async fn team_revenue(
    State(s): State<AppState>,
    viewer: Viewer,
    Query(q): Query<HomeQuery>,
) -> Result<Response, UiError> {
    let actor = viewer.actor();
    WorkspacePage::TeamRevenue.open(&actor)?;
    let (_, playbook) = s.app.playbook().await?;
    let tz = playbook.calendar.zone().map_err(AppError::Invalid)?;
    let today = s.app.now().timestamp().to_zoned(tz.clone()).date();
    let choices = periods_around(today);
    let period: Period = match q.period.as_deref() {
        Some(p) => p.parse().map_err(AppError::Invalid)?,
        None => choices[0],
    };
    let previous = period.previous();
    let (p, prev) = (period.to_string(), previous.to_string());

    let key = format!("team revenue {p}");
    let (period_now, period_before) = (p.clone(), prev.clone());
    let snapshot = s
        .app
        .snapshot(&key, move |app| async move {
            let goal = match app.goal_actual(&period_now, None).await {
                Ok(g) => Some(g),
                Err(AppError::Invalid(i)) if i.code == "no_goal" => None,
                Err(e) => return Err(e),
            };
            Ok(HomeData {
                goal,
                won: app.revenue_won(&period_now).await?,
                won_before: app.revenue_won(&period_before).await?.1,
                sla: app.sla_report(&period_now).await?,
                sla_before: app.sla_report(&period_before).await?,
                funnel: app
                    .funnel_report(&CohortQuery {
                        period: Some(period_now.clone()),
                        ..Default::default()
                    })
                    .await?,
                status: app.sla_status().await?,
            })
        })
        .await?;
    let data = &snapshot.value;
    // The figures hold revenue; the permission table decides who sees it.
    let revenue = match s.app.for_revenue(&actor) {
        Ok(_) => Some(match &data.goal {
            Some(now) => {
                let goal = now.revenue_goal_minor as f64;
                let scale = goal.max(now.won_minor as f64).max(1.0);
                Revenue {
                    won: format::money(now.won_minor),
                    won_previous: format::money(data.won_before),
                    goal: format::money(now.revenue_goal_minor),
                    deals: now.won_deals,
                    pace: format::percent(now.pacing.pace),
                    projection: now
                        .pacing
                        .projection
                        .map_or("—".into(), |p| format::money(p.round() as i64)),
                    won_width: bar(now.won_minor as f64, scale),
                    expected_width: bar(now.pacing.expected_to_date, scale),
                    goal_set: true,
                }
            }
            // No goal for the period: what was won, without pacing.
            None => Revenue {
                won: format::money(data.won.1),
                won_previous: format::money(data.won_before),
                goal: "—".into(),
                deals: data.won.0,
                pace: "—".into(),
                projection: "—".into(),
                won_width: 0,
                expected_width: 0,
                goal_set: false,
            },
        }),
        Err(AppError::Forbidden(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let (sla, sla_before, funnel, status) =
        (&data.sla, &data.sla_before, &data.funnel, &data.status);
    let previous_rows: BTreeMap<String, u64> = funnel
        .previous
        .iter()
        .flatten()
        .filter(|r| r.group == "ALL")
        .map(|r| (r.stage.to_string(), r.reached))
        .collect();
    let funnel_lines = funnel
        .rows
        .iter()
        .filter(|r| r.group == "ALL")
        .map(|r| FunnelLine {
            stage: r.stage.to_string(),
            reached: r.reached,
            rate: format::percent(r.rate_from_prev),
            previous: previous_rows.get(&r.stage.to_string()).copied(),
        })
        .collect();
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    for r in &sla.marketing.rejections_by_channel {
        *reasons.entry(r.reason.clone()).or_default() += r.count;
    }
    let mut reasons: Vec<(String, u64)> = reasons.into_iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    reasons.truncate(5);
    let labels: BTreeMap<&str, &str> = playbook
        .rejection_reasons
        .iter()
        .map(|r| (r.code.as_str(), r.label.as_str()))
        .collect();
    let reasons = reasons
        .into_iter()
        .map(|(code, n)| {
            (
                labels
                    .get(code.as_str())
                    .map_or(code.clone(), |l| l.to_string()),
                n,
            )
        })
        .collect();
    let count = |state: ClockState| {
        status
            .clocks
            .iter()
            .filter(|c| c.state == state)
            .map(|c| c.handoffs)
            .sum()
    };
    let page = HomePage {
        chrome: Chrome::new(&viewer, Some(WorkspacePage::TeamRevenue)),
        periods: choices
            .iter()
            .map(|c| (c.to_string(), c.to_string()))
            .collect(),
        period: p,
        previous: prev,
        revenue,
        mqls: sla.marketing.mqls,
        mqls_previous: sla_before.marketing.mqls,
        commitment: sla.marketing.mql_commitment,
        acceptance: format::percent(sla.marketing.acceptance_rate),
        acceptance_previous: format::percent(sla_before.marketing.acceptance_rate),
        min_acceptance: format::percent(Some(sla.marketing.min_acceptance_rate)),
        within_sla: format::percent(sla.sales_total.within_sla),
        within_sla_previous: format::percent(sla_before.sales_total.within_sla),
        first_touch_p50: format::hours(sla.sales_total.first_touch_p50_hours),
        first_touch_p95: format::hours(sla.sales_total.first_touch_p95_hours),
        funnel: funnel_lines,
        reasons,
        at_risk_now: count(ClockState::AtRisk),
        breached_now: count(ClockState::Breached),
        open_handoffs: status.open_handoffs,
        as_of: format::when(snapshot.as_of.timestamp(), &tz),
        refreshing: snapshot.refreshing,
    };
    render(StatusCode::OK, &page)
}
