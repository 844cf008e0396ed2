//! SLA clocks of a handoff, in the assigned rep's working time: time to first
//! touch, N attempts within a budget, decision within a budget. Each clock is
//! on track, at risk (a set share of its budget used), breached or met, and
//! the instants of its changes are derived here so the app can record them
//! as append-only events.

use crate::calendar::WorkingCalendar;
use crate::playbook::SlaPolicy;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ClockKind {
    FirstTouch,
    Attempts,
    Decision,
}

impl ClockKind {
    pub const ALL: [ClockKind; 3] = [
        ClockKind::FirstTouch,
        ClockKind::Attempts,
        ClockKind::Decision,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ClockKind::FirstTouch => "first_touch",
            ClockKind::Attempts => "attempts",
            ClockKind::Decision => "decision",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ClockState {
    OnTrack,
    AtRisk,
    Breached,
    Met,
}

impl ClockState {
    pub fn as_str(self) -> &'static str {
        match self {
            ClockState::OnTrack => "on_track",
            ClockState::AtRisk => "at_risk",
            ClockState::Breached => "breached",
            ClockState::Met => "met",
        }
    }
}

/// What happened on a handoff so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HandoffFacts {
    /// When the handoff reached its current rep (the clocks start here).
    pub started_at: Option<Timestamp>,
    /// Sales activities on the lead since then: instant, and whether it was
    /// a connect (a conversation) rather than an attempt.
    pub activities: Vec<(Timestamp, bool)>,
    /// When the rep accepted or rejected the lead.
    pub decided_at: Option<Timestamp>,
}

/// One clock at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Clock {
    pub kind: ClockKind,
    pub state: ClockState,
    /// Working-time budget in seconds.
    pub budget_seconds: i64,
    /// Working time used so far (or until it was met), in seconds.
    pub used_seconds: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub at_risk_at: Option<Timestamp>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub due_at: Option<Timestamp>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub met_at: Option<Timestamp>,
    /// Every change of state up to now, oldest first (the SLA events).
    pub changes: Vec<ClockChange>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClockChange {
    pub state: ClockState,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
}

/// The length of a working day in this calendar: its weekly working time
/// divided by the number of weekdays that have any. "Decision within 5
/// working days" means five such days of working time, so every clock runs
/// on the same working-time arithmetic.
pub fn working_day(calendar: &WorkingCalendar) -> SignedDuration {
    calendar.typical_working_day()
}

/// The budget of each clock in working time.
pub fn budget(policy: &SlaPolicy, calendar: &WorkingCalendar, kind: ClockKind) -> SignedDuration {
    let day = working_day(calendar).as_secs_f64();
    let secs = match kind {
        ClockKind::FirstTouch => policy.first_touch_working_hours * 3600.0,
        ClockKind::Attempts => policy.attempts_within_working_days * day,
        ClockKind::Decision => policy.decision_within_working_days * day,
    };
    SignedDuration::from_secs_f64(secs.max(0.0))
}

/// The instant each clock is met, if it is: the first activity; the Nth
/// attempt, a connect or the decision; the decision.
fn met_at(
    policy: &SlaPolicy,
    kind: ClockKind,
    facts: &HandoffFacts,
    start: Timestamp,
) -> Option<Timestamp> {
    let mut acts: Vec<(Timestamp, bool)> = facts
        .activities
        .iter()
        .copied()
        .filter(|(t, _)| *t >= start)
        .collect();
    acts.sort_by_key(|a| a.0);
    match kind {
        ClockKind::FirstTouch => acts
            .first()
            .map(|a| a.0)
            .into_iter()
            .chain(facts.decided_at)
            .min(),
        ClockKind::Attempts => {
            let nth = acts.get(policy.attempts.max(1) as usize - 1).map(|a| a.0);
            let connect = acts.iter().find(|a| a.1).map(|a| a.0);
            [nth, connect, facts.decided_at].into_iter().flatten().min()
        }
        ClockKind::Decision => facts.decided_at,
    }
}

