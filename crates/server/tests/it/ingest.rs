//! The Segment-compatible ingestion API through the real router on each
//! database: auth by write key, short paths, text/plain and gzip bodies,
//! exactly-once by messageId (also after a restart), CORS, Segment's limits,
//! and what the events become (stitching, channel, hand-raiser → MQL).

use crate::{TestApi, apis};
use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode, header};
use base64::Engine;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use smarketing_app::{App, Clock};
use smarketing_server::runtime::Background;
use smarketing_server::{AppState, router};
use std::io::Write;
use tower::ServiceExt;

struct Sent {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

async fn send(router: &axum::Router, req: Request<Body>) -> Sent {
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    Sent {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

fn basic(key: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{key}:"))
    )
}

fn post(path: &str, key: Option<&str>, body: &Value) -> Request<Body> {
    let mut r = Request::builder()
        .method("POST")
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(k) = key {
        r = r.header(header::AUTHORIZATION, basic(k));
    }
    r.body(Body::from(body.to_string())).unwrap()
}

async fn ingest(api: &TestApi, key: &str) {
    let l = api.label();
    let r = &api.router;
    let page = json!({
        "anonymousId": "anon-1", "messageId": "m1",
        "timestamp": "2025-06-01T10:00:00Z",
        "context": {
            "campaign": {"source": "google", "medium": "cpc"},
            "page": {"url": "https://shop.example/pricing?gclid=XYZ", "referrer": "https://www.google.com/"}
        },
        "properties": {"title": "Pricing"}
    });
    let s = send(r, post("/v1/page", Some(key), &page)).await;
    assert_eq!(s.status, StatusCode::OK, "{l}: {:?}", s.body);
    assert_eq!(s.body["success"], true);
    assert_eq!(s.body["stored"], 1);
    // A retry of the same message: acknowledged, not kept again.
    let s = send(r, post("/v1/page", Some(key), &page)).await;
    assert_eq!(
        (s.status, s.body["stored"].clone()),
        (StatusCode::OK, json!(0)),
        "{l}"
    );

    // analytics.js: short path, text/plain, the key in the body.
    let short = json!({"writeKey": key, "anonymousId": "anon-1", "messageId": "m2",
                       "timestamp": "2025-06-01T10:05:00Z",
                       "context": {"page": {"url": "https://shop.example/docs"}}});
    let req = Request::builder()
        .method("POST")
        .uri("/v1/p")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(short.to_string()))
        .unwrap();
    let s = send(r, req).await;
    assert_eq!(s.status, StatusCode::OK, "{l}: {:?}", s.body);

    // A gzip-encoded batch whose top-level context applies to each item.
    let batch = json!({
        "context": {"library": {"name": "analytics-python"}},
        "batch": [
            {"type": "identify", "userId": "u1", "anonymousId": "anon-1", "messageId": "m3",
             "timestamp": "2025-06-01T10:10:00Z",
             "traits": {"email": "Ann@Example.com", "firstName": "Ann", "title": "VP Marketing"}},
            {"type": "track", "userId": "u1", "event": "Demo Requested", "messageId": "m4",
             "timestamp": "2025-06-01T10:11:00Z"}
        ]
    });
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(batch.to_string().as_bytes()).unwrap();
    let req = Request::builder()
        .method("POST")
        .uri("/v1/batch")
        .header(header::AUTHORIZATION, basic(key))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_ENCODING, "gzip")
        .body(Body::from(gz.finish().unwrap()))
        .unwrap();
    let s = send(r, req).await;
    assert_eq!(
        (s.status, s.body["stored"].clone()),
        (StatusCode::OK, json!(2)),
        "{l}: {:?}",
        s.body
    );
}

