//! The web workspace through the real router: signing in with a form, the
//! navigation and 404s by profile, a rep working the queue without
//! JavaScript, CSRF on every form, errors beside the field with what was
//! typed kept, escaping of what users and events write, and assets that
//! come from this server only.

use crate::{TestApi, apis};
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::json;
use smarketing_app::Actor;
use smarketing_app::input::UserInput;
use tower::ServiceExt;

const PASSWORD: &str = "a long test password";

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    html: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The CSRF token the page's forms carry.
    fn csrf(&self) -> String {
        let at = self.html.find("name=\"_csrf\" value=\"").expect("a form") + 20;
        self.html[at..at + 64].to_string()
    }
}

/// A browser's request: a form body, the session cookie, extra headers.
async fn browse(
    api: &TestApi,
    method: &str,
    uri: &str,
    cookie: Option<&str>,
    form: Option<&[(&str, &str)]>,
    headers: &[(&str, &str)],
) -> Page {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, format!("smk_session={c}"));
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = match form {
        Some(fields) => {
            req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            Body::from(
                form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(fields.iter())
                    .finish(),
            )
        }
        None => Body::empty(),
    };
    let res = api
        .router
        .clone()
        .oneshot(req.body(body).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    Page {
        status,
        headers,
        html: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// A user of `team` and `role` with a password; signs them in through the
/// form and returns the session cookie's value.
async fn signed_in(api: &TestApi, email: &str, team: &str, role: &str) -> String {
    let user = match api
        .app
        .users()
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.email == email)
    {
        Some(u) => u,
        None => api
            .app
            .create_user(
                UserInput {
                    name: format!("{role} of {team}"),
                    email: email.into(),
                    team: team.into(),
                    role: role.into(),
                },
                &Actor::system(),
            )
            .await
            .unwrap(),
    };
    api.app
        .set_password(user.id, PASSWORD, &Actor::system())
        .await
        .unwrap();
    let page = browse(
        api,
        "POST",
        "/sign-in",
        None,
        Some(&[("email", email), ("password", PASSWORD), ("next", "/queue")]),
        &[("sec-fetch-site", "same-origin")],
    )
    .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    assert_eq!(page.location(), "/queue");
    let cookie = page.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    cookie
        .strip_prefix("smk_session=")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// Every `src` and `href` of a page points at this server.
fn assert_links_local(html: &str, what: &str) {
    for attr in ["src=\"", "href=\"", "action=\""] {
        for (at, _) in html.match_indices(attr) {
            let value = &html[at + attr.len()..];
            let value = &value[..value.find('"').unwrap()];
            assert!(
                value.starts_with('/') && !value.starts_with("//") || value.starts_with('#'),
                "{what}: {attr}{value} leaves this server"
            );
        }
    }
}

#[tokio::test]
async fn a_rep_signs_in_and_works_the_queue_without_javascript() {
    for api in apis().await {
        let l = api.label();
        // A lead whose name and title are attacks, routed to Rob, the only rep.
        let (s, _, out) = api
            .call(
                "POST",
                "/api/v1/contacts",
                Some(json!({"email": "mallory@prospect.io",
                    "first_name": "<script>alert(1)</script>",
                    "last_name": "<img src=x onerror=alert(2)>",
                    "job_title": "\"><svg onload=alert(3)>"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{l}: {out}");
        let (s, _, out) = api
            .call(
                "POST",
                "/api/v1/touchpoints",
                Some(json!({"email": "mallory@prospect.io", "kind": "demo_request"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{l}: {out}");
        let hid = out["recorded"][0]["handoff_id"]
            .as_i64()
            .expect("a handoff");

        // Not signed in: to the sign-in page, and back after.
        let page = browse(&api, "GET", "/queue", None, None, &[]).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{l}");
        assert_eq!(page.location(), "/sign-in?next=%2Fqueue", "{l}");

        let rob = signed_in(&api, "rob@example.com", "sales", "member").await;
        let queue = browse(&api, "GET", "/queue", Some(&rob), None, &[]).await;
        assert_eq!(queue.status, StatusCode::OK, "{l}: {}", queue.html);
        assert_eq!(queue.headers[header::CACHE_CONTROL], "no-store", "{l}");
        assert!(
            queue.headers[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("default-src 'self'"),
            "{l}"
        );
        // What the lead wrote is shown as text, never as markup.
        assert!(
            queue
                .html
                .contains("&#60;script&#62;alert(1)&#60;/script&#62;")
                || queue.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{l}: {}",
            queue.html
        );
        for raw in ["<script>alert", "<img src=x", "<svg onload"] {
            assert!(!queue.html.contains(raw), "{l}: {raw} is not escaped");
        }
        assert!(queue.html.contains(&format!("/queue/{hid}/reject")), "{l}");
        assert!(queue.html.contains("First touch: on track"), "{l}");
        assert!(queue.html.contains("0 of "), "{l}");
        assert_links_local(&queue.html, l);
        // The card: the score's rules, and the same actions, back to it.
        let card = browse(
            &api,
            "GET",
            &format!("/handoffs/{hid}"),
            Some(&rob),
            None,
            &[],
        )
        .await;
        assert_eq!(card.status, StatusCode::OK, "{l}: {}", card.html);
        assert!(card.html.contains("demo request"), "{l}: {}", card.html);
        assert!(!card.html.contains("<script>alert"), "{l}");
        assert!(card.html.contains("name=\"back\" value=\"card\""), "{l}");
        let vera = signed_in(&api, "vera@example.com", "marketing", "viewer").await;
        let p = browse(
            &api,
            "GET",
            &format!("/handoffs/{hid}"),
            Some(&vera),
            None,
            &[],
        )
        .await;
        assert_eq!(
            p.status,
            StatusCode::NOT_FOUND,
            "{l}: not a viewer's to see"
        );
        let csrf = queue.csrf();
        let reject = format!("/queue/{hid}/reject");
        let attempt = format!("/queue/{hid}/attempt");

        // Without the token, or from another site, nothing changes.
        let p = browse(
            &api,
            "POST",
            &attempt,
            Some(&rob),
            Some(&[("kind", "call")]),
            &[],
        )
        .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{l}");
        let p = browse(
            &api,
            "POST",
            &attempt,
            Some(&rob),
            Some(&[("_csrf", &csrf), ("kind", "call")]),
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{l}");
        let p = browse(
            &api,
            "POST",
            &attempt,
            Some(&rob),
            Some(&[("_csrf", &csrf), ("kind", "call")]),
            &[
                ("origin", "https://evil.example"),
                ("host", "smarketing.example"),
            ],
        )
        .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{l}");

        // An attempt: one form, then back to the queue.
        let p = browse(
            &api,
            "POST",
            &attempt,
            Some(&rob),
            Some(&[("_csrf", &csrf), ("kind", "call")]),
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{l}: {}", p.html);
        assert_eq!(p.location(), "/queue?done=attempt", "{l}");
        let queue = browse(&api, "GET", p.location(), Some(&rob), None, &[]).await;
        assert!(queue.html.contains("Attempt logged."), "{l}");
        let agreed = api.app.playbook().await.unwrap().1.sla.attempts;
        assert!(
            queue.html.contains(&format!("1 of {agreed} agreed")),
            "{l}: {}",
            queue.html
        );

        // A rejection without a reason: the error beside the field, the
        // note as typed.
        let p = browse(
            &api,
            "POST",
            &reject,
            Some(&rob),
            Some(&[("_csrf", &csrf), ("reason", ""), ("note", "called <twice>")]),
            &[],
        )
        .await;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{l}");
        assert!(p.html.contains("aria-invalid=\"true\""), "{l}: {}", p.html);
        assert!(
            p.html.contains("value=\"called &#60;twice&#62;\"")
                || p.html.contains("value=\"called &lt;twice&gt;\""),
            "{l}: {}",
            p.html
        );
        let reason = api.app.playbook().await.unwrap().1.rejection_reasons[0]
            .code
            .clone();
        let p = browse(
            &api,
            "POST",
            &reject,
            Some(&rob),
            Some(&[("_csrf", &csrf), ("reason", &reason), ("note", "not now")]),
            &[],
        )
        .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{l}: {}", p.html);
        let card = api.app.handoff_card(hid).await.unwrap();
        assert_eq!(
            card.handoff.reason_code.as_deref(),
            Some(reason.as_str()),
            "{l}"
        );
        let queue = browse(&api, "GET", "/queue", Some(&rob), None, &[]).await;
        assert!(queue.html.contains("No open handoffs"), "{l}");

        // Signing out ends the session on the server.
        let p = browse(
            &api,
            "POST",
            "/sign-out",
            Some(&rob),
            Some(&[("_csrf", &csrf)]),
            &[],
        )
        .await;
        assert_eq!(
            (p.status, p.location()),
            (StatusCode::SEE_OTHER, "/sign-in"),
            "{l}"
        );
        let p = browse(&api, "GET", "/queue", Some(&rob), None, &[]).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{l}");
    }
}

#[tokio::test]
async fn each_profile_sees_its_pages_and_others_answer_404() {
    for api in apis().await {
        let l = api.label();
        let viewer = signed_in(&api, "vera@example.com", "marketing", "viewer").await;
        let rep = signed_in(&api, "rob@example.com", "sales", "member").await;
        let lead = signed_in(&api, "sam@example.com", "sales", "manager").await;

        let home = browse(&api, "GET", "/", Some(&viewer), None, &[]).await;
        assert_eq!(home.status, StatusCode::OK, "{l}: {}", home.html);
        assert!(
            home.html.contains("Revenue won"),
            "{l}: a viewer sees revenue"
        );
        assert!(
            !home.html.contains("href=\"/queue\""),
            "{l}: no queue for a viewer"
        );
        assert_links_local(&home.html, l);
        let p = browse(&api, "GET", "/queue", Some(&viewer), None, &[]).await;
        assert_eq!(p.status, StatusCode::NOT_FOUND, "{l}");
        assert!(
            p.headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );

        let home = browse(&api, "GET", "/", Some(&rep), None, &[]).await;
        assert_eq!(home.status, StatusCode::OK, "{l}");
        assert!(
            !home.html.contains("Revenue won"),
            "{l}: a rep sees no revenue"
        );
        assert!(home.html.contains("href=\"/queue\""), "{l}");
        assert!(home.html.contains("MQLs delivered"), "{l}");

        // A manager opens a rep's queue; a rep may not open another's.
        let users = api.app.users().await.unwrap();
        let rob = users.iter().find(|u| u.email == "rob@example.com").unwrap();
        let sam = users.iter().find(|u| u.email == "sam@example.com").unwrap();
        let p = browse(
            &api,
            "GET",
            &format!("/queue?rep={}", rob.id),
            Some(&lead),
            None,
            &[],
        )
        .await;
        assert_eq!(p.status, StatusCode::OK, "{l}: {}", p.html);
        assert!(p.html.contains("queue"), "{l}");
        let p = browse(
            &api,
            "GET",
            &format!("/queue?rep={}", sam.id),
            Some(&rep),
            None,
            &[],
        )
        .await;
        assert_eq!(p.status, StatusCode::NOT_FOUND, "{l}");

        // Nothing here: a page for people, problem+json for programs.
        let p = browse(&api, "GET", "/no-such-page", Some(&rep), None, &[]).await;
        assert_eq!(p.status, StatusCode::NOT_FOUND, "{l}");
        assert!(p.html.contains("Not found"), "{l}");
        let p = browse(&api, "GET", "/api/v1/no-such-thing", None, None, &[]).await;
        assert_eq!(
            p.headers[header::CONTENT_TYPE],
            "application/problem+json",
            "{l}"
        );
    }
}

#[tokio::test]
async fn sign_in_failures_say_one_thing_and_keep_the_email() {
    for api in apis().await {
        let l = api.label();
        signed_in(&api, "rob@example.com", "sales", "member").await;
        let wrong = browse(
            &api,
            "POST",
            "/sign-in",
            None,
            Some(&[
                ("email", "rob@example.com"),
                ("password", "not the password at all"),
            ]),
            &[],
        )
        .await;
        let unknown = browse(
            &api,
            "POST",
            "/sign-in",
            None,
            Some(&[
                ("email", "nobody\"<b>@example.com"),
                ("password", "not the password at all"),
            ]),
            &[],
        )
        .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{l}");
        assert_eq!(unknown.status, StatusCode::UNAUTHORIZED, "{l}");
        let message = "That e-mail and password do not match";
        assert!(
            wrong.html.contains(message) && unknown.html.contains(message),
            "{l}"
        );
        assert!(wrong.html.contains("value=\"rob@example.com\""), "{l}");
        assert!(!unknown.html.contains("<b>@"), "{l}: the e-mail is escaped");
        // Another site's sign-in form is refused.
        let p = browse(
            &api,
            "POST",
            "/sign-in",
            None,
            Some(&[("email", "rob@example.com"), ("password", PASSWORD)]),
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{l}");
        // After the limit, a page that says when to try again.
        for _ in 0..smarketing_app::sign_in::MAX_ACCOUNT_FAILURES {
            browse(
                &api,
                "POST",
                "/sign-in",
                None,
                Some(&[
                    ("email", "rob@example.com"),
                    ("password", "wrong wrong wrong"),
                ]),
                &[],
            )
            .await;
        }
        let p = browse(
            &api,
            "POST",
            "/sign-in",
            None,
            Some(&[("email", "rob@example.com"), ("password", PASSWORD)]),
            &[],
        )
        .await;
        assert_eq!(p.status, StatusCode::TOO_MANY_REQUESTS, "{l}");
        assert!(p.headers.contains_key(header::RETRY_AFTER), "{l}");
        assert!(p.html.contains("Try again in"), "{l}");
        // The sign-in page links only this server.
        let p = browse(&api, "GET", "/sign-in", None, None, &[]).await;
        assert_links_local(&p.html, l);
    }
}

#[tokio::test]
async fn assets_are_served_by_hash_and_kept_for_a_year() {
    let api = apis().await.remove(0);
    for asset in [
        &smarketing_server::ui::ASSETS.css,
        &smarketing_server::ui::ASSETS.app_js,
        &smarketing_server::ui::ASSETS.htmx,
        &smarketing_server::ui::ASSETS.icon,
    ] {
        let p = browse(&api, "GET", &asset.url(), None, None, &[]).await;
        assert_eq!(p.status, StatusCode::OK, "{}", asset.name);
        assert_eq!(
            p.headers[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        let stale = format!("/assets/0000000000000000/{}", asset.name);
        let p = browse(&api, "GET", &stale, None, None, &[]).await;
        assert_eq!(p.status, StatusCode::NOT_FOUND, "{}", asset.name);
    }
}
