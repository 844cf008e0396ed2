//! The sample company's expected results that follow from `paths.csv` alone:
//! Markov of orders 1–3, Shapley, and first, last and linear touch.

use super::models::Model;
use super::paths::PathTable;
use std::collections::HashMap;

fn sample(file: &str) -> String {
    let p = format!(
        "{}/../../testdata/sample/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// Rows of an expected file as column → text.
fn expected(file: &str) -> Vec<HashMap<String, String>> {
    super::expected::rows(&sample(&format!("expected/{file}")))
}

fn assert_close(expected: &str, actual: f64, what: &str) {
    let e: f64 = expected.parse().unwrap();
    assert!(
        (e - actual).abs() <= 1e-9 * e.abs().max(actual.abs()),
        "{what}: expected {e}, got {actual}"
    );
}

#[test]
fn markov_orders_one_to_three_match_the_expected_file() {
    let table = PathTable::parse(&sample("paths.csv")).unwrap();
    let rows = expected("markov.csv");
    for order in 1..=3u8 {
        let credit = table.attribute(Model::Markov { order }).unwrap();
        let mine: HashMap<&str, _> = credit.iter().map(|c| (c.channel.as_str(), c)).collect();
        let theirs: Vec<_> = rows
            .iter()
            .filter(|r| r["order"] == order.to_string())
            .collect();
        assert_eq!(theirs.len(), 9);
        for r in theirs {
            let c = mine[r["channel"].as_str()];
            let what = format!("order {order} {}", r["channel"]);
            assert_close(
                &r["removal_effect_conversions"],
                c.removal_effect_conversions.unwrap(),
                &what,
            );
            assert_close(&r["attributed_conversions"], c.conversions, &what);
            assert_close(
                &r["removal_effect_revenue"],
                c.removal_effect_value.unwrap(),
                &what,
            );
            assert_close(&r["attributed_revenue"], c.value, &what);
        }
    }
}

#[test]
fn shapley_first_last_and_linear_match_the_expected_file() {
    let table = PathTable::parse(&sample("paths.csv")).unwrap();
    let rows = expected("attribution.csv");
    for (model, prefix) in [
        (Model::Shapley, "shapley"),
        (Model::FirstTouch, "first_touch"),
        (Model::LastTouch, "last_touch"),
        (Model::Linear, "linear_touch"),
    ] {
        let credit = table.attribute(model).unwrap();
        let mine: HashMap<&str, _> = credit.iter().map(|c| (c.channel.as_str(), c)).collect();
        for r in &rows {
            let c = mine[r["channel"].as_str()];
            let what = format!("{prefix} {}", r["channel"]);
            assert_close(&r[&format!("{prefix}_conversions")], c.conversions, &what);
            assert_close(&r[&format!("{prefix}_value")], c.value, &what);
        }
    }
}

/// The sample loaded straight from its CSV files (the app's test loads it
/// through a database instead).
fn sample_dataset() -> super::dataset::Dataset {
    use super::dataset::{DatasetBuilder, DealStatus};
    use crate::Instant;
    fn rows(file: &str) -> Vec<Vec<String>> {
        let text = sample(file);
        text.lines()
            .skip(1)
            .map(|l| {
                let mut out = vec![];
                let (mut cur, mut quoted) = (String::new(), false);
                for ch in l.chars() {
                    match ch {
                        '"' => quoted = !quoted,
                        ',' if !quoted => out.push(std::mem::take(&mut cur)),
                        c => cur.push(c),
                    }
                }
                out.push(cur);
                out
            })
            .collect()
    }
    let ms = |s: &str| Instant::parse(s, "t").unwrap().millis();
    let channels = [
        "organic_search",
        "paid_search",
        "email",
        "webinar",
        "social",
        "referral",
        "direct",
        "events",
        "content_download",
    ];
    let mut b = DatasetBuilder::new(channels);
    for r in rows("campaigns.csv") {
        b.campaign(
            r[0].parse().unwrap(),
            &r[1],
            &r[2],
            r[5].parse::<i64>().unwrap() * 100,
            ms(&r[3]),
        );
    }
    for r in rows("contacts.csv") {
        let v = |i: usize| Some(r[i].as_str());
        b.contact(
            r[0].parse().unwrap(),
            Some(r[1].parse().unwrap()),
            [v(9), None, v(6), v(7), v(8), None],
        );
    }
    for r in rows("touchpoints.csv") {
        b.touch(
            r[1].parse().unwrap(),
            r[0].parse().unwrap(),
            ms(&r[2]),
            &r[3],
            r[4].parse().ok(),
        );
    }
    for r in rows("stage_changes.csv") {
        b.change(
            r[0].parse().unwrap(),
            r[2].parse().unwrap(),
            ms(&r[3]),
            r[4].parse().ok(),
        );
    }
    for r in rows("deals.csv") {
        let status = match r[4].as_str() {
            "won" => DealStatus::Won,
            "lost" => DealStatus::Lost,
            _ => DealStatus::Open,
        };
        b.deal(
            r[0].parse().unwrap(),
            Some(r[1].parse().unwrap()),
            None,
            status,
            r[5].parse::<i64>().unwrap() * 100,
            ms(&r[2]),
            (!r[3].is_empty()).then(|| ms(&r[3])),
        );
    }
    b.finish()
}

#[test]
fn funnel_time_in_stage_and_attribution_match_the_expected_files() {
    let read = |f: &str| sample(&format!("expected/{f}"));
    let files = super::expected::ExpectedFiles {
        funnel_by_source: read("funnel_by_source.csv"),
        time_in_stage: read("time_in_stage.csv"),
        attribution: read("attribution.csv"),
        markov: read("markov.csv"),
    };
    super::expected::check(&sample_dataset(), &files).unwrap();
}
