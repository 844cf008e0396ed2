//! Activities: what sales did on a contact (calls, e-mails, meetings,
//! notes), each an attempt or a connect.

use crate::error::named;
use crate::input::*;
use crate::lifecycle::{check_not_merged, check_user_ref};
use crate::listing::{Paging, created};
use crate::{Actor, App, AppError};
use serde::Deserialize;
use smarketing_core::access::{Action, Relation};
use smarketing_core::{ActivityKind, Instant, Invalid, Playbook};
use smarketing_store::filters::ActivityRows;
use smarketing_store::{Activity, Conn, Contact, Page, User, repo};

#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct ActivityFilter {
    pub contact_id: Option<i64>,
    pub deal_id: Option<i64>,
    pub user_id: Option<i64>,
    pub kind: Option<String>,
    pub created_from: Option<String>,
    pub created_to: Option<String>,
}

/// Checks the time a rep states for an activity recorded at `recorded_at`:
/// not ahead of it, and not earlier than the playbook's grace (the SLA
/// clocks read it, so it cannot be moved back before a deadline).
fn check_stated_time(
    playbook: &Playbook,
    stated: Instant,
    recorded_at: Instant,
    actor: &Actor,
) -> Result<(), Invalid> {
    if stated.millis() > recorded_at.millis() + 60_000 {
        return Err(Invalid::new(
            "in_the_future",
            "occurred_at",
            "an activity cannot be logged ahead of time",
        ));
    }
    let grace = i64::from(playbook.sla.backdate_grace_minutes);
    // The operator (imports, the command line) records history; people
    // record what they just did.
    if actor.user_id.is_some() && stated.millis() < recorded_at.millis() - grace * 60_000 {
        return Err(Invalid::new(
            "backdated",
            "occurred_at",
            format!(
                "an activity is recorded when it is logged; its time may be stated at most {grace} minutes earlier (the playbook's sla.backdate_grace_minutes)"
            ),
        ));
    }
    Ok(())
}

/// Builds, checks and saves an activity an actor logs now: as themself, or
/// for a rep when the permission table lets them (the record keeps who
/// logged it), at the time they state within the grace.
pub(crate) async fn log_activity(
    conn: &mut Conn,
    playbook: &Playbook,
    input: &ActivityInput,
    actor: &Actor,
    now: Instant,
) -> Result<Activity, AppError> {
    let user_id = input.user_id.or(actor.user_id);
    if let Some(them) = user_id
        && actor.user_id != Some(them)
    {
        let rep: User = repo::get(conn, them).await.map_err(|_| {
            Invalid::new(
                "unknown_reference",
                "user_id",
                format!("user {them} does not exist"),
            )
        })?;
        actor.authorize(
            Action::LogActivityFor,
            actor.relation_to(Some(rep.id), Some(rep.team)),
        )?;
    }
    let a = Activity {
        id: 0,
        contact_id: input.contact_id,
        deal_id: input.deal_id,
        user_id,
        kind: input.kind.parse()?,
        outcome: input.outcome.as_deref().unwrap_or("attempt").parse()?,
        subject: opt_text("subject", input.subject.as_deref(), NAME_MAX)?,
        body: opt_text("body", input.body.as_deref(), BODY_MAX)?,
        occurred_at: input.occurred_at.unwrap_or(now),
        logged_by: actor.user_id,
        created_at: now,
        updated_at: now,
    };
    check_stated_time(playbook, a.occurred_at, now, actor)?;
    let c = repo::get::<Contact>(conn, a.contact_id)
        .await
        .map_err(|_| {
            Invalid::new(
                "unknown_reference",
                "contact_id",
                format!("contact {} does not exist", a.contact_id),
            )
        })?;
    check_not_merged(&c, "contact_id")?;
    check_user_ref(conn, "user_id", a.user_id).await?;
    repo::insert(conn, &a).await.map_err(|e| match e {
        smarketing_store::StoreError::MissingReference => AppError::Invalid(Invalid::new(
            "unknown_reference",
            "deal_id",
            "the deal does not exist",
        )),
        other => named("activity", 0)(other),
    })
}

