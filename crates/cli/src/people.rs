//! `smarketing user` and `smarketing source`: the people of both teams with
//! their API tokens, and the sources that send events with their write keys.

use crate::config::Config;
use crate::serve::open;
use crate::{SourceCommand, UserCommand, explain};
use anyhow::{Result, anyhow};
use smarketing_app::input::UserInput;

pub async fn user(command: UserCommand, cfg: &Config) -> Result<()> {
    let app = open(cfg).await?;
    match command {
        UserCommand::Add {
            name,
            email,
            team,
            role,
            password_stdin,
        } => {
            // Read before the user exists, so a missing password adds no one.
            let password = password_stdin.then(read_password).transpose()?;
            if let Some(p) = &password {
                smarketing_app::sign_in::check_password(p, &email)
                    .map_err(|e| anyhow!("the password on standard input: {}", e.message))?;
            }
            let u = app
                .create_user(
                    UserInput {
                        name,
                        email,
                        team,
                        role,
                    },
                    &smarketing_app::Actor::system(),
                )
                .await
                .map_err(explain)?;
            if let Some(p) = password {
                app.set_password(u.id, &p, &smarketing_app::Actor::system())
                    .await
                    .map_err(explain)?;
            }
            println!(
                "added user {} <{}> ({}, {}), id {}{}",
                u.name,
                u.email,
                u.team,
                u.role,
                u.id,
                if password_stdin {
                    "; they can sign in with the password given"
                } else {
                    ""
                }
            );
        }
        UserCommand::Password { email } => {
            let u = user_by_email(&app, &email).await?;
            let password = read_password()?;
            app.set_password(u.id, &password, &smarketing_app::Actor::system())
                .await
                .map_err(explain)?;
            println!("password of {} set; their open sessions ended", u.email);
        }
        UserCommand::ResetLink { email } => {
            let u = user_by_email(&app, &email).await?;
            let link = app
                .issue_password_reset(u.id, &smarketing_app::Actor::system())
                .await
                .map_err(explain)?;
            println!("{}/reset-password#token={}", cfg.public_url(), link.token);
            eprintln!(
                "This link sets a new password for {} once, until {}. Send it to them yourself; it is shown only now.",
                u.email, link.expires_at
            );
        }
        UserCommand::Token {
            email,
            name,
            scope,
            expires_in_days,
        } => {
            let u = user_by_email(&app, &email).await?;
            let scope = scope
                .parse()
                .map_err(|e: smarketing_core::Invalid| anyhow!("--scope: {}", e.message))?;
            let expires_at = expires_in_days
                .map(|d| {
                    smarketing_core::Instant::from_millis(
                        app.now().millis() + i64::from(d) * 86_400_000,
                    )
                })
                .transpose()?;
            let token = app
                .issue_token(
                    u.id,
                    smarketing_app::people::NewToken {
                        name,
                        scope,
                        expires_at,
                    },
                )
                .await
                .map_err(explain)?;
            println!("{token}");
            eprintln!(
                "This {scope} token is shown once; Smarketing keeps only its hash. Revoke it with `smarketing user revoke ID` (ids: `smarketing user tokens {}`).",
                u.email
            );
        }
        UserCommand::Tokens { email } => {
            let u = user_by_email(&app, &email).await?;
            let when = |i: Option<smarketing_core::Instant>| {
                i.map_or_else(|| "—".to_string(), |i| i.to_string())
            };
            println!(
                "{:>5}  {:<20} {:<6} {:<21} {:<21} {:<21} revoked",
                "id", "name", "scope", "created", "last used", "expires"
            );
            for t in app.tokens(u.id).await.map_err(explain)? {
                println!(
                    "{:>5}  {:<20} {:<6} {:<21} {:<21} {:<21} {}",
                    t.id,
                    t.name,
                    t.scope,
                    t.created_at.to_string(),
                    when(t.last_used_at),
                    when(t.expires_at),
                    when(t.revoked_at)
                );
            }
        }
        UserCommand::Disable { email } => {
            let u = user_by_email(&app, &email).await?;
            app.disable_user(u.id, &smarketing_app::Actor::system())
                .await
                .map_err(explain)?;
            println!("user {} disabled; their tokens no longer work", u.email);
        }
        UserCommand::Revoke { token_id } => {
            app.revoke_token(token_id).await.map_err(explain)?;
            println!("token {token_id} revoked");
        }
        UserCommand::List => {
            for u in app.users().await? {
                println!(
                    "{:>4}  {:<25} {:<35} {:<10} {:<8} {}",
                    u.id,
                    u.name,
                    u.email,
                    u.team,
                    u.role,
                    if u.disabled_at.is_some() {
                        "disabled"
                    } else {
                        ""
                    }
                );
            }
        }
    }
    Ok(())
}

