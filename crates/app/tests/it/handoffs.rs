//! The closed loop: an MQL is routed to a rep, worked against SLA clocks in
//! working time, and accepted or rejected with a reason.

use crate::{apps, hand_raiser, hand_raiser_at, user};
use smarketing_app::Actor;
use smarketing_app::handoffs::*;
use smarketing_app::input::{AccountInput, ContactInput, TouchpointInput};
use smarketing_app::listing::Paging;
use smarketing_app::routing::*;
use smarketing_app::{App, AppError, Clock};
use smarketing_core::sla::{ClockKind, ClockState};
use smarketing_core::{Instant, Stage};
use smarketing_store::User;

#[tokio::test]
async fn routed_worked_and_decided() {
    for (db, app) in apps().await {
        let l = db.label;
        let ana = user(&app, "Ana", "sales", "member").await;
        let ben = user(&app, "Ben", "sales", "member").await;
        let mona = user(&app, "Mona", "marketing", "member").await;
        let sam = user(&app, "Sam", "sales", "manager").await;
        // Ana is away today: the lead goes to Ben, and the card says why.
        app.add_out_of_office(
            ana.id,
            OutOfOfficeInput {
                starts_at: Instant::parse("2025-06-01T00:00:00Z", "t").unwrap(),
                ends_at: Instant::parse("2025-06-03T00:00:00Z", "t").unwrap(),
                note: None,
            },
            &Actor::user(&ana),
        )
        .await
        .unwrap();
        let (contact_id, hid) = hand_raiser(&app, "lead1@prospect.io").await;
        let card = app.handoff_card(hid).await.unwrap();
        assert_eq!(
            card.handoff.assignee_id,
            Some(ben.id),
            "{l}: {}",
            card.handoff.route_reason
        );
        assert!(
            card.handoff
                .route_reason
                .starts_with("round-robin; skipped Ana: out of office"),
            "{l}: {}",
            card.handoff.route_reason
        );
        assert_eq!(card.contact.owner_id, Some(ben.id));
        assert!(
            card.score
                .contributions
                .iter()
                .any(|c| c.rule == "demo_request")
        );
        assert_eq!(card.recent_touches.len(), 1);
        assert!(
            card.clocks.iter().all(|c| c.state == ClockState::OnTrack),
            "{l}: {:?}",
            card.clocks
        );

        // Only Ben (or a manager) may work it; rejecting needs a reason.
        let forbidden = app
            .accept_handoff(hid, AcceptInput::default(), &Actor::user(&mona))
            .await
            .unwrap_err();
        assert!(matches!(forbidden, AppError::Forbidden(_)));
        let no_reason = app
            .reject_handoff(hid, RejectInput::default(), &Actor::user(&ben))
            .await
            .unwrap_err();
        assert!(
            matches!(no_reason, AppError::Invalid(ref i) if i.code == "reason_required" && i.field == "reason")
        );
        let unknown = app
            .reject_handoff(
                hid,
                RejectInput {
                    reason: Some("vibes".into()),
                    note: None,
                },
                &Actor::user(&ben),
            )
            .await
            .unwrap_err();
        assert!(matches!(unknown, AppError::Invalid(ref i) if i.code == "unknown_reason"));

        // A call meets the first-touch clock; accepting makes the contact a SAL.
        app.log_handoff_activity(
            hid,
            HandoffActivityInput {
                kind: "call".into(),
                outcome: Some("connect".into()),
                subject: None,
                body: None,
                occurred_at: None,
            },
            &Actor::user(&ben),
        )
        .await
        .unwrap();
        let done = app
            .accept_handoff(
                hid,
                AcceptInput {
                    note: Some("Budget confirmed".into()),
                },
                &Actor::user(&ben),
            )
            .await
            .unwrap();
        assert_eq!(done.handoff.decision.map(|d| d.as_str()), Some("accepted"));
        assert!(
            done.clocks.iter().all(|c| c.state == ClockState::Met),
            "{l}: {:?}",
            done.clocks
        );
        assert_eq!(app.contact(contact_id).await.unwrap().stage, Stage::Sal);
        let again = app
            .accept_handoff(hid, AcceptInput::default(), &Actor::user(&ben))
            .await
            .unwrap_err();
        assert!(matches!(again, AppError::Invalid(ref i) if i.code == "handoff_closed"));

        // A second lead: reassigning needs a manager and a rep as target.
        let (c2, h2) = hand_raiser(&app, "lead2@prospect.io").await;
        let by_rep = app
            .reassign_handoff(
                h2,
                ReassignInput {
                    user_id: ben.id,
                    reason: "x".into(),
                },
                &Actor::user(&ben),
            )
            .await
            .unwrap_err();
        assert!(matches!(by_rep, AppError::Forbidden(_)));
        let to_marketer = app
            .reassign_handoff(
                h2,
                ReassignInput {
                    user_id: mona.id,
                    reason: "x".into(),
                },
                &Actor::user(&sam),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(to_marketer, AppError::Invalid(ref i) if i.code == "not_a_rep" && i.field == "user_id")
        );
        let current = app
            .handoff_card(h2)
            .await
            .unwrap()
            .handoff
            .assignee_id
            .unwrap();
        let other = if current == ben.id { sam.id } else { ben.id };
        let moved = app
            .reassign_handoff(
                h2,
                ReassignInput {
                    user_id: other,
                    reason: "Speaks German".into(),
                },
                &Actor::user(&sam),
            )
            .await
            .unwrap();
        assert_eq!(moved.handoff.assignee_id, Some(other));
        assert_eq!(app.handoff_card(h2).await.unwrap().assignments.len(), 2);

        // Rejected as not ready: recycled; a later hand-raise is a new handoff.
        let reviewer = User {
            id: other,
            ..ben.clone()
        };
        app.reject_handoff(
            h2,
            RejectInput {
                reason: Some("not_ready".into()),
                note: Some("Next quarter".into()),
            },
            &Actor::user(&reviewer),
        )
        .await
        .unwrap();
        assert_eq!(app.contact(c2).await.unwrap().stage, Stage::Recycled);
        let (_, h3) = hand_raiser_at(&app, "lead2@prospect.io", Some("2025-06-02T09:30:00Z")).await;
        assert_ne!(h3, h2, "{l}");
        let open = app
            .handoffs(
                &HandoffFilter {
                    decision: Some("open".into()),
                    ..Default::default()
                },
                &Paging::default(),
            )
            .await
            .unwrap();
        assert_eq!(
            open.items.iter().map(|v| v.handoff.id).collect::<Vec<_>>(),
            [h3],
            "{l}"
        );
    }
}

