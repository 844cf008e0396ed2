//! Accounts: the companies contacts belong to.

use crate::access::{authorize_new_record, authorize_record_change};
use crate::error::named;
use crate::input::*;
use crate::lifecycle::check_user_ref;
use crate::listing::{Paging, created};
use crate::{Actor, App, AppError};
use serde::Deserialize;
use smarketing_core::{Instant, Invalid};
use smarketing_store::Conn as AnyConnection;
use smarketing_store::filters::AccountRows;
use smarketing_store::{Account, Page, repo};

#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct AccountFilter {
    pub owner_id: Option<i64>,
    pub domain: Option<String>,
    pub region: Option<String>,
    pub created_from: Option<String>,
    pub created_to: Option<String>,
}

fn new_account(input: &AccountInput, now: Instant) -> Result<Account, Invalid> {
    Ok(Account {
        id: 0,
        external_id: opt_text("external_id", input.external_id.as_deref(), NAME_MAX)?,
        name: text("name", &input.name, NAME_MAX)?,
        domain: opt_text("domain", input.domain.as_deref(), 253)?.map(|d| d.to_lowercase()),
        industry: opt_text("industry", input.industry.as_deref(), NAME_MAX)?,
        employee_count: input
            .employee_count
            .map(|n| non_negative("employee_count", n))
            .transpose()?,
        company_size: opt_text("company_size", input.company_size.as_deref(), 50)?,
        region: opt_text("region", input.region.as_deref(), 50)?,
        country: opt_text("country", input.country.as_deref(), 100)?,
        owner_id: input.owner_id,
        created_at: now,
        updated_at: now,
    })
}

impl App {
    pub async fn create_account(
        &self,
        input: AccountInput,
        actor: &Actor,
    ) -> Result<Account, AppError> {
        let mut conn = self.store().acquire().await?;
        authorize_new_record(&mut conn, actor, input.owner_id).await?;
        insert_account(&mut conn, &input, self.now()).await
    }

    pub async fn account(&self, id: i64) -> Result<Account, AppError> {
        let mut conn = self.store().acquire().await?;
        repo::get(&mut conn, id).await.map_err(named("account", id))
    }

    pub async fn update_account(
        &self,
        id: i64,
        patch: AccountPatch,
        actor: &Actor,
    ) -> Result<Account, AppError> {
        let mut tx = self.store().begin().await?;
        let mut a: Account = repo::get(&mut tx, id).await.map_err(named("account", id))?;
        // As it was, for the audit log.
        let before = a.clone();
        authorize_record_change(&mut tx, actor, a.owner_id, patch.owner_id).await?;
        if let Some(n) = &patch.name {
            a.name = text("name", n, NAME_MAX)?;
        }
        if let Some(v) = patch.domain {
            a.domain = opt_text("domain", v.as_deref(), 253)?.map(|d| d.to_lowercase());
        }
        if let Some(v) = patch.industry {
            a.industry = opt_text("industry", v.as_deref(), NAME_MAX)?;
        }
        if let Some(v) = patch.employee_count {
            a.employee_count = v.map(|n| non_negative("employee_count", n)).transpose()?;
        }
        if let Some(v) = patch.company_size {
            a.company_size = opt_text("company_size", v.as_deref(), 50)?;
        }
        if let Some(v) = patch.region {
            a.region = opt_text("region", v.as_deref(), 50)?;
        }
        if let Some(v) = patch.country {
            a.country = opt_text("country", v.as_deref(), 100)?;
        }
        if let Some(v) = patch.owner_id {
            check_user_ref(&mut tx, "owner_id", v).await?;
            a.owner_id = v;
        }
        a.updated_at = self.now();
        crate::audit::record_update(
            &mut tx,
            actor,
            "account.update",
            ("account", id),
            &before,
            &a,
            self.now(),
        )
        .await?;
        let saved = repo::update(&mut tx, id, &a)
            .await
            .map_err(named("account", id))?;
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(saved)
    }

    pub async fn accounts(
        &self,
        f: &AccountFilter,
        paging: &Paging,
    ) -> Result<Page<Account>, AppError> {
        let w = AccountRows {
            owner_id: f.owner_id,
            domain: f.domain.as_deref().map(str::to_lowercase),
            region: f.region.clone(),
            created: created(&f.created_from, &f.created_to)?,
        }
        .to_where();
        let mut conn = self.store().acquire().await?;
        Ok(repo::page(&mut conn, w, paging.cursor()?, paging.limit()?).await?)
    }
}

/// Saves a new account (its owner, if any, checked).
pub(crate) async fn insert_account(
    conn: &mut AnyConnection,
    input: &AccountInput,
    now: Instant,
) -> Result<Account, AppError> {
    let account = new_account(input, now)?;
    check_user_ref(conn, "owner_id", account.owner_id).await?;
    repo::insert(conn, &account)
        .await
        .map_err(named("account", 0))
}
