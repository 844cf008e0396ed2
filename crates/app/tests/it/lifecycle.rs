//! Contacts move through the lifecycle as the playbook allows, and every
//! move is recorded with its actor and cause.

use crate::apps;
use smarketing_app::Actor;
use smarketing_app::AppError;
use smarketing_app::input::{AccountInput, ContactInput, DealInput, DealPatch, StageMoveInput};
use smarketing_core::Stage;

fn mv(stage: &str, reason: Option<&str>) -> StageMoveInput {
    StageMoveInput {
        stage: stage.into(),
        reason: reason.map(str::to_string),
        note: None,
    }
}

#[tokio::test]
async fn moves_follow_the_state_machine_and_are_recorded() {
    for (db, app) in apps().await {
        let actor = Actor::system();
        let c = app
            .create_contact(
                ContactInput {
                    email: "  Lea.Bauer@Example.DE ".into(),
                    job_title: Some("Head of Growth".into()),
                    ..Default::default()
                },
                &actor,
            )
            .await
            .unwrap();
        assert_eq!(c.email, "lea.bauer@example.de", "{}", db.label);
        assert_eq!(c.stage, Stage::Lead);
        assert_eq!(c.persona.as_deref(), Some("marketing_leader"));

        app.move_stage(c.id, mv("sql", None), &actor).await.unwrap();
        let back = app
            .move_stage(c.id, mv("mql", None), &actor)
            .await
            .unwrap_err();
        assert!(
            matches!(back, AppError::Lifecycle(_)),
            "{}: {back:?}",
            db.label
        );
        let no_reason = app
            .move_stage(c.id, mv("recycled", None), &actor)
            .await
            .unwrap_err();
        assert!(matches!(no_reason, AppError::Lifecycle(ref l) if l.code() == "reason_required"));
        let change = app
            .move_stage(c.id, mv("recycled", Some("not_ready")), &actor)
            .await
            .unwrap();
        assert_eq!(change.reason_code.as_deref(), Some("not_ready"));
        app.move_stage(c.id, mv("mql", None), &actor).await.unwrap();
        let unknown = app
            .move_stage(c.id, mv("prospect", None), &actor)
            .await
            .unwrap_err();
        assert!(matches!(unknown, AppError::Invalid(ref i) if i.code == "unknown_stage"));

        let stages: Vec<Stage> = app
            .timeline(c.id)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|e| match e {
                smarketing_app::contacts::TimelineEntry::StageChange { stage_change, .. } => {
                    Some(stage_change.to_stage)
                }
                _ => None,
            })
            .collect();
        // All four moves share the fixed clock's instant; the unique key is
        // (contact, stage, instant), and each target stage differs.
        assert_eq!(stages.len(), 4, "{}: {stages:?}", db.label);
        assert_eq!(app.contact(c.id).await.unwrap().stage, Stage::Mql);
    }
}

#[tokio::test]
async fn a_won_deal_closes_the_loop() {
    for (db, app) in apps().await {
        let actor = Actor::system();
        let acc = app
            .create_account(
                AccountInput {
                    name: "Acme".into(),
                    domain: Some("acme.io".into()),
                    company_size: Some("enterprise".into()),
                    ..Default::default()
                },
                &smarketing_app::Actor::system(),
            )
            .await
            .unwrap();
        let c = app
            .create_contact(
                ContactInput {
                    email: "cfo@acme.io".into(),
                    account_id: Some(acc.id),
                    job_title: Some("Chief Financial Officer".into()),
                    ..Default::default()
                },
                &actor,
            )
            .await
            .unwrap();
        assert_eq!(c.fit_score, 25 + 20, "{}: executive + enterprise", db.label);
        let d = app
            .create_deal(
                DealInput {
                    name: "Acme – Enterprise".into(),
                    contact_id: Some(c.id),
                    account_id: Some(acc.id),
                    amount_minor: 12_000_000,
                    ..Default::default()
                },
                &actor,
            )
            .await
            .unwrap();
        assert_eq!(app.contact(c.id).await.unwrap().stage, Stage::Opportunity);
        let neg = app
            .create_deal(
                DealInput {
                    name: "Bad".into(),
                    amount_minor: -1,
                    ..Default::default()
                },
                &actor,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(neg, AppError::Invalid(ref i) if i.code == "negative_amount" && i.field == "amount_minor")
        );
        let won = app
            .update_deal(
                d.id,
                DealPatch {
                    status: Some("won".into()),
                    ..Default::default()
                },
                &actor,
            )
            .await
            .unwrap();
        assert_eq!(won.status, "won");
        assert!(won.closed_at.is_some());
        assert_eq!(
            app.contact(c.id).await.unwrap().stage,
            Stage::Customer,
            "{}",
            db.label
        );
    }
}

#[tokio::test]
async fn duplicate_emails_and_unknown_references_are_refused() {
    for (db, app) in apps().await {
        let actor = Actor::system();
        app.create_contact(
            ContactInput {
                email: "dup@example.com".into(),
                ..Default::default()
            },
            &actor,
        )
        .await
        .unwrap();
        let dup = app
            .create_contact(
                ContactInput {
                    email: "DUP@example.com".into(),
                    ..Default::default()
                },
                &actor,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(dup, AppError::Conflict { ref field, .. } if field == "email"),
            "{}: {dup:?}",
            db.label
        );
        let orphan = app
            .create_contact(
                ContactInput {
                    email: "o@example.com".into(),
                    account_id: Some(9999),
                    ..Default::default()
                },
                &actor,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(orphan, AppError::Invalid(ref i) if i.field == "account_id"),
            "{orphan:?}"
        );
        let bad = app
            .create_contact(
                ContactInput {
                    email: "no-at-sign".into(),
                    ..Default::default()
                },
                &actor,
            )
            .await
            .unwrap_err();
        assert!(matches!(bad, AppError::Invalid(ref i) if i.code == "invalid_email"));
    }
}
