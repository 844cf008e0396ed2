//! The funnel on cohorts (of the contacts that entered a stage in a period,
//! how many reached each later stage) and velocity (time in each stage),
//! broken down by one dimension.

use super::dataset::{Dataset, NONE};
use super::in_parts;
use crate::Stage;
use crate::segment::Dimension;
use serde::Serialize;

/// Which contacts a funnel or velocity report follows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cohort {
    /// The stage the cohort entered.
    pub stage: Stage,
    /// Entered in `[from, to)` (ms); all time when `None`.
    pub period: Option<(i64, i64)>,
    /// Count a later stage only if reached within this many days of entry.
    pub within_days: Option<u32>,
    pub dimension: Option<Dimension>,
}

impl Cohort {
    pub fn all_leads() -> Cohort {
        Cohort {
            stage: Stage::Lead,
            period: None,
            within_days: None,
            dimension: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FunnelRow {
    /// `ALL`, or a value of the breakdown dimension.
    pub group: String,
    pub stage_idx: usize,
    pub stage: Stage,
    pub reached: u64,
    pub rate_from_prev: Option<f64>,
    /// Share of the cohort (stage 0) that reached this stage.
    pub rate_from_cohort: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VelocityRow {
    pub group: String,
    pub stage_idx: usize,
    /// The stage whose time is measured; `customer` rows measure the whole
    /// way from the cohort stage to won.
    pub stage: Stage,
    /// Time from entering the cohort stage to won, rather than time in `stage`.
    pub to_won: bool,
    pub n_completed: u64,
    /// Seconds.
    pub median_s: Option<f64>,
    pub median_disc_s: Option<f64>,
    pub p90_s: Option<f64>,
    pub mean_s: Option<f64>,
}

/// The funnel stages a report shows: the cohort stage, then every later
/// stage up to customer that the data has at least one change into (so a
/// playbook stage nobody uses, such as SAL when sales never accepts in the
/// tool, does not show as a 100 % step).
pub fn stages(ds: &Dataset, cohort: Stage) -> Vec<Stage> {
    let used = in_parts(ds.changes.len(), SPLIT, |range| {
        let mut used = [false; 10];
        for c in &ds.changes[range] {
            used[c.stage as usize] = true;
        }
        used
    })
    .into_iter()
    .fold([false; 10], |a, b| std::array::from_fn(|i| a[i] || b[i]));
    let from = cohort.funnel_rank().unwrap_or(0);
    Stage::ALL
        .into_iter()
        .filter(|s| {
            s.funnel_rank()
                .is_some_and(|r| r >= from && r <= Stage::Customer as u8)
        })
        .filter(|s| *s == cohort || used[*s as usize])
        .collect()
}

/// Groups: `ALL` (index 0), then each value of the dimension.
fn group_names(ds: &Dataset, dimension: Option<Dimension>) -> Vec<String> {
    let mut g = vec!["ALL".to_string()];
    if let Some(d) = dimension {
        g.extend(ds.groups(d).iter().cloned());
        if ds
            .contacts
            .iter()
            .any(|c| c.dims[super::dataset::dim_index(d)] == NONE)
        {
            g.push("(none)".into());
        }
    }
    g
}

/// The group index (besides ALL) of contact `i`.
fn group_of(ds: &Dataset, i: usize, dimension: Option<Dimension>) -> Option<usize> {
    let d = dimension?;
    let code = ds.group_of(i, d);
    Some(if code == NONE {
        ds.groups(d).len() + 1
    } else {
        code as usize + 1
    })
}

/// Reports on more contacts or changes than this are computed in parts,
/// one per core.
const SPLIT: usize = 100_000;

/// Walks the cohort among contacts `range`: for each member, its index and
/// entry instant.
fn members(
    ds: &Dataset,
    cohort: &Cohort,
    range: std::ops::Range<usize>,
) -> impl Iterator<Item = (usize, i64)> {
    range.filter_map(move |i| {
        ds.changes_of(i)
            .iter()
            .find(|c| {
                c.stage == cohort.stage
                    && cohort
                        .period
                        .is_none_or(|(from, to)| c.at >= from && c.at < to)
            })
            .map(|c| (i, c.at))
    })
}

pub fn funnel(ds: &Dataset, cohort: &Cohort) -> Vec<FunnelRow> {
    let stages = stages(ds, cohort.stage);
    let groups = group_names(ds, cohort.dimension);
    let ranks: Vec<u8> = stages
        .iter()
        .map(|s| s.funnel_rank().unwrap_or(0))
        .collect();
    let horizon = cohort.within_days.map(|d| d as i64 * 86_400_000);
    let parts = in_parts(ds.contacts.len(), SPLIT, |range| {
        let mut reached = vec![vec![0u64; stages.len()]; groups.len()];
        for (i, entry) in members(ds, cohort, range) {
            // The furthest stage reached after entering the cohort: a
            // contact is counted once per stage however often it was
            // recycled.
            let best = ds
                .changes_of(i)
                .iter()
                .filter(|c| c.at >= entry && horizon.is_none_or(|h| c.at - entry <= h))
                .filter_map(|c| c.stage.funnel_rank())
                .max()
                .unwrap_or(0);
            let g = group_of(ds, i, cohort.dimension);
            for (j, r) in ranks.iter().enumerate() {
                if j == 0 || *r <= best {
                    reached[0][j] += 1;
                    if let Some(g) = g {
                        reached[g][j] += 1;
                    }
                }
            }
        }
        reached
    });
    let mut reached = vec![vec![0u64; stages.len()]; groups.len()];
    for part in parts {
        for (total, p) in reached.iter_mut().zip(part) {
            total.iter_mut().zip(p).for_each(|(t, x)| *t += x);
        }
    }
    let mut rows = vec![];
    for (g, name) in groups.iter().enumerate() {
        let r = &reached[g];
        for (j, s) in stages.iter().enumerate() {
            let rate = |num: u64, den: u64| (den > 0).then(|| num as f64 / den as f64);
            rows.push(FunnelRow {
                group: name.clone(),
                stage_idx: j,
                stage: *s,
                reached: r[j],
                rate_from_prev: if j == 0 { None } else { rate(r[j], r[j - 1]) },
                rate_from_cohort: rate(r[j], r[0]),
            });
        }
    }
    rows
}

/// Median, lower median, p90 (linear interpolation) and mean of `xs`
/// (milliseconds), in seconds; in O(n) by selection, not sorting.
pub fn summarize(xs: &mut [i64]) -> Option<(f64, f64, f64, f64)> {
    let n = xs.len();
    if n == 0 {
        return None;
    }
    let mut nth = |k: usize| -> i64 { *xs.select_nth_unstable(k).1 };
    let lower = nth(n.div_ceil(2) - 1);
    let median = if n % 2 == 1 {
        lower as f64
    } else {
        (lower as f64 + nth(n / 2) as f64) / 2.0
    };
    let h = 0.9 * (n - 1) as f64;
    let lo = h.floor() as usize;
    let a = nth(lo) as f64;
    let p90 = if lo + 1 < n {
        a + (h - lo as f64) * (nth(lo + 1) as f64 - a)
    } else {
        a
    };
    let mean = xs.iter().map(|x| *x as f64).sum::<f64>() / n as f64;
    Some((median / 1e3, lower as f64 / 1e3, p90 / 1e3, mean / 1e3))
}

pub fn velocity(ds: &Dataset, cohort: &Cohort) -> Vec<VelocityRow> {
    let stages = stages(ds, cohort.stage);
    let groups = group_names(ds, cohort.dimension);
    let ranks: Vec<u8> = stages
        .iter()
        .map(|s| s.funnel_rank().unwrap_or(0))
        .collect();
    // durations[group][stage j] (j = last index holds cohort stage → won)
    let k = stages.len();
    let parts = in_parts(ds.contacts.len(), SPLIT, |range| {
        let mut durations = vec![vec![Vec::<i64>::new(); k]; groups.len()];
        for (i, entry) in members(ds, cohort, range) {
            let changes = ds.changes_of(i);
            let g = group_of(ds, i, cohort.dimension);
            let mut push = |j: usize, d: i64| {
                durations[0][j].push(d);
                if let Some(g) = g {
                    durations[g][j].push(d);
                }
            };
            for j in 0..k.saturating_sub(1) {
                let Some(enter) = changes
                    .iter()
                    .find(|c| c.at >= entry && c.stage == stages[j])
                else {
                    continue;
                };
                // The next stage, or a later one if the contact skipped it.
                if let Some(next) = changes.iter().find(|c| {
                    c.at >= enter.at && c.stage.funnel_rank().is_some_and(|r| r >= ranks[j + 1])
                }) {
                    push(j, next.at - enter.at);
                }
            }
            if k > 1
                && let Some(won) = changes
                    .iter()
                    .find(|c| c.at >= entry && c.stage == Stage::Customer)
            {
                push(k - 1, won.at - entry);
            }
        }
        durations
    });
    // Joined in contact order, as one pass would have them.
    let mut parts = parts.into_iter();
    let mut durations = parts.next().unwrap_or_default();
    for part in parts {
        for (total, p) in durations.iter_mut().zip(part) {
            total.iter_mut().zip(p).for_each(|(t, x)| t.extend(x));
        }
    }
    let mut rows = vec![];
    for (g, name) in groups.iter().enumerate() {
        for (j, xs) in durations[g].iter_mut().enumerate() {
            if j == k - 1 && stages[j] != Stage::Customer {
                continue;
            }
            let s = summarize(xs);
            rows.push(VelocityRow {
                group: name.clone(),
                stage_idx: j,
                stage: stages[j],
                to_won: j == k - 1,
                n_completed: xs.len() as u64,
                median_s: s.map(|s| s.0),
                median_disc_s: s.map(|s| s.1),
                p90_s: s.map(|s| s.2),
                mean_s: s.map(|s| s.3),
            });
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::dataset::{DatasetBuilder, dim_index};

    /// Seven kinds of journey (straight through, skipping a stage,
    /// recycled and back, disqualified, stalled), each contact `copies`
    /// times, in three regions (one contact in four has none).
    fn journeys(copies: usize) -> Dataset {
        const DAY: i64 = 86_400_000;
        use Stage::*;
        let kinds: [&[(Stage, i64)]; 7] = [
            &[
                (Lead, 0),
                (Mql, 2),
                (Sql, 5),
                (Opportunity, 9),
                (Customer, 30),
            ],
            &[(Lead, 1), (Mql, 3), (Opportunity, 4)],
            &[(Lead, 0), (Mql, 1), (Recycled, 10), (Mql, 40), (Sql, 41)],
            &[(Lead, 2), (Disqualified, 3)],
            &[(Lead, 5)],
            &[(Mql, 0), (Sql, 1)],
            &[
                (Lead, 0),
                (Mql, 6),
                (Sql, 7),
                (Opportunity, 8),
                (Customer, 70),
            ],
        ];
        let mut b = DatasetBuilder::new(["email"]);
        for n in 0..copies * kinds.len() {
            let id = n as i64 + 1;
            let region = ["EMEA", "AMER", "APAC", ""][n % 4];
            let mut values = [None; 6];
            values[dim_index(Dimension::Region)] = (!region.is_empty()).then_some(region);
            b.contact(id, None, values);
            // Cohort entries spread over days, so medians are not trivial.
            let base = (n % 97) as i64 * DAY;
            for (stage, day) in kinds[n % kinds.len()] {
                b.change(
                    id,
                    *stage,
                    base + day * DAY + (n % 13) as i64 * 60_000,
                    None,
                );
            }
        }
        b.finish()
    }

    /// Over 100,000 contacts the reports run in one part per core; they
    /// must give what one pass gives: counts that scale with the copies,
    /// the same rates and the same durations.
    #[test]
    fn reports_in_parts_match_one_pass() {
        // Every pattern (7 kinds, 4 regions, 97 days, 13 minutes) repeats
        // whole in `one`.
        let (one, many) = (journeys(4 * 97 * 13), journeys(4 * 97 * 13 * 12));
        assert!(many.contacts.len() > SPLIT && one.contacts.len() < SPLIT);
        for dimension in [None, Some(Dimension::Region)] {
            let cohort = Cohort {
                dimension,
                ..Cohort::all_leads()
            };
            let (a, b) = (funnel(&one, &cohort), funnel(&many, &cohort));
            assert_eq!(a.len(), b.len());
            for (x, y) in a.iter().zip(&b) {
                assert_eq!((&x.group, x.stage), (&y.group, y.stage));
                assert_eq!(x.reached * 12, y.reached, "{} {:?}", x.group, x.stage);
                assert_eq!(x.rate_from_prev, y.rate_from_prev);
            }
            let (a, b) = (velocity(&one, &cohort), velocity(&many, &cohort));
            assert_eq!(a.len(), b.len());
            for (x, y) in a.iter().zip(&b) {
                assert_eq!(x.n_completed * 12, y.n_completed);
                assert_eq!((x.median_s, x.p90_s), (y.median_s, y.p90_s));
                let (m, n) = (x.mean_s.unwrap(), y.mean_s.unwrap());
                assert!((m - n).abs() <= 1e-9 * m, "{m} {n}");
            }
        }
    }

    #[test]
    fn statistics_as_the_readme_defines_them() {
        let (m, lo, p90, mean) = summarize(&mut [4000, 1000, 3000, 2000]).unwrap();
        assert_eq!((m, lo, mean), (2.5, 2.0, 2.5));
        // h = 0.9 × 3 = 2.7: 3 + 0.7 × (4 − 3)
        assert!((p90 - 3.7).abs() < 1e-12);
        assert_eq!(summarize(&mut [5000]).unwrap(), (5.0, 5.0, 5.0, 5.0));
        assert_eq!(summarize(&mut []), None);
    }
}
