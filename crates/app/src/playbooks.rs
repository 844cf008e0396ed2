//! The playbook as stored: every version kept, the latest one in force,
//! cached in memory and re-read only when a newer version appears.

use crate::{Actor, App, AppError};
use serde::Serialize;
use smarketing_core::access::{Action, Relation};
use smarketing_core::diff::{Change, diff};
use smarketing_core::playbook::DEFAULT_PLAYBOOK_TOML;
use smarketing_core::{Instant, Playbook};
use smarketing_store::{PlaybookVersion, repo};
use std::sync::Arc;

/// A version without its body, for listings.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionSummary {
    pub version: i64,
    pub author: String,
    pub note: Option<String>,
    pub created_at: Instant,
}

impl From<&PlaybookVersion> for VersionSummary {
    fn from(v: &PlaybookVersion) -> Self {
        VersionSummary {
            version: v.version,
            author: v.author.clone(),
            note: v.note.clone(),
            created_at: v.created_at,
        }
    }
}

/// What changed between two versions.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlaybookDiff {
    pub from: i64,
    pub to: i64,
    pub changes: Vec<Change>,
}

pub(crate) fn parse_stored(v: &PlaybookVersion) -> Result<Playbook, AppError> {
    // Stored versions were validated on import; a failure here means the
    // database was edited by hand or a newer release wrote it.
    Playbook::from_toml(&v.body).map_err(AppError::from)
}

impl App {
    pub(crate) async fn ensure_playbook(&self) -> Result<(), AppError> {
        let mut conn = self.store().acquire().await?;
        if repo::latest_playbook_number(&mut conn).await? == 0 {
            // Two processes starting at once may race here; the unique
            // version number lets exactly one of them win.
            match repo::insert_playbook_version(
                &mut conn,
                "system",
                Some("default playbook"),
                DEFAULT_PLAYBOOK_TOML,
                self.now(),
            )
            .await
            {
                Ok(_) | Err(smarketing_store::StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// The playbook in force, with its version number.
    pub async fn playbook(&self) -> Result<(i64, Arc<Playbook>), AppError> {
        let mut conn = self.store().acquire().await?;
        let latest = repo::latest_playbook_number(&mut conn).await?;
        if let Some((v, p)) = self.playbook.read().expect("playbook cache lock").as_ref()
            && *v == latest
        {
            return Ok((*v, p.clone()));
        }
        let (version, playbook) = match repo::latest_playbook(&mut conn).await? {
            Some(stored) => (stored.version, Arc::new(parse_stored(&stored)?)),
            None => (0, Arc::new(Playbook::default_playbook())),
        };
        *self.playbook.write().expect("playbook cache lock") = Some((version, playbook.clone()));
        Ok((version, playbook))
    }

    /// Validates a TOML playbook and stores it as the next version.
    pub async fn import_playbook(
        &self,
        toml_text: &str,
        author: &str,
        note: Option<&str>,
        actor: &Actor,
    ) -> Result<VersionSummary, AppError> {
        actor.authorize(Action::ImportPlaybook, Relation::Company)?;
        Playbook::from_toml(toml_text)?;
        let mut conn = self.store().acquire().await?;
        let stored =
            repo::insert_playbook_version(&mut conn, author, note, toml_text, self.now()).await?;
        crate::audit::record(
            &mut conn,
            actor,
            "playbook.import",
            ("playbook_version", &stored.version),
            crate::audit::NOTHING,
            Some(&serde_json::json!({ "version": stored.version, "author": author, "note": note })),
            self.now(),
        )
        .await?;
        drop(conn);
        // A change of the SLA numbers is a new agreement, pending both sign-offs.
        let (version, playbook) = self.playbook().await?;
        self.sync_agreement(version, &playbook).await?;
        Ok(VersionSummary::from(&stored))
    }

    pub async fn playbook_versions(&self) -> Result<Vec<VersionSummary>, AppError> {
        let mut conn = self.store().acquire().await?;
        Ok(repo::playbook_versions(&mut conn)
            .await?
            .iter()
            .map(VersionSummary::from)
            .collect())
    }

    /// One stored version (its TOML as imported).
    pub async fn playbook_version(&self, version: i64) -> Result<PlaybookVersion, AppError> {
        let mut conn = self.store().acquire().await?;
        repo::playbook_version(&mut conn, version)
            .await
            .map_err(crate::error::named("playbook version", version))
    }

    /// The changes from version `from` to version `to`.
    pub async fn playbook_diff(&self, from: i64, to: i64) -> Result<PlaybookDiff, AppError> {
        let a = parse_stored(&self.playbook_version(from).await?)?;
        let b = parse_stored(&self.playbook_version(to).await?)?;
        let json = |p: &Playbook| serde_json::to_value(p).expect("a playbook serialises");
        Ok(PlaybookDiff {
            from,
            to,
            changes: diff(&json(&a), &json(&b)),
        })
    }
}
