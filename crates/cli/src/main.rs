//! The `smarketing` command: serve the API, run the demo, migrate, import and
//! export CSV, manage the playbook, users and tokens, print the configuration.

mod config;
mod contacts;
mod data;
mod goals;
mod people;
mod playbook;
mod report;
mod serve;
mod sla;

use anyhow::{Result, anyhow};
use clap::{Parser, Subcommand};
use report::{Format, TableOrJson};
use smarketing_app::AppError;
use std::path::PathBuf;

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
    Demo(DemoArgs),
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
        /// Check every row and print what would change, but write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Open (and route) a handoff for each imported MQL that never had one
        /// (default: imported MQLs stay outside the loop).
        #[arg(long)]
        open_handoffs: bool,
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
    /// The append-only audit log, newest first: who did what, when, from
    /// where, to which object, before and after.
    Audit {
        /// Entries at or after this instant (2026-12-01T00:00:00Z).
        #[arg(long)]
        since: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// text, json or csv (every field, for an export).
        #[arg(long, default_value = "text")]
        format: String,
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
        /// How to print it.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(clap::Args)]
pub struct DemoArgs {
    #[arg(long, env = "SMARKETING_LISTEN")]
    pub listen: Option<String>,
    /// Seed of the generator: one seed, one company.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Number of contacts to generate.
    #[arg(long, default_value_t = 20_000)]
    pub contacts: usize,
    /// Number of accounts to generate.
    #[arg(long, default_value_t = 3_000)]
    pub accounts: usize,
    /// Generate and print the figures, but do not start the server.
    #[arg(long)]
    pub no_serve: bool,
}

#[derive(Subcommand)]
pub enum PlaybookCommand {
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
pub enum UserCommand {
    /// Add a user.
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
        /// marketing or sales
        #[arg(long)]
        team: String,
        /// admin, manager (the team's lead), member or viewer (reads, changes nothing)
        #[arg(long, default_value = "member")]
        role: String,
        /// Read the user's sign-in password from standard input (one line;
        /// at least 12 characters), for scripts.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's sign-in password, read from standard input; their
    /// open sessions end.
    Password {
        /// The user's e-mail.
        email: String,
    },
    /// Issue a one-time password reset link for a user (valid 24 hours;
    /// earlier links stop working). Send it to them yourself.
    ResetLink {
        /// The user's e-mail.
        email: String,
    },
    /// Create an API token for a user (printed once; stored hashed).
    Token {
        /// The user's e-mail.
        email: String,
        /// What the token is for, as it is listed.
        #[arg(long, default_value = "cli")]
        name: String,
        /// read, write or admin (users, webhooks, the playbook), always
        /// within the user's own permissions.
        #[arg(long, default_value = "write")]
        scope: String,
        /// Days until the token stops working (default: never).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        expires_in_days: Option<u32>,
    },
    /// A user's tokens: name, scope, when created, last used, expiring,
    /// revoked (never the tokens themselves).
    Tokens {
        /// The user's e-mail.
        email: String,
    },
    /// Revoke a token by its id (from `user tokens`): it stops working at
    /// once.
    Revoke { token_id: i64 },
    /// Disable a user: none of their tokens or sessions works from now on, and no new
    /// leads are routed to them. Their records and history stay.
    Disable {
        /// The user's e-mail.
        email: String,
    },
    /// List users.
    List,
}

#[derive(clap::Args)]
pub struct CohortArgs {
    /// The stage the cohort entered (default lead).
    #[arg(long)]
    pub stage: Option<String>,
    /// Entered in this period (2026, 2026-Q4, 2026-11); all time if absent.
    #[arg(long)]
    pub period: Option<String>,
    /// Count later stages reached within this many days of entering.
    #[arg(long)]
    pub within_days: Option<u32>,
    /// Break down by source_channel, campaign, persona, company_size, region or owner.
    #[arg(long)]
    pub by: Option<String>,
    /// How to print it.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Subcommand)]
pub enum ReportCommand {
    /// Of the contacts that entered a stage, how many reached each later stage.
    Funnel(CohortArgs),
    /// Time in each stage and from the cohort stage to won (p50, p90, mean).
    Velocity(CohortArgs),
    /// Credit of conversions per channel (and campaign) under every model, side by side.
    Attribution {
        /// lead, mql, opportunity or won.
        #[arg(long, default_value = "won")]
        conversion: String,
        /// Comma-separated models, or all (`--models` is the same).
        #[arg(long = "model", visible_alias = "models", default_value = "all")]
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
        /// How to print it.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// The touches behind one deal and each rule-based model's weights.
    Journey {
        #[arg(long)]
        deal: i64,
        /// Comma-separated models, or all (`--models` is the same).
        #[arg(long = "model", visible_alias = "models", default_value = "all")]
        models: String,
        #[arg(long)]
        account_level: bool,
        /// How to print it.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
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
        /// How to print it.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// The revenue goal of a period against revenue won, with pacing.
    Goal {
        #[arg(long)]
        period: String,
        #[arg(long)]
        segment: Option<String>,
        /// How to print it.
        #[arg(long, value_enum, default_value_t = TableOrJson::Table)]
        format: TableOrJson,
    },
}

#[derive(Subcommand)]
pub enum SourceCommand {
    /// Create a source and print its write key (shown once; stored hashed).
    Add {
        name: String,
        /// An origin whose pages may send events from the browser
        /// (https://www.example.com), repeatable; `*` for any.
        #[arg(long = "origin")]
        origins: Vec<String>,
        #[command(flatten)]
        quota: QuotaArgs,
    },
    /// Every source, with its allowed origins, quota and whether it is
    /// revoked.
    List,
    /// Set a source's own quota; a rate left out takes the server's
    /// (`source_events_per_second`, `source_bytes_per_second`).
    Quota {
        name: String,
        #[command(flatten)]
        quota: QuotaArgs,
    },
    /// Give a source a new write key; the old one stops working.
    Rotate { name: String },
    /// Revoke a source: its write key stops working.
    Revoke { name: String },
}

/// A source's own ingestion quota.
#[derive(clap::Args)]
pub struct QuotaArgs {
    /// Events a second the source may send.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub events_per_second: Option<u32>,
    /// Bytes a second the source may send (of events as kept).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub bytes_per_second: Option<u32>,
}

#[derive(Subcommand)]
pub enum ContactCommand {
    /// Merge two contacts that are one person. The one further along the
    /// funnel survives (on a tie, the older); the other's touches, ids,
    /// activities, notes and deals move to it.
    Merge { a: i64, b: i64 },
    /// Undo a merge by its id: moved rows and filled fields go back.
    Unmerge { merge_id: i64 },
    /// Every merge a contact took part in.
    Merges { contact_id: i64 },
    /// Everything held about a person (GDPR), as JSON: contact, account,
    /// ids, raw events, touches, stage history, activities, notes, deals,
    /// handoffs, merges and consents.
    Export { contact_id: i64 },
    /// Erase a person (GDPR): hard-delete the contact, every record merged
    /// with it and everything held about them. Deals stay without them; a
    /// keyed hash of the e-mail stays so no source records them again.
    /// Cannot be undone.
    Erase {
        contact_id: i64,
        /// Confirms that the person is to be erased for good.
        #[arg(long)]
        yes: bool,
    },
    /// A person's consent records, newest first.
    Consents { contact_id: i64 },
}

#[derive(Subcommand)]
pub enum GoalCommand {
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
pub enum FunnelCommand {
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
        /// How to print it.
        #[arg(long, value_enum, default_value_t = TableOrJson::Table)]
        format: TableOrJson,
    },
}

#[derive(Subcommand)]
pub enum SlaCommand {
    /// The agreement versions, their summaries and sign-offs.
    Agreements,
    /// Fire every escalation that is due now, once, return SALs left without
    /// follow-up to marketing, and print what happened (what the server's
    /// scheduler does every few seconds).
    Escalate,
    /// Open handoffs now: how many clocks are on track, at risk, breached.
    Status,
    /// Sales compliance by rep, marketing's SLA and the breach ledger.
    Report {
        #[arg(long)]
        period: String,
        /// How to print it.
        #[arg(long, value_enum, default_value_t = TableOrJson::Table)]
        format: TableOrJson,
    },
}

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Print every setting with its documented default.
    Default,
    /// Print the configuration in effect (file, environment and flags applied).
    Show,
}

fn main() -> std::process::ExitCode {
    match run_command() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // For people: the message and its causes, no backtrace.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run_command() -> Result<()> {
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
        return playbook::validate_playbook(file);
    }
    if let Command::Attribution {
        paths,
        model,
        order,
        format,
    } = &cli.command
    {
        return report::paths_attribution(paths, model, *order, *format);
    }
    // A server's log keeps the database's slow-statement warnings; a
    // command's output is for the person who ran it.
    let serving = matches!(cli.command, Command::Serve { .. } | Command::Demo(_));
    let filter = match serving {
        true => cfg.log.clone(),
        false => format!("{},sqlx=error", cfg.log),
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .with_writer(std::io::stderr)
        // Colour only on a terminal: a log file gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(cli, cfg))
}

async fn run(cli: Cli, cfg: config::Config) -> Result<()> {
    match cli.command {
        Command::Serve { listen } => serve::serve_command(listen, cfg).await,
        Command::Demo(args) => serve::demo(args, cli.database.is_some(), cfg).await,
        Command::Migrate => serve::migrate(&cfg).await,
        Command::Import {
            target,
            file,
            skip_invalid,
            dry_run,
            open_handoffs,
        } => {
            let opts = smarketing_app::import::ImportOptions {
                skip_invalid,
                dry_run,
                open_handoffs,
            };
            data::import(target, file, opts, &cfg).await
        }
        Command::Export {
            kind,
            format,
            output,
        } => data::export(kind, format, output, &cfg).await,
        Command::Playbook { command } => playbook::run(command, &cfg).await,
        Command::User { command } => people::user(command, &cfg).await,
        Command::Source { command } => people::source(command, &cfg).await,
        Command::Audit {
            since,
            limit,
            format,
        } => people::audit(since, limit, &format, &cfg).await,
        Command::Contact { command } => contacts::run(command, &cfg).await,
        Command::Goal { command } => goals::goal(command, &cfg).await,
        Command::Funnel { command } => goals::funnel(command, &cfg).await,
        Command::Sla { command } => sla::run(command, &cfg).await,
        Command::Report { command } => report::run(command, &cfg).await,
        Command::Config { .. } | Command::Attribution { .. } => {
            unreachable!("handled before the runtime starts")
        }
    }
}

/// An app error as the CLI prints it: a field at fault is named as its flag.
pub(crate) fn explain(e: AppError) -> anyhow::Error {
    match e {
        AppError::Invalid(i) => anyhow!("--{}: {}", i.field.replace('_', "-"), i.message),
        other => other.into(),
    }
}
