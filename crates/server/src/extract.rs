//! Extractors that turn bad requests into problem+json naming the field:
//! authentication (a bearer token, or a session cookie with its CSRF
//! token), JSON bodies and query strings.

use crate::AppState;
use crate::error::ApiError;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use smarketing_app::Actor;
use smarketing_app::sign_in::{SESSION_COOKIE, SessionUser};
use smarketing_core::TokenScope;
use smarketing_store::User;

/// The authenticated caller, the scope of the token they used, and the
/// address they called from.
pub struct Auth(pub User, pub TokenScope, pub Option<std::net::IpAddr>);

impl Auth {
    pub fn actor(&self) -> Actor {
        Actor::user(&self.0).with_scope(self.1).from_address(self.2)
    }
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let from = peer(parts, &state.trusted_proxies);
        if let Some(header) = parts.headers.get(header::AUTHORIZATION) {
            let token = header
                .to_str()
                .ok()
                .and_then(|h| {
                    h.strip_prefix("Bearer ")
                        .or_else(|| h.strip_prefix("bearer "))
                })
                .map(str::trim)
                .ok_or(ApiError::Unauthorized)?;
            return match state.app.authenticate(token, from).await? {
                Some(a) => Ok(Auth(a.user, a.token.scope, from)),
                None => Err(ApiError::Unauthorized),
            };
        }
        let SignedIn(session, from) = SignedIn::from_request_parts(parts, state).await?;
        // A session does all its user may: the permission table decides.
        Ok(Auth(session.user, TokenScope::Admin, from))
    }
}

/// The caller's address: the connection's, or — when the connection comes
/// from a trusted reverse proxy — the nearest address in `X-Forwarded-For`
/// that is not one of the trusted proxies (the ones before it could be
/// made up by the client).
pub fn peer(parts: &Parts, trusted: &[std::net::IpAddr]) -> Option<std::net::IpAddr> {
    let connection = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())?;
    if !trusted.contains(&connection) {
        return Some(connection);
    }
    let forwarded: Vec<std::net::IpAddr> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|a| !trusted.contains(a))
            .unwrap_or(connection),
    )
}

/// The session cookie's value, if the request carries one.
pub fn session_cookie(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim_matches('"'))
}

/// A person signed in by the session cookie, and their address. A request
/// that may change something (any method but GET, HEAD and OPTIONS) must
/// carry the session's CSRF token in `X-CSRF-Token`: a page on another
/// site can make the browser send the cookie, but cannot read the token.
pub struct SignedIn(pub SessionUser, pub Option<std::net::IpAddr>);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let secret = session_cookie(&parts.headers).ok_or(ApiError::Unauthorized)?;
        let session = state
            .app
            .session(secret)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        if !parts.method.is_safe() {
            let given = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !smarketing_app::sign_in::csrf_matches(&session, given) {
                return Err(ApiError::CsrfFailed);
            }
        }
        Ok(SignedIn(session, peer(parts, &state.trusted_proxies)))
    }
}

/// Renders a serde path (`batch[2].channel`) as our field names do.
fn field_of(path: &serde_path_to_error::Path) -> Option<String> {
    let s = path.to_string();
    (s != ".").then_some(s)
}

/// Reads a JSON document from a body, reporting where it is wrong.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = field_of(e.path());
        let inner = e.into_inner();
        if inner.is_data() {
            // The JSON is well-formed but a value has the wrong type or shape.
            smarketing_core::Invalid::new(
                "invalid_value",
                field.unwrap_or_else(|| "body".into()),
                inner.to_string(),
            )
            .into()
        } else {
            ApiError::Malformed {
                field,
                message: format!("the body is not valid JSON: {inner}"),
            }
        }
    })
}

/// The body's bytes, within the configured size limit.
pub async fn body_bytes(req: Request, state: &AppState) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(state.max_body_bytes)
        } else {
            ApiError::Malformed {
                field: None,
                message: rejection.body_text(),
            }
        }
    })
}

/// A JSON body of type `T`.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        if !ct.is_empty() && !ct.starts_with("application/json") && !ct.contains("+json") {
            return Err(ApiError::UnsupportedMediaType(format!(
                "send application/json, not {ct}"
            )));
        }
        let bytes = body_bytes(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Query parameters of type `T`.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(q.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|e| {
                let field = field_of(e.path()).unwrap_or_else(|| "query".into());
                smarketing_core::Invalid::new("invalid_query", field, e.into_inner().to_string())
                    .into()
            })
    }
}

/// A record id from the path; anything else is a 404.
pub fn path_id(raw: &str, what: &'static str) -> Result<i64, ApiError> {
    match raw.parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(smarketing_app::AppError::not_found(what, raw).into()),
    }
}
