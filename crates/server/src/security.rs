//! Security headers on every answer, errors and the tracking script
//! included: a content security policy that loads nothing from elsewhere and
//! lets no page frame ours, `nosniff`, no referrer, `no-store` for
//! the API's answers to an authenticated request (they hold personal data and
//! revenue), and HSTS when the request came over TLS.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// Pages and answers of this server load only from it, and no other site
/// may frame them.
const CSP: &str = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";
/// One year, as the HSTS preload list asks.
const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Whether a request carries credentials: an API token or a session.
fn is_authenticated(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer "))
        || headers.contains_key(header::COOKIE)
}

/// Whether the request reached us over TLS: on our own listener, or as the
/// TLS-terminating proxy in front says.
fn over_tls(req: &Request) -> bool {
    came_over_tls(req.uri(), req.headers())
}

/// [`over_tls`] from a request's parts.
pub(crate) fn came_over_tls(uri: &axum::http::Uri, headers: &HeaderMap) -> bool {
    uri.scheme_str() == Some("https")
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

pub async fn headers(req: Request, next: Next) -> Response {
    let authenticated = req.uri().path().starts_with("/api/") && is_authenticated(req.headers());
    let tls = over_tls(&req);
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let mut set = |name: HeaderName, value: &'static str| {
        h.entry(name).or_insert(HeaderValue::from_static(value));
    };
    set(header::CONTENT_SECURITY_POLICY, CSP);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::REFERRER_POLICY, "no-referrer");
    if authenticated {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if tls {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    res
}
