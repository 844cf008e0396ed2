//! Printing reports as a table for people, CSV for spreadsheets and JSON for
//! programs; and `smarketing attribution --paths`.

use anyhow::{Context, Result, bail};
use smarketing_core::analytics::models::Model;
use smarketing_core::analytics::on_threads;
use smarketing_core::analytics::paths::{PathTable, PathsError, PathsLayout, PathsPart};
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
        let mut w = csv::Writer::from_writer(out);
        w.write_record(&self.headers)?;
        for r in &self.rows {
            w.write_record(r)?;
        }
        w.flush()?;
        Ok(())
    }

    /// Aligned columns; numbers rounded for reading.
    pub fn write_text(&self, mut out: impl Write) -> Result<()> {
        let shown: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| r.iter().map(|c| readable(c)).collect())
            .collect();
        let mut width: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for r in &shown {
            for (w, c) in width.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: &[String]| -> String {
            cells
                .iter()
                .zip(&width)
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
        writeln!(out, "{}", line(&self.headers))?;
        for r in &shown {
            writeln!(out, "{}", line(r))?;
        }
        Ok(())
    }
}

/// Long decimals cut to four places for people; integers and text as they are.
fn readable(cell: &str) -> String {
    match cell.parse::<f64>() {
        Ok(x) if cell.contains('.') => format!("{x:.4}"),
        _ => cell.to_string(),
    }
}

/// Writes `table` (or `json`) to stdout in `format`.
pub fn print(format: &str, table: &Table, json: impl FnOnce() -> Result<String>) -> Result<()> {
    check_format(format)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        "table" => table.write_text(out),
        "csv" => table.write_csv(out),
        _ => {
            writeln!(out, "{}", json()?)?;
            Ok(())
        }
    }
}

/// Refuses a `--format` other than table, csv or json.
fn check_format(format: &str) -> Result<()> {
    if !matches!(format, "table" | "csv" | "json") {
        bail!("--format: {format:?} is not a format; use table, csv or json");
    }
    Ok(())
}

/// Reads and parses a paths file: a large file is split in one part per
/// core, and each part is read and parsed by its own thread through one
/// reused block (so the file is never whole in memory: no page faults for
/// it, and the block stays in cache between the read and the parse).
/// Errors name the file and line.
pub fn read_paths(file: &Path) -> Result<PathTable> {
    // A block: big enough that a read costs little, small enough to stay
    // in the core's cache.
    let parts = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    read_paths_in(file, 512 << 10, parts, 4 << 20)
}

