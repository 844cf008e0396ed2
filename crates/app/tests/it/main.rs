//! Use-case tests on real databases: SQLite always, PostgreSQL when
//! SMARKETING_TEST_DATABASE_URL is set.

mod audit;
mod demo;
mod goals;
mod handoffs;
mod import;
mod ingest;
mod jobs;
mod lifecycle;
mod merges;
mod permissions;
mod privacy;
mod reports;
mod sla_record;
mod touches;

use smarketing_app::input::{TouchpointInput, UserInput};
use smarketing_app::{Actor, App, Clock};
use smarketing_core::Instant;
use smarketing_store::User;
use smarketing_store::testing::{self, TestDb};

/// A fixed "now" so that scores and defaults are reproducible.
pub fn now() -> Instant {
    Instant::parse("2025-06-02T09:00:00Z", "now").unwrap()
}

/// An app on each test database, with the default playbook stored.
pub async fn apps() -> Vec<(TestDb, App)> {
    let mut out = Vec::new();
    for db in testing::all().await {
        let app = App::new(db.store.clone(), Clock::Fixed(now()));
        app.prepare().await.unwrap();
        out.push((db, app));
    }
    out
}

/// The sample company and its expected reports, committed in `testdata/`.
pub fn testdata(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(path)
}

/// A user of `team` with `role`, e-mail `<name>@team.io`.
pub async fn user(app: &App, name: &str, team: &str, role: &str) -> User {
    let email = format!("{}@team.io", name.to_lowercase());
    app.create_user(
        UserInput {
            name: name.into(),
            email,
            team: team.into(),
            role: role.into(),
        },
        &smarketing_app::Actor::system(),
    )
    .await
    .unwrap()
}

/// A demo request from `email` now: the contact and the handoff it opened.
pub async fn hand_raiser(app: &App, email: &str) -> (i64, i64) {
    hand_raiser_at(app, email, None).await
}

pub async fn hand_raiser_at(app: &App, email: &str, at: Option<&str>) -> (i64, i64) {
    let occurred_at = at.map(|t| Instant::parse(t, "t").unwrap());
    let out = app
        .record_touchpoints(
            vec![TouchpointInput {
                email: Some(email.into()),
                kind: Some("demo_request".into()),
                occurred_at,
                ..Default::default()
            }],
            &Actor::system(),
        )
        .await
        .unwrap();
    (
        out[0].touchpoint.contact_id.unwrap(),
        out[0].handoff_id.expect("a hand-raiser opens a handoff"),
    )
}
