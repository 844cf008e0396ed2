//! Notes on a contact, an account or a deal.

use crate::error::named;
use crate::input::*;
use crate::lifecycle::check_contact_ref;
use crate::listing::{Paging, created};
use crate::{Actor, App, AppError};
use serde::Deserialize;
use smarketing_core::Invalid;
use smarketing_core::access::{Action, Relation};
use smarketing_store::filters::NoteRows;
use smarketing_store::{Note, Page, repo};

#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct NoteFilter {
    pub contact_id: Option<i64>,
    pub account_id: Option<i64>,
    pub deal_id: Option<i64>,
    pub author_id: Option<i64>,
    pub created_from: Option<String>,
    pub created_to: Option<String>,
}

impl App {
    pub async fn create_note(&self, input: NoteInput, actor: &Actor) -> Result<Note, AppError> {
        actor.authorize(Action::AddRecords, Relation::Company)?;
        if input.contact_id.is_none() && input.account_id.is_none() && input.deal_id.is_none() {
            return Err(Invalid::new(
                "required",
                "contact_id",
                "a note belongs to a contact, an account or a deal",
            )
            .into());
        }
        let now = self.now();
        let n = Note {
            id: 0,
            contact_id: input.contact_id,
            account_id: input.account_id,
            deal_id: input.deal_id,
            author_id: actor.user_id,
            body: text("body", &input.body, BODY_MAX)?,
            created_at: now,
            updated_at: now,
        };
        let mut conn = self.store().acquire().await?;
        check_contact_ref(&mut conn, "contact_id", n.contact_id).await?;
        crate::deals::check_deal_visible(&mut conn, actor, n.deal_id).await?;
        repo::insert(&mut conn, &n).await.map_err(|e| match e {
            smarketing_store::StoreError::MissingReference => AppError::Invalid(Invalid::new(
                "unknown_reference",
                if n.contact_id.is_some() {
                    "contact_id"
                } else if n.account_id.is_some() {
                    "account_id"
                } else {
                    "deal_id"
                },
                "the record the note belongs to does not exist",
            )),
            other => named("note", 0)(other),
        })
    }

    pub async fn note(&self, id: i64) -> Result<Note, AppError> {
        self.note_for(id, &Actor::system()).await
    }

    /// A note as `actor` may see it: one on a deal hidden from them is 404.
    pub async fn note_for(&self, id: i64, actor: &Actor) -> Result<Note, AppError> {
        let mut conn = self.store().acquire().await?;
        let n: Note = repo::get(&mut conn, id).await.map_err(named("note", id))?;
        crate::deals::check_deal_visible(&mut conn, actor, n.deal_id)
            .await
            .map_err(|_| AppError::not_found("note", id))?;
        Ok(n)
    }

    pub async fn update_note(
        &self,
        id: i64,
        patch: NotePatch,
        actor: &Actor,
    ) -> Result<Note, AppError> {
        let mut tx = self.store().begin().await?;
        let mut n: Note = repo::get(&mut tx, id).await.map_err(named("note", id))?;
        crate::deals::check_deal_visible(&mut tx, actor, n.deal_id)
            .await
            .map_err(|_| AppError::not_found("note", id))?;
        // As it was, for the audit log.
        let before = n.clone();
        let relation = crate::access::relation_to_user(&mut tx, actor, n.author_id).await?;
        actor.authorize(Action::EditNote, relation)?;
        if let Some(b) = &patch.body {
            n.body = text("body", b, BODY_MAX)?;
        }
        n.updated_at = self.now();
        crate::audit::record_update(
            &mut tx,
            actor,
            "note.update",
            ("note", id),
            &before,
            &n,
            self.now(),
        )
        .await?;
        let saved = repo::update(&mut tx, id, &n)
            .await
            .map_err(named("note", id))?;
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(saved)
    }

    pub async fn notes(&self, f: &NoteFilter, paging: &Paging) -> Result<Page<Note>, AppError> {
        self.notes_for(f, paging, &Actor::system()).await
    }

    /// The notes matching `f` that `actor` may see: none on a deal hidden
    /// from them (a rep sees their own deals only).
    pub async fn notes_for(
        &self,
        f: &NoteFilter,
        paging: &Paging,
        actor: &Actor,
    ) -> Result<Page<Note>, AppError> {
        let mut conn = self.store().acquire().await?;
        let on_deals_of = crate::deals::deal_scope(&mut conn, actor, f.deal_id).await?;
        let w = NoteRows {
            on_deals_of,
            contact_id: f.contact_id,
            account_id: f.account_id,
            deal_id: f.deal_id,
            author_id: f.author_id,
            created: created(&f.created_from, &f.created_to)?,
        }
        .to_where();
        Ok(repo::page(&mut conn, w, paging.cursor()?, paging.limit()?).await?)
    }
}