/// Evaluates one clock at `now`.
pub fn evaluate(
    policy: &SlaPolicy,
    calendar: &WorkingCalendar,
    kind: ClockKind,
    facts: &HandoffFacts,
    now: Timestamp,
) -> Clock {
    let budget = budget(policy, calendar, kind);
    let Some(start) = facts.started_at else {
        // Not yet assigned: nothing runs.
        return Clock {
            kind,
            state: ClockState::OnTrack,
            budget_seconds: budget.as_secs(),
            used_seconds: 0,
            at_risk_at: None,
            due_at: None,
            met_at: None,
            changes: vec![],
        };
    };
    let due = calendar.add_working(start, budget);
    let at_risk_at = calendar.add_working(
        start,
        SignedDuration::from_secs_f64(budget.as_secs_f64() * policy.at_risk_share),
    );
    let met = met_at(policy, kind, facts, start).filter(|m| *m <= now);
    let mut changes = vec![ClockChange {
        state: ClockState::OnTrack,
        at: start,
    }];
    let end = met.unwrap_or(now);
    if let Some(r) = at_risk_at
        && r < end
        && due.is_none_or(|d| r < d)
    {
        changes.push(ClockChange {
            state: ClockState::AtRisk,
            at: r,
        });
    }
    if let Some(d) = due
        && d <= end
        && met.is_none_or(|m| m > d)
    {
        changes.push(ClockChange {
            state: ClockState::Breached,
            at: d,
        });
    }
    if let Some(m) = met {
        // A clock met after its deadline stays breached: late is late.
        if due.is_none_or(|d| m <= d) {
            changes.push(ClockChange {
                state: ClockState::Met,
                at: m,
            });
        }
    }
    let state = changes
        .last()
        .map(|c| c.state)
        .unwrap_or(ClockState::OnTrack);
    Clock {
        kind,
        state,
        budget_seconds: budget.as_secs(),
        used_seconds: calendar.working_between(start, end).as_secs(),
        at_risk_at,
        due_at: due,
        met_at: met,
        changes,
    }
}

/// All clocks of a handoff at `now`.
pub fn evaluate_all(
    policy: &SlaPolicy,
    calendar: &WorkingCalendar,
    facts: &HandoffFacts,
    now: Timestamp,
) -> Vec<Clock> {
    ClockKind::ALL
        .iter()
        .map(|k| evaluate(policy, calendar, *k, facts, now))
        .collect()
}

