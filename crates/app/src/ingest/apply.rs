//! Applying kept events: contacts from identify, visitors stitched to
//! them, touchpoints from page/screen/track, accounts from group, and the
//! records an event reveals to be one person merged.

use crate::input::{AccountInput, ContactInput, TouchpointInput};
use crate::{Actor, App, AppError};
use smarketing_core::ingest::{Message, MessageType};
use smarketing_core::{Email, Instant, Invalid, Playbook};
use smarketing_store::ingest as store;
use smarketing_store::{Conn, Contact, repo};
use std::collections::HashMap;
use std::time::Duration;

/// Events the applying job applies per transaction.
const APPLY_BATCH: i64 = 20;

impl App {
    /// Applies up to `limit` kept events in the order they were kept (the
    /// order their ids were given: with two writers on PostgreSQL, two
    /// requests committed at once may interleave, while one client's
    /// requests, each sent after the last was acknowledged, keep theirs),
    /// in one transaction; returns how many. An event that cannot be applied (an
    /// identify without e-mail, a bad value) is marked with why and skipped.
    pub async fn apply_events(&self, limit: i64) -> Result<usize, AppError> {
        let (_, playbook) = self.playbook().await?;
        let now = self.now();
        // First without a savepoint per event (two round trips each, a large
        // part of applying one); should any event fail, the batch is undone
        // and applied again with them, so the failing event alone leaves
        // nothing behind. The second pass also sees what another server
        // process committed meanwhile: two processes creating one contact
        // from two identifies at once both apply, the second finding the
        // first's contact.
        match self.apply_batch(limit, &playbook, now, false).await? {
            Some(applied) => Ok(applied),
            None => Ok(self
                .apply_batch(limit, &playbook, now, true)
                .await?
                .unwrap_or_default()),
        }
    }

    /// One batch of [`App::apply_events`]; `None` when an event failed
    /// without `savepoints` (nothing of the batch was kept).
    async fn apply_batch(
        &self,
        limit: i64,
        playbook: &Playbook,
        now: Instant,
        savepoints: bool,
    ) -> Result<Option<usize>, AppError> {
        // On SQLite each pass takes its turn with the event writer, so an
        // acknowledgement waits for at most one short transaction.
        let _turn = match self.store().writers_take_turns() {
            true => Some(self.ingestion.write_turn.lock().await),
            false => None,
        };
        let mut tx = self.store().begin().await?;
        let events = store::unprocessed_events(&mut tx, limit, self.store().skip_locked()).await?;
        let applied = events.len();
        // A write key a browser page carries is public: events from such a
        // source never merge two records (anyone could send them).
        let server_side: HashMap<i64, bool> = store::sources(&mut tx)
            .await?
            .into_iter()
            .map(|s| (s.id, s.allowed_origins.is_empty()))
            .collect();
        let mut done = Vec::with_capacity(events.len());
        for e in events {
            let reveal = Reveal {
                event_id: e.id,
                may_merge: server_side.get(&e.source_id).copied().unwrap_or(false),
            };
            let m = match Message::from_stored(
                e.payload,
                e.context.as_deref(),
                Instant::from_millis(e.occurred_at)?,
            ) {
                Ok(m) => m,
                Err(why) => {
                    store::mark_processed(&mut tx, e.id, now.millis(), Some(&why.to_string()))
                        .await?;
                    continue;
                }
            };
            let outcome = if !savepoints {
                match apply(&mut tx, playbook, &m, reveal, now).await {
                    Ok(outcome) => outcome,
                    Err(_) => {
                        tx.rollback()
                            .await
                            .map_err(smarketing_store::StoreError::from_sqlx)?;
                        return Ok(None);
                    }
                }
            } else {
                // Each event in its own savepoint: one that fails leaves
                // nothing behind and does not stop the others.
                let mut sp = smarketing_store::Store::savepoint(&mut tx).await?;
                match apply(&mut sp, playbook, &m, reveal, now).await {
                    Ok(outcome) => {
                        sp.commit()
                            .await
                            .map_err(smarketing_store::StoreError::from_sqlx)?;
                        outcome
                    }
                    // Any failure, a database refusal too, undoes this event
                    // only; if even the rollback fails the connection is gone
                    // and the batch stops.
                    Err(e) => {
                        sp.rollback()
                            .await
                            .map_err(smarketing_store::StoreError::from_sqlx)?;
                        Some(e.to_string())
                    }
                }
            };
            match outcome {
                None => done.push(e.id),
                Some(why) => {
                    store::mark_processed(&mut tx, e.id, now.millis(), Some(why.as_str())).await?
                }
            }
        }
        // One statement for the events that applied cleanly: each round trip
        // to the database is a large part of applying an event.
        store::mark_all_processed(&mut tx, &done, now.millis()).await?;
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from_sqlx)?;
        Ok(Some(applied))
    }

    /// Applies kept events as they are committed, until the process ends.
    pub async fn run_event_applier(self) {
        let woken = self.ingestion.committed.clone();
        loop {
            // Small transactions: on SQLite the event writer waits for the
            // one in progress, so each is kept to some tens of milliseconds.
            let started = std::time::Instant::now();
            match self.apply_events(APPLY_BATCH).await {
                Ok(n) if n > 0 => {
                    // Keeping comes first: while requests wait for their
                    // commit, the applier rests as long as it worked, so a
                    // backlog never takes the cores acknowledgements need.
                    if self.events_waiting() {
                        tokio::time::sleep(started.elapsed()).await;
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "applying events failed"),
            }
            let _ = tokio::time::timeout(Duration::from_secs(1), woken.notified()).await;
        }
    }
}

