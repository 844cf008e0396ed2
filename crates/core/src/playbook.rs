//! The playbook: the shared language of marketing and sales, as one
//! versioned document. Stages with entry criteria, touch kinds, the channel
//! taxonomy and its rules, personas, the scoring model, rejection reasons and
//! the SLA numbers. Read from and written to TOML; validation problems name
//! the TOML line and key.

use crate::condition::{Condition, Facts, FieldValue, all_match};
use crate::lifecycle::Stage;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;

/// The default playbook shipped with Smarketing (product brief, "Defaults").
pub const DEFAULT_PLAYBOOK_TOML: &str = include_str!("default_playbook.toml");

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
    pub personas: Vec<PersonaDef>,
    pub scoring: ScoringModel,
    pub rejection_reasons: Vec<RejectionReason>,
    /// The stages of an open deal in the sales pipeline, in order.
    pub pipeline_stages: Vec<String>,
    pub sla: SlaPolicy,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Team {
    Marketing,
    Sales,
}

impl Team {
    pub fn as_str(self) -> &'static str {
        match self {
            Team::Marketing => "marketing",
            Team::Sales => "sales",
        }
    }
}

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
}

fn default_reassign_after() -> f64 {
    4.0
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

/// A path segment used to point at a key.
#[derive(Debug, Clone)]
enum Seg {
    Key(&'static str),
    Index(usize),
}

struct Found {
    path: Vec<Seg>,
    message: String,
}

fn key_string(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
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
    /// The host of the referrer URL without a leading `www.`.
    pub fn referrer_host(&self) -> Option<&str> {
        url_host(self.referrer.as_deref()?)
    }
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

    fn problems(&self) -> Vec<Found> {
        let mut out = Vec::new();
        let mut bad = |path: Vec<Seg>, message: String| out.push(Found { path, message });

        if self.name.trim().is_empty() {
            bad(vec![Seg::Key("name")], "the playbook needs a name".into());
        }

        // Stages: each once, funnel stages in funnel order, the essential ones present.
        let mut seen = HashSet::new();
        let mut last_rank = None;
        for (i, s) in self.stages.iter().enumerate() {
            let at = |k| vec![Seg::Key("stages"), Seg::Index(i), Seg::Key(k)];
            if !seen.insert(s.id) {
                bad(at("id"), format!("stage {} is listed twice", s.id));
            }
            if let Some(rank) = s.id.funnel_rank() {
                if last_rank.is_some_and(|l| rank < l) {
                    bad(at("id"), format!("stage {} is out of funnel order", s.id));
                }
                last_rank = Some(rank);
            }
            if s.entry_criterion.trim().is_empty() {
                bad(
                    at("entry_criterion"),
                    format!("stage {} needs a written entry criterion", s.id),
                );
            }
            if s.name.trim().is_empty() {
                bad(at("name"), "a stage needs a name".into());
            }
        }
        for needed in [
            Stage::Lead,
            Stage::Mql,
            Stage::Customer,
            Stage::Recycled,
            Stage::Disqualified,
        ] {
            if !seen.contains(&needed) {
                bad(
                    vec![Seg::Key("stages")],
                    format!("stage {needed} is required"),
                );
            }
        }

        let kinds = unique_ids(
            self.touch_kinds.iter().map(|k| k.id.as_str()),
            "touch_kinds",
            "id",
            &mut bad,
        );
        let channels = unique_ids(
            self.channels.iter().map(|c| c.id.as_str()),
            "channels",
            "id",
            &mut bad,
        );
        let personas = unique_ids(
            self.personas.iter().map(|p| p.id.as_str()),
            "personas",
            "id",
            &mut bad,
        );
        unique_ids(
            self.rejection_reasons.iter().map(|r| r.code.as_str()),
            "rejection_reasons",
            "code",
            &mut bad,
        );
        unique_ids(
            self.scoring.fit_rules.iter().map(|r| r.id.as_str()),
            "fit_rules",
            "id",
            &mut bad,
        );
        unique_ids(
            self.scoring.engagement_rules.iter().map(|r| r.id.as_str()),
            "engagement_rules",
            "id",
            &mut bad,
        );

        if self.channels.is_empty() {
            bad(
                vec![Seg::Key("channels")],
                "the channel taxonomy needs at least one channel".into(),
            );
        }
        for (i, rule) in self.channel_rules.iter().enumerate() {
            if !channels.contains(rule.channel.as_str()) {
                bad(
                    vec![
                        Seg::Key("channel_rules"),
                        Seg::Index(i),
                        Seg::Key("channel"),
                    ],
                    format!("unknown channel {:?}", rule.channel),
                );
            }
            check_conditions(
                &rule.when,
                TOUCH_FIELDS,
                vec![Seg::Key("channel_rules"), Seg::Index(i)],
                &mut bad,
            );
        }
        match self.channel_rules.last() {
            Some(last) if last.when.is_empty() => {}
            _ => bad(
                vec![Seg::Key("channel_rules")],
                "the last channel rule must have no conditions, so that every touch gets a channel"
                    .into(),
            ),
        }

        for (i, p) in self.personas.iter().enumerate() {
            check_conditions(
                &p.when,
                PROFILE_FIELDS,
                vec![Seg::Key("personas"), Seg::Index(i)],
                &mut bad,
            );
        }

        let sc = &self.scoring;
        for (i, r) in sc.fit_rules.iter().enumerate() {
            let base = vec![Seg::Key("scoring"), Seg::Key("fit_rules"), Seg::Index(i)];
            check_conditions(&r.when, PROFILE_FIELDS, base.clone(), &mut bad);
            // A persona test must name a persona that exists.
            for (j, c) in r.when.iter().enumerate() {
                if c.field == "contact.persona" {
                    for v in condition_texts(c) {
                        if !personas.contains(v.as_str()) {
                            let mut p = base.clone();
                            p.extend([Seg::Key("when"), Seg::Index(j), Seg::Key("value")]);
                            bad(p, format!("unknown persona {v:?}"));
                        }
                    }
                }
            }
        }
        for (i, r) in sc.engagement_rules.iter().enumerate() {
            let at = |k| {
                vec![
                    Seg::Key("scoring"),
                    Seg::Key("engagement_rules"),
                    Seg::Index(i),
                    Seg::Key(k),
                ]
            };
            if r.kind.is_none() && r.channel.is_none() {
                bad(
                    at("kind"),
                    "an engagement rule needs a kind, a channel or both".into(),
                );
            }
            if let Some(k) = &r.kind
                && !kinds.contains(k.as_str())
            {
                bad(at("kind"), format!("unknown touch kind {k:?}"));
            }
            if let Some(c) = &r.channel
                && !channels.contains(c.as_str())
            {
                bad(at("channel"), format!("unknown channel {c:?}"));
            }
        }
        let at = |k| vec![Seg::Key("scoring"), Seg::Key(k)];
        if !(sc.engagement_half_life_days.is_finite() && sc.engagement_half_life_days > 0.0) {
            bad(
                at("engagement_half_life_days"),
                "the half-life must be a positive number of days".into(),
            );
        }
        if sc.mql_fit_min < 0 {
            bad(
                at("mql_fit_min"),
                "the fit threshold must not be negative".into(),
            );
        }
        if !(sc.mql_engagement_min.is_finite() && sc.mql_engagement_min >= 0.0) {
            bad(
                at("mql_engagement_min"),
                "the engagement threshold must be a number ≥ 0".into(),
            );
        }
        for (i, k) in sc.hand_raiser_kinds.iter().enumerate() {
            if !kinds.contains(k.as_str()) {
                bad(
                    vec![
                        Seg::Key("scoring"),
                        Seg::Key("hand_raiser_kinds"),
                        Seg::Index(i),
                    ],
                    format!("unknown touch kind {k:?}"),
                );
            }
        }

        if self.pipeline_stages.is_empty() {
            bad(
                vec![Seg::Key("pipeline_stages")],
                "the sales pipeline needs at least one stage".into(),
            );
        }
        for (i, st) in self.pipeline_stages.iter().enumerate() {
            if st.trim().is_empty() || self.pipeline_stages[..i].contains(st) {
                bad(
                    vec![Seg::Key("pipeline_stages"), Seg::Index(i)],
                    format!("{st:?} is empty or listed twice"),
                );
            }
        }
        if self.rejection_reasons.is_empty() {
            bad(
                vec![Seg::Key("rejection_reasons")],
                "sales needs at least one rejection reason".into(),
            );
        }
        let r = &self.routing;
        if !(r.skip_if_off_hours_longer_than_hours.is_finite()
            && r.skip_if_off_hours_longer_than_hours >= 0.0)
        {
            bad(
                vec![
                    Seg::Key("routing"),
                    Seg::Key("skip_if_off_hours_longer_than_hours"),
                ],
                "must be a number of hours ≥ 0".into(),
            );
        }
        if r.default_capacity == 0 {
            bad(
                vec![Seg::Key("routing"), Seg::Key("default_capacity")],
                "must be at least 1".into(),
            );
        }
        for (i, t) in r.territories.iter().enumerate() {
            let base = vec![Seg::Key("routing"), Seg::Key("territories"), Seg::Index(i)];
            if t.name.trim().is_empty() {
                let mut p = base.clone();
                p.push(Seg::Key("name"));
                bad(p, "a territory needs a name".into());
            }
            if t.reps.is_empty() {
                let mut p = base.clone();
                p.push(Seg::Key("reps"));
                bad(p, "a territory needs at least one rep".into());
            }
            check_conditions(&t.when, PROFILE_FIELDS, base, &mut bad);
        }

        if let Err(e) = crate::calendar::WorkingCalendar::from_spec(&self.calendar) {
            let mut path = vec![Seg::Key("calendar")];
            // The calendar names its own fields; point at the table.
            if e.field == "time_zone" {
                path.push(Seg::Key("time_zone"));
            }
            bad(path, format!("{}: {}", e.field, e.message));
        }

        let sla = &self.sla;
        let at = |k| vec![Seg::Key("sla"), Seg::Key(k)];
        for (key, v) in [
            ("first_touch_working_hours", sla.first_touch_working_hours),
            (
                "attempts_within_working_days",
                sla.attempts_within_working_days,
            ),
            (
                "decision_within_working_days",
                sla.decision_within_working_days,
            ),
        ] {
            if !(v.is_finite() && v > 0.0) {
                bad(at(key), "must be a positive number".into());
            }
        }
        if sla.attempts == 0 {
            bad(at("attempts"), "must be at least 1".into());
        }
        for (key, v) in [
            ("at_risk_share", sla.at_risk_share),
            ("min_acceptance_rate", sla.min_acceptance_rate),
        ] {
            if !(v > 0.0 && v <= 1.0) {
                bad(at(key), "must be a share between 0 (excluded) and 1".into());
            }
        }
        out
    }
}

fn unique_ids<'a>(
    ids: impl Iterator<Item = &'a str>,
    list: &'static str,
    key: &'static str,
    bad: &mut impl FnMut(Vec<Seg>, String),
) -> HashSet<&'a str> {
    let mut seen = HashSet::new();
    let base: Vec<Seg> = match list {
        "fit_rules" | "engagement_rules" => vec![Seg::Key("scoring"), Seg::Key(list)],
        _ => vec![Seg::Key(list)],
    };
    for (i, id) in ids.enumerate() {
        let mut path = base.clone();
        path.extend([Seg::Index(i), Seg::Key(key)]);
        let snake = !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !snake {
            bad(path, format!("{id:?} must be a lower-case snake_case code"));
        } else if !seen.insert(id) {
            bad(path, format!("{id:?} is listed twice"));
        }
    }
    seen
}

