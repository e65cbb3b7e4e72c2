//! Users and API tokens. Tokens are random, shown once, and stored as SHA-256 hashes.

use crate::context::AppContext;
use crate::error::{AppError, AppResult};
use crate::ports::{Role, StoreError, TokenRecord, User};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Tokens look like `pt_` + 43 url-safe characters (256 random bits).
const TOKEN_PREFIX: &str = "pt_";
/// Characters of a token kept in clear to recognise it in a list.
const VISIBLE_PREFIX_LEN: usize = 10;

/// A newly created token: the secret exists only in this value.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub record: TokenRecord,
    pub secret: String,
}

fn generate_secret() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    // 6 bits per character; 43 characters cover the 256 bits.
    let mut bits: u32 = 0;
    let mut nbits = 0;
    let mut out = String::from(TOKEN_PREFIX);
    for b in bytes {
        bits = (bits << 8) | u32::from(b);
        nbits += 8;
        while nbits >= 6 {
            nbits -= 6;
            out.push(ALPHABET[((bits >> nbits) & 63) as usize] as char);
        }
    }
    if nbits > 0 {
        out.push(ALPHABET[((bits << (6 - nbits)) & 63) as usize] as char);
    }
    out
}

pub fn hash_token(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub fn validate_user_name(name: &str) -> AppResult<&str> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'));
    if ok {
        Ok(name)
    } else {
        Err(AppError::invalid_field(
            "name",
            "user names are 1–64 characters of letters, digits, '.', '-', '_' or '@'",
        ))
    }
}

pub async fn create_user(ctx: &AppContext, name: &str, role: Role) -> AppResult<User> {
    let name = validate_user_name(name)?;
    ctx.store
        .create_user(name, role, ctx.clock.now())
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => AppError::Conflict(format!("user {name:?} already exists")),
            e => e.into(),
        })
}

pub async fn issue_token(ctx: &AppContext, user: &User, label: &str) -> AppResult<IssuedToken> {
    let label = label.trim();
    if label.chars().count() > 100 {
        return Err(AppError::invalid_field(
            "label",
            "must be at most 100 characters",
        ));
    }
    let secret = generate_secret();
    let record = ctx
        .store
        .create_token(
            user.id,
            label,
            &secret[..VISIBLE_PREFIX_LEN],
            &hash_token(&secret),
            ctx.clock.now(),
        )
        .await?;
    Ok(IssuedToken { record, secret })
}

/// Resolves a bearer token to its user.
pub async fn authenticate(ctx: &AppContext, secret: &str) -> AppResult<User> {
    if !secret.starts_with(TOKEN_PREFIX) {
        return Err(AppError::Unauthenticated);
    }
    ctx.store
        .user_by_token_hash(&hash_token(secret), ctx.clock.now())
        .await?
        .ok_or(AppError::Unauthenticated)
}

pub async fn user_by_name(ctx: &AppContext, name: &str) -> AppResult<User> {
    ctx.store
        .user_by_name(name)
        .await?
        .ok_or_else(|| AppError::not_found(format!("user {name:?}")))
}

/// On first start with an empty database, creates the `admin` user and returns
/// a one-time API token for it. Returns `None` when users already exist.
pub async fn bootstrap_admin(ctx: &AppContext) -> AppResult<Option<IssuedToken>> {
    if ctx.store.count_users().await? > 0 {
        return Ok(None);
    }
    let admin = match ctx
        .store
        .create_user("admin", Role::Admin, ctx.clock.now())
        .await
    {
        Ok(user) => user,
        // Another replica bootstrapped at the same moment.
        Err(StoreError::Conflict(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    issue_token(ctx, &admin, "initial admin token")
        .await
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_and_prefixed() {
        let a = generate_secret();
        let b = generate_secret();
        assert_ne!(a, b);
        assert!(a.starts_with("pt_"));
        assert_eq!(a.len(), 3 + 43);
        assert_eq!(hash_token(&a).len(), 64);
    }
}
