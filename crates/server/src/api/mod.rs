//! The JSON API under /api/v1: thin handlers that extract, call the app and
//! answer. Every handler here needs a bearer token or a signed-in session,
//! but signing in and using a reset link. This module merges each
//! area's routes into one `OpenApiRouter` and holds what the areas share.

mod contacts;
mod handoffs;
mod people;
mod playbook;
mod records;
mod reports;
pub(crate) mod session;
mod sla;
mod touchpoints;
mod webhooks;

use crate::AppState;
use crate::error::ApiError;
use axum::Json;
use axum::http::StatusCode;
use smarketing_core::Stage;
use smarketing_core::diff::Change;
use smarketing_core::scoring::{Contribution, ScorePart};
use smarketing_store::Touchpoint;
use utoipa_axum::router::OpenApiRouter;

type Res<T> = Result<Json<T>, ApiError>;
type Created<T> = Result<(StatusCode, Json<T>), ApiError>;

/// Every route of the API, with the OpenAPI paths generated from them.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(records::routes())
        .merge(contacts::routes())
        .merge(touchpoints::routes())
        .merge(playbook::routes())
        .merge(people::routes())
        .merge(handoffs::routes())
        .merge(sla::routes())
        .merge(webhooks::routes())
        .merge(reports::routes())
        .merge(session::routes())
}

/// Types the document refers to that no handler names directly.
#[derive(utoipa::OpenApi)]
#[openapi(components(schemas(Change, Contribution, ScorePart, Stage, Touchpoint)))]
pub struct ExtraSchemas;
