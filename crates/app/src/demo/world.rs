//! The seeded generator of the demo company: accounts, a campaign per channel
//! and month, and contacts with their journeys of touches, held in memory as
//! a `World` until the app writes it.

use super::tables::{CHANNELS, FIRST, IDENTIFYING, LAST, PERSONAS, PREFIX, REGIONS, SECTOR};
use super::{DAY, DemoSize, HOUR, story};
use crate::import::Progress;
use crate::lifecycle::profile;
use rand::prelude::*;
use rand_chacha::ChaCha8Rng;
use smarketing_core::{Instant, Playbook, Stage};
use smarketing_store::{
    Account, Activity, Campaign, Contact, Deal, Handoff, HandoffAssignment, Note, StageChange,
    Touchpoint,
};

/// An index into `weights`, chosen with probability proportional to its weight.
fn pick_index(rng: &mut ChaCha8Rng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut x = rng.random_range(0..total);
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

fn pick_weighted<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T], weight: impl Fn(&T) -> u32) -> &'a T {
    let total: u32 = items.iter().map(&weight).sum();
    let mut x = rng.random_range(0..total);
    for it in items {
        let w = weight(it);
        if x < w {
            return it;
        }
        x -= w;
    }
    items.last().expect("non-empty")
}

fn slug(s: &str) -> String {
    s.to_lowercase()
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' => c,
            'é' | 'è' => 'e',
            'ł' => 'l',
            'ü' => 'u',
            'á' => 'a',
            _ => '-',
        })
        .collect::<String>()
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("")
}

/// Everything generated, before it is written.
#[derive(Default)]
pub(super) struct World {
    pub(super) accounts: Vec<(i64, Account)>,
    pub(super) campaigns: Vec<(i64, Campaign)>,
    pub(super) contacts: Vec<(i64, Contact)>,
    pub(super) touchpoints: Vec<(i64, Touchpoint)>,
    pub(super) stage_changes: Vec<(i64, StageChange)>,
    pub(super) deals: Vec<(i64, Deal)>,
    pub(super) activities: Vec<(i64, Activity)>,
    pub(super) notes: Vec<(i64, Note)>,
    pub(super) handoffs: Vec<(i64, Handoff)>,
    pub(super) assignments: Vec<(i64, HandoffAssignment)>,
}

/// The calendar months (UTC) ending with the one that holds `end`: start,
/// end (exclusive) and a label such as "Apr 2026".
fn calendar_months(end: i64, count: u32) -> Vec<(i64, i64, String)> {
    use jiff::{ToSpan, tz::TimeZone};
    let last = jiff::Timestamp::from_millisecond(end)
        .expect("in range")
        .to_zoned(TimeZone::UTC)
        .date()
        .first_of_month();
    (0..count as i64)
        .rev()
        .map(|back| {
            let first = last.checked_sub(back.months()).expect("in range");
            let next = first.checked_add(1.month()).expect("in range");
            let ms = |d: jiff::civil::Date| {
                d.to_zoned(TimeZone::UTC)
                    .expect("in range")
                    .timestamp()
                    .as_millisecond()
            };
            (ms(first), ms(next), first.strftime("%b %Y").to_string())
        })
        .collect()
}

pub(super) fn at(ms: i64) -> Instant {
    Instant::from_millis(ms).expect("demo instants are in range")
}

