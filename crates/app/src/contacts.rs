//! Contacts: create, read, update and list them, move them through the
//! lifecycle by hand, their timeline and their score explained.

use crate::access::{authorize_new_record, authorize_record_change};
use crate::error::named;
use crate::input::*;
use crate::lifecycle::{
    StageMove, change_stage, check_not_merged, check_persona, check_user_ref, engaging,
    insert_contact, new_contact, parse_stage, profile, rescore,
};
use crate::listing::{Paging, created};
use crate::rescoring::persona_follows_rules;
use crate::{Actor, App, AppError};
use serde::{Deserialize, Serialize};
use smarketing_core::scoring::{ScoreCard, score};
use smarketing_core::{Email, Instant, Invalid, Stage, StageCause};
use smarketing_store::filters::ContactRows;
use smarketing_store::{Account, Activity, Contact, Note, Page, StageChange, Touchpoint, repo};

#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct ContactFilter {
    /// The contact with this e-mail (compared case-insensitively).
    pub email: Option<String>,
    pub stage: Option<String>,
    pub owner_id: Option<i64>,
    pub persona: Option<String>,
    /// Contacts with at least one touch on this channel.
    pub channel: Option<String>,
    /// Contacts with at least one touch of this campaign.
    pub campaign_id: Option<i64>,
    pub account_id: Option<i64>,
    /// Created at or after this instant (RFC 3339).
    pub created_from: Option<String>,
    /// Created before this instant (RFC 3339).
    pub created_to: Option<String>,
    /// True lists the records merged into another (each names the one it
    /// became in `merged_into_id`); by default only live records are listed.
    pub merged: Option<bool>,
}

/// One entry of a contact's timeline.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TimelineEntry {
    Touchpoint {
        at: Instant,
        touchpoint: Touchpoint,
    },
    StageChange {
        at: Instant,
        stage_change: StageChange,
    },
    Activity {
        at: Instant,
        activity: Activity,
    },
    Note {
        at: Instant,
        note: Note,
    },
}

impl TimelineEntry {
    fn at(&self) -> Instant {
        match self {
            TimelineEntry::Touchpoint { at, .. }
            | TimelineEntry::StageChange { at, .. }
            | TimelineEntry::Activity { at, .. }
            | TimelineEntry::Note { at, .. } => *at,
        }
    }
    fn rank(&self) -> u8 {
        // At equal instants, the touch comes before the stage change it caused.
        match self {
            TimelineEntry::Touchpoint { .. } => 0,
            TimelineEntry::StageChange { .. } => 1,
            TimelineEntry::Activity { .. } => 2,
            TimelineEntry::Note { .. } => 3,
        }
    }
}

impl App {
    pub async fn create_contact(
        &self,
        input: ContactInput,
        actor: &Actor,
    ) -> Result<Contact, AppError> {
        let (_, playbook) = self.playbook().await?;
        let mut tx = self.store().begin().await?;
        let account = match input.account_id {
            Some(id) => Some(repo::get::<Account>(&mut tx, id).await.map_err(|_| {
                Invalid::new(
                    "unknown_reference",
                    "account_id",
                    format!("account {id} does not exist"),
                )
            })?),
            None => None,
        };
        authorize_new_record(&mut tx, actor, input.owner_id).await?;
        check_user_ref(&mut tx, "owner_id", input.owner_id).await?;
        let contact = new_contact(&playbook, &input, account.as_ref(), self.now())?;
        let saved = insert_contact(&mut tx, &contact, actor).await?;
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(saved)
    }

    pub async fn contact(&self, id: i64) -> Result<Contact, AppError> {
        let mut conn = self.store().acquire().await?;
        repo::get(&mut conn, id).await.map_err(named("contact", id))
    }

    pub async fn update_contact(
        &self,
        id: i64,
        patch: ContactPatch,
        actor: &Actor,
    ) -> Result<Contact, AppError> {
        let (_, playbook) = self.playbook().await?;
        let mut tx = self.store().begin().await?;
        let mut c: Contact = repo::get(&mut tx, id).await.map_err(named("contact", id))?;
        // As it was, for the audit log.
        let before = c.clone();
        check_not_merged(&c, "id")?;
        authorize_record_change(&mut tx, actor, c.owner_id, patch.owner_id).await?;
        // A persona the rules chose follows them when the title or the
        // account changes; one set by hand stays.
        let account = match c.account_id {
            Some(a) => Some(repo::get::<Account>(&mut tx, a).await?),
            None => None,
        };
        let matched = persona_follows_rules(&playbook, &c, account.as_ref());
        if let Some(e) = &patch.email {
            c.email = Email::parse(e)?.to_string();
        }
        if let Some(v) = patch.first_name {
            c.first_name = opt_text("first_name", v.as_deref(), NAME_MAX)?;
        }
        if let Some(v) = patch.last_name {
            c.last_name = opt_text("last_name", v.as_deref(), NAME_MAX)?;
        }
        if let Some(v) = patch.job_title {
            c.job_title = opt_text("job_title", v.as_deref(), NAME_MAX)?;
        }
        if let Some(v) = patch.phone {
            c.phone = opt_text("phone", v.as_deref(), 50)?;
        }
        if let Some(v) = patch.country {
            c.country = opt_text("country", v.as_deref(), 100)?;
        }
        if let Some(v) = patch.account_id {
            if let Some(aid) = v {
                repo::get::<Account>(&mut tx, aid).await.map_err(|_| {
                    Invalid::new(
                        "unknown_reference",
                        "account_id",
                        format!("account {aid} does not exist"),
                    )
                })?;
            }
            c.account_id = v;
        }
        if let Some(v) = patch.owner_id {
            check_user_ref(&mut tx, "owner_id", v).await?;
            c.owner_id = v;
        }
        if let Some(v) = patch.persona {
            c.persona = v
                .as_deref()
                .map(|p| check_persona(&playbook, p))
                .transpose()?;
        } else if matched {
            let account = match c.account_id {
                Some(a) => Some(repo::get::<Account>(&mut tx, a).await?),
                None => None,
            };
            c.persona = playbook
                .match_persona(&profile(&c, account.as_ref()))
                .map(str::to_string);
        }
        c.updated_at = self.now();
        crate::audit::record_update(
            &mut tx,
            actor,
            "contact.update",
            ("contact", id),
            &before,
            &c,
            self.now(),
        )
        .await?;
        let saved = repo::update(&mut tx, id, &c)
            .await
            .map_err(named("contact", id))?;
        let now = self.now();
        let saved = rescore(&mut tx, &playbook, saved, now).await?.0;
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(saved)
    }