/// What one event means. Returns why it did nothing, when it did nothing.
async fn apply(
    conn: &mut Conn,
    playbook: &Playbook,
    m: &Message,
    reveal: Reveal,
    now: Instant,
) -> Result<Option<String>, AppError> {
    match m.kind {
        MessageType::Identify => identify(conn, playbook, m, reveal, now).await,
        MessageType::Page | MessageType::Screen | MessageType::Track => {
            touch(conn, playbook, m, now).await
        }
        MessageType::Group => group(conn, m, now).await,
        MessageType::Alias => alias(conn, playbook, m, reveal, now).await,
    }
}

/// The event being applied, as far as merging goes.
#[derive(Debug, Clone, Copy)]
struct Reveal {
    event_id: i64,
    /// From a server-side source (no browser origins), whose key is secret.
    may_merge: bool,
}

/// Merges two records an event revealed to be one person and returns the
/// survivor — or, when the event may not merge them (a browser source, or
/// a pair whose merge was undone), why not.
#[allow(clippy::too_many_arguments)]
async fn merge_revealed(
    conn: &mut Conn,
    playbook: &Playbook,
    a: Contact,
    b: Contact,
    kind: &str,
    reveal: Reveal,
    at: Instant,
    now: Instant,
) -> Result<Result<Contact, String>, AppError> {
    let (x, y) = (a.id, b.id);
    if !reveal.may_merge {
        return Ok(Err(format!(
            "contacts {x} and {y} look like one person; events from a source with browser origins do not merge records (merge them by hand, or send from a server-side source)"
        )));
    }
    if smarketing_store::merges::merge_was_undone(conn, x, y).await? {
        return Ok(Err(format!(
            "contacts {x} and {y} look like one person, but their merge was undone; not merged again"
        )));
    }
    let cause = crate::merges::Cause {
        kind,
        event_id: Some(reveal.event_id),
    };
    let merge =
        crate::merges::merge(conn, playbook, a, b, &cause, &Actor::system(), at, now).await?;
    Ok(Ok(repo::get::<Contact>(conn, merge.survivor_id).await?))
}

/// The visitor key of a userId not yet tied to a contact: its touches wait
/// under it and are stitched when an identify names the person.
fn user_visitor(user_id: &str) -> String {
    format!("userId:{user_id}")
}

/// The contact a message is about: by its userId, else by the visitor its
/// anonymousId was stitched to.
async fn known_contact(conn: &mut Conn, m: &Message) -> Result<Option<Contact>, AppError> {
    let mut id = None;
    if let Some(u) = &m.user_id {
        id = store::contact_by_user_id(conn, u).await?;
    }
    if id.is_none()
        && let Some(a) = &m.anonymous_id
    {
        id = store::contact_by_anonymous_id(conn, a).await?;
    }
    match id {
        Some(id) => Ok(Some(repo::get::<Contact>(conn, id).await?)),
        None => Ok(None),
    }
}

