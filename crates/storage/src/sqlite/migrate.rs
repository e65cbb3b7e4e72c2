//! Applies the embedded SQLite migrations in order, each in its own transaction.

use crate::ConnectError;
use crate::migrations::SQLITE;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;

/// Applies pending migrations; returns the names applied now.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<Vec<String>, ConnectError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             name       TEXT PRIMARY KEY,
             applied_at INTEGER NOT NULL
         )",
    )
    .map_err(super::sqlite_err(path, "creating schema_migrations"))?;
    let mut applied = Vec::new();
    for migration in SQLITE {
        let failed = |source: rusqlite::Error| ConnectError::Migration {
            name: migration.name.to_owned(),
            source: Box::new(source),
        };
        // IMMEDIATE takes the write lock before checking, so two processes starting
        // at once cannot both apply the same migration.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(failed)?;
        let done: Option<i64> = tx
            .query_row(
                "SELECT 1 FROM schema_migrations WHERE name = ?1",
                [migration.name],
                |row| row.get(0),
            )
            .optional()
            .map_err(failed)?;
        if done.is_some() {
            continue;
        }
        tx.execute_batch(migration.sql).map_err(failed)?;
        tx.execute(
            "INSERT INTO schema_migrations (name, applied_at) VALUES (?1, ?2)",
            rusqlite::params![migration.name, jiff::Timestamp::now().as_microsecond()],
        )
        .map_err(failed)?;
        tx.commit().map_err(failed)?;
        tracing::info!(migration = migration.name, "applied SQLite migration");
        applied.push(migration.name.to_owned());
    }
    Ok(applied)
}
