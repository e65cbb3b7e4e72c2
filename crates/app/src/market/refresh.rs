//! Keeping series current: `refresh_due(ctx, now)`, the step function the
//! background loop, `pricetrack fetch --once` and the tests call, and
//! `refresh_now` behind the "refresh now" API.
//!
//! A step first makes sure every series that should be kept current has a job
//! row (new instruments get one, with a pending backfill), then lets
//! [`RefreshPolicy::concurrency`] workers claim due jobs one at a time until
//! none is left. A job either continues its backfill or fetches incrementally:
//! only bars from the last stored one on (which is asked for again, as it may
//! still have been forming). Every bar passes the validator; implausible ones
//! go to quarantine. The outcome and the next due time are written back to the
//! job, which releases the claim.

use super::backfill::{BackfillObserver, run_backfill};
use super::policy::{RefreshPolicy, is_fetchable};
use super::quarantine::{draft_for_rejected, screen, store_screened};
use crate::context::AppContext;
use crate::error::{AppError, AppResult};
use crate::market_data::{ErrorClass, FetchError, FetchedBars, PriceSource};
use crate::ports::{
    BackfillProgress, BarRange, ClaimedJob, FetchRunRecord, FetchRunResult, InstrumentQuery,
    JobKey, PageRequest,
};
use jiff::{SignedDuration, Timestamp};
use pricetrack_domain::{Instrument, Interval, Symbol};
use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::Arc;

/// What one run of one job did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRun {
    pub symbol: Symbol,
    pub interval: Interval,
    /// `backfill` while history is being filled, else `refresh`.
    pub kind: RunKind,
    /// The provider that answered last.
    pub provider: Option<String>,
    pub simulated: bool,
    pub requests: u32,
    pub bars_stored: u64,
    pub quarantined: u64,
    /// Why the run failed, when it did.
    pub error: Option<String>,
    pub next_due_at: Timestamp,
    pub backfill_done: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    Backfill,
    Refresh,
}

/// What a refresh step did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RefreshReport {
    /// Job rows created for new series.
    pub jobs_created: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// Runs whose task panicked (recorded as failures on their jobs).
    pub panicked: u64,
    /// Series another worker was already fetching (refresh now).
    pub busy: u64,
    pub requests: u64,
    pub bars_stored: u64,
    pub quarantined: u64,
    pub runs: Vec<JobRun>,
}

impl RefreshReport {
    fn add(&mut self, run: JobRun) {
        if run.error.is_some() {
            self.failed += 1;
        } else {
            self.succeeded += 1;
        }
        self.requests += u64::from(run.requests);
        self.bars_stored += run.bars_stored;
        self.quarantined += run.quarantined;
        self.runs.push(run);
    }

    fn merge(&mut self, other: RefreshReport) {
        self.jobs_created += other.jobs_created;
        self.panicked += other.panicked;
        self.busy += other.busy;
        for run in other.runs {
            self.add(run);
        }
    }
}

/// Why a run failed, and how soon to try again.
#[derive(Debug, Clone)]
pub(crate) struct RunFailure {
    pub message: String,
    pub retry_after: Option<std::time::Duration>,
    /// Retrying will not help until a human acts.
    pub permanent: bool,
}

impl From<FetchError> for RunFailure {
    fn from(e: FetchError) -> Self {
        Self {
            message: e.to_string(),
            retry_after: e.retry_after(),
            permanent: e.class == ErrorClass::GiveUp,
        }
    }
}

impl From<AppError> for RunFailure {
    fn from(e: AppError) -> Self {
        Self {
            message: e.to_string(),
            retry_after: None,
            permanent: false,
        }
    }
}

impl From<crate::ports::StoreError> for RunFailure {
    fn from(e: crate::ports::StoreError) -> Self {
        AppError::from(e).into()
    }
}

/// The later of the step's `now` and the clock: a long step must not schedule
/// in the past.
pub(crate) fn current(ctx: &AppContext, at_least: Timestamp) -> Timestamp {
    ctx.clock.now().max(at_least)
}

fn add(t: Timestamp, d: SignedDuration) -> Timestamp {
    t.saturating_add(d).unwrap_or(t)
}

