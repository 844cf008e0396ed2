//! The playbook: the current one, its versions, importing a new version and
//! the diff between two.

use super::{Created, Res};
use crate::AppState;
use crate::error::Problem;
use crate::extract::{ApiQuery, Auth, body_bytes, parse_json, path_id};
use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use serde::{Deserialize, Serialize};
use smarketing_app::playbooks::{PlaybookDiff, VersionSummary};
use smarketing_core::{Instant, Invalid};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(current_playbook))
        .routes(routes!(list_playbook_versions, import_playbook))
        .routes(routes!(get_playbook_version))
        .routes(routes!(playbook_diff))
        .routes(routes!(rescore_status))
}

/// The latest run that re-matched personas and rescored contacts after a
/// playbook version was stored: which version the cached scores are from,
/// or how far the run has come (`done` of `contacts`; `finished_at` unset
/// while it runs). 404 before any run.
#[utoipa::path(get, path = "/api/v1/playbook/rescore", tag = "playbook",
    responses((status = 200, body = smarketing_store::PlaybookRescore), (status = 404, body = Problem)))]
async fn rescore_status(
    State(s): State<AppState>,
    _a: Auth,
) -> Res<smarketing_store::PlaybookRescore> {
    match s.app.rescore_status().await? {
        Some(run) => Ok(Json(run)),
        None => Err(smarketing_app::AppError::not_found("rescore run", 0).into()),
    }
}

#[derive(Debug, Serialize, ToSchema)]
struct CurrentPlaybook {
    version: i64,
    /// The playbook as TOML, the form both teams edit.
    toml: String,
    #[schema(value_type = Object)]
    playbook: serde_json::Value,
}

#[utoipa::path(get, path = "/api/v1/playbook", tag = "playbook",
    responses((status = 200, body = CurrentPlaybook)))]
async fn current_playbook(State(s): State<AppState>, _a: Auth) -> Res<CurrentPlaybook> {
    let (version, p) = s.app.playbook().await?;
    Ok(Json(CurrentPlaybook {
        version,
        toml: p.to_toml(),
        playbook: serde_json::to_value(&*p).unwrap_or_default(),
    }))
}

#[utoipa::path(get, path = "/api/v1/playbook/versions", tag = "playbook",
    responses((status = 200, body = Vec<VersionSummary>)))]
async fn list_playbook_versions(State(s): State<AppState>, _a: Auth) -> Res<Vec<VersionSummary>> {
    Ok(Json(s.app.playbook_versions().await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PlaybookImport {
    /// The playbook document as TOML.
    toml: String,
    /// What changed and why.
    note: Option<String>,
}

/// Stores a new playbook version (admins only). Send the TOML document as
/// `application/toml`, or JSON `{"toml": "...", "note": "..."}`.
#[utoipa::path(post, path = "/api/v1/playbook/versions", tag = "playbook",
    request_body(content((PlaybookImport = "application/json"), (String = "application/toml"))),
    responses((status = 201, body = VersionSummary), (status = 403, body = Problem), (status = 422, body = Problem, description = "Each problem names the TOML line and key")))]
async fn import_playbook(
    State(s): State<AppState>,
    a: Auth,
    req: Request,
) -> Created<VersionSummary> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = body_bytes(req, &s).await?;
    let (toml, note) = if ct.starts_with("application/toml") || ct.starts_with("text/plain") {
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|_| Invalid::new("invalid_value", "body", "the TOML document is not UTF-8"))?;
        (text, None)
    } else {
        let body: PlaybookImport = parse_json(&bytes)?;
        (body.toml, body.note)
    };
    let author = format!("{} <{}>", a.0.name, a.0.email);
    let stored = s
        .app
        .import_playbook(&toml, &author, note.as_deref(), &a.actor())
        .await?;
    // Personas and scores follow the new version in the background.
    s.app.spawn_rescore();
    Ok((StatusCode::CREATED, Json(stored)))
}

#[derive(Debug, Serialize, ToSchema)]
struct PlaybookVersionBody {
    version: i64,
    author: String,
    note: Option<String>,
    created_at: Instant,
    toml: String,
}

#[utoipa::path(get, path = "/api/v1/playbook/versions/{version}", tag = "playbook", params(("version" = i64, Path)),
    responses((status = 200, body = PlaybookVersionBody), (status = 404, body = Problem)))]
async fn get_playbook_version(
    State(s): State<AppState>,
    _a: Auth,
    Path(v): Path<String>,
) -> Res<PlaybookVersionBody> {
    let stored = s
        .app
        .playbook_version(path_id(&v, "playbook version")?)
        .await?;
    Ok(Json(PlaybookVersionBody {
        version: stored.version,
        author: stored.author,
        note: stored.note,
        created_at: stored.created_at,
        toml: stored.body,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DiffQuery {
    /// The older version.
    from: i64,
    /// The newer version.
    to: i64,
}

#[utoipa::path(get, path = "/api/v1/playbook/diff", tag = "playbook", params(DiffQuery),
    responses((status = 200, body = PlaybookDiff), (status = 404, body = Problem)))]
async fn playbook_diff(
    State(s): State<AppState>,
    _a: Auth,
    ApiQuery(q): ApiQuery<DiffQuery>,
) -> Res<PlaybookDiff> {
    Ok(Json(s.app.playbook_diff(q.from, q.to).await?))
}
