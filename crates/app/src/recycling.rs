//! Leads sales accepted and then dropped go back to marketing: an SAL that
//! sales neither qualified nor disqualified within the playbook's working
//! days is recycled with the reason `no_follow_up`, and marketing is told.

use crate::lifecycle::{StageMove, change_stage};
use crate::{Actor, App, AppError};
use smarketing_core::access::{Action, Relation};
use smarketing_core::calendar::WorkingCalendar;
use smarketing_core::{Instant, Stage, StageCause, Team};
use smarketing_store::{Contact, repo};

impl App {
    /// Recycles every SAL left without follow-up past the playbook's
    /// `recycle.no_follow_up_working_days` (in the company calendar), each
    /// with a stage change and a notification to marketing's leads; returns
    /// how many went back.
    pub async fn return_unfollowed_sals(&self) -> Result<usize, AppError> {
        let (_, playbook) = self.playbook().await?;
        if !playbook.has_stage(Stage::Sal) || !playbook.has_stage(Stage::Recycled) {
            return Ok(0);
        }
        let now = self.now();
        let calendar = WorkingCalendar::from_spec(&playbook.calendar)?;
        let day = calendar.typical_working_day();
        let budget = jiff::SignedDuration::from_secs_f64(
            playbook.recycle.no_follow_up_working_days * day.as_secs_f64(),
        );
        // N working days take at least N calendar days: read only those.
        let days = playbook.recycle.no_follow_up_working_days.ceil() as i64;
        let before = Instant::from_millis(now.millis() - days * 86_400_000)?;
        let reason = playbook.recycle.no_follow_up_reason.clone();
        // A playbook without the reason (one stored before it existed) has
        // no way to record the move: nothing goes back.
        if playbook.rejection_reason(&reason).is_none() {
            return Ok(0);
        }
        let mut tx = self.store().begin().await?;
        let marketing_leads: Vec<i64> = repo::users(&mut tx)
            .await?
            .into_iter()
            // Marketing's leads: those who may sign for the team.
            .filter(|u| {
                u.team == Team::Marketing
                    && Actor::user(u).may(Action::SignAgreement, Relation::Own)
            })
            .map(|u| u.id)
            .collect();
        let system = Actor::system();
        let mut returned = 0;
        for (id, entered) in repo::sals_entered_before(&mut tx, before).await? {
            let due = calendar.add_working(entered.timestamp(), budget);
            if due.is_none_or(|d| d > now.timestamp()) {
                continue;
            }
            let mut c: Contact = repo::get(&mut tx, id).await?;
            let m = StageMove {
                reason: Some(&reason),
                note: Some(format!(
                    "accepted by sales but not followed up within {} working days",
                    playbook.recycle.no_follow_up_working_days
                )),
                ..StageMove::new(Stage::Recycled, StageCause::NoFollowUp, &system, now)
            };
            change_stage(&mut tx, &playbook, &mut c, m).await?;
            for lead in &marketing_leads {
                repo::insert_notification(
                    &mut tx,
                    *lead,
                    "lead.no_follow_up",
                    None,
                    "A lead came back without follow-up",
                    &format!(
                        "{}: sales accepted it but did not follow up; it is back in nurture.",
                        c.email
                    ),
                    now,
                )
                .await?;
            }
            crate::outbox::emit(
                &mut tx,
                "lead.no_follow_up",
                &serde_json::json!({ "contact_id": c.id, "email": c.email, "sal_since": entered }),
                Some(c.id),
                now,
            )
            .await?;
            returned += 1;
        }
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(returned)
    }
}
