//! Personal data (GDPR): everything held about one person, exported as
//! one JSON document — the contact and its account, the ids and browsers
//! they are known by, their raw kept events, touches, stage history,
//! activities, notes, deals, handoffs, merges and consents. Admins only;
//! audited. Erasure: a hard delete of all of it, leaving only a keyed hash
//! of the e-mail so that no source records the person again. Consent
//! records: what a person agreed to, on what basis, where and when. And
//! retention: anonymous visitors' data is deleted some time after they
//! were last seen.

use crate::error::named;
use crate::{Actor, App, AppError};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use smarketing_core::access::{Action, Relation};
use smarketing_core::{Instant, Invalid};
use smarketing_store::person::Erased;
use smarketing_store::{Account, Conn, Consent, Contact, repo};

/// The name of the key erasure tombstones are hashed with.
const ERASURE_KEY: &str = "erasure";

/// The keyed hash of an e-mail an erasure leaves: HMAC-SHA256 with this
/// installation's own key, so the tombstones cannot be matched against a
/// list of addresses without the database's key as well.
pub(crate) async fn email_hash(
    conn: &mut Conn,
    email: &str,
    now: Instant,
) -> Result<String, AppError> {
    Ok(keyed_hash(&erasure_key(conn, now).await?, email))
}

async fn erasure_key(conn: &mut Conn, now: Instant) -> Result<String, AppError> {
    let fresh = hex::encode(rand::random::<[u8; 32]>());
    Ok(smarketing_store::person::instance_key(conn, ERASURE_KEY, &fresh, now.millis()).await?)
}

fn keyed_hash(key: &str, email: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
    mac.update(email.trim().to_lowercase().as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Every tombstone, for checking many e-mails at once (an import).
pub(crate) struct Tombstones {
    key: String,
    hashes: std::collections::HashSet<String>,
}

impl Tombstones {
    pub(crate) async fn load(conn: &mut Conn, now: Instant) -> Result<Self, AppError> {
        Ok(Tombstones {
            key: erasure_key(conn, now).await?,
            hashes: smarketing_store::person::erased_hashes(conn)
                .await?
                .into_iter()
                .collect(),
        })
    }

    /// Whether the person with this e-mail was erased.
    pub(crate) fn cover(&self, email: &str) -> bool {
        !self.hashes.is_empty() && self.hashes.contains(&keyed_hash(&self.key, email))
    }
}

/// Whether the person with this e-mail was erased.
pub(crate) async fn was_erased(
    conn: &mut Conn,
    email: &str,
    now: Instant,
) -> Result<bool, AppError> {
    let hash = email_hash(conn, email, now).await?;
    Ok(smarketing_store::person::is_erased(conn, &hash).await?)
}

/// The refusal to record an erased person again.
pub(crate) fn erased_person(field: &str) -> Invalid {
    Invalid::new(
        "erased_person",
        field,
        "this person's data was erased at their request; they are not recorded again",
    )
}

/// The lawful bases of GDPR article 6.
pub const CONSENT_BASES: [&str; 6] = [
    "consent",
    "contract",
    "legal_obligation",
    "vital_interests",
    "public_task",
    "legitimate_interests",
];

/// A consent record to add: a person granted or withdrew `purpose` on a
/// `basis`, through `source` (a form, a call, an import), at `given_at`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsentInput {
    /// What for: `marketing_email`, `newsletter`, `sales_calls`, … (lower
    /// case, digits and `_`).
    pub purpose: String,
    /// consent, contract, legal_obligation, vital_interests, public_task
    /// or legitimate_interests.
    pub basis: String,
    /// granted or withdrawn.
    pub status: String,
    /// Where it was given: the form, the call, the import.
    pub source: String,
    /// When it was given (ISO 8601); now when absent.
    pub given_at: Option<String>,
}

/// A consent record as stored, and whether it is the one in force for its
/// purpose.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsentView {
    #[serde(flatten)]
    pub consent: Consent,
    /// The latest record for its purpose: the one that holds now.
    pub in_force: bool,
}

