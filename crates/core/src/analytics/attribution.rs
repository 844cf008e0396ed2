//! Attribution of conversions (lead created, MQL, opportunity created, won
//! revenue) to channels and campaigns on the in-memory data, with every
//! model, per contact or per account (the buying group). Credit is checked to
//! sum to the converted total.

use super::dataset::{Dataset, DealStatus, NONE, TouchRow};
use super::markov::MarkovChain;
use super::models::{Model, Roles};
use super::shapley::ShapleyGame;
use crate::{Invalid, Stage};
use serde::Serialize;
use std::borrow::Cow;

/// Campaign-level Markov solves once per campaign; above this many states
/// it is left out rather than take minutes.
pub const MAX_CAMPAIGN_STATES: usize = 1_000;

/// What counts as a conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Conversion {
    /// The contact's first change into lead; no value.
    Lead,
    /// The first change into MQL; no value.
    Mql,
    /// A deal created; value = its amount (pipeline).
    Opportunity,
    /// A deal won; value = its amount (revenue).
    Won,
}

impl Conversion {
    pub fn parse(s: &str) -> Result<Conversion, Invalid> {
        Ok(match s.trim() {
            "lead" => Conversion::Lead,
            "mql" => Conversion::Mql,
            "opportunity" => Conversion::Opportunity,
            "won" => Conversion::Won,
            other => {
                return Err(Invalid::new(
                    "unknown_conversion",
                    "conversion",
                    format!("{other:?} is not a conversion; use lead, mql, opportunity or won"),
                ));
            }
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AttributionQuery {
    pub conversion: Conversion,
    pub models: Vec<Model>,
    /// Only touches this many days before the conversion count.
    pub lookback_days: Option<u32>,
    /// Touches of all the account's contacts count towards its deals.
    pub account_level: bool,
    /// Conversions in `[from, to)` (ms); all when `None`.
    pub period: Option<(i64, i64)>,
    /// Credit campaigns too (Markov and Shapley then solve a second game).
    pub campaigns: bool,
}

impl AttributionQuery {
    /// Every conversion of all time, per contact, credited to channels only.
    pub fn channels(conversion: Conversion, models: Vec<Model>) -> AttributionQuery {
        AttributionQuery {
            conversion,
            models,
            lookback_days: None,
            account_level: false,
            period: None,
            campaigns: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Credit {
    pub name: String,
    pub conversions: f64,
    /// Minor units.
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModelCredit {
    /// `linear`, `time_decay_7d`, `markov_2`, …
    pub model: String,
    /// Every channel of the taxonomy, sorted.
    pub channels: Vec<Credit>,
    /// Campaigns with credit, sorted by name; `(no campaign)` for touches
    /// without one.
    pub campaigns: Vec<Credit>,
    /// Whether channel credit sums to the converted totals (within 1e-9
    /// relative); reports say so when it ever does not.
    pub reconciled: bool,
    /// Why part of the credit is missing, if it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttributionReport {
    pub conversion: Conversion,
    pub account_level: bool,
    pub lookback_days: Option<u32>,
    pub conversions: f64,
    pub value: f64,
    /// Conversions with no touch in their window: no model can credit them.
    pub unattributed_conversions: f64,
    pub unattributed_value: f64,
    pub models: Vec<ModelCredit>,
}

/// One conversion and the touches before it.
struct Journey<'a> {
    touches: Cow<'a, [TouchRow]>,
    value: f64,
    at: i64,
    roles: Roles,
}

/// The touches of a unit: a contact's own (borrowed), or an account's
/// contacts' merged in time order.
fn unit_touches<'a>(ds: &'a Dataset, contacts: &[usize]) -> Cow<'a, [TouchRow]> {
    if let [c] = contacts {
        return Cow::Borrowed(ds.touches_of(*c));
    }
    let mut t: Vec<TouchRow> = contacts
        .iter()
        .flat_map(|c| ds.touches_of(*c).iter().copied())
        .collect();
    t.sort_unstable_by_key(|t| (t.at, t.id));
    Cow::Owned(t)
}

/// Position in `journey` of the touch that caused `contact`'s change into
/// `stage` (the first such change for lead, the last at or before `until`
/// otherwise); when no touch is recorded, the last journey touch at or
/// before the change.
fn role(
    ds: &Dataset,
    contact: usize,
    stage: Stage,
    until: i64,
    journey: &[TouchRow],
) -> Option<usize> {
    if contact == NONE as usize {
        return None;
    }
    let mut changes = ds
        .changes_of(contact)
        .iter()
        .filter(|c| c.stage == stage && c.at <= until);
    let change = if stage == Stage::Lead {
        changes.next()
    } else {
        changes.next_back()
    }?;
    change
        .touch
        .and_then(|id| journey.iter().position(|t| t.id == id))
        .or_else(|| journey.iter().rposition(|t| t.at <= change.at))
}

/// The journey of a conversion at `at`: the unit's touches at or before it
/// (and within the lookback), with the roles of `contact`'s stage changes.
/// `None` when no touch is left.
fn journey<'a>(
    ds: &Dataset,
    touches: &Cow<'a, [TouchRow]>,
    at: i64,
    value: f64,
    contact: usize,
    lookback: Option<i64>,
) -> Option<Journey<'a>> {
    // Touches are in time order: the window is one contiguous run.
    let end = touches.partition_point(|t| t.at <= at);
    let start = lookback.map_or(0, |l| touches[..end].partition_point(|t| t.at < at - l));
    if start == end {
        return None;
    }
    let window: Cow<'a, [TouchRow]> = match touches {
        Cow::Borrowed(t) => Cow::Borrowed(&t[start..end]),
        Cow::Owned(t) => Cow::Owned(t[start..end].to_vec()),
    };
    let roles = Roles {
        lead: role(ds, contact, Stage::Lead, at, &window),
        opportunity: role(ds, contact, Stage::Opportunity, at, &window),
        won: role(ds, contact, Stage::Customer, at, &window),
    };
    Some(Journey {
        touches: window,
        value,
        at,
        roles,
    })
}

/// One touch behind a deal and the share each rule-based model gives it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JourneyTouch {
    pub touch_id: i64,
    /// Milliseconds since the epoch.
    pub at: i64,
    pub channel: String,
    pub campaign: Option<String>,
    /// Key roles the touch holds: first, last, lead_creation, …
    pub roles: Vec<&'static str>,
    /// Weight per model, in the order of [`DealJourney::models`].
    pub weights: Vec<f64>,
}

/// The drill-down of one deal: its journey and every touch's weights.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DealJourney {
    pub deal_id: i64,
    pub won: bool,
    /// The conversion instant: the close of a won deal, else its creation.
    pub converted_at: i64,
    pub value_minor: i64,
    pub models: Vec<String>,
    pub touches: Vec<JourneyTouch>,
}

