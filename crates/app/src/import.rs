//! CSV import in the format of testdata/README.md (and a HubSpot-style
//! contact export). Every row is checked before anything is written; a bad
//! row is reported with file, line and column. Without `skip_invalid` one bad
//! row stops the import and the database stays as it was; with it, the valid
//! rows go in and the rejected ones are listed. Rows are keyed by their
//! external id, so importing the same file twice changes nothing.

use crate::input::ContactInput;
use crate::lifecycle::new_contact;
use crate::{App, AppError};
use serde::Serialize;
use smarketing_core::lifecycle::check_move;
use smarketing_core::{Email, Instant, Invalid, Money, Playbook, Stage};
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
}

/// One CSV file read into memory: its header and records with line numbers.
struct Sheet {
    file: String,
    header: Vec<String>,
    records: Vec<(u64, csv::StringRecord)>,
}

fn read_sheet(path: &Path) -> Result<Sheet, ImportError> {
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
struct Row<'a> {
    rec: &'a csv::StringRecord,
    index: &'a HashMap<String, usize>,
}

impl Row<'_> {
    fn raw(&self, col: &str) -> &str {
        self.index
            .get(col)
            .and_then(|i| self.rec.get(*i))
            .unwrap_or("")
            .trim()
    }
    fn opt(&self, col: &str) -> Option<String> {
        let v = self.raw(col);
        (!v.is_empty()).then(|| v.to_string())
    }
    fn req(&self, col: &str) -> Result<String, Invalid> {
        self.opt(col)
            .ok_or_else(|| Invalid::new("required", col, "must not be empty"))
    }
    fn id(&self, col: &str) -> Result<String, Invalid> {
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
    fn opt_id(&self, col: &str) -> Result<Option<String>, Invalid> {
        if self.raw(col).is_empty() {
            Ok(None)
        } else {
            self.id(col).map(Some)
        }
    }
    fn instant(&self, col: &str) -> Result<Instant, Invalid> {
        Instant::parse_csv(self.raw(col), col)
    }
    fn opt_instant(&self, col: &str) -> Result<Option<Instant>, Invalid> {
        if self.raw(col).is_empty() {
            Ok(None)
        } else {
            self.instant(col).map(Some)
        }
    }
    fn code(&self, col: &str, allowed: &[&str]) -> Result<String, Invalid> {
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

const COMPANY_SIZES: &[&str] = &["smb", "mid_market", "enterprise"];
const REGIONS: &[&str] = &["NA", "EMEA", "APAC", "LATAM"];

/// Refuses a key seen on an earlier line of the same file.
fn first_time(
    seen: &HashMap<String, u64>,
    key: &str,
    col: &str,
    what: String,
) -> Result<(), Invalid> {
    match seen.get(key) {
        Some(first) => Err(Invalid::new(
            "duplicate_key",
            col,
            format!("{what} already appears on line {first}"),
        )),
        None => Ok(()),
    }
}

fn channel(playbook: &Playbook, row: &Row, col: &str) -> Result<String, Invalid> {
    let v = row.req(col)?;
    if playbook.has_channel(&v) {
        Ok(v)
    } else {
        Err(Invalid::new(
            "unknown_channel",
            col,
            format!("{v:?} is not a channel of the playbook"),
        ))
    }
}

fn domain(v: &str) -> Result<String, Invalid> {
    let ok = v.contains('.')
        && v.split('.').all(|l| {
            !l.is_empty()
                && l.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        });
    if ok {
        Ok(v.to_string())
    } else {
        Err(Invalid::new(
            "invalid_domain",
            "domain",
            format!("{v:?} is not a lower-case domain name"),
        ))
    }
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

fn resolve(map: &HashMap<String, i64>, what: &str, col: &str, ext: &str) -> Result<i64, Invalid> {
    map.get(ext).copied().ok_or_else(|| {
        Invalid::new(
            "unknown_reference",
            col,
            format!("{what} {ext} does not exist (or its row was rejected)"),
        )
    })
}

/// Validated rows of one file, ready to write.
enum Batch {
    Accounts(Vec<Account>),
    Campaigns(Vec<Campaign>),
    Contacts(Vec<Contact>),
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
        for (kind, path) in files {
            let sheet = read_sheet(path)?;
            progress.start(&sheet.file, sheet.records.len() as u64);
            let (batch, rejected) =
                validate(&mut tx, &playbook, *kind, &sheet, &known, now).await?;
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
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(reports)
    }
}

fn is_hubspot(header: &[String]) -> bool {
    header.iter().any(|h| h == "Email")
        && header
            .iter()
            .any(|h| h == "First Name" || h == "Lifecycle Stage")
}

async fn validate(
    conn: &mut Conn,
    playbook: &Playbook,
    kind: ImportKind,
    sheet: &Sheet,
    known: &Known,
    now: Instant,
) -> Result<(Batch, Vec<RowError>), ImportError> {
    let hubspot = kind == ImportKind::Contacts && is_hubspot(&sheet.header);
    if !hubspot {
        let missing: Vec<&str> = kind
            .columns()
            .iter()
            .copied()
            .filter(|c| !sheet.header.iter().any(|h| h == c))
            .collect();
        if !missing.is_empty() {
            return Err(ImportError::File {
                file: sheet.file.clone(),
                message: format!(
                    "line 1: missing column(s) {}; expected {}",
                    missing.join(", "),
                    kind.columns().join(",")
                ),
            });
        }
    }
    let index: HashMap<String, usize> = sheet
        .header
        .iter()
        .enumerate()
        .map(|(i, h)| (h.clone(), i))
        .collect();
    let mut rejected = Vec::new();
    let reject = |rejected: &mut Vec<RowError>, line: u64, errors: Vec<Invalid>| {
        for e in errors {
            rejected.push(RowError {
                file: sheet.file.clone(),
                line,
                column: Some(e.field.clone()),
                message: e.message,
            });
        }
    };
    let rows = sheet
        .records
        .iter()
        .map(|(line, rec)| (*line, Row { rec, index: &index }));

    let batch = match kind {
        ImportKind::Accounts => {
            let mut out = Vec::new();
            let mut seen_ids: HashMap<String, u64> = HashMap::new();
            let mut seen_domains: HashMap<String, u64> = HashMap::new();
            let existing = domains_by_external(conn).await?;
            for (line, row) in rows {
                let parsed = (|| -> Result<Account, Invalid> {
                    let ext = row.id("account_id")?;
                    first_time(&seen_ids, &ext, "account_id", format!("account_id {ext}"))?;
                    let dom = domain(&row.req("domain")?).map_err(|e| e.at("domain"))?;
                    first_time(&seen_domains, &dom, "domain", format!("domain {dom}"))?;
                    if let Some(other) = existing
                        .get(&dom)
                        .filter(|o| o.as_deref() != Some(ext.as_str()))
                    {
                        return Err(Invalid::new(
                            "duplicate_key",
                            "domain",
                            format!(
                                "domain {dom} belongs to another account ({})",
                                other.as_deref().unwrap_or("created in the app")
                            ),
                        ));
                    }
                    let a = Account {
                        id: 0,
                        external_id: Some(ext.clone()),
                        name: row.req("name")?,
                        domain: Some(dom.clone()),
                        industry: row.opt("industry"),
                        employee_count: None,
                        company_size: Some(row.code("company_size", COMPANY_SIZES)?),
                        region: Some(row.code("region", REGIONS)?),
                        country: None,
                        owner_id: None,
                        created_at: now,
                        updated_at: now,
                    };
                    seen_ids.insert(ext, line);
                    seen_domains.insert(dom, line);
                    Ok(a)
                })();
                match parsed {
                    Ok(a) => out.push(a),
                    Err(e) => reject(&mut rejected, line, vec![e]),
                }
            }
            Batch::Accounts(out)
        }
        ImportKind::Campaigns => {
            let mut out = Vec::new();
            let mut seen_ids: HashMap<String, u64> = HashMap::new();
            let mut seen_names: HashMap<String, u64> = HashMap::new();
            for (line, row) in rows {
                let parsed = (|| -> Result<Campaign, Invalid> {
                    let ext = row.id("campaign_id")?;
                    first_time(&seen_ids, &ext, "campaign_id", format!("campaign_id {ext}"))?;
                    let name = row.req("name")?;
                    first_time(&seen_names, &name, "name", "campaign name".to_string())?;
                    let started_at = row.instant("started_at")?;
                    let ended_at = row.opt_instant("ended_at")?;
                    if ended_at.is_some_and(|e| e < started_at) {
                        return Err(Invalid::new(
                            "invalid_range",
                            "ended_at",
                            "ends before it starts",
                        ));
                    }
                    let spend = Money::parse_major(row.raw("spend"), "spend")?;
                    let c = Campaign {
                        id: 0,
                        external_id: Some(ext.clone()),
                        name: name.clone(),
                        channel: channel(playbook, &row, "channel")?,
                        utm_campaign: None,
                        started_at,
                        ended_at,
                        spend_minor: spend.minor(),
                        created_at: now,
                        updated_at: now,
                    };
                    seen_ids.insert(ext, line);
                    seen_names.insert(name, line);
                    Ok(c)
                })();
                match parsed {
                    Ok(c) => out.push(c),
                    Err(e) => reject(&mut rejected, line, vec![e]),
                }
            }
            Batch::Campaigns(out)
        }
        ImportKind::Contacts => {
            let mut out = Vec::new();
            let mut seen_ids: HashMap<String, u64> = HashMap::new();
            let mut seen_emails: HashMap<String, u64> = HashMap::new();
            let existing = emails_by_external(conn).await?;
            let accounts = accounts_by_id(conn).await?;
            for (line, row) in rows {
                let parsed = (|| -> Result<Contact, Invalid> {
                    let (ext, input) = if hubspot {
                        hubspot_contact(playbook, &row)?
                    } else {
                        sample_contact(playbook, &row, known)?
                    };
                    first_time(&seen_ids, &ext, "contact_id", format!("contact {ext}"))?;
                    let email = Email::parse(&input.email)
                        .map_err(|e| e.at(if hubspot { "Email" } else { "email" }))?;
                    if let Some(first) = seen_emails.get(email.as_str()) {
                        return Err(Invalid::new(
                            "duplicate_email",
                            if hubspot { "Email" } else { "email" },
                            format!(
                                "{email} is already the e-mail of the contact on line {first} (e-mails are compared case-insensitively)"
                            ),
                        ));
                    }
                    if let Some(other) = existing
                        .get(email.as_str())
                        .filter(|o| o.as_deref() != Some(ext.as_str()))
                    {
                        return Err(Invalid::new(
                            "duplicate_email",
                            "email",
                            format!(
                                "{email} already belongs to contact {}",
                                other.as_deref().unwrap_or("created in the app")
                            ),
                        ));
                    }
                    let account = input.account_id.and_then(|id| accounts.get(&id));
                    let mut c = new_contact(playbook, &input, account, now)?;
                    c.external_id = Some(ext.clone());
                    seen_ids.insert(ext, line);
                    seen_emails.insert(email.to_string(), line);
                    Ok(c)
                })();
                match parsed {
                    Ok(c) => out.push(c),
                    Err(e) => reject(&mut rejected, line, vec![e]),
                }
            }
            Batch::Contacts(out)
        }
        ImportKind::Touchpoints => {
            let mut out = Vec::new();
            let mut seen_ids: HashMap<String, u64> = HashMap::new();
            for (line, row) in rows {
                let parsed = (|| -> Result<Touchpoint, Vec<Invalid>> {
                    let ext = row.id("touchpoint_id").map_err(|e| vec![e])?;
                    first_time(
                        &seen_ids,
                        &ext,
                        "touchpoint_id",
                        format!("touchpoint_id {ext}"),
                    )
                    .map_err(|e| vec![e])?;
                    // Check every column, so that a row with several defects
                    // reports all of them at once.
                    let contact_id = row
                        .id("contact_id")
                        .and_then(|c| resolve(&known.contacts, "contact", "contact_id", &c));
                    let occurred_at = row.instant("occurred_at");
                    let ch = channel(playbook, &row, "channel");
                    let campaign_id = row.opt_id("campaign_id").and_then(|c| {
                        c.map(|c| resolve(&known.campaigns, "campaign", "campaign_id", &c))
                            .transpose()
                    });
                    let kind = match row.opt("kind") {
                        Some(k) if !playbook.has_touch_kind(&k) => Err(Invalid::new(
                            "unknown_kind",
                            "kind",
                            format!("{k:?} is not a touch kind of the playbook"),
                        )),
                        k => Ok(k),
                    };
                    let errors: Vec<Invalid> = [
                        contact_id.as_ref().err(),
                        occurred_at.as_ref().err(),
                        ch.as_ref().err(),
                        campaign_id.as_ref().err(),
                        kind.as_ref().err(),
                    ]
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect();
                    let (Ok(contact_id), Ok(occurred_at), Ok(ch), Ok(campaign_id), Ok(kind)) =
                        (contact_id, occurred_at, ch, campaign_id, kind)
                    else {
                        return Err(errors);
                    };
                    seen_ids.insert(ext.clone(), line);
                    Ok(Touchpoint {
                        id: 0,
                        external_id: Some(ext),
                        contact_id: Some(contact_id),
                        visitor_id: None,
                        occurred_at,
                        channel: ch,
                        campaign_id,
                        kind,
                        utm_source: None,
                        utm_medium: None,
                        utm_campaign: None,
                        utm_term: None,
                        utm_content: None,
                        referrer: None,
                        properties: serde_json::json!({}),
                        created_at: now,
                    })
                })();
                match parsed {
                    Ok(t) => out.push(t),
                    Err(e) => reject(&mut rejected, line, e),
                }
            }
            Batch::Touchpoints(out)
        }
        ImportKind::StageChanges => {
            let owners = touch_owners(conn).await?;
            let mut out = Vec::new();
            for (line, row) in rows {
                let parsed = (|| -> Result<StageChange, Invalid> {
                    let contact_id = resolve(
                        &known.contacts,
                        "contact",
                        "contact_id",
                        &row.id("contact_id")?,
                    )?;
                    let from = row
                        .opt("from_stage")
                        .map(|s| s.parse::<Stage>().map_err(|e| e.at("from_stage")))
                        .transpose()?;
                    let to: Stage = row
                        .req("to_stage")?
                        .parse()
                        .map_err(|e: Invalid| e.at("to_stage"))?;
                    check_move(playbook, from, to, Some("not_ready"))
                        .map_err(|e| Invalid::new(e.code(), "to_stage", e.to_string()))?;
                    let changed_at = row.instant("changed_at")?;
                    let touchpoint_id = match row.opt_id("touchpoint_id")? {
                        Some(t) => {
                            let id =
                                resolve(&known.touchpoints, "touchpoint", "touchpoint_id", &t)?;
                            if owners
                                .get(&id)
                                .is_some_and(|owner| *owner != Some(contact_id))
                            {
                                return Err(Invalid::new(
                                    "unknown_reference",
                                    "touchpoint_id",
                                    format!("touchpoint {t} is not a touch of this contact"),
                                ));
                            }
                            Some(id)
                        }
                        None => None,
                    };
                    Ok(StageChange {
                        id: 0,
                        contact_id,
                        from_stage: from,
                        to_stage: to,
                        changed_at,
                        actor: "import".into(),
                        actor_user_id: None,
                        cause: smarketing_core::StageCause::Import,
                        reason_code: None,
                        note: None,
                        touchpoint_id,
                    })
                })();
                match parsed {
                    Ok(s) => out.push(s),
                    Err(e) => reject(&mut rejected, line, vec![e]),
                }
            }
            Batch::StageChanges(out)
        }
        ImportKind::Deals => {
            let account_of = contact_accounts(conn).await?;
            let mut out = Vec::new();
            let mut seen_ids: HashMap<String, u64> = HashMap::new();
            for (line, row) in rows {
                let parsed = (|| -> Result<Deal, Invalid> {
                    let ext = row.id("deal_id")?;
                    first_time(&seen_ids, &ext, "deal_id", format!("deal_id {ext}"))?;
                    let contact_id = resolve(
                        &known.contacts,
                        "contact",
                        "contact_id",
                        &row.id("contact_id")?,
                    )?;
                    let created_at = row.instant("created_at")?;
                    let closed_at = row.opt_instant("closed_at")?;
                    let status = row.code("status", &["open", "won", "lost"])?;
                    match (status.as_str(), closed_at) {
                        ("open", Some(_)) => {
                            return Err(Invalid::new(
                                "invalid_close",
                                "closed_at",
                                "an open deal has no close date",
                            ));
                        }
                        ("won" | "lost", None) => {
                            return Err(Invalid::new(
                                "required",
                                "closed_at",
                                "a won or lost deal needs a close date",
                            ));
                        }
                        (_, Some(c)) if c < created_at => {
                            return Err(Invalid::new(
                                "invalid_range",
                                "closed_at",
                                "closes before it was created",
                            ));
                        }
                        _ => {}
                    }
                    let amount = Money::parse_major(row.raw("amount"), "amount")?;
                    seen_ids.insert(ext.clone(), line);
                    Ok(Deal {
                        id: 0,
                        name: format!("Deal {ext}"),
                        external_id: Some(ext),
                        contact_id: Some(contact_id),
                        account_id: account_of.get(&contact_id).copied().flatten(),
                        owner_id: None,
                        amount_minor: amount.minor(),
                        pipeline_stage: if status == "open" {
                            playbook.pipeline_stages[0].clone()
                        } else {
                            playbook.pipeline_stages.last().cloned().unwrap_or_default()
                        },
                        status,
                        lost_reason: None,
                        created_at,
                        closed_at,
                        updated_at: now,
                    })
                })();
                match parsed {
                    Ok(d) => out.push(d),
                    Err(e) => reject(&mut rejected, line, vec![e]),
                }
            }
            Batch::Deals(out)
        }
    };
    Ok((batch, rejected))
}

fn sample_contact(
    playbook: &Playbook,
    row: &Row,
    known: &Known,
) -> Result<(String, ContactInput), Invalid> {
    let ext = row.id("contact_id")?;
    let account_id = row
        .opt_id("account_id")?
        .map(|a| resolve(&known.accounts, "account", "account_id", &a))
        .transpose()?;
    let persona = row.opt("persona");
    if let Some(p) = &persona
        && !playbook.has_persona(p)
    {
        return Err(Invalid::new(
            "unknown_persona",
            "persona",
            format!("{p:?} is not a persona of the playbook"),
        ));
    }
    let source = channel(playbook, row, "source")?;
    let created_at = row.instant("created_at")?;
    let stage = row.req("current_stage")?;
    stage.parse::<Stage>().map_err(|e| e.at("current_stage"))?;
    Ok((
        ext.clone(),
        ContactInput {
            email: row.req("email")?,
            first_name: row.opt("first_name"),
            last_name: row.opt("last_name"),
            job_title: row.opt("job_title"),
            account_id,
            persona,
            stage: Some(stage),
            source_channel: Some(source),
            external_id: Some(ext),
            created_at: Some(created_at),
            ..Default::default()
        },
    ))
}

/// Maps a HubSpot contact export row onto a contact.
fn hubspot_contact(playbook: &Playbook, row: &Row) -> Result<(String, ContactInput), Invalid> {
    let email = row.req("Email").map_err(|e| e.at("Email"))?;
    let ext = match row.opt("Record ID").or_else(|| row.opt("Contact ID")) {
        Some(id) => format!("hubspot:{id}"),
        None => format!("hubspot:{}", email.trim().to_lowercase()),
    };
    let stage = match row.opt("Lifecycle Stage") {
        None => None,
        Some(s) => Some(hubspot_stage(&s).ok_or_else(|| {
            Invalid::new(
                "unknown_stage",
                "Lifecycle Stage",
                format!("{s:?} is not a HubSpot lifecycle stage"),
            )
        })?),
    };
    let created_at = row
        .opt("Create Date")
        .map(|d| hubspot_date(&d))
        .transpose()?;
    let source = row
        .opt("Original Source")
        .and_then(|s| hubspot_source(&s))
        .filter(|c| playbook.has_channel(c));
    Ok((
        ext.clone(),
        ContactInput {
            email,
            first_name: row.opt("First Name"),
            last_name: row.opt("Last Name"),
            job_title: row.opt("Job Title"),
            phone: row.opt("Phone Number"),
            country: row.opt("Country/Region").or_else(|| row.opt("Country")),
            stage: stage.map(|s| s.as_str().to_string()),
            source_channel: source.map(str::to_string),
            external_id: Some(ext),
            created_at,
            ..Default::default()
        },
    ))
}

fn hubspot_stage(s: &str) -> Option<Stage> {
    let k: String = s
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    Some(match k.as_str() {
        "subscriber" => Stage::Subscriber,
        "lead" | "other" => Stage::Lead,
        "marketingqualifiedlead" | "mql" => Stage::Mql,
        "salesqualifiedlead" | "sql" => Stage::Sql,
        "salesacceptedlead" | "sal" => Stage::Sal,
        "opportunity" => Stage::Opportunity,
        "customer" => Stage::Customer,
        "evangelist" => Stage::Evangelist,
        _ => return None,
    })
}

fn hubspot_source(s: &str) -> Option<&'static str> {
    let k: String = s
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    Some(match k.as_str() {
        "organic_search" => "organic_search",
        "paid_search" => "paid_search",
        "email_marketing" | "email" => "email",
        "organic_social" | "social_media" => "social",
        "paid_social" => "paid_social",
        "referrals" | "referral" => "referral",
        "direct_traffic" | "direct" => "direct",
        "offline_sources" | "offline" => "events",
        _ => return None,
    })
}

/// HubSpot writes dates as `2024-01-15 10:23`, with seconds, as a bare date
/// or as RFC 3339; bare forms are taken as UTC.
fn hubspot_date(s: &str) -> Result<Instant, Invalid> {
    let t = s.trim();
    if let Ok(i) = Instant::parse(t, "Create Date") {
        return Ok(i);
    }
    for fmt in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(dt) = jiff::civil::DateTime::strptime(fmt, t) {
            return dt
                .to_zoned(jiff::tz::TimeZone::UTC)
                .map(|z| Instant::from(z.timestamp()))
                .map_err(|_| bad_date(s));
        }
    }
    if let Ok(d) = jiff::civil::Date::strptime("%Y-%m-%d", t) {
        return d
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| Instant::from(z.timestamp()))
            .map_err(|_| bad_date(s));
    }
    Err(bad_date(s))
}

