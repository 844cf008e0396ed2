//! `smarketing-bench ingest`: sustained `POST /v1/batch` throughput over
//! real HTTP on loopback with batches of 100 realistic events, latency at a
//! fixed pace, and the raw ceiling — the same rows inserted straight into
//! the database by the store — in the same run.

use anyhow::{Context, Result};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use smarketing_app::{App, Clock};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Events per request, as the load.
pub const BATCH: usize = 100;
/// Bodies are made before the clock starts for this many events a second
/// at full speed; a run that sends them all says it was capped.
pub const FULL_SPEED_CAP: f64 = 150_000.0;

pub struct IngestFigures {
    pub backend: &'static str,
    pub connections: usize,
    /// Full speed: events acknowledged per second and request latencies.
    pub events: usize,
    pub took: Duration,
    pub full: Latency,
    /// At the fixed pace (events per second asked, achieved).
    pub paced_rate: f64,
    pub paced_achieved: f64,
    pub paced: Latency,
    /// The same rows inserted straight by the store, events per second.
    pub raw_per_s: f64,
    /// Connections the raw ceiling (and the server's writer) commit from.
    pub writers: usize,
    /// Applying kept events (contacts, touchpoints), events per second.
    pub applied_per_s: f64,
    pub rss_after: Option<u64>,
    pub overloaded: usize,
}

pub struct Latency {
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

fn latency(mut v: Vec<Duration>) -> Latency {
    v.sort_unstable();
    let pick = |p: f64| {
        v.get(((p * v.len() as f64).ceil() as usize).clamp(1, v.len().max(1)) - 1)
            .copied()
            .unwrap_or_default()
    };
    Latency {
        p50: pick(0.5),
        p99: pick(0.99),
        max: pick(1.0),
    }
}

const EVENTS: [&str; 6] = [
    "Content Downloaded",
    "Webinar Attended",
    "Email Link Clicked",
    "Signed Up",
    "Pricing Viewed",
    "Demo Requested",
];
const SOURCES: [(&str, &str); 6] = [
    ("google", "cpc"),
    ("linkedin", "paid_social"),
    ("newsletter", "email"),
    ("partner-x", "referral"),
    ("", ""),
    ("", ""),
];

/// One batch body of `BATCH` events: 60 % page, 30 % track, 10 % identify
/// (each a new identity); visitors come back, so ids repeat.
fn batch_body(rng: &mut ChaCha8Rng, n: usize, visitors: &mut usize) -> Vec<u8> {
    let now = jiff::Timestamp::now();
    let items: Vec<Value> = (0..BATCH)
        .map(|i| {
            if rng.random_bool(0.2) {
                *visitors += 1;
            }
            let visitor = rng.random_range(visitors.saturating_sub(2000)..=*visitors);
            let (source, medium) = SOURCES[rng.random_range(0..SOURCES.len())];
            let url = if source.is_empty() {
                format!("https://www.example.com/blog/post-{}", rng.random_range(0..400))
            } else {
                format!(
                    "https://www.example.com/lp/{}?utm_source={source}&utm_medium={medium}&utm_campaign=spring-{}",
                    rng.random_range(0..40),
                    rng.random_range(0..12)
                )
            };
            let context = json!({
                "ip": format!("203.0.113.{}", rng.random_range(1..255)),
                "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36",
                "page": {"url": url, "referrer": "https://www.google.com/", "title": "Example"},
                "library": {"name": "analytics.js", "version": "5.2.0"},
            });
            let at = now
                .checked_sub(jiff::SignedDuration::from_millis(rng.random_range(0..60_000)))
                .expect("in range")
                .to_string();
            let id = format!("bench-{n}-{i}");
            let anon = format!("anon-{visitor}");
            match rng.random_range(0..10) {
                0 => json!({"type": "identify", "messageId": id, "anonymousId": anon,
                            "userId": format!("user-{n}-{i}"), "timestamp": at, "context": context,
                            "traits": {"email": format!("person-{n}-{i}@example.org"),
                                       "firstName": "Alex", "title": "Head of Marketing"}}),
                1..=3 => json!({"type": "track", "messageId": id, "anonymousId": anon,
                                "event": EVENTS[rng.random_range(0..EVENTS.len())],
                                "timestamp": at, "context": context,
                                "properties": {"plan": "pro", "value": rng.random_range(0..500)}}),
                _ => json!({"type": "page", "messageId": id, "anonymousId": anon, "name": "Landing",
                            "timestamp": at, "context": context,
                            "properties": {"path": "/lp", "search": ""}}),
            }
        })
        .collect();
    serde_json::to_vec(&json!({"batch": items, "sentAt": now.to_string()})).expect("JSON")
}

async fn connect(
    addr: std::net::SocketAddr,
) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

/// Sends one batch; true when acknowledged, false on 503 (counted).
async fn send(
    sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    auth: &str,
    body: Bytes,
) -> Result<bool> {
    sender.ready().await?;
    let req = hyper::Request::post("/v1/batch")
        .header("host", "bench")
        .header("authorization", auth)
        .header("content-type", "application/json")
        .body(Full::new(body))?;
    let res = sender.send_request(req).await?;
    let status = res.status();
    let body = res.into_body().collect().await?.to_bytes();
    match status.as_u16() {
        200 => Ok(true),
        503 => Ok(false),
        s => anyhow::bail!("{s}: {}", String::from_utf8_lossy(&body)),
    }
}

/// A prepared app on a scratch database (SQLite file, or a schema of the
/// PostgreSQL server at `postgres`) with a source named `source`.
async fn scratch(
    postgres: Option<&str>,
    source: &str,
) -> Result<(
    smarketing_store::testing::TestDb,
    App,
    smarketing_app::ingest::NewSource,
)> {
    let db = match postgres {
        Some(url) => smarketing_store::testing::postgres_at(url).await,
        None => smarketing_store::testing::sqlite().await,
    };
    let app = App::new(db.store.clone(), Clock::System);
    app.prepare().await?;
    let source = app.add_source(source, &[]).await?;
    // The bench measures the server, not a quota.
    app.set_source_quota(&source.source.name, Some(u32::MAX), Some(u32::MAX))
        .await?;
    Ok((db, app, source))
}

/// The Basic authorization header of a write key.
fn basic(key: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{key}:"))
    )
}

