//! CSV import in the format of testdata/README.md (and a HubSpot-style
//! contact export). Every row is checked before anything is written; a bad
//! row is reported with file, line and column. Without `skip_invalid` one bad
//! row stops the import and the database stays as it was; with it, the valid
//! rows go in and the rejected ones are listed. Rows are keyed by their
//! external id, so importing the same file twice changes nothing.

mod hubspot;
mod rows;
mod sheet;

use crate::{App, AppError};
use rows::validate;
use serde::Serialize;
use sheet::read_sheet;
use smarketing_core::{Instant, Invalid, Stage};
use smarketing_store::{Account, Campaign, Contact, Deal, StageChange, Touchpoint, repo};
use smarketing_store::{Arg, Conn};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// The files of an import directory, in the order they must be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    Accounts,
    Campaigns,
    Contacts,
    Touchpoints,
    StageChanges,
    Deals,
}

impl ImportKind {
    pub const ORDER: [ImportKind; 6] = [
        ImportKind::Accounts,
        ImportKind::Campaigns,
        ImportKind::Contacts,
        ImportKind::Touchpoints,
        ImportKind::StageChanges,
        ImportKind::Deals,
    ];

    pub fn file_name(self) -> &'static str {
        match self {
            ImportKind::Accounts => "accounts.csv",
            ImportKind::Campaigns => "campaigns.csv",
            ImportKind::Contacts => "contacts.csv",
            ImportKind::Touchpoints => "touchpoints.csv",
            ImportKind::StageChanges => "stage_changes.csv",
            ImportKind::Deals => "deals.csv",
        }
    }

    pub(crate) fn columns(self) -> &'static [&'static str] {
        match self {
            ImportKind::Accounts => &[
                "account_id",
                "name",
                "domain",
                "industry",
                "company_size",
                "region",
            ],
            ImportKind::Campaigns => &[
                "campaign_id",
                "name",
                "channel",
                "started_at",
                "ended_at",
                "spend",
            ],
            ImportKind::Contacts => &[
                "contact_id",
                "account_id",
                "email",
                "first_name",
                "last_name",
                "job_title",
                "persona",
                "company_size",
                "region",
                "source",
                "created_at",
                "current_stage",
            ],
            ImportKind::Touchpoints => &[
                "touchpoint_id",
                "contact_id",
                "occurred_at",
                "channel",
                "campaign_id",
                "kind",
            ],
            ImportKind::StageChanges => &[
                "contact_id",
                "from_stage",
                "to_stage",
                "changed_at",
                "touchpoint_id",
            ],
            ImportKind::Deals => &[
                "deal_id",
                "contact_id",
                "created_at",
                "closed_at",
                "status",
                "amount",
            ],
        }
    }
}

impl std::str::FromStr for ImportKind {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        Ok(match s {
            "accounts" => ImportKind::Accounts,
            "campaigns" => ImportKind::Campaigns,
            "contacts" => ImportKind::Contacts,
            "touchpoints" => ImportKind::Touchpoints,
            "stage-changes" | "stage_changes" => ImportKind::StageChanges,
            "deals" => ImportKind::Deals,
            _ => {
                return Err(Invalid::new(
                    "unknown_kind",
                    "kind",
                    format!(
                        "{s:?} is not importable; use accounts, campaigns, contacts, touchpoints, stage-changes or deals"
                    ),
                ));
            }
        })
    }
}

/// One rejected row.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RowError {
    pub file: String,
    pub line: u64,
    /// The column at fault, when one is.
    pub column: Option<String>,
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(c) => write!(
                f,
                "{}:{}: column {c}: {}",
                self.file, self.line, self.message
            ),
            None => write!(f, "{}:{}: {}", self.file, self.line, self.message),
        }
    }
}

/// What one file's import did.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub file: String,
    pub kind: ImportKind,
    pub rows: u64,
    pub imported: u64,
    pub rejected: Vec<RowError>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Some rows are invalid and `skip_invalid` was not set: nothing was written.
    #[error("{} invalid rows; nothing was imported", .rejected.len())]
    InvalidRows { rejected: Vec<RowError> },
    #[error("{file}: {message}")]
    File { file: String, message: String },
    #[error(transparent)]
    App(#[from] AppError),
}

impl From<smarketing_store::StoreError> for ImportError {
    fn from(e: smarketing_store::StoreError) -> Self {
        ImportError::App(e.into())
    }
}

/// Progress of a long import, reported per row.
pub trait Progress: Send + Sync {
    fn start(&self, _file: &str, _rows: u64) {}
    fn advance(&self, _rows: u64) {}
    fn finish(&self) {}
}

/// Progress that goes nowhere.
pub struct Quiet;
impl Progress for Quiet {}

#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    pub skip_invalid: bool,
    /// Check and count everything, then write nothing.
    pub dry_run: bool,
    /// Open (and route) a handoff for each imported MQL that never had one;
    /// without it, imported MQLs wait for sales' decision outside the loop.
    pub open_handoffs: bool,
}