async fn identify(
    conn: &mut Conn,
    playbook: &Playbook,
    m: &Message,
    reveal: Reveal,
    now: Instant,
) -> Result<Option<String>, AppError> {
    let email = m
        .trait_text("email")
        .map(|raw| {
            Email::parse(&raw).map_err(|e| Invalid {
                field: "traits.email".into(),
                ..e
            })
        })
        .transpose()?;
    let mut merge_note = None;
    // By userId, then by e-mail — not by the anonymous id: on a shared
    // browser a new e-mail is a new person.
    let mut contact = match &m.user_id {
        Some(u) => match store::contact_by_user_id(conn, u).await? {
            Some(id) => Some(repo::get::<Contact>(conn, id).await?),
            None => None,
        },
        None => None,
    };
    if let Some(email) = &email {
        // A known userId with the e-mail of another record: one person
        // with two records, merged.
        if let Some(known) = &contact
            && let Some(other) = repo::contact_by_email(conn, email.as_str()).await?
        {
            let other = crate::lifecycle::live(conn, other).await?;
            if other.id != known.id {
                match merge_revealed(
                    conn,
                    playbook,
                    known.clone(),
                    other,
                    "identify",
                    reveal,
                    m.timestamp,
                    now,
                )
                .await?
                {
                    Ok(survivor) => contact = Some(survivor),
                    // Not merged: the userId's record stays the one meant.
                    Err(why) => merge_note = Some(why),
                }
            }
        }
    }
    if contact.is_none()
        && let Some(email) = &email
    {
        let t = |k: &str, alt: &str| m.trait_text(k).or_else(|| m.trait_text(alt));
        let input = ContactInput {
            email: email.to_string(),
            first_name: t("firstName", "first_name"),
            last_name: t("lastName", "last_name"),
            job_title: t("title", "job_title"),
            phone: m.trait_text("phone"),
            country: m
                .trait_text("country")
                .or_else(|| m.text_at(&["traits", "address", "country"])),
            created_at: Some(m.timestamp),
            ..Default::default()
        };
        // An erased person is not recorded again, nor is what they sent.
        if crate::privacy::was_erased(conn, email.as_str(), now).await? {
            store::forget_event(conn, reveal.event_id).await?;
            return Ok(Some(
                "the person with this e-mail was erased; the event is not kept".into(),
            ));
        }
        let (c, _) =
            crate::touches::contact_by_email_or_new(conn, playbook, &input, &Actor::system(), now)
                .await?;
        contact = Some(c);
    }
    let Some(contact) = contact else {
        if let Some(a) = &m.anonymous_id {
            repo::upsert_visitor(conn, a, None, m.timestamp).await?;
        }
        return Ok(Some(
            "no e-mail in traits and the userId is not known yet".into(),
        ));
    };
    let mut moved = vec![];
    if let Some(u) = &m.user_id {
        store::add_identity(conn, u, contact.id, now.millis()).await?;
        moved.extend(store::stitch_visitor(conn, &user_visitor(u), contact.id, m.timestamp).await?);
    }
    if let Some(a) = &m.anonymous_id {
        moved.extend(store::stitch_visitor(conn, a, contact.id, m.timestamp).await?);
    }
    let contact = join_company(conn, m, contact, now).await?;
    let (contact, raised) = crate::touches::stitched(conn, playbook, contact, &moved).await?;
    // A hand raised while anonymous counts once the hand is known.
    crate::touches::qualify(conn, playbook, contact, raised.as_ref(), m.timestamp, now).await?;
    Ok(merge_note)
}

async fn touch(
    conn: &mut Conn,
    playbook: &Playbook,
    m: &Message,
    now: Instant,
) -> Result<Option<String>, AppError> {
    let contact = known_contact(conn, m).await?;
    let o = m.origin();
    let kind = match m.kind {
        MessageType::Track => {
            let event = m.text("event").unwrap_or_default();
            playbook.kind_for_event(&event).map(str::to_string)
        }
        _ => playbook
            .touch_kinds
            .iter()
            .any(|k| k.id == "page_view")
            .then(|| "page_view".to_string()),
    };
    let mut properties = match m.body.get("properties") {
        Some(serde_json::Value::Object(p)) => p.clone(),
        _ => Default::default(),
    };
    for key in ["event", "name"] {
        if let Some(v) = m.text(key) {
            properties.insert(key.into(), v.into());
        }
    }
    let anonymous_id = match (&contact, &m.anonymous_id, &m.user_id) {
        (_, Some(a), _) => Some(a.clone()),
        (None, None, Some(u)) => Some(user_visitor(u)),
        _ => None,
    };
    let input = TouchpointInput {
        contact_id: contact.as_ref().map(|c| c.id),
        anonymous_id,
        occurred_at: Some(m.timestamp),
        kind,
        utm_source: o.utm_source,
        utm_medium: o.utm_medium,
        utm_campaign: o.utm_campaign,
        utm_term: o.utm_term,
        utm_content: o.utm_content,
        referrer: o.referrer,
        page_url: o.page_url,
        gclid: o.gclid,
        fbclid: o.fbclid,
        msclkid: o.msclkid,
        li_fat_id: o.li_fat_id,
        properties: Some(properties),
        ..Default::default()
    };
    crate::touches::record_one(conn, playbook, &input, &Actor::system(), now).await?;
    Ok(None)
}

