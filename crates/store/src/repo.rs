//! Reading and writing records. One SQL text per operation serves both
//! backends; generic helpers cover the shape every table shares (insert,
//! update, get by id, keyset pages).

use crate::StoreError;
use crate::records::*;
use crate::sql::{Arg, Page, Where, bind_all, decode_cursor, encode_cursor, insert_many};
use smarketing_core::segment::{Dimension, Segment};
use smarketing_core::{Instant, Team};
use sqlx::AnyConnection;

/// A table whose rows are written from a record.
pub trait Table: FromRow {
    const TABLE: &'static str;
    /// Every column but `id`, in the order of [`Table::write_args`].
    const WRITE: &'static [&'static str];
    fn write_args(&self) -> Vec<Arg>;
    fn id(&self) -> i64;
    /// Columns (or column-name prefixes) a re-import — an upsert by
    /// external id — leaves as they are: state the system keeps, not data
    /// the file carries.
    const KEEP_ON_UPSERT: &'static [&'static str] = &[];
}

fn ms(i: Instant) -> Arg {
    Arg::Int(Some(i.millis()))
}
fn opt_ms(i: Option<Instant>) -> Arg {
    Arg::Int(i.map(Instant::millis))
}

impl Table for Account {
    fn id(&self) -> i64 {
        self.id
    }
    const TABLE: &'static str = "accounts";
    const WRITE: &'static [&'static str] = &[
        "external_id",
        "name",
        "domain",
        "industry",
        "employee_count",
        "company_size",
        "region",
        "country",
        "owner_id",
        "created_at",
        "updated_at",
    ];
    fn write_args(&self) -> Vec<Arg> {
        vec![
            self.external_id.clone().into(),
            self.name.clone().into(),
            self.domain.clone().into(),
            self.industry.clone().into(),
            self.employee_count.into(),
            self.company_size.clone().into(),
            self.region.clone().into(),
            self.country.clone().into(),
            self.owner_id.into(),
            ms(self.created_at),
            ms(self.updated_at),
        ]
    }
}

impl Table for Contact {
    fn id(&self) -> i64 {
        self.id
    }
    const TABLE: &'static str = "contacts";
    // Merges and touches set these; a contacts file knows nothing of them.
    const KEEP_ON_UPSERT: &'static [&'static str] =
        &["merged_into_id", "first_touch_", "last_touch_"];
    const WRITE: &'static [&'static str] = &[
        "external_id",
        "email",
        "first_name",
        "last_name",
        "job_title",
        "phone",
        "country",
        "account_id",
        "owner_id",
        "persona",
        "stage",
        "source_channel",
        "fit_score",
        "engagement_score",
        "scored_at",
        "first_touch_id",
        "first_touch_at",
        "first_touch_channel",
        "first_touch_utm_source",
        "first_touch_utm_medium",
        "first_touch_utm_campaign",
        "first_touch_utm_term",
        "first_touch_utm_content",
        "first_touch_referrer",
        "last_touch_id",
        "last_touch_at",
        "last_touch_channel",
        "last_touch_utm_source",
        "last_touch_utm_medium",
        "last_touch_utm_campaign",
        "last_touch_utm_term",
        "last_touch_utm_content",
        "last_touch_referrer",
        "merged_into_id",
        "created_at",
        "updated_at",
    ];
    fn write_args(&self) -> Vec<Arg> {
        let mut args = vec![
            self.external_id.clone().into(),
            self.email.clone().into(),
            self.first_name.clone().into(),
            self.last_name.clone().into(),
            self.job_title.clone().into(),
            self.phone.clone().into(),
            self.country.clone().into(),
            self.account_id.into(),
            self.owner_id.into(),
            self.persona.clone().into(),
            self.stage.as_str().into(),
            self.source_channel.clone().into(),
            self.fit_score.into(),
            self.engagement_score.into(),
            opt_ms(self.scored_at),
        ];
        args.extend(origin_args(self.first_touch.as_ref()));
        args.extend(origin_args(self.last_touch.as_ref()));
        args.extend([
            self.merged_into_id.into(),
            ms(self.created_at),
            ms(self.updated_at),
        ]);
        args
    }
}

/// A first or last touch as its columns (`id`, `at`, `channel`, the UTM
/// fields, `referrer`), as [`Contact`]'s write list names them.
fn origin_args(o: Option<&TouchOrigin>) -> [Arg; 9] {
    let text = |f: fn(&TouchOrigin) -> &Option<String>| Arg::from(o.and_then(|o| f(o).clone()));
    [
        o.map(|o| o.touchpoint_id).into(),
        opt_ms(o.map(|o| o.occurred_at)),
        o.map(|o| o.channel.clone()).into(),
        text(|o| &o.utm_source),
        text(|o| &o.utm_medium),
        text(|o| &o.utm_campaign),
        text(|o| &o.utm_term),
        text(|o| &o.utm_content),
        text(|o| &o.referrer),
    ]
}

impl Table for Campaign {
    fn id(&self) -> i64 {
        self.id
    }
    const TABLE: &'static str = "campaigns";
    const WRITE: &'static [&'static str] = &[
        "external_id",
        "name",
        "channel",
        "utm_campaign",
        "started_at",
        "ended_at",
        "spend_minor",
        "created_at",
        "updated_at",
    ];
    fn write_args(&self) -> Vec<Arg> {
        vec![
            self.external_id.clone().into(),
            self.name.clone().into(),
            self.channel.clone().into(),
            self.utm_campaign.clone().into(),
            ms(self.started_at),
            opt_ms(self.ended_at),
            self.spend_minor.into(),
            ms(self.created_at),
            ms(self.updated_at),
        ]
    }
}