/// Ids known to the database plus those accepted earlier in this import.
struct Known {
    accounts: HashMap<String, i64>,
    contacts: HashMap<String, i64>,
    campaigns: HashMap<String, i64>,
    touchpoints: HashMap<String, i64>,
}

impl Known {
    async fn load(conn: &mut Conn) -> Result<Known, ImportError> {
        Ok(Known {
            accounts: repo::external_ids(conn, "accounts").await?,
            contacts: repo::external_ids(conn, "contacts").await?,
            campaigns: repo::external_ids(conn, "campaigns").await?,
            touchpoints: repo::external_ids(conn, "touchpoints").await?,
        })
    }
}

/// Validated rows of one file, ready to write.
enum Batch {
    Accounts(Vec<Account>),
    Campaigns(Vec<Campaign>),
    /// Contacts, and the stage history (by external id) HubSpot's date
    /// columns tell.
    Contacts(Vec<Contact>, Vec<(String, Vec<(Stage, Instant)>)>),
    Touchpoints(Vec<Touchpoint>),
    StageChanges(Vec<StageChange>),
    Deals(Vec<Deal>),
}

impl App {
    /// Imports one file of the given kind (or a HubSpot contact export).
    pub async fn import_file(
        &self,
        kind: ImportKind,
        path: &Path,
        opts: ImportOptions,
        progress: &dyn Progress,
    ) -> Result<FileReport, ImportError> {
        let mut reports = self
            .import_files(&[(kind, path.to_path_buf())], opts, progress)
            .await?;
        Ok(reports.remove(0))
    }

    /// Imports every known file present in `dir`, in dependency order, in
    /// one transaction.
    pub async fn import_dir(
        &self,
        dir: &Path,
        opts: ImportOptions,
        progress: &dyn Progress,
    ) -> Result<Vec<FileReport>, ImportError> {
        if !dir.is_dir() {
            return Err(ImportError::File {
                file: dir.display().to_string(),
                message: "is not a directory".into(),
            });
        }
        let files: Vec<(ImportKind, PathBuf)> = ImportKind::ORDER
            .iter()
            .map(|k| (*k, dir.join(k.file_name())))
            .filter(|(_, p)| p.exists())
            .collect();
        if files.is_empty() {
            return Err(ImportError::File {
                file: dir.display().to_string(),
                message: "holds none of accounts.csv, campaigns.csv, contacts.csv, touchpoints.csv, stage_changes.csv, deals.csv".into(),
            });
        }
        self.import_files(&files, opts, progress).await
    }

    async fn import_files(
        &self,
        files: &[(ImportKind, PathBuf)],
        opts: ImportOptions,
        progress: &dyn Progress,
    ) -> Result<Vec<FileReport>, ImportError> {
        let (_, playbook) = self.playbook().await?;
        let now = self.now();
        let mut tx = self.store().begin().await?;
        let mut known = Known::load(&mut tx).await?;
        let mut reports = Vec::new();
        let mut all_rejected = Vec::new();
        let mut rescore_contacts: HashSet<i64> = HashSet::new();
        let mut imported_contacts: Vec<String> = Vec::new();
        for (kind, path) in files {
            let sheet = read_sheet(path)?;
            progress.start(&sheet.file, sheet.records.len() as u64);
            let (batch, rejected) =
                validate(&mut tx, &playbook, *kind, &sheet, &known, now).await?;
            if let Batch::Contacts(rows, _) = &batch {
                imported_contacts.extend(rows.iter().filter_map(|c| c.external_id.clone()));
            }
            let imported = write(&mut tx, &batch, &mut known, &mut rescore_contacts).await?;
            progress.advance(sheet.records.len() as u64);
            progress.finish();
            all_rejected.extend(rejected.iter().cloned());
            reports.push(FileReport {
                file: sheet.file.clone(),
                kind: *kind,
                rows: sheet.records.len() as u64,
                imported,
                rejected,
            });
        }
        if !all_rejected.is_empty() && !opts.skip_invalid {
            // Dropping the transaction rolls back every file.
            return Err(ImportError::InvalidRows {
                rejected: all_rejected,
            });
        }
        // Scores follow the imported touches; stages come from the history file.
        let mut ids: Vec<i64> = rescore_contacts.into_iter().collect();
        ids.sort_unstable();
        for id in ids {
            let c: Contact = repo::get(&mut tx, id).await?;
            crate::lifecycle::rescore(&mut tx, &playbook, c, now).await?;
        }
        // An imported contact that left MQL leaves the loop: its open handoff closes.
        for ext in &imported_contacts {
            if let Some(&id) = known.contacts.get(ext) {
                let c: Contact = repo::get(&mut tx, id).await?;
                if c.stage != Stage::Mql {
                    crate::lifecycle::close_open_handoff(
                        &mut tx,
                        id,
                        "import",
                        &crate::Actor::system(),
                        now,
                    )
                    .await?;
                }
            }
        }
        if opts.open_handoffs {
            for ext in &imported_contacts {
                let Some(&id) = known.contacts.get(ext) else {
                    continue;
                };
                open_imported_handoff(&mut tx, &playbook, id, now).await?;
            }
        }
        // A dry run ends here: dropping the transaction writes nothing.
        if !opts.dry_run {
            tx.commit()
                .await
                .map_err(smarketing_store::StoreError::from)?;
        }
        Ok(reports)
    }
}

