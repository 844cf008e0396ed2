//! The HTTP layer: the JSON API under /api/v1 (with its OpenAPI document),
//! health checks, request ids and tracing. Handlers are thin: extract, call
//! `smarketing-app`, answer; errors become problem+json in one place.

pub mod api;
pub mod clients;
pub mod error;
pub mod extract;
pub mod ingest;
pub mod playbook_values;
pub mod runtime;
pub mod security;
pub mod ui;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use error::ApiError;
use smarketing_app::App;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

/// Default cap on request bodies (1 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub app: App,
    pub max_body_bytes: usize,
    /// How long clients may take, and how many may be connected.
    pub limits: clients::ClientLimits,
    /// Reverse proxies whose `X-Forwarded-For` names the client: behind
    /// them, the throttles, sessions and audit log see the client's
    /// address, not the proxy's.
    pub trusted_proxies: std::sync::Arc<Vec<std::net::IpAddr>>,
}

impl AppState {
    /// The state for `app`, with API bodies up to `max_body_bytes` and the
    /// default client limits.
    pub fn new(app: App, max_body_bytes: usize) -> Self {
        AppState {
            app,
            max_body_bytes,
            limits: clients::ClientLimits::default(),
            trusted_proxies: Default::default(),
        }
    }

    /// The same state, reading the client's address from these proxies'
    /// `X-Forwarded-For`.
    pub fn with_trusted_proxies(mut self, proxies: Vec<std::net::IpAddr>) -> Self {
        self.trusted_proxies = std::sync::Arc::new(proxies);
        self
    }

    /// The same state with these client limits.
    pub fn with_limits(mut self, limits: clients::ClientLimits) -> Self {
        self.limits = limits;
        self
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Smarketing API", description = "One playbook, closed-loop reporting and SLAs for marketing and sales. Every route under /api/v1 needs `Authorization: Bearer <token>`, or the session cookie of a person signed in with `POST /api/v1/session` (then every request that changes something carries the session's `X-CSRF-Token`); errors are RFC 9457 problem+json with a stable `code` and the `field` at fault."),
    modifiers(&BearerAuth, &ProblemCodes),
    security(("bearer" = []), ("session" = []))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                smarketing_app::sign_in::SESSION_COOKIE,
            ))),
        );
    }
}

/// Lists every problem code with its status and meaning, from core's one
/// table, as the `ProblemCode` schema.
struct ProblemCodes;

impl Modify for ProblemCodes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use smarketing_core::problem::{DUPLICATE_PREFIX, PROBLEM_CODES};
        use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
        let mut description = format!(
            "The `code` of a problem. A unique value already taken is `{DUPLICATE_PREFIX}<field>` (409).\n"
        );
        for p in PROBLEM_CODES {
            description.push_str(&format!("\n- `{}` ({}): {}", p.code, p.status, p.meaning));
        }
        let schema = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(PROBLEM_CODES.iter().map(|p| p.code)))
            .description(Some(description))
            .build();
        let components = doc.components.get_or_insert_with(Default::default);
        components
            .schemas
            .insert("ProblemCode".into(), Schema::Object(schema).into());
    }
}

/// Documents the errors every route can answer, as problem+json: what
/// the extractors, the permission table, the throttle and the server
/// answer whatever the route (400 a body that is not JSON, 401, 403, 404
/// an id that names nothing or a body naming a record the caller may not
/// see, 409, 413, 415, 422, 429, 500), and gives every
/// error response of a handler's own list the problem+json content type.
fn document_errors(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    const PROBLEM: &str = "application/problem+json";
    let problem = || {
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Problem")))
            .build()
    };
    for (path, item) in doc.paths.paths.iter_mut() {
        let ops = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for op in ops.into_iter().flatten() {
            // `security: [{}]`: a public route (signing in, reset links).
            let public = op.security.as_ref().is_some_and(|s| {
                serde_json::to_value(s).is_ok_and(|v| v == serde_json::json!([{}]))
            });
            let body = op.request_body.is_some();
            let query = op
                .parameters
                .iter()
                .flatten()
                .any(|p| p.parameter_in == ParameterIn::Query);
            let mut codes: Vec<u16> = vec![429, 500];
            if !public {
                codes.extend([401, 403]);
            }
            if path.contains('{') {
                codes.push(404);
            }
            if body {
                // 404: a record the body names that the caller may not
                // see (a deal hidden from a rep); 409: a unique value (an
                // e-mail, a domain, an external id) already taken, or a
                // state that does not allow it.
                codes.extend([400, 404, 409, 413, 415, 422]);
            }
            if query || path.contains('{') {
                codes.push(422);
            }
            for (status, response) in op.responses.responses.iter_mut() {
                let error = status.starts_with('4') || status.starts_with('5');
                if let (true, RefOr::T(r)) = (error, response)
                    && let Some(c) = r.content.shift_remove("application/json")
                {
                    r.content.insert(PROBLEM.into(), c);
                }
            }
            for code in codes {
                let reason = StatusCode::from_u16(code)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("Error");
                op.responses
                    .responses
                    .entry(code.to_string())
                    .or_insert_with(|| {
                        ResponseBuilder::new()
                            .description(reason)
                            .content(PROBLEM, problem())
                            .into()
                    });
            }
        }
    }
}

/// The API's routes and the OpenAPI document generated from them.
fn api_parts() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (api, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(api::router())
        .split_for_parts();
    doc.merge(api::ExtraSchemas::openapi());
    document_errors(&mut doc);
    playbook_values::mark_emails(&mut doc);
    (api, doc)
}

/// The OpenAPI document, without the active playbook's values.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    api_parts().1
}

/// Nothing here: problem+json for the API and ingestion, a page for
/// people.
async fn not_found(uri: axum::http::Uri) -> axum::response::Response {
    let path = uri.path();
    if path.starts_with("/api/") || path.starts_with("/v1/") || path.starts_with("/beacon/") {
        ApiError::NotFound.into_response()
    } else {
        ui::not_found().into_response()
    }
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let (api, doc) = api_parts();
    let doc = std::sync::Arc::new(doc);
    let max = state.max_body_bytes;
    // Bodies are read whole up front, within the body deadline, up to the
    // largest any route takes; each route's own limit applies after.
    let body_read = (state.limits.body_read, max.max(ingest::RAW_LIMIT));
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/readyz", get(readyz))
        .route(
            "/api/v1/openapi.json",
            get(move |State(state): State<AppState>| {
                let doc = doc.clone();
                async move {
                    let (_, playbook) = state.app.playbook().await?;
                    Ok::<_, ApiError>(Json(playbook_values::with_playbook_values(&doc, &playbook)))
                }
            }),
        )
        .merge(api)
        .merge(ingest::router())
        .merge(ui::router())
        .fallback(not_found)
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(max))
        .layer(axum::middleware::from_fn_with_state(
            body_read,
            clients::body_within,
        ))
        .layer(axum::middleware::from_fn(security::headers))
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

async fn readyz(State(s): State<AppState>) -> impl IntoResponse {
    if s.app.store().ping().await {
        (StatusCode::OK, Json(serde_json::json!({"status": "ready"})))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "database unreachable"})),
        )
    }
}