impl Table for Touchpoint {
    fn id(&self) -> i64 {
        self.id
    }
    const TABLE: &'static str = "touchpoints";
    const WRITE: &'static [&'static str] = &[
        "external_id",
        "contact_id",
        "visitor_id",
        "occurred_at",
        "channel",
        "campaign_id",
        "kind",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
        "referrer",
        "properties",
        "created_at",
    ];
    fn write_args(&self) -> Vec<Arg> {
        vec![
            self.external_id.clone().into(),
            self.contact_id.into(),
            self.visitor_id.into(),
            ms(self.occurred_at),
            self.channel.clone().into(),
            self.campaign_id.into(),
            self.kind.clone().into(),
            self.utm_source.clone().into(),
            self.utm_medium.clone().into(),
            self.utm_campaign.clone().into(),
            self.utm_term.clone().into(),
            self.utm_content.clone().into(),
            self.referrer.clone().into(),
            self.properties.to_string().into(),
            ms(self.created_at),
        ]
    }
}

impl Table for StageChange {
    fn id(&self) -> i64 {
        self.id
    }
    const TABLE: &'static str = "stage_changes";
    const WRITE: &'static [&'static str] = &[
        "contact_id",
        "from_stage",
        "to_stage",
        "changed_at",
        "actor",
        "actor_user_id",
        "cause",
        "reason_code",
        "note",
        "touchpoint_id",
    ];
    fn write_args(&self) -> Vec<Arg> {
        vec![
            self.contact_id.into(),
            self.from_stage.map(|s| s.as_str()).into(),
            self.to_stage.as_str().into(),
            ms(self.changed_at),
            self.actor.clone().into(),
            self.actor_user_id.into(),
            self.cause.as_str().into(),
            self.reason_code.clone().into(),
            self.note.clone().into(),
            self.touchpoint_id.into(),
        ]
    }
}

impl Table for Deal {
    fn id(&self) -> i64 {
        self.id
    }
    const TABLE: &'static str = "deals";
    const WRITE: &'static [&'static str] = &[
        "external_id",
        "name",
        "contact_id",
        "account_id",
        "owner_id",
        "amount_minor",
        "pipeline_stage",
        "status",
        "lost_reason",
        "created_at",
        "closed_at",
        "updated_at",
    ];
    fn write_args(&self) -> Vec<Arg> {
        vec![
            self.external_id.clone().into(),
            self.name.clone().into(),
            self.contact_id.into(),
            self.account_id.into(),
            self.owner_id.into(),
            self.amount_minor.into(),
            self.pipeline_stage.clone().into(),
            self.status.clone().into(),
            self.lost_reason.clone().into(),
            ms(self.created_at),
            opt_ms(self.closed_at),
            ms(self.updated_at),
        ]
    }
}

impl Table for Activity {
    fn id(&self) -> i64 {
        self.id
    }
    const TABLE: &'static str = "activities";
    const WRITE: &'static [&'static str] = &[
        "contact_id",
        "deal_id",
        "user_id",
        "kind",
        "outcome",
        "subject",
        "body",
        "occurred_at",
        "created_at",
        "updated_at",
    ];
    fn write_args(&self) -> Vec<Arg> {
        vec![
            self.contact_id.into(),
            self.deal_id.into(),
            self.user_id.into(),
            self.kind.clone().into(),
            self.outcome.clone().into(),
            self.subject.clone().into(),
            self.body.clone().into(),
            ms(self.occurred_at),
            ms(self.created_at),
            ms(self.updated_at),
        ]
    }
}

impl Table for Note {
    fn id(&self) -> i64 {
        self.id
    }
    const TABLE: &'static str = "notes";
    const WRITE: &'static [&'static str] = &[
        "contact_id",
        "account_id",
        "deal_id",
        "author_id",
        "body",
        "created_at",
        "updated_at",
    ];
    fn write_args(&self) -> Vec<Arg> {
        vec![
            self.contact_id.into(),
            self.account_id.into(),
            self.deal_id.into(),
            self.author_id.into(),
            self.body.clone().into(),
            ms(self.created_at),
            ms(self.updated_at),
        ]
    }
}

impl Table for User {
    fn id(&self) -> i64 {
        self.id
    }
    const TABLE: &'static str = "users";
    const WRITE: &'static [&'static str] = &["name", "email", "team", "role", "created_at"];
    fn write_args(&self) -> Vec<Arg> {
        vec![
            self.name.clone().into(),
            self.email.clone().into(),
            self.team.as_str().into(),
            self.role.as_str().into(),
            ms(self.created_at),
        ]
    }
}

fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Inserts a record and returns it as stored (with its new id).
pub async fn insert<T: Table>(conn: &mut AnyConnection, record: &T) -> Result<T, StoreError> {
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({}) RETURNING {}",
        T::TABLE,
        T::WRITE.join(", "),
        placeholders(T::WRITE.len()),
        T::COLUMNS
    );
    let row = bind_all(sqlx::query(&sql), &record.write_args())
        .fetch_one(conn)
        .await?;
    T::from_row(&row)
}

/// Writes every column of the record with this id.
pub async fn update<T: Table>(
    conn: &mut AnyConnection,
    id: i64,
    record: &T,
) -> Result<T, StoreError> {
    let sets: Vec<String> = T::WRITE
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ${}", i + 1))
        .collect();
    let sql = format!(
        "UPDATE {} SET {} WHERE id = ${} RETURNING {}",
        T::TABLE,
        sets.join(", "),
        T::WRITE.len() + 1,
        T::COLUMNS
    );
    let mut args = record.write_args();
    args.push(id.into());
    let row = bind_all(sqlx::query(&sql), &args)
        .fetch_optional(conn)
        .await?;
    T::from_row(&row.ok_or(StoreError::NotFound)?)
}

pub async fn get<T: Table>(conn: &mut AnyConnection, id: i64) -> Result<T, StoreError> {
    let sql = format!("SELECT {} FROM {} WHERE id = $1", T::COLUMNS, T::TABLE);
    let row = sqlx::query(&sql).bind(id).fetch_optional(conn).await?;
    T::from_row(&row.ok_or(StoreError::NotFound)?)
}

/// Rows matching `sql` (which selects `T::COLUMNS`) with its arguments.
pub async fn fetch<T: FromRow>(
    conn: &mut AnyConnection,
    sql: &str,
    args: &[Arg],
) -> Result<Vec<T>, StoreError> {
    let rows = bind_all(sqlx::query(sql), args).fetch_all(conn).await?;
    rows.iter().map(T::from_row).collect()
}

