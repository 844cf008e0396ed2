//! Background work whose due times live in the database: the SLA escalation
//! ladder and the webhook outbox. Each escalation is claimed and carried out
//! in one transaction, so it fires exactly once however many server
//! processes run and however long they were down; each webhook event is
//! retried with exponential backoff and jitter under a stable `webhook-id`.

use crate::Actor;
use crate::handoffs::{SalesTeam, clocks, route_lead};
use crate::{App, AppError};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use smarketing_core::access::{Action, Relation};
use smarketing_core::calendar::WorkingCalendar;
use smarketing_core::sla::{Clock, ClockKind, ClockState};
use smarketing_core::{Instant, Invalid, Playbook};
use smarketing_store::{
    Conn, Contact, Handoff, HandoffAssignment, Notification, User, WebhookDelivery,
    WebhookEndpoint, repo,
};
use std::time::Duration;

/// Events a webhook endpoint can subscribe to.
pub const EVENTS: &[&str] = &[
    "handoff.created",
    "handoff.reassigned",
    "sla.at_risk",
    "sla.breached",
];
/// Attempts before a delivery is given up.
pub const MAX_ATTEMPTS: i64 = 12;

/// Schedules the ladder for the clocks of an assignment: the rep at risk,
/// the managers at breach, and a reassignment after a first-touch breach.
pub(crate) async fn schedule_escalations(
    conn: &mut Conn,
    playbook: &Playbook,
    cal: &WorkingCalendar,
    handoff_id: i64,
    assigned_at: Instant,
    clocks: &[Clock],
    now: Instant,
) -> Result<(), AppError> {
    // Each assignment's ladder is scheduled once; skip the inserts when it is.
    let have: std::collections::HashSet<(String, String)> = repo::escalations_of(conn, handoff_id)
        .await?
        .into_iter()
        .filter(|e| e.assigned_at == assigned_at)
        .map(|e| (e.clock, e.step))
        .collect();
    let wanted = |clock: &str, step: &str| !have.contains(&(clock.to_string(), step.to_string()));
    for c in clocks.iter().filter(|c| c.state != ClockState::Met) {
        let clock = c.kind.as_str();
        if !(wanted(clock, "notify_rep")
            || wanted(clock, "notify_manager")
            || (c.kind == ClockKind::FirstTouch && wanted(clock, "reassign")))
        {
            continue;
        }
        if let Some(at) = c.at_risk_at {
            repo::schedule_escalation(
                conn,
                handoff_id,
                clock,
                "notify_rep",
                assigned_at,
                Instant::from(at),
                now,
            )
            .await?;
        }
        if let Some(due) = c.due_at {
            repo::schedule_escalation(
                conn,
                handoff_id,
                clock,
                "notify_manager",
                assigned_at,
                Instant::from(due),
                now,
            )
            .await?;
            if c.kind == ClockKind::FirstTouch {
                let grace = jiff::SignedDuration::from_secs_f64(
                    playbook.sla.reassign_after_breach_working_hours * 3600.0,
                );
                if let Some(at) = cal.add_working(due, grace) {
                    repo::schedule_escalation(
                        conn,
                        handoff_id,
                        clock,
                        "reassign",
                        assigned_at,
                        Instant::from(at),
                        now,
                    )
                    .await?;
                }
            }
        }
    }
    Ok(())
}

/// Queues an event for every active endpoint subscribed to it.
pub(crate) async fn emit(
    conn: &mut Conn,
    event: &str,
    data: &serde_json::Value,
    now: Instant,
) -> Result<(), AppError> {
    let endpoints = repo::webhook_endpoints(conn).await?;
    let subscribed: Vec<&WebhookEndpoint> = endpoints
        .iter()
        .filter(|e| e.active && (e.events == "*" || e.events.split(',').any(|x| x.trim() == event)))
        .collect();
    if subscribed.is_empty() {
        return Ok(());
    }
    let message_id = format!("msg_{}", hex::encode(rand::random::<[u8; 12]>()));
    let payload = serde_json::json!({ "type": event, "timestamp": now, "data": data }).to_string();
    for e in subscribed {
        repo::enqueue_delivery(conn, e.id, &message_id, event, &payload, now).await?;
    }
    Ok(())
}

