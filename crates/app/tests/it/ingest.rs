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
