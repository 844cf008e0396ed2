//! The Segment-compatible ingestion API through the real router on each
//! database: auth by write key, short paths, text/plain and gzip bodies,
//! exactly-once by messageId (also after a restart), CORS, Segment's limits,
//! and what the events become (stitching, channel, hand-raiser → MQL).

use crate::{TestApi, apis};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use smarketing_app::{App, Clock};
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

        // Restarted (a new app on the same database): a retry is still a duplicate.
        let again = App::new(api.db.store.clone(), Clock::Fixed(crate::now()));
        let r2 = router(AppState {
            app: again,
            max_body_bytes: 64 * 1024,
        });
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
