//! A GDPR export holds everything kept about a person: the ids and
//! browsers they are known by and their raw events, beside their records.

use crate::apps;
use smarketing_app::input::UserInput;
use smarketing_app::{Actor, AppError};

#[tokio::test]
async fn a_person_export_holds_their_ids_raw_events_and_records() {
    for (db, app) in apps().await {
        let l = db.label;
        let source = app.add_source("Site", &[]).await.unwrap().source;
        let batch = r#"{"batch":[
            {"type":"page","anonymousId":"browser-1","messageId":"m1","timestamp":"2025-06-01T10:00:00Z",
             "context":{"page":{"url":"https://ex.com/pricing?utm_source=google&utm_medium=cpc"}}},
            {"type":"identify","anonymousId":"browser-1","userId":"u-42","messageId":"m2",
             "timestamp":"2025-06-01T10:01:00Z","traits":{"email":"gdpr@example.com","firstName":"Greta"}},
            {"type":"track","userId":"u-42","event":"Demo Requested","messageId":"m3","timestamp":"2025-06-01T10:02:00Z"}
        ]}"#;
        app.ingest(&source, batch.as_bytes(), None).await.unwrap();
        // Someone else's event must not be in it.
        let other = r#"{"batch":[{"type":"page","anonymousId":"browser-2","messageId":"o1","timestamp":"2025-06-01T10:00:00Z"}]}"#;
        app.ingest(&source, other.as_bytes(), None).await.unwrap();
        while app.apply_events(100).await.unwrap() > 0 {}
        let mut conn = app.store().acquire().await.unwrap();
        let c = smarketing_store::repo::contact_by_email(&mut conn, "gdpr@example.com")
            .await
            .unwrap()
            .unwrap();
        drop(conn);
        let person = app.export_person(c.id, &Actor::system()).await.unwrap();
        assert_eq!(person["contact"]["email"], "gdpr@example.com", "{l}");
        assert_eq!(person["user_ids"], serde_json::json!(["u-42"]), "{l}");
        // The browser, and the visitor record a userId-only event keeps.
        assert_eq!(
            person["anonymous_ids"],
            serde_json::json!(["browser-1", "userId:u-42"]),
            "{l}"
        );
        let ids: Vec<&str> = person["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["message_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["m1", "m2", "m3"], "{l}: {person:#}");
        assert_eq!(
            person["events"][1]["payload"]["traits"]["firstName"], "Greta",
            "{l}"
        );
        assert_eq!(
            person["touchpoints"].as_array().unwrap().len(),
            2,
            "{l}: {person:#}"
        );
        assert!(
            !person["stage_changes"].as_array().unwrap().is_empty(),
            "{l}"
        );
        let log = app.audit_log(None, 5, &Actor::system()).await.unwrap();
        assert_eq!(log[0].action, "person.export", "{l}");

        let rep = app
            .create_user(
                UserInput {
                    name: "Rob".into(),
                    email: "rob@example.com".into(),
                    team: "sales".into(),
                    role: "manager".into(),
                },
                &Actor::system(),
            )
            .await
            .unwrap();
        assert!(matches!(
            app.export_person(c.id, &Actor::user(&rep)).await,
            Err(AppError::Forbidden(_))
        ));
    }
}

/// Retention deletes anonymous visitors' data once they have not been seen
/// for the configured days; identified people and recent visitors stay.
#[tokio::test]
async fn retention_deletes_old_anonymous_visitors_only() {
    for (db, app) in apps().await {
        let l = db.label;
        let app = app.with_options(smarketing_app::Options {
            anonymous_retention_days: Some(30),
            ..Default::default()
        });
        let source = app.add_source("Site", &[]).await.unwrap().source;
        let batch = r#"{"batch":[
            {"type":"page","anonymousId":"old-anon","messageId":"a1","timestamp":"2025-01-10T10:00:00Z"},
            {"type":"page","anonymousId":"new-anon","messageId":"a2","timestamp":"2025-05-30T10:00:00Z"},
            {"type":"page","anonymousId":"old-known","messageId":"k1","timestamp":"2025-01-10T10:00:00Z"},
            {"type":"identify","anonymousId":"old-known","messageId":"k2","timestamp":"2025-01-10T10:01:00Z",
             "traits":{"email":"kept@example.com"}}
        ]}"#;
        app.ingest(&source, batch.as_bytes(), None).await.unwrap();
        while app.apply_events(100).await.unwrap() > 0 {}
        let events_before = app.event_counts().await.unwrap().0;
        let purged = app.apply_retention().await.unwrap();
        assert_eq!(
            (purged.visitors, purged.touchpoints, purged.events),
            (1, 1, 1),
            "{l}: {purged:?}"
        );
        assert_eq!(
            app.event_counts().await.unwrap().0,
            events_before - 1,
            "{l}"
        );
        let person = {
            let mut conn = app.store().acquire().await.unwrap();
            smarketing_store::repo::contact_by_email(&mut conn, "kept@example.com")
                .await
                .unwrap()
                .unwrap()
        };
        let export = app
            .export_person(person.id, &Actor::system())
            .await
            .unwrap();
        assert_eq!(
            export["touchpoints"].as_array().unwrap().len(),
            1,
            "{l}: the known person's touch stays"
        );
        // A second pass finds nothing more.
        assert_eq!(
            app.apply_retention().await.unwrap(),
            Default::default(),
            "{l}"
        );
        let log = app.audit_log(None, 10, &Actor::system()).await.unwrap();
        assert!(log.iter().any(|e| e.action == "retention.purge"), "{l}");
    }
}
