//! Applying kept events from more than one server process at once.

use crate::{apps, now};
use smarketing_app::{App, Clock};

/// Two processes apply, at the same moment, two identifies that name one
/// new e-mail (each claims one event): both create the contact and one of
/// the two inserts is refused (on PostgreSQL; SQLite lets one writer in at
/// a time), so that batch is redone and finds the contact the other
/// committed — both apply, one contact, both visitors stitched to it.
#[tokio::test]
async fn two_appliers_creating_one_contact_both_apply() {
    for (db, first) in apps().await {
        let l = db.label;
        let second = App::new(db.store.clone(), Clock::Fixed(now()));
        let source = first.add_source("Site", &[]).await.unwrap().source;
        for (n, anon) in ["anon-a", "anon-b"].iter().enumerate() {
            let page = format!(
                r#"{{"batch":[{{"type":"page","anonymousId":"{anon}","messageId":"p{n}","timestamp":"2025-06-01T10:00:0{n}Z"}}]}}"#
            );
            first.ingest(&source, page.as_bytes(), None).await.unwrap();
        }
        assert_eq!(first.apply_events(10).await.unwrap(), 2, "{l}");
        for (n, anon) in ["anon-a", "anon-b"].iter().enumerate() {
            let identify = format!(
                r#"{{"batch":[{{"type":"identify","anonymousId":"{anon}","messageId":"i{n}","traits":{{"email":"race@example.com"}}}}]}}"#
            );
            first
                .ingest(&source, identify.as_bytes(), None)
                .await
                .unwrap();
        }
        let (a, b) = tokio::join!(first.apply_events(1), second.apply_events(1));
        assert_eq!(a.unwrap() + b.unwrap(), 2, "{l}");
        assert_eq!(first.event_counts().await.unwrap(), (4, 0), "{l}");
        let mut conn = db.store.acquire().await.unwrap();
        let events = smarketing_store::ingest::recent_events(&mut conn, 4)
            .await
            .unwrap();
        assert!(
            events.iter().all(|(_, _, why)| why.is_none()),
            "{l}: {events:?}"
        );
        let c = smarketing_store::repo::contact_by_email(&mut conn, "race@example.com")
            .await
            .unwrap()
            .unwrap();
        let touches = smarketing_store::repo::touchpoints_of_contact(&mut conn, c.id)
            .await
            .unwrap();
        assert_eq!(touches.len(), 2, "{l}: both visitors stitched");
    }
}

/// A form's `company` finds or creates the account: by the e-mail's company
/// domain (never a free-mail one), or by name; the contact joins it.
#[tokio::test]
async fn a_forms_company_finds_or_creates_the_account() {
    for (db, app) in apps().await {
        let l = db.label;
        let source = app.add_source("Site", &[]).await.unwrap().source;
        let people = [
            ("i1", "ann@acme-corp.io", "Acme Corp"),
            ("i2", "bob@gmail.com", "acme corp"),
            ("i3", "cy@acme-corp.io", "ACME"),
            ("i4", "dee@gmail.com", "Globex"),
        ];
        for (id, email, company) in people {
            let identify = format!(
                r#"{{"type":"identify","userId":"{email}","messageId":"{id}","traits":{{"email":"{email}","company":"{company}"}}}}"#
            );
            app.ingest(
                &source,
                identify.as_bytes(),
                Some(smarketing_core::ingest::MessageType::Identify),
            )
            .await
            .unwrap();
        }
        assert_eq!(app.apply_events(10).await.unwrap(), 4, "{l}");
        let mut conn = db.store.acquire().await.unwrap();
        let mut account_of = std::collections::HashMap::new();
        for (_, email, _) in people {
            let c = smarketing_store::repo::contact_by_email(&mut conn, email)
                .await
                .unwrap()
                .unwrap();
            account_of.insert(email, c.account_id.expect("joined an account"));
        }
        let acme = account_of["ann@acme-corp.io"];
        assert_eq!(account_of["bob@gmail.com"], acme, "{l}: by name");
        assert_eq!(account_of["cy@acme-corp.io"], acme, "{l}: by domain");
        assert_ne!(account_of["dee@gmail.com"], acme, "{l}");
        let accounts: Vec<smarketing_store::Account> =
            smarketing_store::repo::all(&mut conn).await.unwrap();
        let domains: Vec<(String, Option<String>)> =
            accounts.into_iter().map(|a| (a.name, a.domain)).collect();
        assert_eq!(
            domains,
            [
                ("Acme Corp".to_string(), Some("acme-corp.io".to_string())),
                ("Globex".to_string(), None)
            ],
            "{l}: a free-mail domain is no company's"
        );
    }
}

/// A batch's shared context is stored once — not copied into each of its
/// events, and not again for the next batch that carries the same one —
/// and each event is applied (and exported) with it.
#[tokio::test]
async fn a_batch_context_is_stored_once_and_applied_to_each_event() {
    use sqlx::Row;
    for (db, app) in apps().await {
        let l = db.label;
        let source = app.add_source("Server", &[]).await.unwrap().source;
        let padding = "p".repeat(4_000);
        let batch = |from: usize| {
            let items: Vec<String> = (from..from + 50)
                .map(|i| format!(r#"{{"type":"page","anonymousId":"ctx-{i}","messageId":"ctx-m{i}","timestamp":"2025-06-01T10:00:00Z"}}"#))
                .collect();
            format!(
                r#"{{"context":{{"page":{{"url":"https://ex.com/pricing?utm_source=google&utm_medium=cpc"}},"library":{{"name":"server","padding":"{padding}"}}}},"batch":[{}]}}"#,
                items.join(",")
            )
        };
        app.ingest(&source, batch(0).as_bytes(), None)
            .await
            .unwrap();
        app.ingest(&source, batch(50).as_bytes(), None)
            .await
            .unwrap();
        let mut conn = app.store().acquire().await.unwrap();
        let contexts: i64 = sqlx::query("SELECT COUNT(*) FROM event_contexts")
            .fetch_one(&mut *conn)
            .await
            .unwrap()
            .get(0);
        assert_eq!(contexts, 1, "{l}: one row for both batches");
        let stored: i64 = sqlx::query("SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM events")
            .fetch_one(&mut *conn)
            .await
            .unwrap()
            .get(0);
        assert!(
            stored < 100 * 1_000,
            "{l}: {stored} bytes of payload for 100 events"
        );
        drop(conn);
        while app.apply_events(500).await.unwrap() > 0 {}
        // Each page was read with the shared context: a paid-search touch.
        let mut conn = app.store().acquire().await.unwrap();
        let paid: i64 = sqlx::query(
            "SELECT COUNT(*) FROM touchpoints WHERE utm_source = 'google' AND utm_medium = 'cpc'",
        )
        .fetch_one(&mut *conn)
        .await
        .unwrap()
        .get(0);
        assert_eq!(paid, 100, "{l}");
    }
}
