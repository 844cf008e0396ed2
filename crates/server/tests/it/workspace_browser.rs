//! The workspace in a real browser: Debian's headless Chromium driven by
//! chromedriver (WebDriver, through fantoccini) against the real server on
//! loopback, on a generated demo company. A rep signs in, logs an attempt
//! and rejects a lead with a reason; marketing's Team Revenue counts the
//! rejection; a manager reassigns a lead; a viewer meets a 404. On every
//! page: no console error, no script of an attacker runs, axe-core finds
//! no serious or critical violation, nothing loads from another host, and
//! a 390 px wide screen does not scroll sideways. Screenshots of every
//! page, desktop and phone, go to `target/ui-screenshots/`.
//! `.ci/run` installs chromium, chromium-driver and axe-core (npm).

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use smarketing_app::input::{ContactInput, TouchpointInput};
use smarketing_app::{Actor, App, Clock};
use smarketing_server::AppState;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// An attack in a lead's name: it sets `window.__pwned` if it ever runs.
const PAYLOAD_FIRST: &str = "<img src=x onerror=\"window.__pwned=1\">";
const PAYLOAD_LAST: &str = "<script>window.__pwned=2</script>";

/// chromedriver on a free loopback port, stopped when dropped.
struct Driver {
    _child: tokio::process::Child,
    url: String,
}

