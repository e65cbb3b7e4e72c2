//! Browser sessions and the login rate limit on SQLite.

use super::{SqliteStore, db, get};
use crate::codec::{from_micros, micros, role, truncate_to_micros};
use async_trait::async_trait;
use jiff::Timestamp;
use pricetrack_app::ports::{SessionRecord, SessionStore, StoreResult, User};
use pricetrack_domain::UserId;
use rusqlite::{OptionalExtension, params};

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(
        &self,
        id_hash: &str,
        user: UserId,
        csrf_token: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        let (id_hash, csrf) = (id_hash.to_owned(), csrf_token.to_owned());
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    id_hash,
                    user.0,
                    csrf,
                    micros(truncate_to_micros(now)),
                    micros(truncate_to_micros(expires_at))
                ])
            })
            .map(|_| ())
            .map_err(db("creating a session"))
        })
        .await
    }

    async fn session(&self, id_hash: &str, now: Timestamp) -> StoreResult<Option<SessionRecord>> {
        let id_hash = id_hash.to_owned();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT u.id, u.name, u.role, u.created_at, s.csrf_token, s.created_at, s.expires_at
                     FROM sessions s JOIN users u ON u.id = s.user_id
                     WHERE s.id_hash = ?1 AND s.expires_at > ?2",
                )
                .map_err(db("reading a session"))?;
            let mut rows = stmt
                .query(params![id_hash, micros(now)])
                .map_err(db("reading a session"))?;
            let Some(row) = rows.next().map_err(db("reading a session"))? else {
                return Ok(None);
            };
            Ok(Some(SessionRecord {
                user: User {
                    id: UserId(get(row, 0, "users.id")?),
                    name: get(row, 1, "users.name")?,
                    role: role("users.role", &get::<String>(row, 2, "users.role")?)?,
                    created_at: from_micros("users.created_at", get(row, 3, "users.created_at")?)?,
                },
                csrf_token: get(row, 4, "sessions.csrf_token")?,
                created_at: from_micros("sessions.created_at", get(row, 5, "sessions.created_at")?)?,
                expires_at: from_micros("sessions.expires_at", get(row, 6, "sessions.expires_at")?)?,
            }))
        })
        .await
    }

    async fn delete_session(&self, id_hash: &str) -> StoreResult<bool> {
        let id_hash = id_hash.to_owned();
        self.write(move |c| {
            c.prepare_cached("DELETE FROM sessions WHERE id_hash = ?1")
                .and_then(|mut s| s.execute([id_hash]))
                .map(|n| n > 0)
                .map_err(db("deleting a session"))
        })
        .await
    }

    async fn delete_expired_sessions(&self, now: Timestamp) -> StoreResult<u64> {
        self.write(move |c| {
            c.prepare_cached("DELETE FROM sessions WHERE expires_at <= ?1")
                .and_then(|mut s| s.execute([micros(now)]))
                .map(|n| n as u64)
                .map_err(db("deleting expired sessions"))
        })
        .await
    }

    async fn record_login_failure(&self, key: &str, now: Timestamp) -> StoreResult<()> {
        let key = key.to_owned();
        self.write(move |c| {
            // Keep the table small: rows older than a day are never counted.
            c.prepare_cached("DELETE FROM login_failures WHERE time < ?1")
                .and_then(|mut s| s.execute([micros(now) - 86_400_000_000]))
                .map_err(db("pruning login failures"))?;
            c.prepare_cached("INSERT INTO login_failures (key, time) VALUES (?1, ?2)")
                .and_then(|mut s| s.execute(params![key, micros(now)]))
                .map(|_| ())
                .map_err(db("recording a login failure"))
        })
        .await
    }

    async fn count_login_failures(&self, key: &str, since: Timestamp) -> StoreResult<u64> {
        let key = key.to_owned();
        self.read(move |c| {
            let n: Option<i64> = c
                .prepare_cached("SELECT count(*) FROM login_failures WHERE key = ?1 AND time >= ?2")
                .and_then(|mut s| {
                    s.query_row(params![key, micros(since)], |r| r.get(0))
                        .optional()
                })
                .map_err(db("counting login failures"))?;
            Ok(u64::try_from(n.unwrap_or(0)).unwrap_or(0))
        })
        .await
    }

    async fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
        let key = key.to_owned();
        self.write(move |c| {
            c.prepare_cached("DELETE FROM login_failures WHERE key = ?1")
                .and_then(|mut s| s.execute([key]))
                .map(|_| ())
                .map_err(db("clearing login failures"))
        })
        .await
    }
}
