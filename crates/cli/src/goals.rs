//! `smarketing goal` and `smarketing funnel reverse`: revenue goals per
//! period and what they need, stage by stage.

use crate::config::Config;
use crate::serve::{open, open_existing};
use crate::{FunnelCommand, GoalCommand, explain};
use anyhow::{Result, anyhow};

/// `smarketing goal`.
pub async fn goal(command: GoalCommand, cfg: &Config) -> Result<()> {
    match command {
        GoalCommand::Set {
            period,
            revenue,
            marketing_share,
            segment,
        } => {
            let app = open(cfg).await?;
            let minor = smarketing_core::Money::from_major(revenue, "revenue")
                .map_err(|e| anyhow!("--revenue: {}", e.message))?
                .minor();
            let input = smarketing_app::goals::GoalInput {
                revenue_minor: minor,
                marketing_share: Some(marketing_share),
                segment,
            };
            let g = app
                .set_goal(&period, input, &smarketing_app::Actor::system())
                .await
                .map_err(explain)?;
            println!("{}", goal_line(&g));
            Ok(())
        }
        GoalCommand::List { period } => {
            let app = open_existing(cfg).await?;
            for g in app.goals(&period).await.map_err(explain)? {
                println!("{}", goal_line(&g));
            }
            Ok(())
        }
    }
}

/// `smarketing funnel reverse`.
pub async fn funnel(command: FunnelCommand, cfg: &Config) -> Result<()> {
    let FunnelCommand::Reverse {
        period,
        goal,
        marketing_share,
        trailing_days,
        segment,
        format,
    } = command;
    let app = open_existing(cfg).await?;
    let q = smarketing_app::goals::ReverseFunnelQuery {
        goal_minor: goal
            .map(|g| smarketing_core::Money::from_major(g, "goal").map(|m| m.minor()))
            .transpose()
            .map_err(|e| anyhow!("--goal: {}", e.message))?,
        marketing_share,
        trailing_days: Some(trailing_days),
        segment,
        ..Default::default()
    };
    let r = app.reverse_funnel(&period, &q).await.map_err(explain)?;
    match format {
        crate::TableOrJson::Json => println!("{}", serde_json::to_string_pretty(&r)?),
        crate::TableOrJson::Table => print_reverse_funnel(&r),
    }
    Ok(())
}

fn goal_line(g: &smarketing_store::Goal) -> String {
    format!(
        "goal for {}{}: {} (marketing share {:.0} %)",
        g.period,
        if g.segment.is_empty() {
            String::new()
        } else {
            format!(" in {}", g.segment)
        },
        g.revenue_minor / 100,
        g.marketing_share * 100.0
    )
}

fn print_reverse_funnel(r: &smarketing_app::goals::ReverseFunnelReport) {
    let pct = |x: f64| format!("{:.1} %", x * 100.0);
    println!(
        "Reverse funnel for {}{} (goal {} × marketing share {:.0} %, average deal {})",
        r.period,
        r.segment
            .as_ref()
            .map(|s| format!(" in {s}"))
            .unwrap_or_default(),
        r.revenue_goal_minor / 100,
        r.marketing_share * 100.0,
        r.average_deal_minor / 100
    );
    println!(
        "  rates {} over {} .. {}",
        r.rates_source, r.window_start, r.window_end
    );
    println!("  {:<14} {:>8} {:>12}", "stage", "needed", "converts at");
    let f = &r.funnel;
    for (stage, n, rate) in [
        ("won", f.won, None),
        (
            "opportunity",
            f.opportunities,
            Some(r.rates.opportunity_to_won),
        ),
        ("sql", f.sqls, Some(r.rates.sql_to_opportunity)),
        ("mql", f.mqls, Some(r.rates.mql_to_sql)),
        ("lead", f.leads, Some(r.rates.lead_to_mql)),
    ] {
        println!(
            "  {:<14} {:>8} {:>12}",
            stage,
            n,
            rate.map(pct).unwrap_or_default()
        );
    }
    let p = &r.mql_pacing;
    let or_dash = |x: Option<String>| x.unwrap_or_else(|| "-".into());
    println!(
        "  MQL commitment {}: delivered {}, expected to date {:.1}, pace {}, projection {}",
        r.mql_commitment,
        p.delivered,
        p.expected_to_date,
        or_dash(p.pace.map(|x| format!("{:.0} %", x * 100.0))),
        or_dash(p.projection.map(|x| format!("{x:.0}")))
    );
    println!(
        "  acceptance {} (minimum {:.0} %); agreement in force: {}",
        or_dash(r.acceptance_rate.map(|x| format!("{:.0} %", x * 100.0))),
        r.min_acceptance_rate * 100.0,
        r.agreement_in_force
            .map(|v| format!("version {v}"))
            .unwrap_or_else(|| "none signed yet".into())
    );
}
