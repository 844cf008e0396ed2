//! Who may do what: the permission table. A user's role and team make one
//! of six profiles (admin, marketing lead, marketing member, sales lead,
//! sales rep, viewer); each action names how far each profile reaches —
//! nothing, what is their own, what belongs to their team, or anything —
//! and [`permits`] decides one case from it. The app layer consults it in
//! every use case that changes something, so the JSON API, the CLI and the
//! web UI cannot disagree; no other code compares roles.

use crate::closed::{Role, Team, TokenScope};

/// How far a profile reaches for an action, from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reach {
    /// Not at all.
    None,
    /// Only what is the actor's own (their handoff, their note, themselves).
    Own,
    /// What belongs to anyone on the actor's team.
    Team,
    /// Anything.
    Any,
}

impl Reach {
    /// The word the permission table shows.
    pub fn as_str(self) -> &'static str {
        match self {
            Reach::None => "—",
            Reach::Own => "own",
            Reach::Team => "team",
            Reach::Any => "any",
        }
    }
}

/// How the object of an action stands to the actor. The use case works it
/// out from the object (the owner of a contact, the assignee of a handoff,
/// the author of a note).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Relation {
    /// The actor's own: their handoff, their note, themselves.
    Own,
    /// Someone else's on the actor's team (or, for marketing, a lead no
    /// one owns yet: marketing's until it is handed over).
    Team,
    /// Someone else's on the other team, or no one's.
    Other,
    /// A company-wide thing (the playbook, users, webhooks, goals): only a
    /// reach of [`Reach::Any`] covers it.
    Company,
}

/// What a user is for the permission table: their role on their team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Profile {
    Admin,
    MarketingLead,
    MarketingMember,
    SalesLead,
    SalesRep,
    Viewer,
}

impl Profile {
    /// Every profile, in the table's column order.
    pub const ALL: [Profile; 6] = [
        Profile::Admin,
        Profile::MarketingLead,
        Profile::MarketingMember,
        Profile::SalesLead,
        Profile::SalesRep,
        Profile::Viewer,
    ];

    /// The profile of a user with `role` on `team`.
    pub fn of(role: Role, team: Team) -> Profile {
        match (role, team) {
            (Role::Admin, _) => Profile::Admin,
            (Role::Viewer, _) => Profile::Viewer,
            (Role::Manager, Team::Marketing) => Profile::MarketingLead,
            (Role::Member, Team::Marketing) => Profile::MarketingMember,
            (Role::Manager, Team::Sales) => Profile::SalesLead,
            (Role::Member, Team::Sales) => Profile::SalesRep,
        }
    }

    /// The profile's name in the table and in refusals.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Admin => "admin",
            Profile::MarketingLead => "marketing lead",
            Profile::MarketingMember => "marketing member",
            Profile::SalesLead => "sales lead",
            Profile::SalesRep => "sales rep",
            Profile::Viewer => "viewer",
        }
    }

    fn column(self) -> usize {
        Profile::ALL
            .iter()
            .position(|p| *p == self)
            .expect("every profile is a column")
    }
}

/// Everything a user may be allowed or refused. A use case that changes
/// something asks for one of these. Reading needs none, but for sales'
/// numbers: a rep sees their own deals only (others' answer 404), and
/// revenue figures in reports are not a rep's to see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Store a new playbook version.
    ImportPlaybook,
    /// Add users and issue their API tokens.
    ManageUsers,
    /// Register, list and remove webhook receivers.
    ManageWebhooks,
    /// Set a period's revenue goal.
    SetGoal,
    /// Sign the SLA agreement for one's own team.
    SignAgreement,
    /// Add contacts, accounts, touchpoints and notes.
    AddRecords,
    /// Change a contact's or an account's details (not its owner). Reps
    /// change what they own; marketing works the leads no one owns yet.
    EditRecord,
    /// Give a contact or an account an owner, or take it away.
    SetOwner,
    /// Open a deal, or change its amount, status or dates: sales' numbers.
    EditDeal,
    /// Add or change a campaign (not its spend).
    EditCampaign,
    /// Set a campaign's spend: marketing's budget.
    SetSpend,
    /// Accept, reject or log work on a handoff. Handoffs are sales' work:
    /// the assigned rep's own, their team's (sales) for everyone else.
    WorkHandoff,
    /// Give a handoff to another rep.
    ReassignHandoff,
    /// Change a rep's routing settings (weight, capacity, calendar).
    EditRepSettings,
    /// Record someone's absence.
    RecordAbsence,
    /// Log an activity as another rep's work (the record keeps who logged it).
    LogActivityFor,
    /// Change an activity after it was logged.
    EditActivity,
    /// Change a note.
    EditNote,
    /// Merge two records of one person.
    MergeContacts,
    /// Undo a merge.
    UndoMerge,
    /// Read and export the audit log.
    ReadAudit,
    /// Export (or erase) everything held about one person (GDPR).
    HandlePersonalData,
    /// See a deal, its amount and status. A deal one may not see answers
    /// 404, as if it did not exist.
    ReadDeal,
    /// See revenue in reports: won revenue, goals and their pacing, the
    /// reverse funnel, attribution's value, channel ROI.
    ReadRevenue,
}

