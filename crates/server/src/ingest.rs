//! The Segment-compatible ingestion API: `POST /v1/{identify,track,page,
//! screen,group,alias,batch}` and analytics.js's one-letter paths, bodies
//! as JSON or text/plain, gzip-encoded or not, the write key as the Basic
//! user name or `writeKey` in the body, and CORS for the sites a source
//! allows. 200 means the events are committed. Also serves the first-party
//! tracking script at `/js/smarketing.js`.

use crate::AppState;
use crate::error::ApiError;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use smarketing_app::AppError;
use smarketing_core::Invalid;
use smarketing_core::ingest::{MAX_BATCH_BYTES, MessageType, write_key};
use std::io::Read;

/// Raw bodies up to this size reach the handler, so a batch over Segment's
/// 500 KB is refused with its reason rather than a bare 413, whatever the
/// API's own body limit.
const RAW_LIMIT: usize = 4 * MAX_BATCH_BYTES;

/// The first-party tracking script, compiled into the binary.
const TRACKING_SCRIPT: &str = include_str!("../assets/smarketing.js");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/{kind}", post(receive).options(preflight))
        .route(
            "/js/smarketing.js",
            axum::routing::get(|| async {
                (
                    [
                        (
                            header::CONTENT_TYPE,
                            "application/javascript; charset=utf-8",
                        ),
                        (header::CACHE_CONTROL, "public, max-age=3600"),
                    ],
                    TRACKING_SCRIPT,
                )
            }),
        )
        .layer(axum::extract::DefaultBodyLimit::max(RAW_LIMIT))
}

/// `batch`, `b` and Segment's `import` carry a batch; the rest name a type.
fn path_type(kind: &str) -> Result<Option<MessageType>, ApiError> {
    match kind {
        "batch" | "b" | "import" => Ok(None),
        k => MessageType::parse(k).map(Some).ok_or(ApiError::NotFound),
    }
}

/// The body, un-gzipped when it says so, never past the batch limit.
fn body(headers: &HeaderMap, raw: &Bytes) -> Result<Vec<u8>, ApiError> {
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    if !gzip {
        return Ok(raw.to_vec());
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&raw[..])
        .take(MAX_BATCH_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| {
            bad(Invalid::new(
                "invalid_gzip",
                "body",
                format!("not gzip: {e}"),
            ))
        })?;
    Ok(out)
}

fn bad(i: Invalid) -> ApiError {
    ApiError::BadEvent(i)
}

/// The write key: the Basic user name, else `writeKey` in the body.
fn key_of(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        && let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(basic.trim())
        && let Ok(text) = String::from_utf8(decoded)
    {
        let user = text.split(':').next().unwrap_or("");
        if !user.is_empty() {
            return Some(user.to_string());
        }
    }
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .as_ref()
        .and_then(write_key)
        .map(str::to_string)
}

async fn receive(
    State(s): State<AppState>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    raw: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let kind = path_type(&kind)?;
    let raw = raw.map_err(|_| {
        bad(Invalid::new(
            "batch_too_large",
            "body",
            format!("more than {RAW_LIMIT} bytes; the limit is {MAX_BATCH_BYTES}"),
        ))
    })?;
    let body = body(&headers, &raw)?;
    let key = key_of(&headers, &body).ok_or(ApiError::BadWriteKey)?;
    let source = s
        .app
        .source_for_key(&key)
        .await?
        .ok_or(ApiError::BadWriteKey)?;
    // A browser names its page's origin; only the source's sites may send
    // (the write key is public in their pages).
    let origin = headers.get(header::ORIGIN).cloned();
    if let Some(o) = &origin
        && !o.to_str().is_ok_and(|o| source.allows(o))
    {
        return Err(ApiError::App(AppError::Forbidden(format!(
            "origin {:?} is not one the source {:?} allows",
            o, source.name
        ))));
    }
    let accepted = s
        .app
        .ingest(&source, &body, kind)
        .await
        .map_err(|e| match e {
            AppError::Invalid(i) => bad(i),
            other => other.into(),
        })?;
    let mut res = Json(serde_json::json!({
        "success": true,
        "received": accepted.received,
        "stored": accepted.stored,
    }))
    .into_response();
    if let Some(o) = origin {
        cors(&mut res, o);
    }
    Ok(res)
}

/// The request's Origin when some source allows it (a preflight names no
/// source).
async fn allowed(s: &AppState, headers: &HeaderMap) -> Option<HeaderValue> {
    let origin = headers.get(header::ORIGIN)?;
    let ok = s.app.allowed_origin(origin.to_str().ok()?).await.ok()?;
    ok.then(|| origin.clone())
}

fn cors(res: &mut Response, origin: HeaderValue) {
    let h = res.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
}

async fn preflight(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let mut res = StatusCode::NO_CONTENT.into_response();
    if let Some(origin) = allowed(&s, &headers).await {
        cors(&mut res, origin);
        let h = res.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Content-Type, Content-Encoding, Authorization"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("86400"),
        );
    }
    res
}
