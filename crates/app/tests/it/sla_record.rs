//! An SLA record both teams can trust: each handoff is judged under the
//! terms in force when it was opened, an activity's time is when it was
//! recorded (within a small grace), people log their own work, only sales
//! decides handoffs, every path out of MQL closes the handoff, a late touch
//! keeps the lead, and amounts have bounds.

use crate::{apps, hand_raiser, user};
use smarketing_app::handoffs::*;
use smarketing_app::input::{ActivityInput, DealInput, StageMoveInput, TouchpointInput};
use smarketing_app::listing::Paging;
use smarketing_app::{Actor, App, AppError, Clock};
use smarketing_core::sla::{ClockKind, ClockState};
use smarketing_core::{Instant, Playbook, Stage};
use smarketing_store::{Deal, repo};

fn at(t: &str) -> Instant {
    Instant::parse(t, "t").unwrap()
}

/// The app as seen at another moment, on the same database.
fn seen_at(app: &App, t: &str) -> App {
    App::new(app.store().clone(), Clock::Fixed(at(t)))
}

fn call(occurred_at: Option<Instant>) -> HandoffActivityInput {
    HandoffActivityInput {
        kind: "call".into(),
        outcome: Some("attempt".into()),
        subject: None,
        body: None,
        occurred_at,
    }
}

/// The default playbook with other SLA numbers, stored as a new version.
async fn import_sla(app: &App, first_touch_hours: f64) {
    let mut p = Playbook::default_playbook();
    p.sla.first_touch_working_hours = first_touch_hours;
    app.import_playbook(&p.to_toml(), "Mona", Some("new SLA"), &Actor::system())
        .await
        .unwrap();
}

fn first_touch(clocks: &[smarketing_core::sla::Clock]) -> &smarketing_core::sla::Clock {
    clocks
        .iter()
        .find(|c| c.kind == ClockKind::FirstTouch)
        .expect("a first-touch clock")
}

/// Whether the report's breach ledger holds the first-touch breach of `hid`.
fn first_touch_breached(r: &smarketing_app::sla_reports::SlaReport, hid: i64) -> bool {
    r.breaches
        .iter()
        .any(|b| b.handoff_id == hid && b.clock == ClockKind::FirstTouch)
}

/// `who` rejects handoff `hid` for `reason`.
async fn reject(
    app: &App,
    hid: i64,
    reason: &str,
    who: &smarketing_store::User,
) -> Result<HandoffView, AppError> {
    app.reject_handoff(
        hid,
        RejectInput {
            reason: Some(reason.into()),
            note: None,
        },
        &Actor::user(who),
    )
    .await
}

fn code(e: &AppError) -> (&str, &str) {
    match e {
        AppError::Invalid(i) => (i.code, i.field.as_str()),
        other => panic!("expected a 422, got {other:?}"),
    }
}

#[tokio::test]
async fn a_later_playbook_or_signature_does_not_rewrite_a_past_report() {
    for (db, app) in apps().await {
        let l = db.label;
        let ana = user(&app, "Ana", "sales", "member").await;
        let mona = user(&app, "Mona", "marketing", "manager").await;
        let sam = user(&app, "Sam", "sales", "manager").await;
        let (_, touched) = hand_raiser(&app, "one@prospect.io").await;
        hand_raiser(&app, "two@prospect.io").await;
        // Ana calls the first lead six working hours in: late under 4 h.
        let next_day = seen_at(&app, "2025-06-03T09:00:00Z");
        next_day
            .log_handoff_activity(touched, call(None), &Actor::user(&ana))
            .await
            .unwrap();
        let week = seen_at(&app, "2025-06-09T12:00:00Z");
        let before = serde_json::to_value(week.sla_report("2025-06").await.unwrap()).unwrap();
        assert!(
            before["sales_total"]["breaches"].as_u64() >= Some(2),
            "{l}: {}",
            before["sales_total"]
        );
        // A generous playbook, stored and then signed by both leads, is
        // for handoffs opened from then on: June's report keeps its answer.
        import_sla(&week, 400.0).await;
        let report = serde_json::to_value(week.sla_report("2025-06").await.unwrap()).unwrap();
        assert_eq!(report, before, "{l}: an unsigned playbook rewrote June");
        let latest = week.agreements().await.unwrap().last().unwrap().version;
        week.sign_agreement(latest, &mona).await.unwrap();
        week.sign_agreement(latest, &sam).await.unwrap();
        let mut report = serde_json::to_value(week.sla_report("2025-06").await.unwrap()).unwrap();
        // Only the list of versions signed during the period may change.
        report["agreement_versions"] = before["agreement_versions"].clone();
        assert_eq!(report, before, "{l}: a signature rewrote June");
    }
}

