//! The server's one error type and the one place that turns every error of
//! every layer into RFC 9457 problem+json with a stable `code` and the
//! `field` at fault. Internal errors are logged, never echoed.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use smarketing_app::AppError;
use smarketing_core::Invalid;
use smarketing_core::problem::{self, DUPLICATE_PREFIX};
use utoipa::ToSchema;

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// `urn:smarketing:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable, machine-readable code.
    pub code: String,
    /// The input field at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every problem, when there are several (a batch, a playbook).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    pub code: String,
    pub field: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

#[derive(Debug)]
pub enum ApiError {
    App(AppError),
    Unauthorized,
    /// A cookie-authenticated request that changes something came without
    /// the session's CSRF token.
    CsrfFailed,
    NotFound,
    MethodNotAllowed,
    Malformed {
        field: Option<String>,
        message: String,
    },
    PayloadTooLarge(usize),
    /// The body did not arrive in time.
    RequestTimeout(std::time::Duration),
    UnsupportedMediaType(String),
    /// An ingestion payload that breaks the event spec: 400, as Segment.
    BadEvent(smarketing_core::Invalid),
    /// No write key, or one that is not an unrevoked source's.
    BadWriteKey,
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError::App(e)
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        ApiError::App(AppError::Invalid(e))
    }
}

fn title(status: StatusCode) -> String {
    status.canonical_reason().unwrap_or("Error").to_string()
}

impl ApiError {
    pub(crate) fn problem(&self) -> Problem {
        let at_status =
            |status: StatusCode, code: &str, field: Option<String>, detail: String| Problem {
                kind: format!("urn:smarketing:problem:{code}"),
                title: title(status),
                status: status.as_u16(),
                detail,
                code: code.to_string(),
                field,
                errors: vec![],
            };
        // The status of a code comes from core's one table of codes.
        let make = |code: &str, field: Option<String>, detail: String| {
            let status = StatusCode::from_u16(problem::status_of(code))
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            at_status(status, code, field, detail)
        };
        match self {
            ApiError::Unauthorized => make(
                "unauthorized",
                None,
                "send a valid API token as 'Authorization: Bearer <token>', or sign in".into(),
            ),
            ApiError::CsrfFailed => make(
                "csrf_failed",
                Some("X-CSRF-Token".into()),
                "a request signed in by cookie that changes something carries the session's token in the X-CSRF-Token header".into(),
            ),
            ApiError::NotFound => make("route_not_found", None, "no such route".into()),
            ApiError::MethodNotAllowed => make(
                "method_not_allowed",
                None,
                "this route does not take that method".into(),
            ),
            ApiError::Malformed { field, message } => {
                make("malformed_request", field.clone(), message.clone())
            }
            ApiError::RequestTimeout(d) => make(
                "request_timeout",
                None,
                format!("the request's body did not arrive within {} s", d.as_secs()),
            ),
            ApiError::PayloadTooLarge(max) => make(
                "body_too_large",
                None,
                format!("the request body is larger than {max} bytes"),
            ),
            ApiError::UnsupportedMediaType(m) => make("unsupported_media_type", None, m.clone()),
            // Ingestion answers a bad event with 400 whatever its code, as Segment does.
            ApiError::BadEvent(i) => at_status(
                StatusCode::BAD_REQUEST,
                i.code,
                Some(i.field.clone()),
                i.message.clone(),
            ),
            ApiError::BadWriteKey => make(
                "invalid_write_key",
                None,
                "send a source's write key as the Basic user name or as writeKey in the body"
                    .into(),
            ),
            ApiError::App(e) => match e {
                AppError::Invalid(i) => make(i.code, Some(i.field.clone()), i.message.clone()),
                AppError::InvalidMany(list) => Problem {
                    errors: list
                        .iter()
                        .map(|i| FieldError {
                            code: i.code.into(),
                            field: i.field.clone(),
                            message: i.message.clone(),
                            line: None,
                            column: None,
                        })
                        .collect(),
                    ..make(
                        "invalid_batch",
                        list.first().map(|i| i.field.clone()),
                        format!("{} inputs are not valid; nothing was stored", list.len()),
                    )
                },
                AppError::Lifecycle(l) => {
                    make(l.code(), Some(l.field().to_string()), l.to_string())
                }
                AppError::Playbook(p) => Problem {
                    errors: p
                        .problems
                        .iter()
                        .map(|x| FieldError {
                            code: "invalid_playbook".into(),
                            field: x.key.clone(),
                            message: x.message.clone(),
                            line: x.line,
                            column: x.column,
                        })
                        .collect(),
                    ..make(
                        "invalid_playbook",
                        p.problems.first().map(|x| x.key.clone()),
                        p.problems
                            .first()
                            .map(ToString::to_string)
                            .unwrap_or_default(),
                    )
                },
                AppError::NotFound { what, id } => {
                    make("not_found", None, format!("{what} {id} does not exist"))
                }
                // A value already stored: 409, whatever the field.
                AppError::Conflict { what, field } => at_status(
                    StatusCode::CONFLICT,
                    &format!("{DUPLICATE_PREFIX}{field}"),
                    Some(field.clone()),
                    format!("a {what} with this {field} already exists"),
                ),
                AppError::Forbidden(why) => make("forbidden", None, why.clone()),
                AppError::Overloaded { retry_after_secs } => make(
                    "overloaded",
                    None,
                    format!("too much work queued; retry after {retry_after_secs} s"),
                ),
                AppError::RateLimited { retry_after_secs } => make(
                    "rate_limited",
                    None,
                    format!("over the source's quota; retry after {retry_after_secs} s"),
                ),
                AppError::SignInFailed => make(
                    "sign_in_failed",
                    Some("password".into()),
                    "the e-mail or password is wrong".into(),
                ),
                AppError::Store(inner) => {
                    tracing::error!(error = %inner, "storage failed");
                    make(
                        "internal",
                        None,
                        "the server could not complete the request; it has been logged".into(),
                    )
                }
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let p = self.problem();
        let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = (status, serde_json::to_string(&p).unwrap_or_default()).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match &self {
            ApiError::BadWriteKey => {
                res.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"smarketing ingestion\""),
                );
            }
            _ if status == StatusCode::UNAUTHORIZED => {
                res.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::App(
                AppError::Overloaded { retry_after_secs }
                | AppError::RateLimited { retry_after_secs },
            ) => {
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            _ => {}
        }
        res
    }
}
