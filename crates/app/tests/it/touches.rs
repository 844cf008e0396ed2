//! Touchpoints rescore contacts and move them to MQL with the touch as the cause.

use crate::apps;
use smarketing_app::Actor;
use smarketing_app::AppError;
use smarketing_app::input::{CampaignInput, TouchpointInput};
use smarketing_core::{Instant, Stage};

fn at(s: &str) -> Instant {
    Instant::parse(s, "t").unwrap()
}

#[tokio::test]
async fn a_hand_raiser_makes_an_mql_at_once() {
    for (db, app) in apps().await {
        let out = app
            .record_touchpoints(
                vec![TouchpointInput {
                    email: Some("new.person@prospect.io".into()),
                    kind: Some("demo_request".into()),
                    gclid: Some("abc".into()),
                    occurred_at: Some(at("2025-06-01T10:00:00Z")),
                    ..Default::default()
                }],
                &Actor::system(),
            )
            .await
            .unwrap();
        let o = &out[0];
        assert!(o.contact_created, "{}", db.label);
        assert_eq!(
            o.touchpoint.channel, "paid_search",
            "gclid means paid search"
        );
        let change = o.stage_change.as_ref().expect("moved to MQL");
        assert_eq!(
            (change.from_stage, change.to_stage),
            (Some(Stage::Lead), Stage::Mql)
        );
        assert_eq!(change.cause, "hand_raiser");
        assert_eq!(change.touchpoint_id, Some(o.touchpoint.id));
        let contact = app.contact(o.touchpoint.contact_id.unwrap()).await.unwrap();
        assert_eq!(contact.stage, Stage::Mql);
        assert_eq!(contact.source_channel.as_deref(), Some("paid_search"));
    }
}

#[tokio::test]
async fn the_score_threshold_makes_an_mql_and_explains_itself() {
    for (db, app) in apps().await {
        let actor = Actor::system();
        let c = app
            .create_contact(
                smarketing_app::input::ContactInput {
                    email: "vp@bigco.com".into(),
                    job_title: Some("VP of Marketing".into()),
                    ..Default::default()
                },
                &actor,
            )
            .await
            .unwrap();
        // Persona 25 + no account: fit 25 < 40, so engagement alone never qualifies.
        let touch = |kind: &str, t: &str| TouchpointInput {
            contact_id: Some(c.id),
            kind: Some(kind.into()),
            occurred_at: Some(at(t)),
            ..Default::default()
        };
        let out = app
            .record_touchpoints(
                vec![
                    touch("webinar_attended", "2025-05-01T10:00:00Z"),
                    touch("meeting_booked", "2025-05-02T10:00:00Z"),
                ],
                &actor,
            )
            .await
            .unwrap();
        assert!(out.iter().all(|o| o.stage_change.is_none()), "{}", db.label);
        let card = app
            .score(c.id, Some(at("2025-05-02T10:00:00Z")))
            .await
            .unwrap();
        assert_eq!(card.fit, 25);
        assert!(card.engagement > 30.0);
        assert!(!card.meets_mql_threshold);
        assert_eq!(
            card.contributions
                .iter()
                .filter(|x| x.touchpoint_id.is_some())
                .count(),
            2
        );
        // A better fit (an enterprise account) tips it over on the next touch.
        let acc = app
            .create_account(
                smarketing_app::input::AccountInput {
                    name: "BigCo".into(),
                    domain: Some("bigco.com".into()),
                    company_size: Some("enterprise".into()),
                    ..Default::default()
                },
                &smarketing_app::Actor::system(),
            )
            .await
            .unwrap();
        app.update_contact(
            c.id,
            smarketing_app::input::ContactPatch {
                account_id: Some(Some(acc.id)),
                ..Default::default()
            },
            &smarketing_app::Actor::system(),
        )
        .await
        .unwrap();
        let out = app
            .record_touchpoints(vec![touch("email_click", "2025-05-03T10:00:00Z")], &actor)
            .await
            .unwrap();
        let change = out[0].stage_change.as_ref().expect("threshold reached");
        assert_eq!(change.cause, "score_threshold");
    }
}

#[tokio::test]
async fn a_batch_is_all_or_nothing_with_positions() {
    for (db, app) in apps().await {
        let camp = app
            .create_campaign(
                CampaignInput {
                    name: "Spring webinar".into(),
                    channel: "webinar".into(),
                    utm_campaign: Some("spring-webinar".into()),
                    started_at: at("2025-05-01T00:00:00Z"),
                    ended_at: None,
                    spend_minor: 150_000,
                    external_id: None,
                },
                &smarketing_app::Actor::system(),
            )
            .await
            .unwrap();
        let ok = TouchpointInput {
            email: Some("a@x.io".into()),
            utm_campaign: Some("spring-webinar".into()),
            utm_medium: Some("webinar".into()),
            kind: Some("webinar_attended".into()),
            ..Default::default()
        };
        let bad_channel = TouchpointInput {
            email: Some("b@x.io".into()),
            channel: Some("tv".into()),
            ..Default::default()
        };
        let bad_kind = TouchpointInput {
            anonymous_id: Some("anon-1".into()),
            kind: Some("dance".into()),
            ..Default::default()
        };
        let err = app
            .record_touchpoints(vec![ok.clone(), bad_channel, bad_kind], &Actor::system())
            .await
            .unwrap_err();
        let AppError::InvalidMany(list) = err else {
            panic!("{}: {err:?}", db.label)
        };
        let fields: Vec<_> = list.iter().map(|i| i.field.as_str()).collect();
        assert_eq!(fields, ["[1].channel", "[2].kind"]);
        assert!(
            app.contacts(&Default::default(), &Default::default())
                .await
                .unwrap()
                .items
                .is_empty(),
            "{}: nothing written",
            db.label
        );

        let out = app
            .record_touchpoints(
                vec![
                    ok,
                    TouchpointInput {
                        anonymous_id: Some("anon-1".into()),
                        referrer: Some("https://www.google.com/".into()),
                        ..Default::default()
                    },
                ],
                &Actor::system(),
            )
            .await
            .unwrap();
        assert_eq!(
            out[0].touchpoint.campaign_id,
            Some(camp.id),
            "matched by utm_campaign"
        );
        assert_eq!(out[0].touchpoint.channel, "webinar");
        assert_eq!(out[1].touchpoint.channel, "organic_search");
        assert!(out[1].touchpoint.contact_id.is_none() && out[1].touchpoint.visitor_id.is_some());
    }
}
