//! Printing reports as a table for people, CSV for spreadsheets and JSON for
//! programs; and `smarketing attribution --paths`.

use anyhow::Result;
use smarketing_core::analytics::models::Model;
use std::io::Write;
use std::path::Path;

/// Rows of text under headers.
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// A number as CSV and JSON write it: shortest text that reads back exactly.
pub fn num(x: f64) -> String {
    format!("{x}")
}

pub fn opt(x: Option<f64>) -> String {
    x.map(num).unwrap_or_default()
}

impl Table {
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Table {
        Table {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: vec![],
        }
    }

    pub fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    pub fn write_csv(&self, out: impl Write) -> Result<()> {
        let mut w = smarketing_app::csv_out::CsvOut::new(out);
        w.row(&self.headers)?;
        for r in &self.rows {
            w.row(r)?;
        }
        w.flush()?;
        Ok(())
    }

    /// Aligned columns for people: numbers rounded, seconds as days and
    /// hours. Unless `wide`, only the columns that fit in [`TEXT_WIDTH`]
    /// are shown, and a last line names the others.
    pub fn write_text(&self, mut out: impl Write, wide: bool) -> Result<()> {
        let seconds: Vec<bool> = self.headers.iter().map(|h| is_seconds(h)).collect();
        let headers: Vec<String> = self
            .headers
            .iter()
            .zip(&seconds)
            .map(|(h, s)| if *s { without_seconds(h) } else { h.clone() })
            .collect();
        let shown: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| {
                r.iter()
                    .zip(&seconds)
                    .map(|(c, s)| if *s { duration(c) } else { readable(c) })
                    .collect()
            })
            .collect();
        let mut width: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
        for r in &shown {
            for (w, c) in width.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        // The columns that fit, from the left (the first always shows).
        let mut used = 0;
        let fits = width
            .iter()
            .take_while(|w| {
                used += *w + if used == 0 { 0 } else { 2 };
                wide || used <= TEXT_WIDTH
            })
            .count()
            .max(1);
        let hidden = &headers[fits..];
        let width = &width[..fits];
        let line = |cells: &[String]| -> String {
            cells
                .iter()
                .zip(width)
                .enumerate()
                .map(|(i, (c, w))| {
                    if i > 0 && c.parse::<f64>().is_ok() {
                        format!("{c:>w$}")
                    } else {
                        format!("{c:<w$}")
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        };
        writeln!(out, "{}", line(&headers[..fits]))?;
        for r in &shown {
            writeln!(out, "{}", line(&r[..fits.min(r.len())]))?;
        }
        if !hidden.is_empty() {
            writeln!(
                out,
                "({} more column{}: {}; --format wide shows them, --format csv gives exact values)",
                hidden.len(),
                if hidden.len() == 1 { "" } else { "s" },
                hidden.join(", ")
            )?;
        }
        Ok(())
    }
}

/// How wide a table may print without `--format wide`.
pub const TEXT_WIDTH: usize = 100;

/// A column of seconds (`median_s`, `p90_s_previous_period`).
fn is_seconds(header: &str) -> bool {
    header.split('_').skip(1).any(|part| part == "s")
}

/// Its name for people: `median_s` → `median`.
fn without_seconds(header: &str) -> String {
    header
        .split('_')
        .filter(|part| *part != "s")
        .collect::<Vec<_>>()
        .join("_")
}

/// Seconds as people read a duration: "18 d 9 h", "4 h 12 m", "35 m", "12 s".
fn duration(cell: &str) -> String {
    let Ok(secs) = cell.parse::<f64>() else {
        return cell.to_string();
    };
    let s = secs.round() as i64;
    let (d, h, m) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, m) => format!("{m} m"),
        (0, h, m) => format!("{h} h {m} m"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// Long decimals cut to four places for people; integers and text as they are.
fn readable(cell: &str) -> String {
    match cell.parse::<f64>() {
        Ok(x) if cell.contains('.') => format!("{x:.4}"),
        _ => cell.to_string(),
    }
}

/// How a report is printed: aligned for people (within 100 columns, or
/// every column with `wide`), CSV for spreadsheets, JSON for programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Wide,
    Csv,
    Json,
}

/// How a report with no rows to speak of is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TableOrJson {
    Table,
    Json,
}

/// Writes `table` (or `json`) to stdout in `format`.
pub fn print(format: Format, table: &Table, json: impl FnOnce() -> Result<String>) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        Format::Table => table.write_text(out, false),
        Format::Wide => table.write_text(out, true),
        Format::Csv => table.write_csv(out),
        Format::Json => {
            writeln!(out, "{}", json()?)?;
            Ok(())
        }
    }
}

