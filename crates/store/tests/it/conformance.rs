//! Behaviour every backend must show identically.

use smarketing_core::{Instant, Stage};
use smarketing_store::{Account, Contact, StageChange, StoreError, Where, repo, testing};

fn at(s: &str) -> Instant {
    Instant::parse(s, "t").unwrap()
}

fn account(name: &str, domain: &str, ext: Option<&str>) -> Account {
    Account {
        id: 0,
        external_id: ext.map(str::to_string),
        name: name.into(),
        domain: Some(domain.into()),
        industry: Some("software".into()),
        employee_count: Some(120),
        company_size: Some("mid_market".into()),
        region: Some("EMEA".into()),
        country: Some("DE".into()),
        owner_id: None,
        created_at: at("2024-01-01T00:00:00Z"),
        updated_at: at("2024-01-01T00:00:00Z"),
    }
}

fn contact(email: &str, account_id: Option<i64>, stage: Stage) -> Contact {
    Contact {
        id: 0,
        external_id: None,
        email: email.into(),
        first_name: Some("Chloé".into()),
        last_name: Some("O'Brien".into()),
        job_title: Some("VP of Marketing".into()),
        phone: None,
        country: None,
        account_id,
        owner_id: None,
        persona: Some("marketing_leader".into()),
        stage,
        source_channel: Some("webinar".into()),
        fit_score: 45,
        engagement_score: 12.5,
        scored_at: Some(at("2024-01-02T00:00:00.250Z")),
        first_touch: None,
        last_touch: None,
        merged_into_id: None,
        recycled_at: None,
        created_at: at("2024-01-02T00:00:00Z"),
        updated_at: at("2024-01-02T00:00:00Z"),
    }
}

#[tokio::test]
async fn records_round_trip_exactly() {
    for db in testing::all().await {
        let mut c = db.store.acquire().await.unwrap();
        let a = repo::insert(
            &mut c,
            &account("Optishore Capital, Inc.", "optishore.com", Some("1")),
        )
        .await
        .unwrap();
        assert!(a.id > 0, "{}", db.label);
        let k = repo::insert(
            &mut c,
            &contact("chloe@optishore.com", Some(a.id), Stage::Mql),
        )
        .await
        .unwrap();
        let back: Contact = repo::get(&mut c, k.id).await.unwrap();
        assert_eq!(back, k, "{}", db.label);
        assert_eq!(back.first_name.as_deref(), Some("Chloé"));
        assert_eq!(back.scored_at, Some(at("2024-01-02T00:00:00.250Z")));
        assert_eq!(back.engagement_score, 12.5);
    }
}

#[tokio::test]
async fn unique_and_reference_violations_are_typed() {
    for db in testing::all().await {
        let mut c = db.store.acquire().await.unwrap();
        repo::insert(&mut c, &contact("a@example.com", None, Stage::Lead))
            .await
            .unwrap();
        let dup = repo::insert(&mut c, &contact("a@example.com", None, Stage::Lead))
            .await
            .unwrap_err();
        assert!(
            matches!(&dup, StoreError::Conflict { field } if field == "email"),
            "{}: {dup:?}",
            db.label
        );
        let orphan = repo::insert(
            &mut c,
            &contact("b@example.com", Some(999_999), Stage::Lead),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(orphan, StoreError::MissingReference),
            "{}: {orphan:?}",
            db.label
        );
        let missing = repo::get::<Contact>(&mut c, 424242).await.unwrap_err();
        assert!(matches!(missing, StoreError::NotFound));
    }
}

#[tokio::test]
async fn keyset_pages_cover_every_row_once() {
    for db in testing::all().await {
        let mut c = db.store.acquire().await.unwrap();
        for i in 0..25 {
            let stage = if i % 2 == 0 { Stage::Mql } else { Stage::Lead };
            repo::insert(&mut c, &contact(&format!("p{i}@example.com"), None, stage))
                .await
                .unwrap();
        }
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut w = Where::new();
            w.and("stage = ?", Some("mql"));
            let page = repo::page::<Contact>(&mut c, w, cursor.as_deref(), 5)
                .await
                .unwrap();
            seen.extend(page.items.iter().map(|k| k.email.clone()));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(seen.len(), 13, "{}", db.label);
        let unique: std::collections::HashSet<_> = seen.iter().collect();
        assert_eq!(unique.len(), 13);
    }
}

#[tokio::test]
async fn stage_history_is_append_only() {
    for db in testing::all().await {
        let mut c = db.store.acquire().await.unwrap();
        let k = repo::insert(&mut c, &contact("h@example.com", None, Stage::Lead))
            .await
            .unwrap();
        let change = StageChange {
            id: 0,
            contact_id: k.id,
            from_stage: None,
            to_stage: Stage::Lead,
            changed_at: k.created_at,
            actor: "system".into(),
            actor_user_id: None,
            cause: smarketing_core::StageCause::Created,
            reason_code: None,
            note: None,
            touchpoint_id: None,
        };
        let saved = repo::insert(&mut c, &change).await.unwrap();
        let edit = sqlx::query("UPDATE stage_changes SET cause = 'x' WHERE id = $1")
            .bind(saved.id)
            .execute(&mut *c)
            .await;
        assert!(
            edit.is_err(),
            "{}: stage changes must not be editable",
            db.label
        );
        let delete = sqlx::query("DELETE FROM stage_changes WHERE id = $1")
            .bind(saved.id)
            .execute(&mut *c)
            .await;
        assert!(delete.is_err(), "{}", db.label);
    }
}