#[tokio::test]
async fn account_owners_get_their_leads_and_clocks_breach_in_working_time() {
    for (db, app) in apps().await {
        let l = db.label;
        let _ana = user(&app, "Ana", "sales", "member").await;
        let ben = user(&app, "Ben", "sales", "member").await;
        let acc = app
            .create_account(
                AccountInput {
                    name: "Owned".into(),
                    domain: Some("owned.io".into()),
                    owner_id: Some(ben.id),
                    ..Default::default()
                },
                &smarketing_app::Actor::system(),
            )
            .await
            .unwrap();
        let c = app
            .create_contact(
                ContactInput {
                    email: "cto@owned.io".into(),
                    account_id: Some(acc.id),
                    ..Default::default()
                },
                &Actor::system(),
            )
            .await
            .unwrap();
        let (_, hid) = {
            let out = app
                .record_touchpoints(
                    vec![TouchpointInput {
                        contact_id: Some(c.id),
                        kind: Some("pricing_form".into()),
                        ..Default::default()
                    }],
                    &Actor::system(),
                )
                .await
                .unwrap();
            (c.id, out[0].handoff_id.unwrap())
        };
        let card = app.handoff_card(hid).await.unwrap();
        assert_eq!(
            (card.handoff.assignee_id, card.handoff.route_rule.as_str()),
            (Some(ben.id), "account_owner"),
            "{l}"
        );

        // Monday 11:00 Berlin + 4 working hours (lunch 12:30-13:30) = 16:00 Berlin = 14:00Z.
        let first = card
            .clocks
            .iter()
            .find(|c| c.kind == ClockKind::FirstTouch)
            .unwrap();
        assert_eq!(
            first.due_at.map(|t| t.to_string()).as_deref(),
            Some("2025-06-02T14:00:00Z"),
            "{l}"
        );
        // Seen from Tuesday, nobody called: breached, with the events recorded once.
        let later = App::new(
            app.store().clone(),
            Clock::Fixed(Instant::parse("2025-06-03T09:00:00Z", "t").unwrap()),
        );
        let breached = later
            .handoffs(
                &HandoffFilter {
                    clock_state: Some("breached".into()),
                    ..Default::default()
                },
                &Paging::default(),
            )
            .await
            .unwrap();
        assert_eq!(breached.items.len(), 1, "{l}");
        let card = later.handoff_card(hid).await.unwrap();
        let states: Vec<(&str, &str)> = card
            .sla_events
            .iter()
            .filter(|e| e.clock == "first_touch")
            .map(|e| (e.clock.as_str(), e.state.as_str()))
            .collect();
        assert_eq!(
            states,
            [
                ("first_touch", "on_track"),
                ("first_touch", "at_risk"),
                ("first_touch", "breached")
            ],
            "{l}"
        );
        let again = later.handoff_card(hid).await.unwrap();
        assert_eq!(
            again.sla_events.len(),
            card.sla_events.len(),
            "events are recorded once"
        );
    }
}

