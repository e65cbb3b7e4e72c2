//! Applies the embedded PostgreSQL migrations in order, each in its own transaction
//! (DDL is transactional in PostgreSQL, so a failed migration leaves no trace).

use crate::ConnectError;
use crate::migrations::POSTGRES;
use deadpool_postgres::Pool;

/// Serialises migrations between replicas starting at once. Arbitrary, fixed.
const MIGRATION_LOCK: i64 = 0x7072_6963_6574_726b; // "pricetrk"

/// Applies pending migrations; returns the names applied now.
pub(crate) async fn migrate(pool: &Pool, target: &str) -> Result<Vec<String>, ConnectError> {
    let mut client = pool.get().await.map_err(|e| ConnectError::Postgres {
        target: target.to_owned(),
        context: "connecting for migrations".to_owned(),
        source: Box::new(e),
    })?;
    let mut applied = Vec::new();
    for migration in POSTGRES {
        let failed = |source: tokio_postgres::Error| ConnectError::Migration {
            name: migration.name.to_owned(),
            source: Box::new(source),
        };
        let tx = client.transaction().await.map_err(failed)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(failed)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 name       TEXT PRIMARY KEY,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
             )",
        )
        .await
        .map_err(failed)?;
        let done = tx
            .query_opt(
                "SELECT 1 FROM schema_migrations WHERE name = $1",
                &[&migration.name],
            )
            .await
            .map_err(failed)?;
        if done.is_some() {
            continue;
        }
        tx.batch_execute(migration.sql).await.map_err(failed)?;
        after_migration(&tx, migration.name)
            .await
            .map_err(|source| ConnectError::Migration {
                name: migration.name.to_owned(),
                source: Box::new(source),
            })?;
        tx.execute(
            "INSERT INTO schema_migrations (name) VALUES ($1)",
            &[&migration.name],
        )
        .await
        .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        tracing::info!(migration = migration.name, "applied PostgreSQL migration");
        applied.push(migration.name.to_owned());
    }
    Ok(applied)
}

/// Data conversions run right after their migration's SQL, in the same transaction
/// (the block encoder lives in Rust, shared with every write).
async fn after_migration(
    tx: &deadpool_postgres::Transaction<'_>,
    name: &str,
) -> Result<(), pricetrack_app::ports::StoreError> {
    if name == "0006_bar_blocks" {
        let moved = super::bars::convert_row_bars(tx).await?;
        if moved > 0 {
            tracing::info!(bars = moved, "moved bars into blocks");
        }
    }
    Ok(())
}
