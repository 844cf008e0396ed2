//! Every table declared with `record!` writes and reads back exactly, field
//! for field, on each backend: a column missing from one of its lists, or
//! two swapped, fails here.

use serde_json::json;
use smarketing_core::{
    ActivityKind, ActivityOutcome, DealStatus, Decision, Instant, Role, Stage, StageCause, Team,
};
use smarketing_store::merges::{ContactMerge, FilledField, MovedRows};
use smarketing_store::{
    Account, Activity, Campaign, Contact, Deal, Handoff, HandoffAssignment, Note, OutOfOffice,
    PlaybookRescore, StageChange, Table, TouchOrigin, Touchpoint, User, repo, testing,
};
use sqlx::AnyConnection;

fn at(ms: i64) -> Instant {
    Instant::from_millis(1_735_689_600_000 + ms).unwrap()
}

/// Inserts `record`, reads it back by id and checks it is what was written.
async fn round_trip<T: Table + Clone + PartialEq + std::fmt::Debug>(
    conn: &mut AnyConnection,
    label: &str,
    record: T,
    with_id: impl Fn(T, i64) -> T,
) -> T {
    let saved = repo::insert(conn, &record).await.unwrap();
    let expected = with_id(record, saved.id());
    assert_eq!(
        saved,
        expected,
        "{label}: {} as returned by insert",
        T::TABLE
    );
    let read: T = repo::get(conn, saved.id()).await.unwrap();
    assert_eq!(read, expected, "{label}: {} as read back", T::TABLE);
    read
}

/// The record with the id the database gave it.
macro_rules! id {
    ($t:ty) => {
        |mut r: $t, id: i64| {
            r.id = id;
            r
        }
    };
}

