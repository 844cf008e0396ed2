//! The webhook outbox: events queued in the same transaction as what they
//! report, delivered signed (Standard Webhooks), leased so one server sends
//! each, retried with exponential backoff and jitter under a stable
//! `webhook-id`.

use crate::{Actor, App, AppError, outbound};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use smarketing_core::access::{Action, Relation};
use smarketing_core::{Instant, Invalid};
use smarketing_store::{Conn, WebhookDelivery, WebhookEndpoint, repo};
use std::time::Duration;

/// Events a webhook endpoint can subscribe to.
pub const EVENTS: &[&str] = &[
    "handoff.created",
    "handoff.reassigned",
    "handoff.closed",
    "lead.no_follow_up",
    "sla.at_risk",
    "sla.breached",
];

/// Attempts before a delivery is given up.
pub const MAX_ATTEMPTS: i64 = 12;

/// Queues an event for every active endpoint subscribed to it. `about` is
/// the contact it concerns, if any: erasing them takes it out of the queue.
pub(crate) async fn emit(
    conn: &mut Conn,
    event: &str,
    data: &serde_json::Value,
    about: Option<i64>,
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
    let (message_id, payload) = message(event, data, now);
    for e in subscribed {
        repo::enqueue_delivery(conn, e.id, &message_id, event, &payload, about, now).await?;
    }
    Ok(())
}

/// A new message: its id (the same on every retry) and its JSON body.
fn message(event: &str, data: &serde_json::Value, now: Instant) -> (String, String) {
    let id = format!("msg_{}", hex::encode(rand::random::<[u8; 12]>()));
    let body = serde_json::json!({ "type": event, "timestamp": now, "data": data }).to_string();
    (id, body)
}

/// Refuses with 404 when no receiver has this id.
async fn check_webhook(conn: &mut Conn, id: i64) -> Result<(), AppError> {
    if repo::webhook_endpoints(conn)
        .await?
        .iter()
        .any(|e| e.id == id)
    {
        Ok(())
    } else {
        Err(AppError::not_found("webhook", id))
    }
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
        // Checked here so the user hears of it at once; every delivery
        // checks again when it connects (see `outbound`).
        let private = || {
            Invalid::new(
                "private_address",
                "url",
                format!(
                    "{host} is a loopback, private or special address; allow_private_webhooks opens loopback and private networks"
                ),
            )
        };
        let allow_private = self.options.allow_private_webhooks;
        outbound::check_literal(&url, allow_private).map_err(|_| private())?;
        if !allow_private {
            let port = url.port_or_known_default().unwrap_or(443);
            let addrs: Vec<std::net::SocketAddr> =
                tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
                    .await
                    .map_err(|_| {
                        Invalid::new("invalid_url", "url", format!("{host} does not resolve"))
                    })?
                    .collect();
            if addrs.iter().any(|a| outbound::is_special(a.ip())) {
                return Err(private().into());
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
        crate::audit::record(
            &mut conn,
            actor,
            "webhook.create",
            ("webhook", &endpoint.id),
            crate::audit::NOTHING,
            Some(&endpoint),
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

    /// Pauses or resumes a receiver. While paused, its deliveries wait;
    /// resumed, they go out in order.
    pub async fn set_webhook_active(
        &self,
        id: i64,
        active: bool,
        actor: &Actor,
    ) -> Result<WebhookEndpoint, AppError> {
        actor.authorize(Action::ManageWebhooks, Relation::Company)?;
        let mut conn = self.store().acquire().await?;
        if !repo::set_webhook_active(&mut conn, id, active).await? {
            return Err(AppError::not_found("webhook", id));
        }
        crate::audit::record(
            &mut conn,
            actor,
            if active {
                "webhook.resume"
            } else {
                "webhook.pause"
            },
            ("webhook", &id),
            crate::audit::NOTHING,
            Some(&serde_json::json!({ "active": active })),
            self.now(),
        )
        .await?;
        repo::webhook_endpoints(&mut conn)
            .await?
            .into_iter()
            .find(|e| e.id == id)
            .ok_or_else(|| AppError::not_found("webhook", id))
    }

    /// Removes a receiver and its queued and past deliveries.
    pub async fn delete_webhook(&self, id: i64, actor: &Actor) -> Result<(), AppError> {
        actor.authorize(Action::ManageWebhooks, Relation::Company)?;
        let mut tx = self.store().begin().await?;
        if !repo::delete_webhook_endpoint(&mut tx, id).await? {
            return Err(AppError::not_found("webhook", id));
        }
        crate::audit::record(
            &mut tx,
            actor,
            "webhook.delete",
            ("webhook", &id),
            crate::audit::NOTHING,
            crate::audit::NOTHING,
            self.now(),
        )
        .await?;
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(())
    }

    /// Queues a `webhook.test` event for one receiver, to check it.
    pub async fn test_webhook(&self, id: i64, actor: &Actor) -> Result<(), AppError> {
        actor.authorize(Action::ManageWebhooks, Relation::Company)?;
        let mut conn = self.store().acquire().await?;
        check_webhook(&mut conn, id).await?;
        let now = self.now();
        let (message_id, payload) = message(
            "webhook.test",
            &serde_json::json!({ "endpoint_id": id }),
            now,
        );
        repo::enqueue_delivery(
            &mut conn,
            id,
            &message_id,
            "webhook.test",
            &payload,
            None,
            now,
        )
        .await?;
        Ok(())
    }

    /// A receiver's delivery log: its latest deliveries, newest first, with
    /// attempts, last status and error.
    pub async fn webhook_log(
        &self,
        id: i64,
        actor: &Actor,
    ) -> Result<Vec<WebhookDelivery>, AppError> {
        actor.authorize(Action::ManageWebhooks, Relation::Company)?;
        let mut conn = self.store().acquire().await?;
        check_webhook(&mut conn, id).await?;
        Ok(repo::deliveries_of(&mut conn, id, 200).await?)
    }

    pub async fn webhook_deliveries(&self) -> Result<Vec<WebhookDelivery>, AppError> {
        let mut conn = self.store().acquire().await?;
        Ok(repo::deliveries(&mut conn).await?)
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
                None,
                self.now(),
            )
            .await?;
        }
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(())
    }

    /// Sends due webhook deliveries through the outbound client (public
    /// addresses only, no redirects); failures are retried later.
    pub async fn deliver_webhooks(&self, batch: i64) -> Result<DeliveryRun, AppError> {
        let allow_private = self.options.allow_private_webhooks;
        let client = self
            .webhook_client
            .get_or_init(|| outbound::client(allow_private));
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
            let literal = reqwest::Url::parse(&ep.url)
                .map_err(|e| e.to_string())
                .and_then(|u| outbound::check_literal(&u, allow_private));
            if let Err(why) = literal {
                let after = self.now();
                repo::record_attempt(
                    &mut conn,
                    d.id,
                    d.attempts + 1,
                    None,
                    Some(&why),
                    None,
                    after,
                    Some(after),
                )
                .await?;
                run.given_up += 1;
                continue;
            }
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
                Err(e) => (None, Some(outbound::explain(e))),
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
}
