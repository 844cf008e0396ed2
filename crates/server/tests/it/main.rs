//! API tests through the real router, in process, on SQLite always and on
//! PostgreSQL when SMARKETING_TEST_DATABASE_URL is set.

mod api;
mod browser;
mod browser_sdks;
mod clients;
mod errors;
mod handoffs;
mod ingest;
mod matrix;
mod openapi;
mod security;
mod sign_in;
mod tokens;
mod workspace;
mod workspace_browser;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use smarketing_app::input::UserInput;
use smarketing_app::{App, Clock};
use smarketing_core::Instant;
use smarketing_server::{AppState, router};
use smarketing_store::testing::{self, TestDb};
use tower::ServiceExt;

pub struct TestApi {
    pub db: TestDb,
    pub app: App,
    pub router: axum::Router,
    pub token: String,
    pub member_token: String,
}

impl TestApi {
    pub fn label(&self) -> &'static str {
        self.db.label
    }

    /// Sends a request with the admin token; returns status, content type and JSON.
    pub async fn call(
        &self,
        method: &str,
        uri: &str,
        body: Option<Value>,
    ) -> (StatusCode, String, Value) {
        self.call_as(
            Some(&self.token),
            method,
            uri,
            body.map(|b| ("application/json", b.to_string())),
        )
        .await
    }

    /// Sends a JSON request with the sales member's token.
    pub async fn member(
        &self,
        method: &str,
        uri: &str,
        body: Value,
    ) -> (StatusCode, String, Value) {
        self.call_as(
            Some(&self.member_token),
            method,
            uri,
            Some(("application/json", body.to_string())),
        )
        .await
    }

    pub async fn call_as(
        &self,
        token: Option<&str>,
        method: &str,
        uri: &str,
        body: Option<(&str, String)>,
    ) -> (StatusCode, String, Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match body {
            Some((ct, b)) => req
                .header(header::CONTENT_TYPE, ct)
                .body(Body::from(b))
                .unwrap(),
            None => req.body(Body::empty()).unwrap(),
        };
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let ct = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        (status, ct, json)
    }
}

pub fn now() -> Instant {
    Instant::parse("2025-06-02T09:00:00Z", "now").unwrap()
}

/// A router on each test database with an admin and a member token.
pub async fn apis() -> Vec<TestApi> {
    let mut out = Vec::new();
    for db in testing::all().await {
        let app = App::new(db.store.clone(), Clock::Fixed(now()));
        app.prepare().await.unwrap();
        let admin = app
            .create_user(
                UserInput {
                    name: "Ada Admin".into(),
                    email: "ada@example.com".into(),
                    team: "marketing".into(),
                    role: "admin".into(),
                },
                &smarketing_app::Actor::system(),
            )
            .await
            .unwrap();
        let rep = app
            .create_user(
                UserInput {
                    name: "Rob Rep".into(),
                    email: "rob@example.com".into(),
                    team: "sales".into(),
                    role: "member".into(),
                },
                &smarketing_app::Actor::system(),
            )
            .await
            .unwrap();
        let token = app.create_token(admin.id, "test").await.unwrap();
        let member_token = app.create_token(rep.id, "test").await.unwrap();
        let router = router(AppState::new(app.clone(), 64 * 1024));
        out.push(TestApi {
            db,
            app,
            router,
            token,
            member_token,
        });
    }
    out
}
