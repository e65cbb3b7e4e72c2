//! Fresh, self-cleaning databases for tests, shared with the server's integration
//! tests (so it is public rather than `cfg(test)`).
//!
//! - [`fresh_sqlite`]: a database file in a temporary directory removed on drop.
//! - [`fresh_postgres`]: a new database `pricetrack_test_<random>` on the server named by
//!   `PRICETRACK_TEST_POSTGRES`, dropped (`WITH (FORCE)`) when the [`TestDatabase`] is
//!   dropped, even when the test panicked. Without the variable the PostgreSQL cases are
//!   skipped with a notice on stderr — unless `CI` is set, where that is a failure.

use crate::{DatabaseTarget, target::with_database};
use pricetrack_app::ports::Store;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Names the PostgreSQL server for tests, e.g. `postgres://postgres@127.0.0.1:5432/test`.
pub const POSTGRES_ENV: &str = "PRICETRACK_TEST_POSTGRES";

/// A database that exists for one test.
pub struct TestDatabase {
    pub target: DatabaseTarget,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    /// Opens (and migrates) the store; panics with the reason if it cannot.
    pub async fn open(&self) -> Arc<dyn Store> {
        match crate::open(&self.target).await {
            Ok(store) => store,
            Err(e) => panic!("opening test database {}: {e}", self.target.describe()),
        }
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        self.target.backend()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin_url, name } = &self.cleanup {
            // Drop may run inside a (possibly single-threaded) tokio runtime, which must
            // not be blocked on: do the DROP on a thread of its own with its own runtime.
            let (admin_url, db_name) = (admin_url.clone(), name.clone());
            let dropped = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?;
                runtime.block_on(async {
                    let client = admin_client(&admin_url).await?;
                    client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"))
                        .await
                        .map_err(|e| e.to_string())
                })
            })
            .join();
            match dropped {
                Ok(Ok(())) => {}
                Ok(Err(e)) => eprintln!("warning: could not drop test database {name}: {e}"),
                Err(_) => eprintln!("warning: dropping test database {name} panicked"),
            }
        }
    }
}

/// A fresh SQLite database in a temporary directory (removed on drop).
pub async fn fresh_sqlite() -> TestDatabase {
    let dir = match tempfile::Builder::new()
        .prefix("pricetrack-test-")
        .tempdir()
    {
        Ok(dir) => dir,
        Err(e) => panic!("creating a temporary directory for a test database: {e}"),
    };
    TestDatabase {
        target: DatabaseTarget::Sqlite(dir.path().join(crate::DEFAULT_SQLITE_FILE)),
        cleanup: Cleanup::Sqlite(dir),
    }
}

/// A fresh PostgreSQL database, or `None` (with a notice on stderr) when
/// `PRICETRACK_TEST_POSTGRES` is unset. Panics when `CI` is set and the variable is
/// not, or when the server cannot be reached.
pub async fn fresh_postgres() -> Option<TestDatabase> {
    let Some(admin_url) = std::env::var(POSTGRES_ENV).ok().filter(|v| !v.is_empty()) else {
        if std::env::var_os("CI").is_some() {
            panic!("{POSTGRES_ENV} is unset but CI is set: the PostgreSQL tests must run in CI");
        }
        // Written to the real stderr, not through `eprintln!`, which the test harness
        // captures: the skip must be visible in a normal `cargo test` run. Once per process.
        static NOTICE: std::sync::Once = std::sync::Once::new();
        NOTICE.call_once(|| {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "skipping PostgreSQL tests: {POSTGRES_ENV} is unset"
            );
        });
        return None;
    };
    let name = unique_name();
    let client = match admin_client(&admin_url).await {
        Ok(client) => client,
        Err(e) => panic!(
            "{POSTGRES_ENV} is set but the server cannot be reached ({}): {e}",
            crate::target::redact_url(&admin_url)
        ),
    };
    if let Err(e) = client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
    {
        panic!("creating test database {name}: {e}");
    }
    Some(TestDatabase {
        target: DatabaseTarget::Postgres(with_database(&admin_url, &name)),
        cleanup: Cleanup::Postgres { admin_url, name },
    })
}

async fn admin_client(url: &str) -> Result<tokio_postgres::Client, String> {
    use crate::postgres::tls;
    // The server may want TLS: the admin URL takes the same sslmode options.
    let (driver_url, options) = tls::split_url(url)?;
    let mut config: tokio_postgres::Config = driver_url.parse().map_err(|e| error_chain(&e))?;
    config.ssl_mode(options.mode.driver_mode());
    let (client, connection) = config
        .connect(tls::connector(&options)?)
        .await
        .map_err(|e| error_chain(&e))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// The error and its causes, `: `-separated (tokio-postgres puts the OS error in the source).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// `pricetrack_test_` and 16 hex digits: unique across processes and tests, and a
/// valid unquoted identifier.
fn unique_name() -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(d.as_nanos());
    }
    format!("pricetrack_test_{:016x}", h.finish())
}

/// CPU time (user + system) of a process, from /proc; zero where unavailable.
fn process_cpu(pid: &str) -> std::time::Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return std::time::Duration::ZERO;
    };
    // Fields after the command name (which may contain spaces) start at field 3.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15, in clock ticks (100 per second on Linux).
    std::time::Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// CPU used so far by this process (all threads) plus, for PostgreSQL, the server
/// backends connected to the database of `target`: what benchmarks charge a phase
/// with, so figures can be judged on a busy machine.
pub async fn cpu_used(target: &DatabaseTarget) -> std::time::Duration {
    let mut total = process_cpu("self");
    if let DatabaseTarget::Postgres(url) = target
        && let Ok((client, connection)) = tokio_postgres::connect(url, tokio_postgres::NoTls).await
    {
        tokio::spawn(connection);
        if let Ok(rows) = client
            .query(
                "SELECT pid FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .await
        {
            for row in rows {
                let pid: i32 = row.get(0);
                total += process_cpu(&pid.to_string());
            }
        }
    }
    total
}
