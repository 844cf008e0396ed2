//! The playbook: the shared language of marketing and sales, as one
//! versioned document. Stages with entry criteria, touch kinds, the channel
//! taxonomy and its rules, personas, the scoring model, rejection reasons and
//! the SLA numbers. Read from and written to TOML; validation problems name
//! the TOML line and key.

mod checks;
#[cfg(test)]
mod tests;

use crate::condition::{Condition, Facts, FieldValue, all_match};
use crate::lifecycle::Stage;
use checks::{key_string, line_col, locate};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The default playbook shipped with Smarketing (product brief, "Defaults").
pub const DEFAULT_PLAYBOOK_TOML: &str = include_str!("../default_playbook.toml");

/// Fields channel rules can test on a touch.
pub const TOUCH_FIELDS: &[&str] = &[
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "referrer",
    "referrer_host",
    "gclid",
    "fbclid",
    "msclkid",
    "li_fat_id",
    "kind",
    "page_url",
];

/// Fields persona and fit rules can test on a contact and its account.
pub const PROFILE_FIELDS: &[&str] = &[
    "contact.email_domain",
    "contact.job_title",
    "contact.persona",
    "contact.country",
    "account.domain",
    "account.industry",
    "account.employee_count",
    "account.company_size",
    "account.region",
    "account.country",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Playbook {
    pub name: String,
    pub stages: Vec<StageDef>,
    pub touch_kinds: Vec<TouchKindDef>,
    pub channels: Vec<ChannelDef>,
    pub channel_rules: Vec<ChannelRule>,
    /// The company's own sites (`example.com` covers its subdomains too): a
    /// visit referred by one of them is a page of the same visit, never a
    /// referral.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub own_hosts: Vec<String>,
    pub personas: Vec<PersonaDef>,
    pub scoring: ScoringModel,
    pub rejection_reasons: Vec<RejectionReason>,
    /// The stages of an open deal in the sales pipeline, in order.
    pub pipeline_stages: Vec<String>,
    pub sla: SlaPolicy,
    /// What recycling means: the nurture period before a recycled contact
    /// may qualify again, what a lost deal does, and when an SAL sales
    /// never followed up goes back to marketing.
    #[serde(default)]
    pub recycle: RecyclePolicy,
    /// How MQLs are routed to reps.
    #[serde(default)]
    pub routing: crate::routing::RoutingPolicy,
    /// The company's working calendar: the SLA clocks of a rep without a
    /// calendar of their own run in it, and its holidays apply to everyone.
    #[serde(default = "default_calendar")]
    pub calendar: crate::calendar::CalendarSpec,
}

fn default_calendar() -> crate::calendar::CalendarSpec {
    let day = vec!["09:00-17:00".to_string()];
    crate::calendar::CalendarSpec {
        time_zone: "UTC".into(),
        weekly: ["mon", "tue", "wed", "thu", "fri"]
            .iter()
            .map(|d| (d.to_string(), day.clone()))
            .collect(),
        holidays: vec![],
        out_of_office: vec![],
    }
}

/// Which team owns a stage (and which team a user belongs to).
pub use crate::closed::Team;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageDef {
    pub id: Stage,
    pub name: String,
    pub owner: Team,
    /// The written criterion a contact meets on entering the stage.
    pub entry_criterion: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TouchKindDef {
    pub id: String,
    pub name: String,
    /// Track event names (Segment spec, e.g. "Demo Requested") that are
    /// touches of this kind.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track_events: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelDef {
    pub id: String,
    pub name: String,
    /// Whether the channel is bought media (spend-driven).
    #[serde(default)]
    pub paid: bool,
}

/// Derives a channel from a touch's UTM fields, referrer and click ids. Rules
/// are tried in order; the first whose conditions all match wins. The last
/// rule has no conditions and catches everything else.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelRule {
    pub channel: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default)]
    pub when: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonaDef {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// All must match; personas are tried in order.
    pub when: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoringModel {
    /// Points that never decay: who the contact is.
    pub fit_rules: Vec<FitRule>,
    /// Points per touch that decay with the half-life: what the contact does.
    pub engagement_rules: Vec<EngagementRule>,
    pub engagement_half_life_days: f64,
    pub mql_fit_min: i64,
    pub mql_engagement_min: f64,
    /// Touch kinds that make a lead an MQL at once.
    pub hand_raiser_kinds: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitRule {
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub when: Vec<Condition>,
    pub points: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngagementRule {
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    pub points: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectOutcome {
    Disqualify,
    Recycle,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectionReason {
    pub code: String,
    pub label: String,
    pub outcome: RejectOutcome,
}

/// What recycling means. A recycled contact is nurtured by marketing: it
/// qualifies again on a new hand-raiser, or on engagement that arrived
/// after it was recycled (its engagement score restarts then) once
/// `nurture_days` have passed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecyclePolicy {
    #[serde(default = "default_nurture_days")]
    pub nurture_days: f64,
    /// The rejection reason (and so recycle or disqualify) a lost deal
    /// gives its contact, unless `lost_reasons` maps its lost reason.
    #[serde(default = "default_lost_deal_reason")]
    pub lost_deal_reason: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lost_reasons: Vec<LostReasonRule>,
    /// An SAL that sales neither qualified nor disqualified within this many
    /// working days goes back to marketing, recycled with the reason
    /// `no_follow_up_reason`.
    #[serde(default = "default_no_follow_up_days")]
    pub no_follow_up_working_days: f64,
    #[serde(default = "default_no_follow_up_reason")]
    pub no_follow_up_reason: String,
}

impl Default for RecyclePolicy {
    fn default() -> Self {
        RecyclePolicy {
            nurture_days: default_nurture_days(),
            lost_deal_reason: default_lost_deal_reason(),
            lost_reasons: Vec::new(),
            no_follow_up_working_days: default_no_follow_up_days(),
            no_follow_up_reason: default_no_follow_up_reason(),
        }
    }
}

impl RecyclePolicy {
    /// The rejection reason a deal lost for `lost_reason` gives its contact.
    /// (Callers apply it only when the playbook has that reason: a playbook
    /// from before the recycle section may lack the defaults' reasons.)
    pub fn reason_for_lost_deal(&self, lost_reason: Option<&str>) -> &str {
        lost_reason
            .and_then(|l| {
                self.lost_reasons
                    .iter()
                    .find(|r| r.lost_reason.eq_ignore_ascii_case(l.trim()))
            })
            .map_or(self.lost_deal_reason.as_str(), |r| r.reason.as_str())
    }
}

/// One deal lost reason and the rejection reason it gives the contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LostReasonRule {
    pub lost_reason: String,
    pub reason: String,
}

fn default_nurture_days() -> f64 {
    30.0
}

fn default_lost_deal_reason() -> String {
    "not_ready".into()
}

fn default_no_follow_up_days() -> f64 {
    10.0
}

fn default_no_follow_up_reason() -> String {
    "no_follow_up".into()
}

/// The numbers of the service level agreement between the teams.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaPolicy {
    pub first_touch_working_hours: f64,
    pub attempts: u32,
    pub attempts_within_working_days: f64,
    pub decision_within_working_days: f64,
    /// Share of a clock's budget after which it is "at risk".
    pub at_risk_share: f64,
    pub min_acceptance_rate: f64,
    /// A fixed MQL commitment per period; when absent it is derived from the
    /// revenue goal through the reverse funnel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mql_commitment: Option<u32>,
    /// Escalation ladder: the rep is notified when a clock is at risk, their
    /// managers at a breach, and an untouched lead is reassigned this many
    /// working hours after its first-touch breach.
    #[serde(default = "default_reassign_after")]
    pub reassign_after_breach_working_hours: f64,
    /// How many minutes before logging it a rep may say an activity
    /// happened; the clocks read that time, so it may be no earlier.
    #[serde(default = "default_backdate_grace")]
    pub backdate_grace_minutes: u32,
}

fn default_reassign_after() -> f64 {
    4.0
}

fn default_backdate_grace() -> u32 {
    15
}

/// One problem found in a playbook document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The key at fault, such as `scoring.engagement_rules[2].channel`.
    pub key: String,
    /// 1-based line and column in the TOML text, when it is known.
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "line {l}, column {c}: {}: {}", self.key, self.message),
            _ => write!(f, "{}: {}", self.key, self.message),
        }
    }
}