#[tokio::test]
async fn the_sla_report_of_a_period() {
    for (db, app) in apps().await {
        let l = db.label;
        let ana = user(&app, "Ana", "sales", "member").await;
        let (_, h1) = hand_raiser(&app, "one@prospect.io").await;
        let (_, h2) = hand_raiser(&app, "two@prospect.io").await;
        let (_, _h3) = hand_raiser(&app, "three@prospect.io").await;
        let rep = Actor::user(&ana);
        app.log_handoff_activity(
            h1,
            HandoffActivityInput {
                kind: "call".into(),
                outcome: Some("connect".into()),
                subject: None,
                body: None,
                occurred_at: None,
            },
            &rep,
        )
        .await
        .unwrap();
        app.accept_handoff(h1, AcceptInput::default(), &rep)
            .await
            .unwrap();
        app.reject_handoff(
            h2,
            RejectInput {
                reason: Some("competitor".into()),
                note: None,
            },
            &rep,
        )
        .await
        .unwrap();
        // Seen a week later: the third lead breached its first-touch clock.
        let later = App::new(
            app.store().clone(),
            Clock::Fixed(Instant::parse("2025-06-09T12:00:00Z", "t").unwrap()),
        );
        let r = later.sla_report("2025-06").await.unwrap();
        assert_eq!(r.sales_total.handoffs, 3, "{l}");
        assert_eq!(r.sales.len(), 1);
        assert_eq!(r.sales[0].name, "Ana");
        assert_eq!(
            r.sales_total.first_touch_p50_hours,
            Some(0.0),
            "{l}: touched at once"
        );
        assert_eq!(r.marketing.mqls, 3);
        assert_eq!((r.marketing.accepted, r.marketing.rejected), (1, 1));
        assert_eq!(r.marketing.acceptance_rate, Some(0.5));
        assert_eq!(r.marketing.rejections_by_channel.len(), 1);
        assert_eq!(r.marketing.rejections_by_channel[0].reason, "competitor");
        let ft: Vec<_> = r
            .breaches
            .iter()
            .filter(|b| b.clock == ClockKind::FirstTouch)
            .collect();
        assert_eq!(ft.len(), 1, "{l}: {:?}", r.breaches);
        assert_eq!(ft[0].contact_email, "three@prospect.io");
        assert!(
            ft[0].late_working_hours > 20.0,
            "{l}: {}",
            ft[0].late_working_hours
        );
        assert!(r.sales_total.within_sla.unwrap() < 1.0);
        assert!(r.agreement_versions.is_empty(), "nobody signed");
        let bad = later.sla_report("June").await.unwrap_err();
        assert!(matches!(bad, AppError::Invalid(ref i) if i.code == "invalid_period"));
    }
}

/// `sla status` (CLI and API): each open handoff's clocks counted by clock
/// and state; a decided handoff is no longer counted.
#[tokio::test]
async fn sla_status_counts_the_clocks_of_open_handoffs() {
    for (db, app) in apps().await {
        let l = db.label;
        let ana = user(&app, "Ana", "sales", "member").await;
        let empty = app.sla_status().await.unwrap();
        assert_eq!((empty.open_handoffs, empty.clocks.len()), (0, 0), "{l}");
        let (_, first) = hand_raiser(&app, "one@prospect.io").await;
        hand_raiser(&app, "two@prospect.io").await;
        let status = app.sla_status().await.unwrap();
        assert_eq!(status.open_handoffs, 2, "{l}");
        for kind in [
            ClockKind::FirstTouch,
            ClockKind::Attempts,
            ClockKind::Decision,
        ] {
            let n: u64 = status
                .clocks
                .iter()
                .filter(|c| c.clock == kind)
                .map(|c| c.handoffs)
                .sum();
            assert_eq!(n, 2, "{l}: {kind:?} in {:?}", status.clocks);
        }
        app.accept_handoff(first, AcceptInput { note: None }, &Actor::user(&ana))
            .await
            .unwrap();
        assert_eq!(app.sla_status().await.unwrap().open_handoffs, 1, "{l}");
    }
}
