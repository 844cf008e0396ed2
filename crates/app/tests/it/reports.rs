//! The history reports on the sample imported into each database: the four
//! expected files reproduced, the cache keyed by the data version, bad
//! parameters refused, and empty data giving empty reports.

use crate::{apps, testdata};
use smarketing_app::AppError;
use smarketing_app::import::{ImportOptions, Quiet};
use smarketing_app::reports::{AttributionParams, CohortQuery};
use smarketing_core::analytics::expected::{ExpectedFiles, check};
use std::sync::Arc;

/// The sample's total campaign spend (whole units) and one won deal.
const SAMPLE_SPEND: i64 = 158_798;
const WON_DEAL: i64 = 5;

fn expected_files() -> ExpectedFiles {
    let read = |f: &str| std::fs::read_to_string(testdata("sample/expected").join(f)).unwrap();
    ExpectedFiles {
        funnel_by_source: read("funnel_by_source.csv"),
        time_in_stage: read("time_in_stage.csv"),
        attribution: read("attribution.csv"),
        markov: read("markov.csv"),
    }
}

#[tokio::test]
async fn the_sample_reproduces_every_expected_file() {
    for (db, app) in apps().await {
        let l = db.label;
        app.import_dir(&testdata("sample"), ImportOptions::default(), &Quiet)
            .await
            .unwrap();
        let (v1, ds) = app.dataset().await.unwrap();
        if let Err(bad) = check(&ds, &expected_files()) {
            panic!(
                "{l}: {} mismatches, first: {:#?}",
                bad.len(),
                &bad[..bad.len().min(10)]
            );
        }
        // Unchanged data: the same dataset, not a re-scan.
        let (v2, again) = app.dataset().await.unwrap();
        assert_eq!(v1, v2, "{l}");
        assert!(Arc::ptr_eq(&ds, &again), "{l}: reloaded unchanged data");
        let by_source = CohortQuery {
            by: Some("source_channel".into()),
            ..Default::default()
        };
        let f = app.funnel_report(&by_source).await.unwrap();
        assert_eq!(f.rows[0].group, "ALL");
        assert_eq!(f.rows[0].reached, 3000);
        // Period over period: 2024's report carries 2023's rows beside it,
        // the same rows as 2023's own report.
        let year = |y: &str| CohortQuery {
            period: Some(y.into()),
            by: Some("source_channel".into()),
            ..Default::default()
        };
        let (f24, f23) = (
            app.funnel_report(&year("2024")).await.unwrap(),
            app.funnel_report(&year("2023")).await.unwrap(),
        );
        assert_eq!(f24.previous.as_ref(), Some(&f23.rows), "{l}");
        assert_ne!(f24.rows, f23.rows, "{l}");
        let cohort = |rows: &[smarketing_core::analytics::funnel::FunnelRow]| rows[0].reached;
        // Leads created per year in stage_changes.csv: 1,498 and 1,502 in
        // UTC, but years are the playbook's (Europe/Berlin, UTC+1 at new year),
        // which moves contact 2545's 2023-12-31T23:18Z into 2024.
        assert_eq!(
            (cohort(&f23.rows), cohort(&f24.rows)),
            (1_497, 1_503),
            "{l}"
        );
        let (v24, v23) = (
            app.velocity_report(&year("2024")).await.unwrap(),
            app.velocity_report(&year("2023")).await.unwrap(),
        );
        assert_eq!(v24.previous.as_ref(), Some(&v23.rows), "{l}");
        assert!(v24.rows.iter().any(|r| r.n_completed > 0), "{l}");
        assert!(
            app.velocity_report(&by_source)
                .await
                .unwrap()
                .previous
                .is_none()
        );
        let a = app
            .attribution_report(&AttributionParams::default())
            .await
            .unwrap();
        assert_eq!(a.models.len(), 12, "{l}");
        assert!(a.models.iter().all(|m| m.reconciled), "{l}");
        assert_eq!(a.value, 578_081_200.0);
        let account = app
            .attribution_report(&AttributionParams {
                account_level: Some(true),
                models: Some("linear,shapley,markov".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(account.models.iter().all(|m| m.reconciled), "{l}");
        assert_eq!(account.conversions, 127.0);

        // The drill-down of a won deal: every model's weights sum to one.
        let j = app
            .deal_journey(WON_DEAL, &Default::default())
            .await
            .unwrap();
        assert!(j.won && j.touches.len() >= 6, "{l}: {j:?}");
        assert_eq!(j.models.len(), 10, "per-touch models only");
        for m in 0..j.models.len() {
            let sum: f64 = j.touches.iter().map(|t| t.weights[m]).sum();
            assert!((sum - 1.0).abs() < 1e-12, "{l}: {}", j.models[m]);
        }
        assert!(j.touches[0].roles.contains(&"first"));
        assert!(matches!(
            app.deal_journey(99_999, &Default::default()).await,
            Err(AppError::NotFound { .. })
        ));
        // ROI: all spend, and revenue that adds up to the won total.
        let roi = app.roi_report(&Default::default()).await.unwrap();
        assert_eq!(roi.total.spend_minor, SAMPLE_SPEND * 100, "{l}");
        assert!((roi.total.revenue_minor - 578_081_200.0).abs() < 1e-3);
        assert!((roi.total.won_deals - 127.0).abs() < 1e-9);
        assert_eq!(roi.campaigns.len(), 282);

        // A write bumps the data version and the next report sees it.
        app.create_account(
            smarketing_app::input::AccountInput {
                name: "New Co".into(),
                ..Default::default()
            },
            &smarketing_app::Actor::system(),
        )
        .await
        .unwrap();
        let (v3, fresh) = app.dataset().await.unwrap();
        assert!(v3 > v2, "{l}: {v3:?} after {v2:?}");
        assert!(!Arc::ptr_eq(&ds, &fresh), "{l}");
    }
}

#[tokio::test]
async fn bad_parameters_are_refused_and_empty_data_gives_empty_reports() {
    for (db, app) in apps().await {
        let l = db.label;
        let field = |e: AppError| match e {
            AppError::Invalid(i) => i.field,
            other => panic!("{l}: {other:?}"),
        };
        let attr = |p: AttributionParams| {
            let app = app.clone();
            async move { app.attribution_report(&p).await }
        };
        let bad = [
            (
                AttributionParams {
                    models: Some("magic".into()),
                    ..Default::default()
                },
                "model",
            ),
            (
                AttributionParams {
                    models: Some("markov".into()),
                    order: Some(5),
                    ..Default::default()
                },
                "order",
            ),
            (
                AttributionParams {
                    models: Some("time_decay".into()),
                    half_life_days: Some(0.0),
                    ..Default::default()
                },
                "half_life_days",
            ),
            (
                AttributionParams {
                    period: Some("2026-Q5".into()),
                    ..Default::default()
                },
                "period",
            ),
            (
                AttributionParams {
                    conversion: Some("sale".into()),
                    ..Default::default()
                },
                "conversion",
            ),
        ];
        for (p, f) in bad {
            assert_eq!(field(attr(p).await.unwrap_err()), f, "{l}");
        }
        let by = CohortQuery {
            by: Some("colour".into()),
            ..Default::default()
        };
        assert_eq!(field(app.funnel_report(&by).await.unwrap_err()), "by");
        let stage = CohortQuery {
            stage: Some("recycled".into()),
            ..Default::default()
        };
        assert_eq!(
            field(app.velocity_report(&stage).await.unwrap_err()),
            "stage"
        );

        // No data: zeros and empty statistics, never NaN.
        let f = app.funnel_report(&CohortQuery::default()).await.unwrap();
        assert!(
            f.rows
                .iter()
                .all(|r| r.reached == 0 && r.rate_from_cohort.is_none()),
            "{l}"
        );
        let v = app.velocity_report(&CohortQuery::default()).await.unwrap();
        assert!(
            v.rows
                .iter()
                .all(|r| r.n_completed == 0 && r.median_s.is_none())
        );
        let a = app
            .attribution_report(&AttributionParams::default())
            .await
            .unwrap();
        assert_eq!(a.conversions, 0.0);
        for m in &a.models {
            assert!(m.reconciled);
            assert!(
                m.channels
                    .iter()
                    .all(|c| c.conversions == 0.0 && c.value == 0.0),
                "{}",
                m.model
            );
        }
    }
}
