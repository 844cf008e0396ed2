//! Bad input gets problem+json with a stable code and the field at fault.

use crate::apis;
use axum::http::StatusCode;
use serde_json::{Value, json};

fn assert_problem(
    label: &str,
    got: &(StatusCode, String, Value),
    status: StatusCode,
    code: &str,
    field: Option<&str>,
) {
    let (s, ct, body) = got;
    assert_eq!(*s, status, "{label}: {body}");
    assert_eq!(ct, "application/problem+json", "{label}");
    assert_eq!(body["code"], code, "{label}: {body}");
    assert_eq!(body["status"], status.as_u16());
    assert!(body["type"].as_str().unwrap().ends_with(code));
    assert!(body["title"].is_string() && body["detail"].is_string());
    if let Some(f) = field {
        assert_eq!(body["field"], f, "{label}: {body}");
    }
}

#[tokio::test]
async fn authentication_is_required_everywhere() {
    for api in apis().await {
        let l = api.label();
        for uri in [
            "/api/v1/contacts",
            "/api/v1/accounts/1",
            "/api/v1/playbook",
            "/api/v1/playbook/versions",
            "/api/v1/me",
        ] {
            let got = api.call_as(None, "GET", uri, None).await;
            assert_problem(l, &got, StatusCode::UNAUTHORIZED, "unauthorized", None);
            let got = api
                .call_as(Some("smk_not-a-real-token"), "GET", uri, None)
                .await;
            assert_problem(l, &got, StatusCode::UNAUTHORIZED, "unauthorized", None);
        }
        let got = api
            .call_as(Some("Basic abc"), "GET", "/api/v1/contacts", None)
            .await;
        assert_eq!(got.0, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn invalid_values_name_their_field() {
    for api in apis().await {
        let l = api.label();
        let cases: Vec<(&str, &str, Value, StatusCode, &str, &str)> = vec![
            (
                "POST",
                "/api/v1/contacts",
                json!({"email": "no-at.example.com"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_email",
                "email",
            ),
            (
                "POST",
                "/api/v1/contacts",
                json!({"email": "a@b.io", "stage": "prospect"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_stage",
                "stage",
            ),
            (
                "POST",
                "/api/v1/contacts",
                json!({"email": "a@b.io", "persona": "wizard"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_persona",
                "persona",
            ),
            (
                "POST",
                "/api/v1/contacts",
                json!({"email": "a@b.io", "colour": "red"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_value",
                "colour",
            ),
            (
                "POST",
                "/api/v1/contacts",
                json!({"email": "a@b.io", "created_at": "yesterday"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_value",
                "created_at",
            ),
            (
                "POST",
                "/api/v1/contacts",
                json!({"email": 5}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_value",
                "email",
            ),
            (
                "POST",
                "/api/v1/deals",
                json!({"name": "x", "amount_minor": -5}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "negative_amount",
                "amount_minor",
            ),
            (
                "POST",
                "/api/v1/campaigns",
                json!({"name": "x", "channel": "tv", "started_at": "2025-01-01T00:00:00Z"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_channel",
                "channel",
            ),
            (
                "POST",
                "/api/v1/campaigns",
                json!({"name": "x", "channel": "email", "started_at": "2025-01-01T00:00:00Z", "spend_minor": -1}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "negative_amount",
                "spend_minor",
            ),
            (
                "POST",
                "/api/v1/activities",
                json!({"contact_id": 999, "kind": "call"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_reference",
                "contact_id",
            ),
            (
                "POST",
                "/api/v1/touchpoints",
                json!({"batch": [{"email": "a@b.io"}, {"email": "a@b.io", "channel": "tv"}]}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_batch",
                "[1].channel",
            ),
            (
                "POST",
                "/api/v1/touchpoints",
                json!({"batch": [{"email": "a@b.io", "occurred_at": 12}]}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_value",
                "batch[0]",
            ),
        ];
        for (method, uri, body, status, code, field) in cases {
            let got = api.call(method, uri, Some(body.clone())).await;
            assert_problem(
                &format!("{l} {method} {uri} {body}"),
                &got,
                status,
                code,
                Some(field),
            );
        }
        let got = api.call("GET", "/api/v1/contacts?owner_id=abc", None).await;
        assert_problem(
            l,
            &got,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_query",
            Some("owner_id"),
        );
        let got = api.call("GET", "/api/v1/contacts?limit=0", None).await;
        assert_problem(
            l,
            &got,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_limit",
            Some("limit"),
        );
        let got = api.call("GET", "/api/v1/contacts?cursor=zzz", None).await;
        assert_problem(
            l,
            &got,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_cursor",
            Some("cursor"),
        );
        let got = api
            .call("GET", "/api/v1/contacts?stage=prospect", None)
            .await;
        assert_problem(
            l,
            &got,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_stage",
            Some("stage"),
        );
        let got = api
            .call("GET", "/api/v1/contacts?created_from=last-week", None)
            .await;
        assert_problem(
            l,
            &got,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_instant",
            Some("created_from"),
        );
    }
}

#[tokio::test]
async fn conflicts_missing_records_and_lifecycle() {
    for api in apis().await {
        let l = api.label();
        let (_, _, c) = api
            .call(
                "POST",
                "/api/v1/contacts",
                Some(json!({"email": "dup@b.io", "stage": "sql"})),
            )
            .await;
        let got = api
            .call(
                "POST",
                "/api/v1/contacts",
                Some(json!({"email": "DUP@b.io"})),
            )
            .await;
        assert_problem(
            l,
            &got,
            StatusCode::CONFLICT,
            "duplicate_email",
            Some("email"),
        );
        let id = c["id"].as_i64().unwrap();
        let got = api
            .call(
                "POST",
                &format!("/api/v1/contacts/{id}/stage"),
                Some(json!({"stage": "mql"})),
            )
            .await;
        assert_problem(
            l,
            &got,
            StatusCode::CONFLICT,
            "backward_stage_move",
            Some("stage"),
        );
        let got = api
            .call(
                "POST",
                &format!("/api/v1/contacts/{id}/stage"),
                Some(json!({"stage": "disqualified"})),
            )
            .await;
        assert_problem(
            l,
            &got,
            StatusCode::UNPROCESSABLE_ENTITY,
            "reason_required",
            Some("reason"),
        );
        let (s, _, ch) = api
            .call(
                "POST",
                &format!("/api/v1/contacts/{id}/stage"),
                Some(json!({"stage": "disqualified", "reason": "competitor"})),
            )
            .await;
        assert_eq!(
            (s, ch["reason_code"].as_str()),
            (StatusCode::CREATED, Some("competitor")),
            "{l}: {ch}"
        );
        for uri in [
            "/api/v1/contacts/424242",
            "/api/v1/deals/0",
            "/api/v1/notes/abc",
            "/api/v1/playbook/versions/99",
        ] {
            let got = api.call("GET", uri, None).await;
            assert_problem(l, &got, StatusCode::NOT_FOUND, "not_found", None);
        }
        let got = api.call("GET", "/api/v1/nothing-here", None).await;
        assert_problem(l, &got, StatusCode::NOT_FOUND, "route_not_found", None);
        let got = api.call("DELETE", "/api/v1/contacts", None).await;
        assert_problem(
            l,
            &got,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            None,
        );
    }
}

#[tokio::test]
async fn malformed_oversized_and_wrong_type_bodies() {
    for api in apis().await {
        let l = api.label();
        let got = api
            .call_as(
                Some(&api.token),
                "POST",
                "/api/v1/contacts",
                Some(("application/json", "{\"email\": ".into())),
            )
            .await;
        assert_problem(l, &got, StatusCode::BAD_REQUEST, "malformed_request", None);
        let big = format!(
            "{{\"email\": \"a@b.io\", \"first_name\": \"{}\"}}",
            "x".repeat(100 * 1024)
        );
        let got = api
            .call_as(
                Some(&api.token),
                "POST",
                "/api/v1/contacts",
                Some(("application/json", big)),
            )
            .await;
        assert_problem(
            l,
            &got,
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            None,
        );
        let got = api
            .call_as(
                Some(&api.token),
                "POST",
                "/api/v1/contacts",
                Some(("text/csv", "email\na@b.io".into())),
            )
            .await;
        assert_problem(
            l,
            &got,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            None,
        );
        // A playbook with a problem names the TOML line and key.
        let (_, _, cur) = api.call("GET", "/api/v1/playbook", None).await;
        let text = cur["toml"].as_str().unwrap();
        let at = text.find("hand_raiser_kinds").unwrap();
        let broken = format!(
            "{}{}",
            &text[..at],
            text[at..].replacen("\"demo_request\"", "\"smoke_signal\"", 1)
        );
        let got = api
            .call_as(
                Some(&api.token),
                "POST",
                "/api/v1/playbook/versions",
                Some(("application/toml", broken.clone())),
            )
            .await;
        assert_problem(
            l,
            &got,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_playbook",
            Some("scoring.hand_raiser_kinds[0]"),
        );
        let line = broken
            .lines()
            .position(|x| x.contains("smoke_signal"))
            .unwrap()
            + 1;
        assert_eq!(got.2["errors"][0]["line"], line, "{l}: {}", got.2);
    }
}

#[tokio::test]
async fn report_parameters_name_their_field() {
    for api in apis().await {
        let l = api.label();
        for (uri, code, field) in [
            (
                "/api/v1/reports/attribution?models=magic",
                "unknown_model",
                "model",
            ),
            (
                "/api/v1/reports/attribution?models=markov&order=5",
                "invalid_order",
                "order",
            ),
            (
                "/api/v1/reports/attribution?models=time_decay&half_life_days=0",
                "invalid_half_life",
                "half_life_days",
            ),
            (
                "/api/v1/reports/attribution?period=2026-Q9",
                "invalid_period",
                "period",
            ),
            (
                "/api/v1/reports/funnel?by=colour",
                "unknown_dimension",
                "by",
            ),
            (
                "/api/v1/reports/velocity?stage=nirvana",
                "unknown_stage",
                "stage",
            ),
            (
                "/api/v1/reports/channel-roi?model=shapely",
                "unknown_model",
                "model",
            ),
            ("/api/v1/reports/goals?period=2026", "no_goal", "period"),
        ] {
            let got = api.call("GET", uri, None).await;
            assert_problem(
                &format!("{l} {uri}"),
                &got,
                StatusCode::UNPROCESSABLE_ENTITY,
                code,
                Some(field),
            );
        }
        let got = api
            .call("GET", "/api/v1/reports/attribution/deals/999", None)
            .await;
        assert_eq!(got.0, StatusCode::NOT_FOUND, "{l}");
        // Empty data: empty reports, not errors or NaN.
        let (s, _, body) = api.call("GET", "/api/v1/reports/attribution", None).await;
        assert_eq!(s, StatusCode::OK, "{l}: {body}");
        assert_eq!(body["conversions"], 0.0);
        let (s, _, body) = api
            .call("GET", "/api/v1/reports/funnel?by=region", None)
            .await;
        assert_eq!(s, StatusCode::OK, "{l}: {body}");
        assert_eq!(body["rows"][0]["reached"], 0);
    }
}
