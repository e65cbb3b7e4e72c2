//! Filling a series' history: backwards from when the backfill started, one
//! chunk per request (sized for the providers' per-request limits), to the
//! configured depth or as far as the provider gives. Progress is saved after
//! every chunk, so a restart (or the next step, when a run's chunk budget is
//! spent) continues where the last run stopped.

use super::policy::{HISTORY_FLOOR, is_fetchable};
use super::refresh::{Direction, JobRun, RunFailure, run_claimed, store_fetched};
use crate::context::AppContext;
use crate::error::{AppError, AppResult};
use crate::market_data::{FetchError, FetchedBars, HistoryReach, PriceSource};
use crate::ports::{BackfillProgress, BarRange, ClaimedJob, JobKey, QuarantineDraft};
use jiff::{SignedDuration, Timestamp};
use pricetrack_domain::{Instrument, Interval, Symbol};
use std::sync::Arc;

/// Told after every chunk (the CLI draws its progress bar from it).
pub trait BackfillObserver: Send + Sync {
    /// `history_start` is where the walk will end at the latest: the
    /// configured depth, how far back the provider declares it serves, or the
    /// instrument's first trading day — whichever is latest (the Unix epoch
    /// when none is known).
    fn chunk_done(
        &self,
        key: &JobKey,
        progress: &BackfillProgress,
        bars_stored: u64,
        history_start: Timestamp,
    );
}

fn max_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Runs (or resumes) a claimed job's backfill for up to `max_chunks` chunks.
/// `progress` is updated (and saved) as chunks complete; on failure it holds
/// the last saved state.
pub(crate) async fn run_backfill(
    ctx: &AppContext,
    prices: &dyn PriceSource,
    claimed: &ClaimedJob,
    progress: &mut BackfillProgress,
    max_chunks: Option<u32>,
    observer: Option<&dyn BackfillObserver>,
    run: &mut JobRun,
) -> Result<(), RunFailure> {
    let policy = ctx.refresh_policy.clone();
    let instrument = &claimed.instrument;
    let key = claimed.job.key();
    let interval = key.interval;
    let now = ctx.clock.now();
    let anchor = *progress.anchor.get_or_insert(now);
    if progress.cursor.is_none() && progress.floor.is_none() {
        progress.floor = policy.backfill_floor(interval, anchor);
    }
    let reach_floor = match prices.history_reach(instrument, interval) {
        HistoryReach::Unsupported => {
            // Nothing to fill; the refresh reports the problem if there is one.
            progress.done = true;
            return Ok(());
        }
        HistoryReach::Unlimited => None,
        HistoryReach::Days(d) => anchor
            .checked_sub(SignedDuration::from_hours(24 * i64::from(d)))
            .ok(),
    };
    let floor = max_opt(progress.floor, reach_floor);
    let lower = floor.unwrap_or(HISTORY_FLOOR).max(HISTORY_FLOOR);
    // Sized for the policy and for what one request to the source may span.
    let chunk = match prices.max_request_span(instrument, interval) {
        Some(span) if span > SignedDuration::ZERO => span.min(policy.backfill_chunk(interval)),
        _ => policy.backfill_chunk(interval),
    };
    // Without a floor the walk stops at the first empty chunk once the series
    // has any bars: the provider's history begins there.
    let mut seen_any = !ctx
        .store
        .bars(
            &key.symbol,
            interval,
            BarRange {
                limit: Some(1),
                ..BarRange::default()
            },
        )
        .await?
        .is_empty();
    let mut chunks = 0u32;
    while !progress.done {
        let cursor = progress.cursor.unwrap_or(anchor);
        if cursor <= lower {
            progress.done = true;
            break;
        }
        if max_chunks.is_some_and(|m| chunks >= m) {
            break;
        }
        let start = cursor.checked_sub(chunk).unwrap_or(lower).max(lower);
        run.requests += 1;
        let fetched = prices
            .fetch_bars(instrument, interval, start, cursor)
            .await?;
        if !seen_any && !fetched.bars.is_empty() {
            // A quote that keeps failing must not block the history forever.
            let insist = claimed.job.failures < QUOTE_CHECK_ATTEMPTS;
            cross_check_with_quote(ctx, prices, instrument, interval, &fetched, insist, run)
                .await?;
        }
        let empty = fetched.bars.is_empty() && fetched.rejected.is_empty();
        store_fetched(
            ctx,
            instrument,
            interval,
            fetched,
            Direction::Backwards,
            run,
        )
        .await?;
        progress.cursor = Some(start);
        if empty && floor.is_none() && seen_any {
            progress.done = true;
        }
        seen_any |= !empty;
        if start <= lower {
            progress.done = true;
        }
        let lease_until = ctx.clock.now().saturating_add(policy.lease).unwrap_or(now);
        if !ctx
            .store
            .save_backfill_progress(&key, &policy.worker_id, progress, lease_until)
            .await?
        {
            return Err(RunFailure {
                message: format!("lost the claim on {key} during its backfill"),
                retry_after: None,
                permanent: false,
            });
        }
        if let Some(o) = observer {
            // The first chunk may have taught the instrument's listing date.
            let listed = ctx
                .listing_dates
                .get(ctx, &key.symbol)
                .await?
                .map(pricetrack_domain::date_key);
            let history_start = listed.map_or(lower, |l| l.max(lower));
            o.chunk_done(&key, progress, run.bars_stored, history_start);
        }
        chunks += 1;
    }
    Ok(())
}

