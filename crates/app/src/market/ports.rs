//! The store ports of the market-data jobs: per-series fetch state (so restarts
//! and replicas agree on what is due), the quarantine of implausible bars and
//! the dividends and splits providers report. Re-exported from [`crate::ports`].

use crate::market_data::CorporateEvent;
use crate::ports::{Page, PageRequest, StoreResult};
use async_trait::async_trait;
use jiff::Timestamp;
use pricetrack_domain::{Instrument, Interval, Ohlcv, Symbol};
use serde::Serialize;

/// One series kept current: an instrument and a bar interval.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct JobKey {
    pub symbol: Symbol,
    pub interval: Interval,
}

impl JobKey {
    pub fn new(symbol: Symbol, interval: Interval) -> Self {
        Self { symbol, interval }
    }
}

impl std::fmt::Display for JobKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.symbol, self.interval)
    }
}

/// How far filling the history of a series has got. The walk goes backwards in
/// time from `anchor` (when it started) towards `floor`, one chunk at a time;
/// `cursor` is the oldest start time covered so far, saved after every chunk
/// so that a restart continues where the last run stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct BackfillProgress {
    pub done: bool,
    /// Where the walk started (newest end of the history to fill).
    pub anchor: Option<Timestamp>,
    /// Oldest time covered so far; `None` before the first chunk.
    pub cursor: Option<Timestamp>,
    /// How far back to go; `None` means as far as the provider gives.
    pub floor: Option<Timestamp>,
}

/// The stored state of one series' fetching.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FetchJob {
    pub symbol: Symbol,
    pub interval: Interval,
    /// Inactive jobs are kept (with their history) but never claimed as due,
    /// e.g. intraday series of an instrument nobody watches any more.
    pub active: bool,
    pub next_due_at: Timestamp,
    /// A worker holds the job until then (a lease: a crashed worker's claim expires).
    pub claimed_until: Option<Timestamp>,
    pub claimed_by: Option<String>,
    pub last_attempt_at: Option<Timestamp>,
    pub last_success_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub last_error_at: Option<Timestamp>,
    /// Failures since the last success.
    pub failures: u32,
    /// Every failure ever recorded for this series.
    pub failures_total: u64,
    /// The provider that answered last.
    pub provider: Option<String>,
    /// The last answer was generated data (the `demo` provider).
    pub simulated: bool,
    pub backfill: BackfillProgress,
}

impl FetchJob {
    pub fn key(&self) -> JobKey {
        JobKey::new(self.symbol.clone(), self.interval)
    }
}

/// A job claimed by a worker, with its instrument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    pub job: FetchJob,
    pub instrument: Instrument,
}

/// How a fetch run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchRunResult {
    /// `provider` is `None` when the run needed no request (the last one is kept).
    Success {
        provider: Option<String>,
        simulated: bool,
    },
    Failure {
        error: String,
    },
}

/// What a worker writes back when it finishes a job (and releases its claim).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRunRecord {
    pub at: Timestamp,
    pub next_due_at: Timestamp,
    pub result: FetchRunResult,
    pub backfill: BackfillProgress,
}

