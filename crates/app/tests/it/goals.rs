//! The reverse funnel on the sample company, pacing, and the SLA agreement
//! signed by both teams.

use crate::{apps, testdata};
use smarketing_app::Actor;
use smarketing_app::AppError;
use smarketing_app::goals::{GoalInput, ReverseFunnelQuery};
use smarketing_app::import::{ImportOptions, Quiet};
use smarketing_app::input::UserInput;
use smarketing_core::reverse_funnel::reverse_funnel;

#[tokio::test]
async fn the_goal_becomes_an_mql_commitment() {
    for (db, app) in apps().await {
        let l = db.label;
        app.import_dir(&testdata("sample"), ImportOptions::default(), &Quiet)
            .await
            .unwrap();
        let none = app
            .reverse_funnel("2025-Q1", &ReverseFunnelQuery::default())
            .await
            .unwrap_err();
        assert!(
            matches!(none, AppError::Invalid(ref i) if i.code == "no_goal"),
            "{l}: {none:?}"
        );
        let manager = app
            .create_user(
                UserInput {
                    name: "Mia".into(),
                    email: "mia@x.io".into(),
                    team: "marketing".into(),
                    role: "manager".into(),
                },
                &smarketing_app::Actor::system(),
            )
            .await
            .unwrap();
        app.set_goal(
            "2026-Q1",
            GoalInput {
                revenue_minor: 120_000_000,
                marketing_share: Some(0.8),
                segment: None,
            },
            &Actor::user(&manager),
        )
        .await
        .unwrap();
        // Seen from mid-January 2026, two weeks into the quarter.
        let app = smarketing_app::App::new(
            app.store().clone(),
            smarketing_app::Clock::Fixed(
                smarketing_core::Instant::parse("2026-01-15T12:00:00Z", "t").unwrap(),
            ),
        );
        let q = ReverseFunnelQuery {
            trailing_days: Some(1500),
            ..Default::default()
        };
        let r = app.reverse_funnel("2026-Q1", &q).await.unwrap();
        assert_eq!(r.rates_source, "measured");
        // Over a window holding the whole sample, the flow ratios are the sample's.
        assert!(
            (r.rates.lead_to_mql - 954.0 / 3000.0).abs() < 1e-12,
            "{l}: {:?}",
            r.rates
        );
        assert!((r.rates.opportunity_to_won - 127.0 / 326.0).abs() < 1e-12);
        assert_eq!(r.average_deal_minor, 5_780_812 * 100 / 127);
        let expected = reverse_funnel(120_000_000, 0.8, r.average_deal_minor, r.rates).unwrap();
        assert_eq!(r.funnel, expected);
        assert_eq!(r.mql_commitment, expected.mqls);
        assert_eq!(r.agreement_in_force, None, "nobody has signed yet");
        // Two weeks in: no MQLs yet against a pro-rata share of the commitment.
        assert_eq!(r.mql_pacing.delivered, 0);
        assert!(
            r.mql_pacing.expected_to_date > 0.0
                && r.mql_pacing.expected_to_date < expected.mqls as f64 / 4.0,
            "{l}: {:?}",
            r.mql_pacing
        );
        assert_eq!(r.mql_pacing.pace, Some(0.0));

        let set = ReverseFunnelQuery {
            goal_minor: Some(300),
            average_deal_minor: Some(100),
            lead_to_mql: Some(0.1),
            mql_to_sql: Some(0.5),
            sql_to_opportunity: Some(0.5),
            opportunity_to_won: Some(0.5),
            marketing_share: Some(1.0),
            ..Default::default()
        };
        let r = app.reverse_funnel("2026-Q1", &set).await.unwrap();
        assert_eq!(r.rates_source, "set");
        assert_eq!((r.funnel.won, r.funnel.mqls, r.funnel.leads), (3, 24, 240));
        let bad = app.reverse_funnel("2025-Q5", &set).await.unwrap_err();
        assert!(matches!(bad, AppError::Invalid(ref i) if i.code == "invalid_period"));
        let zero = ReverseFunnelQuery {
            mql_to_sql: Some(0.0),
            ..set.clone()
        };
        assert!(
            matches!(app.reverse_funnel("2026-Q1", &zero).await.unwrap_err(), AppError::Invalid(ref i) if i.field == "mql_to_sql")
        );
    }
}

