//! Marketing's side of the agreement: a revenue goal per period, the reverse
//! funnel that turns it into an MQL commitment (from conversion rates
//! measured over a trailing window, or set by hand), and pacing.

use crate::Actor;
use crate::{App, AppError};
use serde::{Deserialize, Serialize};
use smarketing_core::access::{Action, Relation};
use smarketing_core::calendar::WorkingCalendar;
use smarketing_core::period::Period;
use smarketing_core::reverse_funnel::{Pacing, ReverseFunnel, StageRates, pacing, reverse_funnel};
use smarketing_core::segment::Segment;
use smarketing_core::{Instant, Invalid};
use smarketing_store::{Goal, repo};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GoalInput {
    /// Revenue goal in minor units (cents).
    pub revenue_minor: i64,
    /// Share of the revenue marketing sources (default 1).
    pub marketing_share: Option<f64>,
    /// A goal for one segment, `dimension=value` (`region=EMEA`); absent for
    /// the whole company.
    #[serde(default)]
    pub segment: Option<String>,
}

/// Inputs of a reverse-funnel report; anything absent is taken from the
/// stored goal or measured on the data.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct ReverseFunnelQuery {
    /// Limit the funnel to one segment, `dimension=value` (`region=EMEA`):
    /// its goal, and rates and deal size measured on its contacts.
    pub segment: Option<String>,
    /// Revenue goal in minor units, instead of the stored goal.
    pub goal_minor: Option<i64>,
    pub marketing_share: Option<f64>,
    /// Average deal size in minor units, instead of the measured one.
    pub average_deal_minor: Option<i64>,
    /// Days before the period's start over which rates are measured (default 365).
    pub trailing_days: Option<u32>,
    pub lead_to_mql: Option<f64>,
    pub mql_to_sql: Option<f64>,
    pub sql_to_opportunity: Option<f64>,
    pub opportunity_to_won: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReverseFunnelReport {
    pub period: String,
    /// The segment the funnel is for; absent for the whole company.
    pub segment: Option<String>,
    pub period_start: Instant,
    pub period_end: Instant,
    pub revenue_goal_minor: i64,
    pub marketing_share: f64,
    pub average_deal_minor: i64,
    pub rates: StageRates,
    /// `measured` (over `window_start`..`window_end`), `set` or `mixed`.
    pub rates_source: String,
    pub window_start: Instant,
    pub window_end: Instant,
    pub funnel: ReverseFunnel,
    /// The MQLs marketing commits to: the agreement's fixed number, or the funnel's.
    pub mql_commitment: u64,
    pub mql_pacing: Pacing,
    pub accepted: i64,
    pub rejected: i64,
    pub acceptance_rate: Option<f64>,
    pub min_acceptance_rate: f64,
    /// The SLA agreement version in force (signed by both teams), if any.
    pub agreement_in_force: Option<i64>,
}

/// Working days from `start` to `now` and in the whole period to `end`.
fn working_days(
    calendar: &WorkingCalendar,
    start: Instant,
    now: Instant,
    end: Instant,
) -> (f64, f64) {
    let day = calendar.typical_working_day().as_secs_f64();
    let days = |to: Instant| {
        calendar
            .working_between(start.timestamp(), to.timestamp())
            .as_secs_f64()
            / day
    };
    (days(now), days(end))
}

/// No goal is stored for the period (or the segment in it).
fn no_goal(period: &Period, segment: Option<&Segment>, field: &str) -> Invalid {
    let what = match segment {
        Some(s) => format!("{period} in {s}"),
        None => period.to_string(),
    };
    Invalid::new(
        "no_goal",
        field,
        format!("no revenue goal is set for {what}; set one first"),
    )
}

fn parse_segment(s: Option<&str>) -> Result<Option<Segment>, Invalid> {
    s.filter(|s| !s.trim().is_empty())
        .map(str::parse)
        .transpose()
}

fn rate(num: i64, den: i64, field: &str) -> Result<f64, Invalid> {
    if den == 0 || num == 0 {
        return Err(Invalid::new(
            "not_enough_data",
            field,
            format!(
                "no conversions to measure {field} on in the window; set it by hand or widen trailing_days"
            ),
        ));
    }
    Ok((num as f64 / den as f64).min(1.0))
}