fn bad_date(s: &str) -> Invalid {
    Invalid::new(
        "invalid_instant",
        "Create Date",
        format!("{s:?} is not a date such as 2024-01-15 10:23"),
    )
}

async fn domains_by_external(
    conn: &mut Conn,
) -> Result<HashMap<String, Option<String>>, ImportError> {
    Ok(pairs(
        conn,
        "SELECT domain, external_id FROM accounts WHERE domain IS NOT NULL",
    )
    .await?)
}

async fn emails_by_external(
    conn: &mut Conn,
) -> Result<HashMap<String, Option<String>>, ImportError> {
    Ok(pairs(conn, "SELECT email, external_id FROM contacts").await?)
}

async fn pairs(
    conn: &mut Conn,
    sql: &str,
) -> Result<HashMap<String, Option<String>>, smarketing_store::StoreError> {
    repo::string_pairs(conn, sql).await
}

async fn accounts_by_id(conn: &mut Conn) -> Result<HashMap<i64, Account>, ImportError> {
    let sql = format!(
        "SELECT {} FROM accounts",
        <Account as smarketing_store::records::FromRow>::COLUMNS
    );
    let all: Vec<Account> = repo::fetch(conn, &sql, &[]).await?;
    Ok(all.into_iter().map(|a| (a.id, a)).collect())
}

