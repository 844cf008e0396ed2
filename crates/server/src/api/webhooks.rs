//! Outgoing events and the in-app feed: webhook endpoints and notifications.

use super::{Created, Res};
use crate::AppState;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery, Auth, path_id};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(update_webhook, delete_webhook))
        .routes(routes!(test_webhook))
        .routes(routes!(webhook_log))
        .routes(routes!(list_notifications))
        .routes(routes!(read_notification))
}

#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", responses((status = 200, body = Vec<smarketing_store::WebhookEndpoint>), (status = 403, body = Problem)))]
async fn list_webhooks(
    State(s): State<AppState>,
    a: Auth,
) -> Res<Vec<smarketing_store::WebhookEndpoint>> {
    Ok(Json(s.app.webhooks(&a.actor()).await?))
}

/// Adds a receiver of signed events (Standard Webhooks headers: webhook-id,
/// webhook-timestamp, webhook-signature). The secret is shown once.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", request_body = smarketing_app::outbox::WebhookInput,
    responses((status = 201, body = smarketing_app::outbox::NewWebhook), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn create_webhook(
    State(s): State<AppState>,
    a: Auth,
    ApiJson(input): ApiJson<smarketing_app::outbox::WebhookInput>,
) -> Created<smarketing_app::outbox::NewWebhook> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.create_webhook(input, &a.actor()).await?),
    ))
}

/// What can change on a receiver: whether it is active (paused while
/// not; its deliveries wait).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct WebhookPatch {
    active: bool,
}

/// Pauses (`{"active": false}`) or resumes a receiver.
#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = i64, Path)), request_body = WebhookPatch,
    responses((status = 200, body = smarketing_store::WebhookEndpoint), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn update_webhook(
    State(s): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<WebhookPatch>,
) -> Res<smarketing_store::WebhookEndpoint> {
    Ok(Json(
        s.app
            .set_webhook_active(path_id(&id, "webhook")?, patch.active, &a.actor())
            .await?,
    ))
}

/// Removes a receiver and its deliveries.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn delete_webhook(
    State(s): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.app
        .delete_webhook(path_id(&id, "webhook")?, &a.actor())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Queues a `webhook.test` event for this receiver (sent by the scheduler).
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/test", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 202), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn test_webhook(
    State(s): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.app
        .test_webhook(path_id(&id, "webhook")?, &a.actor())
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// The receiver's delivery log: its latest 200 deliveries, newest first.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<smarketing_store::WebhookDelivery>), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn webhook_log(
    State(s): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
) -> Res<Vec<smarketing_store::WebhookDelivery>> {
    Ok(Json(
        s.app
            .webhook_log(path_id(&id, "webhook")?, &a.actor())
            .await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct FeedQuery {
    /// Only unread notifications.
    unread: Option<bool>,
}

/// The caller's in-app feed: SLA warnings, breaches, reassignments.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications", params(FeedQuery), responses((status = 200, body = Vec<smarketing_store::Notification>)))]
async fn list_notifications(
    State(s): State<AppState>,
    a: Auth,
    ApiQuery(q): ApiQuery<FeedQuery>,
) -> Res<Vec<smarketing_store::Notification>> {
    Ok(Json(
        s.app.notifications(&a.0, q.unread.unwrap_or(false)).await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/notifications/{id}/read", tag = "notifications", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
async fn read_notification(
    State(s): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.app
        .mark_notification_read(path_id(&id, "notification")?, &a.0)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