/// Every problem of a playbook document that could not be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the playbook is not valid:\n{}", .problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
pub struct PlaybookError {
    pub problems: Vec<Problem>,
}

/// Contact and account attributes that persona and fit rules test.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    pub email_domain: Option<String>,
    pub job_title: Option<String>,
    pub persona: Option<String>,
    pub contact_country: Option<String>,
    pub account_domain: Option<String>,
    pub industry: Option<String>,
    pub employee_count: Option<i64>,
    pub company_size: Option<String>,
    pub region: Option<String>,
    pub account_country: Option<String>,
}

fn text(v: &Option<String>) -> Option<FieldValue<'_>> {
    v.as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(FieldValue::Text)
}

impl Facts for Profile {
    fn field(&self, field: &str) -> Option<FieldValue<'_>> {
        match field {
            "contact.email_domain" => text(&self.email_domain),
            "contact.job_title" => text(&self.job_title),
            "contact.persona" => text(&self.persona),
            "contact.country" => text(&self.contact_country),
            "account.domain" => text(&self.account_domain),
            "account.industry" => text(&self.industry),
            "account.employee_count" => self.employee_count.map(|n| FieldValue::Number(n as f64)),
            "account.company_size" => text(&self.company_size),
            "account.region" => text(&self.region),
            "account.country" => text(&self.account_country),
            _ => None,
        }
    }
}

