//! Personal data (GDPR): everything held about one person, exported as
//! one JSON document — the contact and its account, the ids and browsers
//! they are known by, their raw kept events, touches, stage history,
//! activities, notes, deals, handoffs and merges. Admins only; audited.

use crate::error::named;
use crate::{Actor, App, AppError};
use smarketing_core::access::{Action, Relation};
use smarketing_store::{Account, Contact, repo};

impl App {
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