impl Action {
    /// The scope an API token needs for the action: the company-wide
    /// settings need `admin`, every other change `write`; `read` changes
    /// nothing.
    pub fn scope(self) -> TokenScope {
        match self {
            Action::ImportPlaybook
            | Action::ManageUsers
            | Action::ManageWebhooks
            | Action::ReadAudit
            | Action::HandlePersonalData => TokenScope::Admin,
            Action::ReadDeal | Action::ReadRevenue => TokenScope::Read,
            _ => TokenScope::Write,
        }
    }

    /// What the action is, for a refusal: "only … may {what}".
    pub fn describe(self) -> &'static str {
        match self {
            Action::ImportPlaybook => "store a playbook version",
            Action::ManageUsers => "manage users",
            Action::ManageWebhooks => "manage webhooks",
            Action::SetGoal => "set a goal",
            Action::SignAgreement => "sign the agreement for a team",
            Action::AddRecords => "add records",
            Action::EditRecord => "change this record",
            Action::SetOwner => "change this record's owner",
            Action::EditDeal => "change a deal's amount, status or dates",
            Action::EditCampaign => "change campaigns",
            Action::SetSpend => "set a campaign's spend",
            Action::WorkHandoff => "work this handoff",
            Action::ReassignHandoff => "reassign a handoff",
            Action::EditRepSettings => "change these routing settings",
            Action::RecordAbsence => "record this absence",
            Action::LogActivityFor => "log an activity for this rep",
            Action::EditActivity => "change this activity",
            Action::EditNote => "change this note",
            Action::MergeContacts => "merge these contacts",
            Action::UndoMerge => "undo this merge",
            Action::ReadAudit => "read the audit log",
            Action::HandlePersonalData => "export or erase a person's data",
            Action::ReadDeal => "see this deal",
            Action::ReadRevenue => "see revenue figures",
        }
    }
}

use Reach::{Any, None as No, Own, Team as Tm};

/// The permission table: for each action, the reach of an admin, a
/// marketing lead, a marketing member, a sales lead, a sales rep and a
/// viewer, in that order (`Profile::ALL`).
pub const PERMISSIONS: &[(Action, [Reach; 6])] = &[
    (Action::ImportPlaybook, [Any, No, No, No, No, No]),
    (Action::ManageUsers, [Any, No, No, No, No, No]),
    (Action::ManageWebhooks, [Any, No, No, No, No, No]),
    (Action::SetGoal, [Any, Any, No, Any, No, No]),
    (Action::SignAgreement, [Own, Own, No, Own, No, No]),
    (Action::AddRecords, [Any, Any, Any, Any, Any, No]),
    (Action::EditRecord, [Any, Any, Tm, Any, Own, No]),
    (Action::SetOwner, [Any, Tm, No, Any, No, No]),
    (Action::EditDeal, [Any, No, No, Any, Own, No]),
    (Action::EditCampaign, [Any, Any, Any, No, No, No]),
    (Action::SetSpend, [Any, Any, No, No, No, No]),
    (Action::WorkHandoff, [Any, No, No, Tm, Own, No]),
    (Action::ReassignHandoff, [Any, No, No, Tm, No, No]),
    (Action::EditRepSettings, [Any, No, No, Tm, No, No]),
    (Action::RecordAbsence, [Any, Tm, Own, Tm, Own, No]),
    (Action::LogActivityFor, [Any, No, No, Tm, No, No]),
    (Action::EditActivity, [Any, No, No, Tm, Own, No]),
    (Action::EditNote, [Any, Tm, Own, Tm, Own, No]),
    (Action::MergeContacts, [Any, Any, Tm, Any, Own, No]),
    (Action::UndoMerge, [Any, Any, Own, Any, Own, No]),
    (Action::ReadAudit, [Any, No, No, No, No, No]),
    (Action::HandlePersonalData, [Any, No, No, No, No, No]),
    (Action::ReadDeal, [Any, Any, Any, Any, Own, Any]),
    (Action::ReadRevenue, [Any, Any, Any, Any, No, Any]),
];