/// One page of `T` matching `filter`, in id order, after `cursor`.
pub async fn page<T: Table>(
    conn: &mut AnyConnection,
    mut filter: Where,
    cursor: Option<&str>,
    limit: u32,
) -> Result<Page<T>, StoreError> {
    let after = match cursor {
        Some(c) => Some(decode_cursor(c).ok_or_else(|| StoreError::Check("cursor".into()))?),
        None => None,
    };
    filter.and(&format!("{}.id > ?", T::TABLE), after);
    let sql = format!(
        "SELECT {} FROM {}{} ORDER BY {}.id LIMIT {}",
        qualified(T::COLUMNS, T::TABLE),
        T::TABLE,
        filter.clause(),
        T::TABLE,
        limit as u64 + 1
    );
    let mut items: Vec<T> = fetch(conn, &sql, &filter.args).await?;
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|last| encode_cursor(last.id()))
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

fn qualified(columns: &str, table: &str) -> String {
    columns
        .split(", ")
        .map(|c| format!("{table}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Upserts rows keyed by `external_id`, updating every column but
/// `created_at`/`updated_at` on a repeat. Returns the rows touched.
pub async fn upsert_by_external_id<T: Table>(
    conn: &mut AnyConnection,
    records: &[T],
) -> Result<u64, StoreError> {
    let sets: Vec<String> = T::WRITE
        .iter()
        .filter(|c| {
            !matches!(**c, "external_id" | "created_at" | "updated_at")
                && !T::KEEP_ON_UPSERT.iter().any(|k| c.starts_with(k))
        })
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    let tail = format!(
        "ON CONFLICT (external_id) DO UPDATE SET {}",
        sets.join(", ")
    );
    let rows: Vec<Vec<Arg>> = records.iter().map(Table::write_args).collect();
    insert_many(conn, T::TABLE, T::WRITE, &rows, &tail).await
}

/// Inserts rows with ids chosen by the caller (bulk generation), then moves
/// PostgreSQL's id sequence past them.
pub async fn insert_with_ids<T: Table>(
    conn: &mut AnyConnection,
    backend: crate::Backend,
    rows: &[(i64, T)],
) -> Result<u64, StoreError> {
    let mut cols = vec!["id"];
    cols.extend_from_slice(T::WRITE);
    let args: Vec<Vec<Arg>> = rows
        .iter()
        .map(|(id, r)| {
            let mut a = vec![Arg::from(*id)];
            a.extend(r.write_args());
            a
        })
        .collect();
    let n = insert_many(conn, T::TABLE, &cols, &args, "").await?;
    if backend == crate::Backend::Postgres {
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT COALESCE(MAX(id), 1) FROM {t}))",
            t = T::TABLE
        );
        sqlx::query(&sql).execute(conn).await?;
    }
    Ok(n)
}

/// Maps external ids of a table to internal ids.
pub async fn external_ids(
    conn: &mut AnyConnection,
    table: &str,
) -> Result<std::collections::HashMap<String, i64>, StoreError> {
    use sqlx::Row;
    let sql = format!("SELECT external_id, id FROM {table} WHERE external_id IS NOT NULL");
    let rows = sqlx::query(&sql).fetch_all(conn).await?;
    rows.iter()
        .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from_sqlx)
}

/// Counts rows of a table matching a filter.
pub async fn count(
    conn: &mut AnyConnection,
    table: &str,
    filter: &Where,
) -> Result<i64, StoreError> {
    use sqlx::Row;
    let sql = format!("SELECT COUNT(*) FROM {table}{}", filter.clause());
    let row = bind_all(sqlx::query(&sql), &filter.args)
        .fetch_one(conn)
        .await?;
    row.try_get::<i64, _>(0).map_err(StoreError::from_sqlx)
}

// ---- per-table reads that the generic helpers do not cover ----

pub async fn contact_by_email(
    conn: &mut AnyConnection,
    email: &str,
) -> Result<Option<Contact>, StoreError> {
    let sql = format!("SELECT {} FROM contacts WHERE email = $1", Contact::COLUMNS);
    Ok(fetch(conn, &sql, &[email.into()]).await?.pop())
}

pub async fn account_by_external_id(
    conn: &mut AnyConnection,
    external_id: &str,
) -> Result<Option<Account>, StoreError> {
    let sql = format!(
        "SELECT {} FROM accounts WHERE external_id = $1",
        Account::COLUMNS
    );
    Ok(fetch(conn, &sql, &[external_id.into()]).await?.pop())
}

pub async fn campaign_by_utm(
    conn: &mut AnyConnection,
    utm_campaign: &str,
) -> Result<Option<Campaign>, StoreError> {
    let sql = format!(
        "SELECT {} FROM campaigns WHERE utm_campaign = $1 ORDER BY id LIMIT 1",
        Campaign::COLUMNS
    );
    Ok(fetch(conn, &sql, &[utm_campaign.into()]).await?.pop())
}

pub async fn touchpoints_of_contact(
    conn: &mut AnyConnection,
    contact_id: i64,
) -> Result<Vec<Touchpoint>, StoreError> {
    let sql = format!(
        "SELECT {} FROM touchpoints WHERE contact_id = $1 ORDER BY occurred_at, id",
        Touchpoint::COLUMNS
    );
    fetch(conn, &sql, &[contact_id.into()]).await
}

pub async fn stage_changes_of_contact(
    conn: &mut AnyConnection,
    contact_id: i64,
) -> Result<Vec<StageChange>, StoreError> {
    let sql = format!(
        "SELECT {} FROM stage_changes WHERE contact_id = $1 ORDER BY changed_at, id",
        StageChange::COLUMNS
    );
    fetch(conn, &sql, &[contact_id.into()]).await
}

