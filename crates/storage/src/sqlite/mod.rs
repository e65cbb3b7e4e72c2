//! The SQLite backend: rusqlite (synchronous) driven from async code through
//! `spawn_blocking`. One writer connection behind a mutex serialises writes (SQLite
//! allows one writer anyway, and a single connection avoids SQLITE_BUSY between our own
//! writers); a small pool of reader connections serves reads concurrently thanks to WAL.

mod bars;
mod corporate_events;
mod group_commit;
mod instruments;
mod jobs;
mod migrate;
mod portfolios;
mod quarantine;
mod sessions;
mod settings;
mod store;
mod transactions;
mod users;
mod watchlists;

use crate::ConnectError;
use crate::codec::corrupt;
use pricetrack_app::ports::{StoreError, StoreResult, UpsertCounts};
use rusqlite::{Connection, OpenFlags, Row, types::FromSql};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

pub(crate) use migrate::migrate;

/// Idle reader connections kept open. More may exist briefly under load; extra
/// ones are closed when returned.
const MAX_IDLE_READERS: usize = 4;
/// How long a connection waits for a lock held by another process before failing.
const BUSY_TIMEOUT_MS: u32 = 5_000;
/// WAL size (pages) after a commit at which the background checkpointer is woken.
/// Not too small: an interleaved feed rewrites the last page of every instrument in each
/// commit, and a checkpoint copies each page once however often the WAL holds it.
const CHECKPOINT_PAGES: std::ffi::c_int = 4_096;
/// WAL size at which the writer checkpoints itself. Under continuous writes a concurrent
/// checkpoint never catches up with the end of the WAL, and SQLite only rewinds the WAL
/// once it is checkpointed to the end; the writer's own checkpoint, with nobody writing,
/// gets there. It is cheap: the background thread has already copied most frames.
const INLINE_CHECKPOINT_PAGES: std::ffi::c_int = 16_384;
/// After a checkpoint resets it, the WAL file is truncated to at most this size, so a
/// one-off bulk import does not leave a huge -wal file behind.
const WAL_SIZE_LIMIT: i64 = 64 << 20;

pub(crate) struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// Bar upserts waiting for the writer, written as one group.
    bar_upserts: group_commit::UpsertQueue,
}

fn sqlite_err(path: &Path, context: &str) -> impl FnOnce(rusqlite::Error) -> ConnectError {
    let path = path.to_owned();
    let context = context.to_owned();
    move |source| ConnectError::Sqlite {
        path,
        context,
        source,
    }
}

/// Creates the file's directory when needed.
fn ensure_parent_dir(path: &Path) -> Result<(), ConnectError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|source| ConnectError::CreateDir {
                path: dir.to_owned(),
                source,
            })
        }
        _ => Ok(()),
    }
}

/// Settings shared by every connection.
fn configure_common(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS.into()))?;
    conn.pragma_update(None, "foreign_keys", true)?;
    // 64 MiB page cache: the bars b-tree's upper levels and recent leaves stay hot.
    conn.pragma_update(None, "cache_size", -65_536)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Memory-mapped reads skip a copy per page on range scans.
    conn.pragma_update(None, "mmap_size", 1_i64 << 30)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Opens (creating if needed) the database file with the writer's settings.
pub(crate) fn open_writer(path: &Path) -> Result<Connection, ConnectError> {
    ensure_parent_dir(path)?;
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite_err(path, "opening"))?;
    // WAL lets readers run while the writer writes; NORMAL is durable across
    // application crashes and loses at most the last commits on power loss.
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(sqlite_err(path, "enabling WAL"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(path = %path.display(), mode, "SQLite did not switch to WAL mode");
    }
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(sqlite_err(path, "setting synchronous"))?;
    configure_common(&conn).map_err(sqlite_err(path, "configuring the connection"))?;
    Ok(conn)
}

/// Moves most WAL checkpoint work off the writer: SQLite's automatic checkpoint runs
/// inside the committing call, copying pages into the database file and syncing it;
/// during bulk ingest that is a large share of the time. A thread with its own
/// connection does it instead (PASSIVE: it never blocks the writer or readers), woken by
/// the WAL hook; the writer only finishes the job now and then (see
/// [`INLINE_CHECKPOINT_PAGES`]) so the WAL stays small. The thread ends when the writer
/// connection (which owns the hook) is dropped.
fn start_checkpointer(writer: &mut Connection, path: &Path) -> Result<(), ConnectError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite_err(path, "opening the checkpoint connection"))?;
    conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS.into()))
        .map_err(sqlite_err(path, "configuring the checkpoint connection"))?;
    writer
        .pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)
        .map_err(sqlite_err(path, "setting journal_size_limit"))?;
    let (wake, wakeups) = std::sync::mpsc::sync_channel::<()>(1);
    let db_path = path.to_owned();
    std::thread::Builder::new()
        .name("sqlite-checkpoint".to_owned())
        .spawn(move || {
            while wakeups.recv().is_ok() {
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::warn!(path = %db_path.display(), error = %e, "WAL checkpoint failed");
                }
            }
        })
        .map_err(|source| ConnectError::Thread {
            name: "sqlite-checkpoint",
            source,
        })?;
    // Installing a WAL hook replaces SQLite's automatic checkpoint.
    writer
        .wal_hook(Some(move |wal: &mut rusqlite::hooks::Wal, pages| {
            // The hook runs after the commit is durable in the WAL; an error returned here
            // would be reported as the commit's error although it happened. So a failed
            // (typically busy: the background thread is checkpointing) inline checkpoint
            // is only logged; the next commit tries again.
            if pages >= INLINE_CHECKPOINT_PAGES {
                if let Err(e) = wal.checkpoint() {
                    tracing::debug!(error = %e, pages, "inline WAL checkpoint deferred");
                }
            } else if pages >= CHECKPOINT_PAGES {
                // Full channel: a checkpoint is already pending, which is enough.
                let _ = wake.try_send(());
            }
            Ok(())
        }))
        .map_err(sqlite_err(path, "installing the WAL hook"))
}