/// Days anonymous visitors' data is kept by default: 13 months.
pub const DEFAULT_RETENTION_DAYS: u32 = 395;

impl App {
    /// Deletes anonymous visitors' data (never identified) last seen more
    /// than the configured days ago: their touches, applied raw events and
    /// visitor records. Identified people are not touched. Audited when it
    /// deletes anything.
    pub async fn apply_retention(&self) -> Result<smarketing_store::person::Purged, AppError> {
        let Some(days) = self.options.anonymous_retention_days else {
            return Ok(Default::default());
        };
        let cutoff = self.now().millis() - i64::from(days) * 86_400_000;
        let mut tx = self.store().begin().await?;
        let purged = smarketing_store::person::purge_anonymous_visitors(&mut tx, cutoff).await?;
        if purged != Default::default() {
            crate::audit::record(
                &mut tx,
                &Actor::system(),
                "retention.purge",
                ("visitors", &format!("last seen before {days} days")),
                crate::audit::NOTHING,
                Some(&purged),
                self.now(),
            )
            .await?;
        }
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(purged)
    }

    /// Everything held about contact `id`, as one JSON document.
    pub async fn export_person(
        &self,
        id: i64,
        actor: &Actor,
    ) -> Result<serde_json::Value, AppError> {
        actor.authorize(Action::HandlePersonalData, Relation::Company)?;
        let mut tx = self.store().begin().await?;
        let contact: Contact = repo::get(&mut tx, id).await.map_err(named("contact", id))?;
        let account = match contact.account_id {
            Some(a) => Some(repo::get::<Account>(&mut tx, a).await?),
            None => None,
        };
        let touchpoints = repo::touchpoints_of_contact(&mut tx, id).await?;
        let stage_changes = repo::stage_changes_of_contact(&mut tx, id).await?;
        let activities = repo::activities_of_contact(&mut tx, id).await?;
        let notes = repo::notes_of_contact(&mut tx, id).await?;
        let merges = smarketing_store::merges::merges_of(&mut tx, id).await?;
        let rest = smarketing_store::person::person_records(&mut tx, id).await?;
        let consents = repo::consents_of(&mut tx, id).await?;
        crate::audit::record(
            &mut tx,
            actor,
            "person.export",
            ("contact", &id),
            crate::audit::NOTHING,
            crate::audit::NOTHING,
            self.now(),
        )
        .await?;
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(serde_json::json!({
            "exported_at": self.now(),
            "contact": contact,
            "account": account,
            "user_ids": rest.user_ids,
            "anonymous_ids": rest.anonymous_ids,
            "events": rest.events,
            "touchpoints": touchpoints,
            "stage_changes": stage_changes,
            "activities": activities,
            "notes": notes,
            "deals": rest.deals,
            "handoffs": rest.handoffs,
            "merges": merges,
            "consents": consents,
        }))
    }

    /// Erases a person (admins): the contact, every record merged with it,
    /// and everything held about them, hard-deleted in one transaction —
    /// touches, stage history, activities, notes, handoffs with their
    /// clocks, escalations and notifications, merges, consents, ids,
    /// browsers, kept raw events and queued webhook messages. Deals stay
    /// (they are the company's revenue), without the person. Audit entries
    /// about them keep who did what when, not the data. A keyed hash of
    /// each of their e-mails stays, so that no source records them again.
    pub async fn erase_person(&self, id: i64, actor: &Actor) -> Result<Erased, AppError> {
        actor.authorize(Action::HandlePersonalData, Relation::Company)?;
        let now = self.now();
        let mut tx = self.store().begin().await?;
        repo::get::<Contact>(&mut tx, id)
            .await
            .map_err(named("contact", id))?;
        let contacts = smarketing_store::person::person_contacts(&mut tx, id).await?;
        let mut hashes = Vec::new();
        for c in &contacts {
            let contact: Contact = repo::get(&mut tx, *c).await?;
            hashes.push(email_hash(&mut tx, &contact.email, now).await?);
        }
        let erased =
            smarketing_store::person::erase_person(&mut tx, &contacts, now.millis()).await?;
        for hash in &hashes {
            smarketing_store::person::add_tombstone(&mut tx, hash, now.millis()).await?;
        }
        crate::audit::record(
            &mut tx,
            actor,
            "person.erase",
            ("contact", &id),
            crate::audit::NOTHING,
            Some(&erased),
            now,
        )
        .await?;
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(erased)
    }

