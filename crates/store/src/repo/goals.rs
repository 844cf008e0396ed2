//! Goals and what they are measured against: revenue goals per period and
//! segment, stage reach and won deals in a window, handoff decisions.

use super::*;

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
        Goal::columns()
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
        Goal::columns()
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
        Goal::columns()
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
/// in `[from, to)`. The total is exact whatever is stored: SQLite's SUM
/// fails on a 64-bit overflow, so the amounts are summed in two parts (the
/// billions and the rest), each far from overflowing, and joined in 128 bits.
pub async fn won_deals(
    conn: &mut AnyConnection,
    from: Instant,
    to: Instant,
    segment: Option<&Segment>,
) -> Result<(i64, i128), StoreError> {
    use sqlx::Row;
    // SUM of a BIGINT is NUMERIC on PostgreSQL; cast so both backends return an integer.
    let sql = format!(
        "SELECT COUNT(*), CAST(COALESCE(SUM(amount_minor / 1000000000), 0) AS BIGINT), \
         CAST(COALESCE(SUM(amount_minor % 1000000000), 0) AS BIGINT) \
         FROM deals WHERE status = 'won' AND closed_at >= $1 AND closed_at < $2 AND {}",
        contact_in_segment("contact_id", segment, 3)
    );
    let q = windowed(&sql, from, to, segment);
    let row = q.fetch_one(conn).await?;
    let billions = i128::from(row.try_get::<i64, _>(1)?);
    let rest = i128::from(row.try_get::<i64, _>(2)?);
    Ok((row.try_get::<i64, _>(0)?, billions * 1_000_000_000 + rest))
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
