//! The served OpenAPI document matches the routes.

use crate::apis;
use axum::http::StatusCode;

#[tokio::test]
async fn the_document_lists_every_route_and_only_those() {
    let api = apis().await.remove(0);
    let (s, _, doc) = api.call_as(None, "GET", "/api/v1/openapi.json", None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    // Every problem code is listed, with its status, from core's table.
    let codes = doc["components"]["schemas"]["ProblemCode"]["enum"]
        .as_array()
        .expect("a ProblemCode schema");
    assert_eq!(codes.len(), smarketing_core::problem::PROBLEM_CODES.len());
    let about = doc["components"]["schemas"]["ProblemCode"]["description"]
        .as_str()
        .unwrap();
    assert!(about.contains("`no_goal` (422)") && about.contains("`stage_unchanged` (409)"));
    let paths = doc["paths"].as_object().unwrap();
    let expected = [
        ("/api/v1/accounts", vec!["get", "post"]),
        ("/api/v1/accounts/{id}", vec!["get", "patch"]),
        ("/api/v1/contacts", vec!["get", "post"]),
        ("/api/v1/contacts/{id}", vec!["get", "patch"]),
        ("/api/v1/contacts/{id}/timeline", vec!["get"]),
        ("/api/v1/contacts/{id}/score", vec!["get"]),
        ("/api/v1/contacts/{id}/stage", vec!["post"]),
        ("/api/v1/contacts/{id}/merges", vec!["get"]),
        ("/api/v1/contact-merges", vec!["post"]),
        ("/api/v1/contact-merges/{id}/undo", vec!["post"]),
        ("/api/v1/campaigns", vec!["get", "post"]),
        ("/api/v1/campaigns/{id}", vec!["get", "patch"]),
        ("/api/v1/deals", vec!["get", "post"]),
        ("/api/v1/deals/{id}", vec!["get", "patch"]),
        ("/api/v1/activities", vec!["get", "post"]),
        ("/api/v1/activities/{id}", vec!["get", "patch"]),
        ("/api/v1/notes", vec!["get", "post"]),
        ("/api/v1/notes/{id}", vec!["get", "patch"]),
        ("/api/v1/touchpoints", vec!["post"]),
        ("/api/v1/playbook", vec!["get"]),
        ("/api/v1/playbook/versions", vec!["get", "post"]),
        ("/api/v1/playbook/versions/{version}", vec!["get"]),
        ("/api/v1/playbook/diff", vec!["get"]),
        ("/api/v1/playbook/rescore", vec!["get"]),
        ("/api/v1/users", vec!["get", "post"]),
        ("/api/v1/me", vec!["get"]),
        ("/api/v1/audit", vec!["get"]),
        ("/api/v1/contacts/{id}/export", vec!["get"]),
        ("/api/v1/contacts/{id}/erasure", vec!["post"]),
        ("/api/v1/contacts/{id}/consents", vec!["get", "post"]),
        ("/api/v1/users/{id}/disable", vec!["post"]),
        ("/api/v1/users/{id}/password-reset", vec!["post"]),
        ("/api/v1/session", vec!["delete", "get", "post"]),
        ("/api/v1/session/password", vec!["post"]),
        ("/api/v1/password-reset", vec!["post"]),
        ("/api/v1/users/{id}/rep-settings", vec!["put"]),
        ("/api/v1/users/{id}/out-of-office", vec!["post"]),
        ("/api/v1/handoffs", vec!["get"]),
        ("/api/v1/handoffs/{id}", vec!["get"]),
        ("/api/v1/handoffs/{id}/accept", vec!["post"]),
        ("/api/v1/handoffs/{id}/reject", vec!["post"]),
        ("/api/v1/handoffs/{id}/reassign", vec!["post"]),
        ("/api/v1/handoffs/{id}/activities", vec!["post"]),
        ("/api/v1/goals/{period}", vec!["get", "put"]),
        ("/api/v1/goals/{period}/reverse-funnel", vec!["get"]),
        ("/api/v1/sla/agreements", vec!["get"]),
        ("/api/v1/sla/status", vec!["get"]),
        ("/api/v1/sla/agreements/{version}/sign", vec!["post"]),
        ("/api/v1/webhooks", vec!["get", "post"]),
        ("/api/v1/webhooks/{id}", vec!["delete", "patch"]),
        ("/api/v1/webhooks/{id}/test", vec!["post"]),
        ("/api/v1/webhooks/{id}/deliveries", vec!["get"]),
        ("/api/v1/notifications", vec!["get"]),
        ("/api/v1/notifications/{id}/read", vec!["post"]),
        ("/api/v1/reports/sla", vec!["get"]),
        ("/api/v1/reports/funnel", vec!["get"]),
        ("/api/v1/reports/velocity", vec!["get"]),
        ("/api/v1/reports/attribution", vec!["get"]),
        ("/api/v1/reports/attribution/deals/{id}", vec!["get"]),
        ("/api/v1/reports/channel-roi", vec!["get"]),
        ("/api/v1/reports/goals", vec!["get"]),
    ];
    assert_eq!(
        paths.len(),
        expected.len(),
        "{:?}",
        paths.keys().collect::<Vec<_>>()
    );
    for (path, methods) in expected {
        let item = paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} missing from the document"));
        let mut got: Vec<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .filter(|k| ["get", "post", "patch", "put", "delete"].contains(k))
            .collect();
        got.sort_unstable();
        assert_eq!(got, methods, "{path}");
        // Every documented route answers (401 without a token, never 404/405).
        for m in &methods {
            let concrete = path
                .replace("{id}", "1")
                .replace("{version}", "1")
                .replace("{period}", "2026-Q4");
            let (s, _, _) = api.call_as(None, &m.to_uppercase(), &concrete, None).await;
            // Signing in and using a reset link need no credentials: the
            // document says so, and they answer the empty body as such.
            let public =
                *m == "post" && ["/api/v1/session", "/api/v1/password-reset"].contains(&path);
            if public {
                assert_eq!(
                    doc["paths"][path]["post"]["security"],
                    serde_json::json!([{}]),
                    "{path}"
                );
                assert!(
                    s.is_client_error() && ![401, 404, 405].contains(&s.as_u16()),
                    "{m} {concrete}: {s}"
                );
            } else {
                assert_eq!(s, StatusCode::UNAUTHORIZED, "{m} {concrete}");
            }
        }
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert_eq!(
        doc["components"]["securitySchemes"]["session"]["in"],
        "cookie"
    );
    assert!(doc["components"]["schemas"]["Problem"].is_object());
}
