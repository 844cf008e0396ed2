//! The HubSpot-style contact export: how such a file is recognised, and how
//! its columns, lifecycle stages, original sources and dates map onto a
//! contact — its company onto an account, its owner onto a user, and its
//! "Became a … Date" columns onto the stage history.

use super::sheet::Row;
use crate::input::ContactInput;
use smarketing_core::{Instant, Invalid, Playbook, Stage};
use std::collections::HashMap;

/// HubSpot's lifecycle-stage date columns and the stage each records.
pub(super) const STAGE_DATES: &[(&str, Stage)] = &[
    ("Became a Subscriber Date", Stage::Subscriber),
    ("Became a Lead Date", Stage::Lead),
    ("Became a Marketing Qualified Lead Date", Stage::Mql),
    ("Became a Sales Accepted Lead Date", Stage::Sal),
    ("Became a Sales Qualified Lead Date", Stage::Sql),
    ("Became an Opportunity Date", Stage::Opportunity),
    ("Became a Customer Date", Stage::Customer),
    ("Became an Evangelist Date", Stage::Evangelist),
];

/// Where a HubSpot row's company and owner point, resolved before its rows
/// are read: accounts by company name (case aside), users by e-mail and name.
pub(super) struct Links {
    pub companies: HashMap<String, i64>,
    pub owners: HashMap<String, i64>,
}

/// A HubSpot contact: what to save, and the stage history its date columns
/// tell, oldest first.
pub(super) struct HubspotRow {
    pub external_id: String,
    pub input: ContactInput,
    pub history: Vec<(Stage, Instant)>,
}

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
    links: &Links,
) -> Result<HubspotRow, Invalid> {
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
        .map(|d| hubspot_date(&d, "Create Date"))
        .transpose()?;
    let account_id = row
        .opt("Company Name")
        .map(|c| links.companies.get(&c.trim().to_lowercase()).copied())
        .unwrap_or_default();
    let owner_id = match row.opt("Contact owner") {
        None => None,
        Some(o) => Some(
            links
                .owners
                .get(&o.trim().to_lowercase())
                .copied()
                .ok_or_else(|| {
                    Invalid::new(
                        "unknown_reference",
                        "Contact owner",
                        format!(
                            "{o:?} is no user's e-mail or name; add the user first (smarketing user add)"
                        ),
                    )
                })?,
        ),
    };
    let mut history = Vec::new();
    for (column, stage) in STAGE_DATES {
        if let Some(d) = row.opt(column)
            && playbook.has_stage(*stage)
        {
            history.push((*stage, hubspot_date(&d, column)?));
        }
    }
    history.sort_by_key(|(stage, at)| (at.millis(), stage.funnel_rank()));
    let source = row
        .opt("Original Source")
        .and_then(|s| hubspot_source(&s))
        .filter(|c| playbook.has_channel(c));
    // Without a Lifecycle Stage column the latest date tells it.
    let stage = stage.or_else(|| history.last().map(|(s, _)| *s));
    Ok(HubspotRow {
        external_id: ext.clone(),
        history,
        input: ContactInput {
            email,
            account_id,
            owner_id,
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
    })
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

/// HubSpot writes dates as `2024-01-15 10:23`, `03/07/2024 11:15` (its
/// export's US month/day order), with seconds, as a bare date or as RFC
/// 3339; forms without a zone are taken as UTC.
pub(super) fn hubspot_date(s: &str, column: &str) -> Result<Instant, Invalid> {
    let t = s.trim();
    if let Ok(i) = Instant::parse(t, column) {
        return Ok(i);
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%m/%d/%Y %H:%M:%S",
        "%m/%d/%Y %H:%M",
        "%m/%d/%Y %I:%M %p",
    ] {
        if let Ok(dt) = jiff::civil::DateTime::strptime(fmt, t) {
            return dt
                .to_zoned(jiff::tz::TimeZone::UTC)
                .map(|z| Instant::from(z.timestamp()))
                .map_err(|_| bad_date(s, column));
        }
    }
    for fmt in ["%Y-%m-%d", "%m/%d/%Y"] {
        if let Ok(d) = jiff::civil::Date::strptime(fmt, t) {
            return d
                .to_zoned(jiff::tz::TimeZone::UTC)
                .map(|z| Instant::from(z.timestamp()))
                .map_err(|_| bad_date(s, column));
        }
    }
    Err(bad_date(s, column))
}

fn bad_date(s: &str, column: &str) -> Invalid {
    Invalid::new(
        "invalid_instant",
        column,
        format!("{s:?} is not a date such as 2024-01-15 10:23 or 01/15/2024 10:23"),
    )
}
