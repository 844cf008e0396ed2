//! The escalation ladder fires each step exactly once (two schedulers on one
//! database, and after downtime), and webhooks are signed, retried with the
//! same id, and delivered to a real HTTP receiver on loopback.

use crate::apps;
use smarketing_app::Actor;
use smarketing_app::input::{TouchpointInput, UserInput};
use smarketing_app::outbox::{WebhookInput, sign};
use smarketing_app::{App, AppError, Clock, Options};
use smarketing_core::Instant;
use std::sync::{Arc, Mutex};

fn at(s: &str) -> Instant {
    Instant::parse(s, "t").unwrap()
}

async fn team(app: &App) -> (i64, i64) {
    let mk = |name: &str, role: &str| UserInput {
        name: name.into(),
        email: format!("{}@t.io", name.to_lowercase()),
        team: "sales".into(),
        role: role.into(),
    };
    let rep = app
        .create_user(mk("Ana", "member"), &smarketing_app::Actor::system())
        .await
        .unwrap();
    app.create_user(mk("Ben", "member"), &smarketing_app::Actor::system())
        .await
        .unwrap();
    let boss = app
        .create_user(mk("Sam", "manager"), &smarketing_app::Actor::system())
        .await
        .unwrap();
    (rep.id, boss.id)
}

#[tokio::test]
async fn two_schedulers_fire_each_escalation_once_even_after_downtime() {
    for (db, app) in apps().await {
        let l = db.label;
        let (_, boss) = team(&app).await;
        for i in 0..6 {
            app.record_touchpoints(
                vec![TouchpointInput {
                    email: Some(format!("l{i}@p.io")),
                    kind: Some("demo_request".into()),
                    ..Default::default()
                }],
                &Actor::system(),
            )
            .await
            .unwrap();
        }
        // Both processes were down for a week: everything is overdue.
        let later = at("2025-06-10T09:00:00Z");
        // Two schedulers with pools of their own, as two server processes would have.
        let own = || async {
            smarketing_store::Store::connect(&db.url, 4, smarketing_store::SqliteSync::Normal)
                .await
                .unwrap()
        };
        let a = App::new(own().await, Clock::Fixed(later));
        let b = App::new(own().await, Clock::Fixed(later));
        let (ra, rb) = tokio::join!(a.run_due_escalations(3), b.run_due_escalations(3));
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        // Per handoff the first assignment scheduled 7 steps. By now the
        // first-touch clock went at risk, breached and, 4 working hours on,
        // the lead was reassigned (3 fired); the decision clock's at-risk and
        // breach steps of that first assignment came due after the
        // reassignment and are moot (2 skipped). The new assignment's ladder
        // is not due yet. Each step happened once across both schedulers.
        assert_eq!(
            (ra.fired + rb.fired, ra.skipped + rb.skipped),
            (6 * 3, 6 * 2),
            "{l}: {ra:?} {rb:?}"
        );
        // Nothing is left, and a third run fires nothing.
        let again = a.run_due_escalations(50).await.unwrap();
        assert_eq!((again.fired, again.skipped), (0, 0), "{l}");
        // Each notification exists once per step: the manager got one breach
        // notice per clock breach, never two for the same step.
        let sam = app.user(boss).await.unwrap();
        let notes = app.notifications(&sam, false).await.unwrap();
        let breaches = notes.iter().filter(|n| n.kind == "sla.breached").count();
        assert_eq!(breaches, 6, "{l}: one breach notice per lead, never two");
        // Untouched leads were taken from their first rep.
        let reassigned = app
            .handoffs(&Default::default(), &Default::default())
            .await
            .unwrap()
            .items
            .iter()
            .filter(|v| v.handoff.route_rule == "reassigned")
            .count();
        assert_eq!(reassigned, 6, "{l}");
    }
}

#[tokio::test]
async fn met_clocks_do_not_escalate() {
    for (db, app) in apps().await {
        team(&app).await;
        let out = app
            .record_touchpoints(
                vec![TouchpointInput {
                    email: Some("x@p.io".into()),
                    kind: Some("demo_request".into()),
                    ..Default::default()
                }],
                &Actor::system(),
            )
            .await
            .unwrap();
        let hid = out[0].handoff_id.unwrap();
        let assignee = app
            .handoff_card(hid)
            .await
            .unwrap()
            .handoff
            .assignee_id
            .unwrap();
        let user = app.user(assignee).await.unwrap();
        app.accept_handoff(hid, Default::default(), &Actor::user(&user))
            .await
            .unwrap();
        let later = App::new(
            app.store().clone(),
            Clock::Fixed(at("2025-06-20T09:00:00Z")),
        );
        let run = later.run_due_escalations(50).await.unwrap();
        assert_eq!(run.fired, 0, "{}: {run:?}", db.label);
    }
}

