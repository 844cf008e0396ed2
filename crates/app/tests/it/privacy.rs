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

/// Every text held in the database, table by table, as `table.column:
/// value` lines (SQLite or PostgreSQL alike).
async fn everything_stored(db: &smarketing_store::testing::TestDb) -> Vec<String> {
    use sqlx::Row;
    let mut conn = db.store.acquire().await.unwrap();
    let sqlite = db.label == "sqlite";
    let tables_sql = if sqlite {
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    } else {
        "SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = current_schema()"
    };
    let tables: Vec<String> = sqlx::query(tables_sql)
        .fetch_all(&mut *conn)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect();
    let mut out = Vec::new();
    // sqlx's own table holds migrations, nothing of anyone.
    for t in tables.into_iter().filter(|t| t != "_sqlx_migrations") {
        let columns_sql = if sqlite {
            "SELECT name FROM pragma_table_info($1)"
        } else {
            "SELECT CAST(column_name AS TEXT) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1"
        };
        let columns: Vec<String> = sqlx::query(columns_sql)
            .bind(&t)
            .fetch_all(&mut *conn)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>(0))
            .collect();
        for c in columns {
            let sql =
                format!("SELECT CAST(\"{c}\" AS TEXT) FROM \"{t}\" WHERE \"{c}\" IS NOT NULL");
            for r in sqlx::query(&sql).fetch_all(&mut *conn).await.unwrap() {
                // Binary columns (a migration's checksum) are not text.
                if let Ok(v) = r.try_get::<String, _>(0) {
                    out.push(format!("{t}.{c}: {v}"));
                }
            }
        }
    }
    out
}

