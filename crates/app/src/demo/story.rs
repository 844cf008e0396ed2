//! The lifecycle story of one demo contact: lead at its first touch, MQL by
//! the playbook's own scoring, then the handoff, the rep's work, the
//! decision and — for an accepted lead — qualification, a deal and its close.

use super::world::{World, at};
use super::{DAY, HOUR};
use rand::prelude::*;
use rand_chacha::ChaCha8Rng;
use smarketing_core::playbook::{Profile, RejectOutcome};
use smarketing_core::scoring::{ScoredTouch, mql_trigger, score};
use smarketing_core::{
    ActivityKind, ActivityOutcome, DealStatus, Decision, Playbook, Stage, StageCause,
};
use smarketing_store::{
    Account, Activity, Contact, Deal, Handoff, HandoffAssignment, Note, StageChange, Touchpoint,
};

/// Records the rep's decision on the latest handoff.
fn decide(w: &mut World, decision: Decision, reason: Option<&str>, at_ms: i64, by: i64) {
    if let Some((_, h)) = w.handoffs.last_mut() {
        h.decision = Some(decision);
        h.reason_code = reason.map(str::to_string);
        h.decided_at = Some(at(at_ms));
        h.decided_by = Some(by);
        h.updated_at = at(at_ms);
    }
}

