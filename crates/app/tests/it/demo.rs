//! The demo generator makes a believable, reproducible company.

use crate::apps;
use smarketing_app::demo::DemoSize;
use smarketing_app::import::Quiet;

#[tokio::test]
async fn one_seed_one_company_with_a_real_funnel() {
    let size = DemoSize {
        accounts: 150,
        contacts: 1_500,
        touches_per_contact: 12.0,
        months: 12,
    };
    let mut firsts = Vec::new();
    for (db, app) in apps().await {
        let (summary, admin) = app.generate_demo(7, size, &Quiet).await.unwrap();
        assert!(summary.generated);
        assert_eq!(admin.role, smarketing_core::Role::Admin);
        assert_eq!(summary.contacts, 1_500, "{}", db.label);
        assert!(summary.touchpoints > 10_000, "{summary:?}");
        assert!(summary.deals > 10 && summary.deals < 300, "{summary:?}");
        // Set up as a company using it would be: goals for its quarters and
        // year, an agreement in force and a newer one waiting to be signed.
        let quarter = app.goal_actual("2025-Q2", None).await.unwrap();
        assert!(quarter.revenue_goal_minor > 0, "{}", db.label);
        assert!(app.goal_actual("2025", None).await.is_ok(), "{}", db.label);
        let agreements = app.agreements().await.unwrap();
        let status: Vec<&str> = agreements.iter().map(|a| a.status.as_str()).collect();
        assert_eq!(status, ["in_force", "pending"], "{}", db.label);
        // Every MQL of the story was handed to a rep, and most were decided.
        assert!(summary.handoffs > 100, "{summary:?}");
        let r = app.sla_report("2025").await.unwrap();
        assert!(
            r.marketing.accepted > 0 && r.marketing.rejected > 0,
            "{}: {:?}",
            db.label,
            r.marketing
        );
        let mqls = app
            .contacts(
                &smarketing_app::contacts::ContactFilter {
                    stage: Some("mql".into()),
                    ..Default::default()
                },
                &Default::default(),
            )
            .await
            .unwrap();
        assert!(!mqls.items.is_empty());
        // A second run reuses the data.
        let (again, _) = app.generate_demo(7, size, &Quiet).await.unwrap();
        assert!(!again.generated);
        assert_eq!(again.contacts, summary.contacts);
        firsts.push((
            summary.touchpoints,
            summary.stage_changes,
            app.contact(1).await.unwrap().email,
        ));
    }
    // Both backends got the very same company from the same seed.
    firsts.dedup();
    assert_eq!(firsts.len(), 1, "{firsts:?}");
}