impl App {
    pub async fn set_goal(
        &self,
        period: &str,
        input: GoalInput,
        actor: &Actor,
    ) -> Result<Goal, AppError> {
        actor.authorize(Action::SetGoal, Relation::Company)?;
        let period: Period = period.parse()?;
        crate::input::amount("revenue_minor", input.revenue_minor)?;
        let segment = parse_segment(input.segment.as_deref())?;
        let share = input.marketing_share.unwrap_or(1.0);
        if !(share > 0.0 && share <= 1.0) {
            return Err(Invalid::new(
                "invalid_share",
                "marketing_share",
                "marketing's share must be in (0, 1]",
            )
            .into());
        }
        let mut conn = self.store().acquire().await?;
        let goal = repo::upsert_goal(
            &mut conn,
            &period.to_string(),
            segment.as_ref(),
            input.revenue_minor,
            share,
            actor.user_id,
            self.now(),
        )
        .await?;
        crate::audit::record(
            &mut conn,
            actor,
            "goal.set",
            ("goal", &period),
            crate::audit::NOTHING,
            Some(&goal),
            self.now(),
        )
        .await?;
        Ok(goal)
    }

    /// The goals of a period: the company's first, then each segment's.
    pub async fn goals(&self, period: &str) -> Result<Vec<Goal>, AppError> {
        let period: Period = period.parse()?;
        let mut conn = self.store().acquire().await?;
        Ok(repo::goals(&mut conn, &period.to_string()).await?)
    }

    /// The reverse funnel of a period with pacing to date.
    pub async fn reverse_funnel(
        &self,
        period: &str,
        q: &ReverseFunnelQuery,
    ) -> Result<ReverseFunnelReport, AppError> {
        let period: Period = period.parse()?;
        let (_, playbook) = self.playbook().await?;
        let calendar = WorkingCalendar::from_spec(&playbook.calendar)?;
        let (start, end) = period.instants(calendar.time_zone());
        let (start, end) = (Instant::from(start), Instant::from(end));
        let days = q.trailing_days.unwrap_or(365);
        if !(1..=3650).contains(&days) {
            return Err(Invalid::new(
                "invalid_window",
                "trailing_days",
                "trailing_days must be between 1 and 3650",
            )
            .into());
        }
        let window_end = start.min(self.now());
        let window_start = Instant::from_millis(window_end.millis() - days as i64 * 86_400_000)?;
        let mut conn = self.store().acquire().await?;
        let segment = parse_segment(q.segment.as_deref())?;
        let seg = segment.as_ref();
        let stored = repo::goal(&mut conn, &period.to_string(), seg).await?;
        let goal = match (q.goal_minor, &stored) {
            (Some(g), _) => g,
            (None, Some(s)) => s.revenue_minor,
            (None, None) => return Err(no_goal(&period, seg, "goal_minor").into()),
        };
        let share = q
            .marketing_share
            .or(stored.as_ref().map(|s| s.marketing_share))
            .unwrap_or(1.0);

        let reach = repo::stage_reach(&mut conn, window_start, window_end, seg).await?;
        let n = |s: &str| reach.get(s).copied().unwrap_or(0);
        let measured =
            |set: Option<f64>, num: i64, den: i64, field: &str| -> Result<(f64, bool), Invalid> {
                match set {
                    Some(r) => Ok((r, true)),
                    None => rate(num, den, field).map(|r| (r, false)),
                }
            };
        let (lead_to_mql, s1) = measured(q.lead_to_mql, n("mql"), n("lead"), "lead_to_mql")?;
        let (mql_to_sql, s2) = measured(q.mql_to_sql, n("sql"), n("mql"), "mql_to_sql")?;
        let (sql_to_opportunity, s3) = measured(
            q.sql_to_opportunity,
            n("opportunity"),
            n("sql"),
            "sql_to_opportunity",
        )?;
        let (opportunity_to_won, s4) = measured(
            q.opportunity_to_won,
            n("customer"),
            n("opportunity"),
            "opportunity_to_won",
        )?;
        let set_count = [s1, s2, s3, s4].iter().filter(|s| **s).count();
        let rates = StageRates {
            lead_to_mql,
            mql_to_sql,
            sql_to_opportunity,
            opportunity_to_won,
        };
        let average_deal = match q.average_deal_minor {
            Some(a) => a,
            None => {
                let (count, sum) =
                    repo::won_deals(&mut conn, window_start, window_end, seg).await?;
                if count == 0 {
                    return Err(Invalid::new(
                        "not_enough_data",
                        "average_deal_minor",
                        "no deals were won in the window; set average_deal_minor",
                    )
                    .into());
                }
                // The mean of amounts that each fit i64 fits i64.
                i64::try_from(sum / i128::from(count)).unwrap_or(i64::MAX)
            }
        };
        let funnel = reverse_funnel(goal, share, average_deal, rates)?;
        // A number fixed in the agreement is the company's; a segment's
        // commitment is always its own funnel's.
        let commitment = match seg {
            None => playbook.sla.mql_commitment.map(u64::from),
            Some(_) => None,
        }
        .unwrap_or(funnel.mqls);

        let now = self.now().max(start).min(end);
        let delivered = repo::stage_reach(&mut conn, start, now, seg)
            .await?
            .get("mql")
            .copied()
            .unwrap_or(0) as u64;
        let (elapsed, total) = working_days(&calendar, start, now, end);
        let (accepted, rejected) = repo::handoff_decisions(&mut conn, start, now, seg).await?;
        drop(conn);
        let agreement_in_force = self.agreement_in_force().await?;
        Ok(ReverseFunnelReport {
            period: period.to_string(),
            segment: segment.as_ref().map(Segment::to_string),
            period_start: start,
            period_end: end,
            revenue_goal_minor: goal,
            marketing_share: share,
            average_deal_minor: average_deal,
            rates,
            rates_source: match set_count {
                0 => "measured",
                4 => "set",
                _ => "mixed",
            }
            .into(),
            window_start,
            window_end,
            funnel,
            mql_commitment: commitment,
            mql_pacing: pacing(commitment, delivered, elapsed, total),
            accepted,
            rejected,
            acceptance_rate: (accepted + rejected > 0)
                .then(|| accepted as f64 / (accepted + rejected) as f64),
            min_acceptance_rate: playbook.sla.min_acceptance_rate,
            agreement_in_force,
        })
    }
}

