//! A real browser for the tests that run scripts in a page: Debian's
//! headless Chromium, a site on another loopback origin that serves the
//! test's pages, and the server itself on loopback. `.ci/run` installs
//! chromium; elsewhere a test says so and stops when it is missing.

use smarketing_app::App;
use smarketing_server::AppState;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The Chromium binary, or `None` after saying the test cannot run.
pub fn chromium(what: &str) -> Option<&'static str> {
    let found = ["chromium", "chromium-browser"].into_iter().find(|c| {
        std::process::Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        smarketing_store::testing::skipped(what, "install Debian's chromium");
    }
    found
}

/// Serves `app` on a loopback port; returns its address.
pub async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// The server's router for `app`, as `smarketing serve` mounts it.
pub fn server_router(app: &App) -> axum::Router {
    smarketing_server::router(AppState::new(app.clone(), 64 * 1024))
}

/// A headless Chromium on one page, with its own profile; what the page
/// logs to its console is kept, for a failing test to show.
pub struct Browser {
    child: tokio::process::Child,
    log: PathBuf,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub fn open(chromium: &str, url: &str) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let log = profile.path().join("console.log");
        let child = tokio::process::Command::new(chromium)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-dev-shm-usage",
                "--remote-debugging-port=0",
                "--enable-logging=stderr",
                "--v=0",
            ])
            .arg(format!(
                "--user-data-dir={}",
                profile.path().join("p").display()
            ))
            .arg(url)
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        Browser {
            child,
            log,
            _profile: profile,
        }
    }

    /// Stops the browser; returns the console lines the pages wrote.
    pub async fn close(mut self) -> String {
        let _ = self.child.kill().await;
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("CONSOLE"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Waits up to `secs` seconds for `app` to keep at least `n` events;
/// returns how many it keeps.
pub async fn events_kept(app: &App, n: i64, secs: u64) -> i64 {
    let mut kept = 0;
    for _ in 0..secs * 10 {
        kept = app.event_counts().await.unwrap().0;
        if kept >= n {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    kept
}
