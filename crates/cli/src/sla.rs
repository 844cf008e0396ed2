//! `smarketing sla`: the agreement versions, escalations due now, the
//! clocks of open handoffs, and the SLA report of a period.

use crate::SlaCommand;
use crate::config::Config;
use crate::explain;
use crate::serve::{open, open_existing};
use anyhow::Result;

/// `smarketing sla`.
pub async fn run(command: SlaCommand, cfg: &Config) -> Result<()> {
    match command {
        SlaCommand::Status => {
            let app = open_existing(cfg).await?;
            let status = app.sla_status().await.map_err(explain)?;
            println!("{} open handoffs", status.open_handoffs);
            for c in &status.clocks {
                println!(
                    "  {:<12} {:<9} {}",
                    c.clock.as_str(),
                    c.state.as_str(),
                    c.handoffs
                );
            }
            Ok(())
        }
        SlaCommand::Report { period, format } => {
            let app = open_existing(cfg).await?;
            let r = app.sla_report(&period).await.map_err(explain)?;
            match format {
                crate::TableOrJson::Json => println!("{}", serde_json::to_string_pretty(&r)?),
                crate::TableOrJson::Table => print_sla_report(&r),
            }
            Ok(())
        }
        SlaCommand::Escalate => {
            let app = open(cfg).await?;
            let run = app.run_due_escalations(200).await?;
            let returned = app.return_unfollowed_sals().await?;
            println!(
                "{}",
                serde_json::json!({
                    "fired": run.fired,
                    "skipped": run.skipped,
                    "returned_sals": returned,
                })
            );
            Ok(())
        }
        SlaCommand::Agreements => {
            let app = open_existing(cfg).await?;
            for a in app.agreements().await? {
                let who = |s: &Option<smarketing_store::SlaSignoff>| {
                    s.as_ref()
                        .map(|s| format!("user {} at {}", s.user_id, s.signed_at))
                        .unwrap_or_else(|| "not yet".into())
                };
                println!(
                    "version {} ({}), from playbook version {}",
                    a.version, a.status, a.playbook_version
                );
                for line in wrap(&a.summary, 96) {
                    println!("  {line}");
                }
                println!(
                    "  marketing: {}; sales: {}",
                    who(&a.marketing_signoff),
                    who(&a.sales_signoff)
                );
            }
            Ok(())
        }
    }
}

fn print_sla_report(r: &smarketing_app::sla_reports::SlaReport) {
    let pct = |x: Option<f64>| {
        x.map(|v| format!("{:.0} %", v * 100.0))
            .unwrap_or_else(|| "-".into())
    };
    let hours = |x: Option<f64>| x.map(|v| format!("{v:.1} h")).unwrap_or_else(|| "-".into());
    let versions: Vec<String> = r.agreement_versions.iter().map(|v| v.to_string()).collect();
    println!(
        "SLA report {} ({} .. {}); agreement in force: {}",
        r.period,
        r.period_start,
        r.period_end,
        if versions.is_empty() {
            "none signed".to_string()
        } else {
            format!("version {}", versions.join(", "))
        }
    );
    println!(
        "  {:<22} {:>8} {:>10} {:>12} {:>12} {:>9} {:>9} {:>8}",
        "rep",
        "handoffs",
        "within SLA",
        "touch p50",
        "touch p95",
        "attempts",
        "breaches",
        "at risk"
    );
    for x in r.sales.iter().chain(std::iter::once(&r.sales_total)) {
        println!(
            "  {:<22} {:>8} {:>10} {:>12} {:>12} {:>9} {:>9} {:>8}",
            x.name,
            x.handoffs,
            pct(x.within_sla),
            hours(x.first_touch_p50_hours),
            hours(x.first_touch_p95_hours),
            x.attempts_before_decision
                .map(|a| format!("{a:.1}"))
                .unwrap_or_else(|| "-".into()),
            x.breaches,
            x.open_at_risk
        );
    }
    let m = &r.marketing;
    println!(
        "  marketing: {} MQLs (commitment {}), accepted {}, rejected {}",
        m.mqls,
        m.mql_commitment
            .map(|c| c.to_string())
            .unwrap_or_else(|| "-".into()),
        m.accepted,
        m.rejected,
    );
    println!(
        "             acceptance {} (minimum {:.0} %)",
        pct(m.acceptance_rate),
        m.min_acceptance_rate * 100.0
    );
    for x in &m.rejections_by_channel {
        println!(
            "    rejected from {:<18} {:<24} {}",
            x.key, x.reason, x.count
        );
    }
    println!("  {} breaches", r.breaches.len());
    for b in r.breaches.iter().take(20) {
        println!(
            "    handoff {:<6} {:<28} {:<11} {:>7.1} h late  {}",
            b.handoff_id,
            fit(&b.contact_email, 28),
            b.clock.as_str(),
            b.late_working_hours,
            if b.escalations.is_empty() {
                "no escalation".to_string()
            } else {
                b.escalations
                    .iter()
                    .map(|e| match e.as_str() {
                        "notify_rep" => "rep told",
                        "notify_manager" => "managers told",
                        "reassign" => "reassigned",
                        other => other,
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
    }
}

/// `text` cut to `width` characters, ending in "…" when it was longer, so
/// a table keeps its columns within 100.
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `text` broken into lines of at most `width` characters at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_fits_its_column_and_its_lines() {
        assert_eq!(fit("short@x.io", 28), "short@x.io");
        let cut = fit("david.nguyen@stonebridgemanufacturing.se", 28);
        assert_eq!((cut.chars().count(), cut.ends_with('…')), (28, true));
        let lines = wrap(&"word ".repeat(60), 96);
        assert!(lines.iter().all(|l| l.chars().count() <= 96), "{lines:?}");
        let words: usize = lines.iter().map(|l| l.split_whitespace().count()).sum();
        assert_eq!(words, 60);
    }
}