#[tokio::test]
async fn a_pending_version_binds_handoffs_only_once_both_leads_signed() {
    for (db, app) in apps().await {
        let l = db.label;
        user(&app, "Ana", "sales", "member").await;
        let mona = user(&app, "Mona", "marketing", "manager").await;
        let sam = user(&app, "Sam", "sales", "manager").await;
        let v1 = app.agreements().await.unwrap().last().unwrap().version;
        app.sign_agreement(v1, &mona).await.unwrap();
        app.sign_agreement(v1, &sam).await.unwrap();
        let (_, old) = hand_raiser(&app, "old@prospect.io").await;
        import_sla(&app, 2.0).await;
        let list = app.agreements().await.unwrap();
        let v2 = list.last().unwrap();
        assert_eq!((v2.version, v2.status.as_str()), (v1 + 1, "pending"), "{l}");
        let budget = |v: &HandoffView| first_touch(&v.clocks).budget_seconds;
        let (_, pending) = hand_raiser(&app, "pending@prospect.io").await;
        let card = app.handoff_card(pending).await.unwrap();
        assert_eq!(first_touch(&card.clocks).budget_seconds, 4 * 3600, "{l}");
        assert_eq!(card.handoff.agreement_version, Some(v1), "{l}");
        app.sign_agreement(v2.version, &mona).await.unwrap();
        let (_, half) = hand_raiser(&app, "half@prospect.io").await;
        assert_eq!(
            first_touch(&app.handoff_card(half).await.unwrap().clocks).budget_seconds,
            4 * 3600,
            "{l}: one signature is not enough"
        );
        app.sign_agreement(v2.version, &sam).await.unwrap();
        let (_, new) = hand_raiser(&app, "new@prospect.io").await;
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
        let of = |id: i64| open.items.iter().find(|v| v.handoff.id == id).unwrap();
        assert_eq!(budget(of(old)), 4 * 3600, "{l}");
        assert_eq!(budget(of(pending)), 4 * 3600, "{l}");
        assert_eq!(budget(of(new)), 2 * 3600, "{l}");
        assert_eq!(of(new).handoff.agreement_version, Some(v2.version), "{l}");
    }
}

#[tokio::test]
async fn a_backdated_call_is_refused_and_the_breach_stays() {
    for (db, app) in apps().await {
        let l = db.label;
        let ana = user(&app, "Ana", "sales", "member").await;
        let (_, hid) = hand_raiser(&app, "late@prospect.io").await;
        let due = first_touch(&app.handoff_card(hid).await.unwrap().clocks)
            .due_at
            .unwrap();
        // The next morning Ana logs a call "an hour before the deadline".
        let next_day = seen_at(&app, "2025-06-03T09:00:00Z");
        let claimed = Instant::from(due - jiff::SignedDuration::from_hours(1));
        let e = next_day
            .log_handoff_activity(hid, call(Some(claimed)), &Actor::user(&ana))
            .await
            .unwrap_err();
        assert_eq!(code(&e), ("backdated", "occurred_at"), "{l}");
        let e = next_day
            .create_activity(
                ActivityInput {
                    contact_id: app.handoff_card(hid).await.unwrap().contact.id,
                    kind: "call".into(),
                    occurred_at: Some(claimed),
                    ..Default::default()
                },
                &Actor::user(&ana),
            )
            .await
            .unwrap_err();
        assert_eq!(code(&e), ("backdated", "occurred_at"), "{l}");
        // Ten minutes back is within the grace; the record keeps both times.
        let stated = at("2025-06-03T08:50:00Z");
        let a = next_day
            .log_handoff_activity(hid, call(Some(stated)), &Actor::user(&ana))
            .await
            .unwrap();
        assert_eq!(
            (a.occurred_at, a.created_at, a.logged_by, a.user_id),
            (
                stated,
                at("2025-06-03T09:00:00Z"),
                Some(ana.id),
                Some(ana.id)
            ),
            "{l}"
        );
        let card = next_day.handoff_card(hid).await.unwrap();
        assert_eq!(first_touch(&card.clocks).state, ClockState::Breached, "{l}");
        let r = next_day.sla_report("2025-06").await.unwrap();
        assert!(
            first_touch_breached(&r, hid),
            "{l}: the breach left the ledger"
        );
    }
}