#[async_trait]
pub trait JobStore: Send + Sync {
    /// Creates the jobs that do not exist yet (active, due at `due`, backfill
    /// pending) and re-activates existing inactive ones. Unknown symbols are
    /// skipped. Returns how many were created.
    async fn ensure_fetch_jobs(&self, keys: &[JobKey], due: Timestamp) -> StoreResult<u64>;
    /// Deactivates jobs (kept with their state, never claimed as due).
    async fn deactivate_fetch_jobs(&self, keys: &[JobKey]) -> StoreResult<u64>;
    /// Claims up to `limit` active jobs due at or before `now` that nobody holds
    /// (or whose lease ran out), earliest due first, for `worker` until
    /// `lease_until`. With several replicas each job goes to exactly one
    /// (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: the single writer).
    async fn claim_due_fetch_jobs(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        worker: &str,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedJob>>;
    /// Claims one job whatever its due time ("refresh now"). `None` when the
    /// job does not exist or another worker holds an unexpired lease.
    async fn claim_fetch_job(
        &self,
        key: &JobKey,
        now: Timestamp,
        lease_until: Timestamp,
        worker: &str,
    ) -> StoreResult<Option<ClaimedJob>>;
    /// Saves backfill progress and extends the claim. False when `worker`
    /// no longer holds the job.
    async fn save_backfill_progress(
        &self,
        key: &JobKey,
        worker: &str,
        progress: &BackfillProgress,
        lease_until: Timestamp,
    ) -> StoreResult<bool>;
    /// Records a run and releases the claim. False (nothing written) when
    /// `worker` no longer holds the job.
    async fn finish_fetch_job(
        &self,
        key: &JobKey,
        worker: &str,
        record: &FetchRunRecord,
    ) -> StoreResult<bool>;
    /// Jobs of one instrument (or all), ordered by symbol and interval.
    async fn list_fetch_jobs(&self, symbol: Option<&Symbol>) -> StoreResult<Vec<FetchJob>>;
    /// Instruments on anyone's watchlist, ordered by symbol. (Held positions
    /// make an instrument watched too: `market::watched` adds those.)
    async fn watchlisted_symbols(&self) -> StoreResult<Vec<Symbol>>;
}

/// A bar (or raw provider record) held back for a human to look at.
#[derive(Debug, Clone, PartialEq)]
pub struct QuarantineDraft {
    pub symbol: Symbol,
    pub interval: Interval,
    /// Bar start, when the record got that far.
    pub time: Option<Timestamp>,
    /// The numbers, when the record got that far.
    pub values: Option<Ohlcv>,
    /// The record as received (JSON for parsed bars, the provider's text otherwise).
    pub raw: String,
    /// Where it came from: a provider name, `api` or `import`.
    pub source: String,
    /// Stable machine-readable reason (`price_jump`, `in_future`, …).
    pub reason_code: String,
    /// The reason for a human.
    pub reason: String,
}

/// A quarantined record as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct QuarantinedBar {
    pub id: i64,
    pub created_at: Timestamp,
    pub draft: QuarantineDraft,
}

#[async_trait]
pub trait QuarantineStore: Send + Sync {
    /// Stores records, returning their ids in order. A record for a series,
    /// time and source already in quarantine replaces it (keeping its id), so a
    /// provider that repeats a bad bar every minute fills no queue. Fails with
    /// [`crate::ports::StoreError::UnknownInstrument`] (writing nothing) for a missing symbol.
    async fn add_quarantined(
        &self,
        drafts: &[QuarantineDraft],
        now: Timestamp,
    ) -> StoreResult<Vec<i64>>;
    /// Newest first, optionally for one instrument, with the total.
    async fn list_quarantined(
        &self,
        symbol: Option<&Symbol>,
        page: PageRequest,
    ) -> StoreResult<Page<QuarantinedBar>>;
    async fn get_quarantined(&self, id: i64) -> StoreResult<Option<QuarantinedBar>>;
    async fn delete_quarantined(&self, id: i64) -> StoreResult<bool>;
}

/// A dividend or split as stored, with who reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredCorporateEvent {
    pub symbol: Symbol,
    pub event: CorporateEvent,
    /// The provider that reported it last.
    pub source: String,
    /// When it was first recorded.
    pub recorded_at: Timestamp,
}

#[async_trait]
pub trait CorporateEventStore: Send + Sync {
    /// Records events of one instrument. An event of the same kind on the
    /// same date replaces the stored one (a corrected amount), keeping when it
    /// was first recorded. Returns how many were new. Fails with
    /// [`crate::ports::StoreError::UnknownInstrument`] (writing nothing) for a
    /// missing symbol.
    async fn upsert_corporate_events(
        &self,
        symbol: &Symbol,
        events: &[CorporateEvent],
        source: &str,
        now: Timestamp,
    ) -> StoreResult<u64>;
    /// The instrument's events, oldest first (a dividend before a split on
    /// the same date). Empty for an unknown symbol.
    async fn corporate_events(&self, symbol: &Symbol) -> StoreResult<Vec<StoredCorporateEvent>>;
}
