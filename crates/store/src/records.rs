//! Rows as the rest of the system sees them, read from either backend.

use crate::StoreError;
use serde::Serialize;
use smarketing_core::{
    ActivityKind, ActivityOutcome, DealStatus, Decision, Instant, Role, Stage, StageCause, Team,
};
use sqlx::any::AnyRow;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

use crate::table::{Columns, get};
pub use crate::table::{FromRow, Table};
use crate::{record, sql::Arg};

record! {
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[cfg_attr(feature = "openapi", derive(ToSchema))]
    pub struct User in "users" {
        pub id: i64,
        pub name: String,
        pub email: String,
        pub team: Team,
        pub role: Role,
        pub created_at: Instant,
        /// When the user was disabled; none of their tokens works since.
        pub disabled_at: Option<Instant>,
    }
}

record! {
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[cfg_attr(feature = "openapi", derive(ToSchema))]
    pub struct Account in "accounts" {
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
}

record! {
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[cfg_attr(feature = "openapi", derive(ToSchema))]
    pub struct Contact in "contacts" keep ["merged_into_id", "first_touch_", "last_touch_", "recycled_at"] {
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
        /// When it was last recycled to marketing: its engagement counts
        /// from then, and it may qualify again after the nurture period.
        pub recycled_at: Option<Instant>,
        pub created_at: Instant,
        pub updated_at: Instant,
    }
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
}

/// A first or last touch kept on its contact as nine columns under a
/// prefix: `{prefix}_id`, `_at`, `_channel`, the five UTM fields,
/// `_referrer`; no touch is all of them empty.
impl Columns for Option<TouchOrigin> {
    fn names(prefix: &'static str) -> Vec<String> {
        ORIGIN_COLUMNS
            .iter()
            .map(|c| format!("{prefix}_{c}"))
            .collect()
    }

    fn read(r: &AnyRow, prefix: &str) -> Result<Self, StoreError> {
        let col = |f: &str| format!("{prefix}_{f}");
        let Some(touchpoint_id) = get::<Option<i64>>(r, &col("id"))? else {
            return Ok(None);
        };
        Ok(Some(TouchOrigin {
            touchpoint_id,
            occurred_at: Columns::read(r, &col("at"))?,
            channel: get(r, &col("channel"))?,
            utm_source: get(r, &col("utm_source"))?,
            utm_medium: get(r, &col("utm_medium"))?,
            utm_campaign: get(r, &col("utm_campaign"))?,
            utm_term: get(r, &col("utm_term"))?,
            utm_content: get(r, &col("utm_content"))?,
            referrer: get(r, &col("referrer"))?,
        }))
    }

