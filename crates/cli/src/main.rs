//! The `smarketing` command: serve the API, run the demo, migrate, import and
//! export CSV, manage the playbook, users and tokens, print the configuration.

mod bench;
mod bench_analytics;
mod bench_ingest;
mod config;
mod report;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use smarketing_app::demo::DemoSize;
use smarketing_app::export::ExportFormat;
use smarketing_app::import::{ImportError, ImportKind, ImportOptions, Progress};
use smarketing_app::input::UserInput;
use smarketing_app::{App, AppError, Clock};
use smarketing_core::Playbook;
use smarketing_store::Store;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant as WallClock;

#[derive(Parser)]
#[command(
    name = "smarketing",
    version,
    about = "Marketing and sales as one team: one playbook, closed-loop reporting, SLAs"
)]
struct Cli {
    /// Database URL: sqlite://path or postgres://... [default: sqlite://./smarketing.db]
    #[arg(long, global = true, env = "SMARKETING_DATABASE_URL")]
    database: Option<String>,
    /// Configuration file.
    #[arg(
        long,
        global = true,
        default_value = "smarketing.toml",
        env = "SMARKETING_CONFIG"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (JSON API) against the configured database.
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080].
        #[arg(long, env = "SMARKETING_LISTEN")]
        listen: Option<String>,
    },
    /// Create (or reuse) a demo database full of a realistic company, then serve it.
    Demo {
        #[arg(long, env = "SMARKETING_LISTEN")]
        listen: Option<String>,
        /// Seed of the generator: one seed, one company.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Number of contacts to generate.
        #[arg(long, default_value_t = 20_000)]
        contacts: usize,
        /// Number of accounts to generate.
        #[arg(long, default_value_t = 3_000)]
        accounts: usize,
        /// Generate and print the figures, but do not start the server.
        #[arg(long)]
        no_serve: bool,
    },
    /// Apply the embedded migrations and store the default playbook if none exists.
    Migrate,
    /// Import CSV files: a directory, or one file of one kind.
    Import {
        /// A directory with accounts.csv, campaigns.csv, contacts.csv, touchpoints.csv,
        /// stage_changes.csv, deals.csv — or a kind (accounts, campaigns, contacts,
        /// touchpoints, stage-changes, deals) followed by FILE.
        target: String,
        file: Option<PathBuf>,
        /// Import the valid rows and list the rejected ones (default: reject the whole import).
        #[arg(long)]
        skip_invalid: bool,
    },
    /// Export records as CSV (the import format) or JSON.
    Export {
        /// accounts, campaigns, contacts, touchpoints, stage-changes or deals.
        kind: String,
        #[arg(long, default_value = "csv")]
        format: String,
        /// Write here instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// The shared playbook: export, validate, import, list versions, diff.
    Playbook {
        #[command(subcommand)]
        command: PlaybookCommand,
    },
    /// Users of both teams and their API tokens.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Sources that send events (Segment HTTP spec) and their write keys.
    Source {
        #[command(subcommand)]
        command: SourceCommand,
    },
    /// Contacts: merge two records of one person, undo a merge, list merges.
    Contact {
        #[command(subcommand)]
        command: ContactCommand,
    },
    /// Revenue goals per period.
    Goal {
        #[command(subcommand)]
        command: GoalCommand,
    },
    /// The reverse funnel: what a revenue goal needs, stage by stage.
    Funnel {
        #[command(subcommand)]
        command: FunnelCommand,
    },
    /// The service level agreement between the teams.
    Sla {
        #[command(subcommand)]
        command: SlaCommand,
    },
    /// History reports on the database: funnel on cohorts, velocity,
    /// attribution.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Attribution on a ChannelAttribution paths file (columns path,
    /// total_conversions, total_conversion_value, total_null; channels joined
    /// by " > "): one row per channel. Needs no database.
    Attribution {
        /// The paths file (CSV).
        #[arg(long)]
        paths: PathBuf,
        /// first_touch, last_touch, linear, position_based, j_shaped,
        /// inverse_j, markov or shapley.
        #[arg(long, default_value = "markov")]
        model: String,
        /// Markov order, 1 to 4.
        #[arg(long, default_value_t = 1)]
        order: u8,
        /// table, csv or json
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Measure: API latency over real HTTP on loopback (median, p90, p99).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Subcommand)]
enum PlaybookCommand {
    /// Print the playbook in force as TOML.
    Export {
        /// A stored version instead of the latest.
        #[arg(long)]
        version: Option<i64>,
    },
    /// Check a TOML playbook; problems name the line and key.
    Validate { file: PathBuf },
    /// Validate a TOML playbook and store it as a new version.
    Import {
        file: PathBuf,
        /// Who is making the change [default: $USER].
        #[arg(long)]
        author: Option<String>,
        /// What changed and why.
        #[arg(long)]
        note: Option<String>,
    },
    /// List the stored versions.
    Versions,
    /// What changed between two versions.
    Diff { from: i64, to: i64 },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user.
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
        /// marketing or sales
        #[arg(long)]
        team: String,
        /// admin, manager or member
        #[arg(long, default_value = "member")]
        role: String,
    },
    /// Create an API token for a user (printed once; stored hashed).
    Token {
        /// The user's e-mail.
        email: String,
        #[arg(long, default_value = "cli")]
        name: String,
    },
    /// List users.
    List,
}