/// Builds the demo world in memory. Pure given its arguments.
pub(super) fn build(
    playbook: &Playbook,
    seed: u64,
    size: DemoSize,
    end: i64,
    reps: &[i64],
    marketers: &[i64],
    progress: &dyn Progress,
) -> World {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut w = World::default();
    let months = calendar_months(end, size.months);
    let start = months[0].0;
    let created = at(start);

    // Accounts.
    let mut domains = std::collections::HashSet::new();
    let mut account_weights = Vec::with_capacity(size.accounts);
    for i in 0..size.accounts {
        let (region, _, countries) = *pick_weighted(&mut rng, REGIONS, |r| r.1);
        let (country, legal, tld) = countries[rng.random_range(0..countries.len())];
        let (sector, industry) = SECTOR[rng.random_range(0..SECTOR.len())];
        let prefix = PREFIX[rng.random_range(0..PREFIX.len())];
        let (size_code, employees, weight) = match rng.random_range(0..100) {
            0..55 => ("smb", rng.random_range(10..200), 1),
            55..85 => ("mid_market", rng.random_range(200..2_000), 3),
            _ => ("enterprise", rng.random_range(2_000..50_000), 6),
        };
        let mut domain = format!("{}{}.{tld}", slug(prefix), slug(sector));
        let mut k = 2;
        while !domains.insert(domain.clone()) {
            domain = format!("{}{}{k}.{tld}", slug(prefix), slug(sector));
            k += 1;
        }
        let owner = (size_code != "smb" && rng.random_bool(0.4))
            .then(|| reps[rng.random_range(0..reps.len())]);
        let id = i as i64 + 1;
        account_weights.push(weight);
        w.accounts.push((
            id,
            Account {
                id,
                external_id: None,
                name: format!("{prefix} {sector} {legal}"),
                domain: Some(domain),
                industry: Some(industry.into()),
                employee_count: Some(employees),
                company_size: Some(size_code.into()),
                region: Some(region.into()),
                country: Some(country.into()),
                owner_id: owner,
                created_at: created,
                updated_at: created,
            },
        ));
    }

    // Campaigns: one per channel per month.
    let mut campaign_of: std::collections::HashMap<(usize, i64), i64> = Default::default();
    for (m, (month_start, month_end, label)) in months.iter().enumerate() {
        let (month_start, m) = (*month_start, m as i64);
        for (ci, (channel, _, _, (lo, hi), _, theme)) in CHANNELS.iter().enumerate() {
            if !playbook.has_channel(channel) {
                continue;
            }
            let id = w.campaigns.len() as i64 + 1;
            let spend = if hi > lo {
                rng.random_range(*lo..=*hi)
            } else {
                *lo
            };
            let name = format!("{theme} – {label}");
            campaign_of.insert((ci, m), id);
            w.campaigns.push((
                id,
                Campaign {
                    id,
                    external_id: None,
                    utm_campaign: Some(format!("{}-{}", slug(theme), m + 1)),
                    name,
                    channel: channel.to_string(),
                    started_at: at(month_start),
                    ended_at: Some(at(*month_end - 1000)),
                    spend_minor: spend * 100,
                    created_at: at(month_start),
                    updated_at: at(month_start),
                },
            ));
        }
    }

    // Contacts and their journeys.
    progress.start("generating the demo company", size.contacts as u64);
    let total_weight: u32 = account_weights.iter().sum();
    // Channels the playbook does not know get no touches.
    let source_weights: Vec<u32> = CHANNELS
        .iter()
        .map(|c| if playbook.has_channel(c.0) { c.1 } else { 0 })
        .collect();
    let journey_weights: Vec<u32> = CHANNELS
        .iter()
        .map(|c| if playbook.has_channel(c.0) { c.2 } else { 0 })
        .collect();
    let mut emails = std::collections::HashSet::new();
    let mut rep_turn = 0usize;
    for i in 0..size.contacts {
        let cid = i as i64 + 1;
        // Weighted account choice: bigger companies have more people.
        let mut x = rng.random_range(0..total_weight);
        let mut ai = 0;
        while x >= account_weights[ai] {
            x -= account_weights[ai];
            ai += 1;
        }
        let account = &w.accounts[ai].1.clone();
        let domain = account.domain.clone().unwrap_or_default();
        let (persona, _, titles) = *pick_weighted(&mut rng, PERSONAS, |p| p.1);
        let first = FIRST[rng.random_range(0..FIRST.len())];
        let last = LAST[rng.random_range(0..LAST.len())];
        let base = if rng.random_bool(0.6) {
            format!("{}.{}", slug(first), slug(last))
        } else {
            format!("{}{}", &slug(first)[..1], slug(last))
        };
        let mut email = format!("{base}@{domain}");
        let mut k = 2;
        while !emails.insert(email.clone()) {
            email = format!("{base}{k}@{domain}");
            k += 1;
        }
        // Growth: later months bring more contacts (density rises linearly).
        let u: f64 = rng.random::<f64>();
        let span = (end - start - 2 * DAY) as f64;
        let created_ms = start + (span * u.sqrt()) as i64;
        let src_idx = pick_index(&mut rng, &source_weights);
        let mut contact = Contact {
            id: cid,
            external_id: None,
            email,
            first_name: Some(first.into()),
            last_name: Some(last.into()),
            job_title: Some(titles[rng.random_range(0..titles.len())].into()),
            phone: None,
            country: account.country.clone(),
            account_id: Some(account.id),
            owner_id: None,
            persona: Some(persona.into()),
            stage: Stage::Lead,
            source_channel: Some(CHANNELS[src_idx].0.into()),
            fit_score: 0,
            engagement_score: 0.0,
            scored_at: None,
            first_touch: None,
            last_touch: None,
            merged_into_id: None,
            recycled_at: None,
            created_at: at(created_ms),
            updated_at: at(created_ms),
        };
        let prof = profile(&contact, Some(account));

        // Touches: the first identifies the person on the source channel.
        let n_touches =
            1 + (-(1.0 - rng.random::<f64>()).ln() * (size.touches_per_contact - 1.0)) as usize;
        let mut touches: Vec<Touchpoint> = Vec::with_capacity(n_touches);
        let mut t = created_ms;
        for j in 0..n_touches {
            if j > 0 {
                t += (rng.random::<f64>().powi(2) * 12.0 * DAY as f64) as i64
                    + rng.random_range(10 * 60_000..6 * HOUR);
            }
            if t >= end {
                break;
            }
            let ci = if j == 0 {
                src_idx
            } else {
                pick_index(&mut rng, &journey_weights)
            };
            let (channel, _, _, _, kinds, _) = CHANNELS[ci];
            // Hand-raisers are rarer than the raw kind lists suggest: most
            // people read and click for weeks before they ask for a demo.
            let kind = if j == 0 {
                let ident: Vec<&str> = kinds
                    .iter()
                    .copied()
                    .filter(|k| IDENTIFYING.contains(k))
                    .collect();
                match ident[..] {
                    [] => "form_submit",
                    _ => match ident[rng.random_range(0..ident.len())] {
                        "demo_request" if rng.random_bool(0.9) => "form_submit",
                        k => k,
                    },
                }
            } else {
                // Most later touches are the channel's lightest kind (a view,
                // an open, an ad click); a few are forms, meetings, demos.
                match kinds[rng.random_range(0..kinds.len())] {
                    _ if rng.random_bool(0.7) => kinds[0],
                    "demo_request" if rng.random_bool(0.85) => kinds[0],
                    k => k,
                }
            };
            let month = months
                .partition_point(|(s, _, _)| *s <= t)
                .saturating_sub(1) as i64;
            let tid = w.touchpoints.len() as i64 + touches.len() as i64 + 1;
            let campaign_id = campaign_of.get(&(ci, month)).copied();
            touches.push(Touchpoint {
                id: tid,
                external_id: None,
                contact_id: Some(cid),
                visitor_id: None,
                occurred_at: at(t),
                channel: channel.into(),
                campaign_id,
                kind: Some(kind.into()),
                utm_source: None,
                utm_medium: None,
                utm_campaign: campaign_id
                    .and_then(|c| w.campaigns[c as usize - 1].1.utm_campaign.clone()),
                utm_term: None,
                utm_content: None,
                referrer: None,
                properties: serde_json::json!({}),
                created_at: at(t),
            });
        }

        let (changes, deal) = story::tell(
            &mut w,
            &mut rng,
            playbook,
            &mut contact,
            account,
            &prof,
            &touches,
            persona,
            reps,
            marketers,
            &mut rep_turn,
            end,
        );
        contact.set_touch_origins(&touches);
        w.contacts.push((cid, contact));
        w.touchpoints.extend(touches.into_iter().map(|t| (t.id, t)));
        w.stage_changes
            .extend(changes.into_iter().map(|c| (c.id, c)));
        if let Some(d) = deal {
            w.deals.push((d.id, d));
        }
        if i % 1_000 == 999 {
            progress.advance(1_000);
        }
    }
    progress.finish();
    w
}
