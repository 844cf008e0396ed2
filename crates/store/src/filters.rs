//! Which rows a list returns, as typed conditions: the app parses a
//! request's filters into these, and only here do they become SQL. Each set
//! field is one condition; unset fields add none.

use crate::sql::Where;
use smarketing_core::{Instant, Stage, Team};

/// Rows created in `[from, to)`, either end open.
#[derive(Debug, Clone, Copy, Default)]
pub struct Created {
    pub from: Option<Instant>,
    pub to: Option<Instant>,
}

impl Created {
    fn add(&self, w: &mut Where, table: &str) {
        w.and(
            &format!("{table}.created_at >= ?"),
            self.from.map(Instant::millis),
        );
        w.and(
            &format!("{table}.created_at < ?"),
            self.to.map(Instant::millis),
        );
    }
}

#[derive(Debug, Clone, Default)]
pub struct AccountRows {
    pub owner_id: Option<i64>,
    /// Lower-case.
    pub domain: Option<String>,
    pub region: Option<String>,
    pub created: Created,
}

impl AccountRows {
    pub fn to_where(&self) -> Where {
        let mut w = Where::new();
        w.and("accounts.owner_id = ?", self.owner_id);
        w.and("accounts.domain = ?", self.domain.clone());
        w.and("accounts.region = ?", self.region.clone());
        self.created.add(&mut w, "accounts");
        w
    }
}

#[derive(Debug, Clone, Default)]
pub struct ContactRows {
    /// Normalised.
    pub email: Option<String>,
    pub stage: Option<Stage>,
    pub owner_id: Option<i64>,
    pub persona: Option<String>,
    pub account_id: Option<i64>,
    /// Contacts with a touch in this channel.
    pub channel: Option<String>,
    /// Contacts with a touch of this campaign.
    pub campaign_id: Option<i64>,
    pub created: Created,
    /// Records merged into another instead of live ones.
    pub merged: bool,
}

impl ContactRows {
    pub fn to_where(&self) -> Where {
        let mut w = Where::new();
        w.and("contacts.email = ?", self.email.clone());
        w.and("contacts.stage = ?", self.stage.map(Stage::as_str));
        w.and("contacts.owner_id = ?", self.owner_id);
        w.and("contacts.persona = ?", self.persona.clone());
        w.and("contacts.account_id = ?", self.account_id);
        w.and(
            "EXISTS (SELECT 1 FROM touchpoints t WHERE t.contact_id = contacts.id AND t.channel = ?)",
            self.channel.clone(),
        );
        w.and(
            "EXISTS (SELECT 1 FROM touchpoints t WHERE t.contact_id = contacts.id AND t.campaign_id = ?)",
            self.campaign_id,
        );
        self.created.add(&mut w, "contacts");
        w.and_sql(if self.merged {
            "contacts.merged_into_id IS NOT NULL"
        } else {
            "contacts.merged_into_id IS NULL"
        });
        w
    }
}

#[derive(Debug, Clone, Default)]
pub struct CampaignRows {
    pub channel: Option<String>,
    pub created: Created,
}

impl CampaignRows {
    pub fn to_where(&self) -> Where {
        let mut w = Where::new();
        w.and("campaigns.channel = ?", self.channel.clone());
        self.created.add(&mut w, "campaigns");
        w
    }
}

#[derive(Debug, Clone, Default)]
pub struct DealRows {
    pub status: Option<String>,
    pub owner_id: Option<i64>,
    pub contact_id: Option<i64>,
    pub account_id: Option<i64>,
    pub pipeline_stage: Option<String>,
    pub created: Created,
}

impl DealRows {
    pub fn to_where(&self) -> Where {
        let mut w = Where::new();
        w.and("deals.status = ?", self.status.clone());
        w.and("deals.owner_id = ?", self.owner_id);
        w.and("deals.contact_id = ?", self.contact_id);
        w.and("deals.account_id = ?", self.account_id);
        w.and("deals.pipeline_stage = ?", self.pipeline_stage.clone());
        self.created.add(&mut w, "deals");
        w
    }
}

#[derive(Debug, Clone, Default)]
pub struct ActivityRows {
    pub contact_id: Option<i64>,
    pub deal_id: Option<i64>,
    pub user_id: Option<i64>,
    pub kind: Option<String>,
    pub created: Created,
    /// Only activities on no deal or on this user's deals (a rep's view).
    pub on_deals_of: Option<i64>,
}

impl ActivityRows {
    pub fn to_where(&self) -> Where {
        let mut w = Where::new();
        w.and("activities.contact_id = ?", self.contact_id);
        w.and("activities.deal_id = ?", self.deal_id);
        w.and("activities.user_id = ?", self.user_id);
        w.and("activities.kind = ?", self.kind.clone());
        w.and(
            "(activities.deal_id IS NULL OR activities.deal_id IN (SELECT d.id FROM deals d WHERE d.owner_id = ?))",
            self.on_deals_of,
        );
        self.created.add(&mut w, "activities");
        w
    }
}

#[derive(Debug, Clone, Default)]
pub struct NoteRows {
    pub contact_id: Option<i64>,
    pub account_id: Option<i64>,
    pub deal_id: Option<i64>,
    pub author_id: Option<i64>,
    pub created: Created,
    /// Only notes on no deal or on this user's deals (a rep's view).
    pub on_deals_of: Option<i64>,
}

impl NoteRows {
    pub fn to_where(&self) -> Where {
        let mut w = Where::new();
        w.and("notes.contact_id = ?", self.contact_id);
        w.and("notes.account_id = ?", self.account_id);
        w.and("notes.deal_id = ?", self.deal_id);
        w.and("notes.author_id = ?", self.author_id);
        w.and(
            "(notes.deal_id IS NULL OR notes.deal_id IN (SELECT d.id FROM deals d WHERE d.owner_id = ?))",
            self.on_deals_of,
        );
        self.created.add(&mut w, "notes");
        w
    }
}

/// Where a handoff stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandoffState {
    /// Not decided yet.
    Open,
    /// Decided with this decision (`accepted`, `rejected`).
    Decided(smarketing_core::Decision),
    /// Left the loop by another path than a decision.
    Closed,
}

#[derive(Debug, Clone, Default)]
pub struct HandoffRows {
    pub assignee_id: Option<i64>,
    /// Handoffs assigned to someone on this team.
    pub team: Option<Team>,
    pub contact_id: Option<i64>,
    pub state: Option<HandoffState>,
}

impl HandoffRows {
    pub fn to_where(&self) -> Where {
        let mut w = Where::new();
        w.and("handoffs.assignee_id = ?", self.assignee_id);
        w.and(
            "handoffs.assignee_id IN (SELECT id FROM users WHERE team = ?)",
            self.team.map(Team::as_str),
        );
        w.and("handoffs.contact_id = ?", self.contact_id);
        match self.state {
            None => {}
            Some(HandoffState::Open) => {
                w.and_sql("handoffs.decision IS NULL AND handoffs.closed_at IS NULL");
            }
            Some(HandoffState::Decided(d)) => {
                w.and("handoffs.decision = ?", Some(d.as_str()));
            }
            Some(HandoffState::Closed) => {
                w.and_sql("handoffs.closed_at IS NOT NULL");
            }
        }
        w
    }
}
