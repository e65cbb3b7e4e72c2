//! Users and API tokens on SQLite. Tokens are stored by SHA-256 hash only.

use super::{db, get, is_unique_violation};
use crate::codec::{from_micros, micros, role, truncate_to_micros};
use jiff::Timestamp;
use pricetrack_app::ports::{Role, StoreError, StoreResult, TokenRecord, User};
use pricetrack_domain::UserId;
use rusqlite::{Connection, OptionalExtension, Row, params};

const USER_COLUMNS: &str = "id, name, role, created_at";
const TOKEN_COLUMNS: &str = "id, user_id, label, prefix, created_at, last_used_at";

fn decode_user(row: &Row<'_>) -> StoreResult<User> {
    Ok(User {
        id: UserId(get(row, 0, "users.id")?),
        name: get(row, 1, "users.name")?,
        role: role("users.role", &get::<String>(row, 2, "users.role")?)?,
        created_at: from_micros("users.created_at", get(row, 3, "users.created_at")?)?,
    })
}

fn decode_token(row: &Row<'_>) -> StoreResult<TokenRecord> {
    let last_used: Option<i64> = get(row, 5, "api_tokens.last_used_at")?;
    Ok(TokenRecord {
        id: get(row, 0, "api_tokens.id")?,
        user: UserId(get(row, 1, "api_tokens.user_id")?),
        label: get(row, 2, "api_tokens.label")?,
        prefix: get(row, 3, "api_tokens.prefix")?,
        created_at: from_micros(
            "api_tokens.created_at",
            get(row, 4, "api_tokens.created_at")?,
        )?,
        last_used_at: last_used
            .map(|v| from_micros("api_tokens.last_used_at", v))
            .transpose()?,
    })
}

pub(super) fn create_user(
    conn: &Connection,
    name: &str,
    role: Role,
    now: Timestamp,
) -> StoreResult<User> {
    let now = truncate_to_micros(now);
    let id = conn
        .prepare_cached(
            "INSERT INTO users (name, role, created_at) VALUES (?1, ?2, ?3) RETURNING id",
        )
        .and_then(|mut stmt| {
            stmt.query_row(params![name, role.as_str(), micros(now)], |row| row.get(0))
        })
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("a user named {name:?} already exists"))
            } else {
                StoreError::backend("creating a user", e)
            }
        })?;
    Ok(User {
        id: UserId(id),
        name: name.to_owned(),
        role,
        created_at: now,
    })
}

fn users_where(
    conn: &Connection,
    condition: &str,
    params: impl rusqlite::Params,
) -> StoreResult<Vec<User>> {
    let mut stmt = conn
        .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users {condition}"))
        .map_err(db("reading users"))?;
    let mut rows = stmt.query(params).map_err(db("reading users"))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db("reading users"))? {
        out.push(decode_user(row)?);
    }
    Ok(out)
}

pub(super) fn user_by_name(conn: &Connection, name: &str) -> StoreResult<Option<User>> {
    Ok(users_where(conn, "WHERE name = ?1", [name])?
        .into_iter()
        .next())
}

pub(super) fn list_users(conn: &Connection) -> StoreResult<Vec<User>> {
    users_where(conn, "ORDER BY name, id", [])
}

pub(super) fn count_users(conn: &Connection) -> StoreResult<u64> {
    let n: i64 = conn
        .query_row("SELECT count(*) FROM users", [], |row| row.get(0))
        .map_err(db("counting users"))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(super) fn set_password_hash(conn: &Connection, user: UserId, hash: &str) -> StoreResult<bool> {
    let n = conn
        .prepare_cached("UPDATE users SET password_hash = ?2 WHERE id = ?1")
        .and_then(|mut stmt| stmt.execute(params![user.0, hash]))
        .map_err(db("setting a password"))?;
    Ok(n > 0)
}

pub(super) fn password_hash(conn: &Connection, user: UserId) -> StoreResult<Option<String>> {
    let hash: Option<Option<String>> = conn
        .prepare_cached("SELECT password_hash FROM users WHERE id = ?1")
        .and_then(|mut stmt| stmt.query_row([user.0], |row| row.get(0)).optional())
        .map_err(db("reading a password hash"))?;
    Ok(hash.flatten())
}

pub(super) fn create_token(
    conn: &Connection,
    user: UserId,
    label: &str,
    prefix: &str,
    hash_hex: &str,
    now: Timestamp,
) -> StoreResult<TokenRecord> {
    let now = truncate_to_micros(now);
    let id = conn
        .prepare_cached(
            "INSERT INTO api_tokens (user_id, label, prefix, hash, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
        )
        .and_then(|mut stmt| {
            stmt.query_row(
                params![user.0, label, prefix, hash_hex, micros(now)],
                |row| row.get(0),
            )
        })
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict("a token with this hash already exists".to_owned())
            } else {
                StoreError::backend("creating a token", e)
            }
        })?;
    Ok(TokenRecord {
        id,
        user,
        label: label.to_owned(),
        prefix: prefix.to_owned(),
        created_at: now,
        last_used_at: None,
    })
}

/// The token's user and when the token was last used (read only).
pub(super) fn token_user(
    conn: &Connection,
    hash_hex: &str,
) -> StoreResult<Option<(User, Option<Timestamp>)>> {
    let found: Option<(i64, Option<i64>)> = conn
        .prepare_cached("SELECT user_id, last_used_at FROM api_tokens WHERE hash = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([hash_hex], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
        })
        .map_err(db("looking up a token"))?;
    let Some((id, last_used)) = found else {
        return Ok(None);
    };
    let last_used = last_used
        .map(|v| from_micros("api_tokens.last_used_at", v))
        .transpose()?;
    Ok(users_where(conn, "WHERE id = ?1", [id])?
        .into_iter()
        .next()
        .map(|u| (u, last_used)))
}

pub(super) fn record_token_use(
    conn: &Connection,
    hash_hex: &str,
    now: Timestamp,
) -> StoreResult<()> {
    conn.prepare_cached("UPDATE api_tokens SET last_used_at = ?2 WHERE hash = ?1")
        .and_then(|mut stmt| stmt.execute(params![hash_hex, micros(now)]))
        .map_err(db("recording a token's use"))?;
    Ok(())
}

pub(super) fn list_tokens(conn: &Connection, user: UserId) -> StoreResult<Vec<TokenRecord>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = ?1 ORDER BY id"
        ))
        .map_err(db("listing tokens"))?;
    let mut rows = stmt.query([user.0]).map_err(db("listing tokens"))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db("listing tokens"))? {
        out.push(decode_token(row)?);
    }
    Ok(out)
}

pub(super) fn revoke_token(conn: &Connection, user: UserId, token_id: i64) -> StoreResult<bool> {
    let n = conn
        .prepare_cached("DELETE FROM api_tokens WHERE id = ?1 AND user_id = ?2")
        .and_then(|mut stmt| stmt.execute(params![token_id, user.0]))
        .map_err(db("revoking a token"))?;
    Ok(n > 0)
}
