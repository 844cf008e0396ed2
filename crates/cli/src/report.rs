//! Printing reports as a table for people, CSV for spreadsheets and JSON for
//! programs; and `smarketing attribution --paths`.

use anyhow::{Context, Result, bail};
use smarketing_core::analytics::models::Model;
use smarketing_core::analytics::paths::PathTable;
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
    let stdout = std::io::stdout();
    let out = stdout.lock();
    match format {
        "table" => table.write_text(out),
        "csv" => table.write_csv(out),
        "json" => {
            let mut out = out;
            writeln!(out, "{}", json()?)?;
            Ok(())
        }
        other => bail!("--format: {other:?} is not a format; use table, csv or json"),
    }
}

/// `smarketing attribution --paths FILE`.
pub fn paths_attribution(file: &Path, model: &str, order: u8, format: &str) -> Result<()> {
    if !matches!(format, "table" | "csv" | "json") {
        bail!("--format: {format:?} is not a format; use table, csv or json");
    }
    let model = Model::parse(model, 7.0, order)
        .map_err(|e| anyhow::anyhow!("--{}: {}", e.field, e.message))?;
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let table = PathTable::parse(&text).map_err(|e| {
        let column = e
            .column
            .map(|c| format!("column {c}: "))
            .unwrap_or_default();
        anyhow::anyhow!("{}:{}: {column}{}", file.display(), e.line, e.message)
    })?;
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
