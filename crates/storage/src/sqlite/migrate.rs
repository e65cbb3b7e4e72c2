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
        after_migration(&tx, migration.name).map_err(|source| ConnectError::Migration {
            name: migration.name.to_owned(),
            source: Box::new(source),
        })?;
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

/// Data conversions that SQL alone cannot express, run right after their migration's
/// SQL in the same transaction.
fn after_migration(
    tx: &rusqlite::Transaction<'_>,
    name: &str,
) -> Result<(), pricetrack_app::ports::StoreError> {
    if name == "0006_bar_blocks" {
        let moved = super::bars::convert_row_bars(tx)?;
        if moved > 0 {
            tracing::info!(bars = moved, "moved bars into blocks");
        }
    }
    Ok(())
}