impl App {
    pub async fn create_activity(
        &self,
        input: ActivityInput,
        actor: &Actor,
    ) -> Result<Activity, AppError> {
        actor.authorize(Action::AddRecords, Relation::Company)?;
        let (_, playbook) = self.playbook().await?;
        let mut conn = self.store().acquire().await?;
        crate::deals::check_deal_visible(&mut conn, actor, input.deal_id).await?;
        log_activity(&mut conn, &playbook, &input, actor, self.now()).await
    }

    pub async fn activity(&self, id: i64) -> Result<Activity, AppError> {
        self.activity_for(id, &Actor::system()).await
    }

    /// An activity as `actor` may see it: one on a deal hidden from them is
    /// 404.
    pub async fn activity_for(&self, id: i64, actor: &Actor) -> Result<Activity, AppError> {
        let mut conn = self.store().acquire().await?;
        let a: Activity = repo::get(&mut conn, id)
            .await
            .map_err(named("activity", id))?;
        crate::deals::check_deal_visible(&mut conn, actor, a.deal_id)
            .await
            .map_err(|_| AppError::not_found("activity", id))?;
        Ok(a)
    }

    pub async fn update_activity(
        &self,
        id: i64,
        patch: ActivityPatch,
        actor: &Actor,
    ) -> Result<Activity, AppError> {
        let mut tx = self.store().begin().await?;
        let mut a: Activity = repo::get(&mut tx, id)
            .await
            .map_err(named("activity", id))?;
        // As it was, for the audit log.
        let before = a.clone();
        let relation = crate::access::relation_to_user(&mut tx, actor, a.user_id).await?;
        actor.authorize(Action::EditActivity, relation)?;
        if let Some(k) = &patch.kind {
            a.kind = k.parse()?;
        }
        if let Some(o) = &patch.outcome {
            let outcome = o.parse()?;
            // The clocks read the outcome: turning an attempt into a connect
            // later would meet a clock after the fact.
            if outcome != a.outcome && actor.user_id.is_some() {
                let (_, playbook) = self.playbook().await?;
                let grace = i64::from(playbook.sla.backdate_grace_minutes) * 60_000;
                if self.now().millis() > a.created_at.millis() + grace {
                    return Err(Invalid::new(
                        "activity_settled",
                        "outcome",
                        format!(
                            "the outcome of an activity is settled {} minutes after it was logged; log a new activity instead",
                            playbook.sla.backdate_grace_minutes
                        ),
                    )
                    .into());
                }
            }
            a.outcome = outcome;
        }
        if let Some(v) = patch.subject {
            a.subject = opt_text("subject", v.as_deref(), NAME_MAX)?;
        }
        if let Some(v) = patch.body {
            a.body = opt_text("body", v.as_deref(), BODY_MAX)?;
        }
        if let Some(v) = patch.occurred_at {
            let (_, playbook) = self.playbook().await?;
            check_stated_time(&playbook, v, a.created_at, actor)?;
            a.occurred_at = v;
        }
        a.updated_at = self.now();
        crate::audit::record_update(
            &mut tx,
            actor,
            "activity.update",
            ("activity", id),
            &before,
            &a,
            self.now(),
        )
        .await?;
        let saved = repo::update(&mut tx, id, &a)
            .await
            .map_err(named("activity", id))?;
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(saved)
    }

    pub async fn activities(
        &self,
        f: &ActivityFilter,
        paging: &Paging,
    ) -> Result<Page<Activity>, AppError> {
        self.activities_for(f, paging, &Actor::system()).await
    }

    /// The activities matching `f` that `actor` may see: none on a deal
    /// hidden from them (a rep sees their own deals only).
    pub async fn activities_for(
        &self,
        f: &ActivityFilter,
        paging: &Paging,
        actor: &Actor,
    ) -> Result<Page<Activity>, AppError> {
        let mut conn = self.store().acquire().await?;
        let on_deals_of = crate::deals::deal_scope(&mut conn, actor, f.deal_id).await?;
        let w = ActivityRows {
            on_deals_of,
            contact_id: f.contact_id,
            deal_id: f.deal_id,
            user_id: f.user_id,
            kind: f
                .kind
                .as_deref()
                .map(str::parse::<ActivityKind>)
                .transpose()?
                .map(|k| k.as_str().to_string()),
            created: created(&f.created_from, &f.created_to)?,
        }
        .to_where();
        Ok(repo::page(&mut conn, w, paging.cursor()?, paging.limit()?).await?)
    }
}
