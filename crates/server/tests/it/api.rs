//! The CRUD routes, filters, pagination, timeline, score and playbook routes.

use crate::apis;
use axum::http::StatusCode;
use serde_json::json;

#[tokio::test]
async fn contacts_crud_filters_and_pages() {
    for api in apis().await {
        let l = api.label();
        let (s, _, acc) = api.call("POST", "/api/v1/accounts", Some(json!({"name": "Acme GmbH", "domain": "ACME.de", "company_size": "enterprise", "region": "EMEA"}))).await;
        assert_eq!(s, StatusCode::CREATED, "{l}: {acc}");
        assert_eq!(acc["domain"], "acme.de");
        for i in 0..7 {
            let (s, _, c) = api
                .call("POST", "/api/v1/contacts", Some(json!({"email": format!("p{i}@acme.de"), "account_id": acc["id"], "job_title": "CEO", "stage": if i < 5 { "mql" } else { "lead" }})))
                .await;
            assert_eq!(s, StatusCode::CREATED, "{l}: {c}");
        }
        let (s, _, page) = api
            .call("GET", "/api/v1/contacts?stage=mql&limit=2", None)
            .await;
        assert_eq!(s, StatusCode::OK, "{l}: {page}");
        assert_eq!(page["items"].as_array().unwrap().len(), 2);
        let mut seen = 2;
        let mut cursor = page["next_cursor"].as_str().unwrap().to_string();
        loop {
            let (_, _, p) = api
                .call(
                    "GET",
                    &format!("/api/v1/contacts?stage=mql&limit=2&cursor={cursor}"),
                    None,
                )
                .await;
            seen += p["items"].as_array().unwrap().len();
            match p["next_cursor"].as_str() {
                Some(c) => cursor = c.to_string(),
                None => break,
            }
        }
        assert_eq!(seen, 5, "{l}");
        let (_, _, p) = api
            .call(
                "GET",
                "/api/v1/contacts?persona=executive&created_from=2025-01-01T00:00:00Z",
                None,
            )
            .await;
        assert_eq!(p["items"].as_array().unwrap().len(), 7, "{l}: {p}");
        let id = page["items"][0]["id"].as_i64().unwrap();
        let (s, _, c) = api
            .call(
                "PATCH",
                &format!("/api/v1/contacts/{id}"),
                Some(json!({"first_name": "Zoë", "phone": null})),
            )
            .await;
        assert_eq!(
            (s, c["first_name"].as_str()),
            (StatusCode::OK, Some("Zoë")),
            "{l}: {c}"
        );
        let (s, _, c) = api
            .call("GET", &format!("/api/v1/contacts/{id}"), None)
            .await;
        assert_eq!(
            (s, c["fit_score"].as_i64()),
            (StatusCode::OK, Some(45)),
            "{l}: {c}"
        );
    }
}

