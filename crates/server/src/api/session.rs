//! Sign-in for people: signing in and out, the current session (with the
//! CSRF token its page sends back), changing one's password, and password
//! reset links. The session lives in the database; the browser holds only
//! an `HttpOnly`, `SameSite=Lax` cookie with its secret (`Secure` over TLS).

use super::Res;
use crate::AppState;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, Auth, SignedIn, peer, session_cookie};
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use smarketing_app::sign_in::{Client, SESSION_COOKIE, SessionUser};
use smarketing_core::Instant;
use smarketing_store::User;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_in, current_session, sign_out))
        .routes(routes!(change_password))
        .routes(routes!(reset_password))
        .routes(routes!(issue_reset_link))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SignInInput {
    email: String,
    password: String,
}

/// A signed-in session as its page sees it.
#[derive(Debug, Serialize, ToSchema)]
struct SessionView {
    user: User,
    /// Send this as `X-CSRF-Token` with every request that changes
    /// something.
    csrf_token: String,
    #[schema(value_type = String, format = DateTime)]
    signed_in_at: Instant,
    /// The session ends at this instant at the latest.
    #[schema(value_type = String, format = DateTime)]
    expires_at: Instant,
    /// Unused this long, the session ends.
    idle_timeout_seconds: u64,
}

fn view(s: &AppState, session: &SessionUser) -> SessionView {
    SessionView {
        user: session.user.clone(),
        csrf_token: session.csrf_token.clone(),
        signed_in_at: session.session.created_at,
        expires_at: session.session.expires_at,
        idle_timeout_seconds: s.app.session_timeouts().idle.as_secs(),
    }
}

/// What a sign-in needs to know of the request: where it came from, the
/// browser, the session it held before, and whether it came over TLS.
pub(crate) struct Caller {
    pub(crate) client: Client,
    pub(crate) previous: Option<String>,
    pub(crate) tls: bool,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Caller {
            client: Client {
                address: peer(parts, &s.trusted_proxies),
                user_agent: parts
                    .headers
                    .get(header::USER_AGENT)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
            },
            previous: session_cookie(&parts.headers).map(str::to_string),
            tls: crate::security::came_over_tls(&parts.uri, &parts.headers),
        })
    }
}

/// The `Set-Cookie` value for a session's secret (or, with `None`, one
/// that makes the browser forget it).
pub(crate) fn cookie(secret: Option<(&str, i64)>, tls: bool) -> HeaderValue {
    let secure = if tls { "; Secure" } else { "" };
    let value = match secret {
        Some((secret, max_age)) => format!(
            "{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
        ),
        None => format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&value).expect("a hex secret makes a valid header")
}

/// Signs in with e-mail and password and starts a session (a new one each
/// time: any session the browser held before ends). A wrong password and
/// an unknown e-mail get the same 401; past 5 failures for an account or
/// 20 from an address in 15 minutes, 429 with `Retry-After`.
#[utoipa::path(post, path = "/api/v1/session", tag = "sign-in", request_body = SignInInput,
    security(()),
    responses((status = 200, body = SessionView, headers(("Set-Cookie" = String, description = "the session cookie"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json")))]
async fn sign_in(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<SignInInput>,
) -> Result<Response, ApiError> {
    let signed = s
        .app
        .sign_in(
            &input.email,
            &input.password,
            &caller.client,
            caller.previous.as_deref(),
        )
        .await?;
    let max_age = (signed.session.expires_at.millis() - s.app.now().millis()) / 1000;
    let session = SessionUser {
        csrf_token: signed.csrf_token.clone(),
        session: signed.session,
        user: signed.user,
    };
    let mut res = Json(view(&s, &session)).into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        cookie(Some((&signed.secret, max_age)), caller.tls),
    );
    Ok(res)
}

/// The session the cookie stands for: who is signed in, until when, and
/// the CSRF token to send back.
#[utoipa::path(get, path = "/api/v1/session", tag = "sign-in",
    responses((status = 200, body = SessionView),
        (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn current_session(
    State(s): State<AppState>,
    SignedIn(session, _): SignedIn,
) -> Res<SessionView> {
    Ok(Json(view(&s, &session)))
}

/// Signs out: the session ends on the server and the cookie is cleared.
#[utoipa::path(delete, path = "/api/v1/session", tag = "sign-in",
    responses((status = 204),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")))]
async fn sign_out(
    State(s): State<AppState>,
    caller: Caller,
    SignedIn(session, from): SignedIn,
) -> Result<Response, ApiError> {
    s.app.sign_out(&session, from).await?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut()
        .insert(header::SET_COOKIE, cookie(None, caller.tls));
    Ok(res)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    current_password: String,
    /// At least 12 characters, not the e-mail address.
    new_password: String,
}

/// Changes the signed-in person's password. Every session of theirs ends,
/// this one too: they sign in again with the new password.
#[utoipa::path(post, path = "/api/v1/session/password", tag = "sign-in", request_body = PasswordChange,
    responses((status = 204),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn change_password(
    State(s): State<AppState>,
    caller: Caller,
    SignedIn(session, from): SignedIn,
    ApiJson(input): ApiJson<PasswordChange>,
) -> Result<Response, ApiError> {
    s.app
        .change_own_password(&session, &input.current_password, &input.new_password, from)
        .await?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut()
        .insert(header::SET_COOKIE, cookie(None, caller.tls));
    Ok(res)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PasswordReset {
    /// The token from the reset link (after `#token=`).
    token: String,
    /// At least 12 characters, not the e-mail address.
    password: String,
}

/// Sets a new password with a one-time reset link an admin issued. The
/// link is used up, and every session of the user ends.
#[utoipa::path(post, path = "/api/v1/password-reset", tag = "sign-in", request_body = PasswordReset,
    security(()),
    responses((status = 204),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn reset_password(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<PasswordReset>,
) -> Result<StatusCode, ApiError> {
    s.app
        .reset_password(&input.token, &input.password, caller.client.address)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A reset link issued: the path to send the person (shown once), and
/// when it stops working.
#[derive(Debug, Serialize, ToSchema)]
struct ResetLinkView {
    /// `/reset-password#token=…`, to put after the server's address.
    path: String,
    token: String,
    #[schema(value_type = String, format = DateTime)]
    expires_at: Instant,
}

/// Issues a one-time password reset link for a user (admins); it works
/// once within 24 hours, and earlier unused links of theirs stop working.
#[utoipa::path(post, path = "/api/v1/users/{id}/password-reset", tag = "users", params(("id" = i64, Path)),
    responses((status = 201, body = ResetLinkView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn issue_reset_link(
    State(s): State<AppState>,
    a: Auth,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<(StatusCode, Json<ResetLinkView>), ApiError> {
    let link = s
        .app
        .issue_password_reset(crate::extract::path_id(&id, "user")?, &a.actor())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ResetLinkView {
            path: format!("/reset-password#token={}", link.token),
            token: link.token,
            expires_at: link.expires_at,
        }),
    ))
}
