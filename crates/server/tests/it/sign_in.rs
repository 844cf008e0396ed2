//! Sign-in for people: the session cookie, CSRF, rotation, idle and
//! absolute timeouts, sign-out, brute force, disabling and reset links.

use crate::{TestApi, apis, now};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use smarketing_app::sign_in::{MAX_ACCOUNT_FAILURES, MAX_ADDRESS_FAILURES, SESSION_COOKIE};
use smarketing_app::{Actor, App, Clock};
use smarketing_core::Instant;
use smarketing_server::{AppState, router};
use std::net::SocketAddr;
use std::time::Duration;
use tower::ServiceExt;

const PASSWORD: &str = "a long test password";

/// One request: its method, path, body, cookie and extra headers.
#[derive(Default)]
struct Call<'a> {
    method: &'a str,
    uri: &'a str,
    body: Option<Value>,
    cookie: Option<&'a str>,
    headers: Vec<(&'a str, &'a str)>,
    from: Option<&'a str>,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    json: Value,
}

impl Answer {
    /// The session secret the answer's Set-Cookie gives, if any.
    fn session(&self) -> Option<String> {
        let c = self.headers.get(header::SET_COOKIE)?.to_str().ok()?;
        let value = c.strip_prefix(&format!("{SESSION_COOKIE}="))?;
        Some(value.split(';').next()?.to_string())
    }
    fn set_cookie(&self) -> String {
        self.headers
            .get(header::SET_COOKIE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }
}

async fn send(r: &axum::Router, c: Call<'_>) -> Answer {
    let mut req = Request::builder()
        .method(if c.method.is_empty() { "GET" } else { c.method })
        .uri(c.uri);
    if let Some(secret) = c.cookie {
        req = req.header(
            header::COOKIE,
            format!("theme=dark; {SESSION_COOKIE}={secret}"),
        );
    }
    for (k, v) in &c.headers {
        req = req.header(*k, *v);
    }
    if c.body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let mut req = req
        .body(
            c.body
                .map_or_else(Body::empty, |b| Body::from(b.to_string())),
        )
        .unwrap();
    let from: SocketAddr = c.from.unwrap_or("10.1.0.1:4000").parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(from));
    let res = r.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        json,
    }
}

async fn sign_in(r: &axum::Router, email: &str, password: &str, from: &str) -> Answer {
    send(
        r,
        Call {
            method: "POST",
            uri: "/api/v1/session",
            body: Some(json!({"email": email, "password": password})),
            from: Some(from),
            ..Default::default()
        },
    )
    .await
}

async fn user_id(api: &TestApi, email: &str) -> i64 {
    let users = api.app.users().await.unwrap();
    users.iter().find(|u| u.email == email).unwrap().id
}

async fn with_passwords(api: &TestApi) {
    for email in ["ada@example.com", "rob@example.com"] {
        let id = user_id(api, email).await;
        api.app
            .set_password(id, PASSWORD, &Actor::system())
            .await
            .unwrap();
    }
}

/// A router over the same database whose clock reads `at`.
fn router_at(api: &TestApi, at: Instant) -> axum::Router {
    let app = App::new(api.app.store().clone(), Clock::Fixed(at));
    router(AppState::new(app, 64 * 1024))
}

fn later(minutes: i64) -> Instant {
    Instant::from_millis(now().millis() + minutes * 60_000).unwrap()
}

