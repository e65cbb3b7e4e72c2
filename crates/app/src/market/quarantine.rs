//! The quarantine: bars that are well-formed but implausible (a 100× jump, a
//! time in the future…) are held back with their raw record, source and reason
//! instead of being stored or dropped. An admin releases them (stored as is) or
//! drops them.

use crate::bars::store_bars;
use crate::context::AppContext;
use crate::error::{AppError, AppResult};
use crate::market_data::RejectedRecord;
use crate::ports::{
    BarRange, Page, PageRequest, QuarantineDraft, QuarantinedBar, Role, StoreError, UpsertCounts,
    User,
};
use jiff::{SignedDuration, Timestamp};
use pricetrack_domain::{
    Bar, Interval, Symbol,
    validation::{BarContext, QuarantineReason},
};
use rustc_hash::FxHashMap;
use serde::Serialize;

/// Where quarantined bars of the ingest API come from.
pub const SOURCE_API: &str = "api";
/// Where quarantined bars of file imports come from.
pub const SOURCE_IMPORT: &str = "import";

/// Items split by the validator: the ones to store, and the ones to hold back.
#[derive(Debug)]
pub struct Screened<T> {
    pub accepted: Vec<(T, Bar)>,
    pub held: Vec<(T, Bar, QuarantineReason)>,
}

/// The start and close of the last stored bar of a series strictly before `before`.
async fn stored_close_before(
    ctx: &AppContext,
    symbol: &Symbol,
    interval: Interval,
    before: Timestamp,
) -> AppResult<Option<(Timestamp, f64)>> {
    if let Some(found) = ctx.newest_closes.newest_before(symbol, interval, before) {
        return Ok(Some(found));
    }
    let to = before
        .checked_sub(SignedDuration::from_secs(1))
        .unwrap_or(before);
    let range = BarRange {
        from: None,
        to: Some(to),
        limit: Some(1),
    };
    Ok(ctx
        .store
        .bars(symbol, interval, range)
        .await?
        .pop()
        .map(|b| (b.time, b.close)))
}

/// The validator's context for a series of `symbol`, before any bar.
async fn context_for(ctx: &AppContext, symbol: &Symbol) -> AppResult<BarContext> {
    let facts = ctx.listing_dates.facts(ctx, symbol).await?;
    let mut check = BarContext::new(ctx.clock.now());
    check.listed_since = facts.listing_date.map(pricetrack_domain::date_key);
    check.splits_possible = facts.splits_possible;
    check.splits = facts.splits.to_vec();
    Ok(check)
}

