//! The HubSpot-style contact export: how such a file is recognised, and how
//! its columns, lifecycle stages, original sources and dates map onto a
//! contact.

use super::sheet::Row;
use crate::input::ContactInput;
use smarketing_core::{Instant, Invalid, Playbook, Stage};

pub(super) fn is_hubspot(header: &[String]) -> bool {
    header.iter().any(|h| h == "Email")
        && header
            .iter()
            .any(|h| h == "First Name" || h == "Lifecycle Stage")
}

/// Maps a HubSpot contact export row onto a contact.
pub(super) fn hubspot_contact(
    playbook: &Playbook,
    row: &Row,
) -> Result<(String, ContactInput), Invalid> {
    let email = row.req("Email").map_err(|e| e.at("Email"))?;
    let ext = match row.opt("Record ID").or_else(|| row.opt("Contact ID")) {
        Some(id) => format!("hubspot:{id}"),
        None => format!("hubspot:{}", email.trim().to_lowercase()),
    };
    let stage = match row.opt("Lifecycle Stage") {
        None => None,
        Some(s) => Some(hubspot_stage(&s).ok_or_else(|| {
            Invalid::new(
                "unknown_stage",
                "Lifecycle Stage",
                format!("{s:?} is not a HubSpot lifecycle stage"),
            )
        })?),
    };
    let created_at = row
        .opt("Create Date")
        .map(|d| hubspot_date(&d))
        .transpose()?;
    let source = row
        .opt("Original Source")
        .and_then(|s| hubspot_source(&s))
        .filter(|c| playbook.has_channel(c));
    Ok((
        ext.clone(),
        ContactInput {
            email,
            first_name: row.opt("First Name"),
            last_name: row.opt("Last Name"),
            job_title: row.opt("Job Title"),
            phone: row.opt("Phone Number"),
            country: row.opt("Country/Region").or_else(|| row.opt("Country")),
            stage: stage.map(|s| s.as_str().to_string()),
            source_channel: source.map(str::to_string),
            external_id: Some(ext),
            created_at,
            ..Default::default()
        },
    ))
}

fn hubspot_stage(s: &str) -> Option<Stage> {
    let k: String = s
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    Some(match k.as_str() {
        "subscriber" => Stage::Subscriber,
        "lead" | "other" => Stage::Lead,
        "marketingqualifiedlead" | "mql" => Stage::Mql,
        "salesqualifiedlead" | "sql" => Stage::Sql,
        "salesacceptedlead" | "sal" => Stage::Sal,
        "opportunity" => Stage::Opportunity,
        "customer" => Stage::Customer,
        "evangelist" => Stage::Evangelist,
        _ => return None,
    })
}

fn hubspot_source(s: &str) -> Option<&'static str> {
    let k: String = s
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    Some(match k.as_str() {
        "organic_search" => "organic_search",
        "paid_search" => "paid_search",
        "email_marketing" | "email" => "email",
        "organic_social" | "social_media" => "social",
        "paid_social" => "paid_social",
        "referrals" | "referral" => "referral",
        "direct_traffic" | "direct" => "direct",
        "offline_sources" | "offline" => "events",
        _ => return None,
    })
}

/// HubSpot writes dates as `2024-01-15 10:23`, with seconds, as a bare date
/// or as RFC 3339; bare forms are taken as UTC.
fn hubspot_date(s: &str) -> Result<Instant, Invalid> {
    let t = s.trim();
    if let Ok(i) = Instant::parse(t, "Create Date") {
        return Ok(i);
    }
    for fmt in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(dt) = jiff::civil::DateTime::strptime(fmt, t) {
            return dt
                .to_zoned(jiff::tz::TimeZone::UTC)
                .map(|z| Instant::from(z.timestamp()))
                .map_err(|_| bad_date(s));
        }
    }
    if let Ok(d) = jiff::civil::Date::strptime("%Y-%m-%d", t) {
        return d
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| Instant::from(z.timestamp()))
            .map_err(|_| bad_date(s));
    }
    Err(bad_date(s))
}

fn bad_date(s: &str) -> Invalid {
    Invalid::new(
        "invalid_instant",
        "Create Date",
        format!("{s:?} is not a date such as 2024-01-15 10:23"),
    )
}
