//! SLA reports for a period: sales' compliance by rep, marketing's side
//! (MQLs against the commitment, acceptance, why sales rejects leads by
//! channel, campaign and persona), and the ledger of every breach.

use crate::escalations::clocks;
use crate::routing::SalesTeam;
use crate::sla_terms::{SlaTerms, Terms};
use crate::{App, AppError};
use serde::Serialize;
use smarketing_core::calendar::WorkingCalendar;
use smarketing_core::period::Period;
use smarketing_core::sla::{ClockKind, ClockState};
use smarketing_core::{Decision, Instant};
use smarketing_store::{Contact, Handoff, StageChange, Touchpoint, User, repo};
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SlaReport {
    pub period: String,
    pub period_start: Instant,
    pub period_end: Instant,
    /// Agreement versions in force at some time during the period.
    pub agreement_versions: Vec<i64>,
    pub sales: Vec<RepCompliance>,
    pub sales_total: RepCompliance,
    pub marketing: MarketingSla,
    pub breaches: Vec<Breach>,
}

/// One rep's (or the team's) compliance in the period.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RepCompliance {
    pub user_id: Option<i64>,
    pub name: String,
    pub handoffs: u64,
    /// Share of handoffs whose clocks were all kept (none breached).
    pub within_sla: Option<f64>,
    /// Working hours from assignment to first touch.
    pub first_touch_p50_hours: Option<f64>,
    pub first_touch_p95_hours: Option<f64>,
    /// Mean activities logged before the decision, over decided handoffs.
    pub attempts_before_decision: Option<f64>,
    pub breaches: u64,
    pub open_at_risk: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MarketingSla {
    pub mqls: u64,
    pub mql_commitment: Option<u64>,
    pub accepted: u64,
    pub rejected: u64,
    pub acceptance_rate: Option<f64>,
    pub min_acceptance_rate: f64,
    /// Rejections by reason and the lead's source channel.
    pub rejections_by_channel: Vec<RejectionCount>,
    /// Rejections by reason and the campaign of the touch that made the MQL.
    pub rejections_by_campaign: Vec<RejectionCount>,
    pub rejections_by_persona: Vec<RejectionCount>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RejectionCount {
    /// The channel, campaign id or persona (`none` when unknown).
    pub key: String,
    pub reason: String,
    pub count: u64,
}

/// One breached clock.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Breach {
    pub handoff_id: i64,
    pub contact_email: String,
    pub assignee_id: Option<i64>,
    pub clock: ClockKind,
    pub due_at: Option<Instant>,
    /// Working hours past the deadline, until met or until now.
    pub late_working_hours: f64,
    /// Escalation steps that fired for this clock.
    pub escalations: Vec<String>,
}

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

#[derive(Default)]
struct Acc {
    handoffs: u64,
    kept: u64,
    first_touch: Vec<f64>,
    attempts: Vec<f64>,
    breaches: u64,
    at_risk: u64,
}

impl Acc {
    fn finish(mut self, user_id: Option<i64>, name: String) -> RepCompliance {
        self.first_touch.sort_by(f64::total_cmp);
        RepCompliance {
            user_id,
            name,
            handoffs: self.handoffs,
            within_sla: ratio(self.kept, self.handoffs),
            first_touch_p50_hours: percentile(&self.first_touch, 0.5),
            first_touch_p95_hours: percentile(&self.first_touch, 0.95),
            attempts_before_decision: (!self.attempts.is_empty())
                .then(|| self.attempts.iter().sum::<f64>() / self.attempts.len() as f64),
            breaches: self.breaches,
            open_at_risk: self.at_risk,
        }
    }
}

fn counts(map: BTreeMap<(String, String), u64>) -> Vec<RejectionCount> {
    map.into_iter()
        .map(|((key, reason), count)| RejectionCount { key, reason, count })
        .collect()
}

