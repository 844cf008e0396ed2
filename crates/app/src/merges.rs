//! Merging two records of one person into one — by hand, or when an
//! `alias` or `identify` reveals it — and undoing a merge. Every merge is
//! recorded with what moved and which fields it filled, so an unmerge puts
//! each row and field back.

use crate::Actor;
use crate::error::named;
use crate::lifecycle::{close_open_handoff, rescore};
use crate::{App, AppError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use smarketing_core::access::{Action, Relation};
use smarketing_core::{Instant, Invalid, Playbook, Stage};
use smarketing_store::merges::{self as store, ContactMerge, FilledField};
use smarketing_store::{Conn, Contact, repo};
use std::collections::BTreeMap;

/// A request to merge two contacts.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MergeInput {
    /// The two records of one person. The one further along the funnel
    /// survives (its stage and history stand); on a tie, the older one.
    pub contact_ids: [i64; 2],
}

/// Why two records are being merged, for the record of the merge.
pub(crate) struct Cause<'a> {
    pub kind: &'a str,
    pub event_id: Option<i64>,
}

impl App {
    /// Merges two contacts into one (see [`MergeInput`]).
    pub async fn merge_contacts(
        &self,
        input: &MergeInput,
        actor: &Actor,
    ) -> Result<ContactMerge, AppError> {
        let (_, playbook) = self.playbook().await?;
        let now = self.now();
        let mut tx = self.store().begin().await?;
        let [a, b] = input.contact_ids;
        store::lock_contacts(&mut tx, [a, b]).await?;
        let a: Contact = repo::get(&mut tx, a).await.map_err(named("contact", a))?;
        let b: Contact = repo::get(&mut tx, b).await.map_err(named("contact", b))?;
        // Each record as it stands to the actor: their own, their team's
        // (for marketing, the leads no one owns yet), or someone else's. A
        // merge can give the survivor the other record's owner, so a rep
        // merges only their own records.
        for c in [&a, &b] {
            let relation =
                crate::access::relation_to_user_or_marketing(&mut tx, actor, c.owner_id).await?;
            actor.authorize(Action::MergeContacts, relation)?;
        }
        let cause = Cause {
            kind: "manual",
            event_id: None,
        };
        let (a_id, b_id) = (a.id, b.id);
        let merge = merge(&mut tx, &playbook, a, b, &cause, actor, now, now).await?;
        crate::audit::record(
            &mut tx,
            actor,
            "contact.merge",
            ("contact", &merge.survivor_id),
            Some(&serde_json::json!({ "contact_ids": [a_id, b_id] })),
            Some(&merge),
            now,
        )
        .await?;
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(merge)
    }

    /// Undoes a merge: the rows it moved go back to the merged record, the
    /// survivor's fields it filled are emptied again (unless edited since),
    /// and both records are rescored. A stage move the merge caused stays
    /// in the history, as every stage change does.
    pub async fn unmerge_contacts(&self, id: i64, actor: &Actor) -> Result<ContactMerge, AppError> {
        let now = self.now();
        let (_, playbook) = self.playbook().await?;
        let mut tx = self.store().begin().await?;
        let mut merge: ContactMerge = repo::get(&mut tx, id)
            .await
            .map_err(named("contact merge", id))?;
        let relation = if merge.actor == actor.label {
            Relation::Own
        } else {
            Relation::Other
        };
        actor.authorize(Action::UndoMerge, relation)?;
        if merge.unmerged_at.is_some() {
            return Err(Invalid::new(
                "already_unmerged",
                "id",
                format!("merge {id} was already undone"),
            )
            .into());
        }
        store::lock_contacts(&mut tx, [merge.survivor_id, merge.merged_id]).await?;
        let mut survivor: Contact = repo::get(&mut tx, merge.survivor_id).await?;
        if let Some(into) = survivor.merged_into_id {
            return Err(Invalid::new(
                "survivor_merged",
                "id",
                format!(
                    "contact {} was since merged into {into}; undo that merge first",
                    survivor.id
                ),
            )
            .into());
        }
        let mut merged: Contact = repo::get(&mut tx, merge.merged_id).await?;
        store::move_rows_back(&mut tx, &merge.moved, survivor.id, merged.id).await?;
        restore_fields(&mut survivor, &merge.filled);
        survivor.updated_at = now;
        merged.merged_into_id = None;
        merged.updated_at = now;
        // Rescoring saves each record, restored fields included.
        for c in [survivor, merged] {
            rescore(&mut tx, &playbook, c, now).await?;
        }
        merge.unmerged_at = Some(now);
        merge.unmerged_by = Some(actor.label.clone());
        let merge = repo::update(&mut tx, id, &merge).await?;
        crate::audit::record(
            &mut tx,
            actor,
            "contact.unmerge",
            ("contact_merge", &id),
            crate::audit::NOTHING,
            Some(&merge),
            now,
        )
        .await?;
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(merge)
    }

    /// Every merge a contact took part in, oldest first.
    pub async fn contact_merges(&self, contact_id: i64) -> Result<Vec<ContactMerge>, AppError> {
        let mut conn = self.store().acquire().await?;
        repo::get::<Contact>(&mut conn, contact_id)
            .await
            .map_err(named("contact", contact_id))?;
        Ok(store::merges_of(&mut conn, contact_id).await?)
    }
}

/// Of two records, the survivor first: the one further along the funnel
/// (a side state ranks below every funnel stage), else the older one.
pub(crate) fn survivor_first(a: Contact, b: Contact) -> (Contact, Contact) {
    let rank = |c: &Contact| c.stage.funnel_rank().map_or(0, |r| i32::from(r) + 1);
    let key = |c: &Contact| (std::cmp::Reverse(rank(c)), c.created_at.millis(), c.id);
    if key(&a) <= key(&b) { (a, b) } else { (b, a) }
}