/// A revenue goal against the revenue actually won.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GoalActual {
    pub period: String,
    pub segment: Option<String>,
    pub revenue_goal_minor: i64,
    /// Won in the period up to now (minor units).
    pub won_minor: i64,
    pub won_deals: i64,
    /// Against the goal: expected to date in working days, pace, projection.
    pub pacing: Pacing,
    pub period_start: Instant,
    pub period_end: Instant,
}

impl App {
    /// Deals won in a period up to now and their revenue (minor units),
    /// whether or not a goal is set for it.
    pub async fn revenue_won(&self, period: &str) -> Result<(i64, i64), AppError> {
        let period: Period = period.parse()?;
        let (_, playbook) = self.playbook().await?;
        let tz = playbook.calendar.zone()?;
        let (start, end) = period.instants(&tz);
        let (start, end) = (Instant::from(start), Instant::from(end));
        let now = self.now().max(start).min(end);
        let mut conn = self.store().acquire().await?;
        let (deals, won) = repo::won_deals(&mut conn, start, now, None).await?;
        Ok((deals, i64::try_from(won).unwrap_or(i64::MAX)))
    }

    /// The revenue goal of a period (or of a segment in it) against the
    /// revenue won so far, with pacing in working days and a projection.
    pub async fn goal_actual(
        &self,
        period: &str,
        segment: Option<&str>,
    ) -> Result<GoalActual, AppError> {
        let period: Period = period.parse()?;
        let segment = parse_segment(segment)?;
        let (_, playbook) = self.playbook().await?;
        let calendar = WorkingCalendar::from_spec(&playbook.calendar)?;
        let (start, end) = period.instants(calendar.time_zone());
        let (start, end) = (Instant::from(start), Instant::from(end));
        let mut conn = self.store().acquire().await?;
        let goal = repo::goal(&mut conn, &period.to_string(), segment.as_ref())
            .await?
            .ok_or_else(|| no_goal(&period, segment.as_ref(), "period"))?;
        let now = self.now().max(start).min(end);
        let (deals, won) = repo::won_deals(&mut conn, start, now, segment.as_ref()).await?;
        // Amounts are bounded on the way in; rows stored before that (or
        // written by hand) cannot make the report fail, only saturate.
        let won = i64::try_from(won).unwrap_or(i64::MAX);
        let (elapsed, total) = working_days(&calendar, start, now, end);
        Ok(GoalActual {
            period: period.to_string(),
            segment: segment.as_ref().map(Segment::to_string),
            revenue_goal_minor: goal.revenue_minor,
            won_minor: won,
            won_deals: deals,
            pacing: pacing(
                goal.revenue_minor.max(0) as u64,
                won.max(0) as u64,
                elapsed,
                total,
            ),
            period_start: start,
            period_end: end,
        })
    }
}