/// The series that should be kept current: the policy's daily intervals for
/// every instrument not priced by hand, its intraday intervals for watched ones.
async fn wanted_jobs(ctx: &AppContext) -> AppResult<BTreeSet<JobKey>> {
    let policy = &ctx.refresh_policy;
    let watched = super::watched::watched_symbols(ctx).await?;
    let mut wanted = BTreeSet::new();
    let mut offset = 0;
    loop {
        let page = ctx
            .store
            .list_instruments(&InstrumentQuery {
                page: PageRequest {
                    limit: PageRequest::MAX_LIMIT,
                    offset,
                },
                ..InstrumentQuery::default()
            })
            .await?;
        let n = page.items.len() as u64;
        for i in page.items.iter().filter(|i| is_fetchable(i)) {
            for iv in &policy.daily_intervals {
                wanted.insert(JobKey::new(i.symbol.clone(), *iv));
            }
            if watched.contains(&i.symbol) {
                for iv in &policy.intraday_intervals {
                    wanted.insert(JobKey::new(i.symbol.clone(), *iv));
                }
            }
        }
        offset += n;
        if n < u64::from(PageRequest::MAX_LIMIT) || offset >= page.total {
            break;
        }
    }
    Ok(wanted)
}

/// Creates jobs for new series (due now, backfill pending) and deactivates
/// those no longer wanted (their state is kept). Returns how many were created.
pub async fn sync_jobs(ctx: &AppContext, now: Timestamp) -> AppResult<u64> {
    let wanted = wanted_jobs(ctx).await?;
    let existing = ctx.store.list_fetch_jobs(None).await?;
    let active: BTreeSet<JobKey> = existing
        .iter()
        .filter(|j| j.active)
        .map(|j| j.key())
        .collect();
    let missing: Vec<JobKey> = wanted.difference(&active).cloned().collect();
    let unwanted: Vec<JobKey> = active.difference(&wanted).cloned().collect();
    let created = if missing.is_empty() {
        0
    } else {
        ctx.store.ensure_fetch_jobs(&missing, now).await?
    };
    if !unwanted.is_empty() {
        ctx.store.deactivate_fetch_jobs(&unwanted).await?;
    }
    Ok(created)
}

/// One refresh step: fetches every series due at `now`, with bounded
/// concurrency, and returns what happened. Several processes may run steps at
/// the same time against one database: each due job is claimed by exactly one.
pub async fn refresh_due(ctx: &AppContext, now: Timestamp) -> AppResult<RefreshReport> {
    let Some(prices) = ctx.prices.clone() else {
        tracing::debug!("no price source configured; nothing to refresh");
        return Ok(RefreshReport::default());
    };
    let mut report = RefreshReport {
        jobs_created: sync_jobs(ctx, now).await?,
        ..RefreshReport::default()
    };
    let workers = ctx.refresh_policy.concurrency.max(1);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..workers {
        set.spawn(worker(ctx.clone(), prices.clone(), now));
    }
    let mut first_error = None;
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(Ok(part)) => report.merge(part),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "a refresh worker stopped");
                first_error.get_or_insert(e);
            }
            Err(e) => {
                tracing::error!(error = %e, "a refresh worker panicked");
                report.panicked += 1;
            }
        }
    }
    // A store that failed every worker is an error; a partial failure is in the report.
    if report.runs.is_empty()
        && let Some(e) = first_error
    {
        return Err(e);
    }
    Ok(report)
}

/// Claims due jobs one at a time and runs each in its own task, so a panic
/// fails that job (recorded, retried later) and not the worker.
async fn worker(
    ctx: AppContext,
    prices: Arc<dyn PriceSource>,
    now: Timestamp,
) -> AppResult<RefreshReport> {
    let policy = ctx.refresh_policy.clone();
    let mut report = RefreshReport::default();
    loop {
        let lease_until = add(current(&ctx, now), policy.lease);
        let claimed = ctx
            .store
            .claim_due_fetch_jobs(now, lease_until, &policy.worker_id, 1)
            .await?;
        let Some(job) = claimed.into_iter().next() else {
            break;
        };
        let chunks = Some(policy.backfill_chunks_per_run);
        let task = tokio::spawn(run_claimed(
            ctx.clone(),
            prices.clone(),
            job.clone(),
            chunks,
            None,
        ));
        match task.await {
            Ok(run) => report.add(run),
            Err(e) => {
                report.panicked += 1;
                let run = record_panic(&ctx, &job, now, &e.to_string()).await;
                report.add(run);
            }
        }
    }
    Ok(report)
}