#[tokio::test]
async fn touchpoints_timeline_and_score() {
    for api in apis().await {
        let l = api.label();
        let (s, _, out) = api
            .call(
                "POST",
                "/api/v1/touchpoints",
                Some(json!({"batch": [
                    {"email": "maya@prospect.io", "kind": "content_download", "utm_medium": "syndication", "occurred_at": "2025-05-30T08:00:00Z"},
                    {"email": "maya@prospect.io", "kind": "demo_request", "referrer": "https://www.bing.com/search", "occurred_at": "2025-06-01T08:00:00Z"}
                ]})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{l}: {out}");
        let rec = out["recorded"].as_array().unwrap();
        assert_eq!(rec[0]["touchpoint"]["channel"], "content_download");
        assert_eq!(rec[1]["stage_change"]["to_stage"], "mql");
        let cid = rec[0]["touchpoint"]["contact_id"].as_i64().unwrap();
        let (s, _, tl) = api
            .call("GET", &format!("/api/v1/contacts/{cid}/timeline"), None)
            .await;
        assert_eq!(s, StatusCode::OK);
        let types: Vec<&str> = tl
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            ["touchpoint", "stage_change", "touchpoint", "stage_change"],
            "{l}: {tl}"
        );
        let (s, _, card) = api
            .call(
                "GET",
                &format!("/api/v1/contacts/{cid}/score?at=2025-06-01T08:00:00Z"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{l}: {card}");
        let rules: Vec<&str> = card["contributions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["rule"].as_str().unwrap())
            .collect();
        assert_eq!(rules, ["content_download", "demo_request"]);
        assert_eq!(
            card["playbook_version"], 1,
            "{l}: the version that scored it"
        );
        // A single object is one touchpoint too.
        let (s, _, one) = api
            .call(
                "POST",
                "/api/v1/touchpoints",
                Some(json!({"contact_id": cid, "kind": "page_view"})),
            )
            .await;
        assert_eq!(
            (s, one["recorded"].as_array().unwrap().len()),
            (StatusCode::CREATED, 1),
            "{l}: {one}"
        );
    }
}

#[tokio::test]
async fn every_resource_has_create_read_update_list() {
    for api in apis().await {
        let l = api.label();
        let (_, _, c) = api
            .call("POST", "/api/v1/contacts", Some(json!({"email": "x@y.io"})))
            .await;
        let cid = c["id"].clone();
        let cases = [
            (
                "campaigns",
                json!({"name": "Q3 webinar", "channel": "webinar", "started_at": "2025-07-01T00:00:00Z", "spend_minor": 250000}),
                json!({"spend_minor": 300000}),
                "spend_minor",
            ),
            (
                "deals",
                json!({"name": "Y deal", "contact_id": cid, "amount_minor": 500000}),
                json!({"pipeline_stage": "proposal"}),
                "pipeline_stage",
            ),
            (
                "activities",
                json!({"contact_id": cid, "kind": "call"}),
                json!({"outcome": "connect"}),
                "outcome",
            ),
            (
                "notes",
                json!({"contact_id": cid, "body": "Asked about SSO"}),
                json!({"body": "Asked about SSO and SCIM"}),
                "body",
            ),
        ];
        for (resource, create, patch, key) in cases {
            let (s, _, made) = api
                .call("POST", &format!("/api/v1/{resource}"), Some(create))
                .await;
            assert_eq!(s, StatusCode::CREATED, "{l} {resource}: {made}");
            let id = made["id"].as_i64().unwrap();
            let (s, _, got) = api
                .call("GET", &format!("/api/v1/{resource}/{id}"), None)
                .await;
            assert_eq!((s, &got), (StatusCode::OK, &made), "{l} {resource}");
            let (s, _, upd) = api
                .call(
                    "PATCH",
                    &format!("/api/v1/{resource}/{id}"),
                    Some(patch.clone()),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{l} {resource}: {upd}");
            assert_eq!(upd[key], patch[key]);
            let (s, _, list) = api.call("GET", &format!("/api/v1/{resource}"), None).await;
            assert_eq!(
                (s, list["items"].as_array().unwrap().len()),
                (StatusCode::OK, 1),
                "{l} {resource}"
            );
        }
        // The deal moved its contact to opportunity.
        let (_, _, c) = api
            .call("GET", &format!("/api/v1/contacts/{cid}"), None)
            .await;
        assert_eq!(c["stage"], "opportunity", "{l}");
        // A rep may not rewrite an admin's note.
        let (_, _, notes) = api.call("GET", "/api/v1/notes", None).await;
        let nid = notes["items"][0]["id"].as_i64().unwrap();
        let (s, _, p) = api
            .call_as(
                Some(&api.member_token),
                "PATCH",
                &format!("/api/v1/notes/{nid}"),
                Some(("application/json", json!({"body": "mine now"}).to_string())),
            )
            .await;
        assert_eq!(
            (s, p["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("forbidden")),
            "{l}"
        );
    }
}

#[tokio::test]
async fn the_playbook_is_versioned_and_diffable() {
    for api in apis().await {
        let l = api.label();
        let (s, _, cur) = api.call("GET", "/api/v1/playbook", None).await;
        assert_eq!(
            (s, cur["version"].as_i64()),
            (StatusCode::OK, Some(1)),
            "{l}"
        );
        let edited = cur["toml"].as_str().unwrap().replace(
            "first_touch_working_hours = 4.0",
            "first_touch_working_hours = 2.0",
        );
        let (s, _, v) = api
            .call_as(
                Some(&api.token),
                "POST",
                "/api/v1/playbook/versions",
                Some(("application/toml", edited)),
            )
            .await;
        assert_eq!(
            (s, v["version"].as_i64()),
            (StatusCode::CREATED, Some(2)),
            "{l}: {v}"
        );
        assert_eq!(v["author"], "Ada Admin <ada@example.com>");
        let (_, _, versions) = api.call("GET", "/api/v1/playbook/versions", None).await;
        assert_eq!(versions.as_array().unwrap().len(), 2);
        let (s, _, d) = api
            .call("GET", "/api/v1/playbook/diff?from=1&to=2", None)
            .await;
        assert_eq!(s, StatusCode::OK, "{l}: {d}");
        assert_eq!(
            d["changes"],
            json!([{"key": "sla.first_touch_working_hours", "before": 4.0, "after": 2.0}])
        );
        let (s, _, old) = api.call("GET", "/api/v1/playbook/versions/1", None).await;
        assert!(
            s == StatusCode::OK
                && old["toml"]
                    .as_str()
                    .unwrap()
                    .contains("first_touch_working_hours = 4.0"),
            "{l}"
        );
        // Members may read the playbook but not change it.
        let (s, _, _) = api
            .call_as(
                Some(&api.member_token),
                "POST",
                "/api/v1/playbook/versions",
                Some(("application/toml", "name = 'x'".into())),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn health_and_readiness() {
    for api in apis().await {
        let (s, _, _) = api.call_as(None, "GET", "/healthz", None).await;
        assert_eq!(s, StatusCode::OK);
        let (s, _, body) = api.call_as(None, "GET", "/readyz", None).await;
        assert_eq!(
            (s, body["status"].as_str()),
            (StatusCode::OK, Some("ready"))
        );
    }
}