#[derive(clap::Args)]
struct CohortArgs {
    /// The stage the cohort entered (default lead).
    #[arg(long)]
    stage: Option<String>,
    /// Entered in this period (2026, 2026-Q4, 2026-11); all time if absent.
    #[arg(long)]
    period: Option<String>,
    /// Count later stages reached within this many days of entering.
    #[arg(long)]
    within_days: Option<u32>,
    /// Break down by source_channel, campaign, persona, company_size, region or owner.
    #[arg(long)]
    by: Option<String>,
    /// table, csv or json
    #[arg(long, default_value = "table")]
    format: String,
}

#[derive(Subcommand)]
enum ReportCommand {
    /// Of the contacts that entered a stage, how many reached each later stage.
    Funnel(CohortArgs),
    /// Time in each stage and from the cohort stage to won (p50, p90, mean).
    Velocity(CohortArgs),
    /// Credit of conversions per channel (and campaign) under every model, side by side.
    Attribution {
        /// lead, mql, opportunity or won.
        #[arg(long, default_value = "won")]
        conversion: String,
        /// Comma-separated models, or all.
        #[arg(long, default_value = "all")]
        models: String,
        #[arg(long, default_value_t = 7.0)]
        half_life_days: f64,
        /// Markov order, 1 to 4.
        #[arg(long, default_value_t = 1)]
        order: u8,
        #[arg(long)]
        lookback_days: Option<u32>,
        /// Count every contact of an account towards its deals.
        #[arg(long)]
        account_level: bool,
        #[arg(long)]
        period: Option<String>,
        /// Rows per campaign instead of per channel.
        #[arg(long)]
        campaigns: bool,
        /// table, csv or json
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// The touches behind one deal and each rule-based model's weights.
    Journey {
        #[arg(long)]
        deal: i64,
        /// Comma-separated models, or all.
        #[arg(long, default_value = "all")]
        models: String,
        #[arg(long)]
        account_level: bool,
        /// table, csv or json
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Spend against attributed MQLs, pipeline and revenue: cost per MQL, CAC, ROI.
    Roi {
        #[arg(long, default_value = "linear")]
        model: String,
        #[arg(long, default_value_t = 1)]
        order: u8,
        #[arg(long)]
        period: Option<String>,
        /// Rows per campaign instead of per channel.
        #[arg(long)]
        campaigns: bool,
        /// table, csv or json
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// The revenue goal of a period against revenue won, with pacing.
    Goal {
        #[arg(long)]
        period: String,
        #[arg(long)]
        segment: Option<String>,
        /// table or json
        #[arg(long, default_value = "table")]
        format: String,
    },
}

#[derive(Subcommand)]
enum SourceCommand {
    /// Create a source and print its write key (shown once; stored hashed).
    Add {
        name: String,
        /// An origin whose pages may send events from the browser
        /// (https://www.example.com), repeatable; `*` for any.
        #[arg(long = "origin")]
        origins: Vec<String>,
    },
    /// Every source, with its allowed origins and whether it is revoked.
    List,
    /// Give a source a new write key; the old one stops working.
    Rotate { name: String },
    /// Revoke a source: its write key stops working.
    Revoke { name: String },
}

#[derive(Subcommand)]
enum ContactCommand {
    /// Merge two contacts that are one person. The one further along the
    /// funnel survives (on a tie, the older); the other's touches, ids,
    /// activities, notes and deals move to it.
    Merge { a: i64, b: i64 },
    /// Undo a merge by its id: moved rows and filled fields go back.
    Unmerge { merge_id: i64 },
    /// Every merge a contact took part in.
    Merges { contact_id: i64 },
}

#[derive(Subcommand)]
enum GoalCommand {
    /// Set the revenue goal of a period (2026, 2026-Q4 or 2026-11).
    Set {
        #[arg(long)]
        period: String,
        /// Revenue in whole currency units.
        #[arg(long)]
        revenue: i64,
        /// Share of the revenue marketing sources, in (0, 1].
        #[arg(long, default_value_t = 1.0)]
        marketing_share: f64,
        /// A goal for one segment, dimension=value (region=EMEA,
        /// company_size=mid_market, persona=…, source_channel=…, owner=EMAIL).
        #[arg(long)]
        segment: Option<String>,
    },
    /// The goals of a period: the company's and each segment's.
    List {
        #[arg(long)]
        period: String,
    },
}

#[derive(Subcommand)]
enum FunnelCommand {
    /// Deals, opportunities, SQLs, MQLs and leads needed for a goal, with pacing.
    Reverse {
        #[arg(long)]
        period: String,
        /// Revenue goal in whole currency units (default: the stored goal).
        #[arg(long)]
        goal: Option<i64>,
        #[arg(long)]
        marketing_share: Option<f64>,
        /// Days before the period over which conversion rates are measured.
        #[arg(long, default_value_t = 365)]
        trailing_days: u32,
        /// The funnel of one segment, dimension=value (region=EMEA).
        #[arg(long)]
        segment: Option<String>,
        /// table or json
        #[arg(long, default_value = "table")]
        format: String,
    },
}

#[derive(Subcommand)]
enum SlaCommand {
    /// The agreement versions, their summaries and sign-offs.
    Agreements,
    /// Fire every escalation that is due now, once, and print what happened
    /// (what the server's scheduler does every few seconds).
    Escalate,
    /// Open handoffs now: how many clocks are on track, at risk, breached.
    Status,
    /// Sales compliance by rep, marketing's SLA and the breach ledger.
    Report {
        #[arg(long)]
        period: String,
        /// table or json
        #[arg(long, default_value = "table")]
        format: String,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
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

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print every setting with its documented default.
    Default,
    /// Print the configuration in effect (file, environment and flags applied).
    Show,
}

/// Draws progress with indicatif (hidden when stderr is not a terminal).
struct Bar(ProgressBar);

impl Bar {
    fn new() -> Self {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{msg:40} [{bar:30}] {pos}/{len} ({per_sec}, {eta})")
                .expect("valid template")
                .progress_chars("=> "),
        );
        Bar(bar)
    }
}

impl Progress for Bar {
    fn start(&self, what: &str, rows: u64) {
        self.0.reset();
        self.0.set_length(rows);
        self.0.set_position(0);
        self.0.set_message(what.to_string());
    }
    fn advance(&self, rows: u64) {
        self.0.inc(rows);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let mut cfg = config::load(&cli.config)?;
    if let Some(db) = &cli.database {
        cfg.database_url = db.clone();
    }
    if let Command::Config { command } = &cli.command {
        match command {
            ConfigCommand::Default => print!("{}", config::DEFAULT_TOML),
            ConfigCommand::Show => print!("{}", toml::to_string_pretty(&cfg)?),
        }
        return Ok(());
    }
    if let Command::Playbook {
        command: PlaybookCommand::Validate { file },
    } = &cli.command
    {
        return validate_playbook(file);
    }
    if let Command::Attribution {
        paths,
        model,
        order,
        format,
    } = &cli.command
    {
        return report::paths_attribution(paths, model, *order, format);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&cfg.log)),
        )
        .with_writer(std::io::stderr)
        .init();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(cli, cfg))
}

async fn open(cfg: &config::Config) -> Result<App> {
    let store = Store::connect(
        &cfg.database_url,
        cfg.max_connections,
        cfg.sqlite_synchronous,
    )
    .await
    .with_context(|| format!("opening the database {}", redact(&cfg.database_url)))?;
    let app = App::new(store, Clock::System).with_options(smarketing_app::Options {
        allow_private_webhooks: cfg.allow_private_webhooks,
        event_queue_bytes: cfg.event_queue_mb.saturating_mul(1 << 20),
    });
    app.prepare().await.context("preparing the database")?;
    Ok(app)
}

/// A database URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

async fn run(cli: Cli, mut cfg: config::Config) -> Result<()> {
    match cli.command {
        Command::Serve { listen } => {
            if let Some(l) = listen {
                cfg.listen = l;
            }
            let app = open(&cfg).await?;
            serve(app, &cfg, None).await
        }
        Command::Demo {
            listen,
            seed,
            contacts,
            accounts,
            no_serve,
        } => {
            if let Some(l) = listen {
                cfg.listen = l;
            }
            if cli.database.is_none() && std::env::var("SMARKETING_DATABASE_URL").is_err() {
                cfg.database_url = "sqlite://./smarketing-demo.db".into();
            }
            let started = WallClock::now();
            let app = open(&cfg).await?;
            let size = DemoSize {
                contacts,
                accounts,
                ..DemoSize::default()
            };
            let (summary, admin) = app.generate_demo(seed, size, &Bar::new()).await?;
            let took = started.elapsed();
            let token = app.create_token(admin.id, "demo").await?;
            println!("Smarketing demo company");
            if summary.generated {
                println!("  generated in {:.2} s (seed {seed})", took.as_secs_f64());
            } else {
                println!("  reusing the existing demo data");
            }
            println!(
                "  {} users, {} accounts, {} campaigns, {} contacts, {} touchpoints, {} stage changes, {} handoffs, {} deals, {} activities, {} notes",
                summary.users,
                summary.accounts,
                summary.campaigns,
                summary.contacts,
                summary.touchpoints,
                summary.stage_changes,
                summary.handoffs,
                summary.deals,
                summary.activities,
                summary.notes
            );
            println!("  data:        {}", describe_location(&cfg.database_url));
            println!("  admin:       {} <{}>", admin.name, admin.email);
            println!("  API token:   {token}");
            let write_key = match app.add_source("Demo website", &["*".to_string()]).await {
                Ok(s) => s.write_key,
                Err(smarketing_app::AppError::Conflict { .. }) => {
                    app.rotate_write_key("Demo website").await?
                }
                Err(e) => return Err(e.into()),
            };
            println!(
                "  write key:   {write_key}  (source \"Demo website\"; events to http://{}/v1/track)",
                cfg.listen
            );
            if no_serve {
                return Ok(());
            }
            serve(app, &cfg, Some(token)).await
        }
        Command::Migrate => {
            open(&cfg).await?;
            println!("migrated {}", redact(&cfg.database_url));
            Ok(())
        }
        Command::Import {
            target,
            file,
            skip_invalid,
        } => {
            let app = open(&cfg).await?;
            let opts = ImportOptions { skip_invalid };
            let started = WallClock::now();
            let result = match file {
                None => app.import_dir(Path::new(&target), opts, &Bar::new()).await,
                Some(f) => {
                    let kind: ImportKind = target
                        .parse()
                        .map_err(|e: smarketing_core::Invalid| anyhow!(e.message))?;
                    app.import_file(kind, &f, opts, &Bar::new())
                        .await
                        .map(|r| vec![r])
                }
            };
            let secs = started.elapsed().as_secs_f64();
            match result {
                Ok(reports) => {
                    let mut total = 0;
                    for r in &reports {
                        for e in &r.rejected {
                            eprintln!("skipped {e}");
                        }
                        println!(
                            "{}: {} rows, {} imported, {} skipped",
                            r.file,
                            r.rows,
                            r.rows - r.rejected.len() as u64,
                            r.rejected.len()
                        );
                        total += r.rows;
                    }
                    println!(
                        "{total} rows in {secs:.2} s ({:.0} rows/s)",
                        total as f64 / secs.max(1e-9)
                    );
                    Ok(())
                }
                Err(ImportError::InvalidRows { rejected }) => {
                    for e in &rejected {
                        eprintln!("{e}");
                    }
                    bail!(
                        "{} invalid rows; nothing was imported (use --skip-invalid to import the valid rows)",
                        rejected.len()
                    )
                }
                Err(e) => Err(e.into()),
            }
        }
        Command::Export {
            kind,
            format,
            output,
        } => {
            let kind: ImportKind = kind
                .parse()
                .map_err(|e: smarketing_core::Invalid| anyhow!(e.message))?;
            let format: ExportFormat = format
                .parse()
                .map_err(|e: smarketing_core::Invalid| anyhow!(e.message))?;
            let app = open(&cfg).await?;
            let n = match output {
                Some(path) => {
                    let mut f = std::io::BufWriter::new(
                        std::fs::File::create(&path)
                            .with_context(|| format!("creating {}", path.display()))?,
                    );
                    let n = app.export(kind, format, &mut f).await?;
                    f.flush()?;
                    n
                }
                None => {
                    let stdout = std::io::stdout();
                    let mut lock = stdout.lock();
                    app.export(kind, format, &mut lock).await?
                }
            };
            eprintln!("exported {n} rows");
            Ok(())
        }
        Command::Playbook { command } => playbook(command, &cfg).await,
        Command::Report { command } => {
            let app = open(&cfg).await?;
            match command {
                ReportCommand::Funnel(c) => {
                    let r = app
                        .funnel_report(&cohort_query(&c))
                        .await
                        .map_err(explain)?;
                    report::funnel(&r, &c.format)
                }
                ReportCommand::Velocity(c) => {
                    let r = app
                        .velocity_report(&cohort_query(&c))
                        .await
                        .map_err(explain)?;
                    report::velocity(&r, &c.format)
                }
                ReportCommand::Attribution {
                    conversion,
                    models,
                    half_life_days,
                    order,
                    lookback_days,
                    account_level,
                    period,
                    campaigns,
                    format,
                } => {
                    let p = smarketing_app::reports::AttributionParams {
                        conversion: Some(conversion),
                        models: Some(models),
                        half_life_days: Some(half_life_days),
                        order: Some(order),
                        lookback_days,
                        account_level: Some(account_level),
                        period,
                        campaigns: Some(campaigns),
                    };
                    let r = app.attribution_report(&p).await.map_err(explain)?;
                    report::attribution(&r, campaigns, &format)
                }
                ReportCommand::Journey {
                    deal,
                    models,
                    account_level,
                    format,
                } => {
                    let p = smarketing_app::reports::JourneyParams {
                        models: Some(models),
                        account_level: Some(account_level),
                        ..Default::default()
                    };
                    let r = app.deal_journey(deal, &p).await.map_err(explain)?;
                    report::journey(&r, &format)
                }
                ReportCommand::Roi {
                    model,
                    order,
                    period,
                    campaigns,
                    format,
                } => {
                    let p = smarketing_app::reports::RoiParams {
                        model: Some(model),
                        order: Some(order),
                        period,
                        ..Default::default()
                    };
                    let r = app.roi_report(&p).await.map_err(explain)?;
                    report::roi(&r, campaigns, &format)
                }
                ReportCommand::Goal {
                    period,
                    segment,
                    format,
                } => {
                    let g = app
                        .goal_actual(&period, segment.as_deref())
                        .await
                        .map_err(explain)?;
                    if format == "json" {
                        println!("{}", serde_json::to_string_pretty(&g)?);
                    } else {
                        let p = &g.pacing;
                        println!(
                            "{}{}: won {} of {} ({} deals); expected to date {:.0}; pace {}; projection {}",
                            g.period,
                            g.segment.map(|s| format!(" in {s}")).unwrap_or_default(),
                            g.won_minor / 100,
                            g.revenue_goal_minor / 100,
                            g.won_deals,
                            p.expected_to_date / 100.0,
                            p.pace
                                .map(|x| format!("{:.0} %", x * 100.0))
                                .unwrap_or("-".into()),
                            p.projection
                                .map(|x| format!("{:.0}", x / 100.0))
                                .unwrap_or("-".into()),
                        );
                    }
                    Ok(())
                }
            }
        }
        Command::User { command } => user(command, &cfg).await,
        Command::Source { command } => {
            let app = open(&cfg).await?;
            match command {
                SourceCommand::Add { name, origins } => {
                    let s = app.add_source(&name, &origins).await.map_err(explain)?;
                    println!("source {:?} created", s.source.name);
                    println!("  write key: {}", s.write_key);
                    println!(
                        "  (shown once; Segment and RudderStack clients send it as the write key, with this server as their host)"
                    );
                }
                SourceCommand::List => {
                    for s in app.sources().await.map_err(explain)? {
                        println!(
                            "{}\torigins: {}\t{}",
                            s.name,
                            if s.allowed_origins.is_empty() {
                                "none (servers and apps only)".to_string()
                            } else {
                                s.allowed_origins.join(", ")
                            },
                            if s.revoked_at.is_some() {
                                "revoked"
                            } else {
                                "active"
                            }
                        );
                    }
                }
                SourceCommand::Rotate { name } => {
                    let key = app.rotate_write_key(&name).await.map_err(explain)?;
                    println!("source {name:?}: new write key {key}");
                }
                SourceCommand::Revoke { name } => {
                    app.revoke_source(&name).await.map_err(explain)?;
                    println!("source {name:?} revoked");
                }
            }
            Ok(())
        }
        Command::Contact { command } => {
            let app = open(&cfg).await?;
            let actor = smarketing_app::crm::Actor::system();
            let merges = match command {
                ContactCommand::Merge { a, b } => {
                    let input = smarketing_app::merges::MergeInput {
                        contact_ids: [a, b],
                    };
                    vec![app.merge_contacts(&input, &actor).await.map_err(explain)?]
                }
                ContactCommand::Unmerge { merge_id } => {
                    vec![
                        app.unmerge_contacts(merge_id, &actor)
                            .await
                            .map_err(explain)?,
                    ]
                }
                ContactCommand::Merges { contact_id } => {
                    app.contact_merges(contact_id).await.map_err(explain)?
                }
            };
            for m in &merges {
                println!("{}", merge_lines(m));
            }
            Ok(())
        }
        Command::Goal {
            command:
                GoalCommand::Set {
                    period,
                    revenue,
                    marketing_share,
                    segment,
                },
        } => {
            let app = open(&cfg).await?;
            let minor = smarketing_core::Money::from_major(revenue, "revenue")
                .map_err(|e| anyhow!("--revenue: {}", e.message))?
                .minor();
            let input = smarketing_app::goals::GoalInput {
                revenue_minor: minor,
                marketing_share: Some(marketing_share),
                segment,
            };
            let g = app
                .set_goal(&period, input, &smarketing_app::crm::Actor::system())
                .await
                .map_err(explain)?;
            println!("{}", goal_line(&g));
            Ok(())
        }
        Command::Goal {
            command: GoalCommand::List { period },
        } => {
            let app = open(&cfg).await?;
            for g in app.goals(&period).await.map_err(explain)? {
                println!("{}", goal_line(&g));
            }
            Ok(())
        }
        Command::Funnel {
            command:
                FunnelCommand::Reverse {
                    period,
                    goal,
                    marketing_share,
                    trailing_days,
                    segment,
                    format,
                },
        } => {
            let app = open(&cfg).await?;
            let q = smarketing_app::goals::ReverseFunnelQuery {
                goal_minor: goal
                    .map(|g| smarketing_core::Money::from_major(g, "goal").map(|m| m.minor()))
                    .transpose()
                    .map_err(|e| anyhow!("--goal: {}", e.message))?,
                marketing_share,
                trailing_days: Some(trailing_days),
                segment,
                ..Default::default()
            };
            let r = app.reverse_funnel(&period, &q).await.map_err(explain)?;
            match format.as_str() {
                "json" => println!("{}", serde_json::to_string_pretty(&r)?),
                "table" => print_reverse_funnel(&r),
                other => bail!("--format: {other:?} is not a format; use table or json"),
            }
            Ok(())
        }
        Command::Sla {
            command: SlaCommand::Status,
        } => {
            let app = open(&cfg).await?;
            let f = smarketing_app::handoffs::HandoffFilter {
                decision: Some("open".into()),
                ..Default::default()
            };
            let mut counts: std::collections::BTreeMap<(String, String), u64> = Default::default();
            let mut cursor = None;
            let mut open_handoffs = 0;
            loop {
                let page = app
                    .handoffs(
                        &f,
                        &smarketing_app::crm::Paging {
                            cursor: cursor.clone(),
                            limit: Some(500),
                        },
                    )
                    .await?;
                for v in &page.items {
                    open_handoffs += 1;
                    for c in &v.clocks {
                        *counts
                            .entry((c.kind.as_str().to_string(), c.state.as_str().to_string()))
                            .or_insert(0) += 1;
                    }
                }
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
            println!("{open_handoffs} open handoffs");
            for ((clock, state), n) in counts {
                println!("  {clock:<12} {state:<9} {n}");
            }
            Ok(())
        }
        Command::Sla {
            command: SlaCommand::Report { period, format },
        } => {
            let app = open(&cfg).await?;
            let r = app.sla_report(&period).await.map_err(explain)?;
            match format.as_str() {
                "json" => println!("{}", serde_json::to_string_pretty(&r)?),
                "table" => print_sla_report(&r),
                other => bail!("--format: {other:?} is not a format; use table or json"),
            }
            Ok(())
        }
        Command::Sla {
            command: SlaCommand::Escalate,
        } => {
            let app = open(&cfg).await?;
            let run = app.run_due_escalations(200).await?;
            println!("{}", serde_json::to_string(&run)?);
            Ok(())
        }
        Command::Sla {
            command: SlaCommand::Agreements,
        } => {
            let app = open(&cfg).await?;
            for a in app.agreements().await? {
                let who = |s: &Option<smarketing_store::SlaSignoff>| {
                    s.as_ref()
                        .map(|s| format!("user {} at {}", s.user_id, s.signed_at))
                        .unwrap_or_else(|| "not yet".into())
                };
                println!(
                    "version {} ({}), from playbook version {}",
                    a.version, a.status, a.playbook_version
                );
                println!("  {}", a.summary);
                println!(
                    "  marketing: {}; sales: {}",
                    who(&a.marketing_signoff),
                    who(&a.sales_signoff)
                );
            }
            Ok(())
        }
        Command::Bench {
            command: BenchCommand::Escalations { handoffs, postgres },
        } => {
            let (fired, skipped, took, setup) =
                bench::escalations(handoffs, postgres.as_deref()).await?;
            println!(
                "{handoffs} leads opened in {:.2} s; then {} overdue escalation steps ({fired} fired, {skipped} moot) drained in {:.3} s: {:.0} steps/s",
                setup.as_secs_f64(),
                fired + skipped,
                took.as_secs_f64(),
                (fired + skipped) as f64 / took.as_secs_f64()
            );
            Ok(())
        }
        Command::Bench {
            command: BenchCommand::Paths { rows, file, runs },
        } => {
            let f = bench_analytics::paths(&file, rows, runs)?;
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
        Command::Bench {
            command:
                BenchCommand::Reports {
                    contacts,
                    file,
                    runs,
                },
        } => {
            let bar = Bar::new();
            let f = bench_analytics::reports(&file, contacts, runs, &bar).await?;
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
        Command::Bench {
            command:
                BenchCommand::Soak {
                    minutes,
                    rate,
                    connections,
                    postgres,
                },
        } => {
            println!(
                "soak: {rate:.0} events/s in batches of {} over {connections} connections for {minutes} min, event applier running",
                bench_ingest::BATCH
            );
            bench_ingest::soak(
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
        Command::Bench {
            command:
                BenchCommand::Ingest {
                    seconds,
                    connections,
                    paced_rate,
                    postgres,
                },
        } => {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            let f = bench_ingest::ingest(
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
                bench_ingest::BATCH,
                f.connections
            );
            let capped = f.events as f64 >= seconds * bench_ingest::FULL_SPEED_CAP;
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
        Command::Bench {
            command:
                BenchCommand::Crash {
                    kills,
                    batches,
                    postgres,
                },
        } => {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            let f = bench_ingest::crash(postgres.as_deref(), kills, batches.max(1), &bar).await?;
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
        Command::Bench {
            command: BenchCommand::Webhooks { events, postgres },
        } => {
            let mut times = bench::webhooks(events, postgres.as_deref()).await?;
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
        Command::Bench {
            command: BenchCommand::Clocks { handoffs },
        } => {
            let app = open(&cfg).await?;
            let (_, playbook) = app.playbook().await?;
            let now = jiff::Timestamp::now();
            let (n, took) =
                tokio::task::spawn_blocking(move || bench::clocks(&playbook, handoffs, now))
                    .await??;
            println!(
                "{n} SLA clocks of {handoffs} open handoffs evaluated in {:.3} s: {:.0} clocks/s on one core (the playbook's calendar, with holidays and DST)",
                took.as_secs_f64(),
                n as f64 / took.as_secs_f64()
            );
            Ok(())
        }
        Command::Bench {
            command: BenchCommand::Api { path, requests },
        } => {
            let app = open(&cfg).await?;
            let f = bench::api(app, &path, requests, cfg.max_body_bytes).await?;
            let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
            println!(
                "GET {path} on {} ({} items per page)",
                describe_location(&cfg.database_url),
                f.items
            );
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
        Command::Config { .. } | Command::Attribution { .. } => {
            unreachable!("handled before the runtime starts")
        }
    }
}

fn print_sla_report(r: &smarketing_app::sla_reports::SlaReport) {
    let pct = |x: Option<f64>| {
        x.map(|v| format!("{:.0} %", v * 100.0))
            .unwrap_or_else(|| "-".into())
    };
    let hours = |x: Option<f64>| x.map(|v| format!("{v:.1} h")).unwrap_or_else(|| "-".into());
    let versions: Vec<String> = r.agreement_versions.iter().map(|v| v.to_string()).collect();
    println!(
        "SLA report {} ({} .. {}); agreement in force: {}",
        r.period,
        r.period_start,
        r.period_end,
        if versions.is_empty() {
            "none signed".to_string()
        } else {
            format!("version {}", versions.join(", "))
        }
    );
    println!(
        "  {:<22} {:>8} {:>10} {:>12} {:>12} {:>9} {:>9} {:>8}",
        "rep",
        "handoffs",
        "within SLA",
        "touch p50",
        "touch p95",
        "attempts",
        "breaches",
        "at risk"
    );
    for x in r.sales.iter().chain(std::iter::once(&r.sales_total)) {
        println!(
            "  {:<22} {:>8} {:>10} {:>12} {:>12} {:>9} {:>9} {:>8}",
            x.name,
            x.handoffs,
            pct(x.within_sla),
            hours(x.first_touch_p50_hours),
            hours(x.first_touch_p95_hours),
            x.attempts_before_decision
                .map(|a| format!("{a:.1}"))
                .unwrap_or_else(|| "-".into()),
            x.breaches,
            x.open_at_risk
        );
    }
    let m = &r.marketing;
    println!(
        "  marketing: {} MQLs (commitment {}), accepted {}, rejected {}, acceptance {} (minimum {:.0} %)",
        m.mqls,
        m.mql_commitment
            .map(|c| c.to_string())
            .unwrap_or_else(|| "-".into()),
        m.accepted,
        m.rejected,
        pct(m.acceptance_rate),
        m.min_acceptance_rate * 100.0
    );
    for x in &m.rejections_by_channel {
        println!(
            "    rejected from {:<18} {:<24} {}",
            x.key, x.reason, x.count
        );
    }
    println!("  {} breaches", r.breaches.len());
    for b in r.breaches.iter().take(20) {
        println!(
            "    handoff {:<6} {:<32} {:<12} {:>7.1} h late  escalations: {}",
            b.handoff_id,
            b.contact_email,
            b.clock.as_str(),
            b.late_working_hours,
            if b.escalations.is_empty() {
                "-".to_string()
            } else {
                b.escalations.join(", ")
            }
        );
    }
}

fn cohort_query(c: &CohortArgs) -> smarketing_app::reports::CohortQuery {
    smarketing_app::reports::CohortQuery {
        stage: c.stage.clone(),
        period: c.period.clone(),
        within_days: c.within_days,
        by: c.by.clone(),
    }
}

fn goal_line(g: &smarketing_store::Goal) -> String {
    format!(
        "goal for {}{}: {} (marketing share {:.0} %)",
        g.period,
        if g.segment.is_empty() {
            String::new()
        } else {
            format!(" in {}", g.segment)
        },
        g.revenue_minor / 100,
        g.marketing_share * 100.0
    )
}

fn print_reverse_funnel(r: &smarketing_app::goals::ReverseFunnelReport) {
    let pct = |x: f64| format!("{:.1} %", x * 100.0);
    println!(
        "Reverse funnel for {}{} (goal {} × marketing share {:.0} %, average deal {})",
        r.period,
        r.segment
            .as_ref()
            .map(|s| format!(" in {s}"))
            .unwrap_or_default(),
        r.revenue_goal_minor / 100,
        r.marketing_share * 100.0,
        r.average_deal_minor / 100
    );
    println!(
        "  rates {} over {} .. {}",
        r.rates_source, r.window_start, r.window_end
    );
    println!("  {:<14} {:>8} {:>12}", "stage", "needed", "converts at");
    let f = &r.funnel;
    for (stage, n, rate) in [
        ("won", f.won, None),
        (
            "opportunity",
            f.opportunities,
            Some(r.rates.opportunity_to_won),
        ),
        ("sql", f.sqls, Some(r.rates.sql_to_opportunity)),
        ("mql", f.mqls, Some(r.rates.mql_to_sql)),
        ("lead", f.leads, Some(r.rates.lead_to_mql)),
    ] {
        println!(
            "  {:<14} {:>8} {:>12}",
            stage,
            n,
            rate.map(pct).unwrap_or_default()
        );
    }
    let p = &r.mql_pacing;
    let or_dash = |x: Option<String>| x.unwrap_or_else(|| "-".into());
    println!(
        "  MQL commitment {}: delivered {}, expected to date {:.1}, pace {}, projection {}",
        r.mql_commitment,
        p.delivered,
        p.expected_to_date,
        or_dash(p.pace.map(|x| format!("{:.0} %", x * 100.0))),
        or_dash(p.projection.map(|x| format!("{x:.0}")))
    );
    println!(
        "  acceptance {} (minimum {:.0} %); agreement in force: {}",
        or_dash(r.acceptance_rate.map(|x| format!("{:.0} %", x * 100.0))),
        r.min_acceptance_rate * 100.0,
        r.agreement_in_force
            .map(|v| format!("version {v}"))
            .unwrap_or_else(|| "none signed yet".into())
    );
}

fn describe_location(url: &str) -> String {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let p = Path::new(path.split('?').next().unwrap_or(path));
        let abs = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        let size = std::fs::metadata(&abs).map(|m| m.len()).unwrap_or(0);
        format!("{} (SQLite, {:.1} MB)", abs.display(), size as f64 / 1e6)
    } else {
        redact(url)
    }
}

async fn serve(app: App, cfg: &config::Config, _token: Option<String>) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .with_context(|| format!("listening on {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    println!("Smarketing is listening on http://{addr}");
    println!("  API:         http://{addr}/api/v1  (OpenAPI: http://{addr}/api/v1/openapi.json)");
    println!(
        "  try:         curl -H 'Authorization: Bearer <token>' http://{addr}/api/v1/contacts?stage=mql"
    );
    println!("  stop with Ctrl-C");
    // The scheduler fires due SLA escalations and sends webhooks.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let scheduler = {
        let app = app.clone();
        let every = std::time::Duration::from_secs(cfg.scheduler_interval_seconds.max(1));
        tokio::spawn(async move { app.run_scheduler(every, stopped).await })
    };
    // Kept events are applied (contacts, stitching, touchpoints) as they commit.
    let applier = tokio::spawn(app.clone().run_event_applier());
    let state = smarketing_server::AppState {
        app,
        max_body_bytes: cfg.max_body_bytes,
    };
    smarketing_server::serve(listener, state, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    let _ = stop.send(true);
    let _ = scheduler.await;
    applier.abort();
    Ok(())
}

fn validate_playbook(file: &Path) -> Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    match Playbook::from_toml(&text) {
        Ok(p) => {
            println!(
                "{}: valid ({} stages, {} channels, {} channel rules, {} personas, {} fit rules, {} engagement rules)",
                file.display(),
                p.stages.len(),
                p.channels.len(),
                p.channel_rules.len(),
                p.personas.len(),
                p.scoring.fit_rules.len(),
                p.scoring.engagement_rules.len()
            );
            Ok(())
        }
        Err(e) => {
            for p in &e.problems {
                match (p.line, p.column) {
                    (Some(l), Some(c)) => eprintln!(
                        "{}:{l}:{c}: {}: {}",
                        file.display(),
                        if p.key.is_empty() { "(syntax)" } else { &p.key },
                        p.message
                    ),
                    _ => eprintln!("{}: {}: {}", file.display(), p.key, p.message),
                }
            }
            bail!(
                "{}: {} problem(s); the playbook is not valid",
                file.display(),
                e.problems.len()
            )
        }
    }
}

async fn playbook(command: PlaybookCommand, cfg: &config::Config) -> Result<()> {
    let app = open(cfg).await?;
    match command {
        PlaybookCommand::Export { version } => {
            match version {
                Some(v) => print!("{}", app.playbook_version(v).await?.body),
                None => {
                    let (_, p) = app.playbook().await?;
                    print!("{}", p.to_toml());
                }
            }
            Ok(())
        }
        PlaybookCommand::Validate { .. } => unreachable!("handled before the runtime starts"),
        PlaybookCommand::Import { file, author, note } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            if let Err(e) = Playbook::from_toml(&text) {
                validate_playbook(&file)?;
                return Err(e.into());
            }
            let author = author
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "cli".into());
            let v = app.import_playbook(&text, &author, note.as_deref()).await?;
            println!("stored playbook version {} by {}", v.version, v.author);
            Ok(())
        }
        PlaybookCommand::Versions => {
            for v in app.playbook_versions().await? {
                println!(
                    "{:>4}  {}  {:<30} {}",
                    v.version,
                    v.created_at,
                    v.author,
                    v.note.unwrap_or_default()
                );
            }
            Ok(())
        }
        PlaybookCommand::Diff { from, to } => {
            let d = app.playbook_diff(from, to).await?;
            if d.changes.is_empty() {
                println!("versions {from} and {to} are the same");
            }
            for c in d.changes {
                let show = |v: &Option<serde_json::Value>| {
                    v.as_ref()
                        .map(|v| v.to_string())
                        .unwrap_or_else(|| "(absent)".into())
                };
                println!("{}: {} -> {}", c.key, show(&c.before), show(&c.after));
            }
            Ok(())
        }
    }
}

async fn user(command: UserCommand, cfg: &config::Config) -> Result<()> {
    let app = open(cfg).await?;
    match command {
        UserCommand::Add {
            name,
            email,
            team,
            role,
        } => {
            let u = app
                .create_user(UserInput {
                    name,
                    email,
                    team,
                    role,
                })
                .await
                .map_err(explain)?;
            println!(
                "added user {} <{}> ({}, {}), id {}",
                u.name, u.email, u.team, u.role, u.id
            );
        }
        UserCommand::Token { email, name } => {
            let users = app.users().await?;
            let email = email.trim().to_lowercase();
            let u = users
                .iter()
                .find(|u| u.email == email)
                .ok_or_else(|| anyhow!("no user has the e-mail {email}"))?;
            let token = app.create_token(u.id, &name).await?;
            println!("{token}");
            eprintln!("This token is shown once; Smarketing keeps only its hash.");
        }
        UserCommand::List => {
            for u in app.users().await? {
                println!(
                    "{:>4}  {:<25} {:<35} {:<10} {}",
                    u.id, u.name, u.email, u.team, u.role
                );
            }
        }
    }
    Ok(())
}

fn explain(e: AppError) -> anyhow::Error {
    match e {
        AppError::Invalid(i) => anyhow!("--{}: {}", i.field.replace('_', "-"), i.message),
        other => other.into(),
    }
}

/// A merge as the CLI prints it: who went into whom, then what moved.
fn merge_lines(m: &smarketing_store::merges::ContactMerge) -> String {
    let moved = &m.moved;
    let undone = match m.unmerged_at {
        Some(at) => format!(" — undone {at}"),
        None => String::new(),
    };
    let filled = if m.filled.is_empty() {
        "nothing".to_string()
    } else {
        m.filled.keys().cloned().collect::<Vec<_>>().join(", ")
    };
    format!(
        "merge {}: contact {} into {} ({}, by {}, {}){undone}\n  moved: {} touchpoints, {} visitors, {} userIds, {} activities, {} notes, {} deals, {} handoffs; filled: {filled}",
        m.id,
        m.merged_id,
        m.survivor_id,
        m.cause,
        m.actor,
        m.merged_at,
        moved.touchpoints.len(),
        moved.visitors.len(),
        moved.identities.len(),
        moved.activities.len(),
        moved.notes.len(),
        moved.deals.len(),
        moved.handoffs.len(),
    )
}