async fn write(
    conn: &mut Conn,
    batch: &Batch,
    known: &mut Known,
    rescore: &mut HashSet<i64>,
) -> Result<u64, ImportError> {
    Ok(match batch {
        Batch::Accounts(rows) => {
            let n = repo::upsert_by_external_id(conn, rows).await?;
            known.accounts = repo::external_ids(conn, "accounts").await?;
            n
        }
        Batch::Campaigns(rows) => {
            let n = repo::upsert_by_external_id(conn, rows).await?;
            known.campaigns = repo::external_ids(conn, "campaigns").await?;
            n
        }
        Batch::Contacts(rows, histories) => {
            let n = repo::upsert_by_external_id(conn, rows).await?;
            known.contacts = repo::external_ids(conn, "contacts").await?;
            let mut changes = Vec::new();
            for (ext, history) in histories {
                let Some(&contact_id) = known.contacts.get(ext) else {
                    continue;
                };
                let mut from = None;
                for (stage, at) in history {
                    changes.push(imported_change(contact_id, from, *stage, *at));
                    from = Some(*stage);
                }
            }
            insert_stage_changes(conn, &changes).await?;
            n
        }
        Batch::Touchpoints(rows) => {
            let n = repo::upsert_by_external_id(conn, rows).await?;
            known.touchpoints = repo::external_ids(conn, "touchpoints").await?;
            rescore.extend(rows.iter().filter_map(|t| t.contact_id));
            n
        }
        Batch::StageChanges(rows) => insert_stage_changes(conn, rows).await?,
        Batch::Deals(rows) => repo::upsert_by_external_id(conn, rows).await?,
    })
}

/// A stage change an import records.
fn imported_change(contact_id: i64, from: Option<Stage>, to: Stage, at: Instant) -> StageChange {
    StageChange {
        id: 0,
        contact_id,
        from_stage: from,
        to_stage: to,
        changed_at: at,
        actor: "import".into(),
        actor_user_id: None,
        cause: smarketing_core::StageCause::Import,
        reason_code: None,
        note: None,
        touchpoint_id: None,
    }
}

/// Opens a handoff for an imported MQL that never had one, from its latest
/// move into MQL (recorded now when its history has none).
async fn open_imported_handoff(
    conn: &mut Conn,
    playbook: &smarketing_core::Playbook,
    contact_id: i64,
    now: smarketing_core::Instant,
) -> Result<(), ImportError> {
    let c: Contact = repo::get(conn, contact_id).await?;
    if c.stage != Stage::Mql {
        return Ok(());
    }
    let had = smarketing_store::filters::HandoffRows {
        contact_id: Some(contact_id),
        ..Default::default()
    }
    .to_where();
    if repo::count(conn, "handoffs", &had).await? > 0 {
        return Ok(());
    }
    let change = match repo::stage_changes_of_contact(conn, contact_id)
        .await?
        .into_iter()
        .rev()
        .find(|s| s.to_stage == Stage::Mql)
    {
        Some(s) => s,
        None => repo::insert(conn, &imported_change(contact_id, None, Stage::Mql, now)).await?,
    };
    crate::handoffs::open_handoff(conn, playbook, &c, &change, now)
        .await
        .map_err(|e| ImportError::File {
            file: c.email.clone(),
            message: format!("opening its handoff: {e}"),
        })?;
    Ok(())
}

/// Adds stage changes, each once: an import run again changes nothing.
async fn insert_stage_changes(conn: &mut Conn, rows: &[StageChange]) -> Result<u64, ImportError> {
    let cols = <StageChange as smarketing_store::Table>::write();
    let args: Vec<Vec<Arg>> = rows.iter().map(repo::Table::write_args).collect();
    Ok(smarketing_store::sql::insert_many(
        conn,
        "stage_changes",
        cols,
        &args,
        "ON CONFLICT (contact_id, to_stage, changed_at) DO NOTHING",
    )
    .await?)
}

/// Draws progress with indicatif (hidden when stderr is not a terminal).
pub struct Bar(pub indicatif::ProgressBar);

impl Bar {
    pub fn new() -> Self {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg:40} [{bar:30}] {pos}/{len} ({per_sec}, {eta})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        Bar(bar)
    }
}

impl Progress for Bar {
    fn start(&self, what: &str, rows: u64) {
        self.0.reset();
        self.0.set_length(rows);
        self.0.set_position(0);
        self.0.set_message(what.to_string());
    }
    fn advance(&self, rows: u64) {
        self.0.inc(rows);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl Default for Bar {
    fn default() -> Self {
        Bar::new()
    }
}