/// The clocks of the open handoffs now: how many are on track, at risk,
/// breached or met, per clock.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SlaStatus {
    pub open_handoffs: u64,
    /// One row per clock and state that has any, in clock then state order.
    pub clocks: Vec<ClockCount>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClockCount {
    pub clock: ClockKind,
    pub state: ClockState,
    pub handoffs: u64,
}

impl App {
    /// [`SlaStatus`] as of now, evaluated in each rep's calendar.
    pub async fn sla_status(&self) -> Result<SlaStatus, AppError> {
        let open = crate::handoffs::HandoffFilter {
            decision: Some("open".into()),
            ..Default::default()
        };
        let mut counts: BTreeMap<(&'static str, &'static str), ClockCount> = BTreeMap::new();
        let mut paging = crate::listing::Paging {
            cursor: None,
            limit: Some(crate::listing::MAX_LIMIT),
        };
        let mut open_handoffs = 0;
        loop {
            let page = self.handoffs(&open, &paging).await?;
            for v in &page.items {
                open_handoffs += 1;
                for c in &v.clocks {
                    counts
                        .entry((c.kind.as_str(), c.state.as_str()))
                        .or_insert(ClockCount {
                            clock: c.kind,
                            state: c.state,
                            handoffs: 0,
                        })
                        .handoffs += 1;
                }
            }
            match page.next_cursor {
                Some(c) => paging.cursor = Some(c),
                None => break,
            }
        }
        Ok(SlaStatus {
            open_handoffs,
            clocks: counts.into_values().collect(),
        })
    }

