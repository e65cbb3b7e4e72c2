//! Dividends and splits: recorded as providers report them, listed by the
//! API, and used to keep a series consistent across a split.
//!
//! Providers serve history split-adjusted: after a 4:1 split every bar before
//! it is four times lower than it was the day before. A series whose history
//! was fetched before the split is on the old share basis, so its new bars
//! look like a 4× drop. When a series' backfill began before a known split and
//! bars from before the split are stored, [`reconcile_splits`] puts the
//! stored bars on the new basis at once (so nothing new is quarantined) and
//! restarts the series' backfill, which replaces them with the provider's own
//! adjusted figures as far back as the provider reaches.

use super::refresh::RunFailure;
use crate::bars::store_bars;
use crate::context::AppContext;
use crate::error::AppResult;
use crate::market_data::CorporateEvent;
use crate::ports::{BackfillProgress, BarRange, JobKey, StoredCorporateEvent};
use jiff::SignedDuration;
use pricetrack_domain::{Bar, Instrument, Symbol, validation::KnownSplit};

/// The instrument and its dividends and splits, oldest first (404 for an
/// unknown symbol).
pub async fn list(
    ctx: &AppContext,
    symbol: &Symbol,
) -> AppResult<(Instrument, Vec<StoredCorporateEvent>)> {
    let instrument = crate::instruments::get_instrument(ctx, symbol).await?;
    Ok((instrument, ctx.store.corporate_events(symbol).await?))
}

/// Records the events a provider reported with bars; returns how many were new.
pub(crate) async fn record(
    ctx: &AppContext,
    instrument: &Instrument,
    events: &[CorporateEvent],
    source: &str,
) -> AppResult<u64> {
    if events.is_empty() {
        return Ok(0);
    }
    let new = ctx
        .store
        .upsert_corporate_events(&instrument.symbol, events, source, ctx.clock.now())
        .await?;
    if new > 0 {
        // The validator's known splits changed.
        ctx.listing_dates.forget(&instrument.symbol);
        tracing::info!(symbol = %instrument.symbol, new, source, "recorded corporate events");
    }
    Ok(new)
}

/// Puts a series on the share basis of the splits its stored history
/// predates, and restarts its backfill so the provider's adjusted history
/// replaces the stored one. Returns whether it did. The restarted progress is
/// saved before any bar is touched, so an interrupted run never adjusts twice.
pub(crate) async fn reconcile_splits(
    ctx: &AppContext,
    key: &JobKey,
    progress: &mut BackfillProgress,
) -> Result<bool, RunFailure> {
    let Some(anchor) = progress.anchor else {
        return Ok(false);
    };
    let facts = ctx.listing_dates.facts(ctx, &key.symbol).await?;
    let stale: Vec<KnownSplit> = facts
        .splits
        .iter()
        .filter(|s| s.effective() > anchor)
        .copied()
        .collect();
    let Some(newest) = stale.iter().map(KnownSplit::effective).max() else {
        return Ok(false);
    };
    let before_split = |at: jiff::Timestamp| BarRange {
        from: None,
        to: at.checked_sub(SignedDuration::from_secs(1)).ok(),
        limit: None,
    };
    let any_before = ctx
        .store
        .bars(
            &key.symbol,
            key.interval,
            BarRange {
                limit: Some(1),
                ..before_split(newest)
            },
        )
        .await?;
    if any_before.is_empty() {
        return Ok(false);
    }
    let policy = &ctx.refresh_policy;
    let now = ctx.clock.now();
    *progress = BackfillProgress {
        done: false,
        anchor: Some(now),
        cursor: None,
        floor: progress.floor,
    };
    let lease_until = now.saturating_add(policy.lease).unwrap_or(now);
    if !ctx
        .store
        .save_backfill_progress(key, &policy.worker_id, progress, lease_until)
        .await?
    {
        return Err(RunFailure {
            message: format!("lost the claim on {key} while adjusting it for a split"),
            retry_after: None,
            permanent: false,
        });
    }
    for split in &stale {
        let stored = ctx
            .store
            .bars(&key.symbol, key.interval, before_split(split.effective()))
            .await?;
        let adjusted: Vec<Bar> = stored
            .iter()
            .filter_map(|b| match split.adjust(b) {
                Ok(a) => Some(a),
                Err(e) => {
                    tracing::warn!(series = %key, time = %b.time, error = %e, "a bar could not be split-adjusted; the backfill replaces it if the provider still has it");
                    None
                }
            })
            .collect();
        store_bars(ctx, &adjusted).await?;
        tracing::info!(
            series = %key,
            split = %split.date,
            ratio = split.ratio,
            bars = adjusted.len(),
            "stored history predates a split: adjusted it and restarted the backfill"
        );
    }
    Ok(true)
}