#[tokio::test]
async fn the_agreement_needs_both_leads() {
    for (db, app) in apps().await {
        let l = db.label;
        let mk = |name: &str, team: &str, role: &str| UserInput {
            name: name.into(),
            email: format!("{}@x.io", name.to_lowercase()),
            team: team.into(),
            role: role.into(),
        };
        let mona = app
            .create_user(
                mk("Mona", "marketing", "manager"),
                &smarketing_app::Actor::system(),
            )
            .await
            .unwrap();
        let sam = app
            .create_user(
                mk("Sam", "sales", "manager"),
                &smarketing_app::Actor::system(),
            )
            .await
            .unwrap();
        let rob = app
            .create_user(
                mk("Rob", "sales", "member"),
                &smarketing_app::Actor::system(),
            )
            .await
            .unwrap();
        let list = app.agreements().await.unwrap();
        assert_eq!(list.len(), 1, "{l}");
        assert_eq!(list[0].status, "pending");
        assert!(
            list[0]
                .summary
                .starts_with("Sales will make a first touch on every MQL within 4 working hours")
        );
        assert!(matches!(
            app.sign_agreement(1, &rob).await.unwrap_err(),
            AppError::Forbidden(_)
        ));
        assert_eq!(
            app.sign_agreement(1, &mona).await.unwrap().status,
            "pending"
        );
        assert!(matches!(
            app.sign_agreement(1, &mona).await.unwrap_err(),
            AppError::Conflict { .. }
        ));
        assert_eq!(
            app.sign_agreement(1, &sam).await.unwrap().status,
            "in_force"
        );
        assert_eq!(app.agreement_in_force().await.unwrap(), Some(1));

        // Tighter numbers: version 2 waits for both, version 1 stays in force.
        let (_, p) = app.playbook().await.unwrap();
        let toml = p.to_toml().replace(
            "first_touch_working_hours = 4.0",
            "first_touch_working_hours = 2.0",
        );
        app.import_playbook(
            &toml,
            "Mona",
            Some("faster first touch"),
            &smarketing_app::Actor::system(),
        )
        .await
        .unwrap();
        let list = app.agreements().await.unwrap();
        assert_eq!(
            list.iter().map(|a| a.status.as_str()).collect::<Vec<_>>(),
            ["in_force", "pending"],
            "{l}"
        );
        assert!(list[1].summary.contains("within 2 working hours"));
        let old = app.sign_agreement(1, &mona).await.unwrap_err();
        assert!(
            matches!(old, AppError::Invalid(ref i) if i.code == "superseded"),
            "{old:?}"
        );
        // A playbook change that leaves the SLA alone adds no version.
        let toml2 = toml.replace("name = \"Default playbook\"", "name = \"Renamed playbook\"");
        app.import_playbook(&toml2, "Mona", None, &smarketing_app::Actor::system())
            .await
            .unwrap();
        assert_eq!(app.agreements().await.unwrap().len(), 2);
    }
}

/// Counts of the sample's contacts in `region` that reached each stage, from
/// the CSV itself (stages are never skipped, so "reached" is "current stage
/// or later").
fn sample_reach(region: &str) -> [f64; 5] {
    let order = ["lead", "mql", "sql", "opportunity", "customer"];
    let mut reach = [0.0; 5];
    let mut r = csv::Reader::from_path(testdata("sample").join("contacts.csv")).unwrap();
    for row in r.records() {
        let row = row.unwrap();
        if &row[8] != region {
            continue;
        }
        let at = order.iter().position(|s| *s == &row[11]).unwrap();
        for n in reach.iter_mut().take(at + 1) {
            *n += 1.0;
        }
    }
    reach
}