#[tokio::test]
async fn activities_are_logged_as_yourself_or_by_a_manager_of_the_team() {
    for (db, app) in apps().await {
        let l = db.label;
        let ana = user(&app, "Ana", "sales", "member").await;
        let ben = user(&app, "Ben", "sales", "member").await;
        let sam = user(&app, "Sam", "sales", "manager").await;
        let mona = user(&app, "Mona", "marketing", "manager").await;
        let (contact_id, _) = hand_raiser(&app, "who@prospect.io").await;
        let for_ben = ActivityInput {
            contact_id,
            user_id: Some(ben.id),
            kind: "call".into(),
            ..Default::default()
        };
        for someone_else in [&ana, &mona] {
            let e = app
                .create_activity(for_ben.clone(), &Actor::user(someone_else))
                .await
                .unwrap_err();
            assert!(matches!(e, AppError::Forbidden(_)), "{l}: {e:?}");
        }
        let a = app
            .create_activity(for_ben.clone(), &Actor::user(&sam))
            .await
            .unwrap();
        assert_eq!(
            (a.user_id, a.logged_by),
            (Some(ben.id), Some(sam.id)),
            "{l}"
        );
        let own = app
            .create_activity(
                ActivityInput {
                    user_id: None,
                    ..for_ben
                },
                &Actor::user(&ana),
            )
            .await
            .unwrap();
        assert_eq!(
            (own.user_id, own.logged_by),
            (Some(ana.id), Some(ana.id)),
            "{l}"
        );
    }
}