async fn touch_owners(conn: &mut Conn) -> Result<HashMap<i64, Option<i64>>, ImportError> {
    Ok(repo::id_pairs(conn, "SELECT id, contact_id FROM touchpoints").await?)
}

async fn contact_accounts(conn: &mut Conn) -> Result<HashMap<i64, Option<i64>>, ImportError> {
    Ok(repo::id_pairs(conn, "SELECT id, account_id FROM contacts").await?)
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
        Batch::Contacts(rows) => {
            let n = repo::upsert_by_external_id(conn, rows).await?;
            known.contacts = repo::external_ids(conn, "contacts").await?;
            n
        }
        Batch::Touchpoints(rows) => {
            let n = repo::upsert_by_external_id(conn, rows).await?;
            known.touchpoints = repo::external_ids(conn, "touchpoints").await?;
            rescore.extend(rows.iter().filter_map(|t| t.contact_id));
            n
        }
        Batch::StageChanges(rows) => {
            let cols = <StageChange as repo::Table>::WRITE;
            let args: Vec<Vec<Arg>> = rows.iter().map(repo::Table::write_args).collect();
            smarketing_store::sql::insert_many(
                conn,
                "stage_changes",
                cols,
                &args,
                "ON CONFLICT (contact_id, to_stage, changed_at) DO NOTHING",
            )
            .await?
        }
        Batch::Deals(rows) => repo::upsert_by_external_id(conn, rows).await?,
    })
}