async fn chromedriver() -> Option<Driver> {
    let present = std::process::Command::new("chromedriver")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !present || crate::browser::chromium("the workspace browser test").is_none() {
        smarketing_store::testing::skipped(
            "the workspace browser test",
            "install Debian's chromium and chromium-driver",
        );
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = tokio::process::Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if reqwest::get(format!("{url}/status")).await.is_ok() {
            return Some(Driver { _child: child, url });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start on {url}");
}

/// axe-core's source, installed by npm as a test fixture.
fn axe_source() -> Option<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/browser/node_modules/axe-core/axe.min.js");
    match std::fs::read_to_string(&path) {
        Ok(s) => Some(s),
        Err(_) => {
            smarketing_store::testing::skipped(
                "the workspace browser test",
                "run `npm ci --prefix crates/server/tests/browser` for axe-core",
            );
            None
        }
    }
}

fn screenshots_dir() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(
        |_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    let dir = target.join("ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One browser with its driver session, the server's origin and axe.
struct Session {
    client: Client,
    driver: String,
    origin: String,
    axe: String,
}

impl Session {
    async fn open(driver: &Driver, origin: &str, axe: &str) -> Session {
        let chromium = crate::browser::chromium("the workspace browser test").unwrap();
        let binary = String::from_utf8(
            std::process::Command::new("which")
                .arg(chromium)
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": binary.trim(),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,900"]
            },
            "goog:loggingPrefs": {"browser": "ALL"}
        });
        // chromedriver is on loopback: plain HTTP, no TLS.
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.as_object().unwrap().clone())
            .connect(&driver.url)
            .await
            .expect("a Chromium session");
        Session {
            client,
            driver: driver.url.clone(),
            origin: origin.to_string(),
            axe: axe.to_string(),
        }
    }

    async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.origin))
            .await
            .unwrap();
    }

    async fn html(&self) -> String {
        self.client.source().await.unwrap()
    }

    async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// Clicks a form's button and waits for the page it leads to.
    async fn click(&self, css: &str) {
        self.client
            .execute("window.__before_submit = true; return true;", vec![])
            .await
            .unwrap();
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap();
        for _ in 0..100 {
            let loaded = self
                .client
                .execute(
                    "return window.__before_submit === undefined && document.readyState === 'complete';",
                    vec![],
                )
                .await
                .unwrap_or(json!(false));
            if loaded == json!(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{css}: no new page after 5 s");
    }

    async fn fill(&self, css: &str, text: &str) {
        let field = self.client.find(Locator::Css(css)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    async fn choose(&self, css: &str, value: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .select_by_value(value)
            .await
            .unwrap();
    }

    async fn sign_in(&self, email: &str, password: &str) {
        self.goto("/sign-in").await;
        self.fill("#email", email).await;
        self.fill("#password", password).await;
        self.click("form[action='/sign-in'] button").await;
        let html = self.html().await;
        assert!(!html.contains("id=\"sign-in-error\""), "{email}: {html}");
    }

    async fn sign_out(&self) {
        self.click("form[action='/sign-out'] button").await;
        assert!(self.path().await.starts_with("/sign-in"));
    }

    /// What the browser logged as errors since the last call.
    async fn console_errors(&self) -> Vec<String> {
        let id = self.client.session_id().await.unwrap().unwrap();
        let log: Value = reqwest::Client::new()
            .post(format!("{}/session/{id}/se/log", self.driver))
            .json(&json!({"type": "browser"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        log["value"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or("").to_string())
            .collect()
    }

    /// Every check a page must pass, and its screenshots.
    async fn check(&self, name: &str) {
        let url = self.client.current_url().await.unwrap().to_string();
        // A 404 page is itself logged as a failed load; nothing else may be.
        let errors: Vec<String> = self
            .console_errors()
            .await
            .into_iter()
            .filter(|e| {
                !(name == "not-found" && e.starts_with(&format!("{url} - ")) && e.contains("404"))
            })
            .collect();
        assert!(errors.is_empty(), "{name}: console errors: {errors:?}");
        let pwned = self
            .client
            .execute("return window.__pwned === undefined;", vec![])
            .await
            .unwrap();
        assert_eq!(pwned, json!(true), "{name}: an attacker's script ran");
        let foreign = self
            .client
            .execute(
                "const o = location.origin;
                 const res = performance.getEntriesByType('resource').map(e => e.name);
                 const links = [...document.querySelectorAll('[href],[src],[action]')]
                   .map(e => e.href || e.src || e.action).filter(u => typeof u === 'string' && u);
                 return res.concat(links).filter(u => !u.startsWith(o + '/') && !u.startsWith('#'));",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(foreign, json!([]), "{name}: links another host");
        self.client
            .execute(&format!("{}; return true;", self.axe), vec![])
            .await
            .unwrap();
        let violations = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {resultTypes: ['violations']}).then(r => done(
                   r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                     .map(v => v.id + ': ' + v.help + ' @ ' + v.nodes.map(n => n.target.join(' ')).join(', '))));",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(violations, json!([]), "{name}: axe-core");
        let dir = screenshots_dir();
        std::fs::write(
            dir.join(format!("{name}-desktop.png")),
            self.client.screenshot().await.unwrap(),
        )
        .unwrap();
        self.client.set_window_size(390, 844).await.unwrap();
        let fits = self
            .client
            .execute(
                "const w = document.documentElement.clientWidth;
                 if (document.documentElement.scrollWidth <= w) return true;
                 return [...document.querySelectorAll('body *')]
                   .filter(e => e.getBoundingClientRect().right > w + 1)
                   .slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id);",
                vec![],
            )
            .await
            .unwrap();
        std::fs::write(
            dir.join(format!("{name}-phone.png")),
            self.client.screenshot().await.unwrap(),
        )
        .unwrap();
        self.client.set_window_size(1280, 900).await.unwrap();
        assert_eq!(fits, json!(true), "{name}: scrolls sideways at 390 px");
    }
}

/// A lead that raised their hand, handed to `rep`; its handoff's id.
async fn lead_for(app: &App, email: &str, rep: i64) -> i64 {
    app.create_contact(
        ContactInput {
            email: email.into(),
            first_name: Some(PAYLOAD_FIRST.into()),
            last_name: Some(PAYLOAD_LAST.into()),
            job_title: Some("Head of \"><svg onload=window.__pwned=3>".into()),
            ..Default::default()
        },
        &Actor::system(),
    )
    .await
    .unwrap();
    let out = app
        .record_touchpoints(
            vec![TouchpointInput {
                email: Some(email.into()),
                kind: Some("demo_request".into()),
                utm_campaign: Some("<b>spring</b>".into()),
                ..Default::default()
            }],
            &Actor::system(),
        )
        .await
        .unwrap();
    let hid = out[0].handoff_id.expect("the demo request makes an MQL");
    let card = app.handoff_card(hid).await.unwrap();
    if card.handoff.assignee_id != Some(rep) {
        app.reassign_handoff(
            hid,
            smarketing_app::handoffs::ReassignInput {
                user_id: rep,
                reason: "the browser test's lead".into(),
            },
            &Actor::system(),
        )
        .await
        .unwrap();
    }
    hid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_teams_work_the_loop_in_a_real_browser() {
    let Some(driver) = chromedriver().await else {
        return;
    };
    let Some(axe) = axe_source() else { return };
    let db = smarketing_store::testing::sqlite().await;
    let app = App::new(db.store.clone(), Clock::System);
    app.prepare().await.unwrap();
    let (_, admin) = app
        .generate_demo(
            7,
            smarketing_app::demo::DemoSize {
                accounts: 60,
                contacts: 300,
                ..Default::default()
            },
            &smarketing_app::import::Quiet,
        )
        .await
        .unwrap();
    let logins = app.demo_credentials(&admin, None).await.unwrap().logins;
    let login = |profile: &str| {
        let l = logins.iter().find(|l| l.profile == profile).unwrap();
        (l.email.clone(), l.password.clone())
    };
    let users = app.users().await.unwrap();
    let ana = users
        .iter()
        .find(|u| u.email == login("sales rep").0)
        .unwrap();
    // A new SLA version (one more attempt agreed), awaiting both leads.
    let (_, playbook) = app.playbook().await.unwrap();
    let mut changed = (*playbook).clone();
    changed.sla.attempts += 1;
    app.import_playbook(
        &changed.to_toml(),
        "test",
        Some("one more attempt"),
        &Actor::system(),
    )
    .await
    .unwrap();
    let pending = app.agreements().await.unwrap().last().unwrap().version;
    let first = lead_for(&app, "first.lead@prospect.io", ana.id).await;
    let second = lead_for(&app, "second.lead@prospect.io", ana.id).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = smarketing_server::router(AppState::new(app.clone(), 64 * 1024));
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    let origin = format!("http://{addr}");
    let b = Session::open(&driver, &origin, &axe).await;

    // The rep: to the sign-in page and back to the queue.
    b.goto("/queue").await;
    assert_eq!(b.path().await, "/sign-in?next=%2Fqueue");
    b.check("sign-in").await;
    let (email, password) = login("sales rep");
    b.fill("#email", &email).await;
    b.fill("#password", &password).await;
    b.click("form[action='/sign-in'] button").await;
    assert_eq!(b.path().await, "/queue");
    let html = b.html().await;
    assert!(html.contains(&format!("/queue/{first}/attempt")), "{html}");
    assert!(html.contains(&format!("/queue/{second}/reject")));
    b.check("queue").await;

    // The reason most given this quarter, and how often, before.
    let (_, playbook) = app.playbook().await.unwrap();
    let reason = &playbook.rejection_reasons[0];
    b.goto("/").await;
    b.check("team-revenue-rep").await;
    b.goto("/queue").await;

    b.click(&format!("form[action='/queue/{first}/attempt'] button"))
        .await;
    assert!(b.html().await.contains("Attempt logged."));
    // The card says why the lead is here; actions work from it too.
    b.goto(&format!("/handoffs/{first}")).await;
    assert!(b.html().await.contains("Why this lead is an MQL"));
    b.check("handoff-card").await;
    b.goto("/queue").await;
    b.choose(&format!("#h{second}-reason"), &reason.code).await;
    b.fill(&format!("#h{second}-note"), "asked for a call next year")
        .await;
    b.click(&format!("form[action='/queue/{second}/reject'] button"))
        .await;
    assert!(b.html().await.contains("Rejected."));
    let card = app.handoff_card(second).await.unwrap();
    assert_eq!(
        card.handoff.reason_code.as_deref(),
        Some(reason.code.as_str())
    );
    b.sign_out().await;

    // Marketing sees the rejection reason on Team Revenue.
    let (email, password) = login("marketing lead");
    b.sign_in(&email, &password).await;
    assert_eq!(b.path().await, "/");
    // The page answers at once with the figures it has and their age;
    // the newer ones, computed in the background, show on a reload.
    let mut html = b.html().await;
    for _ in 0..100 {
        if !html.contains("newer figures are being computed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        b.goto("/").await;
        html = b.html().await;
    }
    assert!(html.contains("Figures as of"), "{html}");
    assert!(html.contains(&reason.label), "{html}");
    b.check("team-revenue").await;
    // Marketing's lead signs the new SLA version.
    b.goto("/sla").await;
    b.check("sla").await;
    b.click("form[action='/sla/sign'] button").await;
    assert!(b.html().await.contains("Signed for your team."));
    b.sign_out().await;

    // A manager reassigns the rep's other lead.
    let (email, password) = login("sales lead");
    b.sign_in(&email, &password).await;
    b.goto(&format!("/queue?rep={}", ana.id)).await;
    b.check("queue-manager").await;
    b.fill(&format!("#h{first}-why"), "Ana is out this week")
        .await;
    b.click(&format!("form[action='/queue/{first}/reassign'] button"))
        .await;
    assert!(b.html().await.contains("Reassigned."));
    let card = app.handoff_card(first).await.unwrap();
    assert_ne!(card.handoff.assignee_id, Some(ana.id));
    // Sales' lead signs too: the version is in force.
    b.goto("/sla").await;
    b.click("form[action='/sla/sign'] button").await;
    let html = b.html().await;
    assert!(
        html.contains(&format!("Version {pending} — in force")),
        "{html}"
    );
    assert_eq!(app.agreement_in_force().await.unwrap(), Some(pending));
    b.sign_out().await;

    // An admin previews a lower MQL threshold, then saves it: the
    // preview's count is what the change does.
    let (email, password) = login("admin");
    b.sign_in(&email, &password).await;
    b.goto("/playbook").await;
    b.check("playbook").await;
    let fit = playbook.scoring.mql_fit_min - 10;
    b.fill("#fit-min", &fit.to_string()).await;
    b.click("form[action='/playbook'] button").await;
    let would: u64 = b
        .client
        .find(Locator::Css("#would-meet"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .parse()
        .unwrap();
    b.check("playbook-what-if").await;
    b.fill("#threshold-note", "more MQLs for the quarter").await;
    b.click("form[action='/playbook/threshold'] button").await;
    assert!(b.html().await.contains("Saved as a new version"));
    let (_, now) = app.playbook().await.unwrap();
    assert_eq!(now.scoring.mql_fit_min, fit);
    // Rescored under the new version, the leads the stored scores put
    // over the threshold are the ones the preview counted.
    app.rescore_contacts(&smarketing_app::import::Quiet)
        .await
        .unwrap();
    let mut conn = db.store.acquire().await.unwrap();
    let (over,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM contacts WHERE stage = 'lead' AND merged_into_id IS NULL \
         AND fit_score >= $1 AND engagement_score >= $2",
    )
    .bind(now.scoring.mql_fit_min)
    .bind(now.scoring.mql_engagement_min)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    drop(conn);
    assert!(would > 0, "the lower threshold lets some leads through");
    assert_eq!(over as u64, would, "the preview said what the change does");
    b.sign_out().await;

    // A viewer has no queue: 404.
    let (email, password) = login("viewer");
    b.sign_in(&email, &password).await;
    b.goto("/queue").await;
    assert!(b.html().await.contains("Not found"));
    b.check("not-found").await;
    b.client.close().await.unwrap();
}
