//! The sign-in page, and signing out. One message for every failed
//! sign-in, so the page does not tell which e-mails have accounts.

use super::page::{Chrome, Submitted, UiError, local_path, render, same_origin, see_other};
use crate::AppState;
use crate::api::session::{Caller, cookie};
use crate::error::ApiError;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use smarketing_app::AppError;

#[derive(askama::Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    chrome: Chrome,
    email: String,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct Next {
    next: Option<String>,
}

pub async fn form(Query(q): Query<Next>) -> Result<Response, UiError> {
    render(
        StatusCode::OK,
        &SignInPage {
            chrome: Chrome::anonymous(),
            email: String::new(),
            next: local_path(q.next.as_deref()),
            error: None,
        },
    )
}

#[derive(Deserialize)]
pub struct Credentials {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

pub async fn submit(
    State(s): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Response, UiError> {
    // No session yet, so no token: another site's form is refused by
    // where it came from.
    same_origin(&headers)?;
    let c: Credentials = serde_urlencoded::from_bytes(&body).map_err(|e| {
        UiError::Api(ApiError::Malformed {
            field: None,
            message: format!("the form is not as this page sends it: {e}"),
        })
    })?;
    let next = local_path(c.next.as_deref());
    let again = |status: StatusCode, error: &str| {
        render(
            status,
            &SignInPage {
                chrome: Chrome::anonymous(),
                email: c.email.clone(),
                next: next.clone(),
                error: Some(error.to_string()),
            },
        )
    };
    match s
        .app
        .sign_in(
            &c.email,
            &c.password,
            &caller.client,
            caller.previous.as_deref(),
        )
        .await
    {
        Ok(signed) => {
            let max_age = (signed.session.expires_at.millis() - s.app.now().millis()) / 1000;
            let mut res = see_other(&next);
            res.headers_mut().insert(
                header::SET_COOKIE,
                cookie(Some((&signed.secret, max_age)), caller.tls),
            );
            Ok(res)
        }
        Err(AppError::SignInFailed) => again(
            StatusCode::UNAUTHORIZED,
            "That e-mail and password do not match an account that may sign in.",
        ),
        Err(AppError::RateLimited { retry_after_secs }) => {
            let minutes = retry_after_secs.div_ceil(60);
            let mut res = again(
                StatusCode::TOO_MANY_REQUESTS,
                &format!(
                    "Too many failed sign-ins. Try again in {minutes} minute{}.",
                    if minutes == 1 { "" } else { "s" }
                ),
            )?;
            res.headers_mut()
                .insert(header::RETRY_AFTER, retry_after_secs.into());
            Ok(res)
        }
        Err(AppError::Invalid(i)) => again(StatusCode::UNPROCESSABLE_ENTITY, &i.message),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct Nothing {}

/// Ends the session on the server and forgets the cookie.
pub async fn sign_out(
    State(s): State<AppState>,
    caller: Caller,
    submitted: Submitted<Nothing>,
) -> Result<Response, UiError> {
    let v = submitted.viewer;
    s.app.sign_out(&v.session, v.from).await?;
    let mut res = see_other("/sign-in");
    res.headers_mut()
        .insert(header::SET_COOKIE, cookie(None, caller.tls));
    Ok(res)
}
