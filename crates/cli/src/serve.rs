//! Running the product: `serve`, `demo` and `migrate`, and opening the
//! configured database for every other command.

use crate::config::Config;
use anyhow::{Context, Result};
use smarketing_app::demo::DemoSize;
use smarketing_app::{App, Clock};
use smarketing_store::Store;
use std::path::Path;
use std::time::Instant as WallClock;

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
    });
    app.prepare().await.context("preparing the database")?;
    Ok(app)
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

pub async fn serve(app: App, cfg: &Config, _token: Option<String>) -> Result<()> {
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

/// `smarketing serve`.
pub async fn serve_command(listen: Option<String>, mut cfg: Config) -> Result<()> {
    if let Some(l) = listen {
        cfg.listen = l;
    }
    let app = open(&cfg).await?;
    serve(app, &cfg, None).await
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
    let started = WallClock::now();
    let app = open(&cfg).await?;
    let size = DemoSize {
        contacts,
        accounts,
        ..DemoSize::default()
    };
    let (summary, admin) = app
        .generate_demo(seed, size, &crate::data::Bar::new())
        .await?;
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

/// `smarketing migrate`.
pub async fn migrate(cfg: &Config) -> Result<()> {
    open(cfg).await?;
    println!("migrated {}", redact(&cfg.database_url));
    Ok(())
}
