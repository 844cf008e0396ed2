//! Reading the history reports scan into the in-memory dataset, in one
//! streaming pass per table, and the data version that keys cached results.

use crate::StoreError;
use futures_util::TryStreamExt;
use smarketing_core::Stage;
use smarketing_core::analytics::dataset::{DatasetBuilder, DealStatus};
use sqlx::{AnyConnection, Row};

/// The counter every write to the reported tables bumps (migration 0006).
pub async fn data_version(conn: &mut AnyConnection) -> Result<i64, StoreError> {
    Ok(sqlx::query("SELECT version FROM data_version WHERE id = 1")
        .fetch_one(conn)
        .await?
        .try_get(0)?)
}

/// Rows read per table, for progress and figures.
#[derive(Debug, Clone, Copy, Default)]
pub struct Loaded {
    pub contacts: u64,
    pub touches: u64,
    pub changes: u64,
    pub deals: u64,
}

/// Streams campaigns, contacts (with their account's size and region and
/// owner's e-mail), touches, stage changes and deals into `b`. A contact
/// merged into another is left out, and with it its stage history: the
/// person is counted once, as the survivor.
pub async fn load(conn: &mut AnyConnection, b: &mut DatasetBuilder) -> Result<Loaded, StoreError> {
    let mut n = Loaded::default();
    let mut rows = sqlx::query("SELECT id, name, channel, spend_minor, started_at FROM campaigns")
        .fetch(&mut *conn);
    while let Some(r) = rows.try_next().await? {
        b.campaign(
            r.try_get(0)?,
            r.try_get::<String, _>(1)?.as_str(),
            r.try_get::<String, _>(2)?.as_str(),
            r.try_get(3)?,
            r.try_get(4)?,
        );
    }
    drop(rows);
    let mut rows = sqlx::query(
        "SELECT c.id, c.account_id, c.source_channel, c.persona, a.company_size, a.region, u.email \
         FROM contacts c LEFT JOIN accounts a ON a.id = c.account_id LEFT JOIN users u ON u.id = c.owner_id \
         WHERE c.merged_into_id IS NULL",
    )
    .fetch(&mut *conn);
    while let Some(r) = rows.try_next().await? {
        let s = |i: usize| r.try_get::<Option<&str>, _>(i);
        // In `Dimension::ALL` order; the campaign comes from the first touch.
        b.contact(
            r.try_get(0)?,
            r.try_get(1)?,
            [s(2)?, None, s(3)?, s(4)?, s(5)?, s(6)?],
        );
        n.contacts += 1;
    }
    drop(rows);
    let mut rows = sqlx::query(
        "SELECT contact_id, id, occurred_at, channel, campaign_id FROM touchpoints WHERE contact_id IS NOT NULL",
    )
    .fetch(&mut *conn);
    while let Some(r) = rows.try_next().await? {
        b.touch(
            r.try_get(0)?,
            r.try_get(1)?,
            r.try_get(2)?,
            r.try_get::<&str, _>(3)?,
            r.try_get(4)?,
        );
        n.touches += 1;
    }
    drop(rows);
    let mut rows = sqlx::query(
        "SELECT contact_id, to_stage, changed_at, touchpoint_id FROM stage_changes ORDER BY id",
    )
    .fetch(&mut *conn);
    while let Some(r) = rows.try_next().await? {
        let stage: Stage = r
            .try_get::<String, _>(1)?
            .parse()
            .map_err(|e: smarketing_core::Invalid| StoreError::Corrupt(e.message))?;
        b.change(r.try_get(0)?, stage, r.try_get(2)?, r.try_get(3)?);
        n.changes += 1;
    }
    drop(rows);
    let mut rows = sqlx::query(
        "SELECT id, contact_id, account_id, status, amount_minor, created_at, closed_at FROM deals",
    )
    .fetch(&mut *conn);
    while let Some(r) = rows.try_next().await? {
        let status = match r.try_get::<String, _>(3)?.as_str() {
            "won" => DealStatus::Won,
            "lost" => DealStatus::Lost,
            _ => DealStatus::Open,
        };
        b.deal(
            r.try_get(0)?,
            r.try_get(1)?,
            r.try_get(2)?,
            status,
            r.try_get(4)?,
            r.try_get(5)?,
            r.try_get(6)?,
        );
        n.deals += 1;
    }
    Ok(n)
}