#[tokio::test]
async fn every_table_round_trips_field_for_field() {
    for db in testing::all().await {
        let l = db.label;
        let mut c = db.store.acquire().await.unwrap();
        let user = round_trip(
            &mut c,
            l,
            User {
                id: 0,
                name: "Ana Rep".into(),
                email: "ana@team.io".into(),
                team: Team::Sales,
                role: Role::Manager,
                created_at: at(1),
                disabled_at: None,
            },
            id!(User),
        )
        .await;
        // A second user, so that two user columns of one row differ.
        let manager = round_trip(
            &mut c,
            l,
            User {
                id: 0,
                name: "Ben Lead".into(),
                email: "ben@team.io".into(),
                team: Team::Sales,
                role: Role::Manager,
                created_at: at(34),
                disabled_at: None,
            },
            id!(User),
        )
        .await;
        let account = round_trip(
            &mut c,
            l,
            Account {
                id: 0,
                external_id: Some("acc-1".into()),
                name: "Acme, Inc.".into(),
                domain: Some("acme.io".into()),
                industry: Some("software".into()),
                employee_count: Some(120),
                company_size: Some("mid_market".into()),
                region: Some("EMEA".into()),
                country: Some("DE".into()),
                owner_id: Some(user.id),
                created_at: at(2),
                updated_at: at(3),
            },
            id!(Account),
        )
        .await;
        let campaign = round_trip(
            &mut c,
            l,
            Campaign {
                id: 0,
                external_id: Some("cmp-1".into()),
                name: "Spring webinar".into(),
                channel: "webinar".into(),
                utm_campaign: Some("spring".into()),
                started_at: at(4),
                ended_at: Some(at(5)),
                spend_minor: 123_456,
                created_at: at(6),
                updated_at: at(7),
            },
            id!(Campaign),
        )
        .await;
        let origin = |n: i64| TouchOrigin {
            touchpoint_id: n,
            occurred_at: at(n),
            channel: format!("channel{n}"),
            utm_source: Some(format!("source{n}")),
            utm_medium: Some(format!("medium{n}")),
            utm_campaign: Some(format!("campaign{n}")),
            utm_term: Some(format!("term{n}")),
            utm_content: Some(format!("content{n}")),
            referrer: Some(format!("https://ref{n}.io/")),
        };
        let contact = |email: &str, merged_into_id| Contact {
            id: 0,
            external_id: Some(format!("ext-{email}")),
            email: email.into(),
            first_name: Some("Chloé".into()),
            last_name: Some("O'Brien".into()),
            job_title: Some("VP Marketing".into()),
            phone: Some("+49 30 1234".into()),
            country: Some("FR".into()),
            account_id: Some(account.id),
            owner_id: Some(user.id),
            persona: Some("marketing_leader".into()),
            stage: Stage::Sal,
            source_channel: Some("webinar".into()),
            fit_score: 45,
            engagement_score: 12.25,
            scored_at: Some(at(8)),
            first_touch: Some(origin(11)),
            last_touch: Some(origin(12)),
            merged_into_id,
            recycled_at: Some(at(36)),
            created_at: at(9),
            updated_at: at(10),
        };
        let person = round_trip(&mut c, l, contact("chloe@acme.io", None), id!(Contact)).await;
        round_trip(
            &mut c,
            l,
            Contact {
                first_touch: None,
                last_touch: None,
                ..contact("merged@acme.io", Some(person.id))
            },
            id!(Contact),
        )
        .await;
        let touch = round_trip(
            &mut c,
            l,
            Touchpoint {
                id: 0,
                external_id: Some("tp-1".into()),
                contact_id: Some(person.id),
                visitor_id: None,
                occurred_at: at(13),
                channel: "paid_social".into(),
                campaign_id: Some(campaign.id),
                kind: Some("ad_click".into()),
                utm_source: Some("linkedin".into()),
                utm_medium: Some("cpc".into()),
                utm_campaign: Some("spring".into()),
                utm_term: Some("crm".into()),
                utm_content: Some("v2".into()),
                referrer: Some("https://www.linkedin.com/".into()),
                properties: json!({"gclid": "abc", "n": 2}),
                created_at: at(14),
            },
            id!(Touchpoint),
        )
        .await;
        let change = round_trip(
            &mut c,
            l,
            StageChange {
                id: 0,
                contact_id: person.id,
                from_stage: Some(Stage::Mql),
                to_stage: Stage::Sal,
                changed_at: at(15),
                actor: format!("user:{}", user.id),
                actor_user_id: Some(user.id),
                cause: StageCause::HandoffAccepted,
                reason_code: Some("bad_fit".into()),
                note: Some("called twice".into()),
                touchpoint_id: Some(touch.id),
            },
            id!(StageChange),
        )
        .await;
        let deal = round_trip(
            &mut c,
            l,
            Deal {
                id: 0,
                external_id: Some("deal-1".into()),
                name: "Acme platform".into(),
                contact_id: Some(person.id),
                account_id: Some(account.id),
                owner_id: Some(user.id),
                amount_minor: 4_200_000,
                pipeline_stage: "negotiation".into(),
                status: DealStatus::Lost,
                lost_reason: Some("price".into()),
                created_at: at(16),
                closed_at: Some(at(17)),
                updated_at: at(18),
            },
            id!(Deal),
        )
        .await;
        round_trip(
            &mut c,
            l,
            Activity {
                id: 0,
                contact_id: person.id,
                deal_id: Some(deal.id),
                user_id: Some(user.id),
                kind: ActivityKind::Meeting,
                outcome: ActivityOutcome::Connect,
                subject: Some("Discovery".into()),
                body: Some("Budget confirmed".into()),
                occurred_at: at(19),
                logged_by: Some(manager.id),
                created_at: at(20),
                updated_at: at(21),
            },
            id!(Activity),
        )
        .await;
        round_trip(
            &mut c,
            l,
            Note {
                id: 0,
                contact_id: Some(person.id),
                account_id: Some(account.id),
                deal_id: Some(deal.id),
                author_id: Some(user.id),
                body: "Champion is the VP".into(),
                created_at: at(22),
                updated_at: at(23),
            },
            id!(Note),
        )
        .await;
        let handoff = round_trip(
            &mut c,
            l,
            Handoff {
                id: 0,
                contact_id: person.id,
                mql_change_id: Some(change.id),
                assignee_id: Some(user.id),
                assigned_at: Some(at(24)),
                route_rule: "round_robin".into(),
                route_reason: "next in turn".into(),
                decision: Some(Decision::Rejected),
                decided_at: Some(at(25)),
                decided_by: Some(user.id),
                reason_code: Some("bad_fit".into()),
                decision_note: Some("student".into()),
                playbook_version: Some(7),
                agreement_version: Some(3),
                closed_at: Some(at(35)),
                closed_cause: Some("manual".into()),
                closed_by: Some(manager.id),
                created_at: at(26),
                updated_at: at(27),
            },
            id!(Handoff),
        )
        .await;
        round_trip(
            &mut c,
            l,
            HandoffAssignment {
                id: 0,
                handoff_id: handoff.id,
                user_id: Some(user.id),
                assigned_at: at(28),
                actor: "system".into(),
                actor_user_id: Some(user.id),
                rule: "account_owner".into(),
                reason: "owns the account".into(),
            },
            id!(HandoffAssignment),
        )
        .await;
        round_trip(
            &mut c,
            l,
            OutOfOffice {
                id: 0,
                user_id: user.id,
                starts_at: at(29),
                ends_at: at(30),
                note: Some("holiday".into()),
                created_at: at(31),
            },
            id!(OutOfOffice),
        )
        .await;
        let mut filled = std::collections::BTreeMap::new();
        filled.insert(
            "phone".to_string(),
            FilledField {
                before: json!(null),
                after: json!("+49 30 1234"),
            },
        );
        round_trip(
            &mut c,
            l,
            ContactMerge {
                id: 0,
                survivor_id: person.id,
                merged_id: person.id + 1,
                cause: "alias".into(),
                event_id: None,
                actor: "system".into(),
                actor_user_id: Some(user.id),
                merged_at: at(32),
                moved: MovedRows {
                    touchpoints: vec![touch.id],
                    identities: vec!["u-1".into()],
                    ..Default::default()
                },
                filled,
                unmerged_at: Some(at(33)),
                unmerged_by: Some("user:1".into()),
            },
            id!(ContactMerge),
        )
        .await;
        round_trip(
            &mut c,
            l,
            PlaybookRescore {
                id: 0,
                playbook_version: 4,
                contacts: 1200,
                done: 700,
                started_at: at(37),
                finished_at: Some(at(38)),
            },
            id!(PlaybookRescore),
        )
        .await;
        // An update writes every column too.
        let moved = Contact {
            stage: Stage::Opportunity,
            first_touch: None,
            last_touch: Some(origin(40)),
            ..person.clone()
        };
        let updated = repo::update(&mut c, person.id, &moved).await.unwrap();
        assert_eq!(updated, moved, "{l}");
        let read: Contact = repo::get(&mut c, person.id).await.unwrap();
        assert_eq!(read, moved, "{l}");
    }
}