async fn record_panic(ctx: &AppContext, job: &ClaimedJob, now: Timestamp, what: &str) -> JobRun {
    let policy = &ctx.refresh_policy;
    let at = current(ctx, now);
    let error = format!("internal error: the fetch task failed ({what})");
    tracing::error!(series = %job.job.key(), %error);
    let next_due_at = policy.retry_at(at, job.job.failures + 1, None, false);
    let record = FetchRunRecord {
        at,
        next_due_at,
        result: FetchRunResult::Failure {
            error: error.clone(),
        },
        backfill: job.job.backfill,
    };
    if let Err(e) = ctx
        .store
        .finish_fetch_job(&job.job.key(), &policy.worker_id, &record)
        .await
    {
        tracing::error!(series = %job.job.key(), error = %e, "could not record a failed run");
    }
    JobRun {
        symbol: job.job.symbol.clone(),
        interval: job.job.interval,
        kind: if job.job.backfill.done {
            RunKind::Refresh
        } else {
            RunKind::Backfill
        },
        provider: None,
        simulated: false,
        requests: 0,
        bars_stored: 0,
        quarantined: 0,
        error: Some(error),
        next_due_at,
        backfill_done: job.job.backfill.done,
    }
}

/// Runs a claimed job (backfill or incremental refresh), writes the outcome
/// back and releases the claim.
pub(crate) async fn run_claimed(
    ctx: AppContext,
    prices: Arc<dyn PriceSource>,
    claimed: ClaimedJob,
    max_chunks: Option<u32>,
    observer: Option<Arc<dyn BackfillObserver>>,
) -> JobRun {
    let policy: Arc<RefreshPolicy> = ctx.refresh_policy.clone();
    let key = claimed.job.key();
    let instrument = &claimed.instrument;
    let started = ctx.clock.now();
    let mut progress = claimed.job.backfill;
    let mut run = JobRun {
        symbol: key.symbol.clone(),
        interval: key.interval,
        kind: if progress.done {
            RunKind::Refresh
        } else {
            RunKind::Backfill
        },
        provider: None,
        simulated: instrument.provider.as_str() == "demo" || claimed.job.simulated,
        requests: 0,
        bars_stored: 0,
        quarantined: 0,
        error: None,
        next_due_at: started,
        backfill_done: progress.done,
    };
    let outcome = dispatch(
        &ctx,
        prices.as_ref(),
        &claimed,
        &mut progress,
        max_chunks,
        observer.as_deref(),
        &mut run,
    )
    .await;
    let at = current(&ctx, started);
    let (result, next_due_at) = match outcome {
        Ok(()) => {
            let next = if progress.done {
                policy.next_due(instrument, key.interval, at)
            } else {
                // The chunk budget ran out: continue in the next step.
                at
            };
            (
                FetchRunResult::Success {
                    provider: run.provider.clone(),
                    simulated: run.simulated,
                },
                next,
            )
        }
        Err(failure) => {
            tracing::warn!(series = %key, error = %failure.message, "fetch failed");
            run.error = Some(failure.message.clone());
            (
                FetchRunResult::Failure {
                    error: failure.message,
                },
                policy.retry_at(
                    at,
                    claimed.job.failures.saturating_add(1),
                    failure.retry_after,
                    failure.permanent,
                ),
            )
        }
    };
    run.next_due_at = next_due_at;
    run.backfill_done = progress.done;
    let record = FetchRunRecord {
        at,
        next_due_at,
        result,
        backfill: progress,
    };
    match ctx
        .store
        .finish_fetch_job(&key, &policy.worker_id, &record)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(series = %key, "the claim expired before the run finished; its outcome was not recorded")
        }
        Err(e) => tracing::error!(series = %key, error = %e, "could not record a fetch run"),
    }
    run
}

