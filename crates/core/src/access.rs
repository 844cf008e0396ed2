//! Who may do what: the permission table. Each action names how far each
//! role reaches — nothing, what is their own, what belongs to their team,
//! or anything — and [`permits`] decides one case from it. The app layer
//! consults it in every use case, so the JSON API, the CLI and the web UI
//! cannot disagree; no other code compares roles.

use crate::closed::Role;

/// How far a role reaches for an action, from least to most.
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

/// How the object of an action stands to the actor. The use case works it
/// out from the object (the assignee of a handoff, the author of a note).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Relation {
    /// The actor's own: their handoff, their note, themselves.
    Own,
    /// Someone else's on the actor's team.
    Team,
    /// Someone else's on the other team, or no one's.
    Other,
    /// A company-wide thing (the playbook, users, webhooks, goals): only a
    /// reach of [`Reach::Any`] covers it.
    Company,
}

/// Everything a user may be allowed or refused. The sign-in issue adds
/// rows here; it does not add checks elsewhere.
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
}

impl Action {
    /// What the action is, for a refusal: "only … may {what}".
    pub fn describe(self) -> &'static str {
        match self {
            Action::ImportPlaybook => "store a playbook version",
            Action::ManageUsers => "manage users",
            Action::ManageWebhooks => "manage webhooks",
            Action::SetGoal => "set a goal",
            Action::SignAgreement => "sign the agreement for a team",
            Action::WorkHandoff => "work this handoff",
            Action::ReassignHandoff => "reassign a handoff",
            Action::EditRepSettings => "change these routing settings",
            Action::RecordAbsence => "record this absence",
            Action::LogActivityFor => "log an activity for this rep",
            Action::EditActivity => "change this activity",
            Action::EditNote => "change this note",
            Action::MergeContacts => "merge contacts another rep owns",
            Action::UndoMerge => "undo this merge",
        }
    }
}

use Reach::{Any, None as No, Own, Team};

/// The permission table: for each action, the reach of an admin, a
/// manager and a member, in that order.
pub const PERMISSIONS: &[(Action, [Reach; 3])] = &[
    (Action::ImportPlaybook, [Any, No, No]),
    (Action::ManageUsers, [Any, No, No]),
    (Action::ManageWebhooks, [Any, No, No]),
    (Action::SetGoal, [Any, Any, No]),
    (Action::SignAgreement, [Own, Own, No]),
    (Action::WorkHandoff, [Any, Team, Own]),
    (Action::ReassignHandoff, [Any, Team, No]),
    (Action::EditRepSettings, [Any, Any, Own]),
    (Action::RecordAbsence, [Any, Any, Own]),
    (Action::LogActivityFor, [Any, Team, No]),
    (Action::EditActivity, [Any, Any, Own]),
    (Action::EditNote, [Any, Any, Own]),
    (Action::MergeContacts, [Any, Any, Own]),
    (Action::UndoMerge, [Any, Any, Own]),
];

/// How far `role` reaches for `action`.
pub fn reach(role: Role, action: Action) -> Reach {
    let column = match role {
        Role::Admin => 0,
        Role::Manager => 1,
        Role::Member => 2,
    };
    PERMISSIONS
        .iter()
        .find(|(a, _)| *a == action)
        .map_or(Reach::None, |(_, r)| r[column])
}

/// Whether a user of `role` may do `action` on an object that stands in
/// `relation` to them.
pub fn permits(role: Role, action: Action, relation: Relation) -> bool {
    let needed = match relation {
        Relation::Own => Reach::Own,
        Relation::Team => Reach::Team,
        Relation::Other | Relation::Company => Reach::Any,
    };
    reach(role, action) >= needed
}

/// The roles that may do `action` on an object in `relation`, for the
/// message of a refusal ("only the assignee, a manager or an admin …").
pub fn who_may(action: Action, relation: Relation) -> Vec<Role> {
    Role::ALL
        .iter()
        .copied()
        .filter(|r| permits(*r, action, relation))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACTIONS: [Action; 14] = [
        Action::ImportPlaybook,
        Action::ManageUsers,
        Action::ManageWebhooks,
        Action::SetGoal,
        Action::SignAgreement,
        Action::WorkHandoff,
        Action::ReassignHandoff,
        Action::EditRepSettings,
        Action::RecordAbsence,
        Action::LogActivityFor,
        Action::EditActivity,
        Action::EditNote,
        Action::MergeContacts,
        Action::UndoMerge,
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
    fn an_admin_reaches_at_least_as_far_as_a_manager_and_a_manager_as_a_member() {
        for a in ACTIONS {
            assert!(reach(Role::Admin, a) >= reach(Role::Manager, a), "{a:?}");
            assert!(reach(Role::Manager, a) >= reach(Role::Member, a), "{a:?}");
        }
    }

    #[test]
    fn reach_covers_relations_from_own_outwards() {
        // A member works their own handoff, not a colleague's.
        assert!(permits(Role::Member, Action::WorkHandoff, Relation::Own));
        assert!(!permits(Role::Member, Action::WorkHandoff, Relation::Team));
        assert!(!permits(Role::Member, Action::WorkHandoff, Relation::Other));
        // A manager works their team's (sales'), not the other team's.
        assert!(permits(Role::Manager, Action::WorkHandoff, Relation::Team));
        assert!(!permits(
            Role::Manager,
            Action::WorkHandoff,
            Relation::Other
        ));
        assert!(permits(Role::Admin, Action::WorkHandoff, Relation::Other));
        // Company-wide settings need a reach of Any.
        assert!(permits(
            Role::Admin,
            Action::ManageWebhooks,
            Relation::Company
        ));
        assert!(!permits(
            Role::Manager,
            Action::ManageWebhooks,
            Relation::Company
        ));
        assert!(!permits(
            Role::Admin,
            Action::SignAgreement,
            Relation::Company
        ));
        assert!(permits(Role::Manager, Action::SignAgreement, Relation::Own));
        assert_eq!(
            who_may(Action::ReassignHandoff, Relation::Team),
            [Role::Admin, Role::Manager]
        );
        assert_eq!(
            who_may(Action::ReassignHandoff, Relation::Other),
            [Role::Admin]
        );
    }
}
