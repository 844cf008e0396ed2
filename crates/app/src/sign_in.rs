//! Sign-in for people: e-mail and password (Argon2id at OWASP's minimum
//! parameters), server-side sessions with idle and absolute timeouts, a
//! CSRF token bound to each session, sign-out, rate limits per account and
//! per address, and one-time password reset links an admin issues. The
//! scheduler deletes sessions a month after they ended.
//!
//! A wrong password and an unknown e-mail get the same answer after the
//! same work (an unknown e-mail is checked against a stand-in hash), so
//! the answer does not tell which e-mails have accounts.

use crate::input::NAME_MAX;
use crate::throttle::{Throttle, counted_as};
use crate::{Actor, App, AppError};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::Serialize;
use sha2::{Digest, Sha256};
use smarketing_core::access::{Action, Relation};
use smarketing_core::{Instant, Invalid};
use smarketing_store::{PasswordReset, Session, User, repo};
use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::Duration;

/// Argon2id memory in KiB, passes and lanes: OWASP's minimum (19 MiB, 2, 1).
const ARGON2_MEMORY_KIB: u32 = 19_456;
const ARGON2_PASSES: u32 = 2;
const ARGON2_LANES: u32 = 1;

/// Passwords shorter than this are refused.
pub const PASSWORD_MIN_CHARS: usize = 12;
/// Longer ones too: hashing a megabyte would be a cheap way to load us.
pub const PASSWORD_MAX_CHARS: usize = 256;

/// Failed sign-ins an account may have in [`SIGN_IN_WINDOW`] before it is
/// answered 429 until the window has passed, whatever the password.
pub const MAX_ACCOUNT_FAILURES: u32 = 5;
/// Failed sign-ins an address may make in [`SIGN_IN_WINDOW`].
pub const MAX_ADDRESS_FAILURES: u32 = 20;
pub const SIGN_IN_WINDOW: Duration = Duration::from_secs(15 * 60);

/// How long an admin's reset link works.
pub const RESET_LINK_HOURS: i64 = 24;

/// Days ended sessions are kept (who was signed in from where) before the
/// scheduler deletes them.
pub const SESSIONS_KEPT_DAYS: i64 = 30;

/// The cookie that carries a session's secret.
pub const SESSION_COOKIE: &str = "smk_session";

/// How long sessions last.
#[derive(Debug, Clone, Copy)]
pub struct SessionTimeouts {
    /// A session unused this long has ended.
    pub idle: Duration,
    /// A session ends this long after sign-in, used or not.
    pub absolute: Duration,
}

impl Default for SessionTimeouts {
    fn default() -> Self {
        SessionTimeouts {
            idle: Duration::from_secs(30 * 60),
            absolute: Duration::from_secs(12 * 3600),
        }
    }
}

/// Failed sign-ins per account (by the e-mail typed, known or not) and
/// per address.
pub(crate) struct SignInLimits {
    by_account: Throttle<String>,
    by_address: Throttle<IpAddr>,
}

impl Default for SignInLimits {
    fn default() -> Self {
        SignInLimits {
            by_account: Throttle::new(MAX_ACCOUNT_FAILURES, SIGN_IN_WINDOW),
            by_address: Throttle::new(MAX_ADDRESS_FAILURES, SIGN_IN_WINDOW),
        }
    }
}

/// Where a sign-in comes from.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub address: Option<IpAddr>,
    pub user_agent: Option<String>,
}

/// A signed-in session: its secret (for the cookie, shown once), its CSRF
/// token, and whom it is for.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub secret: String,
    pub csrf_token: String,
    pub session: Session,
    pub user: User,
}

/// A valid session presented with a request.
#[derive(Debug, Clone)]
pub struct SessionUser {
    pub session: Session,
    pub user: User,
    /// The CSRF token state-changing requests must carry.
    pub csrf_token: String,
}

impl SessionUser {
    pub fn actor(&self) -> Actor {
        Actor::user(&self.user)
    }
}