/// What a touch carries that says where it came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TouchSignals {
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub utm_term: Option<String>,
    pub utm_content: Option<String>,
    pub referrer: Option<String>,
    pub gclid: Option<String>,
    pub fbclid: Option<String>,
    pub msclkid: Option<String>,
    pub li_fat_id: Option<String>,
    pub kind: Option<String>,
    pub page_url: Option<String>,
}

impl TouchSignals {
    /// The host of the referrer URL without a leading `www.`. Placeholders
    /// some libraries send for "no referrer" (RudderStack's `$direct`) have none.
    pub fn referrer_host(&self) -> Option<&str> {
        let r = self.referrer.as_deref()?.trim();
        if r.starts_with('$') {
            return None;
        }
        url_host(r)
    }

    /// Fills the campaign fields and click ids a touch does not carry from
    /// its page URL's query (`?utm_source=…&gclid=…`), as every path that
    /// records a touch does; fields given explicitly win.
    pub fn fill_from_page_url(&mut self) {
        let Some(url) = self.page_url.as_deref() else {
            return;
        };
        let Some((_, query)) = url.split_once('?') else {
            return;
        };
        let query = query.split('#').next().unwrap_or("");
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            let v = v.trim();
            if v.is_empty() {
                continue;
            }
            let slot = match k.as_ref() {
                "utm_source" => &mut self.utm_source,
                "utm_medium" => &mut self.utm_medium,
                "utm_campaign" => &mut self.utm_campaign,
                "utm_term" => &mut self.utm_term,
                "utm_content" => &mut self.utm_content,
                "gclid" => &mut self.gclid,
                "fbclid" => &mut self.fbclid,
                "msclkid" => &mut self.msclkid,
                "li_fat_id" => &mut self.li_fat_id,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(v.to_string());
            }
        }
    }
}

/// Whether `host` is `own` or one of its subdomains.
fn is_host_of(host: &str, own: &str) -> bool {
    let own = own.trim().trim_start_matches("www.").to_ascii_lowercase();
    let host = host.to_ascii_lowercase();
    !own.is_empty()
        && (host == own
            || host
                .strip_suffix(own.as_str())
                .is_some_and(|rest| rest.ends_with('.')))
}

/// The host of a URL (or of a bare `host/path`), without port and `www.`.
pub fn url_host(url: &str) -> Option<&str> {
    let r = url.trim();
    let rest = r.split_once("://").map(|(_, rest)| rest).unwrap_or(r);
    let host = rest.split(['/', '?', '#', ':']).next()?.trim();
    let host = host.strip_prefix("www.").unwrap_or(host);
    (!host.is_empty()).then_some(host)
}

impl Facts for TouchSignals {
    fn field(&self, field: &str) -> Option<FieldValue<'_>> {
        match field {
            "utm_source" => text(&self.utm_source),
            "utm_medium" => text(&self.utm_medium),
            "utm_campaign" => text(&self.utm_campaign),
            "utm_term" => text(&self.utm_term),
            "utm_content" => text(&self.utm_content),
            "referrer" => text(&self.referrer),
            "referrer_host" => self.referrer_host().map(FieldValue::Text),
            "gclid" => text(&self.gclid),
            "fbclid" => text(&self.fbclid),
            "msclkid" => text(&self.msclkid),
            "li_fat_id" => text(&self.li_fat_id),
            "kind" => text(&self.kind),
            "page_url" => text(&self.page_url),
            _ => None,
        }
    }
}

