//! Reading an import file: a CSV file read into memory with its line
//! numbers, and field access by column name with errors that name the column.

use super::ImportError;
use smarketing_core::{Instant, Invalid};
use std::collections::HashMap;
use std::path::Path;

/// One CSV file read into memory: its header and records with line numbers.
pub(super) struct Sheet {
    pub(super) file: String,
    pub(super) header: Vec<String>,
    pub(super) records: Vec<(u64, csv::StringRecord)>,
}

pub(super) fn read_sheet(path: &Path) -> Result<Sheet, ImportError> {
    let file = path.display().to_string();
    let err = |message: String| ImportError::File {
        file: file.clone(),
        message,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_path(path)
        .map_err(|e| err(format!("cannot open: {e}")))?;
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| err(format!("line 1: cannot read the header: {e}")))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    let mut records = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            err(format!("line {line}: {}", csv_message(&e)))
        })?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        records.push((line, rec));
    }
    Ok(Sheet {
        file,
        header,
        records,
    })
}

fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("the row has {len} fields, the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "the row is not valid UTF-8".into(),
        _ => e.to_string(),
    }
}

/// Field access by column name, with errors that name the column.
pub(super) struct Row<'a> {
    pub(super) rec: &'a csv::StringRecord,
    pub(super) index: &'a HashMap<String, usize>,
}

impl Row<'_> {
    /// The cell, trimmed, with the apostrophe an export puts before a
    /// formula taken off.
    pub(super) fn raw(&self, col: &str) -> &str {
        smarketing_core::spreadsheet::restore(
            self.index
                .get(col)
                .and_then(|i| self.rec.get(*i))
                .unwrap_or("")
                .trim(),
        )
    }
    pub(super) fn opt(&self, col: &str) -> Option<String> {
        let v = self.raw(col);
        (!v.is_empty()).then(|| v.to_string())
    }
    pub(super) fn req(&self, col: &str) -> Result<String, Invalid> {
        self.opt(col)
            .ok_or_else(|| Invalid::new("required", col, "must not be empty"))
    }
    pub(super) fn id(&self, col: &str) -> Result<String, Invalid> {
        let v = self.req(col)?;
        match v.parse::<i64>() {
            Ok(n) if n > 0 => Ok(v),
            _ => Err(Invalid::new(
                "invalid_id",
                col,
                format!("{v:?} is not a positive integer id"),
            )),
        }
    }
    pub(super) fn opt_id(&self, col: &str) -> Result<Option<String>, Invalid> {
        if self.raw(col).is_empty() {
            Ok(None)
        } else {
            self.id(col).map(Some)
        }
    }
    pub(super) fn instant(&self, col: &str) -> Result<Instant, Invalid> {
        Instant::parse_csv(self.raw(col), col)
    }
    pub(super) fn opt_instant(&self, col: &str) -> Result<Option<Instant>, Invalid> {
        if self.raw(col).is_empty() {
            Ok(None)
        } else {
            self.instant(col).map(Some)
        }
    }
    pub(super) fn code(&self, col: &str, allowed: &[&str]) -> Result<String, Invalid> {
        let v = self.req(col)?;
        if allowed.contains(&v.as_str()) {
            Ok(v)
        } else {
            Err(Invalid::new(
                "unknown_value",
                col,
                format!("{v:?} is not one of {}", allowed.join(", ")),
            ))
        }
    }
}
