//! `smarketing contact`: merging two records of one person, undoing a
//! merge, listing a contact's merges, and exporting everything held about a
//! person.

use crate::config::Config;
use crate::serve::open;
use crate::{ContactCommand, explain};
use anyhow::Result;

/// `smarketing contact`.
pub async fn run(command: ContactCommand, cfg: &Config) -> Result<()> {
    let app = open(cfg).await?;
    let actor = smarketing_app::Actor::system();
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
        ContactCommand::Export { contact_id } => {
            let person = app
                .export_person(contact_id, &actor)
                .await
                .map_err(explain)?;
            println!("{}", serde_json::to_string_pretty(&person)?);
            return Ok(());
        }
        ContactCommand::Erase { contact_id, yes } => {
            if !yes {
                anyhow::bail!(
                    "erasing contact {contact_id} deletes them and everything held about them for good; run again with --yes to confirm (`smarketing contact export {contact_id}` first keeps a copy)"
                );
            }
            let erased = app
                .erase_person(contact_id, &actor)
                .await
                .map_err(explain)?;
            println!("erased contact {contact_id}:");
            println!("{}", serde_json::to_string_pretty(&erased)?);
            return Ok(());
        }
        ContactCommand::Consents { contact_id } => {
            for v in app.consents(contact_id).await.map_err(explain)? {
                let c = &v.consent;
                println!(
                    "{:<21} {:<20} {:<9} {:<20} {}{}",
                    c.given_at.to_string(),
                    c.purpose,
                    c.status,
                    c.basis,
                    c.source,
                    if v.in_force { "  (in force)" } else { "" }
                );
            }
            return Ok(());
        }
    };
    for m in &merges {
        println!("{}", merge_lines(m));
    }
    Ok(())
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
