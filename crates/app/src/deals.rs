//! Deals: opportunities with amount, pipeline stage and outcome; a deal
//! moves its contact to opportunity, a won deal to customer, and a lost one
//! (its last in play) back to marketing or out, as the playbook says.

use crate::access::relation_to_user;
use crate::error::named;
use crate::input::*;
use crate::lifecycle::{StageMove, change_stage, check_contact_ref, check_user_ref};
use crate::listing::{Paging, created};
use crate::{Actor, App, AppError};
use serde::Deserialize;
use smarketing_core::access::{Action, Relation};
use smarketing_core::playbook::RejectOutcome;
use smarketing_core::{DealStatus, Instant, Invalid, Playbook, Stage, StageCause};
use smarketing_store::Conn as AnyConnection;
use smarketing_store::filters::DealRows;
use smarketing_store::{Contact, Deal, Page, repo};

#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct DealFilter {
    pub status: Option<String>,
    pub owner_id: Option<i64>,
    pub contact_id: Option<i64>,
    pub account_id: Option<i64>,
    pub pipeline_stage: Option<String>,
    pub created_from: Option<String>,
    pub created_to: Option<String>,
}

fn check_pipeline_stage(playbook: &Playbook, s: &str) -> Result<String, Invalid> {
    let s = s.trim();
    if playbook.has_pipeline_stage(s) {
        Ok(s.to_string())
    } else {
        Err(Invalid::new(
            "unknown_pipeline_stage",
            "pipeline_stage",
            format!(
                "{s:?} is not a pipeline stage; expected one of {}",
                playbook.pipeline_stages.join(", ")
            ),
        ))
    }
}

fn deal_closing(
    status: DealStatus,
    closed_at: Option<Instant>,
    created_at: Instant,
    now: Instant,
) -> Result<Option<Instant>, Invalid> {
    match status {
        DealStatus::Open if closed_at.is_some() => Err(Invalid::new(
            "invalid_close",
            "closed_at",
            "an open deal has no close date",
        )),
        DealStatus::Open => Ok(None),
        _ => {
            let at = closed_at.unwrap_or(now);
            if at < created_at {
                return Err(Invalid::new(
                    "invalid_range",
                    "closed_at",
                    "a deal cannot close before it was created",
                ));
            }
            Ok(Some(at))
        }
    }
}

/// A 404 when `deal_id` names a deal `actor` may not see: records on it
/// (notes, activities) are as hidden as the deal itself.
pub(crate) async fn check_deal_visible(
    conn: &mut AnyConnection,
    actor: &Actor,
    deal_id: Option<i64>,
) -> Result<(), AppError> {
    if let Some(id) = deal_id
        && actor.role.is_some()
        && !actor.may(Action::ReadDeal, Relation::Other)
    {
        // A deal that does not exist is the caller's own error to report.
        if let Ok(d) = repo::get::<Deal>(conn, id).await
            && !may_see(conn, actor, &d).await?
        {
            return Err(AppError::not_found("deal", id));
        }
    }
    Ok(())
}

/// For a listing by `actor` of records that may sit on a deal: `None` when
/// they see every deal, else the user whose deals' records (and those on
/// no deal) they see. A `deal_id` filter naming a hidden deal is 404.
pub(crate) async fn deal_scope(
    conn: &mut AnyConnection,
    actor: &Actor,
    deal_id: Option<i64>,
) -> Result<Option<i64>, AppError> {
    if actor.role.is_none() || actor.may(Action::ReadDeal, Relation::Other) {
        return Ok(None);
    }
    check_deal_visible(conn, actor, deal_id).await?;
    Ok(Some(actor.user_id.unwrap_or(0)))
}

/// Whether `actor` may see deal `d` (the permission table's `ReadDeal`).
async fn may_see(conn: &mut AnyConnection, actor: &Actor, d: &Deal) -> Result<bool, AppError> {
    if actor.role.is_none() {
        return Ok(true);
    }
    let relation = relation_to_user(conn, actor, d.owner_id).await?;
    Ok(actor.may(Action::ReadDeal, relation))
}