    /// Records that a person granted or withdrew consent for a purpose.
    /// Those who may change the contact may record it.
    pub async fn record_consent(
        &self,
        contact_id: i64,
        input: ConsentInput,
        actor: &Actor,
    ) -> Result<ConsentView, AppError> {
        let now = self.now();
        let mut tx = self.store().begin().await?;
        let contact: Contact = repo::get(&mut tx, contact_id)
            .await
            .map_err(named("contact", contact_id))?;
        crate::access::authorize_record_change(&mut tx, actor, contact.owner_id, None).await?;
        let purpose = input.purpose.trim().to_lowercase();
        if purpose.is_empty()
            || purpose.len() > 64
            || !purpose
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(Invalid::new(
                "invalid_purpose",
                "purpose",
                "a purpose is 1 to 64 lower-case letters, digits and _ (marketing_email, say)",
            )
            .into());
        }
        let basis = input.basis.trim().to_lowercase();
        if !CONSENT_BASES.contains(&basis.as_str()) {
            return Err(Invalid::new(
                "invalid_basis",
                "basis",
                format!("the basis is one of {}", CONSENT_BASES.join(", ")),
            )
            .into());
        }
        let status = input.status.trim().to_lowercase();
        if status != "granted" && status != "withdrawn" {
            return Err(Invalid::new("invalid_status", "status", "granted or withdrawn").into());
        }
        let source = crate::input::text("source", &input.source, crate::input::NAME_MAX)?;
        let given_at = match input.given_at.as_deref() {
            Some(t) => Instant::parse(t, "given_at")?,
            None => now,
        };
        if given_at > now {
            return Err(Invalid::new(
                "invalid_instant",
                "given_at",
                "consent is recorded once given, not ahead",
            )
            .into());
        }
        let consent = repo::insert(
            &mut tx,
            &Consent {
                id: 0,
                contact_id,
                purpose,
                basis,
                status,
                source,
                given_at,
                recorded_at: now,
                recorded_by: actor.user_id,
            },
        )
        .await?;
        crate::audit::record(
            &mut tx,
            actor,
            "consent.record",
            ("contact", &contact_id),
            crate::audit::NOTHING,
            Some(&consent),
            now,
        )
        .await?;
        let all = repo::consents_of(&mut tx, contact_id).await?;
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(in_force(all)
            .into_iter()
            .find(|v| v.consent.id == consent.id)
            .expect("the record just added"))
    }

    /// A person's consent records, newest first, each marked whether it is
    /// the one in force for its purpose.
    pub async fn consents(&self, contact_id: i64) -> Result<Vec<ConsentView>, AppError> {
        let mut conn = self.store().acquire().await?;
        repo::get::<Contact>(&mut conn, contact_id)
            .await
            .map_err(named("contact", contact_id))?;
        Ok(in_force(repo::consents_of(&mut conn, contact_id).await?))
    }
}

/// Marks the record in force per purpose: the one given last (the later
/// recorded when two were given at once). `all` is newest first.
fn in_force(all: Vec<Consent>) -> Vec<ConsentView> {
    let mut latest: std::collections::HashMap<String, (Instant, Instant, i64)> = Default::default();
    for c in &all {
        let key = (c.given_at, c.recorded_at, c.id);
        let e = latest.entry(c.purpose.clone()).or_insert(key);
        if key > *e {
            *e = key;
        }
    }
    all.into_iter()
        .map(|c| ConsentView {
            in_force: latest.get(&c.purpose).is_some_and(|k| k.2 == c.id),
            consent: c,
        })
        .collect()
}
