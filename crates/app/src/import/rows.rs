//! Row validation per file kind: every row of a file is checked against the
//! playbook, the database and the rows before it, and turned into the
//! records to write or into the errors that reject it.

use super::hubspot::{Links, hubspot_contact, is_hubspot};
use super::sheet::{Row, Sheet};
use super::{Batch, ImportError, ImportKind, Known, RowError};
use crate::input::ContactInput;
use crate::lifecycle::new_contact;
use smarketing_core::lifecycle::check_move;
use smarketing_core::{Email, Instant, Invalid, Money, Playbook, Stage};
use smarketing_store::{Account, Campaign, Conn, Contact, Deal, StageChange, Touchpoint, repo};
use std::collections::HashMap;

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

fn resolve(map: &HashMap<String, i64>, what: &str, col: &str, ext: &str) -> Result<i64, Invalid> {
    map.get(ext).copied().ok_or_else(|| {
        Invalid::new(
            "unknown_reference",
            col,
            format!("{what} {ext} does not exist (or its row was rejected)"),
        )
    })
}

/// The rows an import turned away, each error at its file, line and column.
struct Rejected<'a> {
    file: &'a str,
    rows: Vec<RowError>,
}

/// Why a row was turned away: one error, or several found at once.
trait RowErrors {
    fn into_errors(self) -> Vec<Invalid>;
}

impl RowErrors for Invalid {
    fn into_errors(self) -> Vec<Invalid> {
        vec![self]
    }
}

impl RowErrors for Vec<Invalid> {
    fn into_errors(self) -> Vec<Invalid> {
        self
    }
}

/// Reads each row with `read`: the records of the rows it accepts, in file
/// order; the errors of the others go to `rejected`.
fn read_rows<'r, T, E: RowErrors>(
    rows: impl Iterator<Item = (u64, Row<'r>)>,
    rejected: &mut Rejected,
    mut read: impl FnMut(u64, &Row<'r>) -> Result<T, E>,
) -> Vec<T> {
    let mut out = Vec::new();
    for (line, row) in rows {
        match read(line, &row) {
            Ok(record) => out.push(record),
            Err(e) => rejected
                .rows
                .extend(e.into_errors().into_iter().map(|e| RowError {
                    file: rejected.file.to_string(),
                    line,
                    column: Some(e.field.clone()),
                    message: e.message,
                })),
        }
    }
    out
}

pub(super) async fn validate(
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
    let mut rejected = Rejected {
        file: &sheet.file,
        rows: Vec::new(),
    };
    let rows = sheet
        .records
        .iter()
        .map(|(line, rec)| (*line, Row { rec, index: &index }));

    let batch = match kind {
        ImportKind::Accounts => {
            let mut seen_ids: HashMap<String, u64> = HashMap::new();
            let mut seen_domains: HashMap<String, u64> = HashMap::new();
            let existing = domains_by_external(conn).await?;
            Batch::Accounts(read_rows(
                rows,
                &mut rejected,
                |line, row| -> Result<Account, Invalid> {
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
                },
            ))
        }
        ImportKind::Campaigns => {
            let mut seen_ids: HashMap<String, u64> = HashMap::new();
            let mut seen_names: HashMap<String, u64> = HashMap::new();
            Batch::Campaigns(read_rows(
                rows,
                &mut rejected,
                |line, row| -> Result<Campaign, Invalid> {
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
                        channel: channel(playbook, row, "channel")?,
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
                },
            ))
        }
        ImportKind::Contacts => {
            let mut seen_ids: HashMap<String, u64> = HashMap::new();
            let mut seen_emails: HashMap<String, u64> = HashMap::new();
            let existing = emails_by_external(conn).await?;
            let erased = crate::privacy::Tombstones::load(conn, now).await?;
            let links = match hubspot {
                true => {
                    let all = sheet
                        .records
                        .iter()
                        .map(|(line, rec)| (*line, Row { rec, index: &index }));
                    hubspot_links(conn, all, now).await?
                }
                false => Links {
                    companies: HashMap::new(),
                    owners: HashMap::new(),
                },
            };
            let accounts = accounts_by_id(conn).await?;
            let mut histories = Vec::new();
            let contacts = read_rows(
                rows,
                &mut rejected,
                |line, row| -> Result<Contact, Invalid> {
                    let (ext, input, history) = if hubspot {
                        let r = hubspot_contact(playbook, row, &links)?;
                        (r.external_id, r.input, r.history)
                    } else {
                        let (ext, input) = sample_contact(playbook, row, known)?;
                        (ext, input, Vec::new())
                    };
                    first_time(&seen_ids, &ext, "contact_id", format!("contact {ext}"))?;
                    let email = Email::parse(&input.email)
                        .map_err(|e| e.at(if hubspot { "Email" } else { "email" }))?;
                    if erased.cover(email.as_str()) {
                        return Err(crate::privacy::erased_person(if hubspot {
                            "Email"
                        } else {
                            "email"
                        }));
                    }
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
                    if !history.is_empty() {
                        histories.push((ext.clone(), history));
                    }
                    seen_ids.insert(ext, line);
                    seen_emails.insert(email.to_string(), line);
                    Ok(c)
                },
            );
            Batch::Contacts(contacts, histories)
        }
        ImportKind::Touchpoints => {
            let mut seen_ids: HashMap<String, u64> = HashMap::new();
            Batch::Touchpoints(read_rows(
                rows,
                &mut rejected,
                |line, row| -> Result<Touchpoint, Vec<Invalid>> {
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
                    let ch = channel(playbook, row, "channel");
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
                },
            ))
        }
        ImportKind::StageChanges => {
            let owners = touch_owners(conn).await?;
            Batch::StageChanges(read_rows(
                rows,
                &mut rejected,
                |_line, row| -> Result<StageChange, Invalid> {
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
                },
            ))
        }
        ImportKind::Deals => {
            let account_of = contact_accounts(conn).await?;
            let mut seen_ids: HashMap<String, u64> = HashMap::new();
            Batch::Deals(read_rows(
                rows,
                &mut rejected,
                |line, row| -> Result<Deal, Invalid> {
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
                        status: status.parse()?,
                        lost_reason: None,
                        created_at,
                        closed_at,
                        updated_at: now,
                    })
                },
            ))
        }
    };
    Ok((batch, rejected.rows))
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