/// Tells the story of `contact` (of `account`, its journey being `touches`):
/// sets its stage and scores, records its handoff, notes and activities in
/// `w`, and returns its stage changes and its deal, numbered after those
/// already in `w`.
#[allow(clippy::too_many_arguments)]
pub(super) fn tell(
    w: &mut World,
    rng: &mut ChaCha8Rng,
    playbook: &Playbook,
    contact: &mut Contact,
    account: &Account,
    prof: &Profile,
    touches: &[Touchpoint],
    persona: &str,
    reps: &[i64],
    marketers: &[i64],
    rep_turn: &mut usize,
    end: i64,
) -> (Vec<StageChange>, Option<Deal>) {
    let cid = contact.id;
    let created_ms = contact.created_at.millis();
    // Lifecycle: lead at the first touch, MQL by the playbook's scoring.
    let sc_id = |w: &World, extra: usize| w.stage_changes.len() as i64 + extra as i64 + 1;
    let mut changes: Vec<StageChange> = Vec::new();
    let push_change = |changes: &mut Vec<StageChange>,
                       w: &World,
                       from: Option<Stage>,
                       to: Stage,
                       at_ms: i64,
                       actor: Option<i64>,
                       cause: StageCause,
                       reason: Option<&str>,
                       touch: Option<i64>| {
        changes.push(StageChange {
            id: sc_id(w, changes.len()),
            contact_id: cid,
            from_stage: from,
            to_stage: to,
            changed_at: at(at_ms),
            actor: actor
                .map(|u| format!("user:{u}"))
                .unwrap_or_else(|| "system".into()),
            actor_user_id: actor,
            cause,
            reason_code: reason.map(str::to_string),
            note: None,
            touchpoint_id: touch,
        });
    };
    push_change(
        &mut changes,
        w,
        None,
        Stage::Lead,
        created_ms,
        None,
        StageCause::Created,
        None,
        touches.first().map(|t| t.id),
    );
    let mut scored: Vec<ScoredTouch> = touches
        .iter()
        .map(|t| ScoredTouch {
            touchpoint_id: t.id,
            occurred_at: t.occurred_at.timestamp(),
            channel: t.channel.clone(),
            kind: t.kind.clone(),
        })
        .collect();
    let mut mql_at = None;
    for (k, st) in scored.iter().enumerate() {
        let card = score(playbook, prof, &scored[..=k], st.occurred_at);
        if let Some(cause) = mql_trigger(playbook, Stage::Lead, &card, Some(st), None) {
            mql_at = Some((st.occurred_at.as_millisecond(), cause, st.touchpoint_id));
            break;
        }
    }
    let mut stage = Stage::Lead;
    let mut deal: Option<Deal> = None;
    if let Some((mql_ms, cause, touch)) = mql_at {
        push_change(
            &mut changes,
            w,
            Some(Stage::Lead),
            Stage::Mql,
            mql_ms,
            None,
            cause.into(),
            None,
            Some(touch),
        );
        stage = Stage::Mql;
        let mql_change_id = changes.last().map(|c| c.id);
        let owner = account.owner_id.unwrap_or_else(|| {
            *rep_turn += 1;
            reps[*rep_turn % reps.len()]
        });
        contact.owner_id = Some(owner);
        let (rule, why) = if account.owner_id.is_some() {
            ("account_owner", "account owner")
        } else {
            ("round_robin", "round-robin")
        };
        let handoff = Handoff {
            id: w.handoffs.len() as i64 + 1,
            contact_id: cid,
            mql_change_id,
            assignee_id: Some(owner),
            assigned_at: Some(at(mql_ms)),
            route_rule: rule.into(),
            route_reason: why.into(),
            decision: None,
            decided_at: None,
            decided_by: None,
            reason_code: None,
            decision_note: None,
            // Set to the demo's playbook version once the world is built.
            playbook_version: None,
            agreement_version: None,
            closed_at: None,
            closed_cause: None,
            closed_by: None,
            created_at: at(mql_ms),
            updated_at: at(mql_ms),
        };
        w.assignments.push((
            w.assignments.len() as i64 + 1,
            HandoffAssignment {
                id: w.assignments.len() as i64 + 1,
                handoff_id: handoff.id,
                user_id: Some(owner),
                assigned_at: at(mql_ms),
                actor: "system".into(),
                actor_user_id: None,
                rule: rule.into(),
                reason: why.into(),
            },
        ));
        w.handoffs.push((handoff.id, handoff));
        if rng.random_bool(0.35) {
            let nid = w.notes.len() as i64 + 1;
            let author = marketers[rng.random_range(0..marketers.len())];
            w.notes.push((
                nid,
                Note {
                    id: nid,
                    contact_id: Some(cid),
                    account_id: None,
                    deal_id: None,
                    author_id: Some(author),
                    body: format!(
                        "Handoff context: came in through {}, asked about {}.",
                        contact.source_channel.clone().unwrap_or_default(),
                        [
                            "pricing",
                            "integrations",
                            "security review",
                            "onboarding time",
                            "a pilot"
                        ][rng.random_range(0..5)]
                    ),
                    created_at: at(mql_ms + 10 * 60_000),
                    updated_at: at(mql_ms + 10 * 60_000),
                },
            ));
        }
        // The rep works the lead: attempts, perhaps a connect.
        let mut t = mql_ms + rng.random_range(HOUR / 2..30 * HOUR);
        let attempts = rng.random_range(1..7);
        for a in 0..attempts {
            if t >= end {
                break;
            }
            let aid = w.activities.len() as i64 + 1;
            let connect = a == attempts - 1 && rng.random_bool(0.55);
            w.activities.push((
                aid,
                Activity {
                    id: aid,
                    contact_id: cid,
                    deal_id: None,
                    user_id: Some(owner),
                    kind: if a % 2 == 0 {
                        ActivityKind::Call
                    } else {
                        ActivityKind::Email
                    },
                    outcome: if connect {
                        ActivityOutcome::Connect
                    } else {
                        ActivityOutcome::Attempt
                    },
                    subject: Some(if connect {
                        "Discovery call".into()
                    } else {
                        format!("Follow-up #{}", a + 1)
                    }),
                    body: None,
                    occurred_at: at(t),
                    logged_by: Some(owner),
                    created_at: at(t),
                    updated_at: at(t),
                },
            ));
            t += rng.random_range(4 * HOUR..2 * DAY);
        }
        let decided = mql_ms + rng.random_range(2 * HOUR..4 * DAY);
        let student = persona == "student";
        if decided < end {
            if student || rng.random_bool(0.28) {
                let (to, reason) = if student {
                    (Stage::Disqualified, "student_or_job_seeker")
                } else {
                    *[
                        (Stage::Recycled, "not_ready"),
                        (Stage::Recycled, "no_budget"),
                        (Stage::Disqualified, "bad_fit"),
                        (Stage::Recycled, "unreachable"),
                        (Stage::Disqualified, "wrong_contact"),
                        (Stage::Disqualified, "competitor"),
                    ]
                    .choose(rng)
                    .expect("non-empty")
                };
                push_change(
                    &mut changes,
                    w,
                    Some(stage),
                    to,
                    decided,
                    Some(owner),
                    StageCause::HandoffRejected,
                    Some(reason),
                    None,
                );
                stage = to;
                decide(w, Decision::Rejected, Some(reason), decided, owner);
            } else {
                push_change(
                    &mut changes,
                    w,
                    Some(stage),
                    Stage::Sal,
                    decided,
                    Some(owner),
                    StageCause::HandoffAccepted,
                    None,
                    None,
                );
                stage = Stage::Sal;
                decide(w, Decision::Accepted, None, decided, owner);
                let sql_at = decided + rng.random_range(DAY..18 * DAY);
                if sql_at < end && rng.random_bool(0.62) {
                    push_change(
                        &mut changes,
                        w,
                        Some(stage),
                        Stage::Sql,
                        sql_at,
                        Some(owner),
                        StageCause::Qualified,
                        None,
                        None,
                    );
                    stage = Stage::Sql;
                    let opp_at = sql_at + rng.random_range(2 * DAY..15 * DAY);
                    if opp_at < end && rng.random_bool(0.68) {
                        push_change(
                            &mut changes,
                            w,
                            Some(stage),
                            Stage::Opportunity,
                            opp_at,
                            Some(owner),
                            StageCause::DealCreated,
                            None,
                            None,
                        );
                        stage = Stage::Opportunity;
                        let amount = match account.company_size.as_deref() {
                            Some("enterprise") => rng.random_range(60_000..300_000),
                            Some("mid_market") => rng.random_range(18_000..90_000),
                            _ => rng.random_range(4_000..25_000),
                        };
                        let close_at = opp_at + rng.random_range(14 * DAY..100 * DAY);
                        let won = rng.random_bool(0.32);
                        let did = w.deals.len() as i64 + 1;
                        let closed = close_at < end;
                        let mut d = Deal {
                            id: did,
                            external_id: None,
                            name: format!(
                                "{} – {}",
                                account.name,
                                ["Starter", "Growth", "Enterprise", "Pilot"]
                                    [rng.random_range(0..4)]
                            ),
                            contact_id: Some(cid),
                            account_id: Some(account.id),
                            owner_id: Some(owner),
                            amount_minor: amount * 100,
                            pipeline_stage: playbook.pipeline_stages
                                [rng.random_range(0..playbook.pipeline_stages.len())]
                            .clone(),
                            status: DealStatus::Open,
                            lost_reason: None,
                            created_at: at(opp_at),
                            closed_at: None,
                            updated_at: at(opp_at),
                        };
                        if closed {
                            d.pipeline_stage =
                                playbook.pipeline_stages.last().cloned().unwrap_or_default();
                            d.closed_at = Some(at(close_at));
                            d.updated_at = at(close_at);
                            if won {
                                d.status = DealStatus::Won;
                                push_change(
                                    &mut changes,
                                    w,
                                    Some(stage),
                                    Stage::Customer,
                                    close_at,
                                    Some(owner),
                                    StageCause::DealWon,
                                    None,
                                    None,
                                );
                                stage = Stage::Customer;
                            } else {
                                d.status = DealStatus::Lost;
                                d.lost_reason = Some(
                                    [
                                        "price",
                                        "timing",
                                        "competitor",
                                        "no decision",
                                        "missing feature",
                                    ][rng.random_range(0..5)]
                                    .into(),
                                );
                                // The lost deal sends the contact back to
                                // marketing, or out, as the playbook maps it.
                                let reason = playbook
                                    .recycle
                                    .reason_for_lost_deal(d.lost_reason.as_deref())
                                    .to_string();
                                let to = match playbook.rejection_reason(&reason).map(|r| r.outcome)
                                {
                                    Some(RejectOutcome::Disqualify) => Stage::Disqualified,
                                    Some(RejectOutcome::Recycle) => Stage::Recycled,
                                    None => stage,
                                };
                                if to != stage {
                                    push_change(
                                        &mut changes,
                                        w,
                                        Some(stage),
                                        to,
                                        close_at,
                                        Some(owner),
                                        StageCause::DealLost,
                                        Some(&reason),
                                        None,
                                    );
                                    stage = to;
                                }
                            }
                        }
                        deal = Some(d);
                    }
                }
            }
        }
    }
    // An SAL sales never moved on went back to marketing after the
    // playbook's working days (about three weeks of calendar).
    let follow_up = playbook.recycle.no_follow_up_reason.clone();
    if stage == Stage::Sal
        && playbook.rejection_reason(&follow_up).is_some()
        && let Some(sal_ms) = changes.last().map(|c| c.changed_at.millis())
    {
        let back = sal_ms + (playbook.recycle.no_follow_up_working_days * 1.5).ceil() as i64 * DAY;
        if back < end {
            push_change(
                &mut changes,
                w,
                Some(stage),
                Stage::Recycled,
                back,
                None,
                StageCause::NoFollowUp,
                Some(&follow_up),
                None,
            );
            stage = Stage::Recycled;
        }
    }
    contact.stage = stage;
    contact.recycled_at = changes
        .iter()
        .rev()
        .find(|c| c.to_stage == Stage::Recycled)
        .map(|c| c.changed_at);
    // Recycling restarts engagement, as the kernel's rescoring counts it.
    if let Some(r) = contact.recycled_at {
        scored.retain(|t| t.occurred_at > r.timestamp());
    }
    let last_ms = changes
        .last()
        .map(|c| c.changed_at.millis())
        .unwrap_or(created_ms);
    contact.updated_at = at(last_ms);
    let card = score(playbook, prof, &scored, at(end).timestamp());
    contact.fit_score = card.fit;
    contact.engagement_score = card.engagement;
    contact.scored_at = Some(at(end));
    (changes, deal)
}