impl Playbook {
    /// The playbook Smarketing ships with.
    pub fn default_playbook() -> Playbook {
        Playbook::from_toml(DEFAULT_PLAYBOOK_TOML).expect("the shipped default playbook is valid")
    }

    /// Parses and validates a TOML document. Every problem names its key and,
    /// where it can be found, its line and column.
    pub fn from_toml(text: &str) -> Result<Playbook, PlaybookError> {
        let playbook: Playbook = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unzip();
            PlaybookError {
                problems: vec![Problem {
                    key: String::new(),
                    line,
                    column,
                    message: e.message().trim().to_string(),
                }],
            }
        })?;
        let found = playbook.problems();
        if found.is_empty() {
            return Ok(playbook);
        }
        let doc = toml_edit::ImDocument::parse(text).ok();
        let problems = found
            .into_iter()
            .map(|f| {
                let (line, column) = doc
                    .as_ref()
                    .and_then(|d| locate(d, &f.path))
                    .map(|offset| line_col(text, offset))
                    .unzip();
                Problem {
                    key: key_string(&f.path),
                    line,
                    column,
                    message: f.message,
                }
            })
            .collect();
        Err(PlaybookError { problems })
    }

    /// Validates a playbook built in code (no TOML lines to point at).
    pub fn validate(&self) -> Result<(), PlaybookError> {
        let problems: Vec<Problem> = self
            .problems()
            .into_iter()
            .map(|f| Problem {
                key: key_string(&f.path),
                line: None,
                column: None,
                message: f.message,
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(PlaybookError { problems })
        }
    }

    /// The playbook as a TOML document (what `playbook export` prints).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a playbook always serialises")
    }

    pub fn has_stage(&self, stage: Stage) -> bool {
        self.stages.iter().any(|s| s.id == stage)
    }

    pub fn has_channel(&self, id: &str) -> bool {
        self.channels.iter().any(|c| c.id == id)
    }

    pub fn has_touch_kind(&self, id: &str) -> bool {
        self.touch_kinds.iter().any(|k| k.id == id)
    }

    pub fn has_persona(&self, id: &str) -> bool {
        self.personas.iter().any(|p| p.id == id)
    }

    pub fn rejection_reason(&self, code: &str) -> Option<&RejectionReason> {
        self.rejection_reasons.iter().find(|r| r.code == code)
    }

    pub fn has_pipeline_stage(&self, id: &str) -> bool {
        self.pipeline_stages.iter().any(|s| s == id)
    }

    pub fn is_hand_raiser(&self, kind: &str) -> bool {
        self.scoring.hand_raiser_kinds.iter().any(|k| k == kind)
    }

    /// The touch kind of a track event: the kind listing the event name
    /// (case and spacing aside); else the kind whose id is the name in snake
    /// case, or begins it ("Webinar Attended" → webinar_attended, "Demo
    /// Requested" → demo_request), so playbooks without `track_events` map
    /// Segment's usual names too.
    pub fn kind_for_event(&self, event: &str) -> Option<&str> {
        let norm = |s: &str| {
            s.split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
                .join("_")
        };
        let e = norm(event);
        self.touch_kinds
            .iter()
            .find(|k| k.track_events.iter().any(|t| norm(t) == e))
            .or_else(|| self.touch_kinds.iter().find(|k| k.id == e))
            .or_else(|| {
                self.touch_kinds
                    .iter()
                    .filter(|k| e.starts_with(k.id.as_str()))
                    .max_by_key(|k| k.id.len())
            })
            .map(|k| k.id.as_str())
    }

    /// The channel of a touch, by the first channel rule that matches.
    pub fn derive_channel(&self, signals: &TouchSignals) -> &str {
        // The company's own site referring a page is the same visit going
        // on: the rules see no referrer.
        let own;
        let signals = match signals.referrer_host() {
            Some(h) if self.own_hosts.iter().any(|o| is_host_of(h, o)) => {
                own = TouchSignals {
                    referrer: None,
                    ..signals.clone()
                };
                &own
            }
            _ => signals,
        };
        self.channel_rules
            .iter()
            .find(|r| all_match(&r.when, signals))
            .map(|r| r.channel.as_str())
            // Validation guarantees a catch-all last rule; this is a guard.
            .unwrap_or("direct")
    }

    /// The persona whose rules match the profile first, if any.
    pub fn match_persona(&self, profile: &Profile) -> Option<&str> {
        self.personas
            .iter()
            .find(|p| !p.when.is_empty() && all_match(&p.when, profile))
            .map(|p| p.id.as_str())
    }
}