impl App {
    /// Creates a deal. A deal for a contact not yet at opportunity moves it
    /// there; a won deal makes the contact a customer (closing the loop).
    pub async fn create_deal(&self, input: DealInput, actor: &Actor) -> Result<Deal, AppError> {
        let (_, playbook) = self.playbook().await?;
        let now = self.now();
        let status: DealStatus = input.status.as_deref().unwrap_or("open").parse()?;
        let created_at = input.created_at.unwrap_or(now);
        let deal = Deal {
            id: 0,
            external_id: opt_text("external_id", input.external_id.as_deref(), NAME_MAX)?,
            name: text("name", &input.name, NAME_MAX)?,
            contact_id: input.contact_id,
            account_id: input.account_id,
            // A deal someone opens is theirs unless they name its owner.
            owner_id: input.owner_id.or(actor.user_id),
            amount_minor: amount("amount_minor", input.amount_minor)?,
            pipeline_stage: match &input.pipeline_stage {
                Some(s) => check_pipeline_stage(&playbook, s)?,
                None => playbook.pipeline_stages[0].clone(),
            },
            closed_at: deal_closing(status, input.closed_at, created_at, now)?,
            lost_reason: opt_text("lost_reason", input.lost_reason.as_deref(), NAME_MAX)?,
            status,
            created_at,
            updated_at: now,
        };
        let mut tx = self.store().begin().await?;
        // A deal is sales' number; giving it to another rep is setting
        // an owner.
        if actor.role.is_some() {
            let relation = relation_to_user(&mut tx, actor, deal.owner_id).await?;
            actor.authorize(Action::EditDeal, relation)?;
            if relation != Relation::Own {
                actor.authorize(Action::SetOwner, relation)?;
            }
        }
        check_user_ref(&mut tx, "owner_id", deal.owner_id).await?;
        check_contact_ref(&mut tx, "contact_id", deal.contact_id).await?;
        let saved = repo::insert(&mut tx, &deal).await.map_err(|e| match e {
            smarketing_store::StoreError::MissingReference => AppError::Invalid(Invalid::new(
                "unknown_reference",
                "contact_id",
                "the contact or account does not exist",
            )),
            other => named("deal", 0)(other),
        })?;
        follow_deal(&mut tx, &playbook, &saved, actor, now).await?;
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(saved)
    }

    /// A deal as `actor` may see it: one they may not see (another rep's,
    /// for a rep) is 404, as if it did not exist.
    pub async fn deal_for(&self, id: i64, actor: &Actor) -> Result<Deal, AppError> {
        let mut conn = self.store().acquire().await?;
        let d: Deal = repo::get(&mut conn, id).await.map_err(named("deal", id))?;
        if !may_see(&mut conn, actor, &d).await? {
            return Err(AppError::not_found("deal", id));
        }
        Ok(d)
    }

    /// The deals matching `f` that `actor` may see: a rep's are their own.
    pub async fn deals_for(
        &self,
        f: &DealFilter,
        paging: &Paging,
        actor: &Actor,
    ) -> Result<Page<Deal>, AppError> {
        if actor.may(Action::ReadDeal, Relation::Other) {
            return self.deals(f, paging).await;
        }
        let mine = actor
            .user_id
            .filter(|_| actor.may(Action::ReadDeal, Relation::Own));
        match mine {
            Some(me) if f.owner_id.is_none_or(|o| o == me) => {
                let own = DealFilter {
                    owner_id: Some(me),
                    ..f.clone()
                };
                self.deals(&own, paging).await
            }
            // Someone else's deals, or none at all: nothing to see.
            _ => {
                paging.limit()?;
                Ok(Page {
                    items: vec![],
                    next_cursor: None,
                })
            }
        }
    }

    pub async fn deal(&self, id: i64) -> Result<Deal, AppError> {
        let mut conn = self.store().acquire().await?;
        repo::get(&mut conn, id).await.map_err(named("deal", id))
    }

    pub async fn update_deal(
        &self,
        id: i64,
        patch: DealPatch,
        actor: &Actor,
    ) -> Result<Deal, AppError> {
        let (_, playbook) = self.playbook().await?;
        let now = self.now();
        let mut tx = self.store().begin().await?;
        let mut d: Deal = repo::get(&mut tx, id).await.map_err(named("deal", id))?;
        if !may_see(&mut tx, actor, &d).await? {
            return Err(AppError::not_found("deal", id));
        }
        // As it was, for the audit log.
        let before = d.clone();
        if actor.role.is_some() {
            let relation = relation_to_user(&mut tx, actor, d.owner_id).await?;
            actor.authorize(Action::EditDeal, relation)?;
            if let Some(new) = patch.owner_id.filter(|n| *n != d.owner_id) {
                actor.authorize(Action::SetOwner, relation)?;
                let next = relation_to_user(&mut tx, actor, new).await?;
                actor.authorize(Action::SetOwner, next)?;
            }
        }
        if let Some(n) = &patch.name {
            d.name = text("name", n, NAME_MAX)?;
        }
        if let Some(v) = patch.owner_id {
            check_user_ref(&mut tx, "owner_id", v).await?;
            d.owner_id = v;
        }
        if let Some(v) = patch.amount_minor {
            d.amount_minor = amount("amount_minor", v)?;
        }
        if let Some(s) = &patch.pipeline_stage {
            d.pipeline_stage = check_pipeline_stage(&playbook, s)?;
        }
        if let Some(v) = patch.lost_reason {
            d.lost_reason = opt_text("lost_reason", v.as_deref(), NAME_MAX)?;
        }
        if patch.status.is_some() || patch.closed_at.is_some() {
            let status: DealStatus = match patch.status.as_deref() {
                Some(s) => s.parse()?,
                None => d.status,
            };
            let closed = if status == DealStatus::Open {
                patch.closed_at
            } else {
                patch.closed_at.or(d.closed_at)
            };
            d.closed_at = deal_closing(status, closed, d.created_at, now)?;
            d.status = status;
        }
        d.updated_at = now;
        crate::audit::record_update(
            &mut tx,
            actor,
            "deal.update",
            ("deal", id),
            &before,
            &d,
            now,
        )
        .await?;
        let saved = repo::update(&mut tx, id, &d)
            .await
            .map_err(named("deal", id))?;
        follow_deal(&mut tx, &playbook, &saved, actor, now).await?;
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(saved)
    }