/// The Standard Webhooks signature of a message: `v1,<base64 HMAC-SHA256>`
/// over `<id>.<timestamp>.<body>`, keyed with the secret's bytes.
pub fn sign(
    secret: &str,
    message_id: &str,
    timestamp: i64,
    body: &str,
) -> Result<String, AppError> {
    let key = B64
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .map_err(|_| {
            AppError::Store(smarketing_store::StoreError::Corrupt(
                "webhook secret is not base64".into(),
            ))
        })?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(format!("{message_id}.{timestamp}.{body}").as_bytes());
    Ok(format!("v1,{}", B64.encode(mac.finalize().into_bytes())))
}

/// Delay before attempt `n + 1`: 5 s doubling up to an hour, ±20 % jitter.
pub fn backoff(attempts: i64) -> Duration {
    let base = 5.0 * 2f64.powi(attempts.clamp(0, 20) as i32);
    let capped = base.min(3600.0);
    let jitter = 0.8 + rand::random::<f64>() * 0.4;
    Duration::from_secs_f64(capped * jitter)
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct EscalationRun {
    pub fired: u64,
    pub skipped: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct DeliveryRun {
    pub delivered: u64,
    pub failed_attempts: u64,
    pub given_up: u64,
    /// How long each request took, in the order sent.
    #[serde(skip)]
    pub latencies: Vec<Duration>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookInput {
    /// An http(s) URL.
    pub url: String,
    /// Event names, or `["*"]` for all (default).
    pub events: Option<Vec<String>>,
}

/// A new endpoint with its signing secret, shown this once.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewWebhook {
    pub endpoint: WebhookEndpoint,
    pub secret: String,
}

fn is_private(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v) => {
            v.is_loopback()
                || v.is_private()
                || v.is_link_local()
                || v.is_unspecified()
                || v.is_broadcast()
        }
        std::net::IpAddr::V6(v) => {
            v.is_loopback()
                || v.is_unspecified()
                || (v.segments()[0] & 0xfe00) == 0xfc00
                || (v.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

impl App {
    /// Registers a webhook receiver. Loopback and private addresses are
    /// refused unless the configuration allows them.
    pub async fn create_webhook(
        &self,
        input: WebhookInput,
        actor: &Actor,
    ) -> Result<NewWebhook, AppError> {
        actor.authorize(Action::ManageWebhooks, Relation::Company)?;
        let url = reqwest::Url::parse(input.url.trim()).map_err(|_| {
            Invalid::new(
                "invalid_url",
                "url",
                format!("{:?} is not a URL", input.url),
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(
                Invalid::new("invalid_url", "url", "a webhook URL must be http or https").into(),
            );
        }
        let host = url
            .host_str()
            .ok_or_else(|| Invalid::new("invalid_url", "url", "a webhook URL needs a host"))?
            .to_string();
        if !self.options.allow_private_webhooks {
            let port = url.port_or_known_default().unwrap_or(443);
            let addrs: Vec<std::net::SocketAddr> =
                tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
                    .await
                    .map_err(|_| {
                        Invalid::new("invalid_url", "url", format!("{host} does not resolve"))
                    })?
                    .collect();
            if addrs.iter().any(|a| is_private(a.ip())) {
                return Err(Invalid::new("private_address", "url", format!("{host} is a loopback or private address; allow it in the configuration to use it")).into());
            }
        }
        let events = input.events.unwrap_or_else(|| vec!["*".into()]);
        for e in &events {
            if e != "*" && !EVENTS.contains(&e.as_str()) {
                return Err(Invalid::new(
                    "unknown_event",
                    "events",
                    format!("{e:?} is not an event; use {} or *", EVENTS.join(", ")),
                )
                .into());
            }
        }
        let secret = format!("whsec_{}", B64.encode(rand::random::<[u8; 24]>()));
        let mut conn = self.store().acquire().await?;
        let endpoint = repo::insert_webhook_endpoint(
            &mut conn,
            url.as_str(),
            &secret,
            &events.join(","),
            self.now(),
        )
        .await?;
        Ok(NewWebhook { endpoint, secret })
    }

    pub async fn webhooks(&self, actor: &Actor) -> Result<Vec<WebhookEndpoint>, AppError> {
        actor.authorize(Action::ManageWebhooks, Relation::Company)?;
        let mut conn = self.store().acquire().await?;
        Ok(repo::webhook_endpoints(&mut conn).await?)
    }

    pub async fn webhook_deliveries(&self) -> Result<Vec<WebhookDelivery>, AppError> {
        let mut conn = self.store().acquire().await?;
        Ok(repo::deliveries(&mut conn).await?)
    }

    /// The caller's in-app feed, newest first.
    pub async fn notifications(
        &self,
        user: &User,
        unread_only: bool,
    ) -> Result<Vec<Notification>, AppError> {
        let mut conn = self.store().acquire().await?;
        Ok(repo::notifications_of(&mut conn, user.id, unread_only, 200).await?)
    }

    pub async fn mark_notification_read(&self, id: i64, user: &User) -> Result<(), AppError> {
        let mut conn = self.store().acquire().await?;
        if repo::mark_notification_read(&mut conn, id, user.id, self.now()).await? {
            Ok(())
        } else {
            Err(AppError::not_found("notification", id))
        }
    }

    /// Queues `count` `webhook.test` events for every endpoint (to check a
    /// receiver, and for the delivery benchmark).
    pub async fn send_test_events(&self, count: usize) -> Result<(), AppError> {
        let mut tx = self.store().begin().await?;
        for i in 0..count {
            emit(
                &mut tx,
                "webhook.test",
                &serde_json::json!({ "sequence": i }),
                self.now(),
            )
            .await?;
        }
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(())
    }

    /// Re-evaluates the clocks of every open handoff (recording events and
    /// scheduling the ladder); run at start so nothing is missed after downtime.
    pub async fn sweep_clocks(&self) -> Result<usize, AppError> {
        let (_, playbook) = self.playbook().await?;
        let now = self.now();
        let mut tx = self.store().begin().await?;
        let team = SalesTeam::load(&mut tx, now).await?;
        let open = repo::open_assigned_handoffs(&mut tx).await?;
        for h in &open {
            clocks(&mut tx, &playbook, &team, h, now).await?;
        }
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(open.len())
    }

    /// Fires every escalation due by now, each exactly once. A scheduler
    /// locks the handoffs it works on and takes their due steps in order, so
    /// a step made moot by an earlier one (a reassignment) is skipped, the
    /// same as it would have been had nobody been down.
    pub async fn run_due_escalations(&self, batch: i64) -> Result<EscalationRun, AppError> {
        let (_, playbook) = self.playbook().await?;
        let mut run = EscalationRun::default();
        loop {
            let now = self.now();
            let mut tx = self.store().begin().await?;
            let ids = repo::handoffs_with_due_escalations(
                &mut tx,
                now,
                batch,
                self.store().skip_locked(),
            )
            .await?;
            if ids.is_empty() {
                break;
            }
            let team = SalesTeam::load(&mut tx, now).await?;
            for id in &ids {
                // The handoff and its clocks, re-read only after a step that
                // changes them (a reassignment).
                let mut state: Option<(Handoff, Vec<Clock>)> = None;
                for e in repo::due_escalations_of(&mut tx, *id, now).await? {
                    // The claim is the exactly-once guard: a second process finds fired_at set.
                    if !repo::claim_escalation(&mut tx, e.id, now, "fired").await? {
                        continue;
                    }
                    if state.is_none() {
                        let h: Handoff = repo::get(&mut tx, e.handoff_id).await?;
                        let c = if h.decision.is_none() {
                            clocks(&mut tx, &playbook, &team, &h, now).await?
                        } else {
                            vec![]
                        };
                        state = Some((h, c));
                    }
                    let (h, cs) = state.as_ref().expect("loaded above");
                    let current = h.decision.is_none() && h.assigned_at == Some(e.assigned_at);
                    let live = current
                        && cs
                            .iter()
                            .any(|c| c.kind.as_str() == e.clock && c.state != ClockState::Met);
                    if !live {
                        repo::set_escalation_outcome(&mut tx, e.id, "skipped").await?;
                        run.skipped += 1;
                        continue;
                    }
                    let h = h.clone();
                    fire(&mut tx, &playbook, &team, &h, &e.clock, &e.step, now).await?;
                    run.fired += 1;
                    if e.step == "reassign" {
                        state = None;
                    }
                }
            }
            tx.commit()
                .await
                .map_err(smarketing_store::StoreError::from)?;
            if (ids.len() as i64) < batch {
                break;
            }
        }
        Ok(run)
    }

    /// Sends due webhook deliveries; failures are retried later.
    pub async fn deliver_webhooks(
        &self,
        client: &reqwest::Client,
        batch: i64,
    ) -> Result<DeliveryRun, AppError> {
        let mut run = DeliveryRun::default();
        let now = self.now();
        let mut conn = self.store().acquire().await?;
        let due = repo::due_deliveries(&mut conn, now, batch).await?;
        let endpoints = repo::webhook_endpoints(&mut conn).await?;
        for d in due {
            // Lease it for a minute so a second process does not send it too.
            let lease = Instant::from_millis(now.millis() + 60_000)?;
            if !repo::lease_delivery(&mut conn, d.id, d.next_attempt_at, lease).await? {
                continue;
            }
            let Some(ep) = endpoints.iter().find(|e| e.id == d.endpoint_id) else {
                continue;
            };
            let ts = jiff::Timestamp::now().as_second();
            let signature = sign(&ep.secret, &d.message_id, ts, &d.payload)?;
            let sent = std::time::Instant::now();
            let result = client
                .post(&ep.url)
                .header("content-type", "application/json")
                .header("webhook-id", &d.message_id)
                .header("webhook-timestamp", ts.to_string())
                .header("webhook-signature", signature)
                .body(d.payload.clone())
                .timeout(Duration::from_secs(10))
                .send()
                .await;
            run.latencies.push(sent.elapsed());
            let attempts = d.attempts + 1;
            let (status, error) = match &result {
                Ok(r) => (
                    Some(r.status().as_u16() as i64),
                    (!r.status().is_success()).then(|| format!("HTTP {}", r.status())),
                ),
                Err(e) => (None, Some(e.to_string())),
            };
            let after = self.now();
            if error.is_none() {
                repo::record_attempt(
                    &mut conn,
                    d.id,
                    attempts,
                    status,
                    None,
                    Some(after),
                    after,
                    None,
                )
                .await?;
                run.delivered += 1;
            } else if attempts >= MAX_ATTEMPTS {
                repo::record_attempt(
                    &mut conn,
                    d.id,
                    attempts,
                    status,
                    error.as_deref(),
                    None,
                    after,
                    Some(after),
                )
                .await?;
                run.given_up += 1;
            } else {
                let next =
                    Instant::from_millis(after.millis() + backoff(d.attempts).as_millis() as i64)?;
                repo::record_attempt(
                    &mut conn,
                    d.id,
                    attempts,
                    status,
                    error.as_deref(),
                    None,
                    next,
                    None,
                )
                .await?;
                run.failed_attempts += 1;
            }
        }
        Ok(run)
    }

    /// The scheduler: sweeps the clocks once, then every `interval` fires due
    /// escalations and delivers webhooks, until `stop` resolves.
    pub async fn run_scheduler(
        &self,
        interval: Duration,
        stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let client = reqwest::Client::builder()
            .user_agent("smarketing-webhooks")
            .build()
            .expect("an HTTP client");
        if let Err(e) = self.sweep_clocks().await {
            tracing::warn!(error = %e, "sweeping SLA clocks failed");
        }
        let mut stop = stop;
        loop {
            match self.run_due_escalations(200).await {
                Ok(r) if r.fired + r.skipped > 0 => {
                    tracing::info!(fired = r.fired, skipped = r.skipped, "escalations")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "escalations failed"),
            }
            match self.deliver_webhooks(&client, 100).await {
                Ok(r) if r.delivered + r.failed_attempts > 0 => tracing::info!(
                    delivered = r.delivered,
                    failed = r.failed_attempts,
                    "webhooks"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "webhook delivery failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = stop.changed() => break,
            }
        }
    }
}

/// Carries out one step of the ladder.
async fn fire(
    conn: &mut Conn,
    playbook: &Playbook,
    team: &SalesTeam,
    h: &Handoff,
    clock: &str,
    step: &str,
    now: Instant,
) -> Result<(), AppError> {
    let contact: Contact = repo::get(conn, h.contact_id).await?;
    let who = contact.email.clone();
    let label = clock.replace('_', " ");
    match step {
        "notify_rep" => {
            if let Some(rep) = h.assignee_id {
                repo::insert_notification(
                    conn,
                    rep,
                    "sla.at_risk",
                    Some(h.id),
                    &format!("{label} clock at risk"),
                    &format!("Work the lead {who} before its {label} deadline."),
                    now,
                )
                .await?;
            }
            emit(conn, "sla.at_risk", &serde_json::json!({ "handoff_id": h.id, "clock": clock, "assignee_id": h.assignee_id }), now).await?;
        }
        "notify_manager" => {
            for m in team.managers() {
                repo::insert_notification(
                    conn,
                    m.id,
                    "sla.breached",
                    Some(h.id),
                    &format!("{label} SLA breached"),
                    &format!("The lead {who} missed its {label} deadline."),
                    now,
                )
                .await?;
            }
            emit(conn, "sla.breached", &serde_json::json!({ "handoff_id": h.id, "clock": clock, "assignee_id": h.assignee_id }), now).await?;
        }
        "reassign" => {
            let decision = route_lead(conn, playbook, team, &contact, now, h.assignee_id).await?;
            if let Some(to) = decision.assignee {
                let mut moved = h.clone();
                moved.assignee_id = Some(to);
                moved.assigned_at = Some(now);
                moved.route_rule = "reassigned".into();
                moved.route_reason = format!("first-touch SLA breached; {}", decision.reason);
                moved.updated_at = now;
                let moved = repo::update(conn, h.id, &moved).await?;
                repo::insert(
                    conn,
                    &HandoffAssignment {
                        id: 0,
                        handoff_id: h.id,
                        user_id: Some(to),
                        assigned_at: now,
                        actor: "system".into(),
                        actor_user_id: None,
                        rule: "sla_breach".into(),
                        reason: moved.route_reason.clone(),
                    },
                )
                .await?;
                let mut c = contact.clone();
                c.owner_id = Some(to);
                repo::update(conn, c.id, &c).await?;
                repo::insert_notification(
                    conn,
                    to,
                    "handoff.reassigned",
                    Some(h.id),
                    "A lead was reassigned to you",
                    &format!("{who}: {}", moved.route_reason),
                    now,
                )
                .await?;
                clocks(conn, playbook, team, &moved, now).await?;
                emit(
                    conn,
                    "handoff.reassigned",
                    &serde_json::json!({ "handoff": moved, "from": h.assignee_id }),
                    now,
                )
                .await?;
            }
        }
        _ => {}
    }
    Ok(())
}