/// How far `profile` reaches for `action`.
pub fn reach(profile: Profile, action: Action) -> Reach {
    PERMISSIONS
        .iter()
        .find(|(a, _)| *a == action)
        .map_or(Reach::None, |(_, r)| r[profile.column()])
}

/// Whether a user of `profile` may do `action` on an object that stands
/// in `relation` to them.
pub fn permits(profile: Profile, action: Action, relation: Relation) -> bool {
    let needed = match relation {
        Relation::Own => Reach::Own,
        Relation::Team => Reach::Team,
        Relation::Other | Relation::Company => Reach::Any,
    };
    reach(profile, action) >= needed
}

/// The profiles that may do `action` on an object in `relation`, for the
/// message of a refusal ("only the assignee, a sales lead or an admin …").
pub fn who_may(action: Action, relation: Relation) -> Vec<Profile> {
    Profile::ALL
        .iter()
        .copied()
        .filter(|p| permits(*p, action, relation))
        .collect()
}

/// The permission table as a Markdown table, as the README shows it.
pub fn markdown_table() -> String {
    let mut out = String::from("| action |");
    for p in Profile::ALL {
        out.push_str(&format!(" {} |", p.name()));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(Profile::ALL.len()));
    out.push('\n');
    for (action, reaches) in PERMISSIONS {
        out.push_str(&format!("| {} |", action.describe()));
        for r in reaches {
            out.push_str(&format!(" {} |", r.as_str()));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACTIONS: [Action; 24] = [
        Action::ImportPlaybook,
        Action::ManageUsers,
        Action::ManageWebhooks,
        Action::SetGoal,
        Action::SignAgreement,
        Action::AddRecords,
        Action::EditRecord,
        Action::SetOwner,
        Action::EditDeal,
        Action::EditCampaign,
        Action::SetSpend,
        Action::WorkHandoff,
        Action::ReassignHandoff,
        Action::EditRepSettings,
        Action::RecordAbsence,
        Action::LogActivityFor,
        Action::EditActivity,
        Action::EditNote,
        Action::MergeContacts,
        Action::UndoMerge,
        Action::ReadAudit,
        Action::HandlePersonalData,
        Action::ReadDeal,
        Action::ReadRevenue,
    ];

    #[test]
    fn every_action_has_one_row() {
        for a in ACTIONS {
            let rows = PERMISSIONS.iter().filter(|(b, _)| *b == a).count();
            assert_eq!(rows, 1, "{a:?}");
        }
        assert_eq!(PERMISSIONS.len(), ACTIONS.len());
    }

    #[test]
    fn an_admin_reaches_furthest_a_lead_as_far_as_their_member_and_a_viewer_changes_nothing() {
        for a in ACTIONS {
            for p in Profile::ALL {
                assert!(reach(Profile::Admin, a) >= reach(p, a), "{a:?} {p:?}");
            }
            assert!(
                reach(Profile::MarketingLead, a) >= reach(Profile::MarketingMember, a),
                "{a:?}"
            );
            assert!(
                reach(Profile::SalesLead, a) >= reach(Profile::SalesRep, a),
                "{a:?}"
            );
            // A viewer changes nothing; what it reads, it reads whole.
            let expected = if a.scope() == TokenScope::Read {
                Reach::Any
            } else {
                Reach::None
            };
            assert_eq!(reach(Profile::Viewer, a), expected, "{a:?}");
        }
    }

    #[test]
    fn a_rep_sees_their_own_deals_and_no_revenue_figures() {
        assert!(permits(Profile::SalesRep, Action::ReadDeal, Relation::Own));
        assert!(!permits(
            Profile::SalesRep,
            Action::ReadDeal,
            Relation::Team
        ));
        assert!(!permits(
            Profile::SalesRep,
            Action::ReadRevenue,
            Relation::Company
        ));
        for p in [
            Profile::MarketingMember,
            Profile::SalesLead,
            Profile::Viewer,
        ] {
            assert!(permits(p, Action::ReadDeal, Relation::Other), "{p:?}");
            assert!(permits(p, Action::ReadRevenue, Relation::Company), "{p:?}");
        }
    }

    #[test]
    fn each_team_decides_its_own_numbers() {
        // Deals are sales' numbers, spend marketing's.
        assert!(!permits(
            Profile::MarketingLead,
            Action::EditDeal,
            Relation::Other
        ));
        assert!(!permits(
            Profile::MarketingMember,
            Action::EditDeal,
            Relation::Own
        ));
        assert!(permits(Profile::SalesRep, Action::EditDeal, Relation::Own));
        assert!(!permits(
            Profile::SalesRep,
            Action::EditDeal,
            Relation::Team
        ));
        assert!(!permits(
            Profile::SalesLead,
            Action::SetSpend,
            Relation::Company
        ));
        assert!(!permits(
            Profile::MarketingMember,
            Action::SetSpend,
            Relation::Company
        ));
        assert!(permits(
            Profile::MarketingLead,
            Action::SetSpend,
            Relation::Company
        ));
        // Reps neither give records owners nor set their own routing.
        assert!(!permits(Profile::SalesRep, Action::SetOwner, Relation::Own));
        assert!(!permits(
            Profile::SalesRep,
            Action::EditRepSettings,
            Relation::Own
        ));
        assert!(permits(
            Profile::SalesLead,
            Action::EditRepSettings,
            Relation::Team
        ));
    }

    #[test]
    fn reach_covers_relations_from_own_outwards() {
        assert!(permits(
            Profile::SalesRep,
            Action::WorkHandoff,
            Relation::Own
        ));
        assert!(!permits(
            Profile::SalesRep,
            Action::WorkHandoff,
            Relation::Team
        ));
        assert!(permits(
            Profile::SalesLead,
            Action::WorkHandoff,
            Relation::Team
        ));
        assert!(!permits(
            Profile::SalesLead,
            Action::WorkHandoff,
            Relation::Other
        ));
        assert!(!permits(
            Profile::MarketingLead,
            Action::WorkHandoff,
            Relation::Other
        ));
        assert!(permits(
            Profile::Admin,
            Action::WorkHandoff,
            Relation::Other
        ));
        assert!(permits(
            Profile::Admin,
            Action::ManageWebhooks,
            Relation::Company
        ));
        assert!(!permits(
            Profile::SalesLead,
            Action::ManageWebhooks,
            Relation::Company
        ));
        assert!(!permits(
            Profile::Admin,
            Action::SignAgreement,
            Relation::Company
        ));
        assert!(permits(
            Profile::SalesLead,
            Action::SignAgreement,
            Relation::Own
        ));
        assert_eq!(
            who_may(Action::ReassignHandoff, Relation::Team),
            [Profile::Admin, Profile::SalesLead]
        );
        assert_eq!(
            who_may(Action::ReassignHandoff, Relation::Other),
            [Profile::Admin]
        );
    }

    #[test]
    fn the_readme_shows_this_table() {
        let readme = include_str!("../../../README.md");
        let start = readme
            .find("<!-- permissions -->\n")
            .expect("the README marks the table")
            + "<!-- permissions -->\n".len();
        let end = readme
            .find("<!-- /permissions -->")
            .expect("the README ends the table");
        assert_eq!(
            &readme[start..end],
            markdown_table(),
            "README.md's permission table is not the code's; paste markdown_table()'s output"
        );
    }

    #[test]
    fn the_markdown_table_has_a_row_per_action_and_a_column_per_profile() {
        let t = markdown_table();
        assert_eq!(t.lines().count(), 2 + PERMISSIONS.len());
        assert!(t.starts_with("| action | admin | marketing lead |"), "{t}");
        assert!(
            t.contains("| set a campaign's spend | any | any | — | — | — | — |"),
            "{t}"
        );
    }
}