pub async fn activities_of_contact(
    conn: &mut AnyConnection,
    contact_id: i64,
) -> Result<Vec<Activity>, StoreError> {
    let sql = format!(
        "SELECT {} FROM activities WHERE contact_id = $1 ORDER BY occurred_at, id",
        Activity::COLUMNS
    );
    fetch(conn, &sql, &[contact_id.into()]).await
}

pub async fn notes_of_contact(
    conn: &mut AnyConnection,
    contact_id: i64,
) -> Result<Vec<Note>, StoreError> {
    let sql = format!(
        "SELECT {} FROM notes WHERE contact_id = $1 ORDER BY created_at, id",
        Note::COLUMNS
    );
    fetch(conn, &sql, &[contact_id.into()]).await
}

pub async fn user_by_email(
    conn: &mut AnyConnection,
    email: &str,
) -> Result<Option<User>, StoreError> {
    let sql = format!("SELECT {} FROM users WHERE email = $1", User::COLUMNS);
    Ok(fetch(conn, &sql, &[email.into()]).await?.pop())
}

pub async fn users(conn: &mut AnyConnection) -> Result<Vec<User>, StoreError> {
    let sql = format!("SELECT {} FROM users ORDER BY id", User::COLUMNS);
    fetch(conn, &sql, &[]).await
}

/// Stores a token hash for a user.
pub async fn insert_token(
    conn: &mut AnyConnection,
    user_id: i64,
    name: &str,
    token_hash: &str,
    now: Instant,
) -> Result<i64, StoreError> {
    use sqlx::Row;
    let row = sqlx::query("INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
        .bind(user_id)
        .bind(name)
        .bind(token_hash)
        .bind(now.millis())
        .fetch_one(conn)
        .await?;
    row.try_get::<i64, _>(0).map_err(StoreError::from_sqlx)
}

/// The user behind an unrevoked token hash.
pub async fn token_owner(
    conn: &mut AnyConnection,
    token_hash: &str,
) -> Result<Option<TokenOwner>, StoreError> {
    use sqlx::Row;
    let sql = format!(
        "SELECT t.id AS token_id, {} FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
        qualified(User::COLUMNS, "u")
    );
    let Some(row) = sqlx::query(&sql)
        .bind(token_hash)
        .fetch_optional(conn)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(TokenOwner {
        token_id: row.try_get::<i64, _>("token_id")?,
        user: User::from_row(&row)?,
    }))
}

pub async fn latest_playbook(
    conn: &mut AnyConnection,
) -> Result<Option<PlaybookVersion>, StoreError> {
    let sql = format!(
        "SELECT {} FROM playbook_versions ORDER BY version DESC LIMIT 1",
        PlaybookVersion::COLUMNS
    );
    Ok(fetch(conn, &sql, &[]).await?.pop())
}

pub async fn playbook_version(
    conn: &mut AnyConnection,
    version: i64,
) -> Result<PlaybookVersion, StoreError> {
    let sql = format!(
        "SELECT {} FROM playbook_versions WHERE version = $1",
        PlaybookVersion::COLUMNS
    );
    fetch(conn, &sql, &[version.into()])
        .await?
        .pop()
        .ok_or(StoreError::NotFound)
}

pub async fn playbook_versions(
    conn: &mut AnyConnection,
) -> Result<Vec<PlaybookVersion>, StoreError> {
    let sql = format!(
        "SELECT {} FROM playbook_versions ORDER BY version",
        PlaybookVersion::COLUMNS
    );
    fetch(conn, &sql, &[]).await
}

/// The latest version number (0 when none), cheap enough to check per request.
pub async fn latest_playbook_number(conn: &mut AnyConnection) -> Result<i64, StoreError> {
    use sqlx::Row;
    let row = sqlx::query("SELECT COALESCE(MAX(version), 0) FROM playbook_versions")
        .fetch_one(conn)
        .await?;
    row.try_get::<i64, _>(0).map_err(StoreError::from_sqlx)
}

/// Appends a playbook version numbered one past the latest.
pub async fn insert_playbook_version(
    conn: &mut AnyConnection,
    author: &str,
    note: Option<&str>,
    body: &str,
    now: Instant,
) -> Result<PlaybookVersion, StoreError> {
    let next = latest_playbook_number(conn).await? + 1;
    let sql = format!(
        "INSERT INTO playbook_versions (version, author, note, body, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING {}",
        PlaybookVersion::COLUMNS
    );
    let row = sqlx::query(&sql)
        .bind(next)
        .bind(author)
        .bind(note.map(str::to_string))
        .bind(body)
        .bind(now.millis())
        .fetch_one(conn)
        .await?;
    PlaybookVersion::from_row(&row)
}

/// The visitor with this anonymous id (created when new), linked to the
/// contact when one is given; returns its id.
pub async fn upsert_visitor(
    conn: &mut AnyConnection,
    anonymous_id: &str,
    contact_id: Option<i64>,
    at: Instant,
) -> Result<i64, StoreError> {
    use sqlx::Row;
    let row = sqlx::query(
        "INSERT INTO visitors (anonymous_id, contact_id, first_seen_at, last_seen_at) VALUES ($1, $2, $3, $3) \
         ON CONFLICT (anonymous_id) DO UPDATE SET contact_id = COALESCE(excluded.contact_id, visitors.contact_id), \
         last_seen_at = CASE WHEN excluded.last_seen_at > visitors.last_seen_at THEN excluded.last_seen_at ELSE visitors.last_seen_at END \
         RETURNING id",
    )
    .bind(anonymous_id)
    .bind(contact_id)
    .bind(at.millis())
    .fetch_one(&mut *conn)
    .await?;
    row.try_get::<i64, _>(0).map_err(StoreError::from_sqlx)
}

/// Two text columns as a map (first → second).
pub async fn string_pairs(
    conn: &mut AnyConnection,
    sql: &str,
) -> Result<std::collections::HashMap<String, Option<String>>, StoreError> {
    use sqlx::Row;
    let rows = sqlx::query(sql).fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get::<String, _>(0)?,
                r.try_get::<Option<String>, _>(1)?,
            ))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from_sqlx)
}

