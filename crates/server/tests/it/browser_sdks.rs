//! The browser SDKs of Segment (analytics-next) and RudderStack
//! (analytics-js), unchanged, in headless Chromium, pointed at the server:
//! their normal path, their retries after an answer lost on the way (a 503
//! after the commit, so the retry must be kept once) and after the source's
//! quota (a real 429 with `Retry-After`), and their delivery on page exit
//! (analytics-next's keepalive batch, RudderStack's beacon). The libraries'
//! files come from npm at the versions pinned in `tests/browser/package.json`
//! (`.ci/run` runs `npm ci` there); a site on another loopback origin serves
//! them and the pages.

use crate::browser::{self, Browser};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use smarketing_app::{App, Clock};
use smarketing_store::ingest::Source;
use smarketing_store::testing;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// One request the server answered, as the SDK sent it.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    status: u16,
    retry_count: Option<String>,
}

/// What passes between the browser and the server: every request is
/// recorded, and the answers to the next `lose` event posts are replaced
/// by a 503 after the server committed them, as a proxy timing out would.
#[derive(Clone, Default)]
struct Wire {
    seen: Arc<Mutex<Vec<Seen>>>,
    lose: Arc<AtomicUsize>,
    /// Events the source sends from a server just before the page's first
    /// post reaches it, to empty its bucket at that very moment.
    drain: Arc<Mutex<Option<(App, Source, String)>>>,
}

