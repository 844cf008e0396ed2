//! Recording touchpoints: resolve who it belongs to, derive its channel and
//! campaign by the playbook, then rescore the contact and move it to MQL when
//! the playbook says so — with the touch as the recorded cause.

use crate::Actor;
use crate::input::{ContactInput, NAME_MAX, TouchpointInput, opt_text};
use crate::lifecycle::{StageMove, change_stage, insert_contact, new_contact, rescore};
use crate::{App, AppError};
use serde::Serialize;
use smarketing_core::playbook::TouchSignals;
use smarketing_core::scoring::{ScoredTouch, mql_trigger};
use smarketing_core::{Email, Instant, Invalid, Playbook, Stage};
use smarketing_store::Conn as AnyConnection;
use smarketing_store::{Campaign, Contact, StageChange, Touchpoint, repo};

/// Most touchpoints accepted in one batch.
pub const MAX_BATCH: usize = 1000;

/// What recording one touch did.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TouchOutcome {
    pub touchpoint: Touchpoint,
    /// True when the e-mail was new and a contact was created for it.
    pub contact_created: bool,
    /// The move to MQL this touch caused, if any.
    pub stage_change: Option<StageChange>,
    /// The handoff that move opened.
    pub handoff_id: Option<i64>,
    pub fit_score: Option<i64>,
    pub engagement_score: Option<f64>,
}

impl App {
    /// Records touchpoints in one transaction: all of them, or (on any
    /// invalid input) none, with every problem reported by position.
    pub async fn record_touchpoints(
        &self,
        inputs: Vec<TouchpointInput>,
        actor: &Actor,
    ) -> Result<Vec<TouchOutcome>, AppError> {
        actor.authorize(
            smarketing_core::access::Action::AddRecords,
            smarketing_core::access::Relation::Company,
        )?;
        if inputs.is_empty() {
            return Err(
                Invalid::new("empty_batch", "touchpoints", "send at least one touchpoint").into(),
            );
        }
        if inputs.len() > MAX_BATCH {
            return Err(Invalid::new(
                "batch_too_large",
                "touchpoints",
                format!("at most {MAX_BATCH} touchpoints per request"),
            )
            .into());
        }
        let (_, playbook) = self.playbook().await?;
        let now = self.now();
        let batch = inputs.len() > 1;
        let mut tx = self.store().begin().await?;
        let mut out = Vec::with_capacity(inputs.len());
        let mut problems = Vec::new();
        for (i, input) in inputs.iter().enumerate() {
            match record_one(&mut tx, &playbook, input, actor, now).await {
                Ok(o) => out.push(o),
                Err(AppError::Invalid(e)) if batch => problems.push(Invalid {
                    field: format!("[{i}].{}", e.field),
                    ..e
                }),
                Err(e) => return Err(e),
            }
        }
        if !problems.is_empty() {
            return Err(AppError::InvalidMany(problems));
        }
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(out)
    }
}

