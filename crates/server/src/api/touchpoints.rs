//! Touchpoints: record one, or a batch in one transaction, rescoring the
//! contacts they touch.

use super::Created;
use crate::AppState;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, Auth};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use smarketing_app::input::*;
use smarketing_app::touches::TouchOutcome;
use smarketing_core::Invalid;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(record_touchpoints))
}

/// A batch of touchpoints: `{"batch": [...]}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct TouchpointBatch {
    batch: Vec<TouchpointInput>,
}

#[derive(Debug, Serialize, ToSchema)]
struct TouchpointsRecorded {
    recorded: Vec<TouchOutcome>,
}

/// Records one touchpoint (an object), or many in one transaction (an array,
/// or `{"batch": [...]}`), rescoring contacts and moving them to MQL as the
/// playbook says.
#[utoipa::path(post, path = "/api/v1/touchpoints", tag = "touchpoints",
    request_body(content((TouchpointInput), (TouchpointBatch), (Vec<TouchpointInput>))),
    responses((status = 201, body = TouchpointsRecorded), (status = 422, body = Problem)))]
async fn record_touchpoints(
    State(s): State<AppState>,
    a: Auth,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Created<TouchpointsRecorded> {
    let (items, prefix) = match body {
        serde_json::Value::Array(items) => (items, ""),
        serde_json::Value::Object(mut m) if m.contains_key("batch") => match m.remove("batch") {
            Some(serde_json::Value::Array(items)) if m.is_empty() => (items, "batch"),
            _ => {
                return Err(Invalid::new(
                    "invalid_value",
                    "batch",
                    "batch must be the only key and hold an array of touchpoints",
                )
                .into());
            }
        },
        single @ serde_json::Value::Object(_) => (vec![single], "single"),
        _ => {
            return Err(Invalid::new(
                "invalid_value",
                "body",
                "send a touchpoint object, an array of them, or {\"batch\": [...]}",
            )
            .into());
        }
    };
    let mut inputs = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let parsed: TouchpointInput = serde_json::from_value(item.clone()).map_err(|e| {
            let field = match prefix {
                "single" => "body".to_string(),
                _ => format!("{prefix}[{i}]"),
            };
            ApiError::from(Invalid::new("invalid_value", field, e.to_string()))
        })?;
        inputs.push(parsed);
    }
    let recorded = s.app.record_touchpoints(inputs, &a.actor()).await?;
    Ok((StatusCode::CREATED, Json(TouchpointsRecorded { recorded })))
}
