//! API tokens: scopes within the user's permissions, expiry, revocation,
//! last use, and failed authentications throttled per address.

use crate::{TestApi, apis, now};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use serde_json::json;
use smarketing_app::people::{MAX_FAILURES, NewToken};
use smarketing_app::{App, Clock};
use smarketing_core::{Instant, TokenScope};
use smarketing_server::{AppState, router};
use std::net::SocketAddr;
use tower::ServiceExt;

/// Sends `method uri` with `token` from `from`; returns the status and
/// the Retry-After header.
async fn send(
    r: &axum::Router,
    token: &str,
    method: &str,
    uri: &str,
    body: Option<serde_json::Value>,
    from: &str,
) -> (StatusCode, Option<String>) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let mut req = req
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let addr: SocketAddr = from.parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(addr));
    let res = r.clone().oneshot(req).await.unwrap();
    let retry = res
        .headers()
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_string());
    (res.status(), retry)
}

async fn admin_id(api: &TestApi) -> i64 {
    api.app
        .users()
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.email == "ada@example.com")
        .unwrap()
        .id
}

async fn token(api: &TestApi, scope: TokenScope, expires_at: Option<Instant>) -> String {
    api.app
        .issue_token(
            admin_id(api).await,
            NewToken {
                name: format!("{scope}"),
                scope,
                expires_at,
            },
        )
        .await
        .unwrap()
}

const HERE: &str = "10.0.0.1:5000";

#[tokio::test]
async fn a_token_does_what_its_scope_allows_until_it_expires_or_is_revoked() {
    for api in apis().await {
        let l = api.label();
        let r = &api.router;
        let contact = |n: u32| Some(json!({"email": format!("t{n}@example.com")}));
        let user = |n: u32| {
            Some(
                json!({"name": "New", "email": format!("u{n}@example.com"), "team": "sales", "role": "member"}),
            )
        };
        let read = token(&api, TokenScope::Read, None).await;
        let write = token(&api, TokenScope::Write, None).await;
        let admin = token(&api, TokenScope::Admin, None).await;
        assert_eq!(
            send(r, &read, "GET", "/api/v1/contacts", None, HERE)
                .await
                .0,
            StatusCode::OK,
            "{l}"
        );
        assert_eq!(
            send(r, &read, "POST", "/api/v1/contacts", contact(1), HERE)
                .await
                .0,
            StatusCode::FORBIDDEN,
            "{l}: a read token changes nothing"
        );
        assert_eq!(
            send(r, &write, "POST", "/api/v1/contacts", contact(2), HERE)
                .await
                .0,
            StatusCode::CREATED,
            "{l}"
        );
        assert_eq!(
            send(r, &write, "POST", "/api/v1/users", user(1), HERE)
                .await
                .0,
            StatusCode::FORBIDDEN,
            "{l}: managing users needs an admin token"
        );
        assert_eq!(
            send(r, &admin, "POST", "/api/v1/users", user(2), HERE)
                .await
                .0,
            StatusCode::CREATED,
            "{l}"
        );

        // Last use is recorded; a revoked token stops at once.
        let tokens = api.app.tokens(admin_id(&api).await).await.unwrap();
        let listed = tokens.iter().find(|t| t.name == "write").unwrap();
        assert_eq!(listed.last_used_at, Some(now()), "{l}");
        api.app.revoke_token(listed.id).await.unwrap();
        assert_eq!(
            send(r, &write, "GET", "/api/v1/contacts", None, HERE)
                .await
                .0,
            StatusCode::UNAUTHORIZED,
            "{l}: revoked"
        );

        // A token that expires tomorrow works today, not the day after.
        let tomorrow = Instant::from_millis(now().millis() + 86_400_000).unwrap();
        let expiring = token(&api, TokenScope::Read, Some(tomorrow)).await;
        assert_eq!(
            send(r, &expiring, "GET", "/api/v1/contacts", None, HERE)
                .await
                .0,
            StatusCode::OK,
            "{l}"
        );
        let later = App::new(
            api.db.store.clone(),
            Clock::Fixed(Instant::from_millis(now().millis() + 2 * 86_400_000).unwrap()),
        );
        let later = router(AppState::new(later, 64 * 1024));
        assert_eq!(
            send(&later, &expiring, "GET", "/api/v1/contacts", None, HERE)
                .await
                .0,
            StatusCode::UNAUTHORIZED,
            "{l}: expired"
        );
        assert_eq!(
            send(&later, &admin, "GET", "/api/v1/contacts", None, HERE)
                .await
                .0,
            StatusCode::OK,
            "{l}"
        );
    }
}

#[tokio::test]
async fn failed_authentications_are_throttled_per_address() {
    for api in apis().await {
        let l = api.label();
        let r = &api.router;
        let guesser = "192.0.2.7:4000";
        for i in 0..MAX_FAILURES {
            let guess = format!("smk_{i:048}");
            assert_eq!(
                send(r, &guess, "GET", "/api/v1/contacts", None, guesser)
                    .await
                    .0,
                StatusCode::UNAUTHORIZED,
                "{l}"
            );
        }
        // Past the limit the address is refused, even with a good token.
        let (status, retry) = send(r, &api.token, "GET", "/api/v1/contacts", None, guesser).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{l}");
        let wait: u64 = retry.expect("Retry-After").parse().unwrap();
        assert!((1..=60).contains(&wait), "{l}: {wait}");
        // Another address is not.
        assert_eq!(
            send(r, &api.token, "GET", "/api/v1/contacts", None, HERE)
                .await
                .0,
            StatusCode::OK,
            "{l}"
        );
    }
}

/// Disabling a user ends every token they hold at once, by the API.
#[tokio::test]
async fn disabling_a_user_ends_their_tokens_at_once() {
    for api in apis().await {
        let l = api.label();
        let r = &api.router;
        let rep = api
            .app
            .users()
            .await
            .unwrap()
            .into_iter()
            .find(|u| u.email == "rob@example.com")
            .unwrap();
        assert_eq!(
            send(r, &api.member_token, "GET", "/api/v1/contacts", None, HERE)
                .await
                .0,
            StatusCode::OK,
            "{l}"
        );
        let uri = format!("/api/v1/users/{}/disable", rep.id);
        assert_eq!(
            send(r, &api.member_token, "POST", &uri, None, HERE).await.0,
            StatusCode::FORBIDDEN,
            "{l}: only admins disable users"
        );
        assert_eq!(
            send(r, &api.token, "POST", &uri, None, HERE).await.0,
            StatusCode::OK,
            "{l}"
        );
        assert_eq!(
            send(r, &api.member_token, "GET", "/api/v1/contacts", None, HERE)
                .await
                .0,
            StatusCode::UNAUTHORIZED,
            "{l}: a disabled user's token stops at once"
        );
        assert_eq!(
            send(r, &api.token, "POST", &uri, None, HERE).await.0,
            StatusCode::NOT_FOUND,
            "{l}: already disabled"
        );
        let log = api
            .app
            .audit_log(None, 10, &smarketing_app::Actor::system())
            .await
            .unwrap();
        assert!(
            log.iter()
                .any(|e| e.action == "user.disable" && e.address.as_deref() == Some("10.0.0.1")),
            "{l}"
        );
    }
}