/// `smarketing attribution --paths FILE`.
pub fn paths_attribution(file: &Path, model: &str, order: u8, format: Format) -> Result<()> {
    let model = Model::parse(model, 7.0, order)
        .map_err(|e| anyhow::anyhow!("--{}: {}", e.field, e.message))?;
    let table = smarketing_app::paths_file::read_paths(file)?;
    let credit = table
        .attribute(model)
        .map_err(|e| anyhow::anyhow!("--{}: {}", e.field, e.message))?;
    let markov = matches!(model, Model::Markov { .. });
    let mut headers = vec!["channel", "conversions", "value"];
    if markov {
        headers.extend(["removal_effect_conversions", "removal_effect_value"]);
    }
    let mut t = Table::new(headers);
    for c in &credit {
        let mut row = vec![c.channel.clone(), num(c.conversions), num(c.value)];
        if markov {
            row.extend([
                opt(c.removal_effect_conversions),
                opt(c.removal_effect_value),
            ]);
        }
        t.push(row);
    }
    print(format, &t, || Ok(serde_json::to_string_pretty(&credit)?))
}

fn dimension_column(by: Option<smarketing_core::segment::Dimension>) -> String {
    match by {
        Some(smarketing_core::segment::Dimension::SourceChannel) => "source".into(),
        Some(d) => d.to_string(),
        None => "group".into(),
    }
}

/// The previous period's row for the same group and stage: the groups of
/// two periods differ, so rows are matched by key, not position.
fn same_row<'r, R>(
    rows: &'r [R],
    group: &str,
    stage: smarketing_core::lifecycle::Stage,
    to_won: bool,
    key: impl Fn(&R) -> (&String, smarketing_core::lifecycle::Stage, bool),
) -> Option<&'r R> {
    rows.iter().find(|r| {
        let (g, s, w) = key(r);
        g == group && s == stage && w == to_won
    })
}

/// `smarketing report funnel`: the columns of the shared funnel_by_source.csv.
pub fn funnel(r: &smarketing_app::reports::FunnelReport, format: Format) -> Result<()> {
    let mut t = Table::new([
        dimension_column(r.by),
        "stage_idx".into(),
        "stage".into(),
        "reached".into(),
        "rate_from_prev".into(),
        format!("rate_from_{}", r.cohort_stage),
    ]);
    if r.previous.is_some() {
        t.headers.push("reached_previous_period".into());
    }
    for row in &r.rows {
        let mut cells = vec![
            row.group.clone(),
            row.stage_idx.to_string(),
            row.stage.to_string(),
            row.reached.to_string(),
            opt(row.rate_from_prev),
            opt(row.rate_from_cohort),
        ];
        if let Some(prev) = &r.previous {
            cells.push(
                same_row(prev, &row.group, row.stage, false, |p| {
                    (&p.group, p.stage, false)
                })
                .map(|p| p.reached.to_string())
                .unwrap_or_else(|| "0".into()),
            );
        }
        t.push(cells);
    }
    print(format, &t, || Ok(serde_json::to_string_pretty(r)?))
}

/// `smarketing report velocity`: the columns of the shared time_in_stage.csv,
/// plus the time from the cohort stage to won.
pub fn velocity(r: &smarketing_app::reports::VelocityReport, format: Format) -> Result<()> {
    let mut t = Table::new([
        dimension_column(r.by),
        "stage_idx".into(),
        "stage".into(),
        "n_completed".into(),
        "median_s".into(),
        "median_disc_s".into(),
        "p90_s".into(),
        "mean_s".into(),
    ]);
    if r.previous.is_some() {
        t.headers.extend([
            "n_completed_previous_period".into(),
            "median_s_previous_period".into(),
            "p90_s_previous_period".into(),
        ]);
    }
    for row in &r.rows {
        let stage = if row.to_won {
            format!("{}_to_won", r.cohort_stage)
        } else {
            row.stage.to_string()
        };
        let mut cells = vec![
            row.group.clone(),
            row.stage_idx.to_string(),
            stage,
            row.n_completed.to_string(),
            opt(row.median_s),
            opt(row.median_disc_s),
            opt(row.p90_s),
            opt(row.mean_s),
        ];
        if let Some(prev) = &r.previous {
            let p = same_row(prev, &row.group, row.stage, row.to_won, |p| {
                (&p.group, p.stage, p.to_won)
            });
            cells.extend([
                p.map_or(0, |p| p.n_completed).to_string(),
                opt(p.and_then(|p| p.median_s)),
                opt(p.and_then(|p| p.p90_s)),
            ]);
        }
        t.push(cells);
    }
    print(format, &t, || Ok(serde_json::to_string_pretty(r)?))
}

