//! Accounts, contacts, campaigns, deals, activities and notes: create, read,
//! update and list, with the lifecycle and scoring rules of the playbook
//! applied on the way in.

use crate::error::named;
use crate::input::*;
use crate::{Actor, App, AppError};
use serde::{Deserialize, Serialize};
use smarketing_core::access::Action;
use smarketing_core::lifecycle::check_move;
use smarketing_core::playbook::Profile;
use smarketing_core::scoring::{ScoreCard, ScoredTouch, score};
use smarketing_core::{Email, Instant, Invalid, Playbook, Stage};
use smarketing_store::Conn as AnyConnection;
use smarketing_store::{
    Account, Activity, Campaign, Contact, Deal, Note, Page, StageChange, Touchpoint, User, Where,
    repo,
};

/// Largest page a list returns.
pub const MAX_LIMIT: u32 = 500;
pub const DEFAULT_LIMIT: u32 = 50;

/// Paging and the created-at range every list accepts.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct Paging {
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    pub limit: Option<u32>,
}

impl Paging {
    pub(crate) fn limit(&self) -> Result<u32, Invalid> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(n) => Err(Invalid::new(
                "invalid_limit",
                "limit",
                format!("limit must be between 1 and {MAX_LIMIT}, got {n}"),
            )),
        }
    }
    pub(crate) fn cursor(&self) -> Result<Option<&str>, Invalid> {
        match self.cursor.as_deref() {
            Some(c) if smarketing_store::sql::decode_cursor(c).is_none() => Err(Invalid::new(
                "invalid_cursor",
                "cursor",
                "the cursor is not one this API returned",
            )),
            c => Ok(c),
        }
    }
}

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

#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct AccountFilter {
    pub owner_id: Option<i64>,
    pub domain: Option<String>,
    pub region: Option<String>,
    pub created_from: Option<String>,
    pub created_to: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct CampaignFilter {
    pub channel: Option<String>,
    /// Campaigns running at or after this instant.
    pub created_from: Option<String>,
    pub created_to: Option<String>,
}

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

#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct NoteFilter {
    pub contact_id: Option<i64>,
    pub account_id: Option<i64>,
    pub deal_id: Option<i64>,
    pub author_id: Option<i64>,
    pub created_from: Option<String>,
    pub created_to: Option<String>,
}

