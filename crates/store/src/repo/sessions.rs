//! Sign-in: password hashes, sessions and one-time password reset links.

use super::*;

/// The user's password hash (a PHC string), if they have one.
pub async fn password_hash(
    conn: &mut AnyConnection,
    user_id: i64,
) -> Result<Option<String>, StoreError> {
    use sqlx::Row;
    let row = sqlx::query("SELECT password_hash FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(conn)
        .await?;
    match row {
        Some(r) => r.try_get(0).map_err(StoreError::from_sqlx),
        None => Ok(None),
    }
}

pub async fn set_password_hash(
    conn: &mut AnyConnection,
    user_id: i64,
    hash: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The session with this secret hash, ended ones too (the caller says why
/// one does not work).
pub async fn session_by_secret(
    conn: &mut AnyConnection,
    secret_hash: &str,
) -> Result<Option<Session>, StoreError> {
    let sql = format!(
        "SELECT {} FROM sessions WHERE secret_hash = $1",
        Session::columns()
    );
    Ok(fetch(conn, &sql, &[secret_hash.into()]).await?.pop())
}

/// Records that a session was used (at most once a minute).
pub async fn touch_session(
    conn: &mut AnyConnection,
    id: i64,
    now: Instant,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND last_seen_at < $3")
        .bind(now.millis())
        .bind(id)
        .bind(now.millis() - 60_000)
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends one session; false when it had ended already.
pub async fn end_session(
    conn: &mut AnyConnection,
    id: i64,
    cause: &str,
    now: Instant,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE sessions SET ended_at = $1, ended_cause = $2 WHERE id = $3 AND ended_at IS NULL",
    )
    .bind(now.millis())
    .bind(cause)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Ends every open session of a user; returns how many.
pub async fn end_sessions_of(
    conn: &mut AnyConnection,
    user_id: i64,
    cause: &str,
    now: Instant,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE sessions SET ended_at = $1, ended_cause = $2 WHERE user_id = $3 AND ended_at IS NULL",
    )
    .bind(now.millis())
    .bind(cause)
    .bind(user_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// A user's sessions that have not ended and are not past their absolute
/// expiry, newest first.
pub async fn open_sessions_of(
    conn: &mut AnyConnection,
    user_id: i64,
    now: Instant,
) -> Result<Vec<Session>, StoreError> {
    let sql = format!(
        "SELECT {} FROM sessions WHERE user_id = $1 AND ended_at IS NULL AND expires_at > $2 ORDER BY id DESC",
        Session::columns()
    );
    fetch(conn, &sql, &[user_id.into(), now.millis().into()]).await
}

/// Deletes sessions that ended or expired before `before`: they are kept a
/// while for the record, not for ever.
pub async fn purge_sessions(conn: &mut AnyConnection, before: Instant) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "DELETE FROM sessions WHERE (ended_at IS NOT NULL AND ended_at < $1) OR expires_at < $1",
    )
    .bind(before.millis())
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// The reset link with this hash.
pub async fn password_reset_by_token(
    conn: &mut AnyConnection,
    token_hash: &str,
) -> Result<Option<PasswordReset>, StoreError> {
    let sql = format!(
        "SELECT {} FROM password_resets WHERE token_hash = $1",
        PasswordReset::columns()
    );
    Ok(fetch(conn, &sql, &[token_hash.into()]).await?.pop())
}

/// Marks a reset link used; false when it had been used already (two
/// requests racing with one link: only one wins).
pub async fn use_password_reset(
    conn: &mut AnyConnection,
    id: i64,
    now: Instant,
) -> Result<bool, StoreError> {
    stamp_once(conn, "password_resets", "used_at", id, now).await
}

/// Retires a user's unused links (a new one replaces them).
pub async fn retire_password_resets(
    conn: &mut AnyConnection,
    user_id: i64,
    now: Instant,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE password_resets SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL")
        .bind(now.millis())
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// A contact's consent records, newest first.
pub async fn consents_of(
    conn: &mut AnyConnection,
    contact_id: i64,
) -> Result<Vec<Consent>, StoreError> {
    let sql = format!(
        "SELECT {} FROM consents WHERE contact_id = $1 ORDER BY given_at DESC, id DESC",
        Consent::columns()
    );
    fetch(conn, &sql, &[contact_id.into()]).await
}
