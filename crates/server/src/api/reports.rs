//! Closed-loop reports: funnel, velocity, attribution (and one deal's
//! journey), channel ROI and the revenue goal against revenue won.

use super::Res;
use crate::AppState;
use crate::error::Problem;
use crate::extract::{ApiQuery, Auth, path_id};
use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(funnel_report))
        .routes(routes!(velocity_report))
        .routes(routes!(attribution_report))
        .routes(routes!(deal_journey))
        .routes(routes!(roi_report))
        .routes(routes!(goal_report))
}

/// The funnel on cohorts: of the contacts that entered a stage (in a
/// period), how many reached each later stage, by one dimension.
#[utoipa::path(get, path = "/api/v1/reports/funnel", tag = "reports", params(smarketing_app::reports::CohortQuery),
    responses((status = 200, body = smarketing_app::reports::FunnelReport), (status = 422, body = Problem)))]
async fn funnel_report(
    State(s): State<AppState>,
    _a: Auth,
    ApiQuery(q): ApiQuery<smarketing_app::reports::CohortQuery>,
) -> Res<smarketing_app::reports::FunnelReport> {
    Ok(Json(s.app.funnel_report(&q).await?))
}

/// Time in each stage and to won (n, median, lower median, p90, mean in seconds).
#[utoipa::path(get, path = "/api/v1/reports/velocity", tag = "reports", params(smarketing_app::reports::CohortQuery),
    responses((status = 200, body = smarketing_app::reports::VelocityReport), (status = 422, body = Problem)))]
async fn velocity_report(
    State(s): State<AppState>,
    _a: Auth,
    ApiQuery(q): ApiQuery<smarketing_app::reports::CohortQuery>,
) -> Res<smarketing_app::reports::VelocityReport> {
    Ok(Json(s.app.velocity_report(&q).await?))
}

/// Credit of conversions per channel and campaign under each model, side by side.
#[utoipa::path(get, path = "/api/v1/reports/attribution", tag = "reports", params(smarketing_app::reports::AttributionParams),
    responses((status = 200, body = smarketing_core::analytics::attribution::AttributionReport), (status = 422, body = Problem)))]
async fn attribution_report(
    State(s): State<AppState>,
    a: Auth,
    ApiQuery(q): ApiQuery<smarketing_app::reports::AttributionParams>,
) -> Res<smarketing_core::analytics::attribution::AttributionReport> {
    Ok(Json(
        s.app
            .for_revenue(&a.actor())?
            .attribution_report(&q)
            .await?,
    ))
}

/// The touches behind one deal and each rule-based model's weight on them.
#[utoipa::path(get, path = "/api/v1/reports/attribution/deals/{id}", tag = "reports",
    params(("id" = i64, Path, description = "Deal id"), smarketing_app::reports::JourneyParams),
    responses((status = 200, body = smarketing_core::analytics::attribution::DealJourney), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn deal_journey(
    State(s): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<smarketing_app::reports::JourneyParams>,
) -> Res<smarketing_core::analytics::attribution::DealJourney> {
    let actor = a.actor();
    let deal = s.app.deal_for(path_id(&id, "deal")?, &actor).await?;
    Ok(Json(
        s.app.for_revenue(&actor)?.deal_journey(deal.id, &q).await?,
    ))
}

/// Spend against attributed MQLs, pipeline and revenue: cost per MQL, CAC, ROI.
#[utoipa::path(get, path = "/api/v1/reports/channel-roi", tag = "reports", params(smarketing_app::reports::RoiParams),
    responses((status = 200, body = smarketing_core::analytics::roi::RoiReport), (status = 422, body = Problem)))]
async fn roi_report(
    State(s): State<AppState>,
    a: Auth,
    ApiQuery(q): ApiQuery<smarketing_app::reports::RoiParams>,
) -> Res<smarketing_core::analytics::roi::RoiReport> {
    Ok(Json(s.app.for_revenue(&a.actor())?.roi_report(&q).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct GoalQuery {
    /// `2026`, `2026-Q4` or `2026-11`.
    period: String,
    /// A segment's goal, `dimension=value`.
    segment: Option<String>,
}

/// The revenue goal against revenue won, with pacing and a projection.
#[utoipa::path(get, path = "/api/v1/reports/goals", tag = "reports", params(GoalQuery),
    responses((status = 200, body = smarketing_app::goals::GoalActual), (status = 422, body = Problem)))]
async fn goal_report(
    State(s): State<AppState>,
    a: Auth,
    ApiQuery(q): ApiQuery<GoalQuery>,
) -> Res<smarketing_app::goals::GoalActual> {
    Ok(Json(
        s.app
            .for_revenue(&a.actor())?
            .goal_actual(&q.period, q.segment.as_deref())
            .await?,
    ))
}