/// Continues a backfill, or refreshes incrementally; a series whose stored
/// history predates a known split is adjusted and refilled first.
async fn dispatch(
    ctx: &AppContext,
    prices: &dyn PriceSource,
    claimed: &ClaimedJob,
    progress: &mut BackfillProgress,
    max_chunks: Option<u32>,
    observer: Option<&dyn BackfillObserver>,
    run: &mut JobRun,
) -> Result<(), RunFailure> {
    let key = claimed.job.key();
    super::events::reconcile_splits(ctx, &key, progress).await?;
    if progress.done {
        refresh_incrementally(ctx, prices, claimed, progress, run).await?;
        if progress.done {
            return Ok(());
        }
        // The fetch brought a split the stored history predates: refill it now.
        run.kind = RunKind::Backfill;
    }
    run_backfill(ctx, prices, claimed, progress, max_chunks, observer, run).await
}

/// Fails when the provider quoted another currency than the instrument's: the
/// bars would be stored at the wrong scale. They go to quarantine instead.
pub(crate) async fn check_currency(
    ctx: &AppContext,
    instrument: &Instrument,
    interval: Interval,
    fetched: &FetchedBars,
    run: &mut JobRun,
) -> Result<(), RunFailure> {
    let Some(quoted) = fetched.currency.filter(|c| *c != instrument.currency) else {
        return Ok(());
    };
    let reason = format!(
        "{} quoted {} in {quoted}, but the instrument is in {}",
        fetched.provider, instrument.symbol, instrument.currency
    );
    let drafts: Vec<_> = fetched
        .bars
        .iter()
        .map(|b| crate::ports::QuarantineDraft {
            symbol: b.symbol.clone(),
            interval,
            time: Some(b.time),
            values: Some(b.ohlcv()),
            raw: serde_json::to_string(b).unwrap_or_default(),
            source: fetched.provider.clone(),
            reason_code: "currency_mismatch".to_owned(),
            reason: reason.clone(),
        })
        .collect();
    let ids = ctx.store.add_quarantined(&drafts, ctx.clock.now()).await?;
    run.quarantined += ids.len() as u64;
    Err(RunFailure {
        message: format!("{reason}; {} bar(s) quarantined", ids.len()),
        retry_after: None,
        permanent: true,
    })
}

/// How fetched bars relate to the stored series.
pub(crate) enum Direction<'a> {
    /// A backfill chunk, older than what is stored.
    Backwards,
    /// New bars after the stored ones; a split they report that the stored
    /// history predates is reconciled (see [`super::events`]) before they are
    /// checked against it.
    Forwards {
        key: &'a JobKey,
        progress: &'a mut BackfillProgress,
    },
}

/// Validates fetched bars, stores the plausible ones and quarantines the rest
/// (and every record the provider sent that never became a bar). Dividends
/// and splits that came with them are recorded.
pub(crate) async fn store_fetched(
    ctx: &AppContext,
    instrument: &Instrument,
    interval: Interval,
    fetched: FetchedBars,
    direction: Direction<'_>,
    run: &mut JobRun,
) -> Result<(), RunFailure> {
    run.provider = Some(fetched.provider.clone());
    run.simulated = fetched.simulated;
    check_currency(ctx, instrument, interval, &fetched, run).await?;
    super::listing::adopt_first_trade_date(
        ctx,
        instrument,
        fetched.first_trade_date,
        &fetched.bars,
    )
    .await?;
    let new_events =
        super::events::record(ctx, instrument, &fetched.events, &fetched.provider).await?;
    let backwards = matches!(direction, Direction::Backwards);
    if let Direction::Forwards { key, progress } = direction
        && new_events > 0
    {
        super::events::reconcile_splits(ctx, key, progress).await?;
    }
    // Only this series' bars: a confused provider must not write elsewhere.
    let (ours, strays): (Vec<_>, Vec<_>) = fetched
        .bars
        .into_iter()
        .partition(|b| b.symbol == instrument.symbol && b.interval == interval);
    let screened = if backwards {
        super::quarantine::screen_backwards(ctx, ours).await?
    } else {
        screen(ctx, ours.into_iter().map(|b| ((), b)).collect()).await?
    };
    let (counts, ids) = store_screened(ctx, &screened, &fetched.provider).await?;
    run.bars_stored += counts.inserted + counts.replaced;
    run.quarantined += ids.len() as u64;
    let mut drafts: Vec<_> = fetched
        .rejected
        .iter()
        .map(|r| draft_for_rejected(&instrument.symbol, interval, r, &fetched.provider))
        .collect();
    drafts.extend(strays.iter().map(|b| crate::ports::QuarantineDraft {
        symbol: instrument.symbol.clone(),
        interval,
        time: None,
        values: None,
        raw: serde_json::to_string(b).unwrap_or_default(),
        source: fetched.provider.clone(),
        reason_code: "wrong_series".to_owned(),
        reason: format!(
            "asked for {} {interval}, received a bar of {} {}",
            instrument.symbol, b.symbol, b.interval
        ),
    }));
    if !drafts.is_empty() {
        let ids = ctx.store.add_quarantined(&drafts, ctx.clock.now()).await?;
        run.quarantined += ids.len() as u64;
    }
    Ok(())
}

