//! Users of both teams and their API tokens. Tokens are random, shown once,
//! and stored only as a SHA-256 hash.

use crate::input::{NAME_MAX, UserInput, text};
use crate::{Actor, App, AppError};
use sha2::{Digest, Sha256};
use smarketing_core::Email;
use smarketing_core::access::{Action, Relation};
use smarketing_store::{User, repo};

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
        };
        let mut conn = self.store().acquire().await?;
        repo::insert(&mut conn, &user).await.map_err(|e| match e {
            smarketing_store::StoreError::Conflict { field } => AppError::Conflict {
                what: "user",
                field,
            },
            other => other.into(),
        })
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

    /// Creates a token for a user and returns it in clear — the only time it
    /// is visible.
    pub async fn create_token(&self, user_id: i64, name: &str) -> Result<String, AppError> {
        let token = new_token();
        let mut conn = self.store().acquire().await?;
        repo::get::<User>(&mut conn, user_id)
            .await
            .map_err(crate::error::named("user", user_id))?;
        repo::insert_token(
            &mut conn,
            user_id,
            &text("name", name, NAME_MAX)?,
            &hash_token(&token),
            self.now(),
        )
        .await?;
        Ok(token)
    }

    /// The user a bearer token belongs to, if the token is valid.
    pub async fn authenticate(&self, token: &str) -> Result<Option<User>, AppError> {
        if !token.starts_with(TOKEN_PREFIX) || token.len() > 200 {
            return Ok(None);
        }
        let mut conn = self.store().acquire().await?;
        Ok(repo::token_owner(&mut conn, &hash_token(token))
            .await?
            .map(|o| o.user))
    }
}
