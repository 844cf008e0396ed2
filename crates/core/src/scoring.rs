//! Lead scoring: fit (who the contact is, never decays) plus engagement (what
//! the contact did, halving every half-life), with every contribution listed
//! so that both teams can see why a lead is, or is not, an MQL.

use crate::condition::all_match;
use crate::lifecycle::Stage;
use crate::playbook::{Playbook, Profile};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// One touch as scoring sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredTouch {
    pub touchpoint_id: i64,
    pub occurred_at: Timestamp,
    pub channel: String,
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ScorePart {
    Fit,
    Engagement,
}

/// One line of a score's explanation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Contribution {
    pub part: ScorePart,
    /// The playbook rule that gave the points.
    pub rule: String,
    /// Points as the rule states them.
    pub points: i64,
    /// The touch behind an engagement contribution.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub touchpoint_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub occurred_at: Option<Timestamp>,
    /// Points after decay at the scoring instant (equal to `points` for fit).
    pub value: f64,
}

/// A contact's scores at an instant, with their explanation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScoreCard {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
    pub fit: i64,
    pub engagement: f64,
    pub fit_threshold: i64,
    pub engagement_threshold: f64,
    /// Whether both thresholds are met.
    pub meets_mql_threshold: bool,
    /// The playbook version whose rules scored it, when the caller knows it
    /// (the app does: a report says which version its scores are from).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playbook_version: Option<i64>,
    pub contributions: Vec<Contribution>,
}

/// Why a contact becomes an MQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MqlCause {
    /// A hand-raiser touch (demo request, contact sales, ...).
    HandRaiser,
    /// Fit and engagement both reached their thresholds.
    Threshold,
}

impl MqlCause {
    pub fn as_str(self) -> &'static str {
        match self {
            MqlCause::HandRaiser => "hand_raiser",
            MqlCause::Threshold => "score_threshold",
        }
    }
}

/// The decay factor of a touch `age_days` old: 2^(−age / half-life).
pub fn decay(age_days: f64, half_life_days: f64) -> f64 {
    if age_days <= 0.0 {
        1.0
    } else {
        (-age_days / half_life_days).exp2()
    }
}

/// Scores a contact at `at`. Touches after `at` are ignored; the order of
/// `touches` does not matter.
pub fn score(
    playbook: &Playbook,
    profile: &Profile,
    touches: &[ScoredTouch],
    at: Timestamp,
) -> ScoreCard {
    let sc = &playbook.scoring;
    let mut contributions = Vec::new();
    let mut fit = 0i64;
    for rule in &sc.fit_rules {
        if !rule.when.is_empty() && all_match(&rule.when, profile) {
            fit += rule.points;
            contributions.push(Contribution {
                part: ScorePart::Fit,
                rule: rule.id.clone(),
                points: rule.points,
                touchpoint_id: None,
                occurred_at: None,
                value: rule.points as f64,
            });
        }
    }
    let mut ordered: Vec<&ScoredTouch> = touches.iter().filter(|t| t.occurred_at <= at).collect();
    ordered.sort_by_key(|t| (t.occurred_at, t.touchpoint_id));
    let mut engagement = 0.0;
    for t in ordered {
        let age_days = (at.as_millisecond() - t.occurred_at.as_millisecond()) as f64 / 86_400_000.0;
        let factor = decay(age_days, sc.engagement_half_life_days);
        for rule in &sc.engagement_rules {
            let kind_ok = rule
                .kind
                .as_ref()
                .is_none_or(|k| t.kind.as_deref() == Some(k.as_str()));
            let channel_ok = rule.channel.as_ref().is_none_or(|c| *c == t.channel);
            if kind_ok && channel_ok {
                let value = rule.points as f64 * factor;
                engagement += value;
                contributions.push(Contribution {
                    part: ScorePart::Engagement,
                    rule: rule.id.clone(),
                    points: rule.points,
                    touchpoint_id: Some(t.touchpoint_id),
                    occurred_at: Some(t.occurred_at),
                    value,
                });
            }
        }
    }
    ScoreCard {
        at,
        fit,
        engagement,
        fit_threshold: sc.mql_fit_min,
        engagement_threshold: sc.mql_engagement_min,
        meets_mql_threshold: fit >= sc.mql_fit_min && engagement >= sc.mql_engagement_min,
        playbook_version: None,
        contributions,
    }
}

