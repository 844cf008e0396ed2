//! Handoffs and their routing: a rep's settings and out-of-office, the
//! handoff queue and card, accepting, rejecting, reassigning, logging work.

use super::{Created, Res};
use crate::AppState;
use crate::error::Problem;
use crate::extract::{ApiJson, ApiQuery, Auth, path_id};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use smarketing_app::handoffs::*;
use smarketing_app::listing::Paging;
use smarketing_app::routing::{OutOfOfficeInput, RepSettingsInput};
use smarketing_store::{Activity, Page};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(set_rep_settings))
        .routes(routes!(add_out_of_office))
        .routes(routes!(list_handoffs))
        .routes(routes!(get_handoff))
        .routes(routes!(accept_handoff))
        .routes(routes!(reject_handoff))
        .routes(routes!(reassign_handoff))
        .routes(routes!(log_handoff_activity))
}

// ---------------- rep settings and out-of-office ----------------

#[utoipa::path(put, path = "/api/v1/users/{id}/rep-settings", tag = "users", params(("id" = i64, Path)), request_body = RepSettingsInput,
    responses((status = 200, body = smarketing_store::RepSettings), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn set_rep_settings(
    State(s): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<RepSettingsInput>,
) -> Res<smarketing_store::RepSettings> {
    Ok(Json(
        s.app
            .set_rep_settings(path_id(&id, "user")?, input, &a.actor())
            .await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/users/{id}/out-of-office", tag = "users", params(("id" = i64, Path)), request_body = OutOfOfficeInput,
    responses((status = 201, body = smarketing_store::OutOfOffice), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn add_out_of_office(
    State(s): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<OutOfOfficeInput>,
) -> Created<smarketing_store::OutOfOffice> {
    Ok((
        StatusCode::CREATED,
        Json(
            s.app
                .add_out_of_office(path_id(&id, "user")?, input, &a.actor())
                .await?,
        ),
    ))
}

// ---------------- handoffs ----------------

/// Handoffs with their SLA clocks, oldest first.
#[utoipa::path(get, path = "/api/v1/handoffs", tag = "handoffs", params(HandoffFilter, Paging),
    responses((status = 200, body = Page<HandoffView>), (status = 422, body = Problem)))]
async fn list_handoffs(
    State(s): State<AppState>,
    _a: Auth,
    ApiQuery(f): ApiQuery<HandoffFilter>,
    ApiQuery(p): ApiQuery<Paging>,
) -> Res<Page<HandoffView>> {
    Ok(Json(s.app.handoffs(&f, &p).await?))
}

/// The handoff card: score explanation, recent touches, account, notes, clocks.
#[utoipa::path(get, path = "/api/v1/handoffs/{id}", tag = "handoffs", params(("id" = i64, Path)),
    responses((status = 200, body = HandoffCard), (status = 404, body = Problem)))]
async fn get_handoff(
    State(s): State<AppState>,
    _a: Auth,
    Path(id): Path<String>,
) -> Res<HandoffCard> {
    Ok(Json(s.app.handoff_card(path_id(&id, "handoff")?).await?))
}

#[utoipa::path(post, path = "/api/v1/handoffs/{id}/accept", tag = "handoffs", params(("id" = i64, Path)), request_body = AcceptInput,
    responses((status = 200, body = HandoffView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn accept_handoff(
    State(s): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<AcceptInput>,
) -> Res<HandoffView> {
    Ok(Json(
        s.app
            .accept_handoff(path_id(&id, "handoff")?, input, &a.actor())
            .await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/handoffs/{id}/reject", tag = "handoffs", params(("id" = i64, Path)), request_body = RejectInput,
    responses((status = 200, body = HandoffView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn reject_handoff(
    State(s): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<RejectInput>,
) -> Res<HandoffView> {
    Ok(Json(
        s.app
            .reject_handoff(path_id(&id, "handoff")?, input, &a.actor())
            .await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/handoffs/{id}/reassign", tag = "handoffs", params(("id" = i64, Path)), request_body = ReassignInput,
    responses((status = 200, body = HandoffView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn reassign_handoff(
    State(s): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<ReassignInput>,
) -> Res<HandoffView> {
    Ok(Json(
        s.app
            .reassign_handoff(path_id(&id, "handoff")?, input, &a.actor())
            .await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/handoffs/{id}/activities", tag = "handoffs", params(("id" = i64, Path)), request_body = HandoffActivityInput,
    responses((status = 201, body = Activity), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn log_handoff_activity(
    State(s): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<HandoffActivityInput>,
) -> Created<Activity> {
    Ok((
        StatusCode::CREATED,
        Json(
            s.app
                .log_handoff_activity(path_id(&id, "handoff")?, input, &a.actor())
                .await?,
        ),
    ))
}