/// [`read_paths`] with its sizes given: blocks of `block` bytes, and
/// `parts` parts when the lines after the header are over `split` bytes.
fn read_paths_in(file: &Path, block: usize, parts: usize, split: u64) -> Result<PathTable> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::open(file).with_context(|| format!("reading {}", file.display()))?;
    let size = f.metadata()?.len();
    let bad = |e: PathsError| {
        let column = e
            .column
            .map(|c| format!("column {c}: "))
            .unwrap_or_default();
        anyhow::anyhow!("{}:{}: {column}{}", file.display(), e.line, e.message)
    };
    // Where text that is not UTF-8 starts, counted in the whole file.
    let not_text = |at: u64, e: std::str::Utf8Error| {
        anyhow::anyhow!(
            "{}: not UTF-8 text at byte {}",
            file.display(),
            at + e.valid_up_to() as u64
        )
    };
    // The header: the first line, within the first 64 KB.
    let mut head = vec![0u8; (64 << 10).min(size as usize)];
    f.read_exact_at(&mut head, 0)?;
    let header_end = match memchr::memchr(b'\n', &head) {
        Some(i) => i + 1,
        None if head.len() as u64 == size => head.len(),
        None => bail!("{}:1: a header line of over 64 KB", file.display()),
    };
    let header = std::str::from_utf8(&head[..header_end]).map_err(|e| not_text(0, e))?;
    let layout = PathsLayout::from_header(header.trim_end_matches('\n')).map_err(bad)?;
    let body = size - header_end as u64;
    let threads = if body > split { parts.max(1) as u64 } else { 1 };
    // Part k holds the lines that start in [begin_k, begin_k+1), where
    // begin_k = header_end + body·k/T. A part after the first reads from
    // one byte before its start and skips to the first line end, so a line
    // that starts exactly at its start is its own.
    let begin = |k: u64| header_end as u64 + body * k / threads;
    let parse_part = |k: u64| -> Result<PathsPart> {
        let (start, end) = (begin(k), begin(k + 1));
        let mut part = PathsPart::new(layout, (end - start) as usize);
        let mut buf = vec![0u8; block.max(1)];
        // File offset of buf[0]; bytes of buf holding data.
        let mut base = if k == 0 { start } else { start - 1 };
        let mut filled = 0;
        let mut skipping = k > 0;
        loop {
            let n = ((size - base) as usize - filled).min(buf.len() - filled);
            f.read_exact_at(&mut buf[filled..filled + n], base + filled as u64)?;
            filled += n;
            let at_eof = base + filled as u64 >= size;
            let mut from = 0;
            if skipping {
                match memchr::memchr(b'\n', &buf[..filled]) {
                    // A line that started before the part and runs past
                    // its end leaves it no line of its own.
                    Some(i) if base + i as u64 + 1 >= end => break,
                    Some(i) => {
                        from = i + 1;
                        skipping = false;
                    }
                    None if at_eof => break,
                    None => {
                        // A line longer than a block: keep looking.
                        base += filled as u64;
                        filled = 0;
                        continue;
                    }
                }
            }
            // Our lines are those that start before `end`; the last of them
            // ends at the first '\n' at or after end − 1.
            let limit = end.saturating_sub(base + 1) as usize;
            let last_end = if limit < filled {
                memchr::memchr(b'\n', &buf[limit.max(from)..filled]).map(|i| limit.max(from) + i)
            } else {
                None
            };
            let done = last_end.is_some() || at_eof;
            let upto = match last_end {
                Some(i) => i + 1,
                None if at_eof => filled,
                None => memchr::memrchr(b'\n', &buf[from..filled]).map_or(from, |i| from + i + 1),
            };
            if upto == 0 && filled == buf.len() {
                // A line longer than the block: a bigger block.
                buf.resize(buf.len() * 2, 0);
                continue;
            }
            let text = std::str::from_utf8(&buf[from..upto])
                .map_err(|e| not_text(base + from as u64, e))?;
            part.feed(text).map_err(anyhow::Error::new)?;
            if done {
                break;
            }
            buf.copy_within(upto..filled, 0);
            base += upto as u64;
            filled -= upto;
        }
        Ok(part)
    };
    let parts = on_threads(&(0..threads).collect::<Vec<u64>>(), |k| parse_part(*k));
    // A bad line's number counts the lines of the parts before it, so the
    // parts are joined in order and the first failure is reported.
    let mut ok = Vec::with_capacity(parts.len());
    for p in parts {
        match p {
            Ok(p) => ok.push(Ok(p)),
            Err(e) => match e.downcast::<PathsError>() {
                Ok(e) => {
                    ok.push(Err(e));
                    break;
                }
                Err(e) => return Err(e.context(format!("reading {}", file.display()))),
            },
        }
    }
    PathTable::from_parts(ok).map_err(bad)
}

