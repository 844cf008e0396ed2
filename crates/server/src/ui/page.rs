//! What every page shares: who is looking (a signed-in session, or a
//! redirect to sign in), forms checked for CSRF, the page's frame
//! (navigation by profile, the CSRF token, asset links), and errors as
//! HTML pages.

use super::assets::ASSETS;
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{peer, session_cookie};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::de::DeserializeOwned;
use smarketing_app::sign_in::SessionUser;
use smarketing_app::workspace::WorkspacePage;
use smarketing_app::{Actor, AppError};

/// The person looking at a page: a live session. Only pages that change
/// nothing take this alone; a form's handler takes [`Submitted`], which
/// checks its CSRF token too.
pub struct Viewer {
    pub session: SessionUser,
    pub from: Option<std::net::IpAddr>,
}

impl Viewer {
    pub fn actor(&self) -> Actor {
        self.session.actor().from_address(self.from)
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, UiError> {
        if !parts.method.is_safe() {
            // A form's handler must take `Submitted`, which checks the
            // token: refusing here makes forgetting it fail loudly.
            return Err(UiError::Api(ApiError::CsrfFailed));
        }
        viewer(parts, s).await
    }
}

async fn viewer(parts: &Parts, s: &AppState) -> Result<Viewer, UiError> {
    let next = parts
        .uri
        .path_and_query()
        .map_or("/".to_string(), |p| p.as_str().to_string());
    let Some(secret) = session_cookie(&parts.headers) else {
        return Err(UiError::SignIn { next });
    };
    match s.app.session(secret).await? {
        Some(session) => Ok(Viewer {
            session,
            from: peer(parts, &s.trusted_proxies),
        }),
        None => Err(UiError::SignIn { next }),
    }
}

/// Refuses a state-changing request that another site made the browser
/// send: `Sec-Fetch-Site` when the browser sends it, else `Origin`
/// against `Host`.
pub fn same_origin(headers: &HeaderMap) -> Result<(), UiError> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        return match site {
            "same-origin" | "none" => Ok(()),
            _ => Err(UiError::Api(ApiError::CsrfFailed)),
        };
    }
    match (text("origin"), text("host")) {
        (Some(origin), Some(host)) => {
            let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
            if origin_host.eq_ignore_ascii_case(host) {
                Ok(())
            } else {
                Err(UiError::Api(ApiError::CsrfFailed))
            }
        }
        // Neither: not a browser that follows a cross-site form.
        _ => Ok(()),
    }
}

/// The fields of a form as it was sent, without the CSRF token.
pub fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// A form posted by a signed-in person: same origin, with the session's
/// CSRF token in `_csrf`, and its fields as `T`.
pub struct Submitted<T> {
    pub viewer: Viewer,
    pub form: T,
    /// The fields as sent, to show them again beside an error.
    pub sent: Vec<(String, String)>,
}

impl<T: DeserializeOwned> FromRequest<AppState> for Submitted<T> {
    type Rejection = UiError;

    async fn from_request(req: Request, s: &AppState) -> Result<Self, UiError> {
        let (parts, body) = req.into_parts();
        same_origin(&parts.headers)?;
        let viewer = viewer(&parts, s).await?;
        let bytes = crate::extract::body_bytes(Request::from_parts(parts, body), s).await?;
        let mut sent = form_pairs(&bytes);
        let token = sent
            .iter()
            .position(|(k, _)| k == "_csrf")
            .map(|i| sent.remove(i).1)
            .unwrap_or_default();
        if !smarketing_app::sign_in::csrf_matches(&viewer.session, &token) {
            return Err(UiError::Api(ApiError::CsrfFailed));
        }
        let encoded = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(sent.iter())
            .finish();
        let form = serde_urlencoded::from_str(&encoded).map_err(|e| {
            UiError::Api(ApiError::Malformed {
                field: None,
                message: format!("the form is not as this page sends it: {e}"),
            })
        })?;
        Ok(Submitted { viewer, form, sent })
    }
}