#[tokio::test]
async fn a_session_cookie_signs_requests_in_and_changes_need_its_csrf_token() {
    for api in apis().await {
        let l = api.label();
        let r = &api.router;
        with_passwords(&api).await;

        let ok = sign_in(r, " Ada@Example.com ", PASSWORD, "10.1.0.1:1").await;
        assert_eq!(ok.status, StatusCode::OK, "{l}: {}", ok.json);
        let cookie = ok.set_cookie();
        for part in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=43200"] {
            assert!(cookie.contains(part), "{l}: {cookie}");
        }
        assert!(!cookie.contains("Secure"), "{l}: plain HTTP: {cookie}");
        let secret = ok.session().unwrap();
        assert!(secret.len() >= 32, "{l}: at least 128 bits");
        let csrf = ok.json["csrf_token"].as_str().unwrap().to_string();
        assert_eq!(ok.json["user"]["email"], "ada@example.com", "{l}");
        assert_eq!(ok.json["idle_timeout_seconds"], 1800, "{l}");

        // Reads need only the cookie.
        let me = send(
            r,
            Call {
                uri: "/api/v1/me",
                cookie: Some(&secret),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(me.status, StatusCode::OK, "{l}");
        assert_eq!(me.json["email"], "ada@example.com", "{l}");
        assert_eq!(me.headers[header::CACHE_CONTROL], "no-store", "{l}");
        let current = send(
            r,
            Call {
                uri: "/api/v1/session",
                cookie: Some(&secret),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(current.json["csrf_token"], csrf.as_str(), "{l}");

        // A change without the token, or with another's, is refused.
        let contact = || Some(json!({"email": "csrf@example.com"}));
        for token in [None, Some("0".repeat(64)), Some(csrf[..63].to_string())] {
            let mut headers = vec![];
            if let Some(t) = &token {
                headers.push(("x-csrf-token", t.as_str()));
            }
            let refused = send(
                r,
                Call {
                    method: "POST",
                    uri: "/api/v1/contacts",
                    body: contact(),
                    cookie: Some(&secret),
                    headers,
                    ..Default::default()
                },
            )
            .await;
            assert_eq!(refused.status, StatusCode::FORBIDDEN, "{l}: {token:?}");
            assert_eq!(refused.json["code"], "csrf_failed", "{l}");
        }
        let made = send(
            r,
            Call {
                method: "POST",
                uri: "/api/v1/contacts",
                body: contact(),
                cookie: Some(&secret),
                headers: vec![("x-csrf-token", &csrf)],
                ..Default::default()
            },
        )
        .await;
        assert_eq!(made.status, StatusCode::CREATED, "{l}: {}", made.json);

        // A bearer token needs no CSRF token (no browser sends it by itself).
        let (status, _, _) = api
            .call(
                "POST",
                "/api/v1/contacts",
                Some(json!({"email": "bearer@example.com"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{l}");

        // Over TLS (a proxy says so) the cookie is Secure.
        let tls = send(
            r,
            Call {
                method: "POST",
                uri: "/api/v1/session",
                body: Some(json!({"email": "rob@example.com", "password": PASSWORD})),
                headers: vec![("x-forwarded-proto", "https")],
                ..Default::default()
            },
        )
        .await;
        assert!(
            tls.set_cookie().contains("; Secure"),
            "{l}: {}",
            tls.set_cookie()
        );

        // Signing in again from the same browser ends the session it held.
        let again = send(
            r,
            Call {
                method: "POST",
                uri: "/api/v1/session",
                body: Some(json!({"email": "ada@example.com", "password": PASSWORD})),
                cookie: Some(&secret),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(again.status, StatusCode::OK, "{l}");
        let rotated = again.session().unwrap();
        assert_ne!(rotated, secret, "{l}");
        let old = send(
            r,
            Call {
                uri: "/api/v1/me",
                cookie: Some(&secret),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(
            old.status,
            StatusCode::UNAUTHORIZED,
            "{l}: the old session ended"
        );

        // Sign-out ends the session on the server, whatever the browser keeps.
        let csrf2 = again.json["csrf_token"].as_str().unwrap().to_string();
        let no_token = send(
            r,
            Call {
                method: "DELETE",
                uri: "/api/v1/session",
                cookie: Some(&rotated),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(
            no_token.status,
            StatusCode::FORBIDDEN,
            "{l}: sign-out needs the token too"
        );
        let out = send(
            r,
            Call {
                method: "DELETE",
                uri: "/api/v1/session",
                cookie: Some(&rotated),
                headers: vec![("x-csrf-token", &csrf2)],
                ..Default::default()
            },
        )
        .await;
        assert_eq!(out.status, StatusCode::NO_CONTENT, "{l}");
        assert!(out.set_cookie().contains("Max-Age=0"), "{l}");
        let gone = send(
            r,
            Call {
                uri: "/api/v1/me",
                cookie: Some(&rotated),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(gone.status, StatusCode::UNAUTHORIZED, "{l}");
        assert_eq!(gone.json["code"], "unauthorized", "{l}");

        let log = api
            .app
            .audit_log(None, 100, &Actor::system())
            .await
            .unwrap();
        let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions.iter().filter(|a| **a == "session.sign_in").count(),
            3,
            "{l}: {actions:?}"
        );
        assert!(actions.contains(&"session.sign_out"), "{l}");
        let sign_in = log.iter().find(|e| e.action == "session.sign_in").unwrap();
        assert_eq!(sign_in.address.as_deref(), Some("10.1.0.1"), "{l}");
    }
}

#[tokio::test]
async fn sessions_end_when_idle_and_at_their_absolute_expiry() {
    for api in apis().await {
        let l = api.label();
        with_passwords(&api).await;
        let ok = sign_in(&api.router, "rob@example.com", PASSWORD, "10.1.0.2:1").await;
        let secret = ok.session().unwrap();
        let me = |at: Instant| {
            let r = router_at(&api, at);
            let secret = secret.clone();
            async move {
                send(
                    &r,
                    Call {
                        uri: "/api/v1/me",
                        cookie: Some(&secret),
                        ..Default::default()
                    },
                )
                .await
                .status
            }
        };
        // Used every 25 minutes, it lives on until its 12 hours are up.
        let mut minute = 0;
        while minute + 25 < 12 * 60 {
            minute += 25;
            assert_eq!(
                me(later(minute)).await,
                StatusCode::OK,
                "{l}: at {minute} min"
            );
        }
        assert_eq!(
            me(later(12 * 60)).await,
            StatusCode::UNAUTHORIZED,
            "{l}: absolute"
        );

        // Unused for 30 minutes, it has ended.
        let ok = sign_in(&api.router, "rob@example.com", PASSWORD, "10.1.0.2:1").await;
        let secret = ok.session().unwrap();
        let r29 = router_at(&api, later(29));
        let r = send(
            &r29,
            Call {
                uri: "/api/v1/me",
                cookie: Some(&secret),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{l}");
        let idle = router_at(&api, later(29 + 31));
        let r = send(
            &idle,
            Call {
                uri: "/api/v1/me",
                cookie: Some(&secret),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{l}: idle");
        // Ended for good: coming back at once does not revive it.
        let r = send(
            &r29,
            Call {
                uri: "/api/v1/me",
                cookie: Some(&secret),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{l}");
    }
}

#[tokio::test]
async fn guessing_passwords_is_refused_per_account_and_per_address_alike() {
    for api in apis().await {
        let l = api.label();
        let r = &api.router;
        with_passwords(&api).await;

        // A wrong password and an unknown e-mail: one answer.
        let wrong = sign_in(r, "rob@example.com", "not the password", "10.2.0.1:1").await;
        let unknown = sign_in(r, "nobody@example.com", "not the password", "10.2.0.1:1").await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{l}");
        assert_eq!(wrong.json, unknown.json, "{l}");
        assert_eq!(wrong.json["code"], "sign_in_failed", "{l}");
        assert!(wrong.session().is_none(), "{l}");

        // Per account: after the limit even the right password waits, from
        // any address; an unknown e-mail is limited the same way.
        for email in ["rob@example.com", "nobody@example.com"] {
            for i in 1..MAX_ACCOUNT_FAILURES {
                let a = sign_in(r, email, "still wrong", &format!("10.3.{i}.1:1")).await;
                assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{l}: {email} try {i}");
            }
            let locked = sign_in(r, email, PASSWORD, "10.9.9.9:1").await;
            assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "{l}: {email}");
            let wait: u64 = locked.headers[header::RETRY_AFTER]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=900).contains(&wait), "{l}: {wait}");
            assert_eq!(locked.json["code"], "rate_limited", "{l}");
        }
        // Another account is not held up by them.
        let ada = sign_in(r, "ada@example.com", PASSWORD, "10.9.9.9:1").await;
        assert_eq!(ada.status, StatusCode::OK, "{l}");

        // Per address: one address trying many accounts is stopped too,
        // while others still get in.
        for i in 0..MAX_ADDRESS_FAILURES {
            let a = sign_in(r, &format!("guess{i}@example.com"), "wrong", "10.4.0.1:1").await;
            assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{l}: try {i}");
        }
        let blocked = sign_in(r, "ada@example.com", PASSWORD, "10.4.0.1:1").await;
        assert_eq!(blocked.status, StatusCode::TOO_MANY_REQUESTS, "{l}");
        let other = sign_in(r, "ada@example.com", PASSWORD, "10.4.0.2:1").await;
        assert_eq!(other.status, StatusCode::OK, "{l}");

        let failed = api
            .app
            .audit_log(None, 1000, &Actor::system())
            .await
            .unwrap();
        let failed = failed
            .iter()
            .filter(|e| e.action == "sign_in.failed")
            .count();
        assert_eq!(
            failed,
            2 + 2 * (MAX_ACCOUNT_FAILURES as usize - 1) + MAX_ADDRESS_FAILURES as usize,
            "{l}: every failure that was checked is in the audit log"
        );
    }
}

/// Median time of `n` sign-ins that fail as `email` and `password` do.
async fn median_failure(r: &axum::Router, email: &str, password: &str, n: usize) -> Duration {
    let mut times = Vec::new();
    for i in 0..n {
        let from = format!("10.5.{}.{}:1", i / 200, i % 200 + 1);
        let started = std::time::Instant::now();
        let a = sign_in(r, email, password, &from).await;
        times.push(started.elapsed());
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    times.sort();
    times[n / 2]
}

#[tokio::test]
async fn an_unknown_email_takes_as_long_as_a_wrong_password() {
    // One database is enough: the time is the hash's, not the store's.
    let api = apis().await.into_iter().next().unwrap();
    with_passwords(&api).await;
    // Fewer tries than the account limit, each from its own address.
    let n = MAX_ACCOUNT_FAILURES as usize - 1;
    let mut wrong = Vec::new();
    let mut unknown = Vec::new();
    for round in 0..3 {
        wrong.push(median_failure(&api.router, "rob@example.com", "wrong password!", n).await);
        unknown.push(
            median_failure(
                &api.router,
                &format!("ghost{round}@example.com"),
                "wrong password!",
                n,
            )
            .await,
        );
        // A success forgets the account's failures.
        let ok = sign_in(&api.router, "rob@example.com", PASSWORD, "10.6.0.1:1").await;
        assert_eq!(ok.status, StatusCode::OK);
    }
    wrong.sort();
    unknown.sort();
    let (w, u) = (wrong[1], unknown[1]);
    let ratio = u.as_secs_f64() / w.as_secs_f64();
    println!(
        "sign-in failure, median: wrong password {w:?}, unknown e-mail {u:?}, ratio {ratio:.2}"
    );
    assert!((0.5..2.0).contains(&ratio), "unknown {u:?} vs wrong {w:?}");
}

#[tokio::test]
async fn disabling_a_user_ends_their_sessions_and_a_reset_link_works_once() {
    for api in apis().await {
        let l = api.label();
        let r = &api.router;
        with_passwords(&api).await;
        let rob = user_id(&api, "rob@example.com").await;

        // A reset link: only admins issue it; it works once.
        let (status, _, _) = api
            .member(
                "POST",
                &format!("/api/v1/users/{rob}/password-reset"),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{l}");
        let session = sign_in(r, "rob@example.com", PASSWORD, "10.7.0.1:1")
            .await
            .session()
            .unwrap();
        let (status, _, link) = api
            .call("POST", &format!("/api/v1/users/{rob}/password-reset"), None)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{l}: {link}");
        let token = link["token"].as_str().unwrap().to_string();
        assert_eq!(
            link["path"],
            format!("/reset-password#token={token}"),
            "{l}"
        );
        let reset = |password: &str| Call {
            method: "POST",
            uri: "/api/v1/password-reset",
            body: Some(json!({"token": token, "password": password})),
            ..Default::default()
        };
        let weak = send(r, reset("short")).await;
        assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY, "{l}");
        assert_eq!(weak.json["code"], "weak_password", "{l}");
        let done = send(r, reset("the new long password")).await;
        assert_eq!(done.status, StatusCode::NO_CONTENT, "{l}: {}", done.json);
        let twice = send(r, reset("another long password")).await;
        assert_eq!(twice.json["code"], "invalid_reset_link", "{l}");
        let old = send(
            r,
            Call {
                uri: "/api/v1/me",
                cookie: Some(&session),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(
            old.status,
            StatusCode::UNAUTHORIZED,
            "{l}: a reset ends every session"
        );
        assert_eq!(
            sign_in(r, "rob@example.com", PASSWORD, "10.7.0.1:1")
                .await
                .status,
            StatusCode::UNAUTHORIZED,
            "{l}"
        );
        let new = sign_in(r, "rob@example.com", "the new long password", "10.7.0.1:1").await;
        assert_eq!(new.status, StatusCode::OK, "{l}");
        let session = new.session().unwrap();

        // An expired link does not work.
        let (_, _, link) = api
            .call("POST", &format!("/api/v1/users/{rob}/password-reset"), None)
            .await;
        let expired = router_at(&api, later(24 * 60 + 1));
        let late = send(
            &expired,
            Call {
                method: "POST",
                uri: "/api/v1/password-reset",
                body: Some(json!({"token": link["token"], "password": "too late a password"})),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(late.json["code"], "invalid_reset_link", "{l}");

        // No admin locks themselves out.
        let ada = user_id(&api, "ada@example.com").await;
        let (status, _, own) = api
            .call("POST", &format!("/api/v1/users/{ada}/disable"), None)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{l}: {own}");
        assert_eq!(own["code"], "cannot_disable_self", "{l}");

        // Disabled: their session and tokens stop at once.
        let (status, _, _) = api
            .call("POST", &format!("/api/v1/users/{rob}/disable"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{l}");
        let me = send(
            r,
            Call {
                uri: "/api/v1/me",
                cookie: Some(&session),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{l}");
        let (status, _, _) = api.member("GET", "/api/v1/me", json!({})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{l}");
        let again = sign_in(r, "rob@example.com", "the new long password", "10.7.0.1:1").await;
        assert_eq!(
            again.status,
            StatusCode::UNAUTHORIZED,
            "{l}: a disabled user cannot sign in"
        );
        assert!(api.app.open_sessions(rob).await.unwrap().is_empty(), "{l}");
    }
}

/// Behind a trusted reverse proxy each client is limited on its own (the
/// address the proxy forwards), and a client that is not the proxy cannot
/// choose its address with the header.
#[tokio::test]
async fn behind_a_trusted_proxy_each_client_is_limited_on_its_own() {
    let api = apis().await.into_iter().next().unwrap();
    with_passwords(&api).await;
    let proxy = "10.8.0.1";
    let r = router(
        AppState::new(api.app.clone(), 64 * 1024)
            .with_trusted_proxies(vec![proxy.parse().unwrap()]),
    );
    let attempt = |client: &'static str, password: &'static str, from: &'static str| {
        let r = r.clone();
        async move {
            send(
                &r,
                Call {
                    method: "POST",
                    uri: "/api/v1/session",
                    body: Some(json!({"email": "ada@example.com", "password": password})),
                    headers: vec![("x-forwarded-for", client)],
                    from: Some(from),
                    ..Default::default()
                },
            )
            .await
        }
    };
    // A guesser behind the proxy uses up its own address's failures…
    for i in 0..MAX_ADDRESS_FAILURES {
        let email = format!("guess{i}@example.com");
        let a = send(
            &r,
            Call {
                method: "POST",
                uri: "/api/v1/session",
                body: Some(json!({"email": email, "password": "wrong"})),
                headers: vec![("x-forwarded-for", "203.0.113.7")],
                from: Some("10.8.0.1:5000"),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    let guesser = attempt("203.0.113.7", PASSWORD, "10.8.0.1:5000").await;
    assert_eq!(guesser.status, StatusCode::TOO_MANY_REQUESTS);
    // …while another client through the same proxy signs in, recorded
    // with its own address; a made-up first hop does not help the guesser.
    let other = attempt("198.51.100.2", PASSWORD, "10.8.0.1:5001").await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.json);
    let spoofed = attempt("198.51.100.9, 203.0.113.7", PASSWORD, "10.8.0.1:5002").await;
    assert_eq!(spoofed.status, StatusCode::TOO_MANY_REQUESTS);
    let log = api.app.audit_log(None, 5, &Actor::system()).await.unwrap();
    let signed = log.iter().find(|e| e.action == "session.sign_in").unwrap();
    assert_eq!(signed.address.as_deref(), Some("198.51.100.2"));
    // Not from the proxy: the header is ignored.
    let direct = attempt("198.51.100.2", PASSWORD, "10.8.0.2:5003").await;
    assert_eq!(direct.status, StatusCode::OK);
    let log = api.app.audit_log(None, 5, &Actor::system()).await.unwrap();
    assert_eq!(log[0].address.as_deref(), Some("10.8.0.2"));
}