#[tokio::test]
async fn upsert_by_external_id_is_idempotent() {
    for db in testing::all().await {
        let mut c = db.store.acquire().await.unwrap();
        let rows = vec![
            account("One", "one.com", Some("1")),
            account("Two", "two.com", Some("2")),
        ];
        repo::upsert_by_external_id(&mut c, &rows).await.unwrap();
        let mut renamed = rows.clone();
        renamed[1].name = "Two GmbH".into();
        repo::upsert_by_external_id(&mut c, &renamed).await.unwrap();
        let n = repo::count(&mut c, "accounts", &Where::new())
            .await
            .unwrap();
        assert_eq!(n, 2, "{}", db.label);
        let ids = repo::external_ids(&mut c, "accounts").await.unwrap();
        let two: Account = repo::get(&mut c, ids["2"]).await.unwrap();
        assert_eq!(two.name, "Two GmbH");
    }
}

#[tokio::test]
async fn a_reimport_keeps_what_merges_and_touches_set_on_a_contact() {
    for db in testing::all().await {
        let mut c = db.store.acquire().await.unwrap();
        let mut first = contact("ext@example.com", None, Stage::Lead);
        first.external_id = Some("C-1".into());
        let survivor = repo::insert(&mut c, &contact("s@example.com", None, Stage::Lead))
            .await
            .unwrap();
        repo::upsert_by_external_id(&mut c, std::slice::from_ref(&first))
            .await
            .unwrap();
        let ids = repo::external_ids(&mut c, "contacts").await.unwrap();
        let mut kept: Contact = repo::get(&mut c, ids["C-1"]).await.unwrap();
        kept.merged_into_id = Some(survivor.id);
        kept.first_touch = Some(smarketing_store::TouchOrigin {
            touchpoint_id: 7,
            occurred_at: at("2024-01-03T00:00:00Z"),
            channel: "email".into(),
            utm_source: Some("newsletter".into()),
            utm_medium: None,
            utm_campaign: Some("spring".into()),
            utm_term: None,
            utm_content: None,
            referrer: None,
        });
        repo::update(&mut c, kept.id, &kept).await.unwrap();
        // The same file again, with a new job title.
        first.job_title = Some("CMO".into());
        repo::upsert_by_external_id(&mut c, &[first]).await.unwrap();
        let again: Contact = repo::get(&mut c, kept.id).await.unwrap();
        assert_eq!(again.job_title.as_deref(), Some("CMO"), "{}", db.label);
        assert_eq!(again.merged_into_id, Some(survivor.id), "{}", db.label);
        assert_eq!(again.first_touch, kept.first_touch, "{}", db.label);
    }
}

#[tokio::test]
async fn playbook_versions_number_themselves() {
    for db in testing::all().await {
        let mut c = db.store.acquire().await.unwrap();
        assert_eq!(repo::latest_playbook_number(&mut c).await.unwrap(), 0);
        let v1 = repo::insert_playbook_version(
            &mut c,
            "ana",
            None,
            "name = 'a'",
            at("2024-01-01T00:00:00Z"),
        )
        .await
        .unwrap();
        let v2 = repo::insert_playbook_version(
            &mut c,
            "ben",
            Some("tighter SLA"),
            "name = 'b'",
            at("2024-01-02T00:00:00Z"),
        )
        .await
        .unwrap();
        assert_eq!((v1.version, v2.version), (1, 2), "{}", db.label);
        assert_eq!(
            repo::latest_playbook(&mut c).await.unwrap().unwrap().author,
            "ben"
        );
        assert_eq!(repo::playbook_versions(&mut c).await.unwrap().len(), 2);
    }
}

/// Two writers keeping the same events in opposite orders at once (a
/// client's retry racing its first try) both succeed and keep each event
/// once: on PostgreSQL they can deadlock on the unique index, and the one
/// PostgreSQL aborts tries again.
#[tokio::test]
async fn concurrent_keeps_in_opposite_orders_keep_each_event_once() {
    use smarketing_store::ingest::{NewEvent, event_counts, insert_source, keep_events};
    for db in testing::all().await {
        let l = db.label;
        let mut c = db.store.acquire().await.unwrap();
        let source = insert_source(&mut c, "Retries", "hash", &[], 0)
            .await
            .unwrap();
        drop(c);
        let events = |round: usize, reversed: bool| -> Vec<NewEvent> {
            let mut ids: Vec<usize> = (0..300).collect();
            if reversed {
                ids.reverse();
            }
            ids.into_iter()
                .map(|i| NewEvent {
                    source_id: source.id,
                    message_id: format!("r{round}-{i}"),
                    kind: "track",
                    user_id: Some("u".into()),
                    anonymous_id: None,
                    occurred_at: 0,
                    received_at: 0,
                    payload: "{}".into(),
                    // Both writers store the same context: one row.
                    context: Some(smarketing_store::ingest::EventContext {
                        hash: std::sync::Arc::new("h".into()),
                        json: std::sync::Arc::new("{}".into()),
                    }),
                })
                .collect()
        };
        // Each deadlock costs PostgreSQL's deadlock_timeout (1 s) to find.
        for round in 0..3 {
            let (a, b) = (events(round, false), events(round, true));
            let (a, b): ([&[NewEvent]; 1], [&[NewEvent]; 1]) = ([&a], [&b]);
            let (x, y) = tokio::join!(keep_events(&db.store, &a), keep_events(&db.store, &b));
            let (x, y) = (x.unwrap(), y.unwrap());
            assert_eq!(x[0] + y[0], 300, "{l}: round {round}");
        }
        let mut c = db.store.acquire().await.unwrap();
        assert_eq!(event_counts(&mut c).await.unwrap().0, 900, "{l}");
    }
}
