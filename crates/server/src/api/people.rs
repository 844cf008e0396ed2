//! Users: the list, adding one, the caller (`/me`), and the audit log.

use super::{Created, Res};
use crate::AppState;
use crate::error::Problem;
use crate::extract::{ApiJson, Auth};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use smarketing_app::input::*;
use smarketing_store::User;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(me))
        .routes(routes!(audit_log))
        .routes(routes!(disable_user))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    /// Entries at or after this instant (ISO 8601).
    since: Option<String>,
    /// At most this many, newest first (default 200, at most 10,000).
    limit: Option<i64>,
}

/// The append-only audit log, newest first (admins): who did what, when,
/// from where, to which object, before and after.
#[utoipa::path(get, path = "/api/v1/audit", tag = "users", params(AuditQuery),
    responses((status = 200, body = Vec<smarketing_store::AuditEntry>), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn audit_log(
    State(s): State<AppState>,
    a: Auth,
    crate::extract::ApiQuery(q): crate::extract::ApiQuery<AuditQuery>,
) -> Res<Vec<smarketing_store::AuditEntry>> {
    let since = q
        .since
        .as_deref()
        .map(|t| smarketing_core::Instant::parse(t, "since"))
        .transpose()?;
    Ok(Json(
        s.app
            .audit_log(since, q.limit.unwrap_or(200), &a.actor())
            .await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users", responses((status = 200, body = Vec<User>)))]
async fn list_users(State(s): State<AppState>, _a: Auth) -> Res<Vec<User>> {
    Ok(Json(s.app.users().await?))
}

#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = UserInput,
    responses((status = 201, body = User), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_user(
    State(s): State<AppState>,
    a: Auth,
    ApiJson(input): ApiJson<UserInput>,
) -> Created<User> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.create_user(input, &a.actor()).await?),
    ))
}

/// Disables a user (admins): none of their tokens works from now on, and
/// no new leads are routed to them.
#[utoipa::path(post, path = "/api/v1/users/{id}/disable", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, body = User), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn disable_user(
    State(s): State<AppState>,
    a: Auth,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Res<User> {
    Ok(Json(
        s.app
            .disable_user(crate::extract::path_id(&id, "user")?, &a.actor())
            .await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/me", tag = "users", responses((status = 200, body = User)))]
async fn me(a: Auth) -> Json<User> {
    Json(a.0)
}
