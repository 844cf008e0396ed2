//! Campaigns: named marketing efforts with a channel, dates and spend.

use crate::error::named;
use crate::input::*;
use crate::lifecycle::check_channel;
use crate::listing::{Paging, created};
use crate::{Actor, App, AppError};
use serde::Deserialize;
use smarketing_core::access::{Action, Relation};
use smarketing_core::{Instant, Invalid, Playbook};
use smarketing_store::filters::CampaignRows;
use smarketing_store::{Campaign, Page, repo};

#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct CampaignFilter {
    pub channel: Option<String>,
    /// Campaigns running at or after this instant.
    pub created_from: Option<String>,
    pub created_to: Option<String>,
}

fn new_campaign(
    playbook: &Playbook,
    input: &CampaignInput,
    now: Instant,
) -> Result<Campaign, Invalid> {
    if let Some(end) = input.ended_at
        && end < input.started_at
    {
        return Err(Invalid::new(
            "invalid_range",
            "ended_at",
            "a campaign cannot end before it starts",
        ));
    }
    Ok(Campaign {
        id: 0,
        external_id: opt_text("external_id", input.external_id.as_deref(), NAME_MAX)?,
        name: text("name", &input.name, NAME_MAX)?,
        channel: check_channel(playbook, "channel", &input.channel)?,
        utm_campaign: opt_text("utm_campaign", input.utm_campaign.as_deref(), NAME_MAX)?,
        started_at: input.started_at,
        ended_at: input.ended_at,
        spend_minor: amount("spend_minor", input.spend_minor)?,
        created_at: now,
        updated_at: now,
    })
}

impl App {
    pub async fn create_campaign(
        &self,
        input: CampaignInput,
        actor: &Actor,
    ) -> Result<Campaign, AppError> {
        actor.authorize(Action::EditCampaign, Relation::Company)?;
        if input.spend_minor != 0 {
            actor.authorize(Action::SetSpend, Relation::Company)?;
        }
        let (_, playbook) = self.playbook().await?;
        let campaign = new_campaign(&playbook, &input, self.now())?;
        let mut conn = self.store().acquire().await?;
        repo::insert(&mut conn, &campaign)
            .await
            .map_err(named("campaign", 0))
    }

    pub async fn campaign(&self, id: i64) -> Result<Campaign, AppError> {
        let mut conn = self.store().acquire().await?;
        repo::get(&mut conn, id)
            .await
            .map_err(named("campaign", id))
    }

    pub async fn update_campaign(
        &self,
        id: i64,
        patch: CampaignPatch,
        actor: &Actor,
    ) -> Result<Campaign, AppError> {
        actor.authorize(Action::EditCampaign, Relation::Company)?;
        if patch.spend_minor.is_some() {
            actor.authorize(Action::SetSpend, Relation::Company)?;
        }
        let (_, playbook) = self.playbook().await?;
        let mut tx = self.store().begin().await?;
        let mut c: Campaign = repo::get(&mut tx, id)
            .await
            .map_err(named("campaign", id))?;
        // As it was, for the audit log.
        let before = c.clone();
        if let Some(n) = &patch.name {
            c.name = text("name", n, NAME_MAX)?;
        }
        if let Some(ch) = &patch.channel {
            c.channel = check_channel(&playbook, "channel", ch)?;
        }
        if let Some(v) = patch.utm_campaign {
            c.utm_campaign = opt_text("utm_campaign", v.as_deref(), NAME_MAX)?;
        }
        if let Some(v) = patch.started_at {
            c.started_at = v;
        }
        if let Some(v) = patch.ended_at {
            c.ended_at = v;
        }
        if let Some(v) = patch.spend_minor {
            c.spend_minor = amount("spend_minor", v)?;
        }
        if c.ended_at.is_some_and(|e| e < c.started_at) {
            return Err(Invalid::new(
                "invalid_range",
                "ended_at",
                "a campaign cannot end before it starts",
            )
            .into());
        }
        c.updated_at = self.now();
        crate::audit::record_update(
            &mut tx,
            actor,
            "campaign.update",
            ("campaign", id),
            &before,
            &c,
            self.now(),
        )
        .await?;
        let saved = repo::update(&mut tx, id, &c)
            .await
            .map_err(named("campaign", id))?;
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(saved)
    }

    pub async fn campaigns(
        &self,
        f: &CampaignFilter,
        paging: &Paging,
    ) -> Result<Page<Campaign>, AppError> {
        let w = CampaignRows {
            channel: f.channel.clone(),
            created: created(&f.created_from, &f.created_to)?,
        }
        .to_where();
        let mut conn = self.store().acquire().await?;
        Ok(repo::page(&mut conn, w, paging.cursor()?, paging.limit()?).await?)
    }
}