/// The app served on a loopback port until `stop` is sent.
struct Served {
    addr: std::net::SocketAddr,
    running: smarketing_server::runtime::Running,
}

async fn serve(app: &App) -> Result<Served> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let state =
        smarketing_server::AppState::new(app.clone(), smarketing_server::DEFAULT_MAX_BODY_BYTES);
    let running = smarketing_server::runtime::start(
        listener,
        state,
        smarketing_server::runtime::Background::none(),
    );
    Ok(Served { addr, running })
}

impl Served {
    async fn shutdown(self) {
        let _ = self.running.stop().await;
    }
}

/// Runs the benchmark on a scratch database (SQLite file, or a schema of
/// the PostgreSQL server at `postgres`).
pub async fn ingest(
    postgres: Option<&str>,
    seconds: f64,
    connections: usize,
    paced_rate: f64,
    bar: &indicatif::ProgressBar,
) -> Result<IngestFigures> {
    let (db, app, source) = scratch(postgres, "Bench").await?;
    let auth = basic(&source.write_key);
    // Bodies made before the clock starts, so the client costs little.
    let full_batches = (seconds * FULL_SPEED_CAP / BATCH as f64).ceil() as usize;
    let paced_batches = (seconds * paced_rate / BATCH as f64).ceil() as usize;
    bar.set_message(format!(
        "generating {} batches of {BATCH} events",
        full_batches + paced_batches
    ));
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut visitors = 0;
    let bodies: Vec<Bytes> = (0..full_batches + paced_batches)
        .map(|n| Bytes::from(batch_body(&mut rng, n, &mut visitors)))
        .collect();
    let (full_bodies, paced_bodies) = bodies.split_at(full_batches);

    let served = serve(&app).await?;
    let addr = served.addr;
    let overloaded = Arc::new(AtomicUsize::new(0));

    // Full speed: each connection sends the next batch as soon as the last
    // one is acknowledged, until the time is up.
    bar.set_message(format!("full speed, {connections} connections"));
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut tasks = vec![];
    for _ in 0..connections {
        let (next, auth, overloaded) = (next.clone(), auth.clone(), overloaded.clone());
        let bodies: Vec<Bytes> = full_bodies.to_vec();
        tasks.push(tokio::spawn(async move {
            let mut sender = connect(addr).await?;
            let mut times = vec![];
            let mut sent = 0usize;
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                loop {
                    let t = Instant::now();
                    if send(&mut sender, &auth, body.clone()).await? {
                        times.push(t.elapsed());
                        sent += BATCH;
                        break;
                    }
                    overloaded.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            anyhow::Ok((times, sent))
        }));
    }
    let mut full_times = vec![];
    let mut events = 0;
    for t in tasks {
        let (times, sent) = t.await??;
        full_times.extend(times);
        events += sent;
    }
    let took = started.elapsed();

    // A fixed pace: batch k is due at start + k / rate; latency counts from
    // when it was due, so a server that falls behind shows it.
    bar.set_message(format!("paced at {paced_rate:.0} events/s"));
    let per_batch = Duration::from_secs_f64(BATCH as f64 / paced_rate);
    let paced_start = Instant::now() + Duration::from_millis(50);
    let mut tasks = vec![];
    for c in 0..connections {
        let (auth, overloaded) = (auth.clone(), overloaded.clone());
        let mine: Vec<(usize, Bytes)> = paced_bodies
            .iter()
            .enumerate()
            .filter(|(k, _)| k % connections == c)
            .map(|(k, b)| (k, b.clone()))
            .collect();
        tasks.push(tokio::spawn(async move {
            let mut sender = connect(addr).await?;
            let mut times = vec![];
            for (k, body) in mine {
                let due = paced_start + per_batch * k as u32;
                tokio::time::sleep_until(due.into()).await;
                while !send(&mut sender, &auth, body.clone()).await? {
                    overloaded.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                times.push(due.elapsed());
            }
            anyhow::Ok(times)
        }));
    }
    let mut paced_times = vec![];
    for t in tasks {
        paced_times.extend(t.await??);
    }
    let paced_took = paced_start.elapsed();
    let paced_achieved = (paced_bodies.len() * BATCH) as f64 / paced_took.as_secs_f64();
    let rss_after = crate::analytics::rss();
    served.shutdown().await;

    // Applying what was kept: a sample of 20,000 events.
    bar.set_message("applying kept events");
    let t = Instant::now();
    let mut applied = 0;
    while applied < 20_000 {
        let n = app.apply_events(500).await?;
        if n == 0 {
            break;
        }
        applied += n;
    }
    let applied_per_s = applied as f64 / t.elapsed().as_secs_f64();

    // The raw ceiling: the same rows, straight into a fresh events table of
    // the same schema, in transactions of 2,500 rows.
    bar.set_message("raw ceiling");
    let (raw, _raw_app, raw_source) = scratch(postgres, "Raw").await?;
    let source = raw_source.source;
    let received = smarketing_core::Instant::from(jiff::Timestamp::now());
    let mut rows = Vec::with_capacity(events);
    for b in full_bodies.iter().take(events / BATCH) {
        let messages = smarketing_core::ingest::parse_request(b, None, received)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        rows.extend(smarketing_app::ingest::new_events(
            source.id, messages, received,
        ));
    }
    let t = Instant::now();
    // The writer's own path (one transaction per 2,500 rows), with no HTTP,
    // parsing or queue in front of it, from as many connections at once as
    // the server has writers.
    let writers = raw.store.event_writers();
    let rows = Arc::new(rows);
    let mut tasks = vec![];
    for w in 0..writers {
        let (rows, store) = (rows.clone(), raw.store.clone());
        tasks.push(tokio::spawn(async move {
            for chunk in rows.chunks(2_500).skip(w).step_by(writers) {
                smarketing_store::ingest::keep_events(&store, &[chunk])
                    .await
                    .context("raw commit")?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let raw_per_s = rows.len() as f64 / t.elapsed().as_secs_f64();

    Ok(IngestFigures {
        backend: db.label,
        connections,
        events,
        took,
        full: latency(full_times),
        paced_rate,
        paced_achieved,
        paced: latency(paced_times),
        raw_per_s,
        writers,
        applied_per_s,
        rss_after,
        overloaded: overloaded.load(Ordering::Relaxed),
    })
}

pub struct CrashFigures {
    pub backend: &'static str,
    /// Page and track events applied cleanly, and the touchpoints there are.
    pub touch_events: i64,
    pub touchpoints: i64,
    pub batches: usize,
    pub events: usize,
    pub acknowledged: usize,
    pub kills: usize,
    pub stored: usize,
    pub duplicates: usize,
    pub missing: usize,
    pub retries: usize,
    pub integrity: Option<String>,
}

/// The crash test: a `smarketing serve` child process takes batches with
/// unique messageIds while it is killed with SIGKILL `kills` times at random
/// moments and restarted; the client retries every batch until it is
/// acknowledged. Then every acknowledged event must be stored exactly once.
pub async fn crash(
    postgres: Option<&str>,
    kills: usize,
    batches: usize,
    bar: &indicatif::ProgressBar,
) -> Result<CrashFigures> {
    let (db, app, source) = scratch(postgres, "Crash").await?;
    let key = source.write_key.clone();
    let exe = crate::product_binary()?;
    let url = db.url.clone();
    let start_server = move || -> Result<(std::process::Child, String)> {
        use std::io::BufRead;
        let mut child = std::process::Command::new(&exe)
            .arg("--database")
            .arg(&url)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("SMARKETING_CONFIG", "/nonexistent/smarketing.toml")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let mut lines = std::io::BufReader::new(child.stdout.take().expect("piped")).lines();
        let first = lines.next().context("the server printed nothing")??;
        let addr = first
            .rsplit("http://")
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        // Keep reading its output so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Ok((child, addr))
    };
    let (mut child, addr) = start_server()?;
    let addr = Arc::new(std::sync::RwLock::new(addr));

    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut visitors = 0;
    let bodies: Vec<Bytes> = (0..batches)
        .map(|n| Bytes::from(batch_body(&mut rng, n, &mut visitors)))
        .collect();
    let acknowledged = Arc::new(std::sync::Mutex::new(vec![false; batches]));
    let retries = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    // The last tenth of the batches waits until every kill is done, so a
    // fast server cannot take them all before the killer is through.
    let gate = batches - batches / 10;
    let killing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let mut tasks = vec![];
    for _ in 0..4 {
        let (addr, next, done, killing, acknowledged, retries, http, key) = (
            addr.clone(),
            next.clone(),
            done.clone(),
            killing.clone(),
            acknowledged.clone(),
            retries.clone(),
            http.clone(),
            key.clone(),
        );
        let bodies = bodies.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                while i >= gate && killing.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                // Retried until acknowledged: a kill may come before the
                // commit (nothing kept) or after it (the retry is a duplicate).
                loop {
                    let at = addr.read().expect("address").clone();
                    let res = http
                        .post(format!("http://{at}/v1/batch"))
                        .basic_auth(&key, Some(""))
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await;
                    if let Ok(r) = res
                        && r.status().is_success()
                    {
                        acknowledged.lock().expect("acks")[i] = true;
                        done.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }));
    }
    // The killer: SIGKILL at random moments while batches are in flight.
    let mut killed = 0;
    let mut krng = ChaCha8Rng::seed_from_u64(13);
    while killed < kills {
        let wait = krng.random_range(150..900);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        child.kill()?; // SIGKILL on Unix
        child.wait()?;
        killed += 1;
        bar.set_message(format!(
            "kill {killed}/{kills}; {} of {batches} batches acknowledged",
            done.load(Ordering::Relaxed)
        ));
        let (c, a) = start_server()?;
        child = c;
        *addr.write().expect("address") = a;
    }
    killing.store(false, Ordering::Relaxed);
    for t in tasks {
        t.await?;
    }
    child.kill()?;
    child.wait()?;

    let mut conn = db.store.acquire().await?;
    let counts = smarketing_store::ingest::message_id_counts(&mut conn, source.source.id).await?;
    drop(conn);
    let stored: std::collections::HashMap<String, i64> = counts.into_iter().collect();
    let acks = acknowledged.lock().expect("acks").clone();
    let mut missing = 0;
    for (n, acked) in acks.iter().enumerate() {
        if *acked {
            missing += (0..BATCH)
                .filter(|i| !stored.contains_key(&format!("bench-{n}-{i}")))
                .count();
        }
    }
    // What the killed servers were applying: the rest applied here, then
    // every page and track event must have made exactly one touchpoint
    // (an apply cut short by a kill rolled back whole, and was redone).
    bar.set_message("applying what is left");
    while app.apply_events(500).await? > 0 {}
    let mut conn = db.store.acquire().await?;
    let (touch_events, touchpoints) =
        smarketing_store::ingest::applied_touch_counts(&mut conn).await?;
    drop(conn);
    Ok(CrashFigures {
        backend: db.label,
        touch_events,
        touchpoints,
        batches,
        events: batches * BATCH,
        acknowledged: acks.iter().filter(|a| **a).count() * BATCH,
        kills: killed,
        stored: stored.len(),
        duplicates: stored.values().filter(|c| **c > 1).count(),
        missing,
        retries: retries.load(Ordering::Relaxed),
        integrity: db.store.integrity_check().await?,
    })
}

/// One minute of the soak run.
pub struct SoakMinute {
    pub minute: usize,
    /// Events acknowledged in the minute.
    pub events: usize,
    pub p99: Duration,
    /// Resident memory of the process (server, applier and client) at its end.
    pub rss: Option<u64>,
    /// Kept events not yet applied (at most; see `unapplied_span`).
    pub backlog: i64,
}

/// Memory under sustained load: `rate` events/s for `minutes`, paced over
/// `connections`, bodies made as they are sent (nothing pre-built), with
/// the event applier running as in `serve`; one line per minute.
pub async fn soak(
    postgres: Option<&str>,
    minutes: usize,
    rate: f64,
    connections: usize,
    mut report: impl FnMut(&SoakMinute),
) -> Result<()> {
    let (_db, app, source) = scratch(postgres, "Soak").await?;
    let auth = basic(&source.write_key);
    let served = serve(&app).await?;
    let addr = served.addr;
    let applier = tokio::spawn(app.clone().run_event_applier());

    let per_batch = Duration::from_secs_f64(BATCH as f64 / rate);
    let start = Instant::now() + Duration::from_millis(50);
    let end = start + Duration::from_secs(60 * minutes as u64);
    let window: Arc<std::sync::Mutex<Vec<Duration>>> = Default::default();
    let mut tasks = vec![];
    for c in 0..connections {
        let (auth, window) = (auth.clone(), window.clone());
        tasks.push(tokio::spawn(async move {
            let mut sender = connect(addr).await?;
            let mut rng = ChaCha8Rng::seed_from_u64(c as u64);
            let mut visitors = c * 1_000_000_000;
            for k in 0.. {
                let n = k * connections + c;
                let due = start + per_batch * n as u32;
                if due >= end {
                    break;
                }
                let body = Bytes::from(batch_body(&mut rng, n, &mut visitors));
                tokio::time::sleep_until(due.into()).await;
                while !send(&mut sender, &auth, body.clone()).await? {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                window.lock().expect("window").push(due.elapsed());
            }
            anyhow::Ok(())
        }));
    }
    for minute in 1..=minutes {
        tokio::time::sleep_until((start + Duration::from_secs(60 * minute as u64)).into()).await;
        let times = std::mem::take(&mut *window.lock().expect("window"));
        let events = times.len() * BATCH;
        // Not a count: counting millions of rows each minute would itself
        // stall the server the run measures.
        let mut conn = app.store().acquire().await?;
        let backlog = smarketing_store::ingest::unapplied_span(&mut conn).await?;
        drop(conn);
        report(&SoakMinute {
            minute,
            events,
            p99: latency(times).p99,
            rss: crate::analytics::rss(),
            backlog,
        });
    }
    for t in tasks {
        t.await??;
    }
    applier.abort();
    served.shutdown().await;
    Ok(())
}
