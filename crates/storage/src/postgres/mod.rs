//! The PostgreSQL backend: tokio-postgres with a deadpool connection pool.
//!
//! Representation (see also the migration): bar times are BIGINT epoch seconds, every
//! other timestamp is TIMESTAMPTZ (written truncated to microseconds), money is NUMERIC
//! read and written as `rust_decimal::Decimal`.

mod bar_notify;
mod bars;
mod corporate_events;
mod instruments;
mod jobs;
mod migrate;
mod portfolios;
mod quarantine;
mod sessions;
mod settings;
mod store;
pub(crate) mod tls;
mod transactions;
mod users;
mod watchlists;

use crate::ConnectError;
use crate::codec::corrupt;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use pricetrack_app::ports::{StoreError, StoreResult};
use tokio_postgres::{Row, error::SqlState, types::FromSql};

pub(crate) use migrate::migrate;

/// Connections kept by the pool. Small: each PostgreSQL backend process costs memory,
/// and the application's concurrency is mostly short reads.
const POOL_SIZE: usize = 16;

pub(crate) struct PgStore {
    pool: Pool,
    /// How to open the connection that listens for other replicas' bars.
    config: tokio_postgres::Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    /// This store's identity in bar notices (see `bar_notify`).
    origin: String,
}

impl PgStore {
    /// Builds the pool and checks that the server answers.
    pub(crate) async fn connect(url: &str) -> Result<Self, ConnectError> {
        let target = crate::target::redact_url(url);
        let failed = |context: &str, source: Box<dyn std::error::Error + Send + Sync>| {
            ConnectError::Postgres {
                target: target.clone(),
                context: context.to_owned(),
                source,
            }
        };
        let invalid = |reason: String| ConnectError::InvalidUrl {
            url: target.clone(),
            reason,
        };
        let (driver_url, tls_options) = tls::split_url(url).map_err(invalid)?;
        let mut config: tokio_postgres::Config = driver_url
            .parse()
            .map_err(|e: tokio_postgres::Error| invalid(e.to_string()))?;
        config.ssl_mode(tls_options.mode.driver_mode());
        let tls = tls::connector(&tls_options).map_err(invalid)?;
        let manager = Manager::from_config(
            config.clone(),
            tls.clone(),
            ManagerConfig {
                // Fast recycling keeps the session (and its temporary staging table).
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| failed("building the connection pool", Box::new(e)))?;
        // Fail at start, with the reason, rather than at the first request.
        let client = pool
            .get()
            .await
            .map_err(|e| failed("connecting", Box::new(e)))?;
        client
            .simple_query("SELECT 1")
            .await
            .map_err(|e| failed("checking the connection", Box::new(e)))?;
        Ok(Self {
            pool,
            config,
            tls,
            origin: bar_notify::new_origin(),
        })
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }

    async fn client(&self) -> StoreResult<Object> {
        self.pool
            .get()
            .await
            .map_err(|e| StoreError::backend("getting a PostgreSQL connection", e))
    }
}

/// Maps a driver error to a backend error with `context`.
pub(super) fn db(context: &'static str) -> impl Fn(tokio_postgres::Error) -> StoreError {
    move |e| StoreError::backend(context, e)
}

/// Reads column `idx`, reporting a type mismatch or bad value as corrupt data in `column`.
pub(super) fn get<'a, T: FromSql<'a>>(
    row: &'a Row,
    idx: usize,
    column: &'static str,
) -> StoreResult<T> {
    row.try_get(idx).map_err(|e| corrupt(column, e))
}

pub(super) fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// Converts a count from SQL.
pub(super) fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