/// The touches behind one deal with the weight each per-touch model gives
/// them (Markov and Shapley learn from all journeys and have no per-touch
/// weights, so they are left out).
pub fn deal_journey(
    ds: &Dataset,
    deal_id: i64,
    models: &[Model],
    lookback_days: Option<u32>,
    account_level: bool,
) -> Option<DealJourney> {
    let d = ds.deals.iter().find(|d| d.id == deal_id)?;
    // The buying group as `attribute` forms it: the account of the deal's
    // contact, else the deal's own account.
    let account = if d.contact != NONE {
        ds.contacts[d.contact as usize].account
    } else {
        d.account
    };
    let contacts: Vec<usize> = if account_level && account.is_some() {
        (0..ds.contacts.len())
            .filter(|i| ds.contacts[*i].account == account)
            .collect()
    } else if d.contact != NONE {
        vec![d.contact as usize]
    } else {
        vec![]
    };
    let won = d.status == DealStatus::Won;
    let at = if won {
        d.closed_at.unwrap_or(d.created_at)
    } else {
        d.created_at
    };
    let models: Vec<Model> = models.iter().copied().filter(Model::is_per_touch).collect();
    let touches = unit_touches(ds, &contacts);
    let lookback = lookback_days.map(|d| d as i64 * 86_400_000);
    let mut out = DealJourney {
        deal_id,
        won,
        converted_at: at,
        value_minor: d.amount_minor,
        models: models.iter().map(Model::label).collect(),
        touches: vec![],
    };
    let Some(j) = journey(
        ds,
        &touches,
        at,
        d.amount_minor as f64,
        d.contact as usize,
        lookback,
    ) else {
        return Some(out);
    };
    let instants: Vec<i64> = j.touches.iter().map(|t| t.at).collect();
    let weights: Vec<Vec<f64>> = models
        .iter()
        .map(|m| {
            let mut w = vec![];
            m.touch_weights(&instants, at, j.roles, &mut w);
            w
        })
        .collect();
    let n = j.touches.len();
    for (i, t) in j.touches.iter().enumerate() {
        let mut roles = vec![];
        for (on, name) in [
            (i == 0, "first"),
            (i + 1 == n, "last"),
            (j.roles.lead == Some(i), "lead_creation"),
            (j.roles.opportunity == Some(i), "opportunity_creation"),
            (j.roles.won == Some(i), "closed_won"),
        ] {
            if on {
                roles.push(name);
            }
        }
        out.touches.push(JourneyTouch {
            touch_id: t.id,
            at: t.at,
            channel: ds.channels[t.channel as usize].clone(),
            campaign: (t.campaign != NONE).then(|| ds.campaigns[t.campaign as usize].name.clone()),
            roles,
            weights: weights.iter().map(|w| w[i]).collect(),
        });
    }
    Some(out)
}