/// Merges `a` and `b` (in a transaction the caller holds): the merged
/// record's touchpoints, visitors, userIds, activities, notes, deals and
/// open handoff move to the survivor, the survivor's empty fields are
/// filled from it, and the survivor is rescored at `at` — a hand-raiser
/// among the moved touches makes it an MQL as stitching does.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn merge(
    conn: &mut Conn,
    playbook: &Playbook,
    a: Contact,
    b: Contact,
    cause: &Cause<'_>,
    actor: &Actor,
    at: Instant,
    now: Instant,
) -> Result<ContactMerge, AppError> {
    if a.id == b.id {
        return Err(
            Invalid::new("same_contact", "contact_ids", "name two different contacts").into(),
        );
    }
    store::lock_contacts(conn, [a.id, b.id]).await?;
    // Re-read under the lock: the callers' copies may predate another merge.
    let a: Contact = repo::get(conn, a.id).await?;
    let b: Contact = repo::get(conn, b.id).await?;
    for c in [&a, &b] {
        if let Some(into) = c.merged_into_id {
            return Err(Invalid::new(
                "already_merged",
                "contact_ids",
                format!("contact {} was already merged into {into}", c.id),
            )
            .into());
        }
    }
    let (mut survivor, mut merged) = survivor_first(a, b);
    // Two open handoffs would leave one running its SLA clocks for a
    // record nobody sees: sales decides one first.
    if repo::open_handoff_of_contact(conn, survivor.id)
        .await?
        .is_some()
        && repo::open_handoff_of_contact(conn, merged.id)
            .await?
            .is_some()
    {
        return Err(Invalid::new(
            "both_handed_off",
            "contact_ids",
            format!(
                "contacts {} and {} both have an open handoff; accept or reject one first",
                survivor.id, merged.id
            ),
        )
        .into());
    }
    let moved = store::move_contact_rows(conn, merged.id, survivor.id).await?;
    let filled = fill_fields(&mut survivor, &merged);
    survivor.updated_at = now;
    let source_before = survivor.source_channel.clone();
    let (survivor, raised) =
        crate::touches::stitched(conn, playbook, survivor, &moved.touchpoints).await?;
    let mut filled = filled;
    if survivor.source_channel != source_before {
        filled.insert(
            "source_channel".into(),
            FilledField {
                before: serde_json::json!(source_before),
                after: serde_json::json!(survivor.source_channel),
            },
        );
    }
    merged.merged_into_id = Some(survivor.id);
    merged.updated_at = now;
    let (merged_id, survivor_id) = (merged.id, survivor.id);
    // Rescoring saves each record: the filled fields and the pointer too.
    rescore(conn, playbook, merged, at).await?;
    crate::touches::qualify(conn, playbook, survivor, raised.as_ref(), at, now).await?;
    // A handoff the merge moved waits only on an MQL: on a survivor in any
    // other stage it leaves the loop, closed by the merge.
    if repo::get::<Contact>(conn, survivor_id).await?.stage != Stage::Mql {
        close_open_handoff(conn, survivor_id, "merged", actor, now).await?;
    }
    let record = ContactMerge {
        id: 0,
        survivor_id,
        merged_id,
        cause: cause.kind.into(),
        event_id: cause.event_id,
        actor: actor.label.clone(),
        actor_user_id: actor.user_id,
        merged_at: now,
        moved,
        filled,
        unmerged_at: None,
        unmerged_by: None,
    };
    Ok(repo::insert(conn, &record).await?)
}

/// Fills each empty survivor field from the merged record, noting it.
fn fill_fields(s: &mut Contact, m: &Contact) -> BTreeMap<String, FilledField> {
    fn fill<T: Clone + Serialize>(
        out: &mut BTreeMap<String, FilledField>,
        name: &str,
        to: &mut Option<T>,
        from: &Option<T>,
    ) {
        if to.is_none() && from.is_some() {
            *to = from.clone();
            out.insert(
                name.into(),
                FilledField {
                    before: serde_json::Value::Null,
                    after: serde_json::json!(from),
                },
            );
        }
    }
    let mut out = BTreeMap::new();
    fill(&mut out, "first_name", &mut s.first_name, &m.first_name);
    fill(&mut out, "last_name", &mut s.last_name, &m.last_name);
    fill(&mut out, "job_title", &mut s.job_title, &m.job_title);
    fill(&mut out, "phone", &mut s.phone, &m.phone);
    fill(&mut out, "country", &mut s.country, &m.country);
    fill(&mut out, "persona", &mut s.persona, &m.persona);
    fill(&mut out, "account_id", &mut s.account_id, &m.account_id);
    fill(&mut out, "owner_id", &mut s.owner_id, &m.owner_id);
    out
}

/// Puts back each field a merge filled or changed, unless it was edited since.
fn restore_fields(s: &mut Contact, filled: &BTreeMap<String, FilledField>) {
    fn restore<T: Serialize + DeserializeOwned>(
        filled: &BTreeMap<String, FilledField>,
        name: &str,
        field: &mut Option<T>,
    ) {
        if let Some(f) = filled.get(name)
            && serde_json::json!(field) == f.after
        {
            *field = serde_json::from_value(f.before.clone()).unwrap_or(None);
        }
    }
    restore(filled, "first_name", &mut s.first_name);
    restore(filled, "last_name", &mut s.last_name);
    restore(filled, "job_title", &mut s.job_title);
    restore(filled, "phone", &mut s.phone);
    restore(filled, "country", &mut s.country);
    restore(filled, "persona", &mut s.persona);
    restore(filled, "account_id", &mut s.account_id);
    restore(filled, "owner_id", &mut s.owner_id);
    restore(filled, "source_channel", &mut s.source_channel);
}