/// `smarketing attribution --paths FILE`.
pub fn paths_attribution(file: &Path, model: &str, order: u8, format: &str) -> Result<()> {
    // Checked before the file is read, so a typo does not wait for a parse.
    check_format(format)?;
    let model = Model::parse(model, 7.0, order)
        .map_err(|e| anyhow::anyhow!("--{}: {}", e.field, e.message))?;
    let table = read_paths(file)?;
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
pub fn funnel(r: &smarketing_app::reports::FunnelReport, format: &str) -> Result<()> {
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
pub fn velocity(r: &smarketing_app::reports::VelocityReport, format: &str) -> Result<()> {
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
    format: &str,
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
    format: &str,
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
    format: &str,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Parts read by byte range through blocks give the same table as one
    /// parse of the text, for blocks of 4 KB to 512 KB and one to five
    /// parts, wherever they cut: multi-byte names, quoted lines, CRLF,
    /// blank lines, a line longer than a block around the middle, no final
    /// line end. A bad line keeps its number in the whole file, whichever
    /// part it falls in.
    #[test]
    fn paths_read_in_parts_match_one_parse() {
        let mut text = String::from("path,total_conversions,total_conversion_value,total_null\n");
        let rows = 150_000;
        let (mut conversions, mut value) = (0.0, 0.0);
        for i in 0..rows {
            if i == rows / 2 {
                // About 1.4 MB: longer than a block, around the middle.
                let long = vec!["email"; 200_000].join(" > ");
                text.push_str(&format!("{long} > direct,1,5,0\n\n"));
                (conversions, value) = (conversions + 1.0, value + 5.0);
            }
            // Multi-byte names, so a cut can fall inside a character.
            let extra = ["", " > wébinaire – été", " > ünïcode"][i % 3];
            let path = format!("email > direct{extra}");
            let line = match i % 1000 {
                7 => format!("\"{path}\",{},{},1\r\n", i % 2, i % 7),
                _ => format!("{path},{},{},1\n", i % 2, i % 7),
            };
            text.push_str(&line);
            (conversions, value) = (conversions + (i % 2) as f64, value + (i % 7) as f64);
        }
        let text = text.trim_end().to_string();
        assert!(text.len() > 4 << 20);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("paths.csv");
        std::fs::write(&file, &text).unwrap();
        let parsed = PathTable::parse(&text).unwrap();
        assert_eq!(parsed.totals(), (conversions, value));
        let linear = parsed.attribute(Model::Linear).unwrap();
        let markov = parsed.attribute(Model::Markov { order: 2 }).unwrap();
        let sizes = [(512 << 10, 2), (4 << 10, 1), (4 << 10, 3), (100_000, 5)];
        for (block, parts) in sizes {
            let read = read_paths_in(&file, block, parts, 0).unwrap();
            let at = format!("{block}-byte blocks, {parts} parts");
            assert_eq!(read.rows(), rows + 1, "{at}");
            assert_eq!(read.totals(), (conversions, value), "{at}");
            assert_eq!(read.attribute(Model::Linear).unwrap(), linear, "{at}");
            let m = read.attribute(Model::Markov { order: 2 }).unwrap();
            assert_eq!(m, markov, "{at}");
        }
        assert_eq!(read_paths(&file).unwrap().totals(), (conversions, value));
        let mut text = text + "\n";
        text.push_str("email,1,-3,0\n");
        std::fs::write(&file, &text).unwrap();
        for (block, parts) in sizes {
            let e = read_paths_in(&file, block, parts, 0)
                .unwrap_err()
                .to_string();
            assert!(
                e.ends_with(
                    ":150004: column total_conversion_value: -3 is not a count of zero or more"
                ),
                "{block}-byte blocks, {parts} parts: {e}"
            );
        }
        // A bad line in the first part, and text that is not UTF-8 named by
        // its byte in the file.
        let mut bytes = text.clone().into_bytes();
        let second = bytes.iter().position(|b| *b == b'\n').unwrap() + 1;
        bytes[second] = 0xFF;
        std::fs::write(&file, &bytes).unwrap();
        for (block, parts) in sizes {
            let e = format!("{:#}", read_paths_in(&file, block, parts, 0).unwrap_err());
            assert!(
                e.ends_with(&format!("not UTF-8 text at byte {second}")),
                "{e}"
            );
        }
    }
}