fn open_reader(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::backend("opening a reader connection", e))?;
    configure_common(&conn)
        .and_then(|()| conn.pragma_update(None, "query_only", true))
        .map_err(|e| StoreError::backend("configuring a reader connection", e))?;
    Ok(conn)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a half-written transaction behind
    // (rusqlite rolls back on drop), so the connection is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SqliteStore {
    /// Opens the database, applies pending migrations and returns the store with the
    /// names of the migrations applied now. Blocking.
    pub(crate) fn open_blocking(path: &Path) -> Result<(Self, Vec<String>), ConnectError> {
        let mut writer = open_writer(path)?;
        let applied = migrate(&mut writer, path)?;
        start_checkpointer(&mut writer, path)?;
        let store = SqliteStore {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
                bar_upserts: group_commit::UpsertQueue::default(),
            }),
        };
        Ok((store, applied))
    }

    /// Runs `f` on a reader connection on the blocking pool.
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        run_blocking(move || {
            let pooled = lock(&inner.readers).pop();
            let conn = match pooled {
                Some(conn) => conn,
                None => open_reader(&inner.path)?,
            };
            let result = f(&conn);
            let mut idle = lock(&inner.readers);
            if idle.len() < MAX_IDLE_READERS {
                idle.push(conn);
            }
            result
        })
        .await
    }

    /// Runs `f` on the writer connection on the blocking pool.
    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        run_blocking(move || f(&mut lock(&inner.writer))).await
    }

    /// Queues `batch` for the writer and waits for its outcome: calls that queue up
    /// while the writer is busy are committed together (see [`group_commit`]).
    async fn upsert_bar_batch(&self, batch: crate::codec::BarBatch) -> StoreResult<UpsertCounts> {
        let outcome = self.inner.bar_upserts.push(batch);
        let inner = Arc::clone(&self.inner);
        run_blocking(move || {
            inner.bar_upserts.write_queued(&mut lock(&inner.writer));
            Ok(())
        })
        .await?;
        outcome
            .await
            .map_err(|_| StoreError::backend("writing bars", "the SQLite writer stopped"))?
    }
}

async fn run_blocking<T, F>(f: F) -> StoreResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> StoreResult<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::backend("SQLite task", e))?
}

/// Maps a driver error to a backend error with `context`.
pub(super) fn db(context: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| StoreError::backend(context, e)
}

/// Reads column `idx`, reporting a type mismatch as corrupt data in `column`.
pub(super) fn get<T: FromSql>(row: &Row<'_>, idx: usize, column: &'static str) -> StoreResult<T> {
    row.get(idx).map_err(|e| corrupt(column, e))
}

pub(super) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

/// Online backup of the live database to `dest` (consistent even while writing).
pub(crate) fn backup_blocking(source: &Path, dest: &Path) -> Result<(), ConnectError> {
    let backup_err = |e: Box<dyn std::error::Error + Send + Sync>| ConnectError::Backup {
        dest: dest.to_owned(),
        source: e,
    };
    if !source.exists() {
        return Err(backup_err(
            format!("the database {} does not exist", source.display()).into(),
        ));
    }
    if dest.exists() {
        return Err(backup_err(
            "the destination exists; refusing to overwrite it".into(),
        ));
    }
    ensure_parent_dir(dest)?;
    let src = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite_err(source, "opening for backup"))?;
    src.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS.into()))
        .map_err(sqlite_err(source, "configuring for backup"))?;
    // Copy into a temporary file next to the destination and rename it into place,
    // so an interrupted backup never leaves a truncated file under the final name.
    let file_name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "backup".to_owned());
    let partial = dest.with_file_name(format!(".{file_name}.partial"));
    let _ = std::fs::remove_file(&partial);
    let result = (|| -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let mut dst = Connection::open(&partial)?;
        {
            let backup = rusqlite::backup::Backup::new(&src, &mut dst)?;
            // 1024 pages per step; no pause: we want it done, WAL readers are not blocked.
            backup.run_to_completion(1024, std::time::Duration::ZERO, None)?;
        }
        // A standalone copy should not depend on a -wal file next to it.
        dst.pragma_update(None, "journal_mode", "DELETE")?;
        dst.close().map_err(|(_, e)| e)?;
        std::fs::rename(&partial, dest)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result.map_err(backup_err)
}