pub(crate) async fn record_one(
    conn: &mut AnyConnection,
    playbook: &Playbook,
    input: &TouchpointInput,
    actor: &Actor,
    now: Instant,
) -> Result<TouchOutcome, AppError> {
    let occurred_at = input.occurred_at.unwrap_or(now);
    if occurred_at.millis() > now.millis() + 86_400_000 {
        return Err(Invalid::new(
            "in_the_future",
            "occurred_at",
            "a touch cannot be more than a day in the future",
        )
        .into());
    }
    let kind = match input
        .kind
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty())
    {
        Some(k) if playbook.has_touch_kind(k) => Some(k.to_string()),
        Some(k) => {
            return Err(Invalid::new(
                "unknown_kind",
                "kind",
                format!("{k:?} is not a touch kind of the playbook"),
            )
            .into());
        }
        None => None,
    };
    let mut signals = TouchSignals {
        utm_source: opt_text("utm_source", input.utm_source.as_deref(), NAME_MAX)?,
        utm_medium: opt_text("utm_medium", input.utm_medium.as_deref(), NAME_MAX)?,
        utm_campaign: opt_text("utm_campaign", input.utm_campaign.as_deref(), NAME_MAX)?,
        utm_term: opt_text("utm_term", input.utm_term.as_deref(), NAME_MAX)?,
        utm_content: opt_text("utm_content", input.utm_content.as_deref(), NAME_MAX)?,
        referrer: opt_text("referrer", input.referrer.as_deref(), 2000)?,
        gclid: input.gclid.clone(),
        fbclid: input.fbclid.clone(),
        msclkid: input.msclkid.clone(),
        li_fat_id: input.li_fat_id.clone(),
        kind: kind.clone(),
        page_url: opt_text("page_url", input.page_url.as_deref(), 2000)?,
    };
    // The page's own campaign fields and click ids count when not given.
    signals.fill_from_page_url();
    let channel = match input.channel.as_deref() {
        Some(c) if playbook.has_channel(c.trim()) => c.trim().to_string(),
        Some(c) => {
            return Err(Invalid::new(
                "unknown_channel",
                "channel",
                format!("{c:?} is not a channel of the playbook"),
            )
            .into());
        }
        None => playbook.derive_channel(&signals).to_string(),
    };
    let campaign_id = match (input.campaign_id, signals.utm_campaign.as_deref()) {
        (Some(id), _) => {
            repo::get::<Campaign>(conn, id).await.map_err(|_| {
                Invalid::new(
                    "unknown_reference",
                    "campaign_id",
                    format!("campaign {id} does not exist"),
                )
            })?;
            Some(id)
        }
        (None, Some(utm)) => repo::campaign_by_utm(conn, utm).await?.map(|c| c.id),
        (None, None) => None,
    };

    // Who: a known contact, a contact by e-mail (created when new), or a visitor.
    let mut contact_created = false;
    let contact: Option<Contact> = match (input.contact_id, input.email.as_deref()) {
        (Some(id), _) => {
            let c = repo::get::<Contact>(conn, id).await.map_err(|_| {
                Invalid::new(
                    "unknown_reference",
                    "contact_id",
                    format!("contact {id} does not exist"),
                )
            })?;
            Some(crate::lifecycle::live(conn, c).await?)
        }
        (None, Some(raw)) => {
            let input = ContactInput {
                email: Email::parse(raw)?.to_string(),
                source_channel: Some(channel.clone()),
                created_at: Some(occurred_at),
                ..Default::default()
            };
            let (c, created) = contact_by_email_or_new(conn, playbook, &input, actor, now).await?;
            contact_created = created;
            Some(c)
        }
        (None, None) => None,
    };
    let visitor_id = match input
        .anonymous_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(anon) => Some(
            repo::upsert_visitor(conn, anon, contact.as_ref().map(|c| c.id), occurred_at).await?,
        ),
        None => None,
    };
    if contact.is_none() && visitor_id.is_none() {
        return Err(Invalid::new(
            "required",
            "contact_id",
            "name the person by contact_id, email or anonymous_id",
        )
        .into());
    }

    let touch = Touchpoint {
        id: 0,
        external_id: opt_text("external_id", input.external_id.as_deref(), NAME_MAX)?,
        contact_id: contact.as_ref().map(|c| c.id),
        visitor_id,
        occurred_at,
        channel,
        campaign_id,
        kind,
        utm_source: signals.utm_source,
        utm_medium: signals.utm_medium,
        utm_campaign: signals.utm_campaign,
        utm_term: signals.utm_term,
        utm_content: signals.utm_content,
        referrer: signals.referrer,
        properties: serde_json::Value::Object(input.properties.clone().unwrap_or_default()),
        created_at: now,
    };
    let touch = repo::insert(conn, &touch).await.map_err(|e| match e {
        smarketing_store::StoreError::Conflict { field } => AppError::Conflict {
            what: "touchpoint",
            field,
        },
        other => other.into(),
    })?;

    let Some(mut contact) = contact else {
        return Ok(TouchOutcome {
            touchpoint: touch,
            contact_created,
            stage_change: None,
            handoff_id: None,
            fit_score: None,
            engagement_score: None,
        });
    };
    if contact.source_channel.is_none() {
        contact.source_channel = Some(touch.channel.clone());
    }
    let q = qualify(conn, playbook, contact, Some(&touch), occurred_at, now).await?;
    Ok(TouchOutcome {
        handoff_id: q.handoff_id,
        touchpoint: touch,
        contact_created,
        stage_change: q.stage_change,
        fit_score: Some(q.contact.fit_score),
        engagement_score: Some(q.contact.engagement_score),
    })
}