#[tokio::test]
async fn segment_messages_are_kept_once_and_become_contacts_and_touchpoints() {
    for api in apis().await {
        let l = api.label();
        let src = api
            .app
            .add_source("Shop", &["https://shop.example".into()])
            .await
            .unwrap();
        ingest(&api, &src.write_key).await;
        assert_eq!(api.app.event_counts().await.unwrap(), (4, 4), "{l}");
        assert_eq!(api.app.apply_events(100).await.unwrap(), 4, "{l}");
        assert_eq!(api.app.event_counts().await.unwrap(), (4, 0), "{l}");

        // The two anonymous page views were stitched to the contact the
        // identify created; the demo request made it an MQL with a handoff.
        let (st, _, page) = api.call("GET", "/api/v1/contacts?stage=mql", None).await;
        assert_eq!(st, StatusCode::OK, "{l}: {page}");
        let c = &page["items"][0];
        assert_eq!(c["email"], "ann@example.com", "{l}: {c}");
        assert_eq!(c["first_name"], "Ann", "{l}: {c}");
        assert_eq!(c["stage"], "mql", "{l}: {c}");
        assert_eq!(c["source_channel"], "paid_search", "{l}: {c}");
        // Where the contact came from first (the stitched ad click) and last.
        assert_eq!(c["first_touch"]["channel"], "paid_search", "{l}: {c}");
        assert_eq!(c["first_touch"]["utm_source"], "google", "{l}: {c}");
        assert_eq!(
            c["first_touch"]["occurred_at"], "2025-06-01T10:00:00Z",
            "{l}: {c}"
        );
        assert_eq!(
            c["last_touch"]["occurred_at"], "2025-06-01T10:11:00Z",
            "{l}: {c}"
        );
        let id = c["id"].as_i64().unwrap();
        let (_, _, tl) = api
            .call("GET", &format!("/api/v1/contacts/{id}/timeline"), None)
            .await;
        let touches: Vec<&Value> = tl
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "touchpoint")
            .collect();
        assert_eq!(touches.len(), 3, "{l}: {tl}");

        // group links an account; alias gives the contact a second userId
        // whose events are the same person's.
        let later = json!({"batch": [
            {"type": "group", "userId": "u1", "groupId": "acme-1", "messageId": "m5",
             "traits": {"name": "Acme", "website": "https://www.acme.io/about", "employees": "250"}},
            {"type": "alias", "previousId": "u1", "userId": "u1-app", "messageId": "m6"},
            {"type": "track", "userId": "u1-app", "event": "Webinar Attended", "messageId": "m7",
             "timestamp": "2025-06-01T11:00:00Z"}
        ]});
        let s = send(&api.router, post("/v1/batch", Some(&src.write_key), &later)).await;
        assert_eq!(s.status, StatusCode::OK, "{l}: {:?}", s.body);
        assert_eq!(api.app.apply_events(100).await.unwrap(), 3, "{l}");
        let (_, _, c) = api
            .call("GET", &format!("/api/v1/contacts/{id}"), None)
            .await;
        let account = c["account_id"]
            .as_i64()
            .unwrap_or_else(|| panic!("{l}: {c}"));
        let (_, _, a) = api
            .call("GET", &format!("/api/v1/accounts/{account}"), None)
            .await;
        assert_eq!(
            (a["name"].as_str(), a["domain"].as_str()),
            (Some("Acme"), Some("acme.io")),
            "{l}"
        );
        assert_eq!(a["employee_count"], 250, "{l}: {a}");
        let (_, _, tl) = api
            .call("GET", &format!("/api/v1/contacts/{id}/timeline"), None)
            .await;
        let n = tl
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "touchpoint")
            .count();
        assert_eq!(n, 4, "{l}: the aliased userId's touch is the contact's");

        // Restarted (a new app on the same database): a retry is still a duplicate.
        let again = App::new(api.db.store.clone(), Clock::Fixed(crate::now()));
        let r2 = router(AppState::new(again, 64 * 1024));
        let retry = json!({"userId": "u1", "event": "Demo Requested", "messageId": "m4",
                           "timestamp": "2025-06-01T10:11:00Z"});
        let s = send(&r2, post("/v1/track", Some(&src.write_key), &retry)).await;
        assert_eq!(
            (s.status, s.body["stored"].clone()),
            (StatusCode::OK, json!(0)),
            "{l}"
        );
    }
}

/// An event that fails to apply (an identify with a malformed e-mail) is
/// kept with why and leaves nothing behind, while the events around it in
/// the same batch apply: the page view before it is stitched to the
/// contact the identify after it creates.
#[tokio::test]
async fn an_event_that_fails_to_apply_does_not_stop_its_batch() {
    for api in apis().await {
        let l = api.label();
        let key = api.app.add_source("Site", &[]).await.unwrap().write_key;
        let batch = json!({"batch": [
            {"type": "page", "anonymousId": "anon-z", "messageId": "z1",
             "timestamp": "2025-06-01T10:00:00Z",
             "properties": {"url": "https://www.example.com/?utm_source=newsletter&utm_medium=email"}},
            {"type": "identify", "anonymousId": "anon-z", "messageId": "z2",
             "traits": {"email": "not an e-mail"}},
            {"type": "identify", "anonymousId": "anon-z", "messageId": "z3",
             "traits": {"email": "zed@example.com"}}
        ]});
        let s = send(&api.router, post("/v1/batch", Some(&key), &batch)).await;
        assert_eq!(s.status, StatusCode::OK, "{l}: {:?}", s.body);
        assert_eq!(api.app.apply_events(100).await.unwrap(), 3, "{l}");
        assert_eq!(api.app.event_counts().await.unwrap(), (3, 0), "{l}");
        let mut conn = api.db.store.acquire().await.unwrap();
        let events = smarketing_store::ingest::recent_events(&mut conn, 3)
            .await
            .unwrap();
        let outcomes: Vec<(&str, bool)> = events
            .iter()
            .rev()
            .map(|(_, kind, why)| (kind.as_str(), why.is_some()))
            .collect();
        assert_eq!(
            outcomes,
            [("page", false), ("identify", true), ("identify", false)],
            "{l}: {events:?}"
        );
        assert!(
            events[1].2.as_deref().unwrap().contains("traits.email"),
            "{l}: {events:?}"
        );
        assert_eq!(emails(&api, false).await, ["zed@example.com"], "{l}");
        let id = id_of(&api, "zed@example.com").await;
        assert_eq!(
            touch_count(&api, id).await,
            1,
            "{l}: the page view, stitched"
        );
    }
}

