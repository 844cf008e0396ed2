//! What callers send to create or change records, and the checks that turn
//! raw values into values the store may hold. PATCH inputs distinguish a
//! missing key (leave as is) from `null` (clear).

use serde::{Deserialize, Deserializer};
use smarketing_core::{Instant, Invalid};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// For PATCH bodies: `None` = key absent, `Some(None)` = null, `Some(Some(v))`.
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A required text: trimmed, not empty, at most `max` characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<String, Invalid> {
    let t = value.trim();
    if t.is_empty() {
        return Err(Invalid::new(
            "required",
            field,
            format!("{field} must not be empty"),
        ));
    }
    if t.chars().count() > max {
        return Err(Invalid::new(
            "too_long",
            field,
            format!("{field} must be at most {max} characters"),
        ));
    }
    Ok(t.to_string())
}

/// An optional text: trimmed; empty becomes absent.
pub fn opt_text(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>, Invalid> {
    match value.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => text(field, t, max).map(Some),
    }
}

/// A value from a fixed list.
pub fn one_of(field: &str, value: &str, allowed: &[&str]) -> Result<String, Invalid> {
    let v = value.trim();
    if allowed.contains(&v) {
        Ok(v.to_string())
    } else {
        Err(Invalid::new(
            "unknown_value",
            field,
            format!(
                "{v:?} is not allowed for {field}; expected one of {}",
                allowed.join(", ")
            ),
        ))
    }
}

pub fn non_negative(field: &str, v: i64) -> Result<i64, Invalid> {
    if v < 0 {
        Err(Invalid::new(
            "negative_amount",
            field,
            format!("{field} must not be negative, got {v}"),
        ))
    } else {
        Ok(v)
    }
}

/// A money amount in minor units: not negative, and within
/// [`smarketing_core::money::MAX_MINOR`].
pub fn amount(field: &str, v: i64) -> Result<i64, Invalid> {
    smarketing_core::Money::from_minor(v, field).map(smarketing_core::Money::minor)
}

pub const NAME_MAX: usize = 200;
pub const BODY_MAX: usize = 20_000;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AccountInput {
    pub name: String,
    pub domain: Option<String>,
    pub industry: Option<String>,
    pub employee_count: Option<i64>,
    pub company_size: Option<String>,
    pub region: Option<String>,
    pub country: Option<String>,
    pub owner_id: Option<i64>,
    pub external_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AccountPatch {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub domain: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub industry: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub employee_count: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub company_size: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub region: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub country: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub owner_id: Option<Option<i64>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ContactInput {
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub job_title: Option<String>,
    pub phone: Option<String>,
    pub country: Option<String>,
    pub account_id: Option<i64>,
    pub owner_id: Option<i64>,
    /// A persona id of the playbook; matched from the job title when absent.
    pub persona: Option<String>,
    /// The starting stage (default `lead`).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<smarketing_core::Stage>))]
    pub stage: Option<String>,
    pub source_channel: Option<String>,
    pub external_id: Option<String>,
    /// When the contact became known (default: now).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub created_at: Option<Instant>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ContactPatch {
    pub email: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub last_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub job_title: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub country: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub account_id: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub owner_id: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub persona: Option<Option<String>>,
}

/// A lifecycle move requested by a person.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StageMoveInput {
    #[cfg_attr(feature = "openapi", schema(value_type = smarketing_core::Stage))]
    pub stage: String,
    /// A rejection reason code; required for `recycled` and `disqualified`.
    pub reason: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CampaignInput {
    pub name: String,
    pub channel: String,
    pub utm_campaign: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub started_at: Instant,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub ended_at: Option<Instant>,
    /// Spend in minor units (cents).
    #[serde(default)]
    pub spend_minor: i64,
    pub external_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CampaignPatch {
    pub name: Option<String>,
    pub channel: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub utm_campaign: Option<Option<String>>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub started_at: Option<Instant>,
    #[serde(default, deserialize_with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub ended_at: Option<Option<Instant>>,
    pub spend_minor: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DealInput {
    pub name: String,
    pub contact_id: Option<i64>,
    pub account_id: Option<i64>,
    pub owner_id: Option<i64>,
    /// Amount in minor units (cents); never negative.
    pub amount_minor: i64,
    /// A pipeline stage of the playbook (default: the first).
    pub pipeline_stage: Option<String>,
    /// `open` (default), `won` or `lost`.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<smarketing_core::DealStatus>))]
    pub status: Option<String>,
    pub lost_reason: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub created_at: Option<Instant>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub closed_at: Option<Instant>,
    pub external_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DealPatch {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub owner_id: Option<Option<i64>>,
    pub amount_minor: Option<i64>,
    pub pipeline_stage: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<smarketing_core::DealStatus>))]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub lost_reason: Option<Option<String>>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub closed_at: Option<Instant>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ActivityInput {
    pub contact_id: i64,
    pub deal_id: Option<i64>,
    /// The rep who did it (default: the caller).
    pub user_id: Option<i64>,
    /// `call`, `email`, `meeting` or `note`.
    #[cfg_attr(feature = "openapi", schema(value_type = smarketing_core::ActivityKind))]
    pub kind: String,
    /// `attempt` (default) or `connect`.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<smarketing_core::ActivityOutcome>))]
    pub outcome: Option<String>,
    pub subject: Option<String>,
    pub body: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub occurred_at: Option<Instant>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ActivityPatch {
    pub kind: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<smarketing_core::ActivityOutcome>))]
    pub outcome: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub subject: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub body: Option<Option<String>>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub occurred_at: Option<Instant>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NoteInput {
    pub contact_id: Option<i64>,
    pub account_id: Option<i64>,
    pub deal_id: Option<i64>,
    pub body: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NotePatch {
    pub body: Option<String>,
}

/// One marketing interaction. Name the person by `contact_id`, `email` (a
/// contact is created when the address is new) or `anonymous_id` (a visitor).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TouchpointInput {
    pub contact_id: Option<i64>,
    pub email: Option<String>,
    pub anonymous_id: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub occurred_at: Option<Instant>,
    /// A channel of the playbook; derived from UTM fields, click ids and the
    /// referrer by the playbook's channel rules when absent.
    pub channel: Option<String>,
    /// Matched by `utm_campaign` when absent.
    pub campaign_id: Option<i64>,
    /// A touch kind of the playbook (`page_view`, `demo_request`, ...).
    pub kind: Option<String>,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub utm_term: Option<String>,
    pub utm_content: Option<String>,
    pub referrer: Option<String>,
    pub page_url: Option<String>,
    pub gclid: Option<String>,
    pub fbclid: Option<String>,
    pub msclkid: Option<String>,
    pub li_fat_id: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub properties: Option<serde_json::Map<String, serde_json::Value>>,
    pub external_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UserInput {
    pub name: String,
    pub email: String,
    /// `marketing` or `sales`.
    #[cfg_attr(feature = "openapi", schema(value_type = smarketing_core::Team))]
    pub team: String,
    /// `admin`, `manager`, `member` or `viewer`.
    #[cfg_attr(feature = "openapi", schema(value_type = smarketing_core::Role))]
    pub role: String,
}
