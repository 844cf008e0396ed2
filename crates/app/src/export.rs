//! Export of records as CSV in the import format (so an export imports
//! cleanly into another Smarketing; cells a spreadsheet would run as
//! formulas are neutralised, and the import restores them) or as JSON with
//! every field.

use crate::import::ImportKind;
use crate::{App, AppError};
use smarketing_store::{Account, Campaign, Contact, Deal, StageChange, Touchpoint, repo};
use std::collections::HashMap;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Json,
}

impl std::str::FromStr for ExportFormat {
    type Err = smarketing_core::Invalid;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "csv" => Ok(ExportFormat::Csv),
            "json" => Ok(ExportFormat::Json),
            _ => Err(smarketing_core::Invalid::new(
                "unknown_format",
                "format",
                format!("{s:?} is not a format; use csv or json"),
            )),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    App(#[from] AppError),
    #[error("writing the export failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("writing the export failed: {0}")]
    Csv(#[from] csv::Error),
}

impl From<smarketing_store::StoreError> for ExportError {
    fn from(e: smarketing_store::StoreError) -> Self {
        ExportError::App(e.into())
    }
}

async fn all<T: repo::Table>(app: &App) -> Result<Vec<T>, ExportError> {
    let mut conn = app.store().acquire().await?;
    Ok(repo::all(&mut conn).await?)
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

impl App {
    /// Writes every record of `kind` to `out`; returns the number of rows.
    pub async fn export(
        &self,
        kind: ImportKind,
        format: ExportFormat,
        out: &mut dyn Write,
    ) -> Result<u64, ExportError> {
        if format == ExportFormat::Json {
            let (n, value) = match kind {
                ImportKind::Accounts => json(all::<Account>(self).await?),
                ImportKind::Campaigns => json(all::<Campaign>(self).await?),
                ImportKind::Contacts => json(all::<Contact>(self).await?),
                ImportKind::Touchpoints => json(all::<Touchpoint>(self).await?),
                ImportKind::StageChanges => json(all::<StageChange>(self).await?),
                ImportKind::Deals => json(all::<Deal>(self).await?),
            };
            serde_json::to_writer_pretty(&mut *out, &value).map_err(std::io::Error::from)?;
            writeln!(out)?;
            return Ok(n);
        }
        let mut w = crate::csv_out::CsvOut::new(out);
        let mut n = 0u64;
        match kind {
            ImportKind::Accounts => {
                w.row(kind.columns())?;
                for a in all::<Account>(self).await? {
                    w.row([
                        a.id.to_string(),
                        a.name,
                        opt(&a.domain),
                        opt(&a.industry),
                        opt(&a.company_size),
                        opt(&a.region),
                    ])?;
                    n += 1;
                }
            }
            ImportKind::Campaigns => {
                w.row(kind.columns())?;
                for c in all::<Campaign>(self).await? {
                    let spend = smarketing_core::Money::from_minor(c.spend_minor, "spend")
                        .map(|m| m.major())
                        .unwrap_or(0);
                    w.row([
                        c.id.to_string(),
                        c.name,
                        c.channel,
                        c.started_at.to_string(),
                        opt(&c.ended_at),
                        spend.to_string(),
                    ])?;
                    n += 1;
                }
            }
            ImportKind::Contacts => {
                let accounts: HashMap<i64, Account> = all::<Account>(self)
                    .await?
                    .into_iter()
                    .map(|a| (a.id, a))
                    .collect();
                w.row(kind.columns())?;
                for c in all::<Contact>(self).await? {
                    let acc = c.account_id.and_then(|id| accounts.get(&id));
                    w.row([
                        c.id.to_string(),
                        opt(&c.account_id),
                        c.email,
                        opt(&c.first_name),
                        opt(&c.last_name),
                        opt(&c.job_title),
                        opt(&c.persona),
                        acc.map(|a| opt(&a.company_size)).unwrap_or_default(),
                        acc.map(|a| opt(&a.region)).unwrap_or_default(),
                        opt(&c.source_channel),
                        c.created_at.to_string(),
                        c.stage.to_string(),
                    ])?;
                    n += 1;
                }
            }
            ImportKind::Touchpoints => {
                w.row(kind.columns())?;
                // Anonymous visitors' touches have no contact and are not part of this format.
                for t in all::<Touchpoint>(self)
                    .await?
                    .into_iter()
                    .filter(|t| t.contact_id.is_some())
                {
                    w.row([
                        t.id.to_string(),
                        opt(&t.contact_id),
                        t.occurred_at.to_string(),
                        t.channel,
                        opt(&t.campaign_id),
                        opt(&t.kind),
                    ])?;
                    n += 1;
                }
            }
            ImportKind::StageChanges => {
                w.row(kind.columns())?;
                let mut rows = all::<StageChange>(self).await?;
                rows.sort_by_key(|s| (s.contact_id, s.changed_at, s.id));
                for s in rows {
                    w.row([
                        s.contact_id.to_string(),
                        opt(&s.from_stage),
                        s.to_stage.to_string(),
                        s.changed_at.to_string(),
                        opt(&s.touchpoint_id),
                    ])?;
                    n += 1;
                }
            }
            ImportKind::Deals => {
                w.row(kind.columns())?;
                for d in all::<Deal>(self).await? {
                    let amount = smarketing_core::Money::from_minor(d.amount_minor, "amount")
                        .map(|m| m.major())
                        .unwrap_or(0);
                    w.row([
                        d.id.to_string(),
                        opt(&d.contact_id),
                        d.created_at.to_string(),
                        opt(&d.closed_at),
                        d.status.to_string(),
                        amount.to_string(),
                    ])?;
                    n += 1;
                }
            }
        }
        w.flush()?;
        Ok(n)
    }
}

fn json<T: serde::Serialize>(rows: Vec<T>) -> (u64, serde_json::Value) {
    (
        rows.len() as u64,
        serde_json::to_value(rows).expect("records serialise"),
    )
}
