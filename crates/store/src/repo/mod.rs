//! Reading and writing records. One SQL text per operation serves both
//! backends; generic helpers cover the shape every table shares (insert,
//! update, get by id, keyset pages).

use crate::StoreError;
use crate::records::*;
use crate::sql::{Arg, Page, Where, bind_all, decode_cursor, encode_cursor, insert_many};
pub use crate::table::{FromRow, Table};
use smarketing_core::segment::{Dimension, Segment};
use smarketing_core::{Instant, Team, TokenScope};
use sqlx::AnyConnection;

mod goals;
mod handoffs;
mod sessions;
mod webhooks;

pub use goals::*;
pub use handoffs::*;
pub use sessions::*;
pub use webhooks::*;

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
        T::write().join(", "),
        placeholders(T::write().len()),
        T::columns()
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
    let sets: Vec<String> = T::write()
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ${}", i + 1))
        .collect();
    let sql = format!(
        "UPDATE {} SET {} WHERE id = ${} RETURNING {}",
        T::TABLE,
        sets.join(", "),
        T::write().len() + 1,
        T::columns()
    );
    let mut args = record.write_args();
    args.push(id.into());
    let row = bind_all(sqlx::query(&sql), &args)
        .fetch_optional(conn)
        .await?;
    T::from_row(&row.ok_or(StoreError::NotFound)?)
}

pub async fn get<T: Table>(conn: &mut AnyConnection, id: i64) -> Result<T, StoreError> {
    let sql = format!("SELECT {} FROM {} WHERE id = $1", T::columns(), T::TABLE);
    let row = sqlx::query(&sql).bind(id).fetch_optional(conn).await?;
    T::from_row(&row.ok_or(StoreError::NotFound)?)
}

/// Rows matching `sql` (which selects `T::columns()`) with its arguments.
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
        qualified(T::columns(), T::TABLE),
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
    let sets: Vec<String> = T::write()
        .iter()
        .filter(|c| {
            !matches!(c.as_str(), "external_id" | "created_at" | "updated_at")
                && !T::KEEP_ON_UPSERT.iter().any(|k| c.starts_with(k))
        })
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    let tail = format!(
        "ON CONFLICT (external_id) DO UPDATE SET {}",
        sets.join(", ")
    );
    let rows: Vec<Vec<Arg>> = records.iter().map(Table::write_args).collect();
    insert_many(conn, T::TABLE, T::write(), &rows, &tail).await
}