/// Fetches the bars from the last stored one (asked for again: it may have
/// been incomplete) up to now.
async fn refresh_incrementally(
    ctx: &AppContext,
    prices: &dyn PriceSource,
    claimed: &ClaimedJob,
    progress: &mut BackfillProgress,
    run: &mut JobRun,
) -> Result<(), RunFailure> {
    let instrument = &claimed.instrument;
    let key = claimed.job.key();
    let interval = key.interval;
    let now = ctx.clock.now();
    let last = ctx
        .store
        .bars(
            &instrument.symbol,
            interval,
            BarRange {
                limit: Some(1),
                ..BarRange::default()
            },
        )
        .await?
        .pop();
    let from = match last {
        Some(b) => b.time,
        // Nothing stored although the backfill ran (the provider had nothing):
        // look one chunk back.
        None => now
            .checked_sub(ctx.refresh_policy.backfill_chunk(interval))
            .unwrap_or(now),
    };
    // Date-keyed bars are keyed at 00:00 UTC of the exchange's date, which may
    // be ahead of UTC: leave room for today's bar.
    let ahead = if interval.is_date_keyed() {
        SignedDuration::from_hours(24)
    } else {
        SignedDuration::from_secs(interval.seconds())
    };
    let to = add(now, ahead);
    // A series that fell behind catches up in requests the source accepts.
    let span = prices
        .max_request_span(instrument, interval)
        .filter(|s| *s > SignedDuration::ZERO);
    let mut start = from;
    while start < to {
        let end = span.map_or(to, |s| add(start, s).min(to));
        run.requests += 1;
        let fetched = prices.fetch_bars(instrument, interval, start, end).await?;
        let direction = Direction::Forwards {
            key: &key,
            progress: &mut *progress,
        };
        store_fetched(ctx, instrument, interval, fetched, direction, run).await?;
        if end <= start {
            break;
        }
        start = end;
    }
    Ok(())
}

/// Refreshes one instrument now, whatever the market's hours: its daily
/// series, and its intraday ones when it is watched. A series without history
/// is backfilled first.
pub async fn refresh_now(ctx: &AppContext, symbol: &Symbol) -> AppResult<RefreshReport> {
    let instrument = crate::instruments::get_instrument(ctx, symbol).await?;
    if !is_fetchable(&instrument) {
        return Err(AppError::Conflict(format!(
            "{symbol} is priced by hand (provider manual); nothing is fetched"
        )));
    }
    let Some(prices) = ctx.prices.clone() else {
        return Err(AppError::Conflict(
            "no price source is configured in this process".to_owned(),
        ));
    };
    let policy = ctx.refresh_policy.clone();
    let now = ctx.clock.now();
    let watched = super::watched::watched_symbols(ctx).await?.contains(symbol);
    let mut keys: Vec<JobKey> = policy
        .daily_intervals
        .iter()
        .map(|iv| JobKey::new(symbol.clone(), *iv))
        .collect();
    if watched {
        keys.extend(
            policy
                .intraday_intervals
                .iter()
                .map(|iv| JobKey::new(symbol.clone(), *iv)),
        );
    }
    let mut report = RefreshReport {
        jobs_created: ctx.store.ensure_fetch_jobs(&keys, now).await?,
        ..RefreshReport::default()
    };
    for key in keys {
        let lease_until = add(now, policy.lease);
        let Some(job) = ctx
            .store
            .claim_fetch_job(&key, now, lease_until, &policy.worker_id)
            .await?
        else {
            report.busy += 1;
            continue;
        };
        let run = run_claimed(ctx.clone(), prices.clone(), job, None, None).await;
        report.add(run);
    }
    Ok(report)
}