#[tokio::test]
async fn a_segment_has_its_own_goal_and_funnel() {
    for (db, app) in apps().await {
        let l = db.label;
        app.import_dir(&testdata("sample"), ImportOptions::default(), &Quiet)
            .await
            .unwrap();
        let goal = |revenue_minor, segment: Option<&str>| GoalInput {
            revenue_minor,
            marketing_share: None,
            segment: segment.map(str::to_string),
        };
        app.set_goal("2026-Q1", goal(100_000_000, None), &Actor::system())
            .await
            .unwrap();
        app.set_goal(
            "2026-Q1",
            goal(40_000_000, Some("region=EMEA")),
            &Actor::system(),
        )
        .await
        .unwrap();
        // Setting again replaces the segment's goal, not the company's.
        app.set_goal(
            "2026-Q1",
            goal(30_000_000, Some("region = EMEA")),
            &Actor::system(),
        )
        .await
        .unwrap();
        let goals = app.goals("2026-Q1").await.unwrap();
        let listed: Vec<_> = goals
            .iter()
            .map(|g| (g.segment.as_str(), g.revenue_minor))
            .collect();
        assert_eq!(
            listed,
            [("", 100_000_000), ("region=EMEA", 30_000_000)],
            "{l}"
        );

        let q = |segment: Option<&str>| ReverseFunnelQuery {
            trailing_days: Some(1500),
            segment: segment.map(str::to_string),
            ..Default::default()
        };
        let app = smarketing_app::App::new(
            app.store().clone(),
            smarketing_app::Clock::Fixed(
                smarketing_core::Instant::parse("2026-01-15T12:00:00Z", "t").unwrap(),
            ),
        );
        let emea = app
            .reverse_funnel("2026-Q1", &q(Some("region=EMEA")))
            .await
            .unwrap();
        assert_eq!(emea.segment.as_deref(), Some("region=EMEA"));
        assert_eq!(emea.revenue_goal_minor, 30_000_000);
        let n = sample_reach("EMEA");
        assert!(
            (emea.rates.lead_to_mql - n[1] / n[0]).abs() < 1e-12,
            "{l}: {:?} vs {n:?}",
            emea.rates
        );
        assert!((emea.rates.opportunity_to_won - n[4] / n[3]).abs() < 1e-12);
        let all = app.reverse_funnel("2026-Q1", &q(None)).await.unwrap();
        assert_eq!(all.segment, None);
        assert_eq!(all.revenue_goal_minor, 100_000_000);
        assert_ne!(
            all.rates, emea.rates,
            "{l}: the segment's rates are its own"
        );

        // Goal against actual: 2025 is over by mid-January 2026.
        app.set_goal("2025", goal(200_000_000, None), &Actor::system())
            .await
            .unwrap();
        let g = app.goal_actual("2025", None).await.unwrap();
        assert_eq!((g.won_deals, g.won_minor), (16, 111_966_500), "{l}");
        assert_eq!(g.pacing.delivered, 111_966_500);
        assert!((g.pacing.expected_to_date - 200_000_000.0).abs() < 1e-6);
        assert!((g.pacing.projection.unwrap() - 111_966_500.0).abs() < 1e-3);
        let none_set = app.goal_actual("2024", None).await.unwrap_err();
        assert!(matches!(none_set, AppError::Invalid(ref i) if i.code == "no_goal"));

        let none = app
            .reverse_funnel("2026-Q1", &q(Some("region=APAC")))
            .await
            .unwrap_err();
        assert!(
            matches!(none, AppError::Invalid(ref i) if i.code == "no_goal" && i.message.contains("region=APAC")),
            "{l}: {none:?}"
        );
        for bad in ["region", "colour=red", "region="] {
            let e = app
                .set_goal("2026-Q1", goal(1, Some(bad)), &Actor::system())
                .await
                .unwrap_err();
            assert!(
                matches!(e, AppError::Invalid(ref i) if i.field == "segment"),
                "{l}: {bad}: {e:?}"
            );
        }
    }
}