/// A password from standard input: its first line, without the line end.
fn read_password() -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| anyhow!("reading the password from standard input: {e}"))?;
    let password = line.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        anyhow::bail!(
            "no password on standard input: pipe one in, for example `printf '%s\\n' \"$PASSWORD\" | smarketing user password ana@example.com`"
        );
    }
    Ok(password)
}

async fn user_by_email(app: &smarketing_app::App, email: &str) -> Result<smarketing_store::User> {
    let email = email.trim().to_lowercase();
    app.users()
        .await?
        .into_iter()
        .find(|u| u.email == email)
        .ok_or_else(|| anyhow!("no user has the e-mail {email}"))
}

/// `smarketing audit`.
pub async fn audit(since: Option<String>, limit: i64, format: &str, cfg: &Config) -> Result<()> {
    let app = crate::serve::open_existing(cfg).await?;
    let since = since
        .as_deref()
        .map(|s| smarketing_core::Instant::parse(s, "since"))
        .transpose()
        .map_err(|e| anyhow!("--since: {}", e.message))?;
    let entries = app
        .audit_log(since, limit, &smarketing_app::Actor::system())
        .await
        .map_err(explain)?;
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    match format {
        "json" => println!("{}", serde_json::to_string_pretty(&entries)?),
        "csv" => {
            let mut out = smarketing_app::csv_out::CsvOut::new(std::io::stdout().lock());
            out.row([
                "id",
                "at",
                "actor",
                "address",
                "action",
                "object_kind",
                "object_id",
                "before",
                "after",
            ])?;
            for e in &entries {
                out.row([
                    e.id.to_string(),
                    e.at.to_string(),
                    e.actor.clone(),
                    opt(&e.address),
                    e.action.clone(),
                    e.object_kind.clone(),
                    e.object_id.clone(),
                    opt(&e.before),
                    opt(&e.after),
                ])?;
            }
            out.flush()?;
        }
        "text" => {
            for e in &entries {
                println!(
                    "{}  {:<10} {:<16} {:<18} {} {}",
                    e.at,
                    e.actor,
                    opt(&e.address),
                    e.action,
                    e.object_kind,
                    e.object_id
                );
            }
        }
        other => return Err(anyhow!("--format: {other:?} is not text, json or csv")),
    }
    Ok(())
}

/// `smarketing source`.
pub async fn source(command: SourceCommand, cfg: &Config) -> Result<()> {
    let app = open(cfg).await?;
    match command {
        SourceCommand::Add {
            name,
            origins,
            quota,
        } => {
            let mut s = app.add_source(&name, &origins).await.map_err(explain)?;
            if quota.events_per_second.is_some() || quota.bytes_per_second.is_some() {
                s.source = app
                    .set_source_quota(&name, quota.events_per_second, quota.bytes_per_second)
                    .await
                    .map_err(explain)?;
            }
            println!("source {:?} created", s.source.name);
            println!("  quota: {}", quota_text(app.quota_of(&s.source)));
            println!("  write key: {}", s.write_key);
            println!(
                "  (shown once; Segment and RudderStack clients send it as the write key, with this server as their host)"
            );
        }
        SourceCommand::Quota { name, quota } => {
            let s = app
                .set_source_quota(&name, quota.events_per_second, quota.bytes_per_second)
                .await
                .map_err(explain)?;
            println!("source {name:?}: {}", quota_text(app.quota_of(&s)));
        }
        SourceCommand::List => {
            for s in app.sources().await.map_err(explain)? {
                println!(
                    "{}\torigins: {}\tquota: {}\t{}",
                    s.name,
                    if s.allowed_origins.is_empty() {
                        "none (servers and apps only)".to_string()
                    } else {
                        s.allowed_origins.join(", ")
                    },
                    quota_text(app.quota_of(&s)),
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

/// A quota as a person reads it.
fn quota_text(q: smarketing_app::ingest::SourceQuota) -> String {
    format!(
        "{} events/s, {} bytes/s, bursts of {} s",
        q.events_per_second, q.bytes_per_second, q.burst_seconds
    )
}
