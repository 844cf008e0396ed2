//! The webhook outbox: endpoints, queued deliveries, leases and attempts.

use super::*;

pub async fn insert_webhook_endpoint(
    conn: &mut AnyConnection,
    url: &str,
    secret: &str,
    events: &str,
    now: Instant,
) -> Result<WebhookEndpoint, StoreError> {
    let sql = format!(
        "INSERT INTO webhook_endpoints (url, secret, events, active, created_at) VALUES ($1, $2, $3, 1, $4) RETURNING {}",
        WebhookEndpoint::columns()
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
        WebhookEndpoint::columns()
    );
    fetch(conn, &sql, &[]).await
}

/// Pauses (`false`) or resumes an endpoint; false when there is none.
/// A paused endpoint's deliveries wait, and go out once it is resumed.
pub async fn set_webhook_active(
    conn: &mut AnyConnection,
    id: i64,
    active: bool,
) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE webhook_endpoints SET active = $1 WHERE id = $2")
        .bind(i64::from(active))
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Deletes an endpoint and its deliveries; false when there is none.
pub async fn delete_webhook_endpoint(
    conn: &mut AnyConnection,
    id: i64,
) -> Result<bool, StoreError> {
    sqlx::query("DELETE FROM webhook_deliveries WHERE endpoint_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let done = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// An endpoint's latest deliveries, newest first: its delivery log.
pub async fn deliveries_of(
    conn: &mut AnyConnection,
    endpoint_id: i64,
    limit: i64,
) -> Result<Vec<WebhookDelivery>, StoreError> {
    let sql = format!(
        "SELECT {} FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY id DESC LIMIT $2",
        WebhookDelivery::columns()
    );
    fetch(conn, &sql, &[endpoint_id.into(), limit.into()]).await
}

/// Queues one delivery of an event to an endpoint (once per message id).
pub async fn enqueue_delivery(
    conn: &mut AnyConnection,
    endpoint_id: i64,
    message_id: &str,
    event: &str,
    payload: &str,
    contact_id: Option<i64>,
    now: Instant,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO webhook_deliveries (endpoint_id, message_id, event, payload, attempts, next_attempt_at, created_at, contact_id) VALUES ($1, $2, $3, $4, 0, $5, $5, $6) \
         ON CONFLICT (endpoint_id, message_id) DO NOTHING",
    )
    .bind(endpoint_id)
    .bind(message_id)
    .bind(event)
    .bind(payload)
    .bind(now.millis())
    .bind(contact_id)
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
        "SELECT {} FROM webhook_deliveries WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1 \
         AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE active = 1) ORDER BY next_attempt_at, id LIMIT $2",
        WebhookDelivery::columns()
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
        WebhookDelivery::columns()
    );
    fetch(conn, &sql, &[]).await
}
