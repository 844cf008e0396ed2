//! Handoff routes over HTTP: the queue, the card, accept and reject.

use crate::apis;
use axum::http::StatusCode;
use serde_json::json;

#[tokio::test]
async fn the_rep_works_the_queue() {
    for api in apis().await {
        let l = api.label();
        // The member token belongs to Rob, the only sales rep: he gets the lead.
        let (s, _, out) = api
            .call(
                "POST",
                "/api/v1/touchpoints",
                Some(json!({"email": "buyer@prospect.io", "kind": "demo_request"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{l}: {out}");
        let hid = out["recorded"][0]["handoff_id"]
            .as_i64()
            .expect("a handoff");
        let (s, _, queue) = api
            .call_as(
                Some(&api.member_token),
                "GET",
                "/api/v1/handoffs?decision=open",
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{l}: {queue}");
        assert_eq!(queue["items"][0]["handoff"]["id"], hid);
        assert_eq!(queue["items"][0]["clocks"].as_array().unwrap().len(), 3);
        let (s, _, card) = api
            .call("GET", &format!("/api/v1/handoffs/{hid}"), None)
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(card["contact"]["email"], "buyer@prospect.io");
        assert!(
            card["score"]["contributions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["rule"] == "demo_request"),
            "{l}: {card}"
        );

        let (s, _, p) = api
            .member(
                "POST",
                &format!("/api/v1/handoffs/{hid}/reject"),
                json!({"note": "meh"}),
            )
            .await;
        assert_eq!(
            (s, p["code"].as_str(), p["field"].as_str()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("reason_required"),
                Some("reason")
            ),
            "{l}: {p}"
        );
        let (s, _, a) = api
            .member(
                "POST",
                &format!("/api/v1/handoffs/{hid}/activities"),
                json!({"kind": "call", "outcome": "connect"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{l}: {a}");
        let (s, _, v) = api
            .member(
                "POST",
                &format!("/api/v1/handoffs/{hid}/reject"),
                json!({"reason": "competitor"}),
            )
            .await;
        assert_eq!(
            (s, v["handoff"]["decision"].as_str()),
            (StatusCode::OK, Some("rejected")),
            "{l}: {v}"
        );
        let cid = card["contact"]["id"].as_i64().unwrap();
        let (_, _, c) = api
            .call("GET", &format!("/api/v1/contacts/{cid}"), None)
            .await;
        assert_eq!(c["stage"], "disqualified", "{l}");
        // A member may not reassign.
        let (s, _, _) = api
            .member(
                "POST",
                &format!("/api/v1/handoffs/{hid}/reassign"),
                json!({"user_id": 1, "reason": "x"}),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (_, _, by_team) = api.call("GET", "/api/v1/handoffs?team=sales", None).await;
        assert_eq!(by_team["items"].as_array().unwrap().len(), 1, "{l}");
        let (_, _, none) = api
            .call("GET", "/api/v1/handoffs?team=marketing", None)
            .await;
        assert!(none["items"].as_array().unwrap().is_empty(), "{l}");
        let (s, _, p) = api.call("GET", "/api/v1/handoffs?team=legal", None).await;
        assert_eq!(
            (s, p["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("team")),
            "{l}"
        );
        let (s, _, p) = api
            .call("GET", "/api/v1/handoffs?clock_state=late", None)
            .await;
        assert_eq!(
            (s, p["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("clock_state")),
            "{l}"
        );
        let (s, _, p) = api
            .call(
                "PUT",
                "/api/v1/users/2/rep-settings",
                Some(json!({"weight": 2, "calendar": {"time_zone": "Nowhere/Land", "weekly": {}}})),
            )
            .await;
        assert_eq!(
            (s, p["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("calendar.time_zone")),
            "{l}: {p}"
        );
        let (s, _, r) = api
            .call(
                "PUT",
                "/api/v1/users/2/rep-settings",
                Some(json!({"weight": 2, "capacity": 10})),
            )
            .await;
        assert_eq!(
            (s, r["weight"].as_i64()),
            (StatusCode::OK, Some(2)),
            "{l}: {r}"
        );
    }
}