/// The agreement as a sentence both teams sign.
pub fn agreement_summary(policy: &SlaPolicy, mql_commitment: Option<u32>) -> String {
    let num = |x: f64| {
        if x.fract() == 0.0 {
            format!("{x:.0}")
        } else {
            format!("{x}")
        }
    };
    let plural = |x: f64, one: &str, many: &str| {
        if x == 1.0 {
            format!("{} {one}", num(x))
        } else {
            format!("{} {many}", num(x))
        }
    };
    let marketing = match mql_commitment.or(policy.mql_commitment) {
        Some(n) => format!("Marketing will deliver {n} MQLs per period"),
        None => "Marketing will deliver the MQLs the reverse funnel derives from the revenue goal"
            .to_string(),
    };
    format!(
        "Sales will make a first touch on every MQL within {}, make {} within {} unless they connect sooner, and accept or reject every MQL with a reason within {}. {}, and at least {:.0} % of them will be accepted by sales. A clock is at risk once {:.0} % of its budget is used.",
        plural(
            policy.first_touch_working_hours,
            "working hour",
            "working hours"
        ),
        plural(policy.attempts as f64, "attempt", "attempts"),
        plural(
            policy.attempts_within_working_days,
            "working day",
            "working days"
        ),
        plural(
            policy.decision_within_working_days,
            "working day",
            "working days"
        ),
        marketing,
        policy.min_acceptance_rate * 100.0,
        policy.at_risk_share * 100.0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::CalendarSpec;
    use crate::playbook::Playbook;

    fn cal() -> WorkingCalendar {
        let day = vec!["09:00-17:00".to_string()];
        let weekly = ["mon", "tue", "wed", "thu", "fri"]
            .iter()
            .map(|d| (d.to_string(), day.clone()))
            .collect();
        WorkingCalendar::from_spec(&CalendarSpec {
            time_zone: "Europe/Berlin".into(),
            weekly,
            holidays: vec![],
            out_of_office: vec![],
        })
        .unwrap()
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn policy() -> SlaPolicy {
        Playbook::default_playbook().sla
    }

    #[test]
    fn first_touch_over_a_weekend() {
        // Handoff Friday 15:00 Berlin (14:00Z); 4 working hours: 2 on Friday, 2 on Monday.
        let facts = HandoffFacts {
            started_at: Some(ts("2026-11-27T14:00:00Z")),
            ..Default::default()
        };
        let c = evaluate(
            &policy(),
            &cal(),
            ClockKind::FirstTouch,
            &facts,
            ts("2026-11-28T12:00:00Z"),
        );
        assert_eq!(c.due_at, Some(ts("2026-11-30T10:00:00Z")));
        // At risk at 75 %: 3 h in, Monday 10:00 Berlin.
        assert_eq!(c.at_risk_at, Some(ts("2026-11-30T09:00:00Z")));
        assert_eq!(c.state, ClockState::OnTrack, "the weekend does not count");
        assert_eq!(c.used_seconds, 2 * 3600);
        let c = evaluate(
            &policy(),
            &cal(),
            ClockKind::FirstTouch,
            &facts,
            ts("2026-11-30T09:30:00Z"),
        );
        assert_eq!(c.state, ClockState::AtRisk);
        let late = evaluate(
            &policy(),
            &cal(),
            ClockKind::FirstTouch,
            &facts,
            ts("2026-11-30T12:00:00Z"),
        );
        assert_eq!(late.state, ClockState::Breached);
        assert_eq!(
            late.changes.iter().map(|c| c.state).collect::<Vec<_>>(),
            [
                ClockState::OnTrack,
                ClockState::AtRisk,
                ClockState::Breached
            ]
        );
        // A call on Monday 09:15Z meets it.
        let mut worked = facts.clone();
        worked.activities.push((ts("2026-11-30T08:15:00Z"), false));
        let c = evaluate(
            &policy(),
            &cal(),
            ClockKind::FirstTouch,
            &worked,
            ts("2026-12-01T12:00:00Z"),
        );
        assert_eq!(
            (c.state, c.met_at),
            (ClockState::Met, Some(ts("2026-11-30T08:15:00Z")))
        );
    }

    #[test]
    fn attempts_and_decision() {
        let start = ts("2026-11-30T08:00:00Z"); // Monday 09:00 Berlin
        let mut facts = HandoffFacts {
            started_at: Some(start),
            ..Default::default()
        };
        // Five attempts, no connect: not met yet (six needed).
        for h in 1..=5 {
            facts
                .activities
                .push((ts(&format!("2026-11-30T{:02}:00:00Z", 8 + h)), false));
        }
        let c = evaluate(
            &policy(),
            &cal(),
            ClockKind::Attempts,
            &facts,
            ts("2026-12-01T08:00:00Z"),
        );
        assert_eq!(c.state, ClockState::OnTrack);
        // The budget is 10 working days of 8 h.
        assert_eq!(c.budget_seconds, 80 * 3600);
        facts.activities.push((ts("2026-12-01T09:00:00Z"), true));
        let c = evaluate(
            &policy(),
            &cal(),
            ClockKind::Attempts,
            &facts,
            ts("2026-12-02T08:00:00Z"),
        );
        assert_eq!(
            (c.state, c.met_at),
            (ClockState::Met, Some(ts("2026-12-01T09:00:00Z")))
        );
        // Decision within 5 working days (40 h): used up on Friday at 17:00.
        let d = evaluate(
            &policy(),
            &cal(),
            ClockKind::Decision,
            &facts,
            ts("2026-12-08T08:00:00Z"),
        );
        assert_eq!(d.due_at, Some(ts("2026-12-04T16:00:00Z")));
        assert_eq!(d.state, ClockState::Breached);
        facts.decided_at = Some(ts("2026-12-02T10:00:00Z"));
        let d = evaluate(
            &policy(),
            &cal(),
            ClockKind::Decision,
            &facts,
            ts("2026-12-08T08:00:00Z"),
        );
        assert_eq!(d.state, ClockState::Met);
        assert!(
            evaluate_all(&policy(), &cal(), &facts, ts("2026-12-08T08:00:00Z"))
                .iter()
                .all(|c| c.state == ClockState::Met)
        );
    }

    #[test]
    fn the_agreement_reads_as_a_sentence() {
        let s = agreement_summary(&policy(), None);
        assert!(s.starts_with("Sales will make a first touch on every MQL within 4 working hours, make 6 attempts within 10 working days"), "{s}");
        assert!(s.contains("at least 60 % of them will be accepted"), "{s}");
        assert!(
            agreement_summary(&policy(), Some(120))
                .contains("Marketing will deliver 120 MQLs per period")
        );
    }
}