/// A link of the navigation.
pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// Where a workspace page lives and what the navigation calls it.
pub fn place(page: WorkspacePage) -> (&'static str, &'static str) {
    match page {
        WorkspacePage::TeamRevenue => ("/", "Team Revenue"),
        WorkspacePage::Queue => ("/queue", "My queue"),
        WorkspacePage::Sla => ("/sla", "SLA"),
        WorkspacePage::Playbook => ("/playbook", "Playbook"),
    }
}

/// The frame around every page.
pub struct Chrome {
    /// `None` on the sign-in page.
    pub user_name: Option<String>,
    pub profile: &'static str,
    pub nav: Vec<NavLink>,
    pub csrf: String,
    pub css: String,
    pub htmx: String,
    pub app_js: String,
    pub icon: String,
}

impl Chrome {
    /// The frame for `viewer` on `current`: only the pages their profile
    /// sees are in the navigation.
    pub fn new(viewer: &Viewer, current: Option<WorkspacePage>) -> Chrome {
        let actor = viewer.actor();
        Chrome {
            user_name: Some(viewer.session.user.name.clone()),
            profile: actor.profile().map_or("system", |p| p.name()),
            nav: WorkspacePage::visible(&actor)
                .into_iter()
                .map(|p| {
                    let (href, label) = place(p);
                    NavLink {
                        href,
                        label,
                        current: Some(p) == current,
                    }
                })
                .collect(),
            csrf: viewer.session.csrf_token.clone(),
            ..Chrome::anonymous()
        }
    }

    /// The frame of a page for someone not signed in.
    pub fn anonymous() -> Chrome {
        Chrome {
            user_name: None,
            profile: "",
            nav: Vec::new(),
            csrf: String::new(),
            css: ASSETS.css.url(),
            htmx: ASSETS.htmx.url(),
            app_js: ASSETS.app_js.url(),
            icon: ASSETS.icon.url(),
        }
    }
}

/// A rendered page: HTML, never cached (it holds personal data and
/// revenue).
pub fn render(status: StatusCode, template: &impl askama::Template) -> Result<Response, UiError> {
    let html = template.render().map_err(|e| {
        tracing::error!(error = %e, "a page failed to render");
        UiError::Api(ApiError::App(AppError::Store(
            smarketing_store::StoreError::Corrupt("a page failed to render".into()),
        )))
    })?;
    let mut res = (status, Html(html)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// A redirect after a form (303: the browser GETs the next page).
pub fn see_other(to: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

/// What a page answers instead of itself.
#[derive(Debug)]
pub enum UiError {
    /// Not signed in (or the session ended): to the sign-in page, and back
    /// here after.
    SignIn {
        next: String,
    },
    Api(ApiError),
}

impl From<AppError> for UiError {
    fn from(e: AppError) -> Self {
        UiError::Api(ApiError::App(e))
    }
}

impl From<ApiError> for UiError {
    fn from(e: ApiError) -> Self {
        UiError::Api(e)
    }
}

#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    status: u16,
    title: String,
    detail: String,
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        match self {
            UiError::SignIn { next } => {
                let next: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
                see_other(&format!("/sign-in?next={next}"))
            }
            UiError::Api(e) => {
                let p = e.problem();
                let status =
                    StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let (title, detail) = if status == StatusCode::NOT_FOUND {
                    // Whether it exists and is hidden, or does not exist,
                    // is not for the page to tell.
                    (
                        "Not found".to_string(),
                        "There is no such page, or it is not yours to see.".to_string(),
                    )
                } else {
                    (p.title, p.detail)
                };
                let page = ErrorPage {
                    chrome: Chrome::anonymous(),
                    status: status.as_u16(),
                    title,
                    detail,
                };
                let mut res = render(status, &page).unwrap_or_else(|_| status.into_response());
                if let ApiError::App(
                    AppError::RateLimited { retry_after_secs }
                    | AppError::Overloaded { retry_after_secs },
                ) = e
                {
                    res.headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
                }
                res
            }
        }
    }
}

/// Only a path on this site is somewhere to go after signing in.
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\") => {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}
