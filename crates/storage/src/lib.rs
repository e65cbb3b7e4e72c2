//! Pricetrack's stores: [`pricetrack_app::ports::Store`] on SQLite (the embedded
//! default) and on PostgreSQL, chosen by the database URL's scheme.
//!
//! ```no_run
//! # async fn demo() -> Result<(), pricetrack_storage::ConnectError> {
//! use pricetrack_storage::{DatabaseTarget, open};
//! let target = DatabaseTarget::parse(None, std::path::Path::new("./pricetrack-data"))?;
//! tracing::info!(database = %target.describe(), "opening");
//! let store = open(&target).await?;
//! # Ok(()) }
//! ```

mod bar_blocks;
mod codec;
mod error;
mod migrations;
mod postgres;
mod sqlite;
mod target;
pub mod testing;

pub use error::ConnectError;
pub use target::{DEFAULT_SQLITE_FILE, DatabaseTarget};

use pricetrack_app::ports::Store;
use std::path::Path;
use std::sync::Arc;

/// Opens the database (creating the SQLite file and its directory if needed),
/// applies pending migrations and returns the store.
pub async fn open(target: &DatabaseTarget) -> Result<Arc<dyn Store>, ConnectError> {
    match target {
        DatabaseTarget::Sqlite(path) => {
            let path = path.clone();
            let (store, _) =
                tokio::task::spawn_blocking(move || sqlite::SqliteStore::open_blocking(&path))
                    .await??;
            Ok(Arc::new(store))
        }
        DatabaseTarget::Postgres(url) => {
            let store = postgres::PgStore::connect(url).await?;
            postgres::migrate(store.pool(), &target.describe()).await?;
            Ok(Arc::new(store))
        }
    }
}

/// Applies pending migrations only; returns the names of the migrations applied now.
pub async fn migrate(target: &DatabaseTarget) -> Result<Vec<String>, ConnectError> {
    match target {
        DatabaseTarget::Sqlite(path) => {
            let path = path.clone();
            tokio::task::spawn_blocking(move || {
                let mut conn = sqlite::open_writer(&path)?;
                sqlite::migrate(&mut conn, &path)
            })
            .await?
        }
        DatabaseTarget::Postgres(url) => {
            let store = postgres::PgStore::connect(url).await?;
            postgres::migrate(store.pool(), &target.describe()).await
        }
    }
}

/// Copies the live SQLite database to `dest` with SQLite's online backup API
/// (consistent while the application keeps writing). Refuses to overwrite `dest`,
/// and refuses PostgreSQL targets (use `pg_dump` there).
pub async fn backup_sqlite(target: &DatabaseTarget, dest: &Path) -> Result<(), ConnectError> {
    match target {
        DatabaseTarget::Sqlite(path) => {
            let (path, dest) = (path.clone(), dest.to_owned());
            tokio::task::spawn_blocking(move || sqlite::backup_blocking(&path, &dest)).await?
        }
        DatabaseTarget::Postgres(_) => Err(ConnectError::BackupUnsupported {
            target: target.describe(),
        }),
    }
}
