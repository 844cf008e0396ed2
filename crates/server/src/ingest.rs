//! The Segment-compatible ingestion API: `POST /v1/{identify,track,page,
//! screen,group,alias,batch}` and analytics.js's one-letter paths, bodies
//! as JSON or text/plain, gzip-encoded or not, the write key as the Basic
//! user name, `writeKey` in the body or the query, and CORS for the sites a
//! source allows — on every answer, errors too, so a page can read a 503's
//! `Retry-After`. 200 means the events are committed. Browser SDKs work
//! unchanged: the preflight allows the headers they send (analytics-next's
//! `X-Retry-Count`, RudderStack's `AnonymousId`, `SentAt` and `Rsa-*` retry
//! headers), RudderStack's
//! beacon posts to `/beacon/v1/batch?writeKey=…`, and its SDK reads the
//! source's config from `/sourceConfig`. Also serves the first-party
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
pub(crate) const RAW_LIMIT: usize = 4 * MAX_BATCH_BYTES;

/// The first-party tracking script, compiled into the binary.
const TRACKING_SCRIPT: &str = include_str!("../assets/smarketing.js");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/{kind}", post(receive).options(preflight))
        .route("/beacon/v1/{kind}", post(receive).options(preflight))
        .route(
            "/sourceConfig",
            axum::routing::get(source_config).options(preflight),
        )
        .route(
            "/sourceConfig/",
            axum::routing::get(source_config).options(preflight),
        )
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

/// The write key: the Basic user name, else `writeKey` in the query (a
/// beacon cannot set headers), else `writeKey` in the body.
fn key_of(headers: &HeaderMap, query: &Query, body: &[u8]) -> Option<String> {
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
    if let Some(k) = query.get("writeKey").filter(|k| !k.trim().is_empty()) {
        return Some(k.trim().to_string());
    }
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .as_ref()
        .and_then(write_key)
        .map(str::to_string)
}

/// A request's query parameters.
type Query = std::collections::HashMap<String, String>;

async fn receive(
    State(s): State<AppState>,
    Path(kind): Path<String>,
    axum::extract::Query(query): axum::extract::Query<Query>,
    headers: HeaderMap,
    raw: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    match keep(&s, &kind, &query, &headers, raw).await {
        Ok(res) => res,
        Err(e) => with_cors(&s, &headers, e.into_response()).await,
    }
}

/// An error answer a browser page may read, when some source allows its
/// origin (without this, a 503's `Retry-After` is hidden from the SDK).
async fn with_cors(s: &AppState, headers: &HeaderMap, mut res: Response) -> Response {
    if let Some(origin) = allowed(s, headers).await {
        cors(&mut res, origin);
    }
    res
}

async fn keep(
    s: &AppState,
    kind: &str,
    query: &Query,
    headers: &HeaderMap,
    raw: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let kind = path_type(kind)?;
    let raw = raw.map_err(|_| {
        bad(Invalid::new(
            "batch_too_large",
            "body",
            format!("more than {RAW_LIMIT} bytes; the limit is {MAX_BATCH_BYTES}"),
        ))
    })?;
    let body = body(headers, &raw)?;
    let key = key_of(headers, query, &body).ok_or(ApiError::BadWriteKey)?;
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
    // Credentials: RudderStack's SDK sends its requests `withCredentials`.
    h.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Retry-After"),
    );
}

/// The headers a preflight may allow: those the browser SDKs send.
const ALLOWED_HEADERS: &[&str] = &[
    "content-type",
    "content-encoding",
    "authorization",
    "x-retry-count",
    "anonymousid",
    "sentat",
    // RudderStack's SDK on its retries.
    "rsa-recovered",
    "rsa-retry-attempt",
    "rsa-retry-reason",
    "rsa-since-first-attempt",
    "rsa-since-last-attempt",
    "x-requested-with",
];

async fn preflight(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let mut res = StatusCode::NO_CONTENT.into_response();
    if let Some(origin) = allowed(&s, &headers).await {
        cors(&mut res, origin);
        let h = res.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
        // The headers asked for, as far as they are ones SDKs send.
        let asked: Vec<String> = headers
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(',')
                    .map(|h| h.trim().to_ascii_lowercase())
                    .filter(|h| ALLOWED_HEADERS.contains(&h.as_str()))
                    .collect()
            })
            .unwrap_or_default();
        let list = if asked.is_empty() {
            ALLOWED_HEADERS.join(", ")
        } else {
            asked.join(", ")
        };
        if let Ok(v) = HeaderValue::from_str(&list) {
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
        }
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("86400"),
        );
    }
    res
}

/// RudderStack's SDK asks for its source's configuration before it sends
/// anything. A Smarketing source has no destinations to configure: the
/// answer names the source, enabled, with none.
async fn source_config(
    State(s): State<AppState>,
    axum::extract::Query(query): axum::extract::Query<Query>,
    headers: HeaderMap,
) -> Response {
    let found = match key_of(&headers, &query, b"") {
        Some(key) => s.app.source_for_key(&key).await.map_err(ApiError::from),
        None => Err(ApiError::BadWriteKey),
    };
    let res = match found {
        Ok(Some(source)) => {
            // The source's config is for its own sites only.
            let origin = headers.get(header::ORIGIN).cloned();
            let mut res = Json(serde_json::json!({
                "isHosted": false,
                "source": {
                    "id": source.id.to_string(),
                    "name": source.name,
                    "writeKey": key_of(&headers, &query, b""),
                    "enabled": true,
                    "config": {},
                    "destinations": [],
                }
            }))
            .into_response();
            if let Some(o) = origin.filter(|o| o.to_str().is_ok_and(|o| source.allows(o))) {
                cors(&mut res, o);
            }
            return res;
        }
        Ok(None) => ApiError::BadWriteKey.into_response(),
        Err(e) => e.into_response(),
    };
    with_cors(&s, &headers, res).await
}