    fn args(&self, out: &mut Vec<Arg>) {
        let o = self.as_ref();
        let text = |f: fn(&TouchOrigin) -> &Option<String>| Arg::from(o.and_then(|o| f(o).clone()));
        out.extend([
            o.map(|o| o.touchpoint_id).into(),
            Arg::Int(o.map(|o| o.occurred_at.millis())),
            o.map(|o| o.channel.clone()).into(),
            text(|o| &o.utm_source),
            text(|o| &o.utm_medium),
            text(|o| &o.utm_campaign),
            text(|o| &o.utm_term),
            text(|o| &o.utm_content),
            text(|o| &o.referrer),
        ]);
    }
}

/// The columns of a touch origin, after its prefix.
const ORIGIN_COLUMNS: [&str; 9] = [
    "id",
    "at",
    "channel",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "referrer",
];

impl Contact {
    /// Keeps the earliest and latest of `touches` (all of the contact's, in
    /// any order) as its first and last touch.
    pub fn set_touch_origins(&mut self, touches: &[Touchpoint]) {
        let key = |t: &&Touchpoint| (t.occurred_at.millis(), t.id);
        self.first_touch = touches.iter().min_by_key(key).map(TouchOrigin::of);
        self.last_touch = touches.iter().max_by_key(key).map(TouchOrigin::of);
    }
}

record! {
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[cfg_attr(feature = "openapi", derive(ToSchema))]
    pub struct Campaign in "campaigns" {
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
}

record! {
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[cfg_attr(feature = "openapi", derive(ToSchema))]
    pub struct Touchpoint in "touchpoints" {
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
}

record! {
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[cfg_attr(feature = "openapi", derive(ToSchema))]
    pub struct StageChange in "stage_changes" {
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
}

record! {
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[cfg_attr(feature = "openapi", derive(ToSchema))]
    pub struct Deal in "deals" {
        pub id: i64,
        pub external_id: Option<String>,
        pub name: String,
        pub contact_id: Option<i64>,
        pub account_id: Option<i64>,
        pub owner_id: Option<i64>,
        /// Amount in minor units of the currency.
        pub amount_minor: i64,
        pub pipeline_stage: String,
        pub status: DealStatus,
        pub lost_reason: Option<String>,
        pub created_at: Instant,
        pub closed_at: Option<Instant>,
        pub updated_at: Instant,
    }
}

record! {
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[cfg_attr(feature = "openapi", derive(ToSchema))]
    pub struct Activity in "activities" {
        pub id: i64,
        pub contact_id: i64,
        pub deal_id: Option<i64>,
        /// Whose work it is.
        pub user_id: Option<i64>,
        pub kind: ActivityKind,
        pub outcome: ActivityOutcome,
        pub subject: Option<String>,
        pub body: Option<String>,
        /// When the rep says it happened: at most the playbook's grace
        /// before it was recorded (`created_at`).
        pub occurred_at: Instant,
        /// Who logged it: the rep themself, or a manager logging for them.
        pub logged_by: Option<i64>,
        pub created_at: Instant,
        pub updated_at: Instant,
    }
}

record! {
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[cfg_attr(feature = "openapi", derive(ToSchema))]
    pub struct Note in "notes" {
        pub id: i64,
        pub contact_id: Option<i64>,
        pub account_id: Option<i64>,
        pub deal_id: Option<i64>,
        pub author_id: Option<i64>,
        pub body: String,
        pub created_at: Instant,
        pub updated_at: Instant,
    }
}

record! {
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
}

record! {
    /// One run that re-matched personas and rescored every contact under a
    /// playbook version: the cached scores are from the version of the
    /// latest finished run (and, for contacts touched since, the current one).
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[cfg_attr(feature = "openapi", derive(ToSchema))]
    pub struct PlaybookRescore in "playbook_rescores" {
        pub id: i64,
        pub playbook_version: i64,
        /// Contacts to rescore, and how many are done.
        pub contacts: i64,
        pub done: i64,
        pub started_at: Instant,
        pub finished_at: Option<Instant>,
    }
}

/// The identity behind a valid API token.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenOwner {
    pub token: ApiToken,
    pub user: User,
}

/// An API token as its owner and admins see it: never the token itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ApiToken {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub scope: smarketing_core::TokenScope,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Instant,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub last_used_at: Option<Instant>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub expires_at: Option<Instant>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub revoked_at: Option<Instant>,
}

record! {
    /// An MQL handed to sales: who has it, why, and what they decided.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[cfg_attr(feature = "openapi", derive(ToSchema))]
    pub struct Handoff in "handoffs" {
        pub id: i64,
        pub contact_id: i64,
        /// The stage change into MQL that created it.
        pub mql_change_id: Option<i64>,
        pub assignee_id: Option<i64>,
        pub assigned_at: Option<Instant>,
        /// `account_owner`, `territory`, `round_robin`, `unassigned` or `reassigned`.
        pub route_rule: String,
        pub route_reason: String,
        /// Sales' decision; absent while open (and on a closed handoff).
        pub decision: Option<Decision>,
        pub decided_at: Option<Instant>,
        pub decided_by: Option<i64>,
        pub reason_code: Option<String>,
        pub decision_note: Option<String>,
        /// The playbook version in force when it was opened: its calendar,
        /// and its SLA numbers when no agreement was in force.
        pub playbook_version: Option<i64>,
        /// The SLA agreement signed by both teams when it was opened; its
        /// clocks run under that agreement's numbers.
        pub agreement_version: Option<i64>,
        /// When it left the loop by another path than a decision (its clocks stop).
        pub closed_at: Option<Instant>,
        /// Why: the stage change's cause (`manual`, `deal_created`, `deal_won`,
        /// `import`, …), `merged` or `erased`.
        pub closed_cause: Option<String>,
        pub closed_by: Option<i64>,
        pub created_at: Instant,
        pub updated_at: Instant,
    }
}

impl Handoff {
    /// Waiting for sales: neither decided nor closed by another path.
    pub fn is_open(&self) -> bool {
        self.decision.is_none() && self.closed_at.is_none()
    }