/// Two integer columns as a map (first → second).
pub async fn id_pairs(
    conn: &mut AnyConnection,
    sql: &str,
) -> Result<std::collections::HashMap<i64, Option<i64>>, StoreError> {
    use sqlx::Row;
    let rows = sqlx::query(sql).fetch_all(conn).await?;
    rows.iter()
        .map(|r| Ok((r.try_get::<i64, _>(0)?, r.try_get::<Option<i64>, _>(1)?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from_sqlx)
}

impl Table for Handoff {
    const TABLE: &'static str = "handoffs";
    const WRITE: &'static [&'static str] = &[
        "contact_id",
        "mql_change_id",
        "assignee_id",
        "assigned_at",
        "route_rule",
        "route_reason",
        "decision",
        "decided_at",
        "decided_by",
        "reason_code",
        "decision_note",
        "created_at",
        "updated_at",
    ];
    fn id(&self) -> i64 {
        self.id
    }
    fn write_args(&self) -> Vec<Arg> {
        vec![
            self.contact_id.into(),
            self.mql_change_id.into(),
            self.assignee_id.into(),
            opt_ms(self.assigned_at),
            self.route_rule.clone().into(),
            self.route_reason.clone().into(),
            self.decision.clone().into(),
            opt_ms(self.decided_at),
            self.decided_by.into(),
            self.reason_code.clone().into(),
            self.decision_note.clone().into(),
            ms(self.created_at),
            ms(self.updated_at),
        ]
    }
}

impl Table for HandoffAssignment {
    const TABLE: &'static str = "handoff_assignments";
    const WRITE: &'static [&'static str] = &[
        "handoff_id",
        "user_id",
        "assigned_at",
        "actor",
        "actor_user_id",
        "rule",
        "reason",
    ];
    fn id(&self) -> i64 {
        self.id
    }
    fn write_args(&self) -> Vec<Arg> {
        vec![
            self.handoff_id.into(),
            self.user_id.into(),
            ms(self.assigned_at),
            self.actor.clone().into(),
            self.actor_user_id.into(),
            self.rule.clone().into(),
            self.reason.clone().into(),
        ]
    }
}

impl Table for OutOfOffice {
    const TABLE: &'static str = "out_of_office";
    const WRITE: &'static [&'static str] =
        &["user_id", "starts_at", "ends_at", "note", "created_at"];
    fn id(&self) -> i64 {
        self.id
    }
    fn write_args(&self) -> Vec<Arg> {
        vec![
            self.user_id.into(),
            ms(self.starts_at),
            ms(self.ends_at),
            self.note.clone().into(),
            ms(self.created_at),
        ]
    }
}

/// Routing settings of every user who has them.
pub async fn rep_settings(conn: &mut AnyConnection) -> Result<Vec<RepSettings>, StoreError> {
    let sql = format!(
        "SELECT {} FROM rep_settings ORDER BY user_id",
        RepSettings::COLUMNS
    );
    fetch(conn, &sql, &[]).await
}

/// Creates or replaces a rep's weight, cap and calendar (keeping the tag).
pub async fn upsert_rep_settings(
    conn: &mut AnyConnection,
    user_id: i64,
    weight: i64,
    capacity: Option<i64>,
    calendar: Option<&str>,
) -> Result<RepSettings, StoreError> {
    let sql = format!(
        "INSERT INTO rep_settings (user_id, weight, capacity, calendar, routing_tag) VALUES ($1, $2, $3, $4, 0) \
         ON CONFLICT (user_id) DO UPDATE SET weight = excluded.weight, capacity = excluded.capacity, calendar = excluded.calendar \
         RETURNING {}",
        RepSettings::COLUMNS
    );
    let row = sqlx::query(&sql)
        .bind(user_id)
        .bind(weight)
        .bind(capacity)
        .bind(calendar.map(str::to_string))
        .fetch_one(conn)
        .await?;
    RepSettings::from_row(&row)
}

/// Stores a rep's new fair-queueing tag and the team's virtual time.
pub async fn save_routing_tags(
    conn: &mut AnyConnection,
    user_id: i64,
    tag: f64,
    virtual_time: f64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO rep_settings (user_id, weight, routing_tag) VALUES ($1, 1, $2) ON CONFLICT (user_id) DO UPDATE SET routing_tag = excluded.routing_tag",
    )
    .bind(user_id)
    .bind(tag)
    .execute(&mut *conn)
    .await?;
    sqlx::query("INSERT INTO routing_state (id, virtual_time) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET virtual_time = excluded.virtual_time")
        .bind(virtual_time)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn virtual_time(conn: &mut AnyConnection) -> Result<f64, StoreError> {
    use sqlx::Row;
    let row = sqlx::query("SELECT virtual_time FROM routing_state WHERE id = 1")
        .fetch_optional(conn)
        .await?;
    Ok(row
        .map(|r| r.try_get::<f64, _>(0))
        .transpose()?
        .unwrap_or(0.0))
}

/// Absences that overlap `[from, to)`.
pub async fn out_of_office_between(
    conn: &mut AnyConnection,
    from: Instant,
    to: Instant,
) -> Result<Vec<OutOfOffice>, StoreError> {
    let sql = format!(
        "SELECT {} FROM out_of_office WHERE starts_at < $1 AND ends_at > $2 ORDER BY user_id, starts_at",
        OutOfOffice::COLUMNS
    );
    fetch(conn, &sql, &[to.millis().into(), from.millis().into()]).await
}

/// Open handoffs per assignee.
pub async fn open_handoff_counts(
    conn: &mut AnyConnection,
) -> Result<std::collections::HashMap<i64, i64>, StoreError> {
    use sqlx::Row;
    let rows = sqlx::query("SELECT assignee_id, COUNT(*) FROM handoffs WHERE decision IS NULL AND assignee_id IS NOT NULL GROUP BY assignee_id")
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from_sqlx)
}

pub async fn open_handoff_of_contact(
    conn: &mut AnyConnection,
    contact_id: i64,
) -> Result<Option<Handoff>, StoreError> {
    let sql = format!(
        "SELECT {} FROM handoffs WHERE contact_id = $1 AND decision IS NULL",
        Handoff::COLUMNS
    );
    Ok(fetch(conn, &sql, &[contact_id.into()]).await?.pop())
}