/// Decides whether the touch `touch` (already part of `card`, scored at the
/// touch's instant) makes a contact in `stage` an MQL, and why.
///
/// A contact recycled at `recycled_at` is being nurtured: a hand-raiser
/// after that re-qualifies it at once; the thresholds (on engagement since
/// then, as its card counts it) only once the playbook's nurture period is
/// over. A recycled contact's rejection means something.
pub fn mql_trigger(
    playbook: &Playbook,
    stage: Stage,
    card: &ScoreCard,
    touch: Option<&ScoredTouch>,
    recycled_at: Option<Timestamp>,
) -> Option<MqlCause> {
    if !stage.can_become_mql() {
        return None;
    }
    let recycled = recycled_at.filter(|_| stage == Stage::Recycled);
    let hand_raiser = touch.is_some_and(|t| {
        t.kind
            .as_deref()
            .is_some_and(|k| playbook.is_hand_raiser(k))
            && recycled.is_none_or(|r| t.occurred_at > r)
    });
    let nurtured = recycled.is_none_or(|r| {
        let nurture = SignedDuration::from_secs_f64(playbook.recycle.nurture_days * 86_400.0);
        card.at >= r.saturating_add(nurture).unwrap_or(Timestamp::MAX)
    });
    if hand_raiser {
        Some(MqlCause::HandRaiser)
    } else if card.meets_mql_threshold && nurtured {
        Some(MqlCause::Threshold)
    } else {
        None
    }
}