/// The contact with `input.email` (already normalised), or a new one made
/// from `input` when there is none; true when it was created.
pub(crate) async fn contact_by_email_or_new(
    conn: &mut AnyConnection,
    playbook: &Playbook,
    input: &ContactInput,
    actor: &Actor,
    now: Instant,
) -> Result<(Contact, bool), AppError> {
    if let Some(c) = repo::contact_by_email(conn, &input.email).await? {
        // A merged record's e-mail still names the person.
        return Ok((crate::lifecycle::live(conn, c).await?, false));
    }
    let draft = new_contact(playbook, input, None, now)?;
    Ok((insert_contact(conn, &draft, actor).await?, true))
}

/// What rescoring a contact led to.
pub(crate) struct Qualified {
    pub contact: Contact,
    pub stage_change: Option<StageChange>,
    pub handoff_id: Option<i64>,
}

/// Rescores a contact at `at` after its touches changed (`touch`, the one
/// that arrived, if one did) and moves it to MQL when the playbook says so
/// — a hand-raiser at once, or the threshold — opening its handoff.
pub(crate) async fn qualify(
    conn: &mut AnyConnection,
    playbook: &Playbook,
    contact: Contact,
    touch: Option<&Touchpoint>,
    at: Instant,
    now: Instant,
) -> Result<Qualified, AppError> {
    let (mut contact, card) = rescore(conn, playbook, contact, at).await?;
    let scored_touch = touch.map(|t| ScoredTouch {
        touchpoint_id: t.id,
        occurred_at: at.timestamp(),
        channel: t.channel.clone(),
        kind: t.kind.clone(),
    });
    let trigger = mql_trigger(
        playbook,
        contact.stage,
        &card,
        scored_touch.as_ref(),
        contact.recycled_at.map(Instant::timestamp),
    );
    let stage_change = match trigger {
        Some(cause) if playbook.has_stage(Stage::Mql) => Some(
            change_stage(
                conn,
                playbook,
                &mut contact,
                StageMove {
                    touchpoint_id: touch.map(|t| t.id),
                    ..StageMove::new(Stage::Mql, cause.into(), &Actor::system(), at)
                },
            )
            .await?,
        ),
        _ => None,
    };
    // A new MQL is handed to sales at once.
    let handoff = match &stage_change {
        Some(change) => {
            crate::handoffs::open_handoff(conn, playbook, &contact, change, now).await?
        }
        None => None,
    };
    Ok(Qualified {
        contact,
        stage_change,
        handoff_id: handoff.map(|h| h.id),
    })
}

/// After stitching the touchpoints `moved`, the contact's source channel
/// is its earliest touch's (the visit before the form fill is where it came
/// from); also returns the latest hand-raiser among the moved touches. The
/// contact is not saved here: every caller goes on to [`qualify`], whose
/// rescoring saves it.
pub(crate) async fn stitched(
    conn: &mut AnyConnection,
    playbook: &Playbook,
    mut contact: Contact,
    moved: &[i64],
) -> Result<(Contact, Option<Touchpoint>), AppError> {
    if moved.is_empty() {
        return Ok((contact, None));
    }
    let touches = repo::touchpoints_of_contact(conn, contact.id).await?;
    let moved: std::collections::HashSet<i64> = moved.iter().copied().collect();
    let raised = touches
        .iter()
        .rev()
        .filter(|t| moved.contains(&t.id))
        .find(|t| {
            t.kind
                .as_deref()
                .is_some_and(|k| playbook.is_hand_raiser(k))
        })
        .cloned();
    if let Some(first) = touches.first()
        && contact.source_channel.as_deref() != Some(first.channel.as_str())
    {
        contact.source_channel = Some(first.channel.clone());
    }
    Ok((contact, raised))
}