/// A reset link issued: the token to put in it (shown once), and when it
/// stops working.
#[derive(Debug, Clone, Serialize)]
pub struct ResetLink {
    pub token: String,
    pub expires_at: Instant,
}

fn hasher() -> Argon2<'static> {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_PASSES, ARGON2_LANES, None)
        .expect("OWASP's parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password as an Argon2id PHC string with a random salt.
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).expect("16 bytes is a salt");
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashes any password within the limits")
        .to_string()
}

/// Whether `password` matches the PHC string `hash` (false for a hash that
/// does not parse).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| hasher().verify_password(password.as_bytes(), &h).is_ok())
}

/// A hash no password matches, checked when the e-mail is unknown so that
/// the answer takes as long as for a wrong password.
fn stand_in_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password(&hex::encode(rand::random::<[u8; 32]>())))
}

/// Password hashes computed at once, at most: each takes 19 MiB and a
/// core's worth of work, so a flood of sign-ins waits here (or is turned
/// away) instead of taking the machine's memory.
const HASHING_AT_ONCE: usize = 4;

fn hashing_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| tokio::sync::Semaphore::new(HASHING_AT_ONCE))
}

/// Runs a password hash or check off the async threads, a few at a time;
/// when many wait already, the caller is asked to come back (503).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    let busy = || AppError::Overloaded {
        retry_after_secs: 1,
    };
    let slot = tokio::time::timeout(Duration::from_secs(5), hashing_slots().acquire())
        .await
        .map_err(|_| busy())?
        .map_err(|_| busy())?;
    let out = tokio::task::spawn_blocking(f)
        .await
        .expect("password hashing does not panic");
    drop(slot);
    Ok(out)
}

/// A password as the policy wants it: 12 to 256 characters, not the
/// e-mail itself.
pub fn check_password(password: &str, email: &str) -> Result<(), Invalid> {
    let chars = password.chars().count();
    if chars < PASSWORD_MIN_CHARS {
        return Err(Invalid::new(
            "weak_password",
            "password",
            format!("a password has at least {PASSWORD_MIN_CHARS} characters"),
        ));
    }
    if chars > PASSWORD_MAX_CHARS {
        return Err(Invalid::new(
            "too_long",
            "password",
            format!("a password has at most {PASSWORD_MAX_CHARS} characters"),
        ));
    }
    if password.trim().eq_ignore_ascii_case(email.trim()) {
        return Err(Invalid::new(
            "weak_password",
            "password",
            "a password is not the e-mail address",
        ));
    }
    Ok(())
}

fn secret() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The CSRF token of a session: derived from its secret, which only the
/// cookie holds, so a page on another site can neither read nor make it.
pub fn csrf_token(secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"smarketing csrf\0");
    h.update(secret.as_bytes());
    hex::encode(h.finalize())
}

/// Whether `given` is the session's CSRF token, compared in constant time.
pub fn csrf_matches(session: &SessionUser, given: &str) -> bool {
    use subtle::ConstantTimeEq;
    given.len() == session.csrf_token.len()
        && bool::from(given.as_bytes().ct_eq(session.csrf_token.as_bytes()))
}

fn plus(at: Instant, d: Duration) -> Instant {
    Instant::from_millis(at.millis().saturating_add(d.as_millis() as i64)).unwrap_or(at)
}

fn refused() -> AppError {
    AppError::SignInFailed
}

impl App {
    /// How long sessions last here.
    pub fn session_timeouts(&self) -> SessionTimeouts {
        self.options.sessions
    }

