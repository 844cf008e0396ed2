//! Running the product: `serve`, `demo` and `migrate`, and opening the
//! configured database for every other command.

use crate::config::Config;
use anyhow::{Context, Result, anyhow, bail};
use smarketing_app::demo::{DEMO_SOURCE, DemoCredentials, DemoSize};
use smarketing_app::{App, Clock};
use smarketing_server::runtime;
use smarketing_store::Store;
use std::path::{Path, PathBuf};
use std::time::Instant as WallClock;

/// Opens (creating a SQLite file when missing) and migrates the database.
pub async fn open(cfg: &Config) -> Result<App> {
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
        source_quota: smarketing_app::ingest::SourceQuota {
            events_per_second: cfg.source_events_per_second,
            bytes_per_second: cfg.source_bytes_per_second,
            burst_seconds: cfg.source_burst_seconds,
        },
        anonymous_retention_days: (cfg.anonymous_retention_days > 0)
            .then_some(cfg.anonymous_retention_days),
        sessions: smarketing_app::sign_in::SessionTimeouts {
            idle: std::time::Duration::from_secs(cfg.session_idle_minutes.max(1) * 60),
            absolute: std::time::Duration::from_secs(cfg.session_absolute_hours.max(1) * 3600),
        },
    });
    app.prepare().await.context("preparing the database")?;
    Ok(app)
}

/// [`open`] for a command that only reads: a SQLite file that does not
/// exist is an error naming it, not a new empty database.
pub async fn open_existing(cfg: &Config) -> Result<App> {
    if let Some(file) = smarketing_store::sqlite_file(&cfg.database_url)
        && !file.exists()
    {
        bail!(
            "{} does not exist, so there is nothing to read. After `smarketing demo`, pass --database sqlite://./smarketing-demo.db; to start an empty database, run `smarketing migrate`",
            file.display()
        );
    }
    open(cfg).await
}

/// Binds the address to serve on, first of all, so a busy port changes
/// nothing and says what to do.
async fn bind(listen: &str) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AddrInUse => anyhow!(
                "{listen} is already in use (another Smarketing, or another program, is listening there); choose another address with --listen, for example --listen 127.0.0.1:8081"
            ),
            _ => anyhow!("cannot listen on {listen}: {e}"),
        })
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
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

pub fn describe_location(url: &str) -> String {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let p = Path::new(path.split('?').next().unwrap_or(path));
        let abs = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        let size = std::fs::metadata(&abs).map(|m| m.len()).unwrap_or(0);
        format!("{} (SQLite, {:.1} MB)", abs.display(), size as f64 / 1e6)
    } else {
        redact(url)
    }
}

/// Serves `app` on `listener` with the scheduler and the event applier
/// until Ctrl-C or SIGTERM.
async fn serve(app: App, listener: tokio::net::TcpListener, cfg: &Config) -> Result<()> {
    let addr = listener.local_addr()?;
    println!("Smarketing is listening on http://{addr}");
    println!("  API:         http://{addr}/api/v1  (OpenAPI: http://{addr}/api/v1/openapi.json)");
    println!(
        "  try:         curl -H 'Authorization: Bearer <token>' http://{addr}/api/v1/contacts?stage=mql"
    );
    println!("  stop with Ctrl-C");
    let state = smarketing_server::AppState::new(app, cfg.max_body_bytes)
        .with_limits(smarketing_server::clients::ClientLimits {
            header_read: std::time::Duration::from_secs(cfg.header_read_timeout_seconds.max(1)),
            body_read: std::time::Duration::from_secs(cfg.body_read_timeout_seconds.max(1)),
            max_connections: cfg.max_client_connections.max(1),
        })
        .with_trusted_proxies(cfg.trusted_proxies.clone());
    let every = std::time::Duration::from_secs(cfg.scheduler_interval_seconds.max(1));
    runtime::start(listener, state, runtime::Background::all(every))
        .until_signalled()
        .await?;
    Ok(())
}

/// `smarketing serve`.
pub async fn serve_command(listen: Option<String>, mut cfg: Config) -> Result<()> {
    if let Some(l) = listen {
        cfg.listen = l;
    }
    let listener = bind(&cfg.listen).await?;
    let app = open(&cfg).await?;
    serve(app, listener, &cfg).await
}

/// Where the demo keeps the credentials it printed, beside its SQLite file
/// (a PostgreSQL demo gets new ones each run).
fn credentials_file(database_url: &str) -> Option<PathBuf> {
    smarketing_store::sqlite_file(database_url).map(|f| {
        let mut name = f.into_os_string();
        name.push(".credentials");
        PathBuf::from(name)
    })
}

fn read_credentials(file: Option<&Path>) -> Option<DemoCredentials> {
    let text = std::fs::read_to_string(file?).ok()?;
    toml::from_str(&text).ok()
}

fn write_credentials(file: Option<&Path>, c: &DemoCredentials) -> Result<()> {
    let Some(file) = file else { return Ok(()) };
    let text = format!(
        "# The demo's API token, write key and sign-ins, kept so the next `smarketing demo` prints the same.\n{}",
        toml::to_string(c)?
    );
    // Readable by its owner only, from the first byte: it holds passwords.
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        if file.exists() {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    use std::io::Write;
    options
        .open(file)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .with_context(|| format!("writing {}", file.display()))?;
    Ok(())
}

/// `smarketing demo`: generate (or reuse) the demo company, then serve it.
pub async fn demo(args: crate::DemoArgs, database_given: bool, mut cfg: Config) -> Result<()> {
    let crate::DemoArgs {
        listen,
        seed,
        contacts,
        accounts,
        no_serve,
    } = args;
    if let Some(l) = listen {
        cfg.listen = l;
    }
    if !database_given && std::env::var("SMARKETING_DATABASE_URL").is_err() {
        cfg.database_url = "sqlite://./smarketing-demo.db".into();
    }
    let listener = match no_serve {
        true => None,
        false => Some(bind(&cfg.listen).await?),
    };
    let started = WallClock::now();
    let app = open(&cfg).await?;
    let size = DemoSize {
        contacts,
        accounts,
        ..DemoSize::default()
    };
    let (summary, admin) = app
        .generate_demo(seed, size, &smarketing_app::import::Bar::new())
        .await?;
    let took = started.elapsed();
    let file = credentials_file(&cfg.database_url);
    let saved = read_credentials(file.as_deref());
    let credentials = app.demo_credentials(&admin, saved.clone()).await?;
    if saved.as_ref() != Some(&credentials) {
        write_credentials(file.as_deref(), &credentials)?;
    }
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
    println!("  API token:   {}", credentials.api_token);
    let events_to = listener
        .as_ref()
        .and_then(|l| l.local_addr().ok())
        .map_or(cfg.listen.clone(), |a| a.to_string());
    println!(
        "  write key:   {}  (source \"{DEMO_SOURCE}\"; events to http://{events_to}/v1/track)",
        credentials.write_key
    );
    println!(
        "  sign-ins, one of every profile (POST /api/v1/session; kept in {}):",
        file.as_deref()
            .map_or("no file".to_string(), |f| f.display().to_string())
    );
    for login in &credentials.logins {
        println!(
            "    {:<17} {:<28} {}",
            login.profile, login.email, login.password
        );
    }
    match listener {
        None => Ok(()),
        Some(listener) => serve(app, listener, &cfg).await,
    }
}

/// `smarketing migrate`.
pub async fn migrate(cfg: &Config) -> Result<()> {
    open(cfg).await?;
    println!("migrated {}", redact(&cfg.database_url));
    Ok(())
}