/// A webhook receiver on loopback that fails the first `fail` requests.
async fn receiver(fail: usize) -> (String, Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>>) {
    use axum::routing::post;
    let seen: Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>> = Arc::default();
    let s2 = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |headers: axum::http::HeaderMap, body: String| {
            let seen = s2.clone();
            async move {
                let mut v = seen.lock().unwrap();
                v.push((headers, body));
                if v.len() <= fail {
                    axum::http::StatusCode::SERVICE_UNAVAILABLE
                } else {
                    axum::http::StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), seen)
}

#[tokio::test]
async fn webhooks_are_signed_retried_and_delivered_once() {
    for (db, app) in apps().await {
        let l = db.label;
        team(&app).await;
        let (url, seen) = receiver(1).await;
        // Loopback is refused unless the configuration allows it.
        let refused = app
            .create_webhook(
                WebhookInput {
                    url: url.clone(),
                    events: None,
                },
                &Actor::system(),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(refused, AppError::Invalid(ref i) if i.code == "private_address"),
            "{l}: {refused:?}"
        );
        let bad = app
            .create_webhook(
                WebhookInput {
                    url: "ftp://x.io/".into(),
                    events: None,
                },
                &Actor::system(),
            )
            .await
            .unwrap_err();
        assert!(matches!(bad, AppError::Invalid(ref i) if i.field == "url"));
        let app = app.with_options(Options {
            allow_private_webhooks: true,
            ..Options::default()
        });
        let hook = app
            .create_webhook(
                WebhookInput {
                    url,
                    events: Some(vec!["handoff.created".into()]),
                },
                &Actor::system(),
            )
            .await
            .unwrap();
        assert!(hook.secret.starts_with("whsec_"));
        app.record_touchpoints(
            vec![TouchpointInput {
                email: Some("w@p.io".into()),
                kind: Some("demo_request".into()),
                ..Default::default()
            }],
            &Actor::system(),
        )
        .await
        .unwrap();
        let first = app.deliver_webhooks(10).await.unwrap();
        assert_eq!((first.delivered, first.failed_attempts), (0, 1), "{l}");
        // Not due again until its backoff has passed.
        assert_eq!(app.deliver_webhooks(10).await.unwrap().delivered, 0);
        let later = App::new(
            app.store().clone(),
            Clock::Fixed(at("2025-06-02T10:00:00Z")),
        )
        .with_options(Options {
            allow_private_webhooks: true,
            ..Options::default()
        });
        let second = later.deliver_webhooks(10).await.unwrap();
        assert_eq!(second.delivered, 1, "{l}");
        assert_eq!(
            later.deliver_webhooks(10).await.unwrap().delivered,
            0,
            "delivered once"
        );
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        let id = |i: usize| {
            seen[i]
                .0
                .get("webhook-id")
                .unwrap()
                .to_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(id(0), id(1), "the same webhook-id on a retry");
        for (headers, body) in seen.iter() {
            let ts: i64 = headers
                .get("webhook-timestamp")
                .unwrap()
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            let sig = headers.get("webhook-signature").unwrap().to_str().unwrap();
            assert_eq!(sig, sign(&hook.secret, &id(0), ts, body).unwrap());
            let v: serde_json::Value = serde_json::from_str(body).unwrap();
            assert_eq!(v["type"], "handoff.created");
        }
    }
}

/// A receiver's address is checked at every connection, not only when it
/// is registered: a name that now resolves to loopback (here `localhost`,
/// registered while private networks were allowed, as a name whose DNS
/// answer changed would be) gets nothing, a redirect to another internal
/// port is not followed, and IPv4-mapped addresses are refused even where
/// private networks are allowed.
#[tokio::test]
async fn webhooks_reach_no_internal_address_at_delivery() {
    for (db, app) in apps().await {
        let l = db.label;
        team(&app).await;
        let allowed = app.clone().with_options(Options {
            allow_private_webhooks: true,
            ..Options::default()
        });
        // The inside: a port that must never be reached.
        let (inside, reached) = receiver(0).await;
        let inside_port = reqwest::Url::parse(&inside).unwrap().port().unwrap();
        // A receiver that redirects there.
        let redirect = axum::Router::new().route(
            "/hook",
            axum::routing::post(move || async move {
                (
                    axum::http::StatusCode::TEMPORARY_REDIRECT,
                    [(
                        axum::http::header::LOCATION,
                        format!("http://127.0.0.1:{inside_port}/hook"),
                    )],
                )
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let redirect_addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, redirect).await.unwrap() });

        for url in [
            format!("http://[::ffff:127.0.0.1]:{inside_port}/hook"),
            format!("http://[::ffff:169.254.169.254]:{inside_port}/hook"),
        ] {
            let refused = allowed
                .create_webhook(WebhookInput { url, events: None }, &Actor::system())
                .await
                .unwrap_err();
            assert!(
                matches!(refused, AppError::Invalid(ref i) if i.code == "private_address"),
                "{l}: {refused:?}"
            );
        }
        let mut endpoints = Vec::new();
        for url in [
            format!("http://localhost:{inside_port}/hook"),
            format!("http://{redirect_addr}/hook"),
        ] {
            let hook = allowed
                .create_webhook(WebhookInput { url, events: None }, &Actor::system())
                .await
                .unwrap();
            endpoints.push(hook.endpoint.id);
        }
        let localhost = endpoints[0];
        app.send_test_events(1).await.unwrap();
        // Delivered by a server that does not allow private networks: the
        // name resolves to loopback now, and is refused as it connects.
        let run = app.deliver_webhooks(10).await.unwrap();
        assert_eq!(run.delivered, 0, "{l}");
        let deliveries = app.webhook_deliveries().await.unwrap();
        assert_eq!(deliveries.len(), 2, "{l}");
        for d in &deliveries {
            let error = d.last_error.as_deref().unwrap_or_default();
            assert!(
                error.contains("private") || error.contains("loopback"),
                "{l}: {d:?}"
            );
        }
        assert!(
            reached.lock().unwrap().is_empty(),
            "{l}: the inside was reached"
        );

        // Where loopback is allowed, the redirect is answered but not
        // followed: the inside still gets nothing.
        allowed.send_test_events(1).await.unwrap();
        let later = App::new(
            app.store().clone(),
            Clock::Fixed(at("2030-01-01T00:00:00Z")),
        )
        .with_options(Options {
            allow_private_webhooks: true,
            ..Options::default()
        });
        later.deliver_webhooks(10).await.unwrap();
        let deliveries = later.webhook_deliveries().await.unwrap();
        assert!(
            deliveries.iter().any(|d| d.last_status == Some(307)),
            "{l}: {deliveries:?}"
        );
        // The inside got exactly what was sent to localhost, nothing
        // through the redirect.
        let to_localhost = deliveries
            .iter()
            .filter(|d| d.endpoint_id == localhost && d.delivered_at.is_some())
            .count();
        assert_eq!(to_localhost, 2, "{l}: localhost is reachable when allowed");
        assert_eq!(reached.lock().unwrap().len(), to_localhost, "{l}");
    }
}

/// Receivers can be paused (their deliveries wait, then go out), tested,
/// read in a delivery log and deleted — by admins only.
#[tokio::test]
async fn webhooks_are_paused_tested_logged_and_deleted() {
    for (db, app) in apps().await {
        let l = db.label;
        let app = app.with_options(Options {
            allow_private_webhooks: true,
            ..Options::default()
        });
        let (url, seen) = receiver(0).await;
        let admin = Actor::system();
        let hook = app
            .create_webhook(WebhookInput { url, events: None }, &admin)
            .await
            .unwrap()
            .endpoint;
        let paused = app
            .set_webhook_active(hook.id, false, &admin)
            .await
            .unwrap();
        assert!(!paused.active, "{l}");
        app.test_webhook(hook.id, &admin).await.unwrap();
        assert_eq!(
            app.deliver_webhooks(10).await.unwrap().delivered,
            0,
            "{l}: paused"
        );
        assert!(seen.lock().unwrap().is_empty(), "{l}");
        app.set_webhook_active(hook.id, true, &admin).await.unwrap();
        assert_eq!(
            app.deliver_webhooks(10).await.unwrap().delivered,
            1,
            "{l}: resumed"
        );
        let body: serde_json::Value = serde_json::from_str(&seen.lock().unwrap()[0].1).unwrap();
        assert_eq!(body["type"], "webhook.test", "{l}");
        let log = app.webhook_log(hook.id, &admin).await.unwrap();
        assert_eq!(log.len(), 1, "{l}");
        assert_eq!(log[0].last_status, Some(204), "{l}");
        assert!(log[0].delivered_at.is_some(), "{l}");

        let lead = app
            .create_user(
                UserInput {
                    name: "Mona".into(),
                    email: "mona@example.com".into(),
                    team: "marketing".into(),
                    role: "manager".into(),
                },
                &admin,
            )
            .await
            .unwrap();
        let lead = Actor::user(&lead);
        assert!(matches!(
            app.delete_webhook(hook.id, &lead).await,
            Err(AppError::Forbidden(_))
        ));
        app.delete_webhook(hook.id, &admin).await.unwrap();
        assert!(matches!(
            app.webhook_log(hook.id, &admin).await,
            Err(AppError::NotFound { .. })
        ));
        assert!(app.webhooks(&admin).await.unwrap().is_empty(), "{l}");
    }
}