/// Hands every `step`-th journey from `first` on to `add` as a symbol
/// sequence with its conversions, value and nulls: the converting journeys,
/// then those that did not convert.
fn feed(
    journeys: &[Journey],
    nulls: &[Cow<'_, [TouchRow]>],
    symbol: &(dyn Fn(&TouchRow) -> u32 + Sync),
    first: usize,
    step: usize,
    mut add: impl FnMut(&[u32], f64, f64, f64),
) {
    let mut seq = vec![];
    for j in journeys.iter().skip(first).step_by(step) {
        seq.clear();
        seq.extend(j.touches.iter().map(symbol));
        add(&seq, 1.0, j.value, 0.0);
    }
    for t in nulls.iter().skip(first).step_by(step) {
        seq.clear();
        seq.extend(t.iter().map(symbol));
        add(&seq, 0.0, 0.0, 1.0);
    }
}

pub fn attribute(ds: &Dataset, q: &AttributionQuery) -> Result<AttributionReport, Invalid> {
    // Units: each contact, or each account (contacts without one alone).
    let n = ds.contacts.len();
    let identity: Vec<usize> = (0..n).collect();
    let mut groups: Vec<Vec<usize>> = vec![];
    let mut unit_of_contact = identity.clone();
    if q.account_level {
        let mut by_account: rustc_hash::FxHashMap<i64, usize> = Default::default();
        for (i, c) in ds.contacts.iter().enumerate() {
            let u = match c.account {
                Some(a) => *by_account.entry(a).or_insert_with(|| {
                    groups.push(vec![]);
                    groups.len() - 1
                }),
                None => {
                    groups.push(vec![]);
                    groups.len() - 1
                }
            };
            groups[u].push(i);
            unit_of_contact[i] = u;
        }
    }
    let unit_count = if q.account_level { groups.len() } else { n };
    let contacts_of = |u: usize| -> &[usize] {
        if q.account_level {
            &groups[u]
        } else {
            std::slice::from_ref(&identity[u])
        }
    };
    let account_unit: rustc_hash::FxHashMap<i64, usize> = if q.account_level {
        ds.contacts
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.account.map(|a| (a, unit_of_contact[i])))
            .collect()
    } else {
        Default::default()
    };
    let in_period = |at: i64| q.period.is_none_or(|(f, t)| at >= f && at < t);

    // Conversions per unit: (instant, value, contact whose stage changes give the roles).
    let mut conversions: Vec<Vec<(i64, f64, usize)>> = vec![vec![]; unit_count];
    // Units that converted outside the period are neither conversions of
    // this report nor journeys that failed to convert.
    let mut converted_elsewhere = vec![false; unit_count];
    let (mut total_c, mut total_v) = (0.0, 0.0);
    let (mut lost_c, mut lost_v) = (0.0, 0.0);
    match q.conversion {
        Conversion::Lead | Conversion::Mql => {
            let stage = if q.conversion == Conversion::Lead {
                Stage::Lead
            } else {
                Stage::Mql
            };
            for i in 0..ds.contacts.len() {
                if let Some(c) = ds.changes_of(i).iter().find(|c| c.stage == stage) {
                    if in_period(c.at) {
                        conversions[unit_of_contact[i]].push((c.at, 0.0, i));
                    } else {
                        converted_elsewhere[unit_of_contact[i]] = true;
                    }
                }
            }
        }
        Conversion::Opportunity | Conversion::Won => {
            for d in &ds.deals {
                let at = match q.conversion {
                    Conversion::Won if d.status == DealStatus::Won => d.closed_at,
                    Conversion::Opportunity => Some(d.created_at),
                    _ => None,
                };
                let Some(at) = at else {
                    continue;
                };
                let value = d.amount_minor as f64;
                let unit = if d.contact != NONE {
                    Some(unit_of_contact[d.contact as usize])
                } else if q.account_level {
                    d.account.and_then(|a| account_unit.get(&a).copied())
                } else {
                    None
                };
                if !in_period(at) {
                    if let Some(u) = unit {
                        converted_elsewhere[u] = true;
                    }
                    continue;
                }
                match unit {
                    Some(u) => conversions[u].push((at, value, d.contact as usize)),
                    None => {
                        total_c += 1.0;
                        total_v += value;
                        lost_c += 1.0;
                        lost_v += value;
                    }
                }
            }
        }
    }

    let lookback = q.lookback_days.map(|d| d as i64 * 86_400_000);
    let mut journeys: Vec<Journey> = vec![];
    // Journeys that do not convert matter to Markov and Shapley only.
    let learns = q.models.iter().any(|m| !m.is_per_touch());
    let mut nulls: Vec<Cow<'_, [TouchRow]>> = vec![];
    for (u, conversions) in conversions.iter().enumerate() {
        if conversions.is_empty() && (!learns || converted_elsewhere[u]) {
            continue;
        }
        let touches = unit_touches(ds, contacts_of(u));
        if conversions.is_empty() {
            if !touches.is_empty() {
                nulls.push(touches);
            }
            continue;
        }
        for &(at, value, contact) in conversions {
            total_c += 1.0;
            total_v += value;
            match journey(ds, &touches, at, value, contact, lookback) {
                Some(j) => journeys.push(j),
                None => {
                    lost_c += 1.0;
                    lost_v += value;
                }
            }
        }
    }

    let nc = ds.channels.len();
    let np = ds.campaigns.len() + 1; // the last is "no campaign"
    let campaign_symbol = |t: &TouchRow| {
        if t.campaign == NONE {
            np as u32 - 1
        } else {
            t.campaign
        }
    };
    let mut models = vec![];
    for model in &q.models {
        let mut ch = vec![(0.0, 0.0); nc];
        let mut cp = vec![(0.0, 0.0); np];
        let mut note = None;
        match model {
            Model::Markov { order } => {
                // Journeys are counted on every core, then the counts merged.
                let chain = |symbol: &(dyn Fn(&TouchRow) -> u32 + Sync),
                             n: usize|
                 -> Result<MarkovChain, Invalid> {
                    let parts = std::thread::available_parallelism().map_or(1, |p| p.get().min(8));
                    let mut chains: Vec<MarkovChain> = std::thread::scope(|scope| {
                        let handles: Vec<_> = (0..parts)
                            .map(|p| {
                                let (journeys, nulls) = (&journeys, &nulls);
                                scope.spawn(move || -> Result<MarkovChain, Invalid> {
                                    let mut chain = MarkovChain::new(*order, n)?;
                                    feed(journeys, nulls, symbol, p, parts, |s, c, v, z| {
                                        chain.add(s, c, v, z)
                                    });
                                    Ok(chain)
                                })
                            })
                            .collect();
                        handles
                            .into_iter()
                            .map(|h| h.join().expect("a counting thread panicked"))
                            .collect::<Result<Vec<_>, Invalid>>()
                    })?;
                    let mut first = chains.remove(0);
                    for c in &chains {
                        first.merge(c);
                    }
                    Ok(first)
                };
                let credit = |c: &super::markov::MarkovResult| -> Vec<(f64, f64)> {
                    c.credit.iter().map(|c| (c.conversions, c.value)).collect()
                };
                ch = credit(&chain(&|t| t.channel, nc)?.solve(nc)?);
                // A removal solve per campaign: affordable for small chains only.
                if q.campaigns {
                    let states = if np <= super::markov::MAX_SYMBOLS {
                        let campaigns = chain(&campaign_symbol, np)?;
                        if campaigns.states() <= MAX_CAMPAIGN_STATES {
                            cp = credit(&campaigns.solve(np)?);
                        }
                        campaigns.states()
                    } else {
                        usize::MAX
                    };
                    if states > MAX_CAMPAIGN_STATES {
                        note = Some(format!(
                            "campaign credit under Markov order {order} is left out: its chain would have more than {MAX_CAMPAIGN_STATES} states; use order 1 or another model for campaigns"
                        ));
                    }
                }
            }
            Model::Shapley => {
                let solve =
                    |symbol: &(dyn Fn(&TouchRow) -> u32 + Sync), n: usize| -> Vec<(f64, f64)> {
                        let mut game = ShapleyGame::default();
                        feed(&journeys, &nulls, symbol, 0, 1, |s, c, v, z| {
                            game.add(s, c, v, z)
                        });
                        game.solve(n)
                            .iter()
                            .map(|c| (c.conversions, c.value))
                            .collect()
                    };
                ch = solve(&|t| t.channel, nc);
                if q.campaigns {
                    cp = solve(&campaign_symbol, np);
                }
            }
            per_touch => {
                let mut w = vec![];
                let mut at = vec![];
                for j in &journeys {
                    at.clear();
                    at.extend(j.touches.iter().map(|t| t.at));
                    per_touch.touch_weights(&at, j.at, j.roles, &mut w);
                    for (t, w) in j.touches.iter().zip(&w) {
                        let c = &mut ch[t.channel as usize];
                        c.0 += w;
                        c.1 += w * j.value;
                        let c = &mut cp[campaign_symbol(t) as usize];
                        c.0 += w;
                        c.1 += w * j.value;
                    }
                }
            }
        }
        let sum_c: f64 = ch.iter().map(|c| c.0).sum::<f64>() + lost_c;
        let sum_v: f64 = ch.iter().map(|c| c.1).sum::<f64>() + lost_v;
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0);
        let reconciled = close(sum_c, total_c) && close(sum_v, total_v);
        models.push(ModelCredit {
            model: model.label(),
            channels: ds
                .channels
                .iter()
                .zip(&ch)
                .map(|(name, c)| Credit {
                    name: name.clone(),
                    conversions: c.0,
                    value: c.1,
                })
                .collect(),
            campaigns: {
                let mut v: Vec<Credit> = cp
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.0 != 0.0 || c.1 != 0.0)
                    .map(|(i, c)| Credit {
                        name: ds
                            .campaigns
                            .get(i)
                            .map(|c| c.name.clone())
                            .unwrap_or_else(|| "(no campaign)".into()),
                        conversions: c.0,
                        value: c.1,
                    })
                    .collect();
                v.sort_by(|a, b| a.name.cmp(&b.name));
                v
            },
            reconciled,
            note,
        });
    }
    Ok(AttributionReport {
        conversion: q.conversion,
        account_level: q.account_level,
        lookback_days: q.lookback_days,
        conversions: total_c,
        value: total_v,
        unattributed_conversions: lost_c,
        unattributed_value: lost_v,
        models,
    })
}