    /// When its clocks stopped: the decision, or its closing.
    pub fn ended_at(&self) -> Option<Instant> {
        self.decided_at.or(self.closed_at)
    }
}

record! {
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[cfg_attr(feature = "openapi", derive(ToSchema))]
    pub struct HandoffAssignment in "handoff_assignments" {
        pub id: i64,
        pub handoff_id: i64,
        pub user_id: Option<i64>,
        pub assigned_at: Instant,
        pub actor: String,
        pub actor_user_id: Option<i64>,
        pub rule: String,
        pub reason: String,
    }
}

record! {
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
}

record! {
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
}

record! {
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[cfg_attr(feature = "openapi", derive(ToSchema))]
    pub struct OutOfOffice in "out_of_office" {
        pub id: i64,
        pub user_id: i64,
        pub starts_at: Instant,
        pub ends_at: Instant,
        pub note: Option<String>,
        pub created_at: Instant,
    }
}

record! {
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
}

record! {
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
}

record! {
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[cfg_attr(feature = "openapi", derive(ToSchema))]
    pub struct SlaSignoff {
        pub id: i64,
        pub agreement_id: i64,
        pub team: Team,
        pub user_id: i64,
        pub signed_at: Instant,
    }
}

record! {
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
}

record! {
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
}

record! {
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
}

record! {
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
}

record! {
    /// One line of the append-only audit log: who did what, when, from
    /// where, to which object, and what it was before and after (JSON).
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[cfg_attr(feature = "openapi", derive(ToSchema))]
    pub struct AuditEntry in "audit_log" {
        pub id: i64,
        pub at: Instant,
        /// `user:12` or `system`.
        pub actor: String,
        pub actor_user_id: Option<i64>,
        pub address: Option<String>,
        /// `object.verb`: `handoff.accept`, `contact.update`, `token.revoke`, …
        pub action: String,
        pub object_kind: String,
        pub object_id: String,
        pub before: Option<String>,
        pub after: Option<String>,
        /// When the before and after were blanked because the person they
        /// were about was erased.
        #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
        pub redacted_at: Option<Instant>,
    }
}

record! {
    /// A signed-in person's server-side session. The cookie holds the
    /// secret; only its hash is kept.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[cfg_attr(feature = "openapi", derive(ToSchema))]
    pub struct Session in "sessions" {
        pub id: i64,
        pub user_id: i64,
        #[serde(skip)]
        #[cfg_attr(feature = "openapi", schema(ignore))]
        pub secret_hash: String,
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
        pub created_at: Instant,
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
        pub last_seen_at: Instant,
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
        pub expires_at: Instant,
        #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
        pub ended_at: Option<Instant>,
        /// sign_out, rotated, disabled or password_reset.
        pub ended_cause: Option<String>,
        pub address: Option<String>,
        pub user_agent: Option<String>,
    }
}

record! {
    /// A one-time password reset link an admin issued (its hash).
    #[derive(Debug, Clone, PartialEq)]
    pub struct PasswordReset in "password_resets" {
        pub id: i64,
        pub user_id: i64,
        pub token_hash: String,
        pub created_at: Instant,
        pub created_by: Option<i64>,
        pub expires_at: Instant,
        pub used_at: Option<Instant>,
    }
}

record! {
    /// A person granted or withdrew consent for a purpose, on a lawful
    /// basis, through a source, at a time.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[cfg_attr(feature = "openapi", derive(ToSchema))]
    pub struct Consent in "consents" {
        pub id: i64,
        pub contact_id: i64,
        pub purpose: String,
        pub basis: String,
        /// granted or withdrawn.
        pub status: String,
        pub source: String,
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
        pub given_at: Instant,
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
        pub recorded_at: Instant,
        pub recorded_by: Option<i64>,
    }
}
