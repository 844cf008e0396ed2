//! The reverse funnel and pacing (product brief): from a revenue goal to the
//! deals, opportunities, SQLs, MQLs and leads it takes, and how delivery is
//! tracking against the part of the period that has passed.

use crate::Invalid;
use serde::{Deserialize, Serialize};

/// Conversion rates between consecutive funnel stages, each in (0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StageRates {
    pub lead_to_mql: f64,
    pub mql_to_sql: f64,
    pub sql_to_opportunity: f64,
    pub opportunity_to_won: f64,
}

/// What a revenue goal needs, stage by stage (each rounded up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReverseFunnel {
    pub won: u64,
    pub opportunities: u64,
    pub sqls: u64,
    /// Marketing's MQL commitment for the period.
    pub mqls: u64,
    pub leads: u64,
}

/// won = ceil(R·m / A); then each earlier stage = the next ÷ its rate, rounded up.
pub fn reverse_funnel(
    revenue_goal_minor: i64,
    marketing_share: f64,
    average_deal_minor: i64,
    rates: StageRates,
) -> Result<ReverseFunnel, Invalid> {
    if revenue_goal_minor < 0 {
        return Err(Invalid::new(
            "negative_amount",
            "goal",
            "the revenue goal must not be negative",
        ));
    }
    if average_deal_minor <= 0 {
        return Err(Invalid::new(
            "invalid_amount",
            "average_deal",
            "the average deal size must be positive (no won deals to measure it from?)",
        ));
    }
    if !(marketing_share > 0.0 && marketing_share <= 1.0) {
        return Err(Invalid::new(
            "invalid_share",
            "marketing_share",
            "marketing's share must be in (0, 1]",
        ));
    }
    for (field, r) in [
        ("lead_to_mql", rates.lead_to_mql),
        ("mql_to_sql", rates.mql_to_sql),
        ("sql_to_opportunity", rates.sql_to_opportunity),
        ("opportunity_to_won", rates.opportunity_to_won),
    ] {
        if !(r > 0.0 && r <= 1.0) {
            return Err(Invalid::new(
                "invalid_rate",
                field,
                format!("a conversion rate must be in (0, 1], got {r}"),
            ));
        }
    }
    // Exact integer ceiling for the first step; money never goes through a float.
    let marketing_revenue = (revenue_goal_minor as f64 * marketing_share).ceil() as i64;
    let won = (marketing_revenue + average_deal_minor - 1) / average_deal_minor;
    // Guard against 0.3 / 0.1 = 2.9999999999999996 becoming 3 -> 3, or 3.0000000000000004 -> 4.
    let up = |x: f64| (x - 1e-9).ceil().max(0.0) as u64;
    let won = won as u64;
    let opportunities = up(won as f64 / rates.opportunity_to_won);
    let sqls = up(opportunities as f64 / rates.sql_to_opportunity);
    let mqls = up(sqls as f64 / rates.mql_to_sql);
    let leads = up(mqls as f64 / rates.lead_to_mql);
    Ok(ReverseFunnel {
        won,
        opportunities,
        sqls,
        mqls,
        leads,
    })
}

/// Delivery against a target, part way through a period.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Pacing {
    pub target: u64,
    pub delivered: u64,
    /// target × elapsed working days ÷ working days in the period.
    pub expected_to_date: f64,
    /// delivered ÷ expected to date (1 = on pace); absent before the period starts.
    pub pace: Option<f64>,
    /// delivered ÷ elapsed × total: where the period ends at this pace.
    pub projection: Option<f64>,
}

pub fn pacing(
    target: u64,
    delivered: u64,
    elapsed_working_days: f64,
    period_working_days: f64,
) -> Pacing {
    let share = if period_working_days > 0.0 {
        (elapsed_working_days / period_working_days).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let expected = target as f64 * share;
    Pacing {
        target,
        delivered,
        expected_to_date: expected,
        pace: (expected > 0.0).then(|| delivered as f64 / expected),
        projection: (elapsed_working_days > 0.0)
            .then(|| delivered as f64 / elapsed_working_days * period_working_days),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sample company's measured rates.
    fn rates() -> StageRates {
        StageRates {
            lead_to_mql: 954.0 / 3000.0,
            mql_to_sql: 492.0 / 954.0,
            sql_to_opportunity: 326.0 / 492.0,
            opportunity_to_won: 127.0 / 326.0,
        }
    }

    #[test]
    fn from_goal_to_leads() {
        // 1,200,000.00 with marketing sourcing 80 % and an average deal of 45,518.20.
        let f = reverse_funnel(120_000_000, 0.8, 4_551_820, rates()).unwrap();
        // 960,000 / 45,518.20 = 21.09 -> 22 won.
        assert_eq!(f.won, 22);
        assert_eq!(f.opportunities, (22.0f64 / (127.0 / 326.0)).ceil() as u64);
        assert_eq!(f.opportunities, 57);
        assert_eq!(f.sqls, 87); // 57 / 0.6626 = 86.02
        assert_eq!(f.mqls, 169); // 87 / 0.5157 = 168.7
        assert_eq!(f.leads, 532); // 169 / 0.318 = 531.4
    }

    #[test]
    fn exact_ratios_do_not_round_up_a_float_error() {
        let r = StageRates {
            lead_to_mql: 0.1,
            mql_to_sql: 0.5,
            sql_to_opportunity: 0.5,
            opportunity_to_won: 0.5,
        };
        let f = reverse_funnel(300, 1.0, 100, r).unwrap();
        assert_eq!(
            (f.won, f.opportunities, f.sqls, f.mqls, f.leads),
            (3, 6, 12, 24, 240)
        );
    }

    #[test]
    fn bad_inputs() {
        assert_eq!(
            reverse_funnel(-1, 1.0, 1, rates()).unwrap_err().field,
            "goal"
        );
        assert_eq!(
            reverse_funnel(1, 1.0, 0, rates()).unwrap_err().field,
            "average_deal"
        );
        assert_eq!(
            reverse_funnel(1, 0.0, 1, rates()).unwrap_err().field,
            "marketing_share"
        );
        let zero = StageRates {
            mql_to_sql: 0.0,
            ..rates()
        };
        assert_eq!(
            reverse_funnel(1, 1.0, 1, zero).unwrap_err().field,
            "mql_to_sql"
        );
        assert_eq!(reverse_funnel(0, 1.0, 1, rates()).unwrap().leads, 0);
    }

    #[test]
    fn pacing_in_working_days() {
        let p = pacing(120, 50, 20.0, 60.0);
        assert_eq!(p.expected_to_date, 40.0);
        assert_eq!(p.pace, Some(1.25));
        assert_eq!(p.projection, Some(150.0));
        let before = pacing(120, 0, 0.0, 60.0);
        assert_eq!((before.pace, before.projection), (None, None));
    }
}