/// The account a form's `company` trait names, for a contact that has
/// none: found by the company's domain (given, from its website, or the
/// e-mail's when that is no free-mail provider's) or by its name, else
/// created with them. The contact is saved by the rescoring that follows.
async fn join_company(
    conn: &mut Conn,
    m: &Message,
    mut contact: Contact,
    now: Instant,
) -> Result<Contact, AppError> {
    if contact.account_id.is_some() {
        return Ok(contact);
    }
    let name = m
        .trait_text("company")
        .or_else(|| m.text_at(&["traits", "company", "name"]))
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    let Some(name) = name else {
        return Ok(contact);
    };
    let email = Email::parse(&contact.email).ok();
    let domain = m
        .text_at(&["traits", "company", "domain"])
        .or_else(|| {
            m.trait_text("website")
                .as_deref()
                .and_then(smarketing_core::playbook::url_host)
                .map(str::to_string)
        })
        .or_else(|| {
            email
                .filter(|e| !e.is_free_mail())
                .map(|e| e.domain().to_string())
        })
        .map(|d| d.trim().trim_start_matches("www.").to_ascii_lowercase());
    let account = match repo::account_by_domain_or_name(conn, domain.as_deref(), &name).await? {
        Some(a) => a,
        None => {
            let input = AccountInput {
                name,
                domain,
                ..Default::default()
            };
            crate::accounts::insert_account(conn, &input, now).await?
        }
    };
    contact.account_id = Some(account.id);
    Ok(contact)
}

async fn group(conn: &mut Conn, m: &Message, now: Instant) -> Result<Option<String>, AppError> {
    let Some(contact) = known_contact(conn, m).await? else {
        return Ok(Some("the userId is not a known contact".into()));
    };
    let group_id = m.text("groupId").unwrap_or_default();
    let t = |k: &str| m.trait_text(k);
    let account = match repo::account_by_external_id(conn, &group_id).await? {
        Some(a) => a,
        None => {
            let input = AccountInput {
                name: t("name").unwrap_or_else(|| group_id.clone()),
                domain: t("domain").or_else(|| {
                    t("website")
                        .as_deref()
                        .and_then(smarketing_core::playbook::url_host)
                        .map(str::to_string)
                }),
                industry: t("industry"),
                employee_count: m
                    .body
                    .get("traits")
                    .and_then(|tr| tr.get("employees"))
                    .and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok())),
                country: t("country"),
                external_id: Some(group_id.clone()),
                ..Default::default()
            };
            crate::accounts::insert_account(conn, &input, now).await?
        }
    };
    if contact.account_id != Some(account.id) {
        let mut c = contact;
        c.account_id = Some(account.id);
        c.updated_at = now;
        repo::update::<Contact>(conn, c.id, &c).await?;
    }
    Ok(None)
}

async fn alias(
    conn: &mut Conn,
    playbook: &Playbook,
    m: &Message,
    reveal: Reveal,
    now: Instant,
) -> Result<Option<String>, AppError> {
    let previous = m.text("previousId").unwrap_or_default();
    let user = m.user_id.clone().unwrap_or_default();
    let at = m.timestamp;
    let a = store::contact_by_user_id(conn, &user).await?;
    // analytics.js sends the anonymous id as previousId.
    let b = match store::contact_by_user_id(conn, &previous).await? {
        Some(c) => Some(c),
        None => store::contact_by_anonymous_id(conn, &previous).await?,
    };
    match (a, b) {
        (Some(x), Some(y)) if x != y => {
            // The two ids are one person: their two records become one.
            let x = repo::get::<Contact>(conn, x).await?;
            let y = repo::get::<Contact>(conn, y).await?;
            Ok(
                merge_revealed(conn, playbook, x, y, "alias", reveal, at, now)
                    .await?
                    .err(),
            )
        }
        (Some(c), _) | (None, Some(c)) => {
            let mut moved = vec![];
            for id in [&user, &previous] {
                store::add_identity(conn, id, c, now.millis()).await?;
                moved.extend(store::stitch_visitor(conn, &user_visitor(id), c, at).await?);
            }
            moved.extend(store::stitch_visitor(conn, &previous, c, at).await?);
            if !moved.is_empty() {
                let contact = repo::get::<Contact>(conn, c).await?;
                let (contact, raised) =
                    crate::touches::stitched(conn, playbook, contact, &moved).await?;
                crate::touches::qualify(conn, playbook, contact, raised.as_ref(), at, now).await?;
            }
            Ok(None)
        }
        (None, None) => Ok(Some("neither id is a known contact yet".into())),
    }
}
