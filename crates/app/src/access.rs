//! Who is acting, and the one place use cases ask whether they may: every
//! check goes through [`Actor::authorize`], which reads core's permission
//! table. The HTTP API, the CLI and the web UI only say who the actor is.

use crate::AppError;
use smarketing_core::access::{self, Action, Profile, Relation};
use smarketing_core::{Role, Team, TokenScope};
use smarketing_store::User;

/// Who did something: a user, the system (rules, imports, the operator's
/// CLI), recorded by label on what it changed.
#[derive(Debug, Clone)]
pub struct Actor {
    pub label: String,
    pub user_id: Option<i64>,
    pub role: Option<Role>,
    pub team: Option<Team>,
    /// What the credentials used may do, within the user's permissions.
    pub scope: TokenScope,
    /// Where the request came from, for the audit log.
    pub address: Option<String>,
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
            scope: TokenScope::Admin,
            address: None,
        }
    }

    pub fn user(u: &User) -> Self {
        Actor {
            label: format!("user:{}", u.id),
            user_id: Some(u.id),
            role: Some(u.role),
            team: Some(u.team),
            scope: TokenScope::Admin,
            address: None,
        }
    }

    /// The same actor, acting from `address` (recorded in the audit log).
    pub fn from_address(mut self, address: Option<std::net::IpAddr>) -> Self {
        self.address = address.map(|a| a.to_string());
        self
    }

    /// The same actor, held to a token's scope.
    pub fn with_scope(mut self, scope: TokenScope) -> Self {
        self.scope = scope;
        self
    }

    /// How something that belongs to `owner` (a user id; `None` for no
    /// one) on `owner_team` stands to this actor.
    pub fn relation_to(&self, owner: Option<i64>, owner_team: Option<Team>) -> Relation {
        match (self.user_id, owner) {
            (Some(me), Some(them)) if me == them => Relation::Own,
            _ if owner.is_some() && owner_team.is_some() && owner_team == self.team => {
                Relation::Team
            }
            _ => Relation::Other,
        }
    }

    /// How a contact or an account owned by `owner` stands to this actor.
    /// One no one owns yet is a lead marketing works until it is handed
    /// over: their team's, anyone else's to see.
    pub fn relation_to_record(&self, owner: Option<&User>) -> Relation {
        match owner {
            Some(u) => self.relation_to(Some(u.id), Some(u.team)),
            None if self.team == Some(Team::Marketing) => Relation::Team,
            None => Relation::Other,
        }
    }

    /// The actor's column in the permission table (`None` for the system).
    pub fn profile(&self) -> Option<Profile> {
        Some(Profile::of(self.role?, self.team?))
    }

    /// Whether the permission table lets this actor do `action` on an
    /// object in `relation` to them.
    pub fn may(&self, action: Action, relation: Relation) -> bool {
        if self.scope < action.scope() {
            return false;
        }
        match self.profile() {
            // The system acts for the company: rules and the operator.
            None => self.role.is_none(),
            Some(profile) => access::permits(profile, action, relation),
        }
    }

    /// [`Actor::may`], or a 403 that says who may.
    pub fn authorize(&self, action: Action, relation: Relation) -> Result<(), AppError> {
        if self.may(action, relation) {
            return Ok(());
        }
        if self.scope < action.scope() {
            return Err(AppError::Forbidden(format!(
                "this token's scope is {}; to {} it needs {}",
                self.scope,
                action.describe(),
                action.scope()
            )));
        }
        // "only the assigned rep, a sales lead or an admin may work this handoff"
        let mut who: Vec<String> = Vec::new();
        let own = access::who_may(action, Relation::Own);
        let team = access::who_may(action, Relation::Team);
        let others = access::who_may(action, Relation::Other);
        if own.len() > team.len() {
            who.push(own_word(action).to_string());
        }
        let named = |p: &Profile| {
            let name = p.name();
            let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            format!("{article} {name}")
        };
        who.extend(team.iter().rev().filter(|p| !others.contains(p)).map(named));
        who.extend(others.iter().rev().map(named));
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

/// The user who owns a record (`None` when no one does, or the id names no
/// user), to see how the record stands to an actor.
async fn owner_of(
    conn: &mut smarketing_store::Conn,
    owner: Option<i64>,
) -> Result<Option<User>, AppError> {
    match owner {
        Some(id) => match smarketing_store::repo::get::<User>(conn, id).await {
            Ok(u) => Ok(Some(u)),
            Err(smarketing_store::StoreError::NotFound) => Ok(None),
            // Any other failure refuses rather than guessing the relation.
            Err(e) => Err(e.into()),
        },
        None => Ok(None),
    }
}

/// May `actor` change a contact or an account owned by `owner`, and — when
/// `new_owner` is given and differs — give it to that user (or to no one)?
pub(crate) async fn authorize_record_change(
    conn: &mut smarketing_store::Conn,
    actor: &Actor,
    owner: Option<i64>,
    new_owner: Option<Option<i64>>,
) -> Result<(), AppError> {
    if actor.role.is_none() {
        return Ok(());
    }
    let current = owner_of(conn, owner).await?;
    actor.authorize(
        Action::EditRecord,
        actor.relation_to_record(current.as_ref()),
    )?;
    if let Some(new) = new_owner.filter(|n| *n != owner) {
        actor.authorize(Action::SetOwner, actor.relation_to_record(current.as_ref()))?;
        let next = owner_of(conn, new).await?;
        actor.authorize(Action::SetOwner, actor.relation_to_record(next.as_ref()))?;
    }
    Ok(())
}

/// May `actor` add a record owned by `owner`? Anyone who may add records
/// may own what they add; giving it to someone else is setting an owner.
pub(crate) async fn authorize_new_record(
    conn: &mut smarketing_store::Conn,
    actor: &Actor,
    owner: Option<i64>,
) -> Result<(), AppError> {
    actor.authorize(Action::AddRecords, Relation::Company)?;
    if actor.role.is_some() && owner.is_some() && owner != actor.user_id {
        let next = owner_of(conn, owner).await?;
        actor.authorize(Action::SetOwner, actor.relation_to_record(next.as_ref()))?;
    }
    Ok(())
}

/// How a contact or account owned by `owner` stands to `actor`
/// ([`Actor::relation_to_record`]).
pub(crate) async fn relation_to_user_or_marketing(
    conn: &mut smarketing_store::Conn,
    actor: &Actor,
    owner: Option<i64>,
) -> Result<Relation, AppError> {
    let user = owner_of(conn, owner).await?;
    Ok(actor.relation_to_record(user.as_ref()))
}

/// How a user (a rep, an author) stands to `actor`, with their team.
pub(crate) async fn relation_to_user(
    conn: &mut smarketing_store::Conn,
    actor: &Actor,
    user_id: Option<i64>,
) -> Result<Relation, AppError> {
    let user = owner_of(conn, user_id).await?;
    Ok(actor.relation_to(user.as_ref().map(|u| u.id), user.map(|u| u.team)))
}

impl crate::App {
    /// The app for revenue reports (won revenue, goals and their pacing,
    /// the reverse funnel, attribution's value, channel ROI), when `actor`
    /// may see revenue; 403 otherwise.
    pub fn for_revenue(&self, actor: &Actor) -> Result<&crate::App, AppError> {
        actor.authorize(Action::ReadRevenue, Relation::Company)?;
        Ok(self)
    }
}
