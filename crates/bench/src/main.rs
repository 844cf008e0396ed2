//! `smarketing-bench`: the measurements behind the figures in
//! `docs/measuring.md`. It lives apart from the product so the shipped
//! `smarketing` binary carries none of its dependencies; each command prints
//! its figures beside the reference it is compared with.

mod analytics;
mod engine;
mod ingest;
mod pages;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use smarketing_app::{App, Clock};
use smarketing_store::Store;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "smarketing-bench",
    about = "Smarketing's benchmarks: each prints its figures beside its reference"
)]
struct Cli {
    /// Database of the commands that read an existing one (`clocks` takes
    /// its playbook, `api` its rows).
    #[arg(long, global = true, default_value = "sqlite://./smarketing-demo.db")]
    database: String,
    #[command(subcommand)]
    command: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// The workspace's pages: median and p99 answer time of each, as the
    /// person it is for, on a freshly generated demo company, beside the
    /// health check on the same router.
    Pages {
        /// Contacts of the generated company (the demo's default).
        #[arg(long, default_value_t = 20_000)]
        contacts: usize,
        #[arg(long, default_value_t = 50)]
        requests: usize,
    },
    /// Sign-in's cost: the median time of hashing and of checking a
    /// password (Argon2id, 19 MiB, 2 passes, 1 lane), beside checking an API
    /// token (one SHA-256), on one core.
    Passwords {
        #[arg(long, default_value_t = 21)]
        runs: usize,
    },
    /// SLA clock maths: evaluate the clocks of many open handoffs in the
    /// playbook's working calendar and print clocks per second.
    Clocks {
        /// Open handoffs (each has three clocks).
        #[arg(long, default_value_t = 333_334)]
        handoffs: usize,
    },
    /// Scheduler lag: open leads a week back in a scratch database, then time
    /// firing every overdue escalation step (about three per lead).
    Escalations {
        #[arg(long, default_value_t = 3_400)]
        handoffs: usize,
        /// Run on a scratch schema of this PostgreSQL server instead of a
        /// scratch SQLite file (postgres://user@host/db).
        #[arg(long)]
        postgres: Option<String>,
    },
    /// Event ingestion: sustained POST /v1/batch throughput (batches of 100
    /// events) over loopback HTTP, latency at a fixed pace, and the raw
    /// ceiling of the same rows inserted straight into the database.
    Ingest {
        /// Seconds at full speed (the paced run sends as many seconds' worth).
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        #[arg(long, default_value_t = 8)]
        connections: usize,
        /// Events per second of the paced run.
        #[arg(long, default_value_t = 25_000.0)]
        paced_rate: f64,
        /// Run on a scratch schema of this PostgreSQL server.
        #[arg(long)]
        postgres: Option<String>,
    },
    /// Memory under sustained load: paced batches for some minutes, with
    /// the event applier running as in `serve`; RSS printed every minute.
    Soak {
        #[arg(long, default_value_t = 10)]
        minutes: usize,
        /// Events per second.
        #[arg(long, default_value_t = 25_000.0)]
        rate: f64,
        #[arg(long, default_value_t = 8)]
        connections: usize,
        /// Run on a scratch schema of this PostgreSQL server.
        #[arg(long)]
        postgres: Option<String>,
    },
    /// The crash test: a served smarketing process is killed with SIGKILL
    /// at random moments and restarted while a client sends batches with
    /// unique messageIds and retries each until acknowledged; then every
    /// acknowledged event must be stored exactly once.
    Crash {
        #[arg(long, default_value_t = 8)]
        kills: usize,
        /// Batches of 100 events to send.
        #[arg(long, default_value_t = 2_000)]
        batches: usize,
        /// Run on a scratch schema of this PostgreSQL server.
        #[arg(long)]
        postgres: Option<String>,
    },
    /// Webhook delivery latency to a receiver on loopback (p50, p99).
    Webhooks {
        #[arg(long, default_value_t = 2_000)]
        events: usize,
        /// Keep the outbox on a scratch schema of this PostgreSQL server.
        #[arg(long)]
        postgres: Option<String>,
    },
    /// `attribution --paths` on a seeded paths file of this many distinct
    /// paths (generated once): Markov order 1 in process and as a process.
    Paths {
        #[arg(long, default_value_t = 640_000)]
        rows: usize,
        #[arg(long, default_value = "smarketing-bench-paths.csv")]
        file: PathBuf,
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Reports on the demo company at scale (generated once into a SQLite
    /// file): load time and peak memory, then each report in memory.
    Reports {
        #[arg(long, default_value_t = 1_000_000)]
        contacts: usize,
        #[arg(long, default_value = "smarketing-bench-1m.db")]
        file: PathBuf,
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Time GET requests of one API route against the configured database.
    Api {
        /// The route to request.
        #[arg(long, default_value = "/api/v1/contacts?stage=mql")]
        path: String,
        #[arg(long, default_value_t = 2_000)]
        requests: usize,
    },
}

/// The `smarketing` binary beside this one (both are built into one
/// target directory): the crash test serves it, `paths` times it.
pub fn product_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let product = exe.with_file_name("smarketing");
    anyhow::ensure!(
        product.exists(),
        "{} is missing: build the product first (`cargo build --release -p smarketing`, or without --release for a debug bench)",
        product.display()
    );
    Ok(product)
}

async fn open(database: &str) -> Result<App> {
    let store = Store::connect(database, 8, smarketing_store::SqliteSync::Normal)
        .await
        .with_context(|| format!("opening the database {database}"))?;
    let app = App::new(store, Clock::System);
    app.prepare().await.context("preparing the database")?;
    Ok(app)
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(cli.command, cli.database))
}

async fn run(bench: Bench, database: String) -> Result<()> {
    match bench {
        Bench::Escalations { handoffs, postgres } => {
            let (fired, skipped, took, setup) =
                engine::escalations(handoffs, postgres.as_deref()).await?;
            println!(
                "{handoffs} leads opened in {:.2} s; then {} overdue escalation steps ({fired} fired, {skipped} moot) drained in {:.3} s: {:.0} steps/s",
                setup.as_secs_f64(),
                fired + skipped,
                took.as_secs_f64(),
                (fired + skipped) as f64 / took.as_secs_f64()
            );
            Ok(())
        }
        Bench::Paths { rows, file, runs } => {
            let f = analytics::paths(&file, rows, runs)?;
            println!(
                "paths file: {} distinct paths, {:.1} MB ({})",
                f.rows,
                f.bytes as f64 / 1e6,
                file.display()
            );
            println!(
                "Markov order 1, parse included, median of {runs}: {:.3} s in process (parse alone {:.3} s); `smarketing attribution --paths` wall {:.3} s",
                f.in_process.as_secs_f64(),
                f.parse.as_secs_f64(),
                f.cli_wall.as_secs_f64()
            );
            println!(
                "exactness: |P - conversions/journeys| / P = {:.1e}; |sum of credit - conversions| / conversions = {:.1e}",
                f.self_check, f.sum_check
            );
            println!(
                "reference (the issue's, 2 cores): ChannelAttribution Markov order 1 1.9 s, a Monte-Carlo estimate off by up to 12 % per channel; target < 0.2 s"
            );
            Ok(())
        }
        Bench::Reports {
            contacts,
            file,
            runs,
        } => {
            let bar = smarketing_app::import::Bar::new();
            let f = analytics::reports(&file, contacts, runs, &bar).await?;
            bar.0.finish_and_clear();
            if let Some(g) = f.generated {
                println!(
                    "generated the demo company at scale in {:.1} s",
                    g.as_secs_f64()
                );
            }
            println!(
                "loaded {} contacts, {} touchpoints, {} stage changes, {} deals from {} in {:.2} s; peak RSS during the load {}",
                f.contacts,
                f.touches,
                f.changes,
                f.deals,
                file.display(),
                f.load.as_secs_f64(),
                f.peak_rss_load
                    .map(|b| format!("{:.0} MB", b as f64 / 1e6))
                    .unwrap_or_else(|| "unknown".into())
            );
            let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
            println!("in memory, median of {runs} runs (target; DuckDB reference from the issue):");
            println!(
                "  ten rule-based models together  {:>8.1} ms  (< 100 ms; DuckDB 1.1 s)",
                ms(f.heuristics)
            );
            println!(
                "  funnel by source                {:>8.1} ms  (< 20 ms; DuckDB 0.1 s)",
                ms(f.funnel)
            );
            println!(
                "  time in stage p50/p90           {:>8.1} ms  (< 50 ms; DuckDB 0.4 s)",
                ms(f.time_in_stage)
            );
            println!(
                "  Markov order 3                  {:>8.1} ms  (< 200 ms)",
                ms(f.markov3)
            );
            println!(
                "  Shapley                         {:>8.1} ms  (DuckDB with Shapley 2.5 s)",
                ms(f.shapley)
            );
            match &f.duckdb {
                Ok(d) => println!(
                    "DuckDB on the same rows in this run (load excluded): funnel by source {:.1} ms, time in stage median/p90 by source {:.1} ms, first/last/linear/U-shaped/time-decay credit of won deals by channel in one query {:.1} ms",
                    ms(d.funnel),
                    ms(d.time_in_stage),
                    ms(d.attribution)
                ),
                Err(why) => println!("DuckDB reference {why}"),
            }
            println!(
                "through the app: first funnel request {:.1} ms (loads the dataset), repeated on unchanged data {:.3} ms (cache)",
                ms(f.report_first),
                ms(f.report_cached)
            );
            Ok(())
        }
        Bench::Soak {
            minutes,
            rate,
            connections,
            postgres,
        } => {
            println!(
                "soak: {rate:.0} events/s in batches of {} over {connections} connections for {minutes} min, event applier running",
                ingest::BATCH
            );
            ingest::soak(
                postgres.as_deref(),
                minutes.max(1),
                rate.max(100.0),
                connections.max(1),
                |m| {
                    println!(
                        "  minute {:>3}: {:>9} events acknowledged, p99 from due time {:>7.1} ms, RSS {}, kept but not yet applied at most {}",
                        m.minute,
                        m.events,
                        m.p99.as_secs_f64() * 1e3,
                        m.rss
                            .map_or("unknown".into(), |b| format!("{} MB", b >> 20)),
                        m.backlog
                    )
                },
            )
            .await?;
            Ok(())
        }
        Bench::Ingest {
            seconds,
            connections,
            paced_rate,
            postgres,
        } => {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            let f = ingest::ingest(
                postgres.as_deref(),
                seconds,
                connections.max(1),
                paced_rate.max(100.0),
                &bar,
            )
            .await?;
            bar.finish_and_clear();
            let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
            let rate = f.events as f64 / f.took.as_secs_f64();
            println!(
                "{}: POST /v1/batch, {} events per request, {} connections over loopback",
                f.backend,
                ingest::BATCH,
                f.connections
            );
            let capped = f.events as f64 >= seconds * ingest::FULL_SPEED_CAP;
            println!(
                "  full speed: {} events acknowledged in {:.2} s = {:.0} events/s{}; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                f.events,
                f.took.as_secs_f64(),
                rate,
                if capped {
                    " (every pre-built body sent: the client was the limit)"
                } else {
                    ""
                },
                ms(f.full.p50),
                ms(f.full.p99),
                ms(f.full.max)
            );
            println!(
                "  paced at {:.0} events/s (achieved {:.0}): latency from due time p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                f.paced_rate,
                f.paced_achieved,
                ms(f.paced.p50),
                ms(f.paced.p99),
                ms(f.paced.max)
            );
            println!(
                "  raw ceiling (same rows, store straight to the database, 2,500 per transaction, {} connection{} as the server has writers): {:.0} events/s; ratio {:.2}",
                f.writers,
                if f.writers == 1 { "" } else { "s" },
                f.raw_per_s,
                rate / f.raw_per_s
            );
            println!(
                "  applying kept events (contacts, stitching, touchpoints): {:.0} events/s",
                f.applied_per_s
            );
            println!(
                "  503 answers (retried): {}; RSS after the run {}",
                f.overloaded,
                f.rss_after
                    .map(|b| format!("{:.0} MB", b as f64 / 1e6))
                    .unwrap_or_else(|| "unknown".into())
            );
            println!("  target (issue 5): 50,000 events/s; p99 < 50 ms at 25,000 events/s");
            Ok(())
        }
        Bench::Crash {
            kills,
            batches,
            postgres,
        } => {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            let f = ingest::crash(postgres.as_deref(), kills, batches.max(1), &bar).await?;
            bar.finish_and_clear();
            println!(
                "{}: {} events in {} batches sent; {} acknowledged; {} SIGKILLs; {} retried requests",
                f.backend, f.events, f.batches, f.acknowledged, f.kills, f.retries
            );
            println!(
                "  stored {} distinct messageIds; duplicates {}; acknowledged but missing {}; integrity check: {}",
                f.stored,
                f.duplicates,
                f.missing,
                f.integrity
                    .as_deref()
                    .unwrap_or("not applicable (PostgreSQL)")
            );
            println!(
                "  applied: {} page and track events made {} touchpoints{}",
                f.touch_events,
                f.touchpoints,
                if f.touch_events == f.touchpoints {
                    " (one each)"
                } else {
                    " (NOT one each)"
                }
            );
            let pass = f.duplicates == 0
                && f.missing == 0
                && f.touch_events > 0
                && f.touch_events == f.touchpoints
                && f.integrity.as_deref().is_none_or(|i| i == "ok");
            println!("  {}", if pass { "PASS" } else { "FAIL" });
            if !pass {
                anyhow::bail!("the crash test failed");
            }
            Ok(())
        }
        Bench::Webhooks { events, postgres } => {
            let mut times = engine::webhooks(events, postgres.as_deref()).await?;
            times.sort_unstable();
            let pick = |p: f64| {
                times[((p * times.len() as f64).ceil() as usize).clamp(1, times.len()) - 1]
                    .as_secs_f64()
                    * 1e3
            };
            println!(
                "{} signed webhook deliveries to a loopback receiver: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
                times.len(),
                pick(0.5),
                pick(0.99),
                pick(1.0)
            );
            Ok(())
        }
        Bench::Passwords { runs } => {
            use smarketing_app::sign_in::{hash_password, verify_password};
            let timed = |f: &dyn Fn()| {
                let mut xs = Vec::with_capacity(runs);
                for _ in 0..runs.max(1) {
                    let started = std::time::Instant::now();
                    f();
                    xs.push(started.elapsed());
                }
                analytics::median(xs)
            };
            let hash = hash_password("correct horse battery staple");
            let hashing = timed(&|| {
                hash_password("correct horse battery staple");
            });
            let checking = timed(&|| {
                assert!(verify_password("correct horse battery staple", &hash));
            });
            let token = timed(&|| {
                std::hint::black_box(smarketing_app::people::hash_token(
                    "smk_0123456789abcdef0123456789abcdef0123456789abcdef",
                ));
            });
            println!(
                "Argon2id (m=19456 KiB, t=2, p=1), median of {runs}: hash {:.1} ms, check {:.1} ms; an API token's SHA-256 {:.2} µs ({:.0}x)",
                hashing.as_secs_f64() * 1e3,
                checking.as_secs_f64() * 1e3,
                token.as_secs_f64() * 1e6,
                checking.as_secs_f64() / token.as_secs_f64().max(1e-9)
            );
            Ok(())
        }
        Bench::Clocks { handoffs } => {
            let app = open(&database).await?;
            let (_, playbook) = app.playbook().await?;
            let now = jiff::Timestamp::now();
            let (n, took) =
                tokio::task::spawn_blocking(move || engine::clocks(&playbook, handoffs, now))
                    .await??;
            println!(
                "{n} SLA clocks of {handoffs} open handoffs evaluated in {:.3} s: {:.0} clocks/s on one core (the playbook's calendar, with holidays and DST)",
                took.as_secs_f64(),
                n as f64 / took.as_secs_f64()
            );
            Ok(())
        }
        Bench::Pages { contacts, requests } => {
            let (pages, reference) = pages::pages(contacts, requests).await?;
            let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
            println!(
                "workspace pages on a generated demo company of {contacts} contacts ({requests} requests each after 3 warm-ups, the first of which is `first`; in-process router)"
            );
            for p in pages.iter().chain(std::iter::once(&reference)) {
                println!(
                    "  {:<22} as {:<15} median {:>8.3} ms  p99 {:>8.3} ms  first {:>9.3} ms  {:>7} bytes  ({:.0}× the health check)",
                    p.page,
                    p.who,
                    ms(p.median),
                    ms(p.p99),
                    ms(p.cold),
                    p.bytes,
                    ms(p.median) / ms(reference.median).max(1e-9)
                );
            }
            Ok(())
        }
        Bench::Api { path, requests } => {
            let app = open(&database).await?;
            let f = engine::api(
                app,
                &path,
                requests,
                smarketing_server::DEFAULT_MAX_BODY_BYTES,
            )
            .await?;
            let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
            println!("GET {path} on {} ({} items per page)", database, f.items);
            println!(
                "  {} requests: median {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms, mean {:.3} ms ({:.0} requests/s on one connection)",
                f.requests,
                ms(f.median),
                ms(f.p90),
                ms(f.p99),
                ms(f.max),
                ms(f.mean),
                1e3 / ms(f.mean)
            );
            Ok(())
        }
    }
}