/// Erasure deletes a person from every table — merged records, raw events
/// and the webhook outbox included — keeps the deal they were on, blanks
/// the audit log's data about them, and does not let them come back.
#[tokio::test]
async fn an_erased_person_is_in_no_table_and_is_not_recorded_again() {
    use smarketing_app::input::{ActivityInput, DealInput, NoteInput, UserInput};
    use smarketing_app::outbox::WebhookInput;
    use smarketing_app::privacy::ConsentInput;
    for (db, app) in apps().await {
        let l = db.label;
        let app = app.with_options(smarketing_app::Options {
            allow_private_webhooks: true,
            ..Default::default()
        });
        let rep = app
            .create_user(
                UserInput {
                    name: "Rina Rep".into(),
                    email: "rina@team.io".into(),
                    team: "sales".into(),
                    role: "member".into(),
                },
                &Actor::system(),
            )
            .await
            .unwrap();
        app.create_webhook(
            WebhookInput {
                url: "http://127.0.0.1:9/hook".into(),
                events: None,
            },
            &Actor::system(),
        )
        .await
        .unwrap();
        let source = app.add_source("Site", &[]).await.unwrap().source;
        let batch = r#"{"batch":[
            {"type":"page","anonymousId":"browser-erase","messageId":"e1","timestamp":"2025-06-01T10:00:00Z",
             "context":{"page":{"url":"https://ex.com/pricing?utm_source=google&utm_medium=cpc"}}},
            {"type":"identify","anonymousId":"browser-erase","userId":"u-erase","messageId":"e2",
             "timestamp":"2025-06-01T10:01:00Z","traits":{"email":"erin.erasure@example.com","firstName":"Erinna","lastName":"Zedlitz"}},
            {"type":"track","userId":"u-erase","event":"Demo Requested","messageId":"e3","timestamp":"2025-06-01T10:02:00Z"}
        ]}"#;
        app.ingest(&source, batch.as_bytes(), None).await.unwrap();
        while app.apply_events(100).await.unwrap() > 0 {}
        let mut conn = app.store().acquire().await.unwrap();
        let person =
            smarketing_store::repo::contact_by_email(&mut conn, "erin.erasure@example.com")
                .await
                .unwrap()
                .unwrap();
        drop(conn);
        // Someone else's record, older than theirs, that one of theirs was
        // merged into by mistake and taken out of again.
        let stranger = app
            .create_contact(
                smarketing_app::input::ContactInput {
                    email: "stranger@example.com".into(),
                    ..Default::default()
                },
                &Actor::system(),
            )
            .await
            .unwrap();
        // A second record of theirs, merged in.
        let twin = app
            .create_contact(
                smarketing_app::input::ContactInput {
                    email: "erin.private@example.org".into(),
                    last_name: Some("Zedlitz".into()),
                    ..Default::default()
                },
                &Actor::system(),
            )
            .await
            .unwrap()
            .id;
        let mistake = app
            .merge_contacts(
                &smarketing_app::merges::MergeInput {
                    contact_ids: [stranger.id, twin],
                },
                &Actor::system(),
            )
            .await
            .unwrap();
        assert_eq!(mistake.survivor_id, stranger.id, "{l}");
        app.unmerge_contacts(mistake.id, &Actor::system())
            .await
            .unwrap();
        let merge = app
            .merge_contacts(
                &smarketing_app::merges::MergeInput {
                    contact_ids: [person.id, twin],
                },
                &Actor::system(),
            )
            .await
            .unwrap();
        let survivor = merge.survivor_id;
        app.create_note(
            NoteInput {
                contact_id: Some(survivor),
                body: "Erinna Zedlitz prefers calls".into(),
                ..Default::default()
            },
            &Actor::system(),
        )
        .await
        .unwrap();
        app.create_activity(
            ActivityInput {
                contact_id: survivor,
                user_id: Some(rep.id),
                kind: "call".into(),
                subject: Some("Call with Erinna".into()),
                ..Default::default()
            },
            &Actor::system(),
        )
        .await
        .unwrap();
        app.record_consent(
            survivor,
            ConsentInput {
                purpose: "marketing_email".into(),
                basis: "consent".into(),
                status: "granted".into(),
                source: "pricing page form".into(),
                given_at: None,
            },
            &Actor::system(),
        )
        .await
        .unwrap();
        let deal = app
            .create_deal(
                DealInput {
                    name: "Acme renewal with Zedlitz".into(),
                    contact_id: Some(survivor),
                    amount_minor: 500_000,
                    ..Default::default()
                },
                &Actor::system(),
            )
            .await
            .unwrap();
        // Free text elsewhere that names them, and some that only looks
        // like it.
        let deal_note = app
            .create_note(
                NoteInput {
                    deal_id: Some(deal.id),
                    body: "ERINNA ZEDLITZ (Erin.Erasure@example.com) wants 10 % off; \
                           Zedlitzer GmbH, Erinna's reseller, does not"
                        .into(),
                    ..Default::default()
                },
                &Actor::system(),
            )
            .await
            .unwrap();
        let unrelated = app
            .create_note(
                NoteInput {
                    contact_id: Some(stranger.id),
                    body: "Met at the fair; knows someone at Zedlitzer GmbH".into(),
                    ..Default::default()
                },
                &Actor::system(),
            )
            .await
            .unwrap();
        app.update_contact(
            survivor,
            smarketing_app::input::ContactPatch {
                job_title: Some(Some("Head of Zedlitz Things".into())),
                ..Default::default()
            },
            &Actor::system(),
        )
        .await
        .unwrap();
        let before = everything_stored(&db).await;
        let traces = [
            "erin.erasure@example.com",
            "erin.private@example.org",
            "Erinna",
            "Zedlitz",
            "u-erase",
            "browser-erase",
        ];
        for t in traces {
            assert!(
                before.iter().any(|line| line.contains(t)),
                "{l}: {t} is held before"
            );
        }

        let erased = app.erase_person(twin, &Actor::system()).await.unwrap();
        assert_eq!(
            erased.contacts, 2,
            "{l}: both records of the person: {erased:?}"
        );
        assert!(
            erased.events >= 3 && erased.handoffs >= 1,
            "{l}: {erased:?}"
        );
        assert!(erased.webhook_deliveries >= 1, "{l}: {erased:?}");
        assert_eq!(erased.deals_detached, 1, "{l}");

        assert_eq!(erased.mentions_redacted, 2, "{l}: the deal and its note");
        let kept_note = app.note(deal_note.id).await.unwrap();
        assert_eq!(
            kept_note.body,
            "[erased] ([erased]) wants 10 % off; Zedlitzer GmbH, Erinna's reseller, does not",
            "{l}: a given name alone and a longer word are not theirs"
        );
        assert_eq!(
            app.note(unrelated.id).await.unwrap().body,
            "Met at the fair; knows someone at Zedlitzer GmbH",
            "{l}"
        );

        let after: Vec<String> = everything_stored(&db)
            .await
            .into_iter()
            // "Zedlitzer GmbH" is a company, and "Erinna's" alone may be
            // anyone: both stay, as above.
            .map(|line| line.replace("Zedlitzer", "").replace("Erinna's", ""))
            .collect();
        for t in traces {
            let left: Vec<&String> = after.iter().filter(|line| line.contains(t)).collect();
            assert!(left.is_empty(), "{l}: {t} is still held: {left:?}");
        }
        for id in [person.id, twin] {
            let id = id.to_string();
            let left: Vec<&String> = after
                .iter()
                .filter(|line| {
                    let (column, value) = line.split_once(": ").unwrap();
                    value == id
                        && ["contact_id", "survivor_id", "merged_id", "merged_into_id"]
                            .iter()
                            .any(|c| column.ends_with(&format!(".{c}")))
                })
                .collect();
            assert!(
                left.is_empty(),
                "{l}: contact {id} is still referred to: {left:?}"
            );
        }
        // The deal stays, without them; reports still run.
        let kept = app.deal(deal.id).await.unwrap();
        assert_eq!(
            (kept.contact_id, kept.amount_minor, kept.name.as_str()),
            (None, 500_000, "Acme renewal with [erased]"),
            "{l}"
        );
        // The audit log says it happened, not what they were.
        let log = app.audit_log(None, 500, &Actor::system()).await.unwrap();
        assert_eq!(log[0].action, "person.erase", "{l}");
        assert!(log.iter().any(|e| e.redacted_at.is_some()), "{l}");

        // They are not recorded again: not by their events (which are not
        // kept either), a form, the API or an import.
        let again = r#"{"batch":[{"type":"identify","userId":"u-back","messageId":"e9",
            "timestamp":"2025-06-03T10:01:00Z","traits":{"email":"Erin.Erasure@example.com","firstName":"Erinna"}}]}"#;
        app.ingest(&source, again.as_bytes(), None).await.unwrap();
        while app.apply_events(100).await.unwrap() > 0 {}
        let stored = everything_stored(&db).await;
        assert!(
            !stored
                .iter()
                // The deal note's "Erinna's reseller" stays, as above.
                .map(|line| line.replace("Erinna's", ""))
                .any(|line| line.contains("Erinna") || line.contains("u-back")),
            "{l}: the event was not kept"
        );
        let refused = app
            .create_contact(
                smarketing_app::input::ContactInput {
                    email: "erin.private@example.org".into(),
                    ..Default::default()
                },
                &Actor::system(),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&refused, AppError::Invalid(i) if i.code == "erased_person" && i.field == "email"),
            "{l}: {refused:?}"
        );
        // Someone else is recorded as before.
        crate::hand_raiser(&app, "someone.else@example.com").await;

        // Only admins erase.
        let (other, _) = crate::hand_raiser(&app, "keep.me@example.com").await;
        assert!(matches!(
            app.erase_person(other, &Actor::user(&rep)).await,
            Err(AppError::Forbidden(_))
        ));
    }
}

