//! The web workspace's pages and who sees each, decided here from the
//! permission table so that the navigation, the 404s and the JSON API
//! agree; and the rep's queue, the page reps live in.

use crate::App;
use crate::access::Actor;
use crate::error::AppError;
use crate::escalations::{clocks, sales_work};
use crate::routing::SalesTeam;
use crate::sla_terms::SlaTerms;
use serde::Serialize;
use smarketing_core::sla::{Clock, ClockState};
use smarketing_core::{Action, Relation};
use smarketing_store::filters::{HandoffRows, HandoffState};
use smarketing_store::{Contact, Handoff, User, repo};

/// A page of the workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkspacePage {
    /// Team Revenue, the home page: everyone's.
    TeamRevenue,
    /// A rep's handoffs in SLA order: whoever works handoffs.
    Queue,
    /// The agreement, its sign-offs, compliance and breaches: everyone's.
    Sla,
    /// The playbook both teams own: everyone reads it, admins change it.
    Playbook,
}

impl WorkspacePage {
    /// Every page, in the navigation's order.
    pub const ALL: [WorkspacePage; 4] = [
        WorkspacePage::TeamRevenue,
        WorkspacePage::Queue,
        WorkspacePage::Sla,
        WorkspacePage::Playbook,
    ];

    /// Whether `actor` sees this page: the permission table on what the
    /// page is for.
    pub fn visible_to(self, actor: &Actor) -> bool {
        match self {
            WorkspacePage::TeamRevenue | WorkspacePage::Sla | WorkspacePage::Playbook => true,
            WorkspacePage::Queue => actor.may(Action::WorkHandoff, Relation::Own),
        }
    }

    /// The pages `actor` sees, in order.
    pub fn visible(actor: &Actor) -> Vec<WorkspacePage> {
        Self::ALL
            .into_iter()
            .filter(|p| p.visible_to(actor))
            .collect()
    }

    /// This page for `actor`, or 404 when they may not see it: a page one
    /// may not see does not exist for them.
    pub fn open(self, actor: &Actor) -> Result<(), AppError> {
        if self.visible_to(actor) {
            Ok(())
        } else {
            Err(AppError::not_found("page", format!("{self:?}")))
        }
    }
}

/// One handoff in a queue: the lead, why it is here, and its clocks.
#[derive(Debug, Clone, Serialize)]
pub struct QueueItem {
    pub handoff: Handoff,
    pub contact: Contact,
    pub clocks: Vec<Clock>,
    /// Attempts logged since it was assigned, against the agreed number.
    pub attempts: u32,
    pub attempts_agreed: u32,
    /// The earliest due time among the clocks still running.
    pub due_at: Option<smarketing_core::Timestamp>,
}

impl QueueItem {
    /// The clock closest to its deadline among those still running.
    pub fn next_clock(&self) -> Option<&Clock> {
        self.clocks
            .iter()
            .filter(|c| c.state != ClockState::Met && c.met_at.is_none())
            .min_by_key(|c| c.due_at)
    }
}

/// A rep's queue: their open handoffs, soonest due first, and how their
/// SLA stands today.
#[derive(Debug, Clone, Serialize)]
pub struct Queue {
    pub rep: User,
    pub items: Vec<QueueItem>,
    /// Open clocks by state.
    pub on_track: u32,
    pub at_risk: u32,
    pub breached: u32,
    /// Whether the rep's working calendar is open now (their clocks run).
    pub working_now: bool,
    /// The reps whose queue `actor` may open (their own, or their team's
    /// for a manager), for the picker and reassignment.
    pub reps: Vec<User>,
}

impl App {
    /// The queue of `rep` (default: the actor's own). A manager opens their
    /// team's queues; a queue one may not work answers 404.
    pub async fn queue(&self, actor: &Actor, rep: Option<i64>) -> Result<Queue, AppError> {
        WorkspacePage::Queue.open(actor)?;
        let whose = rep.or(actor.user_id).ok_or_else(|| {
            AppError::Invalid(smarketing_core::Invalid::new(
                "required",
                "rep",
                "say whose queue to open",
            ))
        })?;
        let (version, playbook) = self.playbook().await?;
        let mut terms = SlaTerms::new(version, playbook.clone());
        let now = self.now();
        let mut conn = self.store().begin().await?;
        let users = repo::users(&mut conn).await?;
        let workable = |u: &User| {
            crate::routing::is_rep(u)
                && actor.may(
                    Action::WorkHandoff,
                    actor.relation_to(Some(u.id), Some(u.team)),
                )
        };
        let rep = users
            .iter()
            .find(|u| u.id == whose && workable(u))
            .cloned()
            .ok_or_else(|| AppError::not_found("queue", whose))?;
        let reps: Vec<User> = users.iter().filter(|u| workable(u)).cloned().collect();
        let team = SalesTeam::load(&mut conn, now).await?;
        // A queue is a day's work: a rep's capacity is far below this.
        let open = repo::page::<Handoff>(
            &mut conn,
            HandoffRows {
                assignee_id: Some(rep.id),
                state: Some(HandoffState::Open),
                ..Default::default()
            }
            .to_where(),
            None,
            500,
        )
        .await?
        .items;
        let mut items = Vec::with_capacity(open.len());
        let (mut on_track, mut at_risk, mut breached) = (0, 0, 0);
        for h in open {
            let clocks = clocks(&mut conn, &mut terms, &team, &h, now).await?;
            let contact: Contact = repo::get(&mut conn, h.contact_id).await?;
            let activities = repo::activities_of_contact(&mut conn, h.contact_id).await?;
            let attempts = sales_work(&activities, &h, &team).count() as u32;
            for c in &clocks {
                match c.state {
                    ClockState::OnTrack => on_track += 1,
                    ClockState::AtRisk => at_risk += 1,
                    ClockState::Breached => breached += 1,
                    ClockState::Met => {}
                }
            }
            let mut item = QueueItem {
                handoff: h,
                contact,
                clocks,
                attempts,
                attempts_agreed: playbook.sla.attempts,
                due_at: None,
            };
            item.due_at = item.next_clock().and_then(|c| c.due_at);
            items.push(item);
        }
        // Soonest due first; those with no running clock last.
        items.sort_by_key(|i| (i.due_at.is_none(), i.due_at, i.handoff.id));
        let working_now = team
            .calendar(&playbook, Some(rep.id))?
            .is_working_at(now.millis());
        conn.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(Queue {
            rep,
            items,
            on_track,
            at_risk,
            breached,
            working_now,
            reps,
        })
    }
}

impl App {
    /// The handoff card for someone who works it: its assignee, their sales
    /// lead, an admin. For anyone else it does not exist (404).
    pub async fn handoff_card_for(
        &self,
        actor: &Actor,
        id: i64,
    ) -> Result<crate::handoffs::HandoffCard, AppError> {
        let card = self.handoff_card(id).await?;
        crate::handoffs::may_work(actor, &card.handoff)
            .map_err(|_| AppError::not_found("handoff", id))?;
        Ok(card)
    }
}
