//! Users of both teams and their API tokens. Tokens are random, shown once,
//! and stored only as a SHA-256 hash; each is named, scoped (read, write or
//! admin, within its user's permissions), may expire, can be revoked, and
//! records when it was last used. Failed authentications are logged and,
//! past a limit, throttled per address.

use crate::input::{NAME_MAX, UserInput, text};
use crate::throttle::{Throttle, counted_as};
use crate::{Actor, App, AppError};
use sha2::{Digest, Sha256};
use smarketing_core::access::{Action, Relation};
use smarketing_core::{Email, Instant, Invalid, TokenScope};
use smarketing_store::{ApiToken, User, repo};
use std::net::IpAddr;
use std::time::Duration;

/// Failed authentications an address may make in [`FAILURE_WINDOW`]
/// before it is answered 429 until the window has passed.
pub const MAX_FAILURES: u32 = 10;
/// The window failed authentications are counted in.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// Failed token authentications per address.
pub(crate) fn failed_auth() -> Throttle<IpAddr> {
    Throttle::new(MAX_FAILURES, FAILURE_WINDOW)
}

/// A token to issue: its name, scope and when it stops working.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub name: String,
    pub scope: TokenScope,
    pub expires_at: Option<Instant>,
}

/// Who a valid token speaks for, and what it may do.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user: User,
    pub token: ApiToken,
}

impl Authenticated {
    /// The actor of requests made with this token: its user, held to the
    /// token's scope.
    pub fn actor(&self) -> Actor {
        Actor::user(&self.user).with_scope(self.token.scope)
    }
}

/// Prefix of every API token, so that leaked tokens are easy to recognise.
pub const TOKEN_PREFIX: &str = "smk_";

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_token() -> String {
    format!("{TOKEN_PREFIX}{}", hex::encode(rand::random::<[u8; 24]>()))
}

impl App {
    pub async fn create_user(&self, input: UserInput, actor: &Actor) -> Result<User, AppError> {
        actor.authorize(Action::ManageUsers, Relation::Company)?;
        let user = User {
            id: 0,
            name: text("name", &input.name, NAME_MAX)?,
            email: Email::parse(&input.email)?.to_string(),
            team: input.team.parse()?,
            role: input.role.parse()?,
            created_at: self.now(),
            disabled_at: None,
        };
        let mut conn = self.store().acquire().await?;
        let user = repo::insert(&mut conn, &user).await.map_err(|e| match e {
            smarketing_store::StoreError::Conflict { field } => AppError::Conflict {
                what: "user",
                field,
            },
            other => other.into(),
        })?;
        crate::audit::record(
            &mut conn,
            actor,
            "user.create",
            ("user", &user.id),
            crate::audit::NOTHING,
            Some(&user),
            self.now(),
        )
        .await?;
        Ok(user)
    }

    /// The user with this e-mail, created with `input` when missing.
    pub async fn ensure_user(&self, input: UserInput) -> Result<User, AppError> {
        let email = Email::parse(&input.email)?;
        let mut conn = self.store().acquire().await?;
        if let Some(u) = repo::user_by_email(&mut conn, email.as_str()).await? {
            return Ok(u);
        }
        drop(conn);
        self.create_user(input, &Actor::system()).await
    }

    pub async fn users(&self) -> Result<Vec<User>, AppError> {
        let mut conn = self.store().acquire().await?;
        Ok(repo::users(&mut conn).await?)
    }

    pub async fn user(&self, id: i64) -> Result<User, AppError> {
        let mut conn = self.store().acquire().await?;
        repo::get(&mut conn, id)
            .await
            .map_err(crate::error::named("user", id))
    }

    /// Creates a token for a user with all their permissions (scope
    /// `admin`, no expiry) and returns it in clear — the only time it is
    /// visible.
    pub async fn create_token(&self, user_id: i64, name: &str) -> Result<String, AppError> {
        self.issue_token(
            user_id,
            NewToken {
                name: name.to_string(),
                scope: TokenScope::Admin,
                expires_at: None,
            },
        )
        .await
    }

    /// Issues a token and returns it in clear, once.
    pub async fn issue_token(&self, user_id: i64, new: NewToken) -> Result<String, AppError> {
        if new.expires_at.is_some_and(|at| at <= self.now()) {
            return Err(Invalid::new(
                "invalid_instant",
                "expires_at",
                "a token must expire in the future",
            )
            .into());
        }
        let token = new_token();
        let mut conn = self.store().acquire().await?;
        repo::get::<User>(&mut conn, user_id)
            .await
            .map_err(crate::error::named("user", user_id))?;
        let name = text("name", &new.name, NAME_MAX)?;
        let id = repo::insert_token(
            &mut conn,
            user_id,
            &name,
            &hash_token(&token),
            new.scope,
            new.expires_at,
            self.now(),
        )
        .await?;
        crate::audit::record(
            &mut conn,
            &Actor::system(),
            "token.issue",
            ("token", &id),
            crate::audit::NOTHING,
            Some(&serde_json::json!({
                "user_id": user_id, "name": name, "scope": new.scope, "expires_at": new.expires_at
            })),
            self.now(),
        )
        .await?;
        Ok(token)
    }