/// `smarketing report attribution`: one row per channel (or campaign), two
/// columns per model; money in whole units.
pub fn attribution(
    r: &smarketing_core::analytics::attribution::AttributionReport,
    campaigns: bool,
    format: Format,
) -> Result<()> {
    let mut headers = vec![if campaigns { "campaign" } else { "channel" }.to_string()];
    for m in &r.models {
        headers.push(format!("{}_conversions", m.model));
        headers.push(format!("{}_value", m.model));
    }
    let mut t = Table::new(headers);
    let names: Vec<String> = match r.models.first() {
        None => vec![],
        Some(m) if campaigns => {
            let mut n: Vec<String> = r
                .models
                .iter()
                .flat_map(|m| m.campaigns.iter().map(|c| c.name.clone()))
                .collect();
            n.sort();
            n.dedup();
            let _ = m;
            n
        }
        Some(m) => m.channels.iter().map(|c| c.name.clone()).collect(),
    };
    for name in names {
        let mut row = vec![name.clone()];
        for m in &r.models {
            let list = if campaigns { &m.campaigns } else { &m.channels };
            let c = list.iter().find(|c| c.name == name);
            row.push(num(c.map_or(0.0, |c| c.conversions)));
            row.push(num(c.map_or(0.0, |c| c.value) / 100.0));
        }
        t.push(row);
    }
    for m in r.models.iter().filter(|m| !m.reconciled) {
        eprintln!(
            "warning: {} credit does not sum to the converted total",
            m.model
        );
    }
    for m in &r.models {
        if let Some(note) = &m.note {
            eprintln!("note: {note}");
        }
    }
    if r.unattributed_conversions > 0.0 {
        eprintln!(
            "{} conversions ({} in value) had no touch in their window and are not credited",
            r.unattributed_conversions,
            r.unattributed_value / 100.0
        );
    }
    print(format, &t, || Ok(serde_json::to_string_pretty(r)?))
}

/// `smarketing report journey`: one row per touch, a weight column per model.
pub fn journey(
    r: &smarketing_core::analytics::attribution::DealJourney,
    format: Format,
) -> Result<()> {
    let mut headers: Vec<String> = ["touch_id", "at", "channel", "campaign", "roles"]
        .map(String::from)
        .to_vec();
    headers.extend(r.models.iter().cloned());
    let mut t = Table::new(headers);
    for touch in &r.touches {
        let at = smarketing_core::Instant::from_millis(touch.at)
            .map(|i| i.to_string())
            .unwrap_or_default();
        let mut row = vec![
            touch.touch_id.to_string(),
            at,
            touch.channel.clone(),
            touch.campaign.clone().unwrap_or_default(),
            touch.roles.join(" "),
        ];
        row.extend(touch.weights.iter().map(|w| num(*w)));
        t.push(row);
    }
    print(format, &t, || Ok(serde_json::to_string_pretty(r)?))
}

/// `smarketing report roi`: money in whole units.
pub fn roi(
    r: &smarketing_core::analytics::roi::RoiReport,
    campaigns: bool,
    format: Format,
) -> Result<()> {
    let mut t = Table::new([
        if campaigns { "campaign" } else { "channel" },
        "spend",
        "mqls",
        "pipeline",
        "won_deals",
        "revenue",
        "cost_per_mql",
        "cac",
        "roi",
    ]);
    for note in &r.notes {
        eprintln!("note: {note}");
    }
    let rows = if campaigns { &r.campaigns } else { &r.channels };
    for x in rows.iter().chain(std::iter::once(&r.total)) {
        let money = |m: f64| num(m / 100.0);
        t.push(vec![
            x.name.clone(),
            money(x.spend_minor as f64),
            num(x.mqls),
            money(x.pipeline_minor),
            num(x.won_deals),
            money(x.revenue_minor),
            x.cost_per_mql_minor.map(money).unwrap_or_default(),
            x.cac_minor.map(money).unwrap_or_default(),
            opt(x.roi),
        ]);
    }
    print(format, &t, || Ok(serde_json::to_string_pretty(r)?))
}

