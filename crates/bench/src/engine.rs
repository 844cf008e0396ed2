//! `smarketing-bench api`: request latency of one API route over real HTTP on
//! loopback, against the configured database, with median and tail figures.

use anyhow::{Context, Result, bail};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use smarketing_app::App;
use smarketing_app::input::UserInput;
use std::time::{Duration, Instant};

/// Latency figures of one run.
pub struct Figures {
    pub requests: usize,
    pub median: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub mean: Duration,
    pub items: usize,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    // Nearest rank, so that p99 of 1,000 samples is the 990th.
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Serves the app on an ephemeral port and times `requests` sequential GETs
/// of `path` over one keep-alive connection, after a warm-up.
pub async fn api(app: App, path: &str, requests: usize, max_body_bytes: usize) -> Result<Figures> {
    if requests == 0 {
        bail!("--requests must be at least 1");
    }
    let user = app
        .ensure_user(UserInput {
            name: "Benchmark".into(),
            email: "bench@smarketing.invalid".into(),
            team: "sales".into(),
            role: "member".into(),
        })
        .await?;
    let token = app.create_token(user.id, "bench").await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let state = smarketing_server::AppState::new(app, max_body_bytes);
    let running = smarketing_server::runtime::start(
        listener,
        state,
        smarketing_server::runtime::Background::none(),
    );

    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let mut items = 0;
    let mut once = async |sender: &mut hyper::client::conn::http1::SendRequest<Empty<Bytes>>| -> Result<Duration> {
        let req = hyper::Request::get(path)
            .header("host", addr.to_string())
            .header("authorization", format!("Bearer {token}"))
            .body(Empty::<Bytes>::new())?;
        sender.ready().await?;
        let started = Instant::now();
        let res = sender.send_request(req).await?;
        let status = res.status();
        let body = res.into_body().collect().await?.to_bytes();
        let took = started.elapsed();
        if !status.is_success() {
            bail!("{path} answered {status}: {}", String::from_utf8_lossy(&body));
        }
        let v: serde_json::Value = serde_json::from_slice(&body).context("the answer is not JSON")?;
        items = v["items"].as_array().map(Vec::len).unwrap_or(0);
        Ok(took)
    };
    for _ in 0..requests.min(50) {
        once(&mut sender).await?;
    }
    let mut times = Vec::with_capacity(requests);
    for _ in 0..requests {
        times.push(once(&mut sender).await?);
    }
    let _ = running.stop().await;
    times.sort_unstable();
    let total: Duration = times.iter().sum();
    Ok(Figures {
        requests,
        median: percentile(&times, 0.5),
        p90: percentile(&times, 0.9),
        p99: percentile(&times, 0.99),
        max: *times.last().expect("non-empty"),
        mean: total / requests as u32,
        items,
    })
}

/// Clock maths throughput: evaluates the three SLA clocks of `handoffs` open
/// handoffs (so 3 × `handoffs` clocks) spread over a year in the demo's
/// company calendar, and returns the wall time of the evaluation alone.
pub fn clocks(
    playbook: &smarketing_core::Playbook,
    handoffs: usize,
    now: jiff::Timestamp,
) -> Result<(usize, Duration)> {
    use smarketing_core::calendar::WorkingCalendar;
    use smarketing_core::sla::{HandoffFacts, evaluate_all};
    let cal = WorkingCalendar::from_spec(&playbook.calendar)
        .map_err(|e| anyhow::anyhow!("the playbook calendar: {e}"))?;
    // Deterministic spread of assignment instants over the past year, some
    // with a first touch, some decided.
    let year_ms = 365 * 86_400_000i64;
    let facts: Vec<HandoffFacts> = (0..handoffs as i64)
        .map(|i| {
            let start = now.as_millisecond() - (i * 7_919_993) % year_ms;
            let at = |ms: i64| jiff::Timestamp::from_millisecond(ms).expect("in range");
            HandoffFacts {
                started_at: Some(at(start)),
                activities: if i % 3 == 0 {
                    vec![(at(start + 3_600_000), false)]
                } else {
                    vec![]
                },
                decided_at: (i % 5 == 0).then(|| at(start + 86_400_000)),
            }
        })
        .collect();
    let started = Instant::now();
    let mut n = 0;
    for f in &facts {
        n += evaluate_all(&playbook.sla, &cal, f, now).len();
    }
    Ok((n, started.elapsed()))
}

/// Scheduler lag: opens `handoffs` hand-raiser leads in a fresh database a
/// week before "now", so that their escalation steps are all overdue, then
/// times how long one scheduler takes to fire every due step.
pub async fn escalations(
    handoffs: usize,
    postgres: Option<&str>,
) -> Result<(u64, u64, Duration, Duration)> {
    use smarketing_app::Actor;
    use smarketing_app::input::TouchpointInput;
    use smarketing_app::{App, Clock};
    let db = scratch(postgres).await;
    let store = db.store.clone();
    let past = smarketing_core::Instant::parse("2026-03-02T09:00:00Z", "t")
        .map_err(|e| anyhow::anyhow!(e))?;
    let app = App::new(store.clone(), Clock::Fixed(past));
    app.prepare().await?;
    for (name, role) in [
        ("Ana Rep", "member"),
        ("Ben Rep", "member"),
        ("Cy Rep", "member"),
        ("Sam Lead", "manager"),
    ] {
        let email = format!(
            "{}@bench.invalid",
            name.split(' ').next().unwrap_or(name).to_lowercase()
        );
        let u = app
            .create_user(
                UserInput {
                    name: name.into(),
                    email,
                    team: "sales".into(),
                    role: role.into(),
                },
                &smarketing_app::Actor::system(),
            )
            .await?;
        // No cap on open handoffs, so every lead is assigned and runs clocks.
        let settings = smarketing_app::routing::RepSettingsInput {
            weight: None,
            capacity: Some(1_000_000),
            calendar: None,
        };
        app.set_rep_settings(u.id, settings, &Actor::system())
            .await?;
    }
    let bar = indicatif::ProgressBar::new(handoffs as u64);
    let setup = Instant::now();
    for chunk in (0..handoffs).collect::<Vec<_>>().chunks(500) {
        let batch = chunk
            .iter()
            .map(|i| TouchpointInput {
                email: Some(format!("lead{i}@bench.invalid")),
                kind: Some("demo_request".into()),
                ..Default::default()
            })
            .collect();
        app.record_touchpoints(batch, &Actor::system()).await?;
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let setup = setup.elapsed();
    let later = App::new(
        store.clone(),
        Clock::Fixed(
            smarketing_core::Instant::parse("2026-03-09T12:00:00Z", "t")
                .map_err(|e| anyhow::anyhow!(e))?,
        ),
    );
    let started = Instant::now();
    let run = later.run_due_escalations(500).await?;
    let took = started.elapsed();
    Ok((run.fired, run.skipped, took, setup))
}

/// Webhook delivery latency to a receiver on loopback: `events` events are
/// queued and delivered; returns each request's time.
pub async fn webhooks(events: usize, postgres: Option<&str>) -> Result<Vec<Duration>> {
    use smarketing_app::{App, Clock, Options};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(|| async { axum::http::StatusCode::NO_CONTENT }),
    );
    tokio::spawn(async move { axum::serve(listener, receiver).await });
    let db = scratch(postgres).await;
    let store = db.store.clone();
    let app = App::new(store.clone(), Clock::System).with_options(Options {
        allow_private_webhooks: true,
        ..Options::default()
    });
    app.prepare().await?;
    let input = smarketing_app::outbox::WebhookInput {
        url: format!("http://{addr}/hook"),
        events: None,
    };
    app.create_webhook(input, &smarketing_app::Actor::system())
        .await?;
    app.send_test_events(events).await?;
    let mut times = Vec::with_capacity(events);
    loop {
        let run = app.deliver_webhooks(500).await?;
        times.extend(run.latencies.iter().copied());
        if run.delivered + run.failed_attempts == 0 {
            break;
        }
    }
    Ok(times)
}

/// A fresh database for a benchmark: a SQLite file, or a schema of its own
/// on the PostgreSQL server at `postgres`; removed when dropped.
async fn scratch(postgres: Option<&str>) -> smarketing_store::testing::TestDb {
    match postgres {
        Some(url) => smarketing_store::testing::postgres_at(url).await,
        None => smarketing_store::testing::sqlite().await,
    }
}