/// The accounts a HubSpot export's `Company Name`s name — found by the
/// company's e-mail domain (never a free-mail one) or by name, else created
/// — and the users its `Contact owner`s name, by e-mail or name.
async fn hubspot_links<'r>(
    conn: &mut Conn,
    rows: impl Iterator<Item = (u64, Row<'r>)>,
    now: Instant,
) -> Result<Links, ImportError> {
    let mut companies = HashMap::new();
    for (_, row) in rows {
        let Some(name) = row.opt("Company Name") else {
            continue;
        };
        let key = name.trim().to_lowercase();
        if key.is_empty() || companies.contains_key(&key) {
            continue;
        }
        let domain = row
            .opt("Email")
            .and_then(|e| Email::parse(&e).ok())
            .filter(|e| !e.is_free_mail())
            .map(|e| e.domain().to_string());
        let account =
            match repo::account_by_domain_or_name(conn, domain.as_deref(), name.trim()).await? {
                Some(a) => a,
                None => {
                    let input = crate::input::AccountInput {
                        name: name.trim().to_string(),
                        domain,
                        ..Default::default()
                    };
                    crate::accounts::insert_account(conn, &input, now)
                        .await
                        .map_err(|e| ImportError::File {
                            file: "Company Name".into(),
                            message: e.to_string(),
                        })?
                }
            };
        companies.insert(key, account.id);
    }
    let mut owners = HashMap::new();
    for u in repo::users(conn).await? {
        owners.insert(u.email.to_lowercase(), u.id);
        owners.entry(u.name.to_lowercase()).or_insert(u.id);
    }
    Ok(Links { companies, owners })
}

async fn domains_by_external(
    conn: &mut Conn,
) -> Result<HashMap<String, Option<String>>, ImportError> {
    Ok(repo::account_external_ids_by_domain(conn).await?)
}

async fn emails_by_external(
    conn: &mut Conn,
) -> Result<HashMap<String, Option<String>>, ImportError> {
    Ok(repo::contact_external_ids_by_email(conn).await?)
}

async fn accounts_by_id(conn: &mut Conn) -> Result<HashMap<i64, Account>, ImportError> {
    let all: Vec<Account> = repo::all(conn).await?;
    Ok(all.into_iter().map(|a| (a.id, a)).collect())
}

async fn touch_owners(conn: &mut Conn) -> Result<HashMap<i64, Option<i64>>, ImportError> {
    Ok(repo::touchpoint_contacts(conn).await?)
}

async fn contact_accounts(conn: &mut Conn) -> Result<HashMap<i64, Option<i64>>, ImportError> {
    Ok(repo::contact_accounts(conn).await?)
}