/// Inserts rows with ids chosen by the caller (bulk generation), then moves
/// PostgreSQL's id sequence past them.
pub async fn insert_with_ids<T: Table>(
    conn: &mut AnyConnection,
    rows: &[(i64, T)],
) -> Result<u64, StoreError> {
    let postgres = conn.backend_name() == "PostgreSQL";
    let mut cols = vec!["id"];
    cols.extend(T::write().iter().map(String::as_str));
    let args: Vec<Vec<Arg>> = rows
        .iter()
        .map(|(id, r)| {
            let mut a = vec![Arg::from(*id)];
            a.extend(r.write_args());
            a
        })
        .collect();
    let n = insert_many(conn, T::TABLE, &cols, &args, "").await?;
    if postgres {
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

pub async fn contact_by_email(
    conn: &mut AnyConnection,
    email: &str,
) -> Result<Option<Contact>, StoreError> {
    let sql = format!(
        "SELECT {} FROM contacts WHERE email = $1",
        Contact::columns()
    );
    Ok(fetch(conn, &sql, &[email.into()]).await?.pop())
}

pub async fn account_by_external_id(
    conn: &mut AnyConnection,
    external_id: &str,
) -> Result<Option<Account>, StoreError> {
    let sql = format!(
        "SELECT {} FROM accounts WHERE external_id = $1",
        Account::columns()
    );
    Ok(fetch(conn, &sql, &[external_id.into()]).await?.pop())
}

pub async fn campaign_by_utm(
    conn: &mut AnyConnection,
    utm_campaign: &str,
) -> Result<Option<Campaign>, StoreError> {
    let sql = format!(
        "SELECT {} FROM campaigns WHERE utm_campaign = $1 ORDER BY id LIMIT 1",
        Campaign::columns()
    );
    Ok(fetch(conn, &sql, &[utm_campaign.into()]).await?.pop())
}

pub async fn touchpoints_of_contact(
    conn: &mut AnyConnection,
    contact_id: i64,
) -> Result<Vec<Touchpoint>, StoreError> {
    let sql = format!(
        "SELECT {} FROM touchpoints WHERE contact_id = $1 ORDER BY occurred_at, id",
        Touchpoint::columns()
    );
    fetch(conn, &sql, &[contact_id.into()]).await
}

pub async fn stage_changes_of_contact(
    conn: &mut AnyConnection,
    contact_id: i64,
) -> Result<Vec<StageChange>, StoreError> {
    let sql = format!(
        "SELECT {} FROM stage_changes WHERE contact_id = $1 ORDER BY changed_at, id",
        StageChange::columns()
    );
    fetch(conn, &sql, &[contact_id.into()]).await
}

pub async fn activities_of_contact(
    conn: &mut AnyConnection,
    contact_id: i64,
) -> Result<Vec<Activity>, StoreError> {
    let sql = format!(
        "SELECT {} FROM activities WHERE contact_id = $1 ORDER BY occurred_at, id",
        Activity::columns()
    );
    fetch(conn, &sql, &[contact_id.into()]).await
}

pub async fn notes_of_contact(
    conn: &mut AnyConnection,
    contact_id: i64,
) -> Result<Vec<Note>, StoreError> {
    let sql = format!(
        "SELECT {} FROM notes WHERE contact_id = $1 ORDER BY created_at, id",
        Note::columns()
    );
    fetch(conn, &sql, &[contact_id.into()]).await
}

pub async fn user_by_email(
    conn: &mut AnyConnection,
    email: &str,
) -> Result<Option<User>, StoreError> {
    let sql = format!("SELECT {} FROM users WHERE email = $1", User::columns());
    Ok(fetch(conn, &sql, &[email.into()]).await?.pop())
}

pub async fn users(conn: &mut AnyConnection) -> Result<Vec<User>, StoreError> {
    let sql = format!("SELECT {} FROM users ORDER BY id", User::columns());
    fetch(conn, &sql, &[]).await
}

/// Stores a token hash for a user.
/// Stores a token's hash; returns its id.
pub async fn insert_token(
    conn: &mut AnyConnection,
    user_id: i64,
    name: &str,
    token_hash: &str,
    scope: TokenScope,
    expires_at: Option<Instant>,
    now: Instant,
) -> Result<i64, StoreError> {
    use sqlx::Row;
    let row = sqlx::query("INSERT INTO api_tokens (user_id, name, token_hash, scope, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
        .bind(user_id)
        .bind(name)
        .bind(token_hash)
        .bind(scope.as_str())
        .bind(expires_at.map(Instant::millis))
        .bind(now.millis())
        .fetch_one(conn)
        .await?;
    row.try_get::<i64, _>(0).map_err(StoreError::from_sqlx)
}

const TOKEN_COLUMNS: [&str; 8] = [
    "id",
    "user_id",
    "name",
    "scope",
    "created_at",
    "last_used_at",
    "expires_at",
    "revoked_at",
];

/// The token columns of `t`, each as `{prefix}{column}`.
fn token_columns(prefix: &str) -> String {
    TOKEN_COLUMNS
        .iter()
        .map(|c| format!("t.{c} AS {prefix}{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A token from the columns [`token_columns`] named with `prefix`.
fn api_token(row: &sqlx::any::AnyRow, prefix: &str) -> Result<ApiToken, StoreError> {
    use sqlx::Row;
    let col = |c: &str| format!("{prefix}{c}");
    let instant = |c: &str| -> Result<Option<Instant>, StoreError> {
        row.try_get::<Option<i64>, _>(col(c).as_str())
            .map_err(StoreError::from_sqlx)?
            .map(Instant::from_millis)
            .transpose()
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    };
    let scope: String = row
        .try_get(col("scope").as_str())
        .map_err(StoreError::from_sqlx)?;
    Ok(ApiToken {
        id: row
            .try_get(col("id").as_str())
            .map_err(StoreError::from_sqlx)?,
        user_id: row
            .try_get(col("user_id").as_str())
            .map_err(StoreError::from_sqlx)?,
        name: row
            .try_get(col("name").as_str())
            .map_err(StoreError::from_sqlx)?,
        scope: scope
            .parse()
            .map_err(|e: smarketing_core::Invalid| StoreError::Corrupt(e.message))?,
        created_at: instant("created_at")?.unwrap_or(Instant::from_millis(0).expect("the epoch")),
        last_used_at: instant("last_used_at")?,
        expires_at: instant("expires_at")?,
        revoked_at: instant("revoked_at")?,
    })
}

/// The token with this hash and its user, revoked or expired ones too
/// (the caller decides, and says why).
pub async fn token_owner(
    conn: &mut AnyConnection,
    token_hash: &str,
) -> Result<Option<TokenOwner>, StoreError> {
    let sql = format!(
        "SELECT {}, {} FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
        token_columns("token_"),
        qualified(User::columns(), "u")
    );
    let Some(row) = sqlx::query(&sql)
        .bind(token_hash)
        .fetch_optional(conn)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(TokenOwner {
        token: api_token(&row, "token_")?,
        user: User::from_row(&row)?,
    }))
}

/// A user's tokens, newest first.
pub async fn tokens_of(
    conn: &mut AnyConnection,
    user_id: i64,
) -> Result<Vec<ApiToken>, StoreError> {
    let sql = format!(
        "SELECT {} FROM api_tokens t WHERE t.user_id = $1 ORDER BY t.id DESC",
        token_columns("")
    );
    let rows = sqlx::query(&sql).bind(user_id).fetch_all(conn).await?;
    rows.iter().map(|r| api_token(r, "")).collect()
}

/// Records that a token was used (at most once a minute, so a busy
/// client costs no write per request).
pub async fn touch_token(
    conn: &mut AnyConnection,
    id: i64,
    now: Instant,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)")
        .bind(now.millis())
        .bind(id)
        .bind(now.millis() - 60_000)
        .execute(conn)
        .await?;
    Ok(())
}

/// Sets `column` (an instant that is written once: disabled, revoked,
/// used) of row `id` of `table` to `now`; false when it was set already or
/// there is no such row. `table` and `column` are ours, never input.
pub(crate) async fn stamp_once(
    conn: &mut AnyConnection,
    table: &'static str,
    column: &'static str,
    id: i64,
    now: Instant,
) -> Result<bool, StoreError> {
    let done = sqlx::query(&format!(
        "UPDATE {table} SET {column} = $1 WHERE id = $2 AND {column} IS NULL"
    ))
    .bind(now.millis())
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Disables a user; false when there is no such enabled user.
pub async fn disable_user(
    conn: &mut AnyConnection,
    id: i64,
    now: Instant,
) -> Result<bool, StoreError> {
    stamp_once(conn, "users", "disabled_at", id, now).await
}

/// Revokes a token; false when there is no such unrevoked token.
pub async fn revoke_token(
    conn: &mut AnyConnection,
    id: i64,
    now: Instant,
) -> Result<bool, StoreError> {
    stamp_once(conn, "api_tokens", "revoked_at", id, now).await
}

pub async fn latest_playbook(
    conn: &mut AnyConnection,
) -> Result<Option<PlaybookVersion>, StoreError> {
    let sql = format!(
        "SELECT {} FROM playbook_versions ORDER BY version DESC LIMIT 1",
        PlaybookVersion::columns()
    );
    Ok(fetch(conn, &sql, &[]).await?.pop())
}

pub async fn playbook_version(
    conn: &mut AnyConnection,
    version: i64,
) -> Result<PlaybookVersion, StoreError> {
    let sql = format!(
        "SELECT {} FROM playbook_versions WHERE version = $1",
        PlaybookVersion::columns()
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
        PlaybookVersion::columns()
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
        PlaybookVersion::columns()
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
/// Every record of a table, in id order.
pub async fn all<T: Table>(conn: &mut AnyConnection) -> Result<Vec<T>, StoreError> {
    let sql = format!("SELECT {} FROM {} ORDER BY id", T::columns(), T::TABLE);
    fetch(conn, &sql, &[]).await
}

/// The account with `domain`, else the first whose name is `name` (case
/// aside): how a form's company finds its account.
pub async fn account_by_domain_or_name(
    conn: &mut AnyConnection,
    domain: Option<&str>,
    name: &str,
) -> Result<Option<Account>, StoreError> {
    let sql = format!(
        "SELECT {} FROM accounts WHERE domain = $1 OR LOWER(name) = LOWER($2) \
         ORDER BY CASE WHEN domain = $1 THEN 0 ELSE 1 END, id LIMIT 1",
        Account::columns()
    );
    Ok(fetch(conn, &sql, &[domain.into(), name.into()])
        .await?
        .pop())
}

/// Accounts' external ids by domain (accounts with a domain).
pub async fn account_external_ids_by_domain(
    conn: &mut AnyConnection,
) -> Result<std::collections::HashMap<String, Option<String>>, StoreError> {
    string_pairs(
        conn,
        "SELECT domain, external_id FROM accounts WHERE domain IS NOT NULL",
    )
    .await
}

/// Contacts' external ids by e-mail.
pub async fn contact_external_ids_by_email(
    conn: &mut AnyConnection,
) -> Result<std::collections::HashMap<String, Option<String>>, StoreError> {
    string_pairs(conn, "SELECT email, external_id FROM contacts").await
}

/// Each touchpoint's contact, by touchpoint id.
pub async fn touchpoint_contacts(
    conn: &mut AnyConnection,
) -> Result<std::collections::HashMap<i64, Option<i64>>, StoreError> {
    id_pairs(conn, "SELECT id, contact_id FROM touchpoints").await
}

/// Each contact's account, by contact id.
pub async fn contact_accounts(
    conn: &mut AnyConnection,
) -> Result<std::collections::HashMap<i64, Option<i64>>, StoreError> {
    id_pairs(conn, "SELECT id, account_id FROM contacts").await
}

/// The handoffs created in `[start, end)`, in id order.
pub async fn handoffs_created_between(
    conn: &mut AnyConnection,
    start: Instant,
    end: Instant,
) -> Result<Vec<Handoff>, StoreError> {
    let sql = format!(
        "SELECT {} FROM handoffs WHERE created_at >= $1 AND created_at < $2 ORDER BY id",
        Handoff::columns()
    );
    fetch(conn, &sql, &[start.millis().into(), end.millis().into()]).await
}

async fn string_pairs(
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
async fn id_pairs(
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

/// Audit entries at or after `since` (all when `None`), newest first.
pub async fn audit_entries(
    conn: &mut AnyConnection,
    since: Option<Instant>,
    limit: i64,
) -> Result<Vec<AuditEntry>, StoreError> {
    let sql = format!(
        "SELECT {} FROM audit_log WHERE at >= $1 ORDER BY id DESC LIMIT $2",
        AuditEntry::columns()
    );
    fetch(
        conn,
        &sql,
        &[since.map_or(i64::MIN, Instant::millis).into(), limit.into()],
    )
    .await
}
