//! Browser sign-in: argon2id password hashes, database-backed sessions with a
//! synchronizer CSRF token, and a login rate limit.
//!
//! The rate limit lives in the database (`login_failures`), so several replicas
//! behind one load balancer share it: at most [`MAX_FAILURES`] failed attempts per
//! user name and client address within [`FAILURE_WINDOW`]; a success clears them.

use crate::context::AppContext;
use crate::error::{AppError, AppResult};
use crate::ports::{SessionRecord, User};
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier, password_hash::SaltString};
use jiff::SignedDuration;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// How long a session lasts after sign-in.
pub const SESSION_TTL: SignedDuration = SignedDuration::from_hours(24 * 30);
/// Failed sign-ins allowed per user name and address within [`FAILURE_WINDOW`].
pub const MAX_FAILURES: u64 = 5;
pub const FAILURE_WINDOW: SignedDuration = SignedDuration::from_mins(15);
pub const MIN_PASSWORD_LEN: usize = 8;
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Why a sign-in failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown user, no password set, or a wrong password: deliberately not told apart.
    #[error("wrong user name or password")]
    Invalid,
    #[error("too many failed sign-ins; try again in {} minutes", .retry_after.as_mins().max(1))]
    RateLimited { retry_after: SignedDuration },
    #[error(transparent)]
    App(#[from] AppError),
}

/// A new session: the cookie secret exists only in this value.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub secret: String,
    pub record: SessionRecord,
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// A random token (256 bits, hex) for one-off form tokens.
pub fn new_token() -> String {
    random_hex(32)
}

/// The stored form of a session secret.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub fn validate_password(password: &str) -> AppResult<()> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_LEN {
        return Err(AppError::invalid_field(
            "password",
            format!("must be at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(AppError::invalid_field(
            "password",
            format!("must be at most {MAX_PASSWORD_LEN} bytes"),
        ));
    }
    Ok(())
}

/// An argon2id PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub fn hash_password(password: &str) -> AppResult<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt)
        .map_err(|e| AppError::invalid_field("password", e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::invalid_field("password", e.to_string()))
}

/// Checks a password against a PHC string; a malformed hash never matches.
pub fn verify_password(hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Hashing is deliberately slow (tens of milliseconds): off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        AppError::Store(crate::ports::StoreError::backend(
            "password hashing task",
            e,
        ))
    })
}

/// Sets a user's password (validated, argon2id-hashed).
pub async fn set_password(ctx: &AppContext, user: &User, password: &str) -> AppResult<()> {
    validate_password(password)?;
    let password = password.to_owned();
    let hash = blocking(move || hash_password(&password)).await??;
    if ctx.store.set_password_hash(user.id, &hash).await? {
        Ok(())
    } else {
        Err(AppError::not_found(format!("user {:?}", user.name)))
    }
}

fn limit_key(username: &str, client: &str) -> String {
    format!("{}|{client}", username.to_lowercase())
}

/// Verifies the credentials and opens a session. `client` is the caller's address.
pub async fn login(
    ctx: &AppContext,
    username: &str,
    password: &str,
    client: &str,
) -> Result<NewSession, LoginError> {
    let now = ctx.clock.now();
    let key = limit_key(username, client);
    let failures = ctx
        .store
        .count_login_failures(&key, now - FAILURE_WINDOW)
        .await
        .map_err(AppError::from)?;
    if failures >= MAX_FAILURES {
        return Err(LoginError::RateLimited {
            retry_after: FAILURE_WINDOW,
        });
    }
    let user = ctx
        .store
        .user_by_name(username)
        .await
        .map_err(AppError::from)?;
    let hash = match &user {
        Some(u) => ctx
            .store
            .password_hash(u.id)
            .await
            .map_err(AppError::from)?,
        None => None,
    };
    // Without a user or a hash, verify against a dummy so timing does not tell.
    let stored = hash.clone().unwrap_or_else(|| DUMMY_HASH.clone());
    let candidate = password.to_owned();
    let ok = blocking(move || verify_password(&stored, &candidate)).await? && hash.is_some();
    let Some(user) = user.filter(|_| ok) else {
        ctx.store
            .record_login_failure(&key, now)
            .await
            .map_err(AppError::from)?;
        return Err(LoginError::Invalid);
    };
    ctx.store
        .clear_login_failures(&key)
        .await
        .map_err(AppError::from)?;
    Ok(open_session(ctx, user).await?)
}

/// A valid argon2id hash of a random password nobody knows.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password(&random_hex(16)).unwrap_or_default());

/// Opens a session for a user who proved who they are.
pub async fn open_session(ctx: &AppContext, user: User) -> AppResult<NewSession> {
    let now = ctx.clock.now();
    let secret = random_hex(32);
    let csrf_token = random_hex(32);
    let expires_at = now + SESSION_TTL;
    ctx.store
        .create_session(&hash_secret(&secret), user.id, &csrf_token, now, expires_at)
        .await?;
    // Opportunistic cleanup; cheap with the expiry index.
    let _ = ctx.store.delete_expired_sessions(now).await;
    Ok(NewSession {
        secret,
        record: SessionRecord {
            user,
            csrf_token,
            created_at: now,
            expires_at,
        },
    })
}

/// The live session behind a cookie secret.
pub async fn session(ctx: &AppContext, secret: &str) -> AppResult<Option<SessionRecord>> {
    if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    Ok(ctx
        .store
        .session(&hash_secret(secret), ctx.clock.now())
        .await?)
}

pub async fn logout(ctx: &AppContext, secret: &str) -> AppResult<()> {
    ctx.store.delete_session(&hash_secret(secret)).await?;
    Ok(())
}

/// Constant-time comparison of a submitted CSRF token with the session's.
pub fn csrf_matches(session: &SessionRecord, submitted: &str) -> bool {
    let (a, b) = (session.csrf_token.as_bytes(), submitted.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_hashes_verify_and_differ_per_salt() {
        let a = hash_password("correct horse").unwrap();
        let b = hash_password("correct horse").unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b);
        assert!(verify_password(&a, "correct horse"));
        assert!(!verify_password(&a, "wrong horse"));
        assert!(!verify_password("not a hash", "x"));
        assert!(DUMMY_HASH.starts_with("$argon2id$"));
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(validate_password("short").is_err());
        assert!(validate_password("long enough").is_ok());
    }
}
