//! Personal data (GDPR): everything held about one person, exported as
//! one JSON document — the contact and its account, the ids and browsers
//! they are known by, their raw kept events, touches, stage history,
//! activities, notes, deals, handoffs and merges. Admins only; audited.
//! And retention: anonymous visitors' data is deleted some time after they
//! were last seen.

use crate::error::named;
use crate::{Actor, App, AppError};
use smarketing_core::access::{Action, Relation};
use smarketing_store::{Account, Contact, repo};

/// Days anonymous visitors' data is kept by default: 13 months.
pub const DEFAULT_RETENTION_DAYS: u32 = 395;

impl App {
    /// Deletes anonymous visitors' data (never identified) last seen more
    /// than the configured days ago: their touches, applied raw events and
    /// visitor records. Identified people are not touched. Audited when it
    /// deletes anything.
    pub async fn apply_retention(&self) -> Result<smarketing_store::person::Purged, AppError> {
        let Some(days) = self.options.anonymous_retention_days else {
            return Ok(Default::default());
        };
        let cutoff = self.now().millis() - i64::from(days) * 86_400_000;
        let mut tx = self.store().begin().await?;
        let purged = smarketing_store::person::purge_anonymous_visitors(&mut tx, cutoff).await?;
        if purged != Default::default() {
            crate::audit::record(
                &mut tx,
                &Actor::system(),
                "retention.purge",
                ("visitors", &format!("last seen before {days} days")),
                crate::audit::NOTHING,
                Some(&purged),
                self.now(),
            )
            .await?;
        }
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(purged)
    }

    /// Everything held about contact `id`, as one JSON document.
    pub async fn export_person(
        &self,
        id: i64,
        actor: &Actor,
    ) -> Result<serde_json::Value, AppError> {
        actor.authorize(Action::HandlePersonalData, Relation::Company)?;
        let mut tx = self.store().begin().await?;
        let contact: Contact = repo::get(&mut tx, id).await.map_err(named("contact", id))?;
        let account = match contact.account_id {
            Some(a) => Some(repo::get::<Account>(&mut tx, a).await?),
            None => None,
        };
        let touchpoints = repo::touchpoints_of_contact(&mut tx, id).await?;
        let stage_changes = repo::stage_changes_of_contact(&mut tx, id).await?;
        let activities = repo::activities_of_contact(&mut tx, id).await?;
        let notes = repo::notes_of_contact(&mut tx, id).await?;
        let merges = smarketing_store::merges::merges_of(&mut tx, id).await?;
        let rest = smarketing_store::person::person_records(&mut tx, id).await?;
        crate::audit::record(
            &mut tx,
            actor,
            "person.export",
            ("contact", &id),
            crate::audit::NOTHING,
            crate::audit::NOTHING,
            self.now(),
        )
        .await?;
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(serde_json::json!({
            "exported_at": self.now(),
            "contact": contact,
            "account": account,
            "user_ids": rest.user_ids,
            "anonymous_ids": rest.anonymous_ids,
            "events": rest.events,
            "touchpoints": touchpoints,
            "stage_changes": stage_changes,
            "activities": activities,
            "notes": notes,
            "deals": rest.deals,
            "handoffs": rest.handoffs,
            "merges": merges,
        }))
    }
}
