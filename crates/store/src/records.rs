//! Rows as the rest of the system sees them, read from either backend.

use crate::StoreError;
use serde::Serialize;
use smarketing_core::{Instant, Role, Stage, StageCause, Team};
use sqlx::Row;
use sqlx::any::AnyRow;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

pub(crate) fn get<'r, T>(row: &'r AnyRow, col: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(col).map_err(StoreError::from_sqlx)
}

pub(crate) fn instant(row: &AnyRow, col: &str) -> Result<Instant, StoreError> {
    let ms: i64 = get(row, col)?;
    Instant::from_millis(ms).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

pub(crate) fn opt_instant(row: &AnyRow, col: &str) -> Result<Option<Instant>, StoreError> {
    let ms: Option<i64> = get(row, col)?;
    ms.map(|m| Instant::from_millis(m).map_err(|e| StoreError::Corrupt(format!("{col}: {e}"))))
        .transpose()
}

/// A closed set kept as its text (`Team`, `Role`, …).
pub(crate) fn parsed<T>(row: &AnyRow, col: &str) -> Result<T, StoreError>
where
    T: std::str::FromStr<Err = smarketing_core::Invalid>,
{
    let s: String = get(row, col)?;
    s.parse()
        .map_err(|e: smarketing_core::Invalid| StoreError::Corrupt(format!("{col}: {}", e.message)))
}

fn stage(row: &AnyRow, col: &str) -> Result<Stage, StoreError> {
    let s: String = get(row, col)?;
    s.parse()
        .map_err(|e: smarketing_core::Invalid| StoreError::Corrupt(e.message))
}

fn opt_stage(row: &AnyRow, col: &str) -> Result<Option<Stage>, StoreError> {
    let s: Option<String> = get(row, col)?;
    s.map(|s| {
        s.parse()
            .map_err(|e: smarketing_core::Invalid| StoreError::Corrupt(e.message))
    })
    .transpose()
}

/// Reads a record from a row of its table.
pub trait FromRow: Sized {
    /// The columns, in `SELECT` order.
    const COLUMNS: &'static str;
    fn from_row(row: &AnyRow) -> Result<Self, StoreError>;
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct User {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub team: Team,
    pub role: Role,
    pub created_at: Instant,
}

impl FromRow for User {
    const COLUMNS: &'static str = "id, name, email, team, role, created_at";
    fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        Ok(User {
            id: get(r, "id")?,
            name: get(r, "name")?,
            email: get(r, "email")?,
            team: parsed(r, "team")?,
            role: parsed(r, "role")?,
            created_at: instant(r, "created_at")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Account {
    pub id: i64,
    pub external_id: Option<String>,
    pub name: String,
    pub domain: Option<String>,
    pub industry: Option<String>,
    pub employee_count: Option<i64>,
    pub company_size: Option<String>,
    pub region: Option<String>,
    pub country: Option<String>,
    pub owner_id: Option<i64>,
    pub created_at: Instant,
    pub updated_at: Instant,
}

impl FromRow for Account {
    const COLUMNS: &'static str = "id, external_id, name, domain, industry, employee_count, company_size, region, country, owner_id, created_at, updated_at";
    fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        Ok(Account {
            id: get(r, "id")?,
            external_id: get(r, "external_id")?,
            name: get(r, "name")?,
            domain: get(r, "domain")?,
            industry: get(r, "industry")?,
            employee_count: get(r, "employee_count")?,
            company_size: get(r, "company_size")?,
            region: get(r, "region")?,
            country: get(r, "country")?,
            owner_id: get(r, "owner_id")?,
            created_at: instant(r, "created_at")?,
            updated_at: instant(r, "updated_at")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Contact {
    pub id: i64,
    pub external_id: Option<String>,
    /// Normalised (trimmed, lower-case); unique.
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub job_title: Option<String>,
    pub phone: Option<String>,
    pub country: Option<String>,
    pub account_id: Option<i64>,
    pub owner_id: Option<i64>,
    pub persona: Option<String>,
    pub stage: Stage,
    /// Channel of the first touch.
    pub source_channel: Option<String>,
    pub fit_score: i64,
    pub engagement_score: f64,
    pub scored_at: Option<Instant>,
    /// Where the contact first came from: its earliest touch.
    pub first_touch: Option<TouchOrigin>,
    /// Where it came from most recently: its latest touch.
    pub last_touch: Option<TouchOrigin>,
    /// Set when this record was merged into another: the one it became.
    pub merged_into_id: Option<i64>,
    pub created_at: Instant,
    pub updated_at: Instant,
}

/// The origin of one touch as kept on its contact (HubSpot's original and
/// latest source): channel, UTM fields and referrer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TouchOrigin {
    pub touchpoint_id: i64,
    pub occurred_at: Instant,
    pub channel: String,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub utm_term: Option<String>,
    pub utm_content: Option<String>,
    pub referrer: Option<String>,
}

impl TouchOrigin {
    pub fn of(t: &Touchpoint) -> Self {
        TouchOrigin {
            touchpoint_id: t.id,
            occurred_at: t.occurred_at,
            channel: t.channel.clone(),
            utm_source: t.utm_source.clone(),
            utm_medium: t.utm_medium.clone(),
            utm_campaign: t.utm_campaign.clone(),
            utm_term: t.utm_term.clone(),
            utm_content: t.utm_content.clone(),
            referrer: t.referrer.clone(),
        }
    }

    /// Reads the origin kept under `prefix` (`first_touch`, `last_touch`).
    fn from_row(r: &AnyRow, prefix: &str) -> Result<Option<Self>, StoreError> {
        let col = |f: &str| format!("{prefix}_{f}");
        let Some(touchpoint_id) = get::<Option<i64>>(r, &col("id"))? else {
            return Ok(None);
        };
        Ok(Some(TouchOrigin {
            touchpoint_id,
            occurred_at: instant(r, &col("at"))?,
            channel: get(r, &col("channel"))?,
            utm_source: get(r, &col("utm_source"))?,
            utm_medium: get(r, &col("utm_medium"))?,
            utm_campaign: get(r, &col("utm_campaign"))?,
            utm_term: get(r, &col("utm_term"))?,
            utm_content: get(r, &col("utm_content"))?,
            referrer: get(r, &col("referrer"))?,
        }))
    }
}

impl Contact {
    /// Keeps the earliest and latest of `touches` (all of the contact's, in
    /// any order) as its first and last touch.
    pub fn set_touch_origins(&mut self, touches: &[Touchpoint]) {
        let key = |t: &&Touchpoint| (t.occurred_at.millis(), t.id);
        self.first_touch = touches.iter().min_by_key(key).map(TouchOrigin::of);
        self.last_touch = touches.iter().max_by_key(key).map(TouchOrigin::of);
    }
}

impl FromRow for Contact {
    const COLUMNS: &'static str = "id, external_id, email, first_name, last_name, job_title, phone, country, account_id, owner_id, persona, stage, source_channel, fit_score, engagement_score, scored_at, \
        first_touch_id, first_touch_at, first_touch_channel, first_touch_utm_source, first_touch_utm_medium, first_touch_utm_campaign, first_touch_utm_term, first_touch_utm_content, first_touch_referrer, \
        last_touch_id, last_touch_at, last_touch_channel, last_touch_utm_source, last_touch_utm_medium, last_touch_utm_campaign, last_touch_utm_term, last_touch_utm_content, last_touch_referrer, \
        merged_into_id, created_at, updated_at";
    fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        Ok(Contact {
            id: get(r, "id")?,
            external_id: get(r, "external_id")?,
            email: get(r, "email")?,
            first_name: get(r, "first_name")?,
            last_name: get(r, "last_name")?,
            job_title: get(r, "job_title")?,
            phone: get(r, "phone")?,
            country: get(r, "country")?,
            account_id: get(r, "account_id")?,
            owner_id: get(r, "owner_id")?,
            persona: get(r, "persona")?,
            stage: stage(r, "stage")?,
            source_channel: get(r, "source_channel")?,
            fit_score: get(r, "fit_score")?,
            engagement_score: get(r, "engagement_score")?,
            scored_at: opt_instant(r, "scored_at")?,
            first_touch: TouchOrigin::from_row(r, "first_touch")?,
            last_touch: TouchOrigin::from_row(r, "last_touch")?,
            merged_into_id: get(r, "merged_into_id")?,
            created_at: instant(r, "created_at")?,
            updated_at: instant(r, "updated_at")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Campaign {
    pub id: i64,
    pub external_id: Option<String>,
    pub name: String,
    pub channel: String,
    /// The `utm_campaign` value that marks a touch as part of this campaign.
    pub utm_campaign: Option<String>,
    pub started_at: Instant,
    pub ended_at: Option<Instant>,
    /// Spend in minor units of the currency.
    pub spend_minor: i64,
    pub created_at: Instant,
    pub updated_at: Instant,
}

impl FromRow for Campaign {
    const COLUMNS: &'static str = "id, external_id, name, channel, utm_campaign, started_at, ended_at, spend_minor, created_at, updated_at";
    fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        Ok(Campaign {
            id: get(r, "id")?,
            external_id: get(r, "external_id")?,
            name: get(r, "name")?,
            channel: get(r, "channel")?,
            utm_campaign: get(r, "utm_campaign")?,
            started_at: instant(r, "started_at")?,
            ended_at: opt_instant(r, "ended_at")?,
            spend_minor: get(r, "spend_minor")?,
            created_at: instant(r, "created_at")?,
            updated_at: instant(r, "updated_at")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Touchpoint {
    pub id: i64,
    pub external_id: Option<String>,
    pub contact_id: Option<i64>,
    pub visitor_id: Option<i64>,
    pub occurred_at: Instant,
    pub channel: String,
    pub campaign_id: Option<i64>,
    pub kind: Option<String>,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub utm_term: Option<String>,
    pub utm_content: Option<String>,
    pub referrer: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub properties: serde_json::Value,
    pub created_at: Instant,
}

impl FromRow for Touchpoint {
    const COLUMNS: &'static str = "id, external_id, contact_id, visitor_id, occurred_at, channel, campaign_id, kind, utm_source, utm_medium, utm_campaign, utm_term, utm_content, referrer, properties, created_at";
    fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        let props: String = get(r, "properties")?;
        Ok(Touchpoint {
            id: get(r, "id")?,
            external_id: get(r, "external_id")?,
            contact_id: get(r, "contact_id")?,
            visitor_id: get(r, "visitor_id")?,
            occurred_at: instant(r, "occurred_at")?,
            channel: get(r, "channel")?,
            campaign_id: get(r, "campaign_id")?,
            kind: get(r, "kind")?,
            utm_source: get(r, "utm_source")?,
            utm_medium: get(r, "utm_medium")?,
            utm_campaign: get(r, "utm_campaign")?,
            utm_term: get(r, "utm_term")?,
            utm_content: get(r, "utm_content")?,
            referrer: get(r, "referrer")?,
            properties: serde_json::from_str(&props)
                .map_err(|e| StoreError::Corrupt(format!("properties: {e}")))?,
            created_at: instant(r, "created_at")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StageChange {
    pub id: i64,
    pub contact_id: i64,
    pub from_stage: Option<Stage>,
    pub to_stage: Stage,
    pub changed_at: Instant,
    /// `system`, `import` or `user:<id>`.
    pub actor: String,
    pub actor_user_id: Option<i64>,
    pub cause: StageCause,
    pub reason_code: Option<String>,
    pub note: Option<String>,
    /// The touch that triggered the change.
    pub touchpoint_id: Option<i64>,
}

impl FromRow for StageChange {
    const COLUMNS: &'static str = "id, contact_id, from_stage, to_stage, changed_at, actor, actor_user_id, cause, reason_code, note, touchpoint_id";
    fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        Ok(StageChange {
            id: get(r, "id")?,
            contact_id: get(r, "contact_id")?,
            from_stage: opt_stage(r, "from_stage")?,
            to_stage: stage(r, "to_stage")?,
            changed_at: instant(r, "changed_at")?,
            actor: get(r, "actor")?,
            actor_user_id: get(r, "actor_user_id")?,
            cause: parsed(r, "cause")?,
            reason_code: get(r, "reason_code")?,
            note: get(r, "note")?,
            touchpoint_id: get(r, "touchpoint_id")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Deal {
    pub id: i64,
    pub external_id: Option<String>,
    pub name: String,
    pub contact_id: Option<i64>,
    pub account_id: Option<i64>,
    pub owner_id: Option<i64>,
    /// Amount in minor units of the currency.
    pub amount_minor: i64,
    pub pipeline_stage: String,
    /// `open`, `won` or `lost`.
    pub status: String,
    pub lost_reason: Option<String>,
    pub created_at: Instant,
    pub closed_at: Option<Instant>,
    pub updated_at: Instant,
}

impl FromRow for Deal {
    const COLUMNS: &'static str = "id, external_id, name, contact_id, account_id, owner_id, amount_minor, pipeline_stage, status, lost_reason, created_at, closed_at, updated_at";
    fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        Ok(Deal {
            id: get(r, "id")?,
            external_id: get(r, "external_id")?,
            name: get(r, "name")?,
            contact_id: get(r, "contact_id")?,
            account_id: get(r, "account_id")?,
            owner_id: get(r, "owner_id")?,
            amount_minor: get(r, "amount_minor")?,
            pipeline_stage: get(r, "pipeline_stage")?,
            status: get(r, "status")?,
            lost_reason: get(r, "lost_reason")?,
            created_at: instant(r, "created_at")?,
            closed_at: opt_instant(r, "closed_at")?,
            updated_at: instant(r, "updated_at")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Activity {
    pub id: i64,
    pub contact_id: i64,
    pub deal_id: Option<i64>,
    pub user_id: Option<i64>,
    /// `call`, `email`, `meeting` or `note`.
    pub kind: String,
    /// `attempt` or `connect`.
    pub outcome: String,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub occurred_at: Instant,
    pub created_at: Instant,
    pub updated_at: Instant,
}

impl FromRow for Activity {
    const COLUMNS: &'static str = "id, contact_id, deal_id, user_id, kind, outcome, subject, body, occurred_at, created_at, updated_at";
    fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        Ok(Activity {
            id: get(r, "id")?,
            contact_id: get(r, "contact_id")?,
            deal_id: get(r, "deal_id")?,
            user_id: get(r, "user_id")?,
            kind: get(r, "kind")?,
            outcome: get(r, "outcome")?,
            subject: get(r, "subject")?,
            body: get(r, "body")?,
            occurred_at: instant(r, "occurred_at")?,
            created_at: instant(r, "created_at")?,
            updated_at: instant(r, "updated_at")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Note {
    pub id: i64,
    pub contact_id: Option<i64>,
    pub account_id: Option<i64>,
    pub deal_id: Option<i64>,
    pub author_id: Option<i64>,
    pub body: String,
    pub created_at: Instant,
    pub updated_at: Instant,
}

impl FromRow for Note {
    const COLUMNS: &'static str =
        "id, contact_id, account_id, deal_id, author_id, body, created_at, updated_at";
    fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        Ok(Note {
            id: get(r, "id")?,
            contact_id: get(r, "contact_id")?,
            account_id: get(r, "account_id")?,
            deal_id: get(r, "deal_id")?,
            author_id: get(r, "author_id")?,
            body: get(r, "body")?,
            created_at: instant(r, "created_at")?,
            updated_at: instant(r, "updated_at")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PlaybookVersion {
    pub id: i64,
    pub version: i64,
    pub author: String,
    pub note: Option<String>,
    /// The TOML document as imported.
    pub body: String,
    pub created_at: Instant,
}

impl FromRow for PlaybookVersion {
    const COLUMNS: &'static str = "id, version, author, note, body, created_at";
    fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        Ok(PlaybookVersion {
            id: get(r, "id")?,
            version: get(r, "version")?,
            author: get(r, "author")?,
            note: get(r, "note")?,
            body: get(r, "body")?,
            created_at: instant(r, "created_at")?,
        })
    }
}

/// The identity behind a valid API token.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenOwner {
    pub token_id: i64,
    pub user: User,
}

/// An MQL handed to sales: who has it, why, and what they decided.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Handoff {
    pub id: i64,
    pub contact_id: i64,
    /// The stage change into MQL that created it.
    pub mql_change_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub assigned_at: Option<Instant>,
    /// `account_owner`, `territory`, `round_robin`, `unassigned` or `reassigned`.
    pub route_rule: String,
    pub route_reason: String,
    /// `accepted` or `rejected`; absent while open.
    pub decision: Option<String>,
    pub decided_at: Option<Instant>,
    pub decided_by: Option<i64>,
    pub reason_code: Option<String>,
    pub decision_note: Option<String>,
    pub created_at: Instant,
    pub updated_at: Instant,
}

impl FromRow for Handoff {
    const COLUMNS: &'static str = "id, contact_id, mql_change_id, assignee_id, assigned_at, route_rule, route_reason, decision, decided_at, decided_by, reason_code, decision_note, created_at, updated_at";
    fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        Ok(Handoff {
            id: get(r, "id")?,
            contact_id: get(r, "contact_id")?,
            mql_change_id: get(r, "mql_change_id")?,
            assignee_id: get(r, "assignee_id")?,
            assigned_at: opt_instant(r, "assigned_at")?,
            route_rule: get(r, "route_rule")?,
            route_reason: get(r, "route_reason")?,
            decision: get(r, "decision")?,
            decided_at: opt_instant(r, "decided_at")?,
            decided_by: get(r, "decided_by")?,
            reason_code: get(r, "reason_code")?,
            decision_note: get(r, "decision_note")?,
            created_at: instant(r, "created_at")?,
            updated_at: instant(r, "updated_at")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct HandoffAssignment {
    pub id: i64,
    pub handoff_id: i64,
    pub user_id: Option<i64>,
    pub assigned_at: Instant,
    pub actor: String,
    pub actor_user_id: Option<i64>,
    pub rule: String,
    pub reason: String,
}

impl FromRow for HandoffAssignment {
    const COLUMNS: &'static str =
        "id, handoff_id, user_id, assigned_at, actor, actor_user_id, rule, reason";
    fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        Ok(HandoffAssignment {
            id: get(r, "id")?,
            handoff_id: get(r, "handoff_id")?,
            user_id: get(r, "user_id")?,
            assigned_at: instant(r, "assigned_at")?,
            actor: get(r, "actor")?,
            actor_user_id: get(r, "actor_user_id")?,
            rule: get(r, "rule")?,
            reason: get(r, "reason")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SlaEvent {
    pub id: i64,
    pub handoff_id: i64,
    pub clock: String,
    pub state: String,
    pub at: Instant,
    pub recorded_at: Instant,
}

impl FromRow for SlaEvent {
    const COLUMNS: &'static str = "id, handoff_id, clock, state, at, recorded_at";
    fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        Ok(SlaEvent {
            id: get(r, "id")?,
            handoff_id: get(r, "handoff_id")?,
            clock: get(r, "clock")?,
            state: get(r, "state")?,
            at: instant(r, "at")?,
            recorded_at: instant(r, "recorded_at")?,
        })
    }
}

/// A rep's routing weight, cap and calendar.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RepSettings {
    pub user_id: i64,
    pub weight: i64,
    pub capacity: Option<i64>,
    /// JSON of a calendar spec; absent = the playbook's calendar.
    pub calendar: Option<String>,
    pub routing_tag: f64,
}

impl FromRow for RepSettings {
    const COLUMNS: &'static str = "user_id, weight, capacity, calendar, routing_tag";
    fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        Ok(RepSettings {
            user_id: get(r, "user_id")?,
            weight: get(r, "weight")?,
            capacity: get(r, "capacity")?,
            calendar: get(r, "calendar")?,
            routing_tag: get(r, "routing_tag")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct OutOfOffice {
    pub id: i64,
    pub user_id: i64,
    pub starts_at: Instant,
    pub ends_at: Instant,
    pub note: Option<String>,
    pub created_at: Instant,
}

impl FromRow for OutOfOffice {
    const COLUMNS: &'static str = "id, user_id, starts_at, ends_at, note, created_at";
    fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        Ok(OutOfOffice {
            id: get(r, "id")?,
            user_id: get(r, "user_id")?,
            starts_at: instant(r, "starts_at")?,
            ends_at: instant(r, "ends_at")?,
            note: get(r, "note")?,
            created_at: instant(r, "created_at")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Goal {
    pub id: i64,
    /// `2026`, `2026-Q4` or `2026-11`.
    pub period: String,
    /// `''` for the whole company, else `dimension=value` (`region=EMEA`).
    pub segment: String,
    pub revenue_minor: i64,
    /// Share of the revenue marketing sources (0 to 1].
    pub marketing_share: f64,
    pub created_by: Option<i64>,
    pub created_at: Instant,
    pub updated_at: Instant,
}

impl FromRow for Goal {
    const COLUMNS: &'static str =
        "id, period, segment, revenue_minor, marketing_share, created_by, created_at, updated_at";
    fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        Ok(Goal {
            id: get(r, "id")?,
            period: get(r, "period")?,
            segment: get(r, "segment")?,
            revenue_minor: get(r, "revenue_minor")?,
            marketing_share: get(r, "marketing_share")?,
            created_by: get(r, "created_by")?,
            created_at: instant(r, "created_at")?,
            updated_at: instant(r, "updated_at")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SlaAgreement {
    pub id: i64,
    pub version: i64,
    pub playbook_version: i64,
    /// JSON of the SLA numbers.
    pub policy: String,
    pub summary: String,
    pub created_at: Instant,
}

impl FromRow for SlaAgreement {
    const COLUMNS: &'static str = "id, version, playbook_version, policy, summary, created_at";
    fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        Ok(SlaAgreement {
            id: get(r, "id")?,
            version: get(r, "version")?,
            playbook_version: get(r, "playbook_version")?,
            policy: get(r, "policy")?,
            summary: get(r, "summary")?,
            created_at: instant(r, "created_at")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SlaSignoff {
    pub id: i64,
    pub agreement_id: i64,
    pub team: Team,
    pub user_id: i64,
    pub signed_at: Instant,
}

impl FromRow for SlaSignoff {
    const COLUMNS: &'static str = "id, agreement_id, team, user_id, signed_at";
    fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        Ok(SlaSignoff {
            id: get(r, "id")?,
            agreement_id: get(r, "agreement_id")?,
            team: parsed(r, "team")?,
            user_id: get(r, "user_id")?,
            signed_at: instant(r, "signed_at")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Escalation {
    pub id: i64,
    pub handoff_id: i64,
    pub clock: String,
    /// `notify_rep`, `notify_manager` or `reassign`.
    pub step: String,
    /// The assignment this step belongs to; a reassignment makes it moot.
    pub assigned_at: Instant,
    pub due_at: Instant,
    pub fired_at: Option<Instant>,
    /// `fired` or `skipped` (the clock was met, or the handoff moved on).
    pub outcome: Option<String>,
    pub created_at: Instant,
}

impl FromRow for Escalation {
    const COLUMNS: &'static str =
        "id, handoff_id, clock, step, assigned_at, due_at, fired_at, outcome, created_at";
    fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        Ok(Escalation {
            id: get(r, "id")?,
            handoff_id: get(r, "handoff_id")?,
            clock: get(r, "clock")?,
            step: get(r, "step")?,
            assigned_at: instant(r, "assigned_at")?,
            due_at: instant(r, "due_at")?,
            fired_at: opt_instant(r, "fired_at")?,
            outcome: get(r, "outcome")?,
            created_at: instant(r, "created_at")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Notification {
    pub id: i64,
    pub user_id: i64,
    pub kind: String,
    pub handoff_id: Option<i64>,
    pub title: String,
    pub body: String,
    pub created_at: Instant,
    pub read_at: Option<Instant>,
}

impl FromRow for Notification {
    const COLUMNS: &'static str = "id, user_id, kind, handoff_id, title, body, created_at, read_at";
    fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        Ok(Notification {
            id: get(r, "id")?,
            user_id: get(r, "user_id")?,
            kind: get(r, "kind")?,
            handoff_id: get(r, "handoff_id")?,
            title: get(r, "title")?,
            body: get(r, "body")?,
            created_at: instant(r, "created_at")?,
            read_at: opt_instant(r, "read_at")?,
        })
    }
}

/// A webhook receiver. The secret is never serialised to API callers.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WebhookEndpoint {
    pub id: i64,
    pub url: String,
    #[serde(skip)]
    pub secret: String,
    /// Comma-separated event names, or `*`.
    pub events: String,
    pub active: bool,
    pub created_at: Instant,
}

impl FromRow for WebhookEndpoint {
    const COLUMNS: &'static str = "id, url, secret, events, active, created_at";
    fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        Ok(WebhookEndpoint {
            id: get(r, "id")?,
            url: get(r, "url")?,
            secret: get(r, "secret")?,
            events: get(r, "events")?,
            active: get::<i64>(r, "active")? != 0,
            created_at: instant(r, "created_at")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WebhookDelivery {
    pub id: i64,
    pub endpoint_id: i64,
    /// The `webhook-id` header: the same on every retry.
    pub message_id: String,
    pub event: String,
    pub payload: String,
    pub attempts: i64,
    pub next_attempt_at: Instant,
    pub delivered_at: Option<Instant>,
    pub failed_at: Option<Instant>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: Instant,
}

impl FromRow for WebhookDelivery {
    const COLUMNS: &'static str = "id, endpoint_id, message_id, event, payload, attempts, next_attempt_at, delivered_at, failed_at, last_status, last_error, created_at";
    fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        Ok(WebhookDelivery {
            id: get(r, "id")?,
            endpoint_id: get(r, "endpoint_id")?,
            message_id: get(r, "message_id")?,
            event: get(r, "event")?,
            payload: get(r, "payload")?,
            attempts: get(r, "attempts")?,
            next_attempt_at: instant(r, "next_attempt_at")?,
            delivered_at: opt_instant(r, "delivered_at")?,
            failed_at: opt_instant(r, "failed_at")?,
            last_status: get(r, "last_status")?,
            last_error: get(r, "last_error")?,
            created_at: instant(r, "created_at")?,
        })
    }
}