pub async fn assignments_of(
    conn: &mut AnyConnection,
    handoff_id: i64,
) -> Result<Vec<HandoffAssignment>, StoreError> {
    let sql = format!(
        "SELECT {} FROM handoff_assignments WHERE handoff_id = $1 ORDER BY assigned_at, id",
        HandoffAssignment::COLUMNS
    );
    fetch(conn, &sql, &[handoff_id.into()]).await
}

pub async fn sla_events_of(
    conn: &mut AnyConnection,
    handoff_id: i64,
) -> Result<Vec<SlaEvent>, StoreError> {
    let sql = format!(
        "SELECT {} FROM sla_events WHERE handoff_id = $1 ORDER BY at, id",
        SlaEvent::COLUMNS
    );
    fetch(conn, &sql, &[handoff_id.into()]).await
}

/// Records a clock change once; returns whether it was new.
pub async fn record_sla_event(
    conn: &mut AnyConnection,
    handoff_id: i64,
    clock: &str,
    state: &str,
    at: Instant,
    now: Instant,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO sla_events (handoff_id, clock, state, at, recorded_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (handoff_id, clock, state, at) DO NOTHING",
    )
    .bind(handoff_id)
    .bind(clock)
    .bind(state)
    .bind(at.millis())
    .bind(now.millis())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Creates or replaces the goal of a period.
pub async fn upsert_goal(
    conn: &mut AnyConnection,
    period: &str,
    segment: Option<&Segment>,
    revenue_minor: i64,
    marketing_share: f64,
    user_id: Option<i64>,
    now: Instant,
) -> Result<Goal, StoreError> {
    let sql = format!(
        "INSERT INTO goals (period, segment, revenue_minor, marketing_share, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
         ON CONFLICT (period, segment) DO UPDATE SET revenue_minor = excluded.revenue_minor, marketing_share = excluded.marketing_share, updated_at = excluded.updated_at \
         RETURNING {}",
        Goal::COLUMNS
    );
    let row = sqlx::query(&sql)
        .bind(period)
        .bind(segment_key(segment))
        .bind(revenue_minor)
        .bind(marketing_share)
        .bind(user_id)
        .bind(now.millis())
        .fetch_one(conn)
        .await?;
    Goal::from_row(&row)
}

/// The goal of a period for the whole company (`segment` None) or a segment.
pub async fn goal(
    conn: &mut AnyConnection,
    period: &str,
    segment: Option<&Segment>,
) -> Result<Option<Goal>, StoreError> {
    let sql = format!(
        "SELECT {} FROM goals WHERE period = $1 AND segment = $2",
        Goal::COLUMNS
    );
    Ok(
        fetch(conn, &sql, &[period.into(), segment_key(segment).into()])
            .await?
            .pop(),
    )
}

/// Goals of a period: the company's first, then each segment's.
pub async fn goals(conn: &mut AnyConnection, period: &str) -> Result<Vec<Goal>, StoreError> {
    let sql = format!(
        "SELECT {} FROM goals WHERE period = $1 ORDER BY segment",
        Goal::COLUMNS
    );
    fetch(conn, &sql, &[period.into()]).await
}

fn segment_key(segment: Option<&Segment>) -> String {
    segment.map(Segment::to_string).unwrap_or_default()
}

/// SQL saying that the contact id in `col` is a live contact (not merged
/// into another: the person counts once) of `segment`, if one, the
/// segment's value bound as `$n`.
pub(crate) fn contact_in_segment(col: &'static str, segment: Option<&Segment>, n: usize) -> String {
    let Some(segment) = segment else {
        // A row with no contact (an account's deal) counts company-wide.
        return format!(
            "({col} IS NULL OR {col} IN (SELECT id FROM contacts WHERE merged_into_id IS NULL))"
        );
    };
    let test = match segment.dimension {
        Dimension::SourceChannel => format!("c.source_channel = ${n}"),
        Dimension::Persona => format!("c.persona = ${n}"),
        Dimension::Region => format!("a.region = ${n}"),
        Dimension::CompanySize => format!("a.company_size = ${n}"),
        Dimension::Owner => format!("u.email = ${n}"),
        Dimension::Campaign => format!(
            "(SELECT cp.name FROM touchpoints t JOIN campaigns cp ON cp.id = t.campaign_id \
              WHERE t.contact_id = c.id ORDER BY t.occurred_at, t.id LIMIT 1) = ${n}"
        ),
    };
    format!(
        "{col} IN (SELECT c.id FROM contacts c LEFT JOIN accounts a ON a.id = c.account_id \
         LEFT JOIN users u ON u.id = c.owner_id WHERE c.merged_into_id IS NULL AND {test})"
    )
}

/// `sql` with `$1`, `$2` bound to the window `[from, to)` and `$3` to the
/// segment's value when there is one (see [`contact_in_segment`]).
fn windowed<'q>(
    sql: &'q str,
    from: Instant,
    to: Instant,
    segment: Option<&'q Segment>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let q = sqlx::query(sql).bind(from.millis()).bind(to.millis());
    match segment {
        Some(s) => q.bind(s.value.as_str()),
        None => q,
    }
}

/// Distinct contacts (of the segment, if one) that entered each stage in
/// `[from, to)`.
pub async fn stage_reach(
    conn: &mut AnyConnection,
    from: Instant,
    to: Instant,
    segment: Option<&Segment>,
) -> Result<std::collections::HashMap<String, i64>, StoreError> {
    use sqlx::Row;
    let sql = format!(
        "SELECT to_stage, COUNT(DISTINCT contact_id) FROM stage_changes WHERE changed_at >= $1 AND changed_at < $2 AND {} GROUP BY to_stage",
        contact_in_segment("contact_id", segment, 3)
    );
    let q = windowed(&sql, from, to, segment);
    let rows = q.fetch_all(conn).await?;
    rows.iter()
        .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from_sqlx)
}