impl Wire {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn watch(State(wire): State<Wire>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let retry_count = req
        .headers()
        .get("x-retry-count")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let drain = (method == Method::POST)
        .then(|| wire.drain.lock().unwrap().take())
        .flatten();
    if let Some((app, source, batch)) = drain {
        app.ingest(&source, batch.as_bytes(), None).await.unwrap();
    }
    let mut res = next.run(req).await;
    if method == Method::POST
        && res.status() == StatusCode::OK
        && wire
            .lose
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    {
        // The server's own headers (CORS among them) stay, as a proxy
        // passing an error on would keep them.
        *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    wire.seen.lock().unwrap().push(Seen {
        method,
        path,
        status: res.status().as_u16(),
        retry_count,
    });
    res
}

/// The npm packages' folder, or `None` after saying how to install it.
fn node_modules() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser/node_modules");
    if dir.join("@segment/analytics-next").is_dir()
        && dir.join("@rudderstack/analytics-js").is_dir()
    {
        return Some(dir);
    }
    testing::skipped(
        "the browser SDK tests",
        "run `npm ci --prefix crates/server/tests/browser`",
    );
    None
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Sdk {
    Segment,
    RudderStack,
}

/// Delivering while the page stays, or on leaving it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Leave {
    Stay,
    Exit,
}

/// The page `name` that loads `sdk`, sends a page view, an identify with
/// the e-mail `{name}@example.com` and a "Demo Requested" track, and (on
/// `Exit`) leaves for `/bye` at once.
fn page(
    sdk: Sdk,
    leave: Leave,
    server: SocketAddr,
    site: SocketAddr,
    key: &str,
    name: &str,
) -> String {
    let exit = leave == Leave::Exit;
    let email = format!("{name}@example.com");
    let script = match sdk {
        Sdk::Segment => format!(
            r#"<script src="/sdk/segment/index.js"></script>
<script>
  const analytics = AnalyticsNext.AnalyticsBrowser.load(
    {{ writeKey: "{key}", cdnURL: "http://{site}/cdn",
       cdnSettings: {{ integrations: {{ "Segment.io": {{
         apiKey: "{key}", apiHost: "{server}/v1", protocol: "http" }} }} }} }},
    {exit} ? {{ integrations: {{ "Segment.io": {{ deliveryStrategy: {{
      strategy: "batching", config: {{ size: 100, timeout: 60000 }} }} }} }} }} : {{}});
  (async () => {{
    await analytics.page();
    await analytics.identify("{email}", {{ email: "{email}", firstName: "Seg" }});
    await analytics.track("Demo Requested", {{ plan: "team" }});
    if ({exit}) location.href = "/bye?from={name}";
  }})();
</script>"#
        ),
        Sdk::RudderStack => format!(
            r#"<script src="/sdk/rudderstack/index.js"></script>
<script>
  const analytics = new rudderanalytics.RudderAnalytics();
  analytics.load("{key}", "http://{server}", {{
    configUrl: "http://{server}", useBeacon: {exit}, logLevel: "WARN",
    beaconQueueOptions: {{ flushQueueInterval: 60000 }} }});
  analytics.page();
  analytics.identify("{email}", {{ email: "{email}", firstName: "Rudder" }});
  analytics.track("Demo Requested", {{ plan: "team" }});
  analytics.ready(() => {{ if ({exit}) setTimeout(() => {{ location.href = "/bye?from={name}"; }}, 200); }});
</script>"#
        ),
    };
    format!(
        r#"<!doctype html><html><head><title>Pricing</title></head><body><p>Pricing</p>
{script}</body></html>"#
    )
}

/// The site on another origin: the pages the test puts there, and which
/// of them the browser left (for `/bye`).
struct Site {
    addr: SocketAddr,
    pages: Arc<Mutex<HashMap<String, String>>>,
    visited: Arc<Mutex<Vec<String>>>,
}

/// A site serving the SDKs' files, the pages, and `/bye`.
async fn site(modules: PathBuf) -> Site {
    let pages: Arc<Mutex<HashMap<String, String>>> = Default::default();
    let visited: Arc<Mutex<Vec<String>>> = Default::default();
    let segment = modules.join("@segment/analytics-next/dist/umd");
    let rudder = modules.join("@rudderstack/analytics-js/dist/npm/modern/bundled/umd");
    let files = move |dir: PathBuf| {
        move |axum::extract::Path(file): axum::extract::Path<String>| {
            let dir = dir.clone();
            async move {
                if file.contains('/') || file.contains("..") {
                    return StatusCode::NOT_FOUND.into_response();
                }
                match std::fs::read(dir.join(&file)) {
                    Ok(js) => {
                        ([(header::CONTENT_TYPE, "application/javascript")], js).into_response()
                    }
                    Err(_) => StatusCode::NOT_FOUND.into_response(),
                }
            }
        }
    };
    let (p, v) = (pages.clone(), visited.clone());
    let site = axum::Router::new()
        .route(
            "/sdk/segment/{file}",
            axum::routing::get(files(segment.clone())),
        )
        .route(
            "/cdn/analytics-next/bundles/{file}",
            axum::routing::get(files(segment)),
        )
        .route("/sdk/rudderstack/{file}", axum::routing::get(files(rudder)))
        .route(
            "/page/{name}",
            axum::routing::get(
                move |axum::extract::Path(name): axum::extract::Path<String>| {
                    let p = p.clone();
                    async move {
                        match p.lock().unwrap().get(&name) {
                            Some(html) => Html(html.clone()).into_response(),
                            None => StatusCode::NOT_FOUND.into_response(),
                        }
                    }
                },
            ),
        )
        .route(
            "/bye",
            axum::routing::get(
                move |axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>| {
                    // Which page left: each exit run checks its own.
                    v.lock()
                        .unwrap()
                        .push(q.get("from").cloned().unwrap_or_default());
                    async { Html("<!doctype html><title>Bye</title><p>Bye</p>") }
                },
            ),
        );
    Site {
        addr: browser::serve(site).await,
        pages,
        visited,
    }
}

#[tokio::test]
async fn segment_and_rudderstack_browser_sdks_deliver_unchanged() {
    let Some(chromium) = browser::chromium("the browser SDK tests in headless Chromium") else {
        return;
    };
    let Some(modules) = node_modules() else {
        return;
    };
    for db in testing::all().await {
        let l = db.label;
        let app = App::new(db.store.clone(), Clock::System);
        app.prepare().await.unwrap();
        let wire = Wire::default();
        let server = browser::serve(
            browser::server_router(&app)
                .layer(axum::middleware::from_fn_with_state(wire.clone(), watch)),
        )
        .await;
        let site = site(modules.clone()).await;
        let key = app
            .add_source("Site", &[format!("http://{}", site.addr)])
            .await
            .unwrap()
            .write_key;
        let mut expected = 0;
        for sdk in [Sdk::Segment, Sdk::RudderStack] {
            for leave in [Leave::Stay, Leave::Exit] {
                let name = format!("{sdk:?}-{leave:?}").to_lowercase();
                let email = format!("{name}@example.com");
                site.pages.lock().unwrap().insert(
                    name.clone(),
                    page(sdk, leave, server, site.addr, &key, &name),
                );
                let before = wire.seen().len();
                if leave == Leave::Stay {
                    // One event a second, bursts of ten: ten events from a
                    // server empty the bucket just before the page's first
                    // post arrives, so it gets 429 with Retry-After. And the
                    // first answer that gets through is lost.
                    let source = app.set_source_quota("Site", Some(1), None).await.unwrap();
                    let batch: Vec<String> = (0..10)
                        .map(|i| format!(r#"{{"type":"track","event":"Drained","anonymousId":"server-{name}","messageId":"{name}-{i}"}}"#))
                        .collect();
                    let batch = format!(r#"{{"batch":[{}]}}"#, batch.join(","));
                    *wire.drain.lock().unwrap() = Some((app.clone(), source, batch));
                    expected += 10;
                    wire.lose.store(1, Ordering::SeqCst);
                }
                expected += 3;
                let b = Browser::open(chromium, &format!("http://{}/page/{name}", site.addr));
                let kept = browser::events_kept(&app, expected, 45).await;
                // Anything still on its way (a retry, a second copy) lands
                // in this second, and must change nothing.
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                let console = b.close().await;
                app.set_source_quota("Site", None, None).await.unwrap();
                let seen: Vec<Seen> = wire.seen()[before..].to_vec();
                let kept_now = app.event_counts().await.unwrap().0;
                assert_eq!(
                    (kept, kept_now),
                    (expected, expected),
                    "{l} {name}: page, identify and track kept once\n{seen:#?}\n{console}"
                );
                let posts: Vec<&Seen> = seen.iter().filter(|s| s.method == Method::POST).collect();
                if sdk == Sdk::Segment && leave == Leave::Stay {
                    // analytics-next numbers its retries; the preflight
                    // must have let the header through for them to arrive.
                    assert!(
                        posts.iter().any(|s| s.retry_count.is_some()),
                        "{l} {name}: no X-Retry-Count\n{seen:#?}"
                    );
                }
                match leave {
                    Leave::Stay => assert!(
                        posts.iter().any(|s| s.status == 429)
                            && posts.iter().any(|s| s.status == 503),
                        "{l} {name}: the quota's 429 and the lost answer were retried\n{seen:#?}"
                    ),
                    Leave::Exit => {
                        let batch = match sdk {
                            Sdk::Segment => "/v1/b",
                            Sdk::RudderStack => "/beacon/v1/batch",
                        };
                        assert!(
                            posts.iter().all(|s| s.path == batch && s.status == 200)
                                && !posts.is_empty(),
                            "{l} {name}: delivered on exit by {batch}\n{seen:#?}\n{console}"
                        );
                        assert!(
                            site.visited.lock().unwrap().contains(&name),
                            "{l} {name}: the page was left"
                        );
                    }
                }
                while app.apply_events(100).await.unwrap() > 0 {}
                let mut conn = app.store().acquire().await.unwrap();
                let c = smarketing_store::repo::contact_by_email(&mut conn, &email)
                    .await
                    .unwrap()
                    .unwrap_or_else(|| panic!("{l} {name}: not identified\n{console}"));
                let touches = smarketing_store::repo::touchpoints_of_contact(&mut conn, c.id)
                    .await
                    .unwrap();
                let kinds: Vec<Option<&str>> = touches.iter().map(|t| t.kind.as_deref()).collect();
                assert_eq!(
                    kinds,
                    [Some("page_view"), Some("demo_request")],
                    "{l} {name}: the page view is stitched to the contact"
                );
                assert_eq!(c.stage, smarketing_core::Stage::Mql, "{l} {name}");
            }
        }
    }
}