    /// Disables a user: at once none of their tokens or sessions works, and they are
    /// routed no new leads. Their records and history stay.
    pub async fn disable_user(&self, id: i64, actor: &Actor) -> Result<User, AppError> {
        actor.authorize(Action::ManageUsers, Relation::Company)?;
        // An admin who disabled themselves could not undo it.
        if actor.user_id == Some(id) {
            return Err(Invalid::new(
                "cannot_disable_self",
                "id",
                "you cannot disable yourself; another admin can",
            )
            .into());
        }
        let mut tx = self.store().begin().await?;
        if !repo::disable_user(&mut tx, id, self.now()).await? {
            return Err(AppError::NotFound {
                what: "enabled user",
                id: id.to_string(),
            });
        }
        // Their tokens stop working by the check on `disabled_at`; their
        // sessions are ended outright.
        repo::end_sessions_of(&mut tx, id, "disabled", self.now()).await?;
        let user: User = repo::get(&mut tx, id).await?;
        crate::audit::record(
            &mut tx,
            actor,
            "user.disable",
            ("user", &id),
            crate::audit::NOTHING,
            Some(&user),
            self.now(),
        )
        .await?;
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(user)
    }

    /// A user's tokens (never the tokens themselves), newest first.
    pub async fn tokens(&self, user_id: i64) -> Result<Vec<ApiToken>, AppError> {
        let mut conn = self.store().acquire().await?;
        Ok(repo::tokens_of(&mut conn, user_id).await?)
    }

    /// Revokes a token: it stops working at once.
    pub async fn revoke_token(&self, token_id: i64) -> Result<(), AppError> {
        let mut conn = self.store().acquire().await?;
        if repo::revoke_token(&mut conn, token_id, self.now()).await? {
            crate::audit::record(
                &mut conn,
                &Actor::system(),
                "token.revoke",
                ("token", &token_id),
                crate::audit::NOTHING,
                crate::audit::NOTHING,
                self.now(),
            )
            .await?;
            Ok(())
        } else {
            Err(AppError::NotFound {
                what: "unrevoked token",
                id: token_id.to_string(),
            })
        }
    }

    /// The user and token a bearer token stands for, if it is valid: not
    /// revoked, not expired. `from` is the caller's address: failures are
    /// logged and counted per address, and past [`MAX_FAILURES`] in
    /// [`FAILURE_WINDOW`] the address is refused (429) before its token is
    /// looked at.
    pub async fn authenticate(
        &self,
        token: &str,
        from: Option<IpAddr>,
    ) -> Result<Option<Authenticated>, AppError> {
        if let Some(wait) = from.and_then(|ip| self.failed_auth.wait(&counted_as(ip))) {
            return Err(AppError::RateLimited {
                retry_after_secs: wait,
            });
        }
        let found = if token.starts_with(TOKEN_PREFIX) && token.len() <= 200 {
            let mut conn = self.store().acquire().await?;
            let owner = repo::token_owner(&mut conn, &hash_token(token)).await?;
            let now = self.now();
            match owner {
                Some(o)
                    if o.token.revoked_at.is_none()
                        && o.user.disabled_at.is_none()
                        && o.token.expires_at.is_none_or(|at| at > now) =>
                {
                    // Written at most once a minute: no write on the hot path
                    // (on SQLite even an UPDATE that changes nothing takes
                    // the write lock).
                    let stale = o
                        .token
                        .last_used_at
                        .is_none_or(|t| now.millis() - t.millis() >= 60_000);
                    if stale {
                        repo::touch_token(&mut conn, o.token.id, now).await?;
                    }
                    Some(Authenticated {
                        user: o.user,
                        token: o.token,
                    })
                }
                _ => None,
            }
        } else {
            None
        };
        if found.is_none() {
            tracing::warn!(from = ?from, "failed authentication");
            let first = from.is_none_or(|ip| self.failed_auth.fail(counted_as(ip)));
            // The first failure of an address in a window goes to the audit
            // log; the rest are counted, so a guesser cannot flood the log.
            if first {
                let mut conn = self.store().acquire().await?;
                crate::audit::record(
                    &mut conn,
                    &Actor::system().from_address(from),
                    "auth.failed",
                    ("token", &"unknown"),
                    crate::audit::NOTHING,
                    crate::audit::NOTHING,
                    self.now(),
                )
                .await?;
            }
        }
        Ok(found)
    }
}