fn range(
    w: &mut Where,
    table: &str,
    from: &Option<String>,
    to: &Option<String>,
) -> Result<(), Invalid> {
    let from = from
        .as_deref()
        .map(|s| Instant::parse(s, "created_from"))
        .transpose()?;
    let to = to
        .as_deref()
        .map(|s| Instant::parse(s, "created_to"))
        .transpose()?;
    w.and(
        &format!("{table}.created_at >= ?"),
        from.map(Instant::millis),
    );
    w.and(&format!("{table}.created_at < ?"), to.map(Instant::millis));
    Ok(())
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

/// The attributes persona and fit rules see.
pub fn profile(contact: &Contact, account: Option<&Account>) -> Profile {
    Profile {
        email_domain: contact.email.split_once('@').map(|(_, d)| d.to_string()),
        job_title: contact.job_title.clone(),
        persona: contact.persona.clone(),
        contact_country: contact.country.clone(),
        account_domain: account.and_then(|a| a.domain.clone()),
        industry: account.and_then(|a| a.industry.clone()),
        employee_count: account.and_then(|a| a.employee_count),
        company_size: account.and_then(|a| a.company_size.clone()),
        region: account.and_then(|a| a.region.clone()),
        account_country: account.and_then(|a| a.country.clone()),
    }
}

pub(crate) fn scored(t: &Touchpoint) -> ScoredTouch {
    ScoredTouch {
        touchpoint_id: t.id,
        occurred_at: t.occurred_at.timestamp(),
        channel: t.channel.clone(),
        kind: t.kind.clone(),
    }
}

fn check_channel(playbook: &Playbook, field: &str, channel: &str) -> Result<String, Invalid> {
    let c = channel.trim();
    if playbook.has_channel(c) {
        Ok(c.to_string())
    } else {
        Err(Invalid::new(
            "unknown_channel",
            field,
            format!(
                "{c:?} is not a channel of the playbook; expected one of {}",
                playbook
                    .channels
                    .iter()
                    .map(|c| c.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ))
    }
}

pub(crate) fn check_persona(playbook: &Playbook, persona: &str) -> Result<String, Invalid> {
    let p = persona.trim();
    if playbook.has_persona(p) {
        Ok(p.to_string())
    } else {
        Err(Invalid::new(
            "unknown_persona",
            "persona",
            format!("{p:?} is not a persona of the playbook"),
        ))
    }
}

pub(crate) fn parse_stage(playbook: &Playbook, field: &str, s: &str) -> Result<Stage, Invalid> {
    let stage: Stage = s.parse().map_err(|e: Invalid| e.at(field))?;
    if !playbook.has_stage(stage) {
        return Err(Invalid::new(
            "stage_not_in_playbook",
            field,
            format!("stage {stage} is not part of the playbook"),
        ));
    }
    Ok(stage)
}

/// Builds (but does not save) a new contact from input: normalised e-mail,
/// persona matched when not given, starting stage checked, fit scored.
pub(crate) fn new_contact(
    playbook: &Playbook,
    input: &ContactInput,
    account: Option<&Account>,
    now: Instant,
) -> Result<Contact, Invalid> {
    let stage = match &input.stage {
        Some(s) => parse_stage(playbook, "stage", s)?,
        None => Stage::Lead,
    };
    if stage.is_side_state() {
        return Err(Invalid::new(
            "invalid_stage",
            "stage",
            "a new contact starts in a funnel stage, not recycled or disqualified",
        ));
    }
    let created_at = input.created_at.unwrap_or(now);
    let mut c = Contact {
        id: 0,
        external_id: opt_text("external_id", input.external_id.as_deref(), NAME_MAX)?,
        email: Email::parse(&input.email)?.to_string(),
        first_name: opt_text("first_name", input.first_name.as_deref(), NAME_MAX)?,
        last_name: opt_text("last_name", input.last_name.as_deref(), NAME_MAX)?,
        job_title: opt_text("job_title", input.job_title.as_deref(), NAME_MAX)?,
        phone: opt_text("phone", input.phone.as_deref(), 50)?,
        country: opt_text("country", input.country.as_deref(), 100)?,
        account_id: input.account_id,
        owner_id: input.owner_id,
        persona: input
            .persona
            .as_deref()
            .map(|p| check_persona(playbook, p))
            .transpose()?,
        stage,
        source_channel: input
            .source_channel
            .as_deref()
            .map(|c| check_channel(playbook, "source_channel", c))
            .transpose()?,
        fit_score: 0,
        engagement_score: 0.0,
        scored_at: None,
        first_touch: None,
        last_touch: None,
        merged_into_id: None,
        created_at,
        updated_at: now,
    };
    if c.persona.is_none() {
        c.persona = playbook
            .match_persona(&profile(&c, account))
            .map(str::to_string);
    }
    let card = score(playbook, &profile(&c, account), &[], created_at.timestamp());
    c.fit_score = card.fit;
    c.scored_at = Some(created_at);
    Ok(c)
}

fn new_account(input: &AccountInput, now: Instant) -> Result<Account, Invalid> {
    Ok(Account {
        id: 0,
        external_id: opt_text("external_id", input.external_id.as_deref(), NAME_MAX)?,
        name: text("name", &input.name, NAME_MAX)?,
        domain: opt_text("domain", input.domain.as_deref(), 253)?.map(|d| d.to_lowercase()),
        industry: opt_text("industry", input.industry.as_deref(), NAME_MAX)?,
        employee_count: input
            .employee_count
            .map(|n| non_negative("employee_count", n))
            .transpose()?,
        company_size: opt_text("company_size", input.company_size.as_deref(), 50)?,
        region: opt_text("region", input.region.as_deref(), 50)?,
        country: opt_text("country", input.country.as_deref(), 100)?,
        owner_id: input.owner_id,
        created_at: now,
        updated_at: now,
    })
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
        spend_minor: non_negative("spend_minor", input.spend_minor)?,
        created_at: now,
        updated_at: now,
    })
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
    status: &str,
    closed_at: Option<Instant>,
    created_at: Instant,
    now: Instant,
) -> Result<Option<Instant>, Invalid> {
    match status {
        "open" if closed_at.is_some() => Err(Invalid::new(
            "invalid_close",
            "closed_at",
            "an open deal has no close date",
        )),
        "open" => Ok(None),
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

impl App {
    // ---------------- accounts ----------------

    pub async fn create_account(&self, input: AccountInput) -> Result<Account, AppError> {
        let mut conn = self.store().acquire().await?;
        insert_account(&mut conn, &input, self.now()).await
    }

    pub async fn account(&self, id: i64) -> Result<Account, AppError> {
        let mut conn = self.store().acquire().await?;
        repo::get(&mut conn, id).await.map_err(named("account", id))
    }

    pub async fn update_account(&self, id: i64, patch: AccountPatch) -> Result<Account, AppError> {
        let mut tx = self.store().begin().await?;
        let mut a: Account = repo::get(&mut tx, id).await.map_err(named("account", id))?;
        if let Some(n) = &patch.name {
            a.name = text("name", n, NAME_MAX)?;
        }
        if let Some(v) = patch.domain {
            a.domain = opt_text("domain", v.as_deref(), 253)?.map(|d| d.to_lowercase());
        }
        if let Some(v) = patch.industry {
            a.industry = opt_text("industry", v.as_deref(), NAME_MAX)?;
        }
        if let Some(v) = patch.employee_count {
            a.employee_count = v.map(|n| non_negative("employee_count", n)).transpose()?;
        }
        if let Some(v) = patch.company_size {
            a.company_size = opt_text("company_size", v.as_deref(), 50)?;
        }
        if let Some(v) = patch.region {
            a.region = opt_text("region", v.as_deref(), 50)?;
        }
        if let Some(v) = patch.country {
            a.country = opt_text("country", v.as_deref(), 100)?;
        }
        if let Some(v) = patch.owner_id {
            check_user_ref(&mut tx, "owner_id", v).await?;
            a.owner_id = v;
        }
        a.updated_at = self.now();
        let saved = repo::update(&mut tx, id, &a)
            .await
            .map_err(named("account", id))?;
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(saved)
    }

    pub async fn accounts(
        &self,
        f: &AccountFilter,
        paging: &Paging,
    ) -> Result<Page<Account>, AppError> {
        let mut w = Where::new();
        w.and("accounts.owner_id = ?", f.owner_id);
        w.and(
            "accounts.domain = ?",
            f.domain.as_deref().map(str::to_lowercase),
        );
        w.and("accounts.region = ?", f.region.clone());
        range(&mut w, "accounts", &f.created_from, &f.created_to)?;
        let mut conn = self.store().acquire().await?;
        Ok(repo::page(&mut conn, w, paging.cursor()?, paging.limit()?).await?)
    }

    // ---------------- contacts ----------------

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

    pub async fn update_contact(&self, id: i64, patch: ContactPatch) -> Result<Contact, AppError> {
        let (_, playbook) = self.playbook().await?;
        let mut tx = self.store().begin().await?;
        let mut c: Contact = repo::get(&mut tx, id).await.map_err(named("contact", id))?;
        check_not_merged(&c, "id")?;
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
        }
        c.updated_at = self.now();
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
        let mut w = Where::new();
        w.and(
            "contacts.email = ?",
            f.email.as_deref().map(|e| e.trim().to_lowercase()),
        );
        if let Some(s) = &f.stage {
            let stage: Stage = s.parse()?;
            w.and("contacts.stage = ?", Some(stage.as_str()));
        }
        w.and("contacts.owner_id = ?", f.owner_id);
        w.and("contacts.persona = ?", f.persona.clone());
        w.and("contacts.account_id = ?", f.account_id);
        w.and(
            "EXISTS (SELECT 1 FROM touchpoints t WHERE t.contact_id = contacts.id AND t.channel = ?)",
            f.channel.clone(),
        );
        w.and(
            "EXISTS (SELECT 1 FROM touchpoints t WHERE t.contact_id = contacts.id AND t.campaign_id = ?)",
            f.campaign_id,
        );
        range(&mut w, "contacts", &f.created_from, &f.created_to)?;
        w.and_sql(if f.merged == Some(true) {
            "contacts.merged_into_id IS NOT NULL"
        } else {
            "contacts.merged_into_id IS NULL"
        });
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
        let change = change_stage(
            &mut tx,
            &playbook,
            &mut c,
            to,
            input.reason.as_deref(),
            actor,
            "manual",
            None,
            note,
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
        let (_, playbook) = self.playbook().await?;
        let mut conn = self.store().acquire().await?;
        let c: Contact = repo::get(&mut conn, id)
            .await
            .map_err(named("contact", id))?;
        let account = match c.account_id {
            Some(a) => Some(repo::get::<Account>(&mut conn, a).await?),
            None => None,
        };
        let touches: Vec<ScoredTouch> = repo::touchpoints_of_contact(&mut conn, id)
            .await?
            .iter()
            .map(scored)
            .collect();
        Ok(score(
            &playbook,
            &profile(&c, account.as_ref()),
            &touches,
            at.unwrap_or(self.now()).timestamp(),
        ))
    }

    // ---------------- campaigns ----------------

    pub async fn create_campaign(&self, input: CampaignInput) -> Result<Campaign, AppError> {
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
    ) -> Result<Campaign, AppError> {
        let (_, playbook) = self.playbook().await?;
        let mut tx = self.store().begin().await?;
        let mut c: Campaign = repo::get(&mut tx, id)
            .await
            .map_err(named("campaign", id))?;
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
            c.spend_minor = non_negative("spend_minor", v)?;
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
        let mut w = Where::new();
        w.and("campaigns.channel = ?", f.channel.clone());
        range(&mut w, "campaigns", &f.created_from, &f.created_to)?;
        let mut conn = self.store().acquire().await?;
        Ok(repo::page(&mut conn, w, paging.cursor()?, paging.limit()?).await?)
    }

    // ---------------- deals ----------------

    /// Creates a deal. A deal for a contact not yet at opportunity moves it
    /// there; a won deal makes the contact a customer (closing the loop).
    pub async fn create_deal(&self, input: DealInput, actor: &Actor) -> Result<Deal, AppError> {
        let (_, playbook) = self.playbook().await?;
        let now = self.now();
        let status = one_of(
            "status",
            input.status.as_deref().unwrap_or("open"),
            DEAL_STATUSES,
        )?;
        let created_at = input.created_at.unwrap_or(now);
        let deal = Deal {
            id: 0,
            external_id: opt_text("external_id", input.external_id.as_deref(), NAME_MAX)?,
            name: text("name", &input.name, NAME_MAX)?,
            contact_id: input.contact_id,
            account_id: input.account_id,
            owner_id: input.owner_id,
            amount_minor: non_negative("amount_minor", input.amount_minor)?,
            pipeline_stage: match &input.pipeline_stage {
                Some(s) => check_pipeline_stage(&playbook, s)?,
                None => playbook.pipeline_stages[0].clone(),
            },
            closed_at: deal_closing(&status, input.closed_at, created_at, now)?,
            lost_reason: opt_text("lost_reason", input.lost_reason.as_deref(), NAME_MAX)?,
            status,
            created_at,
            updated_at: now,
        };
        let mut tx = self.store().begin().await?;
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
        if let Some(n) = &patch.name {
            d.name = text("name", n, NAME_MAX)?;
        }
        if let Some(v) = patch.owner_id {
            check_user_ref(&mut tx, "owner_id", v).await?;
            d.owner_id = v;
        }
        if let Some(v) = patch.amount_minor {
            d.amount_minor = non_negative("amount_minor", v)?;
        }
        if let Some(s) = &patch.pipeline_stage {
            d.pipeline_stage = check_pipeline_stage(&playbook, s)?;
        }
        if let Some(v) = patch.lost_reason {
            d.lost_reason = opt_text("lost_reason", v.as_deref(), NAME_MAX)?;
        }
        if patch.status.is_some() || patch.closed_at.is_some() {
            let status = one_of(
                "status",
                patch.status.as_deref().unwrap_or(&d.status),
                DEAL_STATUSES,
            )?;
            let closed = if status == "open" {
                patch.closed_at
            } else {
                patch.closed_at.or(d.closed_at)
            };
            d.closed_at = deal_closing(&status, closed, d.created_at, now)?;
            d.status = status;
        }
        d.updated_at = now;
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
        let mut w = Where::new();
        if let Some(s) = &f.status {
            w.and(
                "deals.status = ?",
                Some(one_of("status", s, DEAL_STATUSES)?),
            );
        }
        w.and("deals.owner_id = ?", f.owner_id);
        w.and("deals.contact_id = ?", f.contact_id);
        w.and("deals.account_id = ?", f.account_id);
        w.and("deals.pipeline_stage = ?", f.pipeline_stage.clone());
        range(&mut w, "deals", &f.created_from, &f.created_to)?;
        let mut conn = self.store().acquire().await?;
        Ok(repo::page(&mut conn, w, paging.cursor()?, paging.limit()?).await?)
    }

    // ---------------- activities ----------------

    pub async fn create_activity(
        &self,
        input: ActivityInput,
        actor: &Actor,
    ) -> Result<Activity, AppError> {
        let now = self.now();
        let a = Activity {
            id: 0,
            contact_id: input.contact_id,
            deal_id: input.deal_id,
            user_id: input.user_id.or(actor.user_id),
            kind: one_of("kind", &input.kind, ACTIVITY_KINDS)?,
            outcome: one_of(
                "outcome",
                input.outcome.as_deref().unwrap_or("attempt"),
                ACTIVITY_OUTCOMES,
            )?,
            subject: opt_text("subject", input.subject.as_deref(), NAME_MAX)?,
            body: opt_text("body", input.body.as_deref(), BODY_MAX)?,
            occurred_at: input.occurred_at.unwrap_or(now),
            created_at: now,
            updated_at: now,
        };
        let mut conn = self.store().acquire().await?;
        let c = repo::get::<Contact>(&mut conn, a.contact_id)
            .await
            .map_err(|_| {
                Invalid::new(
                    "unknown_reference",
                    "contact_id",
                    format!("contact {} does not exist", a.contact_id),
                )
            })?;
        check_not_merged(&c, "contact_id")?;
        check_user_ref(&mut conn, "user_id", a.user_id).await?;
        repo::insert(&mut conn, &a).await.map_err(|e| match e {
            smarketing_store::StoreError::MissingReference => AppError::Invalid(Invalid::new(
                "unknown_reference",
                "deal_id",
                "the deal does not exist",
            )),
            other => named("activity", 0)(other),
        })
    }

    pub async fn activity(&self, id: i64) -> Result<Activity, AppError> {
        let mut conn = self.store().acquire().await?;
        repo::get(&mut conn, id)
            .await
            .map_err(named("activity", id))
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
        actor.authorize(Action::EditActivity, actor.relation_to(a.user_id, None))?;
        if let Some(k) = &patch.kind {
            a.kind = one_of("kind", k, ACTIVITY_KINDS)?;
        }
        if let Some(o) = &patch.outcome {
            a.outcome = one_of("outcome", o, ACTIVITY_OUTCOMES)?;
        }
        if let Some(v) = patch.subject {
            a.subject = opt_text("subject", v.as_deref(), NAME_MAX)?;
        }
        if let Some(v) = patch.body {
            a.body = opt_text("body", v.as_deref(), BODY_MAX)?;
        }
        if let Some(v) = patch.occurred_at {
            a.occurred_at = v;
        }
        a.updated_at = self.now();
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
        let mut w = Where::new();
        w.and("activities.contact_id = ?", f.contact_id);
        w.and("activities.deal_id = ?", f.deal_id);
        w.and("activities.user_id = ?", f.user_id);
        if let Some(k) = &f.kind {
            w.and(
                "activities.kind = ?",
                Some(one_of("kind", k, ACTIVITY_KINDS)?),
            );
        }
        range(&mut w, "activities", &f.created_from, &f.created_to)?;
        let mut conn = self.store().acquire().await?;
        Ok(repo::page(&mut conn, w, paging.cursor()?, paging.limit()?).await?)
    }

    // ---------------- notes ----------------

    pub async fn create_note(&self, input: NoteInput, actor: &Actor) -> Result<Note, AppError> {
        if input.contact_id.is_none() && input.account_id.is_none() && input.deal_id.is_none() {
            return Err(Invalid::new(
                "required",
                "contact_id",
                "a note belongs to a contact, an account or a deal",
            )
            .into());
        }
        let now = self.now();
        let n = Note {
            id: 0,
            contact_id: input.contact_id,
            account_id: input.account_id,
            deal_id: input.deal_id,
            author_id: actor.user_id,
            body: text("body", &input.body, BODY_MAX)?,
            created_at: now,
            updated_at: now,
        };
        let mut conn = self.store().acquire().await?;
        check_contact_ref(&mut conn, "contact_id", n.contact_id).await?;
        repo::insert(&mut conn, &n).await.map_err(|e| match e {
            smarketing_store::StoreError::MissingReference => AppError::Invalid(Invalid::new(
                "unknown_reference",
                if n.contact_id.is_some() {
                    "contact_id"
                } else if n.account_id.is_some() {
                    "account_id"
                } else {
                    "deal_id"
                },
                "the record the note belongs to does not exist",
            )),
            other => named("note", 0)(other),
        })
    }

    pub async fn note(&self, id: i64) -> Result<Note, AppError> {
        let mut conn = self.store().acquire().await?;
        repo::get(&mut conn, id).await.map_err(named("note", id))
    }

    pub async fn update_note(
        &self,
        id: i64,
        patch: NotePatch,
        actor: &Actor,
    ) -> Result<Note, AppError> {
        let mut tx = self.store().begin().await?;
        let mut n: Note = repo::get(&mut tx, id).await.map_err(named("note", id))?;
        actor.authorize(Action::EditNote, actor.relation_to(n.author_id, None))?;
        if let Some(b) = &patch.body {
            n.body = text("body", b, BODY_MAX)?;
        }
        n.updated_at = self.now();
        let saved = repo::update(&mut tx, id, &n)
            .await
            .map_err(named("note", id))?;
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(saved)
    }

    pub async fn notes(&self, f: &NoteFilter, paging: &Paging) -> Result<Page<Note>, AppError> {
        let mut w = Where::new();
        w.and("notes.contact_id = ?", f.contact_id);
        w.and("notes.account_id = ?", f.account_id);
        w.and("notes.deal_id = ?", f.deal_id);
        w.and("notes.author_id = ?", f.author_id);
        range(&mut w, "notes", &f.created_from, &f.created_to)?;
        let mut conn = self.store().acquire().await?;
        Ok(repo::page(&mut conn, w, paging.cursor()?, paging.limit()?).await?)
    }
}

/// A record merged into another takes no new rows or changes: the caller
/// is pointed at the one it became.
fn check_not_merged(c: &Contact, field: &str) -> Result<(), Invalid> {
    match c.merged_into_id {
        Some(into) => Err(Invalid::new(
            "merged_contact",
            field,
            format!(
                "contact {} was merged into contact {into}; use {into}",
                c.id
            ),
        )),
        None => Ok(()),
    }
}

/// [`check_not_merged`] for an optional contact reference that may not exist
/// (a missing one is reported by the insert's foreign key).
async fn check_contact_ref(
    conn: &mut AnyConnection,
    field: &str,
    id: Option<i64>,
) -> Result<(), AppError> {
    if let Some(id) = id
        && let Ok(c) = repo::get::<Contact>(conn, id).await
    {
        check_not_merged(&c, field)?;
    }
    Ok(())
}

async fn check_user_ref(
    conn: &mut AnyConnection,
    field: &str,
    id: Option<i64>,
) -> Result<(), AppError> {
    if let Some(id) = id {
        repo::get::<User>(conn, id).await.map_err(|_| {
            Invalid::new(
                "unknown_reference",
                field,
                format!("user {id} does not exist"),
            )
        })?;
    }
    Ok(())
}

/// Saves a new account (its owner, if any, checked).
pub(crate) async fn insert_account(
    conn: &mut AnyConnection,
    input: &AccountInput,
    now: Instant,
) -> Result<Account, AppError> {
    let account = new_account(input, now)?;
    check_user_ref(conn, "owner_id", account.owner_id).await?;
    repo::insert(conn, &account)
        .await
        .map_err(named("account", 0))
}

/// Saves a new contact with its first stage change.
pub(crate) async fn insert_contact(
    conn: &mut AnyConnection,
    contact: &Contact,
    actor: &Actor,
) -> Result<Contact, AppError> {
    let saved = repo::insert(conn, contact).await.map_err(|e| match e {
        smarketing_store::StoreError::Conflict { field } => AppError::Conflict {
            what: "contact",
            field,
        },
        smarketing_store::StoreError::MissingReference => AppError::Invalid(Invalid::new(
            "unknown_reference",
            "account_id",
            "the account or owner does not exist",
        )),
        other => other.into(),
    })?;
    let change = StageChange {
        id: 0,
        contact_id: saved.id,
        from_stage: None,
        to_stage: saved.stage,
        changed_at: saved.created_at,
        actor: actor.label.clone(),
        actor_user_id: actor.user_id,
        cause: "created".into(),
        reason_code: None,
        note: None,
        touchpoint_id: None,
    };
    repo::insert(conn, &change).await?;
    Ok(saved)
}

/// Applies one lifecycle move to `contact` (checked by core) and records it.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn change_stage(
    conn: &mut AnyConnection,
    playbook: &Playbook,
    contact: &mut Contact,
    to: Stage,
    reason: Option<&str>,
    actor: &Actor,
    cause: &str,
    touchpoint_id: Option<i64>,
    note: Option<String>,
    at: Instant,
) -> Result<StageChange, AppError> {
    check_move(playbook, Some(contact.stage), to, reason)?;
    let change = StageChange {
        id: 0,
        contact_id: contact.id,
        from_stage: Some(contact.stage),
        to_stage: to,
        changed_at: at,
        actor: actor.label.clone(),
        actor_user_id: actor.user_id,
        cause: cause.to_string(),
        reason_code: if to.is_side_state() {
            reason.map(str::to_string)
        } else {
            None
        },
        note,
        touchpoint_id,
    };
    let saved = repo::insert(conn, &change).await.map_err(|e| match e {
        smarketing_store::StoreError::Conflict { .. } => AppError::Conflict {
            what: "stage change",
            field: "changed_at".into(),
        },
        other => other.into(),
    })?;
    contact.stage = to;
    contact.updated_at = at;
    *contact = repo::update(conn, contact.id, &*contact).await?;
    Ok(saved)
}

/// Recomputes and caches a contact's scores at `at`, and its first and
/// last touch.
pub(crate) async fn rescore(
    conn: &mut AnyConnection,
    playbook: &Playbook,
    mut contact: Contact,
    at: Instant,
) -> Result<(Contact, ScoreCard), AppError> {
    let account = match contact.account_id {
        Some(a) => Some(repo::get::<Account>(conn, a).await?),
        None => None,
    };
    let rows = repo::touchpoints_of_contact(conn, contact.id).await?;
    // The touches changed, so where the contact came from may have too.
    contact.set_touch_origins(&rows);
    let touches: Vec<ScoredTouch> = rows.iter().map(scored).collect();
    let card = score(
        playbook,
        &profile(&contact, account.as_ref()),
        &touches,
        at.timestamp(),
    );
    contact.fit_score = card.fit;
    contact.engagement_score = card.engagement;
    contact.scored_at = Some(at);
    let saved = repo::update(conn, contact.id, &contact).await?;
    Ok((saved, card))
}

/// Keeps the contact's stage in step with its deal: an open deal means at
/// least opportunity, a won deal means customer.
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
    let target = if deal.status == "won" {
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
    if behind && playbook.has_stage(target) {
        let (cause, at) = if deal.status == "won" {
            ("deal_won", deal.closed_at.unwrap_or(now))
        } else {
            ("deal_created", deal.created_at)
        };
        change_stage(
            conn, playbook, &mut c, target, None, actor, cause, None, None, at,
        )
        .await?;
    }
    Ok(())
}
