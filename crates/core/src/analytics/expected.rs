//! The sample company's expected results (`testdata/sample/expected/`):
//! checks that a dataset reproduces its funnel by source, time in stage, and
//! rule-based, Shapley and Markov attribution, within the stated tolerance
//! (counts exactly, other numbers to 1e-9 relative). Used by the tests of
//! every layer and by `smarketing report check`.

use super::attribution::{AttributionQuery, Conversion, attribute};
use super::dataset::Dataset;
use super::funnel::{Cohort, funnel, velocity};
use super::models::Model;
use crate::segment::Dimension;
use std::collections::HashMap;

/// The texts of the four expected files.
pub struct ExpectedFiles {
    pub funnel_by_source: String,
    pub time_in_stage: String,
    pub attribution: String,
    pub markov: String,
}

/// Rows of a CSV text as column → text (the expected files quote nothing).
pub(crate) fn rows(text: &str) -> Vec<HashMap<String, String>> {
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap_or("")
        .split(',')
        .map(String::from)
        .collect();
    lines
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(String::from))
                .collect()
        })
        .collect()
}

fn same(bad: &mut Vec<String>, expected: &str, actual: &str, what: &str) {
    if expected != actual {
        bad.push(format!("{what}: expected {expected}, got {actual}"));
    }
}

fn close(bad: &mut Vec<String>, expected: &str, actual: f64, what: &str) {
    let ok = expected
        .parse::<f64>()
        .is_ok_and(|e| (e - actual).abs() <= 1e-9 * e.abs().max(actual.abs()));
    if !ok {
        bad.push(format!("{what}: expected {expected}, got {actual}"));
    }
}

/// Checks a dataset's funnel, time in stage and attribution against the
/// expected files: every mismatch, or Ok.
pub fn check(ds: &Dataset, files: &ExpectedFiles) -> Result<(), Vec<String>> {
    let mut bad = vec![];
    let cohort = Cohort {
        dimension: Some(Dimension::SourceChannel),
        ..Cohort::all_leads()
    };
    let got = funnel(ds, &cohort);
    let want = rows(&files.funnel_by_source);
    for w in &want {
        let Some(r) = got
            .iter()
            .find(|r| r.group == w["source"] && r.stage.as_str() == w["stage"])
        else {
            bad.push(format!("funnel: no row for {} {}", w["source"], w["stage"]));
            continue;
        };
        let what = format!("funnel {} {}", w["source"], w["stage"]);
        same(&mut bad, &w["stage_idx"], &r.stage_idx.to_string(), &what);
        same(&mut bad, &w["reached"], &r.reached.to_string(), &what);
        for (col, got) in [
            ("rate_from_prev", r.rate_from_prev),
            ("rate_from_lead", r.rate_from_cohort),
        ] {
            match got {
                Some(x) => close(&mut bad, &w[col], x, &format!("{what} {col}")),
                None => same(&mut bad, &w[col], "", &format!("{what} {col}")),
            }
        }
    }
    let got = velocity(ds, &cohort);
    for w in &rows(&files.time_in_stage) {
        let Some(r) = got
            .iter()
            .find(|r| !r.to_won && r.group == w["source"] && r.stage.as_str() == w["stage"])
        else {
            bad.push(format!(
                "time in stage: no row for {} {}",
                w["source"], w["stage"]
            ));
            continue;
        };
        let what = format!("time in {} {}", w["source"], w["stage"]);
        same(
            &mut bad,
            &w["n_completed"],
            &r.n_completed.to_string(),
            &what,
        );
        for (col, got) in [
            ("median_s", r.median_s),
            ("median_disc_s", r.median_disc_s),
            ("p90_s", r.p90_s),
            ("mean_s", r.mean_s),
        ] {
            close(
                &mut bad,
                &w[col],
                got.unwrap_or(f64::NAN),
                &format!("{what} {col}"),
            );
        }
    }
    let models = vec![
        Model::FirstTouch,
        Model::LastTouch,
        Model::Linear,
        Model::UShaped,
        Model::WShaped,
        Model::FullPath,
        Model::TimeDecay {
            half_life_days: 7.0,
        },
        Model::PositionBased,
        Model::JShaped,
        Model::InverseJ,
        Model::Shapley,
        Model::Markov { order: 1 },
        Model::Markov { order: 2 },
        Model::Markov { order: 3 },
    ];
    let report = attribute(ds, &AttributionQuery::channels(Conversion::Won, models))
        .map_err(|e| vec![e.message])?;
    let columns = [
        ("first_touch", "first_touch", true),
        ("last_touch", "last_touch", true),
        ("linear", "linear_touch", true),
        ("u_shaped", "u_shaped", false),
        ("w_shaped", "w_shaped", false),
        ("full_path", "full_path", false),
        ("time_decay_7d", "time_decay_7d", false),
        ("position_based", "position_based", false),
        ("j_shaped", "j_shaped", false),
        ("inverse_j", "inverse_j", false),
        ("shapley", "shapley", true),
    ];
    for (label, prefix, has_conversions) in columns {
        let m = report
            .models
            .iter()
            .find(|m| m.model == label)
            .expect("asked for");
        if !m.reconciled {
            bad.push(format!("{label}: credit does not sum to the total"));
        }
        for w in &rows(&files.attribution) {
            let Some(c) = m.channels.iter().find(|c| c.name == w["channel"]) else {
                bad.push(format!("{label}: no channel {}", w["channel"]));
                continue;
            };
            let what = format!("{label} {}", w["channel"]);
            // The expected file's money is in whole units; ours in cents.
            close(
                &mut bad,
                &w[&format!("{prefix}_value")],
                c.value / 100.0,
                &what,
            );
            if has_conversions {
                close(
                    &mut bad,
                    &w[&format!("{prefix}_conversions")],
                    c.conversions,
                    &what,
                );
            }
        }
    }
    for order in 1..=3 {
        let label = format!("markov_{order}");
        let markov = report
            .models
            .iter()
            .find(|m| m.model == label)
            .expect("asked for");
        let want = rows(&files.markov);
        for w in want.iter().filter(|w| w["order"] == order.to_string()) {
            let Some(c) = markov.channels.iter().find(|c| c.name == w["channel"]) else {
                bad.push(format!("{label}: no channel {}", w["channel"]));
                continue;
            };
            let what = format!("{label} {}", w["channel"]);
            close(&mut bad, &w["attributed_conversions"], c.conversions, &what);
            close(&mut bad, &w["attributed_revenue"], c.value / 100.0, &what);
        }
    }
    if bad.is_empty() { Ok(()) } else { Err(bad) }
}
