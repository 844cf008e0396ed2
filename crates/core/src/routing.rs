//! Routing an MQL to a sales rep: the account's owner first, then the
//! playbook's territory rules, then weighted fair round-robin among eligible
//! reps. Every decision says why, including who was skipped and for what.
//!
//! Round-robin uses start-time fair queueing: each rep carries a virtual
//! "tag" and the team a virtual time (the start tag of the last lead
//! served). A rep's start is the larger of the two; the eligible rep with the
//! smallest start gets the lead, its tag advances by 1 / weight, and the
//! virtual time moves to that start. Over many handoffs shares follow the
//! weights, and a rep back from leave starts level with the others instead
//! of catching up in a burst.

use crate::condition::{Condition, all_match};
use crate::playbook::Profile;
use serde::{Deserialize, Serialize};

/// The routing section of the playbook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingPolicy {
    /// A rep whose next working minute is further away than this is skipped.
    pub skip_if_off_hours_longer_than_hours: f64,
    /// Open handoffs a rep may hold unless their own cap says otherwise.
    pub default_capacity: u32,
    /// Tried in order; the first that matches picks the pool of reps.
    #[serde(default)]
    pub territories: Vec<Territory>,
}

impl Default for RoutingPolicy {
    fn default() -> Self {
        RoutingPolicy {
            skip_if_off_hours_longer_than_hours: 12.0,
            default_capacity: 40,
            territories: vec![],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Territory {
    pub name: String,
    pub when: Vec<Condition>,
    /// E-mail addresses of the reps who cover it.
    pub reps: Vec<String>,
}

/// A rep as routing sees them at the moment of the decision.
#[derive(Debug, Clone, PartialEq)]
pub struct RepState {
    pub user_id: i64,
    pub name: String,
    pub email: String,
    /// Relative share of round-robin leads (≥ 1).
    pub weight: u32,
    pub open_handoffs: u32,
    /// The rep's own cap, or the policy default.
    pub capacity: Option<u32>,
    pub out_of_office: bool,
    /// Hours until the rep's next working minute (0 when working now).
    pub hours_until_working: f64,
    /// The rep's fair-queueing tag.
    pub tag: f64,
}

/// Which rule decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteRule {
    AccountOwner,
    Territory,
    RoundRobin,
    /// No rep could take it; it waits in the queue.
    Unassigned,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    pub user_id: i64,
    pub why: String,
}

/// The outcome of routing one handoff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteDecision {
    pub assignee: Option<i64>,
    pub rule: RouteRule,
    /// For people: "territory EMEA mid-market; skipped Ana: out of office".
    pub reason: String,
    pub skipped: Vec<Skipped>,
    /// The assignee's new tag and the team's new virtual time, when
    /// round-robin or a territory chose them.
    pub new_tag: Option<f64>,
    pub new_virtual_time: Option<f64>,
}

fn unavailable(policy: &RoutingPolicy, r: &RepState) -> Option<String> {
    if r.out_of_office {
        Some("out of office".into())
    } else if r.open_handoffs >= r.capacity.unwrap_or(policy.default_capacity) {
        Some(format!("at capacity ({} open)", r.open_handoffs))
    } else if r.hours_until_working > policy.skip_if_off_hours_longer_than_hours {
        Some(format!("off hours for {:.1} h", r.hours_until_working))
    } else {
        None
    }
}

fn first_name(r: &RepState) -> &str {
    r.name.split_whitespace().next().unwrap_or(&r.name)
}

/// Picks among `pool` by fair queueing; records who was skipped.
fn fair_pick<'a>(
    policy: &RoutingPolicy,
    pool: &[&'a RepState],
    virtual_time: f64,
    skipped: &mut Vec<(Skipped, String)>,
) -> Option<(&'a RepState, f64, f64)> {
    let eligible: Vec<&RepState> = pool
        .iter()
        .copied()
        .filter(|r| match unavailable(policy, r) {
            Some(why) => {
                if !skipped.iter().any(|(s, _)| s.user_id == r.user_id) {
                    skipped.push((
                        Skipped {
                            user_id: r.user_id,
                            why: why.clone(),
                        },
                        first_name(r).to_string(),
                    ));
                }
                false
            }
            None => true,
        })
        .collect();
    let start = |r: &RepState| r.tag.max(virtual_time);
    let chosen = eligible.into_iter().min_by(|a, b| {
        start(a)
            .total_cmp(&start(b))
            .then(a.user_id.cmp(&b.user_id))
    })?;
    let s = start(chosen);
    Some((chosen, s + 1.0 / chosen.weight.max(1) as f64, s))
}

/// Routes one handoff. `virtual_time` is the team's, as the previous
/// decision returned it (0 at first).
pub fn route(
    policy: &RoutingPolicy,
    profile: &Profile,
    account_owner: Option<i64>,
    reps: &[RepState],
    virtual_time: f64,
) -> RouteDecision {
    let mut skipped: Vec<(Skipped, String)> = Vec::new();
    let finish = |rule: RouteRule,
                  assignee: Option<i64>,
                  head: String,
                  skipped: Vec<(Skipped, String)>,
                  tags: Option<(f64, f64)>| {
        let mut reason = head;
        if !skipped.is_empty() {
            let list: Vec<String> = skipped
                .iter()
                .map(|(s, name)| format!("{name}: {}", s.why))
                .collect();
            reason.push_str(&format!("; skipped {}", list.join(", ")));
        }
        RouteDecision {
            assignee,
            rule,
            reason,
            skipped: skipped.into_iter().map(|(s, _)| s).collect(),
            new_tag: tags.map(|t| t.0),
            new_virtual_time: tags.map(|t| t.1),
        }
    };

    if let Some(owner) = account_owner {
        match reps.iter().find(|r| r.user_id == owner) {
            Some(r) => match unavailable(policy, r) {
                None => {
                    return finish(
                        RouteRule::AccountOwner,
                        Some(owner),
                        "account owner".into(),
                        skipped,
                        None,
                    );
                }
                Some(why) => skipped.push((
                    Skipped {
                        user_id: owner,
                        why: format!("account owner, {why}"),
                    },
                    first_name(r).to_string(),
                )),
            },
            None => skipped.push((
                Skipped {
                    user_id: owner,
                    why: "account owner is not a sales rep".into(),
                },
                format!("user {owner}"),
            )),
        }
    }

    for t in &policy.territories {
        if !all_match(&t.when, profile) {
            continue;
        }
        let pool: Vec<&RepState> = reps
            .iter()
            .filter(|r| t.reps.iter().any(|e| e.eq_ignore_ascii_case(&r.email)))
            .collect();
        if let Some((rep, tag, vt)) = fair_pick(policy, &pool, virtual_time, &mut skipped) {
            return finish(
                RouteRule::Territory,
                Some(rep.user_id),
                format!("territory {}", t.name),
                skipped,
                Some((tag, vt)),
            );
        }
        break;
    }

    let pool: Vec<&RepState> = reps.iter().collect();
    match fair_pick(policy, &pool, virtual_time, &mut skipped) {
        Some((rep, tag, vt)) => finish(
            RouteRule::RoundRobin,
            Some(rep.user_id),
            "round-robin".into(),
            skipped,
            Some((tag, vt)),
        ),
        None => finish(
            RouteRule::Unassigned,
            None,
            "no rep available".into(),
            skipped,
            None,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::condition::{CondValue, Op};
    use proptest::prelude::*;

    fn rep(id: i64, name: &str, weight: u32) -> RepState {
        RepState {
            user_id: id,
            name: name.into(),
            email: format!("{}@x.io", name.split(' ').next().unwrap().to_lowercase()),
            weight,
            open_handoffs: 0,
            capacity: None,
            out_of_office: false,
            hours_until_working: 0.0,
            tag: 0.0,
        }
    }

    /// Routes `n` handoffs, applying each decision's tag, with `available`
    /// saying who may take handoff i.
    fn simulate(
        reps: &mut [RepState],
        n: usize,
        available: impl Fn(usize, i64) -> bool,
    ) -> Vec<i64> {
        let policy = RoutingPolicy::default();
        let mut out = Vec::with_capacity(n);
        let mut vt = 0.0;
        for i in 0..n {
            for r in reps.iter_mut() {
                r.out_of_office = !available(i, r.user_id);
            }
            let d = route(&policy, &Profile::default(), None, reps, vt);
            let who = d.assignee.expect("someone is available");
            let r = reps.iter_mut().find(|r| r.user_id == who).unwrap();
            r.tag = d.new_tag.unwrap();
            vt = d.new_virtual_time.unwrap();
            out.push(who);
        }
        out
    }

    #[test]
    fn owner_then_territory_then_round_robin_with_reasons() {
        let mut policy = RoutingPolicy::default();
        policy.territories.push(Territory {
            name: "EMEA mid-market".into(),
            when: vec![Condition {
                field: "account.region".into(),
                op: Op::Eq,
                value: Some(CondValue::Text("EMEA".into())),
            }],
            reps: vec!["ana@x.io".into(), "ben@x.io".into()],
        });
        let mut reps = vec![
            rep(1, "Ana Ruiz", 1),
            rep(2, "Ben Carter", 1),
            rep(3, "Cy Lee", 1),
        ];
        let emea = Profile {
            region: Some("EMEA".into()),
            ..Default::default()
        };
        let d = route(&policy, &emea, Some(3), &reps, 0.0);
        assert_eq!(
            (d.assignee, d.rule, d.reason.as_str()),
            (Some(3), RouteRule::AccountOwner, "account owner")
        );
        reps[2].out_of_office = true;
        reps[0].out_of_office = true;
        let d = route(&policy, &emea, Some(3), &reps, 0.0);
        assert_eq!((d.assignee, d.rule), (Some(2), RouteRule::Territory));
        assert_eq!(
            d.reason,
            "territory EMEA mid-market; skipped Cy: account owner, out of office, Ana: out of office"
        );
        let d = route(&policy, &Profile::default(), None, &reps, 0.0);
        assert_eq!((d.assignee, d.rule), (Some(2), RouteRule::RoundRobin));
        reps[1].open_handoffs = 40;
        let d = route(&policy, &Profile::default(), None, &reps, 0.0);
        assert_eq!((d.assignee, d.rule), (None, RouteRule::Unassigned));
        assert!(
            d.reason.contains("Ben: at capacity (40 open)"),
            "{}",
            d.reason
        );
        reps[1].open_handoffs = 0;
        reps[1].hours_until_working = 60.0;
        let d = route(&policy, &Profile::default(), None, &reps, 0.0);
        assert!(
            d.reason.contains("Ben: off hours for 60.0 h"),
            "{}",
            d.reason
        );
    }

    proptest! {
        /// Over many handoffs, every rep's share is their weight's share.
        #[test]
        fn weighted_shares_hold(weights in prop::collection::vec(1u32..5, 2..6)) {
            let mut reps: Vec<RepState> = weights.iter().enumerate().map(|(i, w)| rep(i as i64 + 1, &format!("R{i}"), *w)).collect();
            let n = 2_000;
            let got = simulate(&mut reps, n, |_, _| true);
            let total: u32 = weights.iter().sum();
            for (i, w) in weights.iter().enumerate() {
                let share = got.iter().filter(|x| **x == i as i64 + 1).count() as f64 / n as f64;
                let want = *w as f64 / total as f64;
                prop_assert!((share - want).abs() < 0.01, "rep {i}: {share} vs {want}");
            }
        }

        /// A rep back from leave gets their normal share, not the backlog.
        #[test]
        fn a_rep_back_from_leave_is_not_flooded(leave in 100usize..1_000, others in 2usize..5) {
            let mut reps: Vec<RepState> = (0..=others).map(|i| rep(i as i64 + 1, &format!("R{i}"), 1)).collect();
            let got = simulate(&mut reps, leave + 60, |i, id| id != 1 || i >= leave);
            prop_assert!(got[..leave].iter().all(|x| *x != 1));
            let after = got[leave..].iter().filter(|x| **x == 1).count();
            let fair = 60.0 / (others + 1) as f64;
            prop_assert!((after as f64) <= fair + 1.0, "{after} of 60 after leave, fair share {fair}");
            prop_assert!((after as f64) >= fair - 1.0);
        }
    }
}
