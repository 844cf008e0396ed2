//! Use-case tests on real databases: SQLite always, PostgreSQL when
//! SMARKETING_TEST_DATABASE_URL is set.

mod demo;
mod goals;
mod handoffs;
mod import;
mod ingest;
mod jobs;
mod lifecycle;
mod merges;
mod reports;
mod sla_record;
mod touches;

use smarketing_app::{App, Clock};
use smarketing_core::Instant;
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