/// Consent records: each change is a new record; the latest given per
/// purpose is in force; bad values are refused naming the field.
#[tokio::test]
async fn consent_records_keep_basis_source_and_time() {
    use smarketing_app::privacy::ConsentInput;
    for (db, app) in apps().await {
        let l = db.label;
        let (c, _) = crate::hand_raiser(&app, "consent@example.com").await;
        let record = |purpose: &str, status: &str, given_at: &str| ConsentInput {
            purpose: purpose.into(),
            basis: "consent".into(),
            status: status.into(),
            source: "newsletter form".into(),
            given_at: Some(given_at.into()),
        };
        app.record_consent(
            c,
            record("newsletter", "granted", "2025-05-01T10:00:00Z"),
            &Actor::system(),
        )
        .await
        .unwrap();
        app.record_consent(
            c,
            record("newsletter", "withdrawn", "2025-05-20T10:00:00Z"),
            &Actor::system(),
        )
        .await
        .unwrap();
        // Recorded late, given earlier: not the one in force.
        app.record_consent(
            c,
            record("newsletter", "granted", "2025-05-10T10:00:00Z"),
            &Actor::system(),
        )
        .await
        .unwrap();
        app.record_consent(
            c,
            record("sales_calls", "granted", "2025-05-02T10:00:00Z"),
            &Actor::system(),
        )
        .await
        .unwrap();
        let all = app.consents(c).await.unwrap();
        assert_eq!(all.len(), 4, "{l}");
        let in_force: Vec<(&str, &str)> = all
            .iter()
            .filter(|v| v.in_force)
            .map(|v| (v.consent.purpose.as_str(), v.consent.status.as_str()))
            .collect();
        assert_eq!(
            in_force,
            [("newsletter", "withdrawn"), ("sales_calls", "granted")],
            "{l}"
        );
        for (bad, field) in [
            (
                ConsentInput {
                    basis: "because".into(),
                    ..record("newsletter", "granted", "2025-05-01T10:00:00Z")
                },
                "basis",
            ),
            (
                ConsentInput {
                    status: "maybe".into(),
                    ..record("newsletter", "granted", "2025-05-01T10:00:00Z")
                },
                "status",
            ),
            (
                record("News Letter", "granted", "2025-05-01T10:00:00Z"),
                "purpose",
            ),
            (
                record("newsletter", "granted", "2030-01-01T00:00:00Z"),
                "given_at",
            ),
        ] {
            let e = app
                .record_consent(c, bad, &Actor::system())
                .await
                .unwrap_err();
            assert!(
                matches!(&e, AppError::Invalid(i) if i.field == field),
                "{l}: {e:?}"
            );
        }
        let export = app.export_person(c, &Actor::system()).await.unwrap();
        assert_eq!(export["consents"].as_array().unwrap().len(), 4, "{l}");
    }
}
