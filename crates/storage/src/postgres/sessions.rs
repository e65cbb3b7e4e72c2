//! Browser sessions and the login rate limit on PostgreSQL.

use super::{PgStore, count, db, get};
use crate::codec::{role, truncate_to_micros};
use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use pricetrack_app::ports::{SessionRecord, SessionStore, StoreResult, User};
use pricetrack_domain::UserId;

#[async_trait]
impl SessionStore for PgStore {
    async fn create_session(
        &self,
        id_hash: &str,
        user: UserId,
        csrf_token: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &id_hash,
                    &user.0,
                    &csrf_token,
                    &truncate_to_micros(now),
                    &truncate_to_micros(expires_at),
                ],
            )
            .await
            .map_err(db("creating a session"))?;
        Ok(())
    }

    async fn session(&self, id_hash: &str, now: Timestamp) -> StoreResult<Option<SessionRecord>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT u.id, u.name, u.role, u.created_at, s.csrf_token, s.created_at, s.expires_at
                 FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.id_hash = $1 AND s.expires_at > $2",
                &[&id_hash, &now],
            )
            .await
            .map_err(db("reading a session"))?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(SessionRecord {
            user: User {
                id: UserId(get(&row, 0, "users.id")?),
                name: get(&row, 1, "users.name")?,
                role: role("users.role", get(&row, 2, "users.role")?)?,
                created_at: get(&row, 3, "users.created_at")?,
            },
            csrf_token: get(&row, 4, "sessions.csrf_token")?,
            created_at: get(&row, 5, "sessions.created_at")?,
            expires_at: get(&row, 6, "sessions.expires_at")?,
        }))
    }

    async fn delete_session(&self, id_hash: &str) -> StoreResult<bool> {
        let client = self.client().await?;
        let n = client
            .execute("DELETE FROM sessions WHERE id_hash = $1", &[&id_hash])
            .await
            .map_err(db("deleting a session"))?;
        Ok(n > 0)
    }

    async fn delete_expired_sessions(&self, now: Timestamp) -> StoreResult<u64> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM sessions WHERE expires_at <= $1", &[&now])
            .await
            .map_err(db("deleting expired sessions"))
    }

    async fn record_login_failure(&self, key: &str, now: Timestamp) -> StoreResult<()> {
        let client = self.client().await?;
        let day_ago = now - SignedDuration::from_hours(24);
        client
            .execute("DELETE FROM login_failures WHERE time < $1", &[&day_ago])
            .await
            .map_err(db("pruning login failures"))?;
        client
            .execute(
                "INSERT INTO login_failures (key, time) VALUES ($1, $2)",
                &[&key, &truncate_to_micros(now)],
            )
            .await
            .map_err(db("recording a login failure"))?;
        Ok(())
    }

    async fn count_login_failures(&self, key: &str, since: Timestamp) -> StoreResult<u64> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT count(*) FROM login_failures WHERE key = $1 AND time >= $2",
                &[&key, &since],
            )
            .await
            .map_err(db("counting login failures"))?;
        Ok(count(get(&row, 0, "count")?))
    }

    async fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM login_failures WHERE key = $1", &[&key])
            .await
            .map_err(db("clearing login failures"))?;
        Ok(())
    }
}