/// Number and total amount of deals (of the segment's contacts, if one) won
/// in `[from, to)`.
pub async fn won_deals(
    conn: &mut AnyConnection,
    from: Instant,
    to: Instant,
    segment: Option<&Segment>,
) -> Result<(i64, i64), StoreError> {
    use sqlx::Row;
    // SUM of a BIGINT is NUMERIC on PostgreSQL; cast so both backends return an integer.
    let sql = format!(
        "SELECT COUNT(*), CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) FROM deals WHERE status = 'won' AND closed_at >= $1 AND closed_at < $2 AND {}",
        contact_in_segment("contact_id", segment, 3)
    );
    let q = windowed(&sql, from, to, segment);
    let row = q.fetch_one(conn).await?;
    Ok((row.try_get::<i64, _>(0)?, row.try_get::<i64, _>(1)?))
}

/// Handoffs (of the segment's contacts, if one) decided in `[from, to)`:
/// (accepted, rejected).
pub async fn handoff_decisions(
    conn: &mut AnyConnection,
    from: Instant,
    to: Instant,
    segment: Option<&Segment>,
) -> Result<(i64, i64), StoreError> {
    use sqlx::Row;
    let sql = format!(
        "SELECT COALESCE(SUM(CASE WHEN decision = 'accepted' THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN decision = 'rejected' THEN 1 ELSE 0 END), 0) \
         FROM handoffs WHERE decided_at >= $1 AND decided_at < $2 AND {}",
        contact_in_segment("contact_id", segment, 3)
    );
    let q = windowed(&sql, from, to, segment);
    let row = q.fetch_one(conn).await?;
    Ok((row.try_get::<i64, _>(0)?, row.try_get::<i64, _>(1)?))
}

pub async fn sla_agreements(conn: &mut AnyConnection) -> Result<Vec<SlaAgreement>, StoreError> {
    let sql = format!(
        "SELECT {} FROM sla_agreements ORDER BY version",
        SlaAgreement::COLUMNS
    );
    fetch(conn, &sql, &[]).await
}

pub async fn insert_sla_agreement(
    conn: &mut AnyConnection,
    playbook_version: i64,
    policy: &str,
    summary: &str,
    now: Instant,
) -> Result<SlaAgreement, StoreError> {
    use sqlx::Row;
    let next: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) + 1 FROM sla_agreements")
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    let sql = format!(
        "INSERT INTO sla_agreements (version, playbook_version, policy, summary, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING {}",
        SlaAgreement::COLUMNS
    );
    let row = sqlx::query(&sql)
        .bind(next)
        .bind(playbook_version)
        .bind(policy)
        .bind(summary)
        .bind(now.millis())
        .fetch_one(conn)
        .await?;
    SlaAgreement::from_row(&row)
}

pub async fn sla_signoffs(conn: &mut AnyConnection) -> Result<Vec<SlaSignoff>, StoreError> {
    let sql = format!(
        "SELECT {} FROM sla_signoffs ORDER BY agreement_id, signed_at",
        SlaSignoff::COLUMNS
    );
    fetch(conn, &sql, &[]).await
}

pub async fn insert_sla_signoff(
    conn: &mut AnyConnection,
    agreement_id: i64,
    team: Team,
    user_id: i64,
    now: Instant,
) -> Result<SlaSignoff, StoreError> {
    let sql = format!(
        "INSERT INTO sla_signoffs (agreement_id, team, user_id, signed_at) VALUES ($1, $2, $3, $4) RETURNING {}",
        SlaSignoff::COLUMNS
    );
    let row = sqlx::query(&sql)
        .bind(agreement_id)
        .bind(team.as_str())
        .bind(user_id)
        .bind(now.millis())
        .fetch_one(conn)
        .await?;
    SlaSignoff::from_row(&row)
}

/// Schedules an escalation step once per assignment.
pub async fn schedule_escalation(
    conn: &mut AnyConnection,
    handoff_id: i64,
    clock: &str,
    step: &str,
    assigned_at: Instant,
    due_at: Instant,
    now: Instant,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO escalations (handoff_id, clock, step, assigned_at, due_at, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (handoff_id, clock, step, assigned_at) DO NOTHING",
    )
    .bind(handoff_id)
    .bind(clock)
    .bind(step)
    .bind(assigned_at.millis())
    .bind(due_at.millis())
    .bind(now.millis())
    .execute(conn)
    .await?;
    Ok(())
}

/// Handoffs with escalations due by `now`, locked for this transaction so
/// that one scheduler works through a handoff's steps in order while others
/// take other handoffs (`lock` from `Store::skip_locked`).
pub async fn handoffs_with_due_escalations(
    conn: &mut AnyConnection,
    now: Instant,
    limit: i64,
    lock: &str,
) -> Result<Vec<i64>, StoreError> {
    use sqlx::Row;
    let sql = format!(
        "SELECT id FROM handoffs WHERE id IN (SELECT handoff_id FROM escalations WHERE fired_at IS NULL AND due_at <= $1) ORDER BY id LIMIT $2{lock}"
    );
    let rows = sqlx::query(&sql)
        .bind(now.millis())
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| r.try_get::<i64, _>(0))
        .collect::<Result<_, _>>()
        .map_err(StoreError::from_sqlx)
}

/// A handoff's unfired escalations due by `now`, in due order.
pub async fn due_escalations_of(
    conn: &mut AnyConnection,
    handoff_id: i64,
    now: Instant,
) -> Result<Vec<Escalation>, StoreError> {
    let sql = format!(
        "SELECT {} FROM escalations WHERE handoff_id = $1 AND fired_at IS NULL AND due_at <= $2 ORDER BY due_at, id",
        Escalation::COLUMNS
    );
    fetch(conn, &sql, &[handoff_id.into(), now.millis().into()]).await
}