/// `smarketing report`.
pub async fn run(command: crate::ReportCommand, cfg: &crate::config::Config) -> Result<()> {
    use crate::ReportCommand;
    use crate::explain;
    let app = crate::serve::open_existing(cfg).await?;
    match command {
        ReportCommand::Funnel(c) => {
            let r = app
                .funnel_report(&cohort_query(&c))
                .await
                .map_err(explain)?;
            funnel(&r, c.format)
        }
        ReportCommand::Velocity(c) => {
            let r = app
                .velocity_report(&cohort_query(&c))
                .await
                .map_err(explain)?;
            velocity(&r, c.format)
        }
        ReportCommand::Attribution {
            conversion,
            models,
            half_life_days,
            order,
            lookback_days,
            account_level,
            period,
            campaigns,
            format,
        } => {
            let p = smarketing_app::reports::AttributionParams {
                conversion: Some(conversion),
                models: Some(models),
                half_life_days: Some(half_life_days),
                order: Some(order),
                lookback_days,
                account_level: Some(account_level),
                period,
                campaigns: Some(campaigns),
            };
            let r = app.attribution_report(&p).await.map_err(explain)?;
            attribution(&r, campaigns, format)
        }
        ReportCommand::Journey {
            deal,
            models,
            account_level,
            format,
        } => {
            let p = smarketing_app::reports::JourneyParams {
                models: Some(models),
                account_level: Some(account_level),
                ..Default::default()
            };
            let r = app.deal_journey(deal, &p).await.map_err(explain)?;
            journey(&r, format)
        }
        ReportCommand::Roi {
            model,
            order,
            period,
            campaigns,
            format,
        } => {
            let p = smarketing_app::reports::RoiParams {
                model: Some(model),
                order: Some(order),
                period,
                ..Default::default()
            };
            let r = app.roi_report(&p).await.map_err(explain)?;
            roi(&r, campaigns, format)
        }
        ReportCommand::Goal {
            period,
            segment,
            format,
        } => {
            let g = app
                .goal_actual(&period, segment.as_deref())
                .await
                .map_err(explain)?;
            if format == TableOrJson::Json {
                println!("{}", serde_json::to_string_pretty(&g)?);
            } else {
                let p = &g.pacing;
                println!(
                    "{}{}: won {} of {} ({} deals); expected to date {:.0}; pace {}; projection {}",
                    g.period,
                    g.segment.map(|s| format!(" in {s}")).unwrap_or_default(),
                    g.won_minor / 100,
                    g.revenue_goal_minor / 100,
                    g.won_deals,
                    p.expected_to_date / 100.0,
                    p.pace
                        .map(|x| format!("{:.0} %", x * 100.0))
                        .unwrap_or("-".into()),
                    p.projection
                        .map(|x| format!("{:.0}", x / 100.0))
                        .unwrap_or("-".into()),
                );
            }
            Ok(())
        }
    }
}

fn cohort_query(c: &crate::CohortArgs) -> smarketing_app::reports::CohortQuery {
    smarketing_app::reports::CohortQuery {
        stage: c.stage.clone(),
        period: c.period.clone(),
        within_days: c.within_days,
        by: c.by.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_fit_100_columns_and_show_seconds_as_durations() {
        let mut t = Table::new([
            "group",
            "stage",
            "median_s",
            "p90_s",
            "wide_column_one",
            "wide_column_two",
        ]);
        t.push(vec![
            "ALL".into(),
            "lead".into(),
            "1590073.61".into(),
            "4568650.33".into(),
            "x".repeat(40),
            "y".repeat(40),
        ]);
        let mut out = Vec::new();
        t.write_text(&mut out, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.lines().all(|l| l.chars().count() <= TEXT_WIDTH),
            "{text}"
        );
        assert!(text.contains("18 d 9 h"), "{text}");
        assert!(text.starts_with("group  stage  median"), "{text}");
        assert!(text.contains("1 more column: wide_column_two"), "{text}");
        let mut out = Vec::new();
        t.write_text(&mut out, true).unwrap();
        assert!(String::from_utf8(out).unwrap().contains(&"y".repeat(40)));
        assert_eq!(duration("45"), "45 s");
        assert_eq!(duration("7260"), "2 h 1 m");
    }
}