    pub async fn contacts(
        &self,
        f: &ContactFilter,
        paging: &Paging,
    ) -> Result<Page<Contact>, AppError> {
        let w = ContactRows {
            email: f.email.as_deref().map(|e| e.trim().to_lowercase()),
            stage: f.stage.as_deref().map(str::parse::<Stage>).transpose()?,
            owner_id: f.owner_id,
            persona: f.persona.clone(),
            account_id: f.account_id,
            channel: f.channel.clone(),
            campaign_id: f.campaign_id,
            created: created(&f.created_from, &f.created_to)?,
            merged: f.merged == Some(true),
        }
        .to_where();
        let mut conn = self.store().acquire().await?;
        Ok(repo::page(&mut conn, w, paging.cursor()?, paging.limit()?).await?)
    }

    /// Moves a contact to another stage, as the lifecycle allows.
    pub async fn move_stage(
        &self,
        id: i64,
        input: StageMoveInput,
        actor: &Actor,
    ) -> Result<StageChange, AppError> {
        let (_, playbook) = self.playbook().await?;
        let to = parse_stage(&playbook, "stage", &input.stage)?;
        let note = opt_text("note", input.note.as_deref(), BODY_MAX)?;
        let mut tx = self.store().begin().await?;
        let mut c: Contact = repo::get(&mut tx, id).await.map_err(named("contact", id))?;
        check_not_merged(&c, "id")?;
        authorize_record_change(&mut tx, actor, c.owner_id, None).await?;
        // A lead waiting on sales leaves MQL by sales' hand only: the move
        // closes its handoff, which only those who may work it may do.
        if to != Stage::Mql
            && let Some(h) = repo::open_handoff_of_contact(&mut tx, c.id).await?
        {
            crate::handoffs::may_work(actor, &h)?;
        }
        let m = StageMove {
            reason: input.reason.as_deref(),
            note,
            ..StageMove::new(to, StageCause::Manual, actor, self.now())
        };
        let before = c.stage;
        let change = change_stage(&mut tx, &playbook, &mut c, m).await?;
        crate::audit::record(
            &mut tx,
            actor,
            "contact.stage",
            ("contact", &id),
            Some(&serde_json::json!({ "stage": before })),
            Some(&serde_json::json!({ "stage": c.stage, "reason": input.reason })),
            self.now(),
        )
        .await?;
        if to == Stage::Mql {
            crate::handoffs::open_handoff(&mut tx, &playbook, &c, &change, self.now()).await?;
        }
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(change)
    }

    /// Touchpoints, stage changes, activities and notes of a contact in time order.
    pub async fn timeline(&self, id: i64) -> Result<Vec<TimelineEntry>, AppError> {
        let mut conn = self.store().acquire().await?;
        repo::get::<Contact>(&mut conn, id)
            .await
            .map_err(named("contact", id))?;
        let mut out: Vec<TimelineEntry> = Vec::new();
        out.extend(
            repo::touchpoints_of_contact(&mut conn, id)
                .await?
                .into_iter()
                .map(|t| TimelineEntry::Touchpoint {
                    at: t.occurred_at,
                    touchpoint: t,
                }),
        );
        out.extend(
            repo::stage_changes_of_contact(&mut conn, id)
                .await?
                .into_iter()
                .map(|s| TimelineEntry::StageChange {
                    at: s.changed_at,
                    stage_change: s,
                }),
        );
        out.extend(
            repo::activities_of_contact(&mut conn, id)
                .await?
                .into_iter()
                .map(|a| TimelineEntry::Activity {
                    at: a.occurred_at,
                    activity: a,
                }),
        );
        out.extend(
            repo::notes_of_contact(&mut conn, id)
                .await?
                .into_iter()
                .map(|n| TimelineEntry::Note {
                    at: n.created_at,
                    note: n,
                }),
        );
        out.sort_by_key(|e| (e.at(), e.rank()));
        Ok(out)
    }

    /// The contact's scores at `at` (default now), with every contribution.
    pub async fn score(&self, id: i64, at: Option<Instant>) -> Result<ScoreCard, AppError> {
        let (version, playbook) = self.playbook().await?;
        let mut conn = self.store().acquire().await?;
        let c: Contact = repo::get(&mut conn, id)
            .await
            .map_err(named("contact", id))?;
        let account = match c.account_id {
            Some(a) => Some(repo::get::<Account>(&mut conn, a).await?),
            None => None,
        };
        let touches = engaging(&c, &repo::touchpoints_of_contact(&mut conn, id).await?);
        Ok(ScoreCard {
            playbook_version: Some(version),
            ..score(
                &playbook,
                &profile(&c, account.as_ref()),
                &touches,
                at.unwrap_or(self.now()).timestamp(),
            )
        })
    }
}