#[tokio::test]
async fn only_sales_decides_a_handoff() {
    for (db, app) in apps().await {
        let l = db.label;
        let ana = user(&app, "Ana", "sales", "member").await;
        let mona = user(&app, "Mona", "marketing", "manager").await;
        let sam = user(&app, "Sam", "sales", "manager").await;
        let (_, hid) = hand_raiser(&app, "decide@prospect.io").await;
        assert_eq!(
            app.handoff_card(hid).await.unwrap().handoff.assignee_id,
            Some(ana.id)
        );
        let e = app
            .accept_handoff(hid, AcceptInput::default(), &Actor::user(&mona))
            .await
            .unwrap_err();
        match &e {
            AppError::Forbidden(m) => assert!(
                m.contains("the assigned rep, a sales lead or an admin"),
                "{l}: {m}"
            ),
            other => panic!("{l}: {other:?}"),
        }
        let e = app
            .reassign_handoff(
                hid,
                ReassignInput {
                    user_id: ana.id,
                    reason: "mine".into(),
                },
                &Actor::user(&mona),
            )
            .await
            .unwrap_err();
        assert!(matches!(e, AppError::Forbidden(_)), "{l}: {e:?}");
        app.accept_handoff(hid, AcceptInput::default(), &Actor::user(&sam))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_stage_moved_by_hand_closes_the_handoff_and_stops_its_clocks() {
    for (db, app) in apps().await {
        let l = db.label;
        let ana = user(&app, "Ana", "sales", "member").await;
        let (contact_id, hid) = hand_raiser(&app, "moved@prospect.io").await;
        let (won_contact, won_hid) = hand_raiser(&app, "won@prospect.io").await;
        app.move_stage(
            contact_id,
            StageMoveInput {
                stage: "disqualified".into(),
                reason: Some("competitor".into()),
                note: None,
            },
            &Actor::user(&ana),
        )
        .await
        .unwrap();
        // A deal won straight away makes the other a customer.
        app.create_deal(
            DealInput {
                name: "Fast".into(),
                contact_id: Some(won_contact),
                amount_minor: 100_000,
                status: Some("won".into()),
                ..Default::default()
            },
            &Actor::user(&ana),
        )
        .await
        .unwrap();
        let week = seen_at(&app, "2025-06-09T12:00:00Z");
        for (id, cause) in [(hid, "manual"), (won_hid, "deal_won")] {
            let card = week.handoff_card(id).await.unwrap();
            let h = &card.handoff;
            assert_eq!(
                (
                    h.closed_cause.as_deref(),
                    h.closed_by,
                    h.decision.map(|d| d.as_str())
                ),
                (Some(cause), Some(ana.id), None),
                "{l}"
            );
            assert!(
                card.clocks.iter().all(|c| c.state != ClockState::Breached),
                "{l}: the clocks of a closed handoff ran on: {:?}",
                card.clocks
            );
            let e = week
                .reject_handoff(
                    id,
                    RejectInput {
                        reason: Some("not_ready".into()),
                        note: None,
                    },
                    &Actor::user(&ana),
                )
                .await
                .unwrap_err();
            assert_eq!(code(&e), ("handoff_closed", "decision"), "{l}");
        }
        assert_eq!(
            week.contact(won_contact).await.unwrap().stage,
            Stage::Customer,
            "{l}: a late rejection must not recycle a customer"
        );
        let open = week
            .handoffs(
                &HandoffFilter {
                    decision: Some("open".into()),
                    ..Default::default()
                },
                &Paging::default(),
            )
            .await
            .unwrap();
        assert!(open.items.is_empty(), "{l}");
        let closed = week
            .handoffs(
                &HandoffFilter {
                    decision: Some("closed".into()),
                    ..Default::default()
                },
                &Paging::default(),
            )
            .await
            .unwrap();
        assert_eq!(closed.items.len(), 2, "{l}");
        // Nothing is escalated for them any more.
        let run = week.run_due_escalations(100).await.unwrap();
        assert_eq!(run.fired, 0, "{l}: {run:?}");
    }
}

#[tokio::test]
async fn a_late_touch_keeps_the_lead_and_the_breach() {
    for (db, app) in apps().await {
        let l = db.label;
        let ana = user(&app, "Ana", "sales", "member").await;
        user(&app, "Ben", "sales", "member").await;
        let (_, hid) = hand_raiser(&app, "grace@prospect.io").await;
        let card = app.handoff_card(hid).await.unwrap();
        assert_eq!(card.handoff.assignee_id, Some(ana.id));
        let due = first_touch(&card.clocks).due_at.unwrap();
        // Ana calls 20 minutes after the deadline, well inside the 4 h grace.
        let late = Instant::from(due + jiff::SignedDuration::from_mins(20));
        let then = App::new(app.store().clone(), Clock::Fixed(late));
        then.run_due_escalations(100).await.unwrap();
        then.log_handoff_activity(hid, call(None), &Actor::user(&ana))
            .await
            .unwrap();
        let week = seen_at(&app, "2025-06-09T12:00:00Z");
        week.run_due_escalations(100).await.unwrap();
        let card = week.handoff_card(hid).await.unwrap();
        assert_eq!(
            card.handoff.assignee_id,
            Some(ana.id),
            "{l}: a touched lead was reassigned"
        );
        assert_eq!(card.assignments.len(), 1, "{l}");
        let r = week.sla_report("2025-06").await.unwrap();
        assert!(
            first_touch_breached(&r, hid),
            "{l}: the late touch erased the breach"
        );
    }
}

#[tokio::test]
async fn amounts_are_bounded_and_sums_of_stored_ones_cannot_fail_a_report() {
    for (db, app) in apps().await {
        let l = db.label;
        let (contact_id, _) = hand_raiser(&app, "rich@prospect.io").await;
        let huge = DealInput {
            name: "Huge".into(),
            contact_id: Some(contact_id),
            amount_minor: i64::MAX,
            status: Some("won".into()),
            ..Default::default()
        };
        let e = app
            .create_deal(huge.clone(), &Actor::system())
            .await
            .unwrap_err();
        assert_eq!(code(&e), ("amount_too_large", "amount_minor"), "{l}");
        // Rows written before the bound (or by hand) still add up.
        let mut conn = app.store().acquire().await.unwrap();
        for name in ["a", "b", "c"] {
            repo::insert(
                &mut conn,
                &Deal {
                    id: 0,
                    external_id: None,
                    name: name.into(),
                    contact_id: Some(contact_id),
                    account_id: None,
                    owner_id: None,
                    amount_minor: i64::MAX,
                    pipeline_stage: "discovery".into(),
                    status: smarketing_core::DealStatus::Won,
                    lost_reason: None,
                    created_at: at("2025-06-02T08:00:00Z"),
                    closed_at: Some(at("2025-06-02T08:00:00Z")),
                    updated_at: at("2025-06-02T08:00:00Z"),
                },
            )
            .await
            .unwrap();
        }
        drop(conn);
        app.set_goal(
            "2025-06",
            smarketing_app::goals::GoalInput {
                revenue_minor: 100_000_000,
                marketing_share: None,
                segment: None,
            },
            &Actor::system(),
        )
        .await
        .unwrap();
        let actual = app.goal_actual("2025-06", None).await.unwrap();
        assert_eq!((actual.won_deals, actual.won_minor), (3, i64::MAX), "{l}");
        let e = app
            .set_goal(
                "2025-07",
                smarketing_app::goals::GoalInput {
                    revenue_minor: i64::MAX,
                    marketing_share: None,
                    segment: None,
                },
                &Actor::system(),
            )
            .await
            .unwrap_err();
        assert_eq!(code(&e), ("amount_too_large", "revenue_minor"), "{l}");
        // Two campaigns of one channel whose stored spends overflow a sum.
        let mut conn = app.store().acquire().await.unwrap();
        for name in ["Big one", "Big two"] {
            repo::insert(
                &mut conn,
                &smarketing_store::Campaign {
                    id: 0,
                    external_id: None,
                    name: name.into(),
                    channel: "paid_search".into(),
                    utm_campaign: None,
                    started_at: at("2025-06-01T00:00:00Z"),
                    ended_at: None,
                    spend_minor: i64::MAX,
                    created_at: at("2025-06-01T00:00:00Z"),
                    updated_at: at("2025-06-01T00:00:00Z"),
                },
            )
            .await
            .unwrap();
        }
        drop(conn);
        let roi = app.roi_report(&Default::default()).await.unwrap();
        assert_eq!(roi.total.spend_minor, i64::MAX, "{l}: the sum saturates");
    }
}

/// One random event of the loop, as the generator picks it.
#[derive(Debug)]
enum Event {
    NewLead,
    Touch(usize),
    Accept(usize),
    Reject(usize, &'static str),
    Move(usize, &'static str),
    Merge(usize, usize),
    Deal(usize, &'static str),
    PlaybookChange(f64),
    Sign,
}

/// Random sequences of handoff events (assign, touch, accept, reject, stage
/// move, merge, deal won or lost, playbook change, signature), each step at
/// a later moment. After every step: at most one open handoff per contact,
/// and an open handoff only on a live MQL (never on a side or customer
/// stage). A playbook change or a signature leaves a past period's report
/// as it was. Refusals along the way are expected (a move the lifecycle
/// forbids, a merge of two open handoffs); a failure prints the seed and
/// the events so far.
#[tokio::test]
async fn random_sequences_of_handoff_events_keep_the_loop_closed() {
    use rand::{Rng, SeedableRng};
    use std::collections::HashMap;
    const STEPS: usize = 40;
    let seeds: Vec<u64> = match std::env::var("SMARKETING_LOOP_SEEDS") {
        Ok(n) => (0..n.parse().unwrap()).collect(),
        Err(_) => (0..4).collect(),
    };
    for seed in seeds {
        for (db, app) in apps().await {
            let l = db.label;
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let reps = [
                user(&app, "Ana", "sales", "member").await,
                user(&app, "Ben", "sales", "member").await,
            ];
            let mona = user(&app, "Mona", "marketing", "manager").await;
            let sam = user(&app, "Sam", "sales", "manager").await;
            let mut contacts: Vec<i64> = Vec::new();
            let mut log: Vec<Event> = Vec::new();
            let mut t = crate::now();
            for step in 0..STEPS {
                t = Instant::from_millis(t.millis() + rng.random_range(1..240) * 60_000).unwrap();
                let now = App::new(app.store().clone(), Clock::Fixed(t));
                let pick =
                    |rng: &mut rand_chacha::ChaCha8Rng| rng.random_range(0..contacts.len().max(1));
                let event = match (contacts.is_empty(), rng.random_range(0..12)) {
                    (true, _) | (_, 0..=2) => Event::NewLead,
                    (_, 3) => Event::Touch(pick(&mut rng)),
                    (_, 4) => Event::Accept(pick(&mut rng)),
                    (_, 5) => Event::Reject(
                        pick(&mut rng),
                        ["not_ready", "bad_fit"][rng.random_range(0..2)],
                    ),
                    (_, 6) => Event::Move(
                        pick(&mut rng),
                        ["lead", "sal", "sql", "disqualified", "recycled", "customer"]
                            [rng.random_range(0..6)],
                    ),
                    (_, 7) => Event::Merge(pick(&mut rng), pick(&mut rng)),
                    (_, 8) => Event::Deal(
                        pick(&mut rng),
                        ["won", "lost", "open"][rng.random_range(0..3)],
                    ),
                    (_, 9) => Event::PlaybookChange(rng.random_range(1..12) as f64),
                    (_, 10) => Event::Sign,
                    _ => Event::Touch(pick(&mut rng)),
                };
                let open_of = |c: i64| {
                    let now = &now;
                    async move {
                        now.handoffs(
                            &HandoffFilter {
                                decision: Some("open".into()),
                                contact_id: Some(c),
                                ..Default::default()
                            },
                            &Paging::default(),
                        )
                        .await
                        .unwrap()
                        .items
                        .first()
                        .map(|v| v.handoff.clone())
                    }
                };
                let report_before = match event {
                    Event::PlaybookChange(_) | Event::Sign => Some(
                        serde_json::to_value(now.sla_report("2025-06").await.unwrap()).unwrap(),
                    ),
                    _ => None,
                };
                // Each event's outcome is allowed to be a refusal; only the
                // invariants below are checked.
                let _ = match &event {
                    Event::NewLead => {
                        let email = format!("p{step}@prospect.io");
                        let out = now
                            .record_touchpoints(
                                vec![TouchpointInput {
                                    email: Some(email),
                                    kind: Some("demo_request".into()),
                                    ..Default::default()
                                }],
                                &Actor::system(),
                            )
                            .await
                            .unwrap();
                        contacts.push(out[0].touchpoint.contact_id.unwrap());
                        Ok(())
                    }
                    Event::Touch(i) => match open_of(contacts[*i]).await {
                        Some(h) => {
                            let rep = reps.iter().find(|r| Some(r.id) == h.assignee_id);
                            let actor = rep.map(Actor::user).unwrap_or_else(|| Actor::user(&sam));
                            now.log_handoff_activity(h.id, call(None), &actor)
                                .await
                                .map(drop)
                        }
                        None => Ok(()),
                    },
                    Event::Accept(i) => match open_of(contacts[*i]).await {
                        Some(h) => now
                            .accept_handoff(h.id, AcceptInput::default(), &Actor::user(&sam))
                            .await
                            .map(drop),
                        None => Ok(()),
                    },
                    Event::Reject(i, reason) => match open_of(contacts[*i]).await {
                        Some(h) => now
                            .reject_handoff(
                                h.id,
                                RejectInput {
                                    reason: Some(reason.to_string()),
                                    note: None,
                                },
                                &Actor::user(&sam),
                            )
                            .await
                            .map(drop),
                        None => Ok(()),
                    },
                    Event::Move(i, stage) => now
                        .move_stage(
                            contacts[*i],
                            StageMoveInput {
                                stage: stage.to_string(),
                                reason: Some("not_ready".into()),
                                note: None,
                            },
                            &Actor::user(&sam),
                        )
                        .await
                        .map(drop),
                    Event::Merge(i, j) => now
                        .merge_contacts(
                            &smarketing_app::merges::MergeInput {
                                contact_ids: [contacts[*i], contacts[*j]],
                            },
                            &Actor::user(&sam),
                        )
                        .await
                        .map(drop),
                    Event::Deal(i, status) => now
                        .create_deal(
                            DealInput {
                                name: format!("Deal {step}"),
                                contact_id: Some(contacts[*i]),
                                amount_minor: 500_000,
                                status: Some(status.to_string()),
                                lost_reason: (*status == "lost").then(|| "price".into()),
                                ..Default::default()
                            },
                            &Actor::user(&sam),
                        )
                        .await
                        .map(drop),
                    Event::PlaybookChange(hours) => {
                        import_sla(&now, *hours).await;
                        Ok(())
                    }
                    Event::Sign => {
                        let latest = now.agreements().await.unwrap().last().unwrap().clone();
                        if latest.marketing_signoff.is_none() {
                            now.sign_agreement(latest.version, &mona).await.unwrap();
                        }
                        if latest.sales_signoff.is_none() {
                            now.sign_agreement(latest.version, &sam).await.unwrap();
                        }
                        Ok(())
                    }
                };
                log.push(event);
                let why = || format!("{l}, seed {seed}, after {log:?}");
                if let Some(before) = report_before {
                    let mut after =
                        serde_json::to_value(now.sla_report("2025-06").await.unwrap()).unwrap();
                    after["agreement_versions"] = before["agreement_versions"].clone();
                    assert_eq!(after, before, "a past report changed: {}", why());
                }
                let mut conn = app.store().acquire().await.unwrap();
                let handoffs: Vec<smarketing_store::Handoff> = repo::all(&mut conn).await.unwrap();
                let mut open_per_contact: HashMap<i64, usize> = HashMap::new();
                for h in handoffs.iter().filter(|h| h.is_open()) {
                    *open_per_contact.entry(h.contact_id).or_default() += 1;
                    let c: smarketing_store::Contact =
                        repo::get(&mut conn, h.contact_id).await.unwrap();
                    assert!(
                        c.stage == Stage::Mql && c.merged_into_id.is_none(),
                        "open handoff {} on a contact in {} (merged into {:?}): {}",
                        h.id,
                        c.stage,
                        c.merged_into_id,
                        why()
                    );
                }
                assert!(
                    open_per_contact.values().all(|n| *n == 1),
                    "two open handoffs on one contact: {}",
                    why()
                );
            }
        }
    }
}

/// A well-fitting contact (an executive at an enterprise account) that
/// raises its hand now: its id and handoff.
async fn good_fit_hand_raiser(app: &App, email: &str) -> (i64, i64) {
    let account = app
        .create_account(
            smarketing_app::input::AccountInput {
                name: format!("Acme {email}"),
                domain: Some(format!("{}.example", email.replace('@', "-"))),
                company_size: Some("enterprise".into()),
                ..Default::default()
            },
            &smarketing_app::Actor::system(),
        )
        .await
        .unwrap();
    app.create_contact(
        smarketing_app::input::ContactInput {
            email: email.into(),
            persona: Some("executive".into()),
            account_id: Some(account.id),
            ..Default::default()
        },
        &Actor::system(),
    )
    .await
    .unwrap();
    hand_raiser(app, email).await
}

async fn touches(app: &App, email: &str, kinds: &[&str]) {
    app.record_touchpoints(
        kinds
            .iter()
            .map(|k| TouchpointInput {
                email: Some(email.into()),
                kind: Some(k.to_string()),
                ..Default::default()
            })
            .collect(),
        &Actor::system(),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_recycled_lead_is_nurtured_before_it_qualifies_again() {
    for (db, app) in apps().await {
        let l = db.label;
        let ana = user(&app, "Ana", "sales", "member").await;
        let (cid, hid) = good_fit_hand_raiser(&app, "nurture@prospect.io").await;
        reject(&app, hid, "not_ready", &ana).await.unwrap();
        // Browsing a second later: engagement restarts, nothing qualifies.
        let soon = seen_at(&app, "2025-06-02T09:00:01Z");
        touches(
            &soon,
            "nurture@prospect.io",
            &["webinar_attended", "meeting_booked"],
        )
        .await;
        let c = soon.contact(cid).await.unwrap();
        assert_eq!(c.stage, Stage::Recycled, "{l}: re-qualified at once");
        let card = soon.score(cid, None).await.unwrap();
        assert!(
            card.engagement < 45.0,
            "{l}: the old demo request still counts: {card:?}"
        );
        // The same engagement after the 30 days of nurture qualifies it.
        let later = seen_at(&app, "2025-07-03T09:00:00Z");
        touches(
            &later,
            "nurture@prospect.io",
            &["webinar_attended", "meeting_booked"],
        )
        .await;
        assert_eq!(later.contact(cid).await.unwrap().stage, Stage::Mql, "{l}");
        // A new hand-raiser does not wait for the nurture to end.
        let (other, h2) = hand_raiser(&app, "eager@prospect.io").await;
        reject(&app, h2, "not_ready", &ana).await.unwrap();
        let next_week = seen_at(&app, "2025-06-09T09:00:00Z");
        touches(&next_week, "eager@prospect.io", &["demo_request"]).await;
        assert_eq!(
            next_week.contact(other).await.unwrap().stage,
            Stage::Mql,
            "{l}"
        );
    }
}

#[tokio::test]
async fn a_lost_deal_recycles_or_disqualifies_by_the_lost_reason() {
    for (db, app) in apps().await {
        let l = db.label;
        let ana = user(&app, "Ana", "sales", "member").await;
        let (price, _) = hand_raiser(&app, "price@prospect.io").await;
        let (rival, _) = hand_raiser(&app, "rival@prospect.io").await;
        for (contact_id, reason) in [(price, "Price"), (rival, "Competitor")] {
            // An open deal makes the contact an opportunity; losing it ends that.
            let deal = app
                .create_deal(
                    DealInput {
                        name: format!("Deal {reason}"),
                        contact_id: Some(contact_id),
                        amount_minor: 200_000,
                        ..Default::default()
                    },
                    &Actor::user(&ana),
                )
                .await
                .unwrap();
            assert_eq!(
                app.contact(contact_id).await.unwrap().stage,
                Stage::Opportunity,
                "{l}"
            );
            let lost = seen_at(&app, "2025-06-20T09:00:00Z");
            lost.update_deal(
                deal.id,
                serde_json::from_value(
                    serde_json::json!({"status": "lost", "lost_reason": reason}),
                )
                .unwrap(),
                &Actor::user(&ana),
            )
            .await
            .unwrap();
            // Editing the lost deal later moves nothing.
            lost.update_deal(
                deal.id,
                serde_json::from_value(serde_json::json!({"name": "Renamed"})).unwrap(),
                &Actor::user(&ana),
            )
            .await
            .unwrap();
        }
        assert_eq!(
            app.contact(price).await.unwrap().stage,
            Stage::Recycled,
            "{l}"
        );
        assert_eq!(
            app.contact(rival).await.unwrap().stage,
            Stage::Disqualified,
            "{l}"
        );
        let timeline = app.timeline(price).await.unwrap();
        let text = serde_json::to_string(&timeline).unwrap();
        assert!(text.contains("\"deal_lost\""), "{l}: {text}");
    }
}

#[tokio::test]
async fn an_sal_without_follow_up_goes_back_to_marketing() {
    for (db, app) in apps().await {
        let l = db.label;
        let ana = user(&app, "Ana", "sales", "member").await;
        let mona = user(&app, "Mona", "marketing", "manager").await;
        let (cid, hid) = hand_raiser(&app, "dropped@prospect.io").await;
        app.accept_handoff(hid, AcceptInput::default(), &Actor::user(&ana))
            .await
            .unwrap();
        let a_week_on = seen_at(&app, "2025-06-09T09:00:00Z");
        assert_eq!(a_week_on.return_unfollowed_sals().await.unwrap(), 0, "{l}");
        // Ten working days after the acceptance, nothing happened.
        let later = seen_at(&app, "2025-06-17T09:00:00Z");
        assert_eq!(later.return_unfollowed_sals().await.unwrap(), 1, "{l}");
        assert_eq!(
            later.return_unfollowed_sals().await.unwrap(),
            0,
            "{l}: twice"
        );
        let c = later.contact(cid).await.unwrap();
        assert_eq!(c.stage, Stage::Recycled, "{l}");
        let feed = later.notifications(&mona, true).await.unwrap();
        assert!(
            feed.iter().any(|n| n.kind == "lead.no_follow_up"),
            "{l}: marketing was not told: {feed:?}"
        );
        let text = serde_json::to_string(&later.timeline(cid).await.unwrap()).unwrap();
        assert!(text.contains("\"no_follow_up\""), "{l}: {text}");
    }
}

/// A contact by title, persona left to the rules unless `persona` is given.
async fn titled(app: &App, email: &str, title: &str, persona: Option<&str>) -> i64 {
    app.create_contact(
        smarketing_app::input::ContactInput {
            email: email.into(),
            job_title: Some(title.into()),
            persona: persona.map(str::to_string),
            ..Default::default()
        },
        &Actor::system(),
    )
    .await
    .unwrap()
    .id
}

#[tokio::test]
async fn a_new_playbook_or_a_new_title_rematches_personas_and_rescores() {
    for (db, app) in apps().await {
        let l = db.label;
        let dev = titled(&app, "dev@acme.io", "Solutions Architect", None).await;
        let chosen = titled(
            &app,
            "chosen@acme.io",
            "Solutions Architect",
            Some("executive"),
        )
        .await;
        assert_eq!(
            app.contact(dev).await.unwrap().persona.as_deref(),
            Some("developer")
        );
        // Editing the title re-matches a persona the rules chose.
        let moved = app
            .update_contact(
                dev,
                serde_json::from_value(serde_json::json!({"job_title": "Head of IT"})).unwrap(),
                &smarketing_app::Actor::system(),
            )
            .await
            .unwrap();
        assert_eq!(moved.persona.as_deref(), Some("it_manager"), "{l}");
        // A playbook where architects are IT managers, worth 40 fit points.
        let mut p = Playbook::default_playbook();
        let it = p
            .personas
            .iter_mut()
            .find(|x| x.id == "it_manager")
            .unwrap();
        let mut rule = it.when[0].clone();
        rule.value =
            serde_json::from_value(serde_json::json!(["head of it", "architect"])).unwrap();
        it.when = vec![rule];
        let rule = p
            .scoring
            .fit_rules
            .iter_mut()
            .find(|r| r.id == "persona_it_manager")
            .unwrap();
        rule.points = 40;
        app.import_playbook(&p.to_toml(), "Mona", None, &Actor::system())
            .await
            .unwrap();
        let other = titled(&app, "arch@acme.io", "Cloud Architect", None).await;
        // The new contact was matched by the new rules; rescore the rest.
        assert_eq!(
            app.contact(other).await.unwrap().persona.as_deref(),
            Some("it_manager")
        );
        let run = app
            .rescore_contacts(&smarketing_app::import::Quiet)
            .await
            .unwrap();
        assert_eq!((run.done, run.contacts), (3, 3), "{l}");
        assert!(run.finished_at.is_some(), "{l}");
        let status = app.rescore_status().await.unwrap().unwrap();
        assert_eq!(status.playbook_version, run.playbook_version, "{l}");
        let moved = app.contact(dev).await.unwrap();
        assert_eq!(
            (moved.persona.as_deref(), moved.fit_score),
            (Some("it_manager"), 40),
            "{l}"
        );
        let kept = app.contact(chosen).await.unwrap();
        assert_eq!(
            kept.persona.as_deref(),
            Some("executive"),
            "{l}: a persona set by hand stays"
        );
    }
}

/// Sales' clocks answer only to sales' work: marketing cannot move a lead
/// waiting on sales out of MQL, its calls do not stop a rep's clock, and an
/// attempt cannot become a connect after the grace.
#[tokio::test]
async fn only_sales_work_moves_a_handoffs_lead_or_its_clocks() {
    for (db, app) in apps().await {
        let l = db.label;
        let ana = user(&app, "Ana", "sales", "member").await;
        let mona = user(&app, "Mona", "marketing", "manager").await;
        let (cid, hid) = hand_raiser(&app, "guarded@prospect.io").await;
        let e = app
            .move_stage(
                cid,
                StageMoveInput {
                    stage: "disqualified".into(),
                    reason: Some("bad_fit".into()),
                    note: None,
                },
                &Actor::user(&mona),
            )
            .await
            .unwrap_err();
        assert!(matches!(e, AppError::Forbidden(_)), "{l}: {e:?}");
        // Marketing's call is recorded, but the rep's clock keeps running.
        app.create_activity(
            ActivityInput {
                contact_id: cid,
                kind: "call".into(),
                ..Default::default()
            },
            &Actor::user(&mona),
        )
        .await
        .unwrap();
        let card = app.handoff_card(hid).await.unwrap();
        assert!(first_touch(&card.clocks).met_at.is_none(), "{l}");
        // Ana's attempt, turned into a connect the next day: refused.
        let a = app
            .log_handoff_activity(hid, call(None), &Actor::user(&ana))
            .await
            .unwrap();
        let next_day = seen_at(&app, "2025-06-03T09:00:00Z");
        let e = next_day
            .update_activity(
                a.id,
                serde_json::from_value(serde_json::json!({"outcome": "connect"})).unwrap(),
                &Actor::user(&ana),
            )
            .await
            .unwrap_err();
        assert_eq!(code(&e), ("activity_settled", "outcome"), "{l}");
    }
}