    /// The SLA report of a period (handoffs assigned in it; clocks as of now).
    pub async fn sla_report(&self, period: &str) -> Result<SlaReport, AppError> {
        let period: Period = period.parse()?;
        let (version, playbook) = self.playbook().await?;
        let mut terms = SlaTerms::new(version, playbook.clone());
        let company = WorkingCalendar::from_spec(&playbook.calendar)?;
        let (start, end) = period.instants(company.time_zone());
        let (start, end) = (Instant::from(start), Instant::from(end));
        let now = self.now();
        let mut tx = self.store().begin().await?;
        let team = SalesTeam::load(&mut tx, now).await?;
        let users: HashMap<i64, User> = repo::users(&mut tx)
            .await?
            .into_iter()
            .map(|u| (u.id, u))
            .collect();
        let handoffs: Vec<Handoff> = repo::handoffs_created_between(&mut tx, start, end).await?;

        let mut per_rep: BTreeMap<Option<i64>, Acc> = BTreeMap::new();
        let mut total = Acc::default();
        let mut breaches = Vec::new();
        // Marketing's side is held to the terms in force when the period ended.
        let closing = Terms::at(&mut tx, end.min(now)).await?;
        let closing = terms.for_terms(&mut tx, closing).await?;
        let mut marketing = MarketingSla {
            min_acceptance_rate: closing.sla.min_acceptance_rate,
            ..Default::default()
        };
        let (mut by_channel, mut by_campaign, mut by_persona) =
            (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
        for h in &handoffs {
            // Each handoff under the terms it was opened with: a later
            // playbook or agreement does not re-judge it.
            let held = terms.of(&mut tx, h).await?;
            let cal = team.calendar(&held, h.assignee_id)?;
            let clocks = clocks(&mut tx, &mut terms, &team, h, now).await?;
            let contact: Contact = repo::get(&mut tx, h.contact_id).await?;
            let acts = repo::activities_of_contact(&mut tx, h.contact_id).await?;
            let rep = per_rep.entry(h.assignee_id).or_default();
            for acc in [&mut *rep, &mut total] {
                acc.handoffs += 1;
                if clocks.iter().all(|c| c.state != ClockState::Breached) {
                    acc.kept += 1;
                }
                if let (Some(ft), Some(s)) = (
                    clocks
                        .iter()
                        .find(|c| c.kind == ClockKind::FirstTouch)
                        .and_then(|c| c.met_at),
                    h.assigned_at,
                ) {
                    acc.first_touch
                        .push(cal.working_between(s.timestamp(), ft).as_secs_f64() / 3600.0);
                }
                if let (Some(d), Some(s)) = (h.decided_at, h.assigned_at) {
                    acc.attempts.push(
                        acts.iter()
                            .filter(|a| a.occurred_at >= s && a.occurred_at <= d)
                            .count() as f64,
                    );
                }
                acc.breaches += clocks
                    .iter()
                    .filter(|c| c.state == ClockState::Breached)
                    .count() as u64;
                if h.is_open() {
                    acc.at_risk += clocks
                        .iter()
                        .filter(|c| c.state == ClockState::AtRisk)
                        .count() as u64;
                }
            }
            let fired = repo::escalations_of(&mut tx, h.id).await?;
            for c in clocks.iter().filter(|c| c.state == ClockState::Breached) {
                let late = match c.due_at {
                    Some(due) => {
                        cal.working_between(due, c.met_at.unwrap_or(now.timestamp()))
                            .as_secs_f64()
                            / 3600.0
                    }
                    None => 0.0,
                };
                breaches.push(Breach {
                    handoff_id: h.id,
                    contact_email: contact.email.clone(),
                    assignee_id: h.assignee_id,
                    clock: c.kind,
                    due_at: c.due_at.map(Instant::from),
                    late_working_hours: late,
                    escalations: fired
                        .iter()
                        .filter(|e| {
                            e.clock == c.kind.as_str() && e.outcome.as_deref() == Some("fired")
                        })
                        .map(|e| e.step.clone())
                        .collect(),
                });
            }
            marketing.mqls += 1;
            match h.decision {
                Some(Decision::Accepted) => marketing.accepted += 1,
                Some(Decision::Rejected) => {
                    marketing.rejected += 1;
                    let reason = h.reason_code.clone().unwrap_or_default();
                    let campaign = match h.mql_change_id {
                        Some(id) => {
                            let change: StageChange = repo::get(&mut tx, id).await?;
                            match change.touchpoint_id {
                                Some(t) => repo::get::<Touchpoint>(&mut tx, t)
                                    .await?
                                    .campaign_id
                                    .map(|c| c.to_string()),
                                None => None,
                            }
                        }
                        None => None,
                    };
                    let none = || "none".to_string();
                    *by_channel
                        .entry((
                            contact.source_channel.clone().unwrap_or_else(none),
                            reason.clone(),
                        ))
                        .or_insert(0) += 1;
                    *by_campaign
                        .entry((campaign.unwrap_or_else(none), reason.clone()))
                        .or_insert(0) += 1;
                    *by_persona
                        .entry((contact.persona.clone().unwrap_or_else(none), reason))
                        .or_insert(0) += 1;
                }
                _ => {}
            }
        }
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        marketing.acceptance_rate =
            ratio(marketing.accepted, marketing.accepted + marketing.rejected);
        marketing.rejections_by_channel = counts(by_channel);
        marketing.rejections_by_campaign = counts(by_campaign);
        marketing.rejections_by_persona = counts(by_persona);
        marketing.mql_commitment = match self
            .reverse_funnel(&period.to_string(), &Default::default())
            .await
        {
            Ok(r) => Some(r.mql_commitment),
            Err(_) => closing.sla.mql_commitment.map(u64::from),
        };
        let sales = per_rep
            .into_iter()
            .map(|(id, acc)| {
                let name = id
                    .and_then(|i| users.get(&i))
                    .map(|u| u.name.clone())
                    .unwrap_or_else(|| "unassigned".into());
                acc.finish(id, name)
            })
            .collect();
        Ok(SlaReport {
            period: period.to_string(),
            period_start: start,
            period_end: end,
            agreement_versions: self.agreements_in_force_between(start, end).await?,
            sales,
            sales_total: total.finish(None, "team".into()),
            marketing,
            breaches,
        })
    }
}
