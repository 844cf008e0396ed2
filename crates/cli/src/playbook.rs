//! `smarketing playbook`: export, validate, import, list and diff the
//! versions of the playbook both teams share.

use crate::PlaybookCommand;
use crate::config::Config;
use crate::serve::{open, open_existing};
use anyhow::{Context, Result, bail};
use smarketing_core::Playbook;
use std::path::Path;

pub fn validate_playbook(file: &Path) -> Result<()> {
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

pub async fn run(command: PlaybookCommand, cfg: &Config) -> Result<()> {
    // Before there is a database, the playbook in force is the default one.
    if let PlaybookCommand::Export { version: None } = command
        && smarketing_store::sqlite_file(&cfg.database_url).is_some_and(|f| !f.exists())
    {
        print!("{}", Playbook::default_playbook().to_toml());
        return Ok(());
    }
    // Only an import writes; the rest read what is there.
    let app = match command {
        PlaybookCommand::Import { .. } => open(cfg).await?,
        _ => open_existing(cfg).await?,
    };
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
            let v = app
                .import_playbook(
                    &text,
                    &author,
                    note.as_deref(),
                    &smarketing_app::Actor::system(),
                )
                .await?;
            println!("stored playbook version {} by {}", v.version, v.author);
            // Personas and scores follow the new version before the command ends.
            let run = app
                .rescore_contacts(&smarketing_app::import::Bar::new())
                .await?;
            println!(
                "re-matched personas and rescored {} contacts under version {}",
                run.done, run.playbook_version
            );
            Ok(())
        }
        PlaybookCommand::Versions => {
            if let Some(run) = app.rescore_status().await? {
                match run.finished_at {
                    Some(_) => println!("scores are from version {}", run.playbook_version),
                    None => println!(
                        "rescoring to version {}: {} of {} contacts",
                        run.playbook_version, run.done, run.contacts
                    ),
                }
            }
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