/// Claims an escalation for firing; false when another process already did.
pub async fn claim_escalation(
    conn: &mut AnyConnection,
    id: i64,
    now: Instant,
    outcome: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE escalations SET fired_at = $1, outcome = $2 WHERE id = $3 AND fired_at IS NULL",
    )
    .bind(now.millis())
    .bind(outcome)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn escalations_of(
    conn: &mut AnyConnection,
    handoff_id: i64,
) -> Result<Vec<Escalation>, StoreError> {
    let sql = format!(
        "SELECT {} FROM escalations WHERE handoff_id = $1 ORDER BY due_at, id",
        Escalation::COLUMNS
    );
    fetch(conn, &sql, &[handoff_id.into()]).await
}

pub async fn insert_notification(
    conn: &mut AnyConnection,
    user_id: i64,
    kind: &str,
    handoff_id: Option<i64>,
    title: &str,
    body: &str,
    now: Instant,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO notifications (user_id, kind, handoff_id, title, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(user_id)
        .bind(kind)
        .bind(handoff_id)
        .bind(title)
        .bind(body)
        .bind(now.millis())
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn notifications_of(
    conn: &mut AnyConnection,
    user_id: i64,
    unread_only: bool,
    limit: i64,
) -> Result<Vec<Notification>, StoreError> {
    let unread = if unread_only {
        " AND read_at IS NULL"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {} FROM notifications WHERE user_id = $1{unread} ORDER BY created_at DESC, id DESC LIMIT $2",
        Notification::COLUMNS
    );
    fetch(conn, &sql, &[user_id.into(), limit.into()]).await
}

/// Marks a user's notification read; false when it is not theirs.
pub async fn mark_notification_read(
    conn: &mut AnyConnection,
    id: i64,
    user_id: i64,
    now: Instant,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE notifications SET read_at = COALESCE(read_at, $1) WHERE id = $2 AND user_id = $3",
    )
    .bind(now.millis())
    .bind(id)
    .bind(user_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn insert_webhook_endpoint(
    conn: &mut AnyConnection,
    url: &str,
    secret: &str,
    events: &str,
    now: Instant,
) -> Result<WebhookEndpoint, StoreError> {
    let sql = format!(
        "INSERT INTO webhook_endpoints (url, secret, events, active, created_at) VALUES ($1, $2, $3, 1, $4) RETURNING {}",
        WebhookEndpoint::COLUMNS
    );
    let row = sqlx::query(&sql)
        .bind(url)
        .bind(secret)
        .bind(events)
        .bind(now.millis())
        .fetch_one(conn)
        .await?;
    WebhookEndpoint::from_row(&row)
}

pub async fn webhook_endpoints(
    conn: &mut AnyConnection,
) -> Result<Vec<WebhookEndpoint>, StoreError> {
    let sql = format!(
        "SELECT {} FROM webhook_endpoints ORDER BY id",
        WebhookEndpoint::COLUMNS
    );
    fetch(conn, &sql, &[]).await
}

/// Queues one delivery of an event to an endpoint (once per message id).
pub async fn enqueue_delivery(
    conn: &mut AnyConnection,
    endpoint_id: i64,
    message_id: &str,
    event: &str,
    payload: &str,
    now: Instant,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO webhook_deliveries (endpoint_id, message_id, event, payload, attempts, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, 0, $5, $5) \
         ON CONFLICT (endpoint_id, message_id) DO NOTHING",
    )
    .bind(endpoint_id)
    .bind(message_id)
    .bind(event)
    .bind(payload)
    .bind(now.millis())
    .execute(conn)
    .await?;
    Ok(())
}

/// Deliveries due by `now` that are neither delivered nor given up.
pub async fn due_deliveries(
    conn: &mut AnyConnection,
    now: Instant,
    limit: i64,
) -> Result<Vec<WebhookDelivery>, StoreError> {
    let sql = format!(
        "SELECT {} FROM webhook_deliveries WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2",
        WebhookDelivery::COLUMNS
    );
    fetch(conn, &sql, &[now.millis().into(), limit.into()]).await
}

/// Leases a delivery until `until` if nobody else moved it; false otherwise.
pub async fn lease_delivery(
    conn: &mut AnyConnection,
    id: i64,
    seen_next: Instant,
    until: Instant,
) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE webhook_deliveries SET next_attempt_at = $1 WHERE id = $2 AND next_attempt_at = $3 AND delivered_at IS NULL")
        .bind(until.millis())
        .bind(id)
        .bind(seen_next.millis())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Records an attempt's result.
#[allow(clippy::too_many_arguments)]
pub async fn record_attempt(
    conn: &mut AnyConnection,
    id: i64,
    attempts: i64,
    status: Option<i64>,
    error: Option<&str>,
    delivered_at: Option<Instant>,
    next_attempt_at: Instant,
    failed_at: Option<Instant>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE webhook_deliveries SET attempts = $1, last_status = $2, last_error = $3, delivered_at = $4, next_attempt_at = $5, failed_at = $6 WHERE id = $7",
    )
    .bind(attempts)
    .bind(status)
    .bind(error.map(str::to_string))
    .bind(delivered_at.map(Instant::millis))
    .bind(next_attempt_at.millis())
    .bind(failed_at.map(Instant::millis))
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn deliveries(conn: &mut AnyConnection) -> Result<Vec<WebhookDelivery>, StoreError> {
    let sql = format!(
        "SELECT {} FROM webhook_deliveries ORDER BY id",
        WebhookDelivery::COLUMNS
    );
    fetch(conn, &sql, &[]).await
}

/// Ids of open handoffs with an assignee (for the scheduler's sweep).
pub async fn open_assigned_handoffs(conn: &mut AnyConnection) -> Result<Vec<Handoff>, StoreError> {
    let sql = format!(
        "SELECT {} FROM handoffs WHERE decision IS NULL AND assignee_id IS NOT NULL ORDER BY id",
        Handoff::COLUMNS
    );
    fetch(conn, &sql, &[]).await
}

/// Overwrites the outcome of a claimed escalation.
pub async fn set_escalation_outcome(
    conn: &mut AnyConnection,
    id: i64,
    outcome: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE escalations SET outcome = $1 WHERE id = $2")
        .bind(outcome)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}