fn check_conditions(
    conds: &[Condition],
    fields: &[&str],
    base: Vec<Seg>,
    bad: &mut impl FnMut(Vec<Seg>, String),
) {
    for (j, c) in conds.iter().enumerate() {
        if let Err((key, msg)) = c.check(fields) {
            let mut p = base.clone();
            p.extend([Seg::Key("when"), Seg::Index(j), Seg::Key(key)]);
            bad(p, msg);
        }
    }
}

fn condition_texts(c: &Condition) -> Vec<String> {
    use crate::condition::CondValue;
    match &c.value {
        Some(CondValue::Text(t)) => vec![t.clone()],
        Some(CondValue::List(l)) => l.clone(),
        _ => vec![],
    }
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, column)
}

/// The byte offset of the deepest part of `path` found in the document.
fn locate(doc: &toml_edit::ImDocument<&str>, path: &[Seg]) -> Option<usize> {
    use toml_edit::{Item, Value};
    #[derive(Clone, Copy)]
    enum Node<'a> {
        Item(&'a Item),
        Table(&'a toml_edit::Table),
        Value(&'a Value),
    }
    let mut node = Node::Item(doc.as_item());
    let mut best: Option<usize> = None;
    for seg in path {
        let next = match (node, seg) {
            (Node::Item(Item::Table(t)), Seg::Key(k)) | (Node::Table(t), Seg::Key(k)) => {
                if let Some(key) = t.key(k) {
                    best = key.span().map(|s| s.start).or(best);
                }
                t.get(k).map(Node::Item)
            }
            (Node::Item(Item::ArrayOfTables(a)), Seg::Index(i)) => a.get(*i).map(|t| {
                best = t.span().map(|s| s.start).or(best);
                Node::Table(t)
            }),
            (Node::Item(Item::Value(v)), seg) | (Node::Value(v), seg) => match (v, seg) {
                (Value::Array(a), Seg::Index(i)) => a.get(*i).map(Node::Value),
                (Value::InlineTable(t), Seg::Key(k)) => {
                    if let Some(key) = t.key(k) {
                        best = key.span().map(|s| s.start).or(best);
                    }
                    t.get(k).map(Node::Value)
                }
                _ => None,
            },
            _ => None,
        };
        match next {
            Some(n) => {
                if let Node::Value(v) = &n {
                    best = v.span().map(|s| s.start).or(best);
                }
                node = n;
            }
            None => break,
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_playbook_is_valid_and_round_trips() {
        let p = Playbook::default_playbook();
        assert!(p.validate().is_ok());
        let again = Playbook::from_toml(&p.to_toml()).unwrap();
        assert_eq!(p, again);
        assert!(p.is_hand_raiser("demo_request"));
        assert_eq!(p.sla.first_touch_working_hours, 4.0);
    }

    #[test]
    fn track_events_map_to_touch_kinds_with_or_without_a_list() {
        let mut p = Playbook::default_playbook();
        assert_eq!(p.kind_for_event("Demo Requested"), Some("demo_request"));
        assert_eq!(
            p.kind_for_event("whitepaper downloaded"),
            Some("content_download")
        );
        assert_eq!(
            p.kind_for_event("Webinar Attended"),
            Some("webinar_attended")
        );
        assert_eq!(p.kind_for_event("Signed Up"), None);
        // A playbook stored before track_events existed still maps the usual names.
        for k in &mut p.touch_kinds {
            k.track_events.clear();
        }
        assert_eq!(p.kind_for_event("Demo Requested"), Some("demo_request"));
        assert_eq!(p.kind_for_event("Email Opened"), Some("email_open"));
        assert_eq!(p.kind_for_event("Page"), None);
    }

    #[test]
    fn serde_errors_name_the_line() {
        let text = DEFAULT_PLAYBOOK_TOML.replacen("id = \"mql\"", "id = \"prospect\"", 1);
        let err = Playbook::from_toml(&text).unwrap_err();
        let p = &err.problems[0];
        let expected_line = text
            .lines()
            .position(|l| l.contains("\"prospect\""))
            .unwrap()
            + 1;
        assert_eq!(p.line, Some(expected_line), "{err}");
        assert!(p.message.contains("prospect"), "{err}");
    }

    #[test]
    fn semantic_errors_name_the_line_and_key() {
        let text = DEFAULT_PLAYBOOK_TOML.replacen("channel = \"webinar\"", "channel = \"tv\"", 1);
        let err = Playbook::from_toml(&text).unwrap_err();
        let p = err
            .problems
            .iter()
            .find(|p| p.message.contains("\"tv\""))
            .expect("tv reported");
        let expected_line = text
            .lines()
            .position(|l| l.contains("channel = \"tv\""))
            .unwrap()
            + 1;
        assert_eq!(p.line, Some(expected_line), "{err}");
        assert!(p.key.ends_with(".channel"), "{}", p.key);
    }

    #[test]
    fn zero_half_life_and_missing_catch_all_are_refused() {
        let mut p = Playbook::default_playbook();
        p.scoring.engagement_half_life_days = 0.0;
        p.channel_rules.pop();
        let err = p.validate().unwrap_err();
        let keys: Vec<_> = err.problems.iter().map(|p| p.key.as_str()).collect();
        assert!(
            keys.contains(&"scoring.engagement_half_life_days"),
            "{keys:?}"
        );
        assert!(keys.contains(&"channel_rules"), "{keys:?}");
    }

    fn signals(pairs: &[(&str, &str)]) -> TouchSignals {
        let mut s = TouchSignals::default();
        for (k, v) in pairs {
            let v = Some(v.to_string());
            match *k {
                "utm_source" => s.utm_source = v,
                "utm_medium" => s.utm_medium = v,
                "referrer" => s.referrer = v,
                "gclid" => s.gclid = v,
                "fbclid" => s.fbclid = v,
                _ => panic!("{k}"),
            }
        }
        s
    }

    #[test]
    fn channel_rules_derive_the_taxonomy() {
        let p = Playbook::default_playbook();
        assert_eq!(
            p.derive_channel(&signals(&[("gclid", "abc")])),
            "paid_search"
        );
        assert_eq!(
            p.derive_channel(&signals(&[("utm_medium", "CPC"), ("utm_source", "google")])),
            "paid_search"
        );
        assert_eq!(
            p.derive_channel(&signals(&[("fbclid", "x")])),
            "paid_social"
        );
        assert_eq!(
            p.derive_channel(&signals(&[("utm_medium", "email")])),
            "email"
        );
        assert_eq!(
            p.derive_channel(&signals(&[(
                "referrer",
                "https://www.google.com/search?q=x"
            )])),
            "organic_search"
        );
        assert_eq!(
            p.derive_channel(&signals(&[("referrer", "https://www.linkedin.com/feed")])),
            "social"
        );
        assert_eq!(
            p.derive_channel(&signals(&[("referrer", "https://blog.example.org/post")])),
            "referral"
        );
        assert_eq!(p.derive_channel(&signals(&[])), "direct");
    }

    #[test]
    fn personas_match_in_order() {
        let p = Playbook::default_playbook();
        let prof = |t: &str| Profile {
            job_title: Some(t.into()),
            ..Default::default()
        };
        assert_eq!(
            p.match_persona(&prof("VP of Marketing")),
            Some("marketing_leader")
        );
        assert_eq!(
            p.match_persona(&prof("Chief Executive Officer")),
            Some("executive")
        );
        assert_eq!(p.match_persona(&prof("Student")), Some("student"));
        assert_eq!(
            p.match_persona(&prof("Backend Developer")),
            Some("developer")
        );
        assert_eq!(p.match_persona(&prof("Gardener")), None);
    }
}
