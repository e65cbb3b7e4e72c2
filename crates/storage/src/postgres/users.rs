//! Users and API tokens on PostgreSQL. Tokens are stored by SHA-256 hash only.

use super::{PgStore, count, db, get, is_unique_violation};
use crate::codec::{role, truncate_to_micros};
use jiff::Timestamp;
use pricetrack_app::ports::{Role, StoreError, StoreResult, TokenRecord, User};
use pricetrack_domain::UserId;
use tokio_postgres::Row;

const USER_COLUMNS: &str = "id, name, role, created_at";
const TOKEN_COLUMNS: &str = "id, user_id, label, prefix, created_at, last_used_at";

fn decode_user(row: &Row) -> StoreResult<User> {
    Ok(User {
        id: UserId(get(row, 0, "users.id")?),
        name: get(row, 1, "users.name")?,
        role: role("users.role", get(row, 2, "users.role")?)?,
        created_at: get(row, 3, "users.created_at")?,
    })
}

fn decode_token(row: &Row) -> StoreResult<TokenRecord> {
    Ok(TokenRecord {
        id: get(row, 0, "api_tokens.id")?,
        user: UserId(get(row, 1, "api_tokens.user_id")?),
        label: get(row, 2, "api_tokens.label")?,
        prefix: get(row, 3, "api_tokens.prefix")?,
        created_at: get(row, 4, "api_tokens.created_at")?,
        last_used_at: get(row, 5, "api_tokens.last_used_at")?,
    })
}

impl PgStore {
    pub(super) async fn pg_create_user(
        &self,
        name: &str,
        role: Role,
        now: Timestamp,
    ) -> StoreResult<User> {
        let client = self.client().await?;
        let now = truncate_to_micros(now);
        let row = client
            .query_one(
                "INSERT INTO users (name, role, created_at) VALUES ($1, $2, $3) RETURNING id",
                &[&name, &role.as_str(), &now],
            )
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict(format!("a user named {name:?} already exists"))
                } else {
                    StoreError::backend("creating a user", e)
                }
            })?;
        Ok(User {
            id: UserId(get(&row, 0, "users.id")?),
            name: name.to_owned(),
            role,
            created_at: now,
        })
    }

    pub(super) async fn pg_user_by_name(&self, name: &str) -> StoreResult<Option<User>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE name = $1"),
                &[&name],
            )
            .await
            .map_err(db("reading a user"))?;
        row.as_ref().map(decode_user).transpose()
    }

    pub(super) async fn pg_list_users(&self) -> StoreResult<Vec<User>> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!("SELECT {USER_COLUMNS} FROM users ORDER BY name COLLATE \"C\", id"),
                &[],
            )
            .await
            .map_err(db("listing users"))?;
        rows.iter().map(decode_user).collect()
    }

    pub(super) async fn pg_count_users(&self) -> StoreResult<u64> {
        let client = self.client().await?;
        let n: i64 = get(
            &client
                .query_one("SELECT count(*) FROM users", &[])
                .await
                .map_err(db("counting users"))?,
            0,
            "count",
        )?;
        Ok(count(n))
    }

    pub(super) async fn pg_set_password_hash(&self, user: UserId, hash: &str) -> StoreResult<bool> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE users SET password_hash = $2 WHERE id = $1",
                &[&user.0, &hash],
            )
            .await
            .map_err(db("setting a password"))?;
        Ok(n > 0)
    }

    pub(super) async fn pg_password_hash(&self, user: UserId) -> StoreResult<Option<String>> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT password_hash FROM users WHERE id = $1", &[&user.0])
            .await
            .map_err(db("reading a password hash"))?;
        match row {
            Some(row) => get(&row, 0, "users.password_hash"),
            None => Ok(None),
        }
    }

    pub(super) async fn pg_create_token(
        &self,
        user: UserId,
        label: &str,
        prefix: &str,
        hash_hex: &str,
        now: Timestamp,
    ) -> StoreResult<TokenRecord> {
        let client = self.client().await?;
        let now = truncate_to_micros(now);
        let row = client
            .query_one(
                "INSERT INTO api_tokens (user_id, label, prefix, hash, created_at)
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
                &[&user.0, &label, &prefix, &hash_hex, &now],
            )
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict("a token with this hash already exists".to_owned())
                } else {
                    StoreError::backend("creating a token", e)
                }
            })?;
        Ok(TokenRecord {
            id: get(&row, 0, "api_tokens.id")?,
            user,
            label: label.to_owned(),
            prefix: prefix.to_owned(),
            created_at: now,
            last_used_at: None,
        })
    }

    pub(super) async fn pg_user_by_token_hash(
        &self,
        hash_hex: &str,
        now: Timestamp,
    ) -> StoreResult<Option<User>> {
        let client = self.client().await?;
        // Runs on every authenticated request: prepared once per connection, so a
        // request pays one round trip here instead of a parse and plan each time.
        let stmt = client
            .prepare_cached(
                "SELECT u.id, u.name, u.role, u.created_at, t.last_used_at
                 FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = $1",
            )
            .await
            .map_err(db("looking up a token"))?;
        let row = client
            .query_opt(&stmt, &[&hash_hex])
            .await
            .map_err(db("looking up a token"))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let user = decode_user(&row)?;
        let last_used: Option<Timestamp> = get(&row, 4, "api_tokens.last_used_at")?;
        // Recorded at most once per TOKEN_USE_RESOLUTION: reads stay reads.
        if crate::codec::token_use_is_stale(last_used, now) {
            client
                .execute(
                    "UPDATE api_tokens SET last_used_at = $2 WHERE hash = $1",
                    &[&hash_hex, &truncate_to_micros(now)],
                )
                .await
                .map_err(db("recording a token's use"))?;
        }
        Ok(Some(user))
    }

    pub(super) async fn pg_list_tokens(&self, user: UserId) -> StoreResult<Vec<TokenRecord>> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY id"),
                &[&user.0],
            )
            .await
            .map_err(db("listing tokens"))?;
        rows.iter().map(decode_token).collect()
    }

    pub(super) async fn pg_revoke_token(&self, user: UserId, token_id: i64) -> StoreResult<bool> {
        let client = self.client().await?;
        let n = client
            .execute(
                "DELETE FROM api_tokens WHERE id = $1 AND user_id = $2",
                &[&token_id, &user.0],
            )
            .await
            .map_err(db("revoking a token"))?;
        Ok(n > 0)
    }
}
