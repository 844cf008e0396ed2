//! Who is acting, and the one place use cases ask whether they may: every
//! check goes through [`Actor::authorize`], which reads core's permission
//! table. The HTTP API, the CLI and the web UI only say who the actor is.

use crate::AppError;
use smarketing_core::access::{self, Action, Relation};
use smarketing_core::{Role, Team};
use smarketing_store::User;

/// Who did something: a user, the system (rules, imports, the operator's
/// CLI), recorded by label on what it changed.
#[derive(Debug, Clone)]
pub struct Actor {
    pub label: String,
    pub user_id: Option<i64>,
    pub role: Option<Role>,
    pub team: Option<Team>,
}

impl Actor {
    /// The system: rules, imports and the operator at the command line,
    /// who has the database itself and so is refused nothing.
    pub fn system() -> Self {
        Actor {
            label: "system".into(),
            user_id: None,
            role: None,
            team: None,
        }
    }

    pub fn user(u: &User) -> Self {
        Actor {
            label: format!("user:{}", u.id),
            user_id: Some(u.id),
            role: Some(u.role),
            team: Some(u.team),
        }
    }

    /// How something that belongs to `owner` (a user id; `None` for no
    /// one) stands to this actor.
    pub fn relation_to(&self, owner: Option<i64>, owner_team: Option<Team>) -> Relation {
        match (self.user_id, owner) {
            (Some(me), Some(them)) if me == them => Relation::Own,
            _ if owner.is_some() && owner_team.is_some() && owner_team == self.team => {
                Relation::Team
            }
            _ => Relation::Other,
        }
    }

    /// Whether the permission table lets this actor do `action` on an
    /// object in `relation` to them.
    pub fn may(&self, action: Action, relation: Relation) -> bool {
        match self.role {
            // The system acts for the company: rules and the operator.
            None => true,
            Some(role) => access::permits(role, action, relation),
        }
    }

    /// [`Actor::may`], or a 403 that says who may.
    pub fn authorize(&self, action: Action, relation: Relation) -> Result<(), AppError> {
        if self.may(action, relation) {
            return Ok(());
        }
        // "only the assigned rep, a manager of the team or an admin may work this handoff"
        let mut who: Vec<String> = Vec::new();
        let own = access::who_may(action, Relation::Own);
        let team = access::who_may(action, Relation::Team);
        let others = access::who_may(action, Relation::Other);
        if own.len() > team.len() {
            who.push(own_word(action).to_string());
        }
        let role_word = |r: &Role| match r {
            Role::Admin => "an admin",
            Role::Manager => "a manager",
            Role::Member => "a member",
        };
        who.extend(
            team.iter()
                .rev()
                .filter(|r| !others.contains(r))
                .map(|r| format!("{} of the team", role_word(r))),
        );
        who.extend(others.iter().rev().map(|r| role_word(r).to_string()));
        let list = match who.as_slice() {
            [] => "no one".to_string(),
            [one] => one.clone(),
            [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
        };
        Err(AppError::Forbidden(format!(
            "only {list} may {}",
            action.describe()
        )))
    }
}

/// Who "own" means for an action, in a refusal.
fn own_word(action: Action) -> &'static str {
    match action {
        Action::SignAgreement => "a lead (a manager or an admin) of the team",
        Action::WorkHandoff => "the assigned rep",
        Action::EditRepSettings => "the rep",
        Action::RecordAbsence => "the person",
        Action::LogActivityFor => "the rep",
        Action::EditActivity => "the rep who logged it",
        Action::EditNote => "the author",
        Action::MergeContacts => "the owner",
        Action::UndoMerge => "who merged",
        _ => "the owner",
    }
}
