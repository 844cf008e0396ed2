//! Fresh, isolated scratch databases for tests and benchmarks: a SQLite file
//! in the temp directory always, and a PostgreSQL schema of its own when
//! `SMARKETING_TEST_DATABASE_URL` is set (or a benchmark names a server).
//! Each is removed when dropped.

use crate::{Backend, SqliteSync, Store};
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};

/// The variable that points the PostgreSQL suites at a server.
pub const PG_URL_VAR: &str = "SMARKETING_TEST_DATABASE_URL";

static COUNTER: AtomicU64 = AtomicU64::new(0);
static SKIP_NOTICE: Once = Once::new();

/// A migrated, empty database that is removed when dropped.
pub struct TestDb {
    pub store: Store,
    pub label: &'static str,
    /// The URL that reaches this database (for spawning the CLI, say).
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    Schema { admin_url: String, schema: String },
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh SQLite database file.
pub async fn sqlite() -> TestDb {
    let path = std::env::temp_dir().join(format!("{}.db", unique("smarketing_test")));
    let url = format!("sqlite://{}", path.display());
    let store = Store::connect(&url, 4, SqliteSync::Normal)
        .await
        .expect("open test SQLite");
    store.migrate().await.expect("migrate test SQLite");
    TestDb {
        store,
        label: "sqlite",
        url,
        cleanup: Cleanup::File(path),
    }
}

/// Says that a test (or part of one) could not run because a tool is
/// missing, where the person running `cargo test` sees it: on the terminal,
/// past the test harness's capture of `eprintln!`. Under `CI=true` a missing
/// tool is a failure instead, since CI installs everything.
pub fn skipped(what: &str, how: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("{what} cannot run: {how} (CI must provide it)");
    }
    use std::io::Write;
    // Written to the process's stderr directly, not through eprintln!,
    // which the test harness captures and shows only for failing tests.
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED {what}: {how}");
}

/// A fresh schema on the PostgreSQL server named by
/// `SMARKETING_TEST_DATABASE_URL`, or `None` (with a one-line notice) when
/// the variable is not set.
pub async fn postgres() -> Option<TestDb> {
    let Ok(admin_url) = std::env::var(PG_URL_VAR) else {
        SKIP_NOTICE.call_once(|| {
            skipped(
                "the PostgreSQL suites",
                &format!("set {PG_URL_VAR} to a PostgreSQL database to run them"),
            )
        });
        return None;
    };
    Some(postgres_at(&admin_url).await)
}

/// A fresh schema on the PostgreSQL server at `admin_url`.
pub async fn postgres_at(admin_url: &str) -> TestDb {
    let admin_url = admin_url.to_string();
    let schema = unique("smk").to_lowercase();
    {
        let admin = Store::connect(&admin_url, 1, SqliteSync::Normal)
            .await
            .expect("connect to test PostgreSQL");
        assert_eq!(
            admin.backend(),
            Backend::Postgres,
            "{PG_URL_VAR} must be a postgres:// URL"
        );
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(admin.pool())
            .await
            .expect("create test schema");
        admin.close().await;
    }
    let sep = if admin_url.contains('?') { '&' } else { '?' };
    // The application name lets the cleanup find and end this schema's
    // connections (a rolled-back transaction may still hold locks).
    let url =
        format!("{admin_url}{sep}options=-c%20search_path%3D{schema}&application_name={schema}");
    let store = Store::connect(&url, 4, SqliteSync::Normal)
        .await
        .expect("connect to test schema");
    store.migrate().await.expect("migrate test PostgreSQL");
    TestDb {
        store,
        label: "postgres",
        url,
        cleanup: Cleanup::Schema { admin_url, schema },
    }
}

/// SQLite, plus PostgreSQL when configured: run a suite on each.
pub async fn all() -> Vec<TestDb> {
    let mut dbs = vec![sqlite().await];
    dbs.extend(postgres().await);
    dbs
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Schema { admin_url, schema } => {
                let (admin_url, schema) = (admin_url.clone(), schema.clone());
                // Dropping runs outside any async context we could borrow,
                // so use a short-lived runtime on its own thread.
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .ok()?;
                    rt.block_on(async {
                        let admin = Store::connect(&admin_url, 1, SqliteSync::Normal)
                            .await
                            .ok()?;
                        let _ = sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1")
                            .bind(&schema)
                            .execute(admin.pool())
                            .await;
                        let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                            .execute(admin.pool())
                            .await;
                        admin.close().await;
                        Some(())
                    })
                })
                .join();
            }
        }
    }
}