    /// Signs a person in with e-mail and password, and starts a session.
    /// `previous` is the secret of the session the browser held, if any:
    /// it ends, so a session id planted before sign-in is worth nothing.
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        client: &Client,
        previous: Option<&str>,
    ) -> Result<SignedIn, AppError> {
        let account = email.trim().to_lowercase();
        let limits = &self.sign_in_limits;
        let address = client.address.map(counted_as);
        let wait = limits
            .by_account
            .wait(&account)
            .max(address.and_then(|a| limits.by_address.wait(&a)));
        if let Some(wait) = wait {
            return Err(AppError::RateLimited {
                retry_after_secs: wait,
            });
        }
        // Counted before the password is checked, and forgiven on success:
        // attempts sent all at once cannot slip past the limits while the
        // first ones are still being hashed.
        limits.by_account.fail(account.clone());
        if let Some(a) = address {
            limits.by_address.fail(a);
        }
        let mut conn = self.store().acquire().await?;
        let user = if account.len() <= 254 {
            repo::user_by_email(&mut conn, &account).await?
        } else {
            None
        };
        let hash = match &user {
            Some(u) => repo::password_hash(&mut conn, u.id).await?,
            None => None,
        };
        drop(conn);
        let typed = password.to_string();
        let matches = if password.chars().count() > PASSWORD_MAX_CHARS {
            false
        } else {
            let hash = hash.clone();
            blocking(move || match hash {
                Some(h) => verify_password(&typed, &h),
                None => {
                    verify_password(&typed, stand_in_hash());
                    false
                }
            })
            .await?
        };
        let actor = Actor::system().from_address(client.address);
        let user = match user {
            Some(u) if matches && u.disabled_at.is_none() => u,
            user => {
                let mut conn = self.store().acquire().await?;
                // The account tried: a user's id, or the e-mail typed.
                let (kind, id) = match &user {
                    Some(u) => ("user", u.id.to_string()),
                    None => ("email", account.chars().take(NAME_MAX).collect()),
                };
                crate::audit::record(
                    &mut conn,
                    &actor,
                    "sign_in.failed",
                    (kind, &id),
                    crate::audit::NOTHING,
                    crate::audit::NOTHING,
                    self.now(),
                )
                .await?;
                return Err(refused());
            }
        };
        limits.by_account.forgive(&account);
        if let Some(a) = address {
            limits.by_address.unfail(&a);
        }
        let now = self.now();
        let secret = secret();
        let mut tx = self.store().begin().await?;
        if let Some(previous) = previous
            && let Some(old) = repo::session_by_secret(&mut tx, &hash_secret(previous)).await?
        {
            repo::end_session(&mut tx, old.id, "rotated", now).await?;
        }
        let user_agent = client
            .user_agent
            .as_deref()
            .map(|ua| ua.chars().filter(|c| !c.is_control()).take(300).collect());
        let session = repo::insert(
            &mut tx,
            &Session {
                id: 0,
                user_id: user.id,
                secret_hash: hash_secret(&secret),
                created_at: now,
                last_seen_at: now,
                expires_at: plus(now, self.options.sessions.absolute),
                ended_at: None,
                ended_cause: None,
                address: client.address.map(|a| a.to_string()),
                user_agent,
            },
        )
        .await?;
        crate::audit::record(
            &mut tx,
            &Actor::user(&user).from_address(client.address),
            "session.sign_in",
            ("session", &session.id),
            crate::audit::NOTHING,
            crate::audit::NOTHING,
            now,
        )
        .await?;
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(SignedIn {
            csrf_token: csrf_token(&secret),
            secret,
            session,
            user,
        })
    }

    /// The session a cookie's secret stands for, if it still works: not
    /// ended, not past its absolute expiry, not idle too long, its user
    /// not disabled. A session found idle is ended on the spot.
    pub async fn session(&self, secret: &str) -> Result<Option<SessionUser>, AppError> {
        if secret.len() != 64 {
            return Ok(None);
        }
        let now = self.now();
        let mut conn = self.store().acquire().await?;
        let Some(session) = repo::session_by_secret(&mut conn, &hash_secret(secret)).await? else {
            return Ok(None);
        };
        if session.ended_at.is_some() || session.expires_at <= now {
            return Ok(None);
        }
        if plus(session.last_seen_at, self.options.sessions.idle) <= now {
            repo::end_session(&mut conn, session.id, "idle", now).await?;
            return Ok(None);
        }
        let user: User = repo::get(&mut conn, session.user_id).await?;
        if user.disabled_at.is_some() {
            return Ok(None);
        }
        // Written at most once a minute, as for tokens.
        if now.millis() - session.last_seen_at.millis() >= 60_000 {
            repo::touch_session(&mut conn, session.id, now).await?;
        }
        Ok(Some(SessionUser {
            csrf_token: csrf_token(secret),
            session,
            user,
        }))
    }

    /// Signs out: the session ends on the server, whatever the browser
    /// keeps.
    pub async fn sign_out(
        &self,
        session: &SessionUser,
        from: Option<IpAddr>,
    ) -> Result<(), AppError> {
        let now = self.now();
        let mut tx = self.store().begin().await?;
        if repo::end_session(&mut tx, session.session.id, "sign_out", now).await? {
            crate::audit::record(
                &mut tx,
                &session.actor().from_address(from),
                "session.sign_out",
                ("session", &session.session.id),
                crate::audit::NOTHING,
                crate::audit::NOTHING,
                now,
            )
            .await?;
        }
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(())
    }

    /// Deletes sessions that ended or expired more than
    /// [`SESSIONS_KEPT_DAYS`] ago (the audit log keeps sign-ins for good).
    pub async fn purge_old_sessions(&self) -> Result<u64, AppError> {
        let before = Instant::from_millis(self.now().millis() - SESSIONS_KEPT_DAYS * 86_400_000)
            .unwrap_or(self.now());
        let mut conn = self.store().acquire().await?;
        Ok(repo::purge_sessions(&mut conn, before).await?)
    }

    /// A user's sessions that have not ended, newest first.
    pub async fn open_sessions(&self, user_id: i64) -> Result<Vec<Session>, AppError> {
        let mut conn = self.store().acquire().await?;
        Ok(repo::open_sessions_of(&mut conn, user_id, self.now()).await?)
    }

    /// Sets a user's password (an admin, or the operator at the command
    /// line). Their open sessions end: whoever knew the old one is out.
    pub async fn set_password(
        &self,
        user_id: i64,
        password: &str,
        actor: &Actor,
    ) -> Result<(), AppError> {
        actor.authorize(Action::ManageUsers, Relation::Company)?;
        let user = self.user(user_id).await?;
        self.store_password(&user, password, actor, "user.set_password")
            .await
    }

    /// Changes the caller's own password, given the one they have now.
    pub async fn change_own_password(
        &self,
        session: &SessionUser,
        current: &str,
        new: &str,
        from: Option<IpAddr>,
    ) -> Result<(), AppError> {
        let mut conn = self.store().acquire().await?;
        let hash = repo::password_hash(&mut conn, session.user.id).await?;
        drop(conn);
        // Guessing the current password with a stolen session is held to
        // the account's sign-in limit.
        let limits = &self.sign_in_limits;
        if let Some(wait) = limits.by_account.wait(&session.user.email) {
            return Err(AppError::RateLimited {
                retry_after_secs: wait,
            });
        }
        limits.by_account.fail(session.user.email.clone());
        let typed = current.to_string();
        let ok = current.chars().count() <= PASSWORD_MAX_CHARS
            && blocking(move || hash.is_some_and(|h| verify_password(&typed, &h))).await?;
        if ok {
            limits.by_account.forgive(&session.user.email);
        } else {
            return Err(Invalid::new(
                "wrong_password",
                "current_password",
                "the current password is not right",
            )
            .into());
        }
        self.store_password(
            &session.user,
            new,
            &session.actor().from_address(from),
            "user.change_password",
        )
        .await
    }

    async fn store_password(
        &self,
        user: &User,
        password: &str,
        actor: &Actor,
        action: &str,
    ) -> Result<(), AppError> {
        check_password(password, &user.email)?;
        let typed = password.to_string();
        let hash = blocking(move || hash_password(&typed)).await?;
        let now = self.now();
        let mut tx = self.store().begin().await?;
        repo::set_password_hash(&mut tx, user.id, &hash).await?;
        let ended = repo::end_sessions_of(&mut tx, user.id, "password_changed", now).await?;
        crate::audit::record(
            &mut tx,
            actor,
            action,
            ("user", &user.id),
            crate::audit::NOTHING,
            Some(&serde_json::json!({ "sessions_ended": ended })),
            now,
        )
        .await?;
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(())
    }

    /// Issues a one-time reset link for a user (admins). Earlier unused
    /// links of theirs stop working.
    pub async fn issue_password_reset(
        &self,
        user_id: i64,
        actor: &Actor,
    ) -> Result<ResetLink, AppError> {
        actor.authorize(Action::ManageUsers, Relation::Company)?;
        let user = self.user(user_id).await?;
        if user.disabled_at.is_some() {
            return Err(AppError::NotFound {
                what: "enabled user",
                id: user_id.to_string(),
            });
        }
        let token = secret();
        let now = self.now();
        let expires_at = plus(now, Duration::from_secs(RESET_LINK_HOURS as u64 * 3600));
        let mut tx = self.store().begin().await?;
        repo::retire_password_resets(&mut tx, user.id, now).await?;
        let reset = repo::insert(
            &mut tx,
            &PasswordReset {
                id: 0,
                user_id: user.id,
                token_hash: hash_secret(&token),
                created_at: now,
                created_by: actor.user_id,
                expires_at,
                used_at: None,
            },
        )
        .await?;
        crate::audit::record(
            &mut tx,
            actor,
            "password_reset.issue",
            ("user", &user.id),
            crate::audit::NOTHING,
            Some(&serde_json::json!({ "reset_id": reset.id, "expires_at": expires_at })),
            now,
        )
        .await?;
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(ResetLink { token, expires_at })
    }

    /// Sets a new password with a reset link's token; the link is used up
    /// and every session of the user ends.
    pub async fn reset_password(
        &self,
        token: &str,
        password: &str,
        from: Option<IpAddr>,
    ) -> Result<(), AppError> {
        let bad_link = || {
            AppError::from(Invalid::new(
                "invalid_reset_link",
                "token",
                "this reset link is unknown, used or expired; ask an admin for a new one",
            ))
        };
        if token.len() != 64 {
            return Err(bad_link());
        }
        let now = self.now();
        let mut conn = self.store().acquire().await?;
        let reset = repo::password_reset_by_token(&mut conn, &hash_secret(token))
            .await?
            .filter(|r| r.used_at.is_none() && r.expires_at > now)
            .ok_or_else(bad_link)?;
        let user: User = repo::get(&mut conn, reset.user_id).await?;
        drop(conn);
        check_password(password, &user.email)?;
        let typed = password.to_string();
        let hash = blocking(move || hash_password(&typed)).await?;
        let mut tx = self.store().begin().await?;
        if !repo::use_password_reset(&mut tx, reset.id, now).await? {
            return Err(bad_link());
        }
        repo::set_password_hash(&mut tx, user.id, &hash).await?;
        let ended = repo::end_sessions_of(&mut tx, user.id, "password_reset", now).await?;
        crate::audit::record(
            &mut tx,
            &Actor::user(&user).from_address(from),
            "password_reset.use",
            ("user", &user.id),
            crate::audit::NOTHING,
            Some(&serde_json::json!({ "reset_id": reset.id, "sessions_ended": ended })),
            now,
        )
        .await?;
        tx.commit()
            .await
            .map_err(smarketing_store::StoreError::from)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let h = hash_password("correct horse battery");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterz", &h));
        assert!(!verify_password("anything", "not a hash"));
    }

    #[test]
    fn the_policy_refuses_short_long_and_email_passwords() {
        assert!(check_password("short", "a@b.co").is_err());
        assert!(check_password(&"x".repeat(257), "a@b.co").is_err());
        assert!(check_password("Ana@Example.com", "ana@example.com").is_err());
        assert!(check_password("a long enough one", "a@b.co").is_ok());
    }

    #[test]
    fn csrf_tokens_differ_per_session_and_compare_whole() {
        assert_ne!(csrf_token("a"), csrf_token("b"));
        assert_eq!(csrf_token("a").len(), 64);
    }
}