/// The stage change records why a contact became an MQL.
impl From<MqlCause> for crate::closed::StageCause {
    fn from(c: MqlCause) -> Self {
        match c {
            MqlCause::HandRaiser => crate::closed::StageCause::HandRaiser,
            MqlCause::Threshold => crate::closed::StageCause::ScoreThreshold,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn touch(id: i64, at: &str, kind: &str) -> ScoredTouch {
        ScoredTouch {
            touchpoint_id: id,
            occurred_at: ts(at),
            channel: "webinar".into(),
            kind: Some(kind.into()),
        }
    }

    fn exec() -> Profile {
        Profile {
            persona: Some("executive".into()),
            company_size: Some("enterprise".into()),
            ..Default::default()
        }
    }

    #[test]
    fn an_mql_cause_is_recorded_as_the_stage_cause_of_the_same_name() {
        for c in [MqlCause::HandRaiser, MqlCause::Threshold] {
            assert_eq!(crate::closed::StageCause::from(c).as_str(), c.as_str());
        }
    }

    #[test]
    fn fit_and_engagement_with_explanation() {
        let p = Playbook::default_playbook();
        let touches = [
            touch(1, "2024-01-01T00:00:00Z", "webinar_attended"),
            touch(2, "2024-01-31T00:00:00Z", "webinar_attended"),
        ];
        let card = score(&p, &exec(), &touches, ts("2024-01-31T00:00:00Z"));
        assert_eq!(card.fit, 45);
        // 15 halved after exactly one half-life (30 days) plus 15 fresh.
        assert!((card.engagement - 22.5).abs() < 1e-9, "{}", card.engagement);
        assert!(!card.meets_mql_threshold);
        let fit_rules: Vec<_> = card
            .contributions
            .iter()
            .filter(|c| c.part == ScorePart::Fit)
            .map(|c| c.rule.as_str())
            .collect();
        assert_eq!(fit_rules, ["persona_executive", "size_enterprise"]);
        let first = card
            .contributions
            .iter()
            .find(|c| c.touchpoint_id == Some(1))
            .unwrap();
        assert!((first.value - 7.5).abs() < 1e-9);
    }

    #[test]
    fn touches_after_the_instant_do_not_count() {
        let p = Playbook::default_playbook();
        let touches = [touch(1, "2024-02-01T00:00:00Z", "demo_request")];
        let card = score(&p, &exec(), &touches, ts("2024-01-01T00:00:00Z"));
        assert_eq!(card.engagement, 0.0);
        assert!(card.contributions.iter().all(|c| c.part == ScorePart::Fit));
    }

    #[test]
    fn hand_raiser_or_threshold_makes_an_mql() {
        let p = Playbook::default_playbook();
        let demo = touch(1, "2024-01-01T00:00:00Z", "demo_request");
        let card = score(
            &p,
            &Profile::default(),
            std::slice::from_ref(&demo),
            demo.occurred_at,
        );
        assert_eq!(
            mql_trigger(&p, Stage::Lead, &card, Some(&demo), None),
            Some(MqlCause::HandRaiser)
        );
        assert_eq!(mql_trigger(&p, Stage::Sql, &card, Some(&demo), None), None);

        let touches = [
            touch(1, "2024-01-01T00:00:00Z", "webinar_attended"),
            touch(2, "2024-01-01T01:00:00Z", "meeting_booked"),
        ];
        let card = score(&p, &exec(), &touches, touches[1].occurred_at);
        assert!(card.meets_mql_threshold);
        assert_eq!(
            mql_trigger(&p, Stage::Recycled, &card, Some(&touches[1]), None),
            Some(MqlCause::Threshold)
        );
        let low = score(&p, &Profile::default(), &touches, touches[1].occurred_at);
        assert_eq!(
            mql_trigger(&p, Stage::Lead, &low, Some(&touches[1]), None),
            None
        );
    }

    #[test]
    fn a_recycled_contact_waits_out_its_nurture_or_raises_its_hand() {
        let p = Playbook::default_playbook();
        let recycled = ts("2024-01-01T00:00:00Z");
        let touches = [
            touch(1, "2024-01-02T00:00:00Z", "webinar_attended"),
            touch(2, "2024-01-02T01:00:00Z", "meeting_booked"),
        ];
        let card = score(&p, &exec(), &touches, touches[1].occurred_at);
        assert!(card.meets_mql_threshold);
        // Engagement a day after the rejection: still nurturing.
        assert_eq!(
            mql_trigger(
                &p,
                Stage::Recycled,
                &card,
                Some(&touches[1]),
                Some(recycled)
            ),
            None
        );
        // The same engagement after the 30 days.
        let late = [
            touch(1, "2024-02-01T00:00:00Z", "webinar_attended"),
            touch(2, "2024-02-01T01:00:00Z", "meeting_booked"),
        ];
        let card = score(&p, &exec(), &late, late[1].occurred_at);
        assert_eq!(
            mql_trigger(&p, Stage::Recycled, &card, Some(&late[1]), Some(recycled)),
            Some(MqlCause::Threshold)
        );
        // A new hand-raiser does not wait.
        let demo = touch(3, "2024-01-03T00:00:00Z", "demo_request");
        let card = score(
            &p,
            &Profile::default(),
            std::slice::from_ref(&demo),
            demo.occurred_at,
        );
        assert_eq!(
            mql_trigger(&p, Stage::Recycled, &card, Some(&demo), Some(recycled)),
            Some(MqlCause::HandRaiser)
        );
        // An old hand-raiser, from before the rejection, does not count again.
        let old = touch(4, "2023-12-31T00:00:00Z", "demo_request");
        let card = score(
            &p,
            &Profile::default(),
            std::slice::from_ref(&old),
            recycled,
        );
        assert_eq!(
            mql_trigger(&p, Stage::Recycled, &card, Some(&old), Some(recycled)),
            None
        );
    }

    proptest! {
        /// Engagement never grows as time passes without new touches, and is
        /// halved after exactly one half-life.
        #[test]
        fn engagement_decays_monotonically(days in prop::collection::vec(0i64..400, 1..20), wait in 0i64..200) {
            let p = Playbook::default_playbook();
            let base = ts("2024-01-01T00:00:00Z").as_millisecond();
            let touches: Vec<ScoredTouch> = days.iter().enumerate().map(|(i, d)| ScoredTouch {
                touchpoint_id: i as i64,
                occurred_at: Timestamp::from_millisecond(base + d * 86_400_000).unwrap(),
                channel: "email".into(),
                kind: Some("email_click".into()),
            }).collect();
            let last = base + days.iter().max().unwrap() * 86_400_000;
            let at = |d: i64| Timestamp::from_millisecond(last + d * 86_400_000).unwrap();
            let now = score(&p, &Profile::default(), &touches, at(wait)).engagement;
            let later = score(&p, &Profile::default(), &touches, at(wait + 1)).engagement;
            prop_assert!(later <= now + 1e-9);
            let halved = score(&p, &Profile::default(), &touches, at(wait + 30)).engagement;
            prop_assert!((halved - now / 2.0).abs() < 1e-9 * now.max(1.0));
        }
    }
}