/// Consecutive failed runs after which the first bars of a series are stored
/// without the quote check (a source whose quotes keep failing).
const QUOTE_CHECK_ATTEMPTS: u32 = 3;

/// Whether a failed quote may work on another try (rather than the source
/// having no quote for the instrument at all).
fn quote_may_come_later(e: &FetchError) -> bool {
    use crate::market_data::FetchErrorKind as K;
    e.is_retry_later()
        || matches!(
            e.kind,
            K::RateLimited
                | K::QuotaExhausted
                | K::Timeout
                | K::Network
                | K::Upstream
                | K::HttpStatus
                | K::Decode
                | K::CircuitOpen
        )
}

/// The first bars of a series with nothing stored have no history to be
/// checked against, so they would set the scale for everything after them.
/// Their newest close is compared with the source's quote: a chunk at another
/// scale (a 100× pence/pounds error) is quarantined and the run fails, to be
/// retried, instead of being stored. A source without quotes is not checked;
/// one whose quote failed is retried later (the first [`QUOTE_CHECK_ATTEMPTS`]
/// runs; after that the bars are stored unchecked).
async fn cross_check_with_quote(
    ctx: &AppContext,
    prices: &dyn PriceSource,
    instrument: &Instrument,
    interval: Interval,
    fetched: &FetchedBars,
    insist: bool,
    run: &mut JobRun,
) -> Result<(), RunFailure> {
    let Some(newest) = fetched.bars.iter().max_by_key(|b| b.time) else {
        return Ok(());
    };
    if fetched.currency.is_some_and(|c| c != instrument.currency) {
        // The currency check quarantines these.
        return Ok(());
    }
    run.requests += 1;
    let quote = match prices.fetch_quote(instrument).await {
        Ok(q) => q,
        Err(e) if insist && quote_may_come_later(&e) => {
            return Err(RunFailure {
                message: format!(
                    "the first {interval} bars could not be checked against a quote: {e}"
                ),
                retry_after: e.retry_after(),
                permanent: false,
            });
        }
        Err(e) => {
            tracing::debug!(symbol = %instrument.symbol, error = %e, "no quote to check the first bars against");
            return Ok(());
        }
    };
    if quote.currency != instrument.currency || !(quote.price.is_finite() && quote.price > 0.0) {
        return Ok(());
    }
    let factor = (newest.close / quote.price).max(quote.price / newest.close);
    let limit = ctx.bar_validator.rules.max_jump_factor;
    if factor <= limit {
        return Ok(());
    }
    let reason = format!(
        "the newest {interval} close {} ({}) is {factor:.1}× away from the quote {} of {} \
         (limit {limit}×): the bars are at another scale",
        newest.close, newest.time, quote.price, quote.provider
    );
    let drafts: Vec<QuarantineDraft> = fetched
        .bars
        .iter()
        .map(|b| QuarantineDraft {
            symbol: b.symbol.clone(),
            interval,
            time: Some(b.time),
            values: Some(b.ohlcv()),
            raw: serde_json::to_string(b).unwrap_or_default(),
            source: fetched.provider.clone(),
            reason_code: "disagrees_with_quote".to_owned(),
            reason: reason.clone(),
        })
        .collect();
    let ids = ctx.store.add_quarantined(&drafts, ctx.clock.now()).await?;
    run.quarantined += ids.len() as u64;
    Err(RunFailure {
        message: format!("{reason}; {} bar(s) quarantined", ids.len()),
        retry_after: None,
        permanent: false,
    })
}

/// Backfills one series to completion (the CLI's `pricetrack backfill`),
/// optionally deeper than the policy (`from`). Resumes a backfill in progress.
pub async fn backfill(
    ctx: &AppContext,
    symbol: &Symbol,
    interval: Interval,
    from: Option<Timestamp>,
    observer: Option<Arc<dyn BackfillObserver>>,
) -> AppResult<JobRun> {
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
    let key = JobKey::new(symbol.clone(), interval);
    ctx.store
        .ensure_fetch_jobs(std::slice::from_ref(&key), now)
        .await?;
    let lease_until = now.saturating_add(policy.lease).unwrap_or(now);
    let Some(mut claimed) = ctx
        .store
        .claim_fetch_job(&key, now, lease_until, &policy.worker_id)
        .await?
    else {
        return Err(AppError::Conflict(format!(
            "another worker is fetching {key} right now; try again in a minute"
        )));
    };
    if let Some(from) = from {
        let b = &mut claimed.job.backfill;
        let reached = b.done && b.cursor.is_some_and(|c| c <= from);
        b.floor = Some(from);
        if !reached {
            b.done = false;
        }
    }
    Ok(run_claimed(ctx.clone(), prices, claimed, None, observer).await)
}
