//! Errors of opening, migrating and backing up a database (as opposed to
//! [`StoreError`](pricetrack_app::ports::StoreError), the errors of store operations).

use std::path::PathBuf;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a database could not be opened, migrated or backed up.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The database URL has a scheme this build does not know.
    #[error(
        "unsupported database URL scheme {scheme:?}: expected sqlite://PATH (or sqlite:PATH) \
         or postgres://USER@HOST/DB (also postgresql://)"
    )]
    UnsupportedScheme { scheme: String },
    /// The URL has a known scheme but cannot be used (empty path, bad PostgreSQL options…).
    #[error("invalid database URL {url}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// The directory for the SQLite file could not be created.
    #[error("cannot create the database directory {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// SQLite failed while opening or preparing the database.
    #[error("SQLite database {}: {context}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        context: String,
        #[source]
        source: rusqlite::Error,
    },
    /// PostgreSQL could not be reached or failed during setup.
    #[error("PostgreSQL {target}: {context}: {source}")]
    Postgres {
        /// The redacted target (never contains a password).
        target: String,
        context: String,
        #[source]
        source: BoxError,
    },
    /// A migration failed; the database keeps the migrations applied before it.
    #[error("migration {name} failed: {source}")]
    Migration {
        name: String,
        #[source]
        source: BoxError,
    },
    /// `backup` was asked of a backend that has no built-in backup.
    #[error(
        "built-in backup is only available for SQLite; back up PostgreSQL with pg_dump \
         (target: {target})"
    )]
    BackupUnsupported { target: String },
    /// The SQLite online backup failed.
    #[error("backing up to {}: {source}", dest.display())]
    Backup {
        dest: PathBuf,
        #[source]
        source: BoxError,
    },
    /// A background thread (the SQLite checkpointer) could not be started.
    #[error("cannot start the {name} thread: {source}")]
    Thread {
        name: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// A blocking database task panicked or was cancelled.
    #[error("database task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}