/// Runs the validator over bars in time order per series, each compared with
/// the last accepted close (starting from the store's last close before the
/// batch). Tags (row numbers…) travel with their bars; both lists keep the
/// items' input order.
pub async fn screen<T>(ctx: &AppContext, items: Vec<(T, Bar)>) -> AppResult<Screened<T>> {
    // Bars stay where they are until the end: the series of each is found by hashing
    // (one lookup per bar, symbol borrowed), its indices put in series order by a
    // counting sort, and only the verdicts are written while validating.
    let mut slot_of: FxHashMap<(&str, Interval), usize> = FxHashMap::default();
    let mut series: Vec<(&Symbol, Interval)> = Vec::new();
    let slots: Vec<usize> = items
        .iter()
        .map(|(_, bar)| {
            *slot_of
                .entry((bar.symbol.as_str(), bar.interval))
                .or_insert_with(|| {
                    series.push((&bar.symbol, bar.interval));
                    series.len() - 1
                })
        })
        .collect();
    drop(slot_of);
    let mut starts = vec![0; series.len() + 1];
    for &slot in &slots {
        starts[slot + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let mut order = vec![0; items.len()];
    let mut next = starts.clone();
    for (i, &slot) in slots.iter().enumerate() {
        order[next[slot]] = i;
        next[slot] += 1;
    }
    let mut by_key: Vec<usize> = (0..series.len()).collect();
    by_key.sort_by(|&a, &b| series[a].cmp(&series[b]));

    let mut verdicts: Vec<Option<QuarantineReason>> = vec![None; items.len()];
    for slot in by_key {
        let (symbol, interval) = series[slot];
        let indices = &mut order[starts[slot]..starts[slot + 1]];
        // Feeds send each series in time order: then this only checks.
        indices.sort_by_key(|&i| items[i].1.time);
        let first = items[indices[0]].1.time;
        let mut check = context_for(ctx, symbol).await?;
        if let Some((time, close)) = stored_close_before(ctx, symbol, interval, first).await? {
            check.previous_close = Some(close);
            check.previous_time = Some(time);
        }
        for &i in indices.iter() {
            let bar = &items[i].1;
            match ctx.bar_validator.check(bar, &check) {
                Ok(()) => check.accept(bar),
                Err(reason) => verdicts[i] = Some(reason),
            }
        }
    }
    let held = verdicts.iter().filter(|v| v.is_some()).count();
    let mut out = Screened {
        accepted: Vec::with_capacity(items.len() - held),
        held: Vec::with_capacity(held),
    };
    for ((tag, bar), verdict) in items.into_iter().zip(verdicts) {
        match verdict {
            None => out.accepted.push((tag, bar)),
            Some(reason) => out.held.push((tag, bar, reason)),
        }
    }
    Ok(out)
}

/// Like [`screen`] for a chunk of history fetched while walking backwards:
/// each bar is compared with the next newer accepted close (starting from the
/// oldest stored bar at or after the chunk), so the stored, already checked
/// history sets the scale rather than the chunk's oldest bar.
pub async fn screen_backwards(ctx: &AppContext, bars: Vec<Bar>) -> AppResult<Screened<()>> {
    let mut out = Screened {
        accepted: Vec::new(),
        held: Vec::new(),
    };
    let Some(last) = bars.iter().map(|b| b.time).max() else {
        return Ok(out);
    };
    let (symbol, interval) = (bars[0].symbol.clone(), bars[0].interval);
    let newer = ctx
        .store
        .bars(
            &symbol,
            interval,
            BarRange {
                from: last.checked_add(SignedDuration::from_secs(1)).ok(),
                to: None,
                limit: Some(1),
            },
        )
        .await?;
    let mut check = context_for(ctx, &symbol).await?;
    if let Some(b) = newer.first() {
        check.accept(b);
    }
    let mut bars = bars;
    bars.sort_by_key(|b| std::cmp::Reverse(b.time));
    for bar in bars {
        match ctx.bar_validator.check(&bar, &check) {
            Ok(()) => {
                check.accept(&bar);
                out.accepted.push(((), bar));
            }
            Err(reason) => out.held.push(((), bar, reason)),
        }
    }
    out.accepted.reverse();
    Ok(out)
}

/// A quarantine record for a bar the validator held back.
pub fn draft_for_bar(bar: &Bar, reason: &QuarantineReason, source: &str) -> QuarantineDraft {
    QuarantineDraft {
        symbol: bar.symbol.clone(),
        interval: bar.interval,
        time: Some(bar.time),
        values: Some(bar.ohlcv()),
        raw: serde_json::to_string(bar).unwrap_or_else(|_| format!("{bar:?}")),
        source: source.to_owned(),
        reason_code: reason.code().to_owned(),
        reason: reason.message(),
    }
}

/// A quarantine record for a provider record that never became a bar.
pub fn draft_for_rejected(
    symbol: &Symbol,
    interval: Interval,
    record: &RejectedRecord,
    source: &str,
) -> QuarantineDraft {
    QuarantineDraft {
        symbol: symbol.clone(),
        interval,
        time: None,
        values: None,
        raw: record.raw.clone(),
        source: source.to_owned(),
        reason_code: "invalid".to_owned(),
        reason: record.reason.clone(),
    }
}

/// Stores the accepted bars and quarantines the held ones.
pub async fn store_screened<T>(
    ctx: &AppContext,
    screened: &Screened<T>,
    source: &str,
) -> AppResult<(UpsertCounts, Vec<i64>)> {
    let bars: Vec<Bar> = screened.accepted.iter().map(|(_, b)| b.clone()).collect();
    let counts = store_bars(ctx, &bars).await?;
    let drafts: Vec<QuarantineDraft> = screened
        .held
        .iter()
        .map(|(_, bar, reason)| draft_for_bar(bar, reason, source))
        .collect();
    let ids = ctx.store.add_quarantined(&drafts, ctx.clock.now()).await?;
    Ok((counts, ids))
}

/// What a batch of bars from an import came to.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportOutcome {
    pub inserted: u64,
    pub replaced: u64,
    /// Ids of the quarantine records, one per held-back bar.
    pub quarantined: Vec<i64>,
}

/// Validates already well-formed bars (an import), stores the plausible ones
/// and quarantines the rest under `source`.
pub async fn validate_and_store(
    ctx: &AppContext,
    bars: Vec<Bar>,
    source: &str,
) -> AppResult<ImportOutcome> {
    let screened = screen(ctx, bars.into_iter().map(|b| ((), b)).collect()).await?;
    let (counts, ids) = store_screened(ctx, &screened, source).await?;
    Ok(ImportOutcome {
        inserted: counts.inserted,
        replaced: counts.replaced,
        quarantined: ids,
    })
}

fn require_admin(actor: &User) -> AppResult<()> {
    if actor.role == Role::Admin {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

/// Quarantined records, newest first, optionally of one instrument (404 when
/// that instrument does not exist).
pub async fn list(
    ctx: &AppContext,
    symbol: Option<&Symbol>,
    page: PageRequest,
) -> AppResult<Page<QuarantinedBar>> {
    if let Some(s) = symbol {
        crate::instruments::get_instrument(ctx, s).await?;
    }
    Ok(ctx.store.list_quarantined(symbol, page).await?)
}

pub async fn get(ctx: &AppContext, id: i64) -> AppResult<QuarantinedBar> {
    ctx.store
        .get_quarantined(id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("quarantined bar {id}")))
}

/// Stores a quarantined bar as it is (admin) and removes it from quarantine.
/// A record that never became a bar cannot be released, only dropped.
pub async fn release(ctx: &AppContext, actor: &User, id: i64) -> AppResult<Bar> {
    require_admin(actor)?;
    let entry = get(ctx, id).await?;
    let d = &entry.draft;
    let (Some(time), Some(values)) = (d.time, d.values) else {
        return Err(AppError::invalid_field(
            "id",
            format!(
                "quarantined record {id} is not a bar ({}); it can only be dropped",
                d.reason
            ),
        ));
    };
    let bar = Bar::new(d.symbol.clone(), d.interval, time, values).map_err(|e| {
        AppError::invalid_field(
            "id",
            format!("quarantined record {id} is not a valid bar ({e}); it can only be dropped"),
        )
    })?;
    match store_bars(ctx, std::slice::from_ref(&bar)).await {
        Ok(_) => {}
        Err(AppError::Store(StoreError::UnknownInstrument(s))) => {
            return Err(AppError::not_found(format!("instrument {s}")));
        }
        Err(e) => return Err(e),
    }
    ctx.store.delete_quarantined(id).await?;
    tracing::info!(id, symbol = %bar.symbol, interval = %bar.interval, time = %bar.time, by = %actor.name, "released a quarantined bar");
    Ok(bar)
}

/// Deletes a quarantined record without storing it (admin).
pub async fn drop_entry(ctx: &AppContext, actor: &User, id: i64) -> AppResult<()> {
    require_admin(actor)?;
    if ctx.store.delete_quarantined(id).await? {
        tracing::info!(id, by = %actor.name, "dropped a quarantined record");
        Ok(())
    } else {
        Err(AppError::not_found(format!("quarantined bar {id}")))
    }
}