    pub async fn deals(&self, f: &DealFilter, paging: &Paging) -> Result<Page<Deal>, AppError> {
        let w = DealRows {
            status: f
                .status
                .as_deref()
                .map(str::parse::<DealStatus>)
                .transpose()?
                .map(|s| s.as_str().to_string()),
            owner_id: f.owner_id,
            contact_id: f.contact_id,
            account_id: f.account_id,
            pipeline_stage: f.pipeline_stage.clone(),
            created: created(&f.created_from, &f.created_to)?,
        }
        .to_where();
        let mut conn = self.store().acquire().await?;
        Ok(repo::page(&mut conn, w, paging.cursor()?, paging.limit()?).await?)
    }
}

/// Keeps the contact's stage in step with its deal: an open deal means at
/// least opportunity, a won deal means customer, and a contact whose last
/// deal in play was lost leaves the funnel — recycled to marketing or
/// disqualified, by the rejection reason the playbook maps the lost reason to.
async fn follow_deal(
    conn: &mut AnyConnection,
    playbook: &Playbook,
    deal: &Deal,
    actor: &Actor,
    now: Instant,
) -> Result<(), AppError> {
    let Some(cid) = deal.contact_id else {
        return Ok(());
    };
    let mut c: Contact = repo::get(conn, cid).await?;
    let target = if deal.status == DealStatus::Won {
        Stage::Customer
    } else {
        Stage::Opportunity
    };
    let behind = match (c.stage.funnel_rank(), target.funnel_rank()) {
        (Some(have), Some(want)) => have < want,
        // From a side state a deal brings the contact back into the funnel.
        (None, _) => true,
        _ => false,
    };
    // A lost deal never moves its contact forward (editing an old one must
    // not pull a contact back into opportunity).
    if behind && playbook.has_stage(target) && deal.status != DealStatus::Lost {
        let (cause, at) = if deal.status == DealStatus::Won {
            (StageCause::DealWon, deal.closed_at.unwrap_or(now))
        } else {
            (StageCause::DealCreated, deal.created_at)
        };
        let m = StageMove::new(target, cause, actor, at);
        change_stage(conn, playbook, &mut c, m).await?;
    }
    if deal.status == DealStatus::Lost && c.stage == Stage::Opportunity {
        let others = repo::page::<Deal>(
            conn,
            DealRows {
                contact_id: Some(cid),
                ..Default::default()
            }
            .to_where(),
            None,
            crate::listing::MAX_LIMIT,
        )
        .await?;
        let in_play = others
            .items
            .iter()
            .any(|d| d.id != deal.id && d.status != DealStatus::Lost);
        if !in_play {
            let reason = playbook
                .recycle
                .reason_for_lost_deal(deal.lost_reason.as_deref());
            let to = match playbook.rejection_reason(reason).map(|r| r.outcome) {
                Some(RejectOutcome::Disqualify) => Stage::Disqualified,
                Some(RejectOutcome::Recycle) => Stage::Recycled,
                // A playbook without the mapped reason cannot record why.
                None => return Ok(()),
            };
            let m = StageMove {
                reason: Some(reason),
                note: deal.lost_reason.clone().map(|l| format!("deal lost: {l}")),
                ..StageMove::new(
                    to,
                    StageCause::DealLost,
                    actor,
                    deal.closed_at.unwrap_or(now),
                )
            };
            change_stage(conn, playbook, &mut c, m).await?;
        }
    }
    Ok(())
}
