//! `bench pages`: how long each page of the workspace takes to answer on
//! the demo company, as the person it is for, through the server's router
//! (session lookup, use cases, rendering) — median and p99 — beside the
//! server's health check on the same router, the floor of any answer.

use anyhow::{Context, Result, bail};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use smarketing_app::demo::DemoSize;
use smarketing_app::{App, Clock};
use std::time::{Duration, Instant};
use tower::ServiceExt;

/// One page's timings.
pub struct PageFigures {
    pub page: String,
    pub who: String,
    pub median: Duration,
    pub p99: Duration,
    /// The first request: a report page computes its figures then.
    pub cold: Duration,
    pub bytes: usize,
}

async fn get(router: &axum::Router, path: &str, cookie: Option<&str>) -> Result<(Duration, usize)> {
    let mut req = Request::get(path);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, format!("smk_session={c}"));
    }
    let started = Instant::now();
    let res = router.clone().oneshot(req.body(Body::empty())?).await?;
    let status = res.status();
    let body = res.into_body().collect().await?.to_bytes();
    let took = started.elapsed();
    if status != StatusCode::OK {
        bail!("{path} answered {status}");
    }
    Ok((took, body.len()))
}

async fn sign_in(router: &axum::Router, email: &str, password: &str) -> Result<String> {
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("email", email)
        .append_pair("password", password)
        .finish();
    let res = router
        .clone()
        .oneshot(
            Request::post("/sign-in")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))?,
        )
        .await?;
    let cookie = res
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .context("signing in set no cookie")?;
    Ok(cookie
        .trim_start_matches("smk_session=")
        .split(';')
        .next()
        .unwrap_or_default()
        .to_string())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Generates the demo company (`contacts`, seed 42) in a scratch SQLite
/// file and times `requests` GETs of every page after a warm-up.
pub async fn pages(contacts: usize, requests: usize) -> Result<(Vec<PageFigures>, PageFigures)> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("pages.db").display());
    let store =
        smarketing_store::Store::connect(&url, 8, smarketing_store::SqliteSync::Normal).await?;
    let app = App::new(store, Clock::System);
    app.prepare().await?;
    let size = DemoSize {
        contacts,
        accounts: (contacts / 7).max(10),
        ..Default::default()
    };
    eprintln!("generating the demo company ({contacts} contacts)…");
    let (_, admin) = app
        .generate_demo(42, size, &smarketing_app::import::Quiet)
        .await?;
    let logins = app.demo_credentials(&admin, None).await?.logins;
    let router = smarketing_server::router(smarketing_server::AppState::new(
        app.clone(),
        smarketing_server::DEFAULT_MAX_BODY_BYTES,
    ));
    let mut cookies = std::collections::HashMap::new();
    for l in &logins {
        cookies.insert(
            l.profile.clone(),
            sign_in(&router, &l.email, &l.password).await?,
        );
    }
    let email = |profile: &str| {
        logins
            .iter()
            .find(|l| l.profile == profile)
            .map(|l| l.email.clone())
            .unwrap_or_default()
    };
    let users = app.users().await?;
    let rep = users
        .iter()
        .find(|u| u.email == email("sales rep"))
        .context("the demo's rep")?;
    let queue = app.queue(&smarketing_app::Actor::user(rep), None).await?;
    let mut plan: Vec<(String, &str)> = vec![
        ("/sign-in".into(), ""),
        ("/".into(), "marketing lead"),
        ("/".into(), "sales rep"),
        ("/queue".into(), "sales rep"),
        (format!("/queue?rep={}", rep.id), "sales lead"),
        ("/sla".into(), "marketing lead"),
        ("/playbook".into(), "viewer"),
    ];
    if let Some(first) = queue.items.first() {
        plan.push((format!("/handoffs/{}", first.handoff.id), "sales rep"));
    }
    let mut out = Vec::new();
    let time =
        async |path: &str, cookie: Option<&str>| -> Result<(Vec<Duration>, Duration, usize)> {
            // Warm-up: the first request of a report page computes its figures.
            let (cold, mut bytes) = get(&router, path, cookie).await?;
            for _ in 0..2 {
                bytes = get(&router, path, cookie).await?.1;
            }
            let mut times = Vec::with_capacity(requests);
            for _ in 0..requests {
                times.push(get(&router, path, cookie).await?.0);
            }
            times.sort_unstable();
            Ok((times, cold, bytes))
        };
    for (path, who) in &plan {
        let cookie = cookies.get(*who).map(String::as_str);
        let (times, cold, bytes) = time(path, cookie).await?;
        out.push(PageFigures {
            page: path.clone(),
            who: if who.is_empty() {
                "anyone".into()
            } else {
                who.to_string()
            },
            median: percentile(&times, 0.5),
            p99: percentile(&times, 0.99),
            cold,
            bytes,
        });
    }
    let (times, cold, bytes) = time("/healthz", None).await?;
    let reference = PageFigures {
        page: "/healthz".into(),
        who: "anyone".into(),
        median: percentile(&times, 0.5),
        p99: percentile(&times, 0.99),
        cold,
        bytes,
    };
    Ok((out, reference))
}