/// The live contacts (or, with `merged`, the merged-away ones) by e-mail.
async fn emails(api: &TestApi, merged: bool) -> Vec<String> {
    let (st, _, page) = api
        .call("GET", &format!("/api/v1/contacts?merged={merged}"), None)
        .await;
    assert_eq!(st, StatusCode::OK, "{page}");
    let mut out: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["email"].as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

async fn id_of(api: &TestApi, email: &str) -> i64 {
    let (_, _, page) = api
        .call("GET", &format!("/api/v1/contacts?email={email}"), None)
        .await;
    page["items"][0]["id"].as_i64().unwrap()
}

async fn touch_count(api: &TestApi, id: i64) -> usize {
    let (_, _, tl) = api
        .call("GET", &format!("/api/v1/contacts/{id}/timeline"), None)
        .await;
    tl.as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "touchpoint")
        .count()
}

#[tokio::test]
async fn events_that_reveal_one_person_merge_two_records_and_a_merge_can_be_undone() {
    for api in apis().await {
        let l = api.label();
        let key = api.app.add_source("App", &[]).await.unwrap().write_key;
        let send_batch = |batch: Value| {
            let router = api.router.clone();
            let key = key.clone();
            async move {
                let s = send(
                    &router,
                    post("/v1/batch", Some(&key), &json!({"batch": batch})),
                )
                .await;
                assert_eq!(s.status, StatusCode::OK, "{:?}", s.body);
            }
        };
        // Two records of one person: the newsletter reader and the app user.
        send_batch(json!([
            {"type": "page", "anonymousId": "anon-a", "messageId": "a1",
             "timestamp": "2025-05-01T09:00:00Z",
             "context": {"campaign": {"source": "newsletter", "medium": "email", "name": "spring"}}},
            {"type": "identify", "userId": "u1", "anonymousId": "anon-a", "messageId": "a2",
             "timestamp": "2025-05-01T09:05:00Z", "traits": {"email": "ann@home.example"}},
            {"type": "identify", "userId": "u2", "messageId": "b1",
             "timestamp": "2025-05-20T10:00:00Z",
             "traits": {"email": "ann@work.example", "firstName": "Ann", "title": "CMO"}},
            {"type": "track", "userId": "u2", "event": "Webinar Attended", "messageId": "b2",
             "timestamp": "2025-05-20T10:05:00Z"}
        ]))
        .await;
        api.app.apply_events(100).await.unwrap();
        assert_eq!(
            emails(&api, false).await,
            ["ann@home.example", "ann@work.example"],
            "{l}"
        );
        let (home, work) = (
            id_of(&api, "ann@home.example").await,
            id_of(&api, "ann@work.example").await,
        );

        // alias says u1 and u2 are one person: the older record survives.
        send_batch(json!([
            {"type": "alias", "previousId": "u1", "userId": "u2", "messageId": "c1",
             "timestamp": "2025-05-21T08:00:00Z"}
        ]))
        .await;
        api.app.apply_events(100).await.unwrap();
        assert_eq!(emails(&api, false).await, ["ann@home.example"], "{l}");
        assert_eq!(emails(&api, true).await, ["ann@work.example"], "{l}");
        let (_, _, c) = api
            .call("GET", &format!("/api/v1/contacts/{}", home), None)
            .await;
        assert_eq!(
            (c["first_name"].as_str(), c["job_title"].as_str()),
            (Some("Ann"), Some("CMO")),
            "{l}: empty fields filled from the merged record: {c}"
        );
        assert_eq!(c["first_touch"]["utm_campaign"], "spring", "{l}: {c}");
        assert_eq!(
            c["last_touch"]["occurred_at"], "2025-05-20T10:05:00Z",
            "{l}: the webinar moved over: {c}"
        );
        let (_, _, w) = api
            .call("GET", &format!("/api/v1/contacts/{}", work), None)
            .await;
        assert_eq!(w["merged_into_id"], home, "{l}: {w}");
        assert_eq!(w["last_touch"], Value::Null, "{l}: {w}");
        let (_, _, merges) = api
            .call("GET", &format!("/api/v1/contacts/{}/merges", home), None)
            .await;
        let m = &merges[0];
        assert_eq!(
            (
                m["cause"].as_str(),
                m["survivor_id"].as_i64(),
                m["merged_id"].as_i64()
            ),
            (Some("alias"), Some(home), Some(work)),
            "{l}: {merges}"
        );
        assert!(m["event_id"].is_i64(), "{l}: {m}");
        assert_eq!(
            m["moved"]["touchpoints"].as_array().unwrap().len(),
            1,
            "{l}"
        );
        assert_eq!(m["moved"]["identities"], json!(["u2"]), "{l}: {m}");
        let merge_id = m["id"].as_i64().unwrap();

        // Later events of either id, or the merged e-mail, are the survivor's.
        send_batch(json!([
            {"type": "track", "userId": "u2", "event": "Pricing Viewed", "messageId": "d1",
             "timestamp": "2025-05-22T08:00:00Z"}
        ]))
        .await;
        api.app.apply_events(100).await.unwrap();
        assert_eq!(touch_count(&api, home).await, 3, "{l}");

        // Only who merged, a manager or an admin may undo it.
        let (st, _, p) = api
            .member(
                "POST",
                &format!("/api/v1/contact-merges/{merge_id}/undo"),
                json!({}),
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{l}: {p}");
        let (st, _, undone) = api
            .call(
                "POST",
                &format!("/api/v1/contact-merges/{merge_id}/undo"),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{l}: {undone}");
        assert!(undone["unmerged_at"].is_string(), "{l}: {undone}");
        assert_eq!(
            emails(&api, false).await,
            ["ann@home.example", "ann@work.example"],
            "{l}"
        );
        let (_, _, c) = api
            .call("GET", &format!("/api/v1/contacts/{}", home), None)
            .await;
        assert_eq!(
            c["first_name"],
            Value::Null,
            "{l}: filled fields emptied: {c}"
        );
        assert_eq!(touch_count(&api, work).await, 1, "{l}: the webinar is back");
        assert_eq!(
            touch_count(&api, home).await,
            2,
            "{l}: what arrived after the merge stays where it was recorded"
        );
        let (st, _, p) = api
            .call(
                "POST",
                &format!("/api/v1/contact-merges/{merge_id}/undo"),
                None,
            )
            .await;
        assert_eq!(
            (st, p["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("already_unmerged")),
            "{l}: {p}"
        );

        // An undone merge is not redone by the next event that links them…
        send_batch(json!([
            {"type": "identify", "userId": "u1", "messageId": "e1",
             "timestamp": "2025-05-23T08:00:00Z", "traits": {"email": "ann@work.example"}}
        ]))
        .await;
        api.app.apply_events(100).await.unwrap();
        assert_eq!(
            emails(&api, false).await,
            ["ann@home.example", "ann@work.example"],
            "{l}"
        );
        // …and events from a browser source (its key is public) never merge.
        let site = api
            .app
            .add_source("Site", &["https://www.example.com".into()])
            .await
            .unwrap()
            .write_key;
        let s = send(
            &api.router,
            post(
                "/v1/batch",
                Some(&site),
                &json!({"batch": [
                    {"type": "identify", "userId": "v1", "messageId": "f1",
                     "traits": {"email": "bo@one.example"}},
                    {"type": "identify", "userId": "v2", "messageId": "f2",
                     "traits": {"email": "bo@two.example"}},
                    {"type": "alias", "previousId": "v1", "userId": "v2", "messageId": "f3"}
                ]}),
            ),
        )
        .await;
        assert_eq!(s.status, StatusCode::OK, "{l}: {:?}", s.body);
        api.app.apply_events(100).await.unwrap();
        assert_eq!(emails(&api, false).await.len(), 4, "{l}");

        // By hand, by an admin.
        let (st, _, m) = api
            .call(
                "POST",
                "/api/v1/contact-merges",
                Some(json!({"contact_ids": [work, home]})),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{l}: {m}");
        assert_eq!(
            (m["cause"].as_str(), m["survivor_id"].as_i64()),
            (Some("manual"), Some(home)),
            "{l}: {m}"
        );
        // The merged record takes no changes: the caller is sent to the survivor.
        let (st, _, p) = api
            .call(
                "PATCH",
                &format!("/api/v1/contacts/{work}"),
                Some(json!({"job_title": "CEO"})),
            )
            .await;
        assert_eq!(
            (st, p["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("merged_contact")),
            "{l}: {p}"
        );

        // By hand: merging a record into itself or a merged one is refused.
        let (st, _, p) = api
            .call(
                "POST",
                "/api/v1/contact-merges",
                Some(json!({"contact_ids": [home, work]})),
            )
            .await;
        assert_eq!(
            (st, p["code"].as_str(), p["field"].as_str()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("already_merged"),
                Some("contact_ids")
            ),
            "{l}: {p}"
        );
    }
}

#[tokio::test]
async fn a_full_queue_answers_503_with_retry_after_and_keeps_what_it_acknowledged() {
    for api in apis().await {
        let l = api.label();
        let app = App::new(api.db.store.clone(), Clock::Fixed(crate::now())).with_options(
            smarketing_app::Options {
                // The floor: one largest batch (500 KB).
                event_queue_bytes: 1,
                ..Default::default()
            },
        );
        let key = app.add_source("Flood", &[]).await.unwrap().write_key;
        let r = router(AppState::new(app.clone(), 4 << 20));
        // ~200 KB of events per request.
        let batch = |n: usize| {
            let items: Vec<Value> = (0..10)
                .map(|i| {
                    json!({"type": "track", "userId": "u", "event": "Big",
                           "messageId": format!("q{n}-{i}"),
                           "properties": {"blob": "x".repeat(20_000)}})
                })
                .collect();
            post("/v1/batch", Some(&key), &json!({ "batch": items }))
        };
        // Another writer holds the events table, so the writer waits.
        let mut blocker = api.db.store.begin().await.unwrap();
        let hold = match api.db.store.backend() {
            smarketing_store::Backend::Sqlite => "UPDATE data_version SET version = version",
            smarketing_store::Backend::Postgres => "LOCK TABLE events IN SHARE MODE",
        };
        sqlx::query(hold).execute(&mut *blocker).await.unwrap();
        let mut waiting = Vec::new();
        for n in 0..2 {
            let r = r.clone();
            let req = batch(n);
            let before = app.event_queue_bytes();
            waiting.push(tokio::spawn(async move { send(&r, req).await }));
            // Until the request holds its share of the queue.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while app.event_queue_bytes() == before {
                assert!(std::time::Instant::now() < deadline, "{l}: never queued");
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
        let s = send(&r, batch(2)).await;
        assert_eq!(
            s.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{l}: {:?}",
            s.body
        );
        assert_eq!(s.headers[header::RETRY_AFTER], "1", "{l}");
        assert_eq!(s.body["code"], "overloaded", "{l}: {:?}", s.body);
        blocker.rollback().await.unwrap();
        for w in waiting {
            let s = w.await.unwrap();
            assert_eq!(
                (s.status, s.body["stored"].clone()),
                (StatusCode::OK, json!(10)),
                "{l}: {:?}",
                s.body
            );
        }
        // Room again once the queue drained; nothing acknowledged was lost.
        let s = send(&r, batch(2)).await;
        assert_eq!(s.status, StatusCode::OK, "{l}: {:?}", s.body);
        assert_eq!(app.event_counts().await.unwrap().0, 30, "{l}");
    }
}

/// Each source has a quota in events and bytes a second: past it the
/// answer is 429 with `Retry-After` (and CORS, so a page can read it), it
/// counts the messages as kept (a batch's context copied into each item),
/// and another source is answered as usual meanwhile.
#[tokio::test]
async fn a_source_over_its_quota_gets_429_and_others_do_not() {
    for api in apis().await {
        let l = api.label();
        let app = App::new(api.db.store.clone(), Clock::Fixed(crate::now()));
        let site = "https://www.example.com";
        let busy = app
            .add_source("Busy", &[site.into()])
            .await
            .unwrap()
            .write_key;
        let quiet = app.add_source("Quiet", &[]).await.unwrap().write_key;
        // One event a second: bursts of ten.
        app.set_source_quota("Busy", Some(1), None).await.unwrap();
        let r = router(AppState::new(app.clone(), 1 << 20));
        let tracks = |prefix: &str, n: usize| {
            let items: Vec<Value> = (0..n)
                .map(|i| {
                    json!({"type": "track", "userId": "u", "event": "E",
                                "messageId": format!("{prefix}-{i}")})
                })
                .collect();
            json!({ "batch": items })
        };
        let s = send(&r, post("/v1/batch", Some(&busy), &tracks("a", 10))).await;
        assert_eq!(s.status, StatusCode::OK, "{l}: {:?}", s.body);
        let mut over = post("/v1/batch", Some(&busy), &tracks("b", 1));
        over.headers_mut()
            .insert(header::ORIGIN, HeaderValue::from_static(site));
        let s = send(&r, over).await;
        assert_eq!(s.status, StatusCode::TOO_MANY_REQUESTS, "{l}: {:?}", s.body);
        assert_eq!(s.body["code"], "rate_limited", "{l}");
        let wait: u64 = s.headers[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(wait, 1, "{l}: Retry-After");
        assert_eq!(s.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], site, "{l}");
        let s = send(&r, post("/v1/batch", Some(&quiet), &tracks("c", 50))).await;
        assert_eq!(
            s.status,
            StatusCode::OK,
            "{l}: the other source {:?}",
            s.body
        );
        // A second later, one more event fits.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let s = send(&r, post("/v1/batch", Some(&busy), &tracks("b", 1))).await;
        assert_eq!(s.status, StatusCode::OK, "{l}: {:?}", s.body);

        // Bytes are counted as kept: twelve items sharing a 900-byte
        // context are some 12 KB kept from a 1.5 KB request.
        app.set_source_quota("Busy", None, Some(2_000))
            .await
            .unwrap();
        let shared = |prefix: &str| {
            let mut b = tracks(prefix, 12);
            b["context"] = json!({"page": {"title": "x".repeat(900)}});
            b
        };
        let first = post("/v1/batch", Some(&busy), &shared("d"));
        let s = send(&r, first).await;
        assert_eq!(s.status, StatusCode::OK, "{l}: {:?}", s.body);
        let s = send(&r, post("/v1/batch", Some(&busy), &shared("e"))).await;
        assert_eq!(s.status, StatusCode::TOO_MANY_REQUESTS, "{l}: {:?}", s.body);
        // Nothing refused was kept.
        assert_eq!(app.event_counts().await.unwrap().0, 10 + 50 + 1 + 12, "{l}");
    }
}

/// Clients retrying at once send the same messageIds in both orders, to
/// writers that commit at once on PostgreSQL: every request is
/// acknowledged and every event kept exactly once. (The store's own test
/// runs two writers into the deadlock opposite orders can cause there.)
#[tokio::test]
async fn concurrent_retries_in_opposite_orders_are_kept_exactly_once() {
    for api in apis().await {
        let l = api.label();
        let app = App::new(api.db.store.clone(), Clock::Fixed(crate::now()));
        let key = app.add_source("Retries", &[]).await.unwrap().write_key;
        let r = router(AppState::new(app.clone(), 4 << 20));
        let mut sent = Vec::new();
        for round in 0..20 {
            let ids: Vec<String> = (0..50).map(|i| format!("r{round}-{i}")).collect();
            for reversed in [false, true] {
                let mut ids = ids.clone();
                if reversed {
                    ids.reverse();
                }
                let items: Vec<Value> = ids
                    .iter()
                    .map(|id| json!({"type": "track", "userId": "u", "event": "Retry", "messageId": id}))
                    .collect();
                let (r, req) = (
                    r.clone(),
                    post("/v1/batch", Some(&key), &json!({ "batch": items })),
                );
                sent.push(tokio::spawn(async move { send(&r, req).await }));
            }
        }
        let mut stored = 0;
        for s in sent {
            let s = s.await.unwrap();
            assert_eq!(s.status, StatusCode::OK, "{l}: {:?}", s.body);
            stored += s.body["stored"].as_i64().unwrap();
        }
        assert_eq!(stored, 1000, "{l}: each event counted as stored once");
        assert_eq!(app.event_counts().await.unwrap().0, 1000, "{l}");
    }
}

#[tokio::test]
async fn bad_keys_bad_payloads_limits_and_cors_are_answered_clearly() {
    for api in apis().await {
        let l = api.label();
        let r = &api.router;
        let src = api
            .app
            .add_source("Site", &["https://www.example.com".into()])
            .await
            .unwrap();
        let key = src.write_key.as_str();
        let track = json!({"userId": "u", "event": "Signed Up"});

        let s = send(r, post("/v1/track", None, &track)).await;
        assert_eq!(s.status, StatusCode::UNAUTHORIZED, "{l}");
        assert_eq!(s.body["code"], "invalid_write_key");
        assert!(
            s.headers[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .starts_with("Basic")
        );
        let s = send(r, post("/v1/track", Some("wk_nope"), &track)).await;
        assert_eq!(s.status, StatusCode::UNAUTHORIZED, "{l}");

        let cases = [
            ("/v1/track", json!({"userId": "u"}), "required", "event"),
            ("/v1/identify", json!({"traits": {}}), "required", "userId"),
            (
                "/v1/batch",
                json!({"batch": [{"type": "page", "anonymousId": "a"}, {"type": "x", "userId": "u"}]}),
                "unknown_type",
                "batch[1].type",
            ),
            (
                "/v1/batch",
                json!({"batch": vec![json!({"type": "page", "anonymousId": "a"}); 2501]}),
                "batch_too_large",
                "batch",
            ),
            (
                "/v1/t",
                json!({"userId": "u", "event": "e", "properties": {"p": "x".repeat(33_000)}}),
                "message_too_large",
                "body",
            ),
        ];
        for (path, body, code, field) in cases {
            let s = send(r, post(path, Some(key), &body)).await;
            assert_eq!(
                s.status,
                StatusCode::BAD_REQUEST,
                "{l}: {path} {:?}",
                s.body
            );
            assert_eq!(
                (s.body["code"].as_str(), s.body["field"].as_str()),
                (Some(code), Some(field)),
                "{l}"
            );
        }
        let req = Request::builder()
            .method("POST")
            .uri("/v1/track")
            .header(header::AUTHORIZATION, basic(key))
            .body(Body::from("{\"userId\": "))
            .unwrap();
        let s = send(r, req).await;
        assert_eq!(
            (s.status, s.body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_json"))
        );
        let req = Request::builder()
            .method("POST")
            .uri("/v1/track")
            .header(header::AUTHORIZATION, basic(key))
            .header(header::CONTENT_ENCODING, "gzip")
            .body(Body::from("not gzip at all"))
            .unwrap();
        let s = send(r, req).await;
        assert_eq!(
            (s.status, s.body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_gzip"))
        );
        let s = send(r, post("/v1/nothing", Some(key), &track)).await;
        assert_eq!(s.status, StatusCode::NOT_FOUND);

        // CORS: the source's site may send from the browser; others may not.
        let preflight = |origin: &str| {
            Request::builder()
                .method("OPTIONS")
                .uri("/v1/t")
                .header(header::ORIGIN, origin)
                .header("access-control-request-method", "POST")
                .body(Body::empty())
                .unwrap()
        };
        let s = send(r, preflight("https://www.example.com")).await;
        assert_eq!(s.status, StatusCode::NO_CONTENT);
        assert_eq!(
            s.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://www.example.com"
        );
        let s = send(r, preflight("https://evil.example")).await;
        assert!(
            s.headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none(),
            "{l}"
        );

        // A POST from a browser on another site is refused before anything is kept.
        let mut req = post("/v1/track", Some(key), &track);
        req.headers_mut()
            .insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        let s = send(r, req).await;
        assert_eq!(s.status, StatusCode::FORBIDDEN, "{l}: {:?}", s.body);
        let mut req = post("/v1/track", Some(key), &track);
        req.headers_mut()
            .insert(header::ORIGIN, "https://WWW.example.com".parse().unwrap());
        let s = send(r, req).await;
        assert_eq!(s.status, StatusCode::OK, "{l}: {:?}", s.body);
        assert_eq!(
            s.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://WWW.example.com"
        );
        assert_eq!(api.app.event_counts().await.unwrap().0, 1, "{l}");

        // A revoked source's key stops working at once in this server.
        api.app.revoke_source("Site").await.unwrap();
        let s = send(r, post("/v1/track", Some(key), &track)).await;
        assert_eq!(s.status, StatusCode::UNAUTHORIZED, "{l}");
        assert!(matches!(
            api.app.add_source("Bad", &["ftp://x".into()]).await,
            Err(smarketing_app::AppError::Invalid(i)) if i.field == "allowed_origins[0]"
        ));
    }
}

/// What the browser SDKs of Segment (analytics-next) and RudderStack
/// (analytics-js) need of the server, as they send it: the preflight allows
/// their headers, every answer (errors too) carries CORS and exposes
/// `Retry-After`, RudderStack's beacon posts with the write key in the query,
/// and its SDK finds its source's config.
#[tokio::test]
async fn browser_sdks_are_answered_as_they_send() {
    for api in apis().await {
        let l = api.label();
        let r = &api.router;
        let site = "https://www.example.com";
        let src = api.app.add_source("Site", &[site.into()]).await.unwrap();
        let key = src.write_key.as_str();
        for (path, asked) in [
            ("/v1/batch", "content-type, x-retry-count"),
            (
                "/v1/batch",
                "Content-Type, AnonymousId, SentAt, Authorization",
            ),
            (
                "/v1/track",
                "content-type, anonymousid, authorization, rsa-retry-attempt, rsa-retry-reason, rsa-since-first-attempt, rsa-since-last-attempt",
            ),
            ("/beacon/v1/batch", "content-type"),
            ("/sourceConfig/", "authorization"),
        ] {
            let req = Request::builder()
                .method("OPTIONS")
                .uri(path)
                .header(header::ORIGIN, site)
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", asked)
                .body(Body::empty())
                .unwrap();
            let s = send(r, req).await;
            assert_eq!(s.status, StatusCode::NO_CONTENT, "{l}: {path}");
            let allowed = s.headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
                .to_str()
                .unwrap()
                .to_string();
            for h in asked.split(',') {
                assert!(
                    allowed.contains(&h.trim().to_ascii_lowercase()),
                    "{l}: {path} does not allow {h}: {allowed}"
                );
            }
        }
        // An error answer a page can read: who may not, and why.
        let mut req = post(
            "/v1/track",
            Some("wk_wrong"),
            &json!({"userId": "u", "event": "E"}),
        );
        req.headers_mut()
            .insert(header::ORIGIN, site.parse().unwrap());
        let s = send(r, req).await;
        assert_eq!(s.status, StatusCode::UNAUTHORIZED, "{l}");
        assert_eq!(s.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], site, "{l}");
        assert_eq!(
            s.headers[header::ACCESS_CONTROL_EXPOSE_HEADERS],
            "Retry-After",
            "{l}"
        );
        // RudderStack's beacon: text/plain, the key in the query.
        let beacon = Request::builder()
            .method("POST")
            .uri(format!("/beacon/v1/batch?writeKey={key}"))
            .header(header::ORIGIN, site)
            .header(header::CONTENT_TYPE, "text/plain;charset=UTF-8")
            .body(Body::from(
                json!({"batch": [{"type": "page", "anonymousId": "a-1", "messageId": "b-1",
                                  "properties": {"url": "https://www.example.com/pricing", "referrer": "$direct"}}],
                       "sentAt": "2025-06-02T09:00:00Z"})
                .to_string(),
            ))
            .unwrap();
        let s = send(r, beacon).await;
        assert_eq!(
            (s.status, s.body["stored"].clone()),
            (StatusCode::OK, json!(1)),
            "{l}: {:?}",
            s.body
        );
        assert_eq!(s.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], site, "{l}");
        // The source config RudderStack's SDK loads first.
        let config = Request::builder()
            .uri("/sourceConfig/?p=npm&v=3.0.0")
            .header(header::AUTHORIZATION, basic(key))
            .header(header::ORIGIN, site)
            .body(Body::empty())
            .unwrap();
        let s = send(r, config).await;
        assert_eq!(s.status, StatusCode::OK, "{l}: {:?}", s.body);
        assert_eq!(s.body["source"]["enabled"], true, "{l}");
        assert_eq!(s.body["source"]["destinations"], json!([]), "{l}");
        assert_eq!(s.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], site, "{l}");
        let s = send(
            r,
            Request::builder()
                .uri("/sourceConfig/?writeKey=wk_wrong")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(s.status, StatusCode::UNAUTHORIZED, "{l}");
    }
}

/// The tracking script in a real browser: headless Chromium opens a landing
/// page served by the test (another origin, with UTM fields); the script
/// sends the page view with a first-party anonymous id, then the page fills
/// and submits a form with an e-mail field, which identifies the visitor and
/// tracks "Demo Requested". The page view is stitched to the new contact,
/// which became an MQL. `.ci/run` installs Debian's chromium; elsewhere the
/// test says so and stops when it is missing.
#[tokio::test]
async fn the_tracking_script_in_headless_chromium_identifies_on_form_submit() {
    let Some(chromium) = crate::browser::chromium("the tracking-script test in headless Chromium")
    else {
        return;
    };
    for api in apis().await {
        let l = api.label();
        let app = App::new(api.db.store.clone(), Clock::System);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = listener.local_addr().unwrap();
        let state = AppState::new(app.clone(), 64 * 1024);
        let running = smarketing_server::runtime::start(listener, state, Background::none());
        // The site: another origin on loopback.
        let site_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let site = site_listener.local_addr().unwrap();
        let key = app
            .add_source("Site", &[format!("http://{site}")])
            .await
            .unwrap()
            .write_key;
        let page = format!(
            r#"<!doctype html><html><head><title>Pricing</title></head><body>
<form id="demo" data-smarketing-event="Demo Requested" action="/thanks" method="get">
  <input type="email" name="email"><input name="first_name" value="Chrome">
</form>
<script src="http://{server}/js/smarketing.js" data-write-key="{key}"></script>
<script>
  document.querySelector("input[type=email]").value = "browser@example.com";
  setTimeout(function () {{ document.getElementById("demo").requestSubmit(); }}, 500);
</script></body></html>"#
        );
        // The page the form leads to has no campaign in its URL: its page
        // view carries the landing page's, kept for the session.
        let thanks = format!(
            r#"<!doctype html><html><head><title>Thanks</title></head><body><p>Thanks</p>
<script src="http://{server}/js/smarketing.js" data-write-key="{key}"></script></body></html>"#
        );
        let site_app = axum::Router::new()
            .route(
                "/landing",
                axum::routing::get(move || {
                    let page = page.clone();
                    async move { axum::response::Html(page) }
                }),
            )
            .route(
                "/thanks",
                axum::routing::get(move || {
                    let thanks = thanks.clone();
                    async move { axum::response::Html(thanks) }
                }),
            );
        tokio::spawn(async move { axum::serve(site_listener, site_app).await });

        let url = format!(
            "http://{site}/landing?utm_source=newsletter&utm_medium=email&utm_campaign=autumn"
        );
        // Headless Chromium stays on the page after the form's navigation;
        // it is stopped once the events are in: page view, identify and
        // track arrive as beacons, then the thanks page's view.
        let browser = crate::browser::Browser::open(chromium, &url);
        let kept = crate::browser::events_kept(&app, 4, 30).await;
        let console = browser.close().await;
        assert_eq!(
            kept, 4,
            "{l}: page, identify, track and the next page kept\n{console}"
        );
        while app.apply_events(100).await.unwrap() > 0 {}
        let mut conn = app.store().acquire().await.unwrap();
        let c = smarketing_store::repo::contact_by_email(&mut conn, "browser@example.com")
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{l}: the form did not identify"));
        assert_eq!(c.first_name.as_deref(), Some("Chrome"), "{l}");
        let touches = smarketing_store::repo::touchpoints_of_contact(&mut conn, c.id)
            .await
            .unwrap();
        let kinds: Vec<Option<&str>> = touches.iter().map(|t| t.kind.as_deref()).collect();
        let events = smarketing_store::ingest::recent_events(&mut conn, 10)
            .await
            .unwrap();
        assert_eq!(
            kinds,
            [Some("page_view"), Some("demo_request"), Some("page_view")],
            "{l}: {events:?}"
        );
        assert_eq!(
            (
                touches[2].utm_campaign.as_deref(),
                touches[2].channel.as_str()
            ),
            (Some("autumn"), "email"),
            "{l}: the next page lost the session's campaign"
        );
        assert_eq!(c.stage, smarketing_core::Stage::Mql, "{l}: {c:?}");
        assert_eq!(c.source_channel.as_deref(), Some("email"), "{l}");
        assert_eq!(touches[0].utm_campaign.as_deref(), Some("autumn"), "{l}");
        let _ = running.stop().await;
    }
}

/// Resident memory of this test process, in bytes.
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The probe's amplification: a 264 KB batch whose 31 KB shared context
/// would be copied into each of its 2,500 items (78 MB kept). Ten of them
/// are refused whole, nothing is stored, memory stays flat, and another
/// sender's batches are answered as usual meanwhile.
#[tokio::test]
async fn a_batch_its_shared_context_would_amplify_is_refused_and_memory_stays_flat() {
    for api in apis().await {
        let l = api.label();
        let r = router(AppState::new(
            api.app.clone(),
            smarketing_server::DEFAULT_MAX_BODY_BYTES,
        ));
        let flooder = api.app.add_source("Flood", &[]).await.unwrap().write_key;
        let normal = api.app.add_source("Normal", &[]).await.unwrap().write_key;
        let items: Vec<Value> = (0..2_500)
            .map(|i| json!({"type": "track", "event": "Viewed Page", "anonymousId": format!("flood-{i:05}"), "messageId": format!("flood-message-{i:05}")}))
            .collect();
        let body = json!({"batch": items, "context": {"padding": "x".repeat(31 * 1024 - 20)}});
        let size = body.to_string().len();
        assert!((200_000..300_000).contains(&size), "{l}: {size}");
        let (kept_before, _) = api.app.event_counts().await.unwrap();
        let before = resident_bytes();
        for round in 0..10 {
            let s = send(&r, post("/v1/batch", Some(&flooder), &body)).await;
            assert_eq!(
                s.status,
                StatusCode::BAD_REQUEST,
                "{l}: round {round}: {}",
                s.body
            );
            assert_eq!(s.body["code"], "batch_too_large", "{l}");
            let ok = send(
                &r,
                post(
                    "/v1/batch",
                    Some(&normal),
                    &json!({"batch": [{"type": "track", "event": "Signed Up", "anonymousId": format!("normal-{round}")}]}),
                ),
            )
            .await;
            assert_eq!(
                ok.status,
                StatusCode::OK,
                "{l}: the other sender, round {round}"
            );
        }
        let after = resident_bytes();
        let (kept_after, _) = api.app.event_counts().await.unwrap();
        let grown = after.saturating_sub(before);
        println!(
            "{l}: 10 amplifying batches of {} KB refused; events kept {} -> {} (the other sender's 10); resident memory {:.1} -> {:.1} MB",
            size / 1024,
            kept_before,
            kept_after,
            before as f64 / 1e6,
            after as f64 / 1e6
        );
        assert_eq!(
            kept_after - kept_before,
            10,
            "{l}: nothing of the flood is kept"
        );
        // One copy per item would be 78 MB a request; other tests share
        // this process, so the bound is loose but far below that.
        assert!(grown < 150_000_000, "{l}: memory grew {grown} bytes");
    }
}
