//! The SLA and its targets: revenue goals and the reverse funnel, the signed
//! agreement, the clocks' status now and the SLA report of a period.

use super::Res;
use crate::AppState;
use crate::error::Problem;
use crate::extract::{ApiJson, ApiQuery, Auth, path_id};
use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(set_goal, list_goals))
        .routes(routes!(reverse_funnel))
        .routes(routes!(list_agreements))
        .routes(routes!(sign_agreement))
        .routes(routes!(sla_report))
        .routes(routes!(sla_status))
}

// ---------------- goals ----------------

#[utoipa::path(put, path = "/api/v1/goals/{period}", tag = "goals", params(("period" = String, Path, description = "2026, 2026-Q4 or 2026-11")), request_body = smarketing_app::goals::GoalInput,
    responses((status = 200, body = smarketing_store::Goal), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn set_goal(
    State(s): State<AppState>,
    a: Auth,
    Path(period): Path<String>,
    ApiJson(input): ApiJson<smarketing_app::goals::GoalInput>,
) -> Res<smarketing_store::Goal> {
    Ok(Json(s.app.set_goal(&period, input, &a.actor()).await?))
}

/// The goals of a period: the company's (segment "") and each segment's.
#[utoipa::path(get, path = "/api/v1/goals/{period}", tag = "goals", params(("period" = String, Path, description = "2026, 2026-Q4 or 2026-11")),
    responses((status = 200, body = Vec<smarketing_store::Goal>), (status = 422, body = Problem)))]
async fn list_goals(
    State(s): State<AppState>,
    a: Auth,
    Path(period): Path<String>,
) -> Res<Vec<smarketing_store::Goal>> {
    Ok(Json(s.app.for_revenue(&a.actor())?.goals(&period).await?))
}

/// The reverse funnel of a period: the deals, opportunities, SQLs, MQLs and
/// leads the revenue goal needs, marketing's MQL commitment and pacing.
#[utoipa::path(get, path = "/api/v1/goals/{period}/reverse-funnel", tag = "goals",
    params(("period" = String, Path, description = "2026, 2026-Q4 or 2026-11"), smarketing_app::goals::ReverseFunnelQuery),
    responses((status = 200, body = smarketing_app::goals::ReverseFunnelReport), (status = 422, body = Problem)))]
async fn reverse_funnel(
    State(s): State<AppState>,
    a: Auth,
    Path(period): Path<String>,
    ApiQuery(q): ApiQuery<smarketing_app::goals::ReverseFunnelQuery>,
) -> Res<smarketing_app::goals::ReverseFunnelReport> {
    Ok(Json(
        s.app
            .for_revenue(&a.actor())?
            .reverse_funnel(&period, &q)
            .await?,
    ))
}

// ---------------- the agreement ----------------

#[utoipa::path(get, path = "/api/v1/sla/agreements", tag = "sla", responses((status = 200, body = Vec<smarketing_app::agreements::AgreementView>)))]
async fn list_agreements(
    State(s): State<AppState>,
    _a: Auth,
) -> Res<Vec<smarketing_app::agreements::AgreementView>> {
    Ok(Json(s.app.agreements().await?))
}

/// Signs the latest agreement for the caller's team (managers and admins).
#[utoipa::path(post, path = "/api/v1/sla/agreements/{version}/sign", tag = "sla", params(("version" = i64, Path)),
    responses((status = 200, body = smarketing_app::agreements::AgreementView), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn sign_agreement(
    State(s): State<AppState>,
    a: Auth,
    Path(v): Path<String>,
) -> Res<smarketing_app::agreements::AgreementView> {
    Ok(Json(
        s.app
            .sign_agreement_as(path_id(&v, "agreement")?, &a.0, &a.actor())
            .await?,
    ))
}

// ---------------- status and report ----------------

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PeriodQuery {
    /// `2026`, `2026-Q4` or `2026-11`.
    period: String,
}

/// The clocks of the open handoffs now: how many are on track, at risk,
/// breached or met, per clock.
#[utoipa::path(get, path = "/api/v1/sla/status", tag = "sla",
    responses((status = 200, body = smarketing_app::sla_reports::SlaStatus)))]
async fn sla_status(
    State(s): State<AppState>,
    _a: Auth,
) -> Res<smarketing_app::sla_reports::SlaStatus> {
    Ok(Json(s.app.sla_status().await?))
}

/// Sales SLA compliance by rep, marketing's SLA (MQLs, acceptance, rejection
/// reasons by channel, campaign and persona) and the breach ledger.
#[utoipa::path(get, path = "/api/v1/reports/sla", tag = "reports", params(PeriodQuery),
    responses((status = 200, body = smarketing_app::sla_reports::SlaReport), (status = 422, body = Problem)))]
async fn sla_report(
    State(s): State<AppState>,
    _a: Auth,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> Res<smarketing_app::sla_reports::SlaReport> {
    Ok(Json(s.app.sla_report(&q.period).await?))
}
