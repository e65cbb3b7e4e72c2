//! Bar use cases: ingest (API, CLI, collectors), range reads, quotes, hand-entered prices.

use crate::bar_input::{ParsedBar, RowResult};
use crate::context::{AppContext, BarsStored};
use crate::error::{AppError, AppResult, FieldError};
use crate::ports::{BarRange, StoreError, UpsertCounts};
use jiff::Timestamp;
use pricetrack_domain::{Bar, Interval, Ohlcv, Symbol, date_key};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;

/// What to do with rows that are malformed or contradict themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InvalidRows {
    /// Reject the whole upload, writing nothing (the default).
    #[default]
    RejectUpload,
    /// Store the valid rows and report the invalid ones.
    Skip,
}

/// The response to an ingest.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IngestReport {
    pub inserted: u64,
    pub replaced: u64,
    pub rejected: u64,
    /// One entry per rejected row: its index (and CSV line) and the reason.
    pub rejections: Vec<FieldError>,
    /// Rows that were well-formed but implausible (a jump, a future time):
    /// held in quarantine instead of stored.
    pub quarantined: u64,
    /// One entry per quarantined row.
    pub quarantined_rows: Vec<QuarantinedRow>,
}

/// A row of an upload that went to quarantine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuarantinedRow {
    /// 0-based position of the row in the upload.
    pub index: usize,
    /// 1-based line in the uploaded file (CSV), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    pub symbol: Symbol,
    pub time: Timestamp,
    /// The quarantine record's id (for release or drop).
    pub id: i64,
    pub reason_code: String,
    pub reason: String,
}

/// Validates parsed rows and stores the good ones.
///
/// Malformed rows and duplicate times inside the upload reject the whole upload
/// (unless `invalid` is [`InvalidRows::Skip`]). Rows for instruments that do not
/// exist are rejected one by one while the rest is stored — a mixed feed should
/// not lose every instrument because one is unknown.
///
/// Well-formed rows then pass the bar validator: implausible ones (a close far
/// from the previous one, a time in the future) go to quarantine with source
/// `api`, are reported in [`IngestReport::quarantined_rows`], and the rest is stored.
pub async fn ingest_bars(
    ctx: &AppContext,
    rows: Vec<RowResult>,
    invalid: InvalidRows,
) -> AppResult<IngestReport> {
    ingest_bars_from(ctx, rows, invalid, crate::market::quarantine::SOURCE_API).await
}

/// [`ingest_bars`] naming where the rows came from (`api`, `import`), for the quarantine.
pub async fn ingest_bars_from(
    ctx: &AppContext,
    rows: Vec<RowResult>,
    invalid: InvalidRows,
    source: &str,
) -> AppResult<IngestReport> {
    let mut rejections = Vec::new();
    let mut good: Vec<ParsedBar> = Vec::with_capacity(rows.len());
    for row in rows {
        match row {
            Ok(bar) => good.push(bar),
            Err(e) => rejections.push(e),
        }
    }
    reject_duplicate_times(&mut good, &mut rejections);
    if !rejections.is_empty() && invalid == InvalidRows::RejectUpload {
        rejections.sort_by_key(|e| e.index);
        return Err(AppError::Invalid(rejections));
    }

    // Fast path: a feed almost always names known instruments, so write first and
    // look symbols up only when the store reports an unknown one.
    let screened = crate::market::quarantine::screen(
        ctx,
        good.into_iter()
            .map(|p| ((p.index, p.line), p.bar))
            .collect(),
    )
    .await?;
    let (rows, bars): (Vec<(usize, Option<u64>)>, Vec<Bar>) = screened.accepted.into_iter().unzip();
    let counts = match store_bars(ctx, &bars).await {
        Ok(counts) => counts,
        Err(AppError::Store(StoreError::UnknownInstrument(_))) => {
            let known = known_symbols(ctx, bars.iter().map(|b| &b.symbol)).await?;
            let mut storable = Vec::with_capacity(bars.len());
            for ((index, line), bar) in rows.into_iter().zip(bars) {
                if known.contains(&bar.symbol) {
                    storable.push(bar);
                } else {
                    rejections.push(FieldError::row(
                        index,
                        line,
                        Some("symbol"),
                        format!("unknown instrument {}", bar.symbol),
                    ));
                }
            }
            store_bars(ctx, &storable).await?
        }
        Err(e) => return Err(e),
    };
    let quarantined_rows = quarantine_rows(ctx, screened.held, source, &mut rejections).await?;
    rejections.sort_by_key(|e| e.index);

    Ok(IngestReport {
        inserted: counts.inserted,
        replaced: counts.replaced,
        rejected: rejections.len() as u64,
        rejections,
        quarantined: quarantined_rows.len() as u64,
        quarantined_rows,
    })
}

/// Quarantines held-back rows; rows of unknown instruments are rejected instead.
async fn quarantine_rows(
    ctx: &AppContext,
    held: Vec<(
        (usize, Option<u64>),
        Bar,
        pricetrack_domain::validation::QuarantineReason,
    )>,
    source: &str,
    rejections: &mut Vec<FieldError>,
) -> AppResult<Vec<QuarantinedRow>> {
    use crate::market::quarantine::draft_for_bar;
    if held.is_empty() {
        return Ok(Vec::new());
    }
    let drafts: Vec<_> = held
        .iter()
        .map(|(_, bar, reason)| draft_for_bar(bar, reason, source))
        .collect();
    let now = ctx.clock.now();
    let (held, ids) = match ctx.store.add_quarantined(&drafts, now).await {
        Ok(ids) => (held, ids),
        Err(StoreError::UnknownInstrument(_)) => {
            let known = known_symbols(ctx, held.iter().map(|(_, b, _)| &b.symbol)).await?;
            let (keep, unknown): (Vec<_>, Vec<_>) = held
                .into_iter()
                .partition(|(_, b, _)| known.contains(&b.symbol));
            for ((index, line), bar, _) in unknown {
                rejections.push(FieldError::row(
                    index,
                    line,
                    Some("symbol"),
                    format!("unknown instrument {}", bar.symbol),
                ));
            }
            let drafts: Vec<_> = keep
                .iter()
                .map(|(_, bar, reason)| draft_for_bar(bar, reason, source))
                .collect();
            let ids = ctx.store.add_quarantined(&drafts, now).await?;
            (keep, ids)
        }
        Err(e) => return Err(e.into()),
    };
    let mut out: Vec<QuarantinedRow> = held
        .into_iter()
        .zip(ids)
        .map(|(((index, line), bar, reason), id)| QuarantinedRow {
            index,
            line,
            symbol: bar.symbol,
            time: bar.time,
            id,
            reason_code: reason.code().to_owned(),
            reason: reason.message(),
        })
        .collect();
    out.sort_by_key(|r| r.index);
    Ok(out)
}

/// Stores already validated bars and announces them to live subscribers.
pub async fn store_bars(ctx: &AppContext, bars: &[Bar]) -> AppResult<UpsertCounts> {
    if bars.is_empty() {
        return Ok(UpsertCounts::default());
    }
    let written = ctx.store.upsert_bars(bars).await;
    // Even a failed write may have reached the store: cached quotes go either way.
    ctx.quotes.stored(bars);
    let counts = written?;
    ctx.newest_closes.record(bars);
    announce(ctx, bars);
    Ok(counts)
}

/// Bars another replica stored in the shared database (its newest per series):
/// this process's caches and live subscribers learn of them as if stored here;
/// nothing is written.
pub fn stored_elsewhere(ctx: &AppContext, bars: &[Bar]) {
    ctx.quotes.stored(bars);
    ctx.newest_closes.record(bars);
    announce(ctx, bars);
}

fn announce(ctx: &AppContext, bars: &[Bar]) {
    if ctx.bar_events.receiver_count() == 0 {
        return;
    }
    for bar in pricetrack_domain::newest_per_series(bars) {
        // No receiver is not an error: nobody is watching.
        let _ = ctx.bar_events.send(BarsStored {
            symbol: bar.symbol.clone(),
            interval: bar.interval,
            latest: bar.clone(),
        });
    }
}

fn reject_duplicate_times(rows: &mut Vec<ParsedBar>, rejections: &mut Vec<FieldError>) {
    // Keys borrow the symbol: no reference count touched per row.
    let mut first_seen: FxHashMap<(&str, Interval, Timestamp), usize> =
        FxHashMap::with_capacity_and_hasher(rows.len(), Default::default());
    let mut duplicates = FxHashSet::default();
    for (pos, row) in rows.iter().enumerate() {
        let key = (row.bar.symbol.as_str(), row.bar.interval, row.bar.time);
        let first = *first_seen.entry(key).or_insert(pos);
        if first != pos {
            duplicates.insert(pos);
            rejections.push(FieldError::row(
                row.index,
                row.line,
                Some("time"),
                format!(
                    "duplicate time {} for {} (also in row {})",
                    row.bar.time, row.bar.symbol, rows[first].index
                ),
            ));
        }
    }
    drop(first_seen);
    if !duplicates.is_empty() {
        let mut pos = 0;
        rows.retain(|_| {
            let keep = !duplicates.contains(&pos);
            pos += 1;
            keep
        });
    }
}

async fn known_symbols<'a>(
    ctx: &AppContext,
    symbols: impl Iterator<Item = &'a Symbol>,
) -> AppResult<FxHashSet<Symbol>> {
    let distinct: FxHashSet<&Symbol> = symbols.collect();
    let mut known = FxHashSet::with_capacity_and_hasher(distinct.len(), Default::default());
    for symbol in distinct {
        if ctx.store.get_instrument(symbol).await?.is_some() {
            known.insert(symbol.clone());
        }
    }
    Ok(known)
}

/// Bars of one instrument, ascending. 404 if the instrument does not exist.
pub async fn bars(
    ctx: &AppContext,
    symbol: &Symbol,
    interval: Interval,
    range: BarRange,
) -> AppResult<Vec<Bar>> {
    let found = ctx.store.bars(symbol, interval, range).await?;
    // An unknown symbol reads as no bars; only then is the instrument looked
    // up, so the common read is one store call, not two.
    if found.is_empty() {
        require_instrument(ctx, symbol).await?;
    }
    Ok(found)
}

/// Whether the instrument's prices are generated (the `demo` provider), from
/// a short-lived cache so a bar read stays one store call.
pub async fn is_simulated(ctx: &AppContext, symbol: &Symbol) -> AppResult<bool> {
    Ok(ctx.listing_dates.facts(ctx, symbol).await?.simulated)
}

async fn require_instrument(
    ctx: &AppContext,
    symbol: &Symbol,
) -> AppResult<pricetrack_domain::Instrument> {
    ctx.store
        .get_instrument(symbol)
        .await?
        .ok_or_else(|| AppError::not_found(format!("instrument {symbol}")))
}

/// Latest price of an instrument and its change against the previous close.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quote {
    pub symbol: Symbol,
    pub currency: pricetrack_domain::Currency,
    pub price: f64,
    pub time: Timestamp,
    /// The interval of the bar the price comes from.
    pub interval: Interval,
    pub previous_close: Option<f64>,
    pub change: Option<f64>,
    pub change_pct: Option<f64>,
    /// The price is generated (an instrument on the `demo` provider).
    pub simulated: bool,
}

/// The last price is the close of the most recent bar of any interval; the
/// previous close is the last daily close before that price's trading date.
pub async fn quote(ctx: &AppContext, symbol: &Symbol) -> AppResult<Quote> {
    if let Some(q) = ctx.quotes.get(symbol) {
        return Ok(q);
    }
    let generation = ctx.quotes.generation();
    let q = quote_from_store(ctx, symbol).await?;
    ctx.quotes.put(q.clone(), generation);
    Ok(q)
}

async fn quote_from_store(ctx: &AppContext, symbol: &Symbol) -> AppResult<Quote> {
    let instrument = require_instrument(ctx, symbol).await?;
    let last_of = |interval| async move {
        let range = BarRange {
            limit: Some(1),
            ..BarRange::default()
        };
        ctx.store
            .bars(symbol, interval, range)
            .await
            .map(|mut v| v.pop())
    };
    let mut latest: Option<Bar> = None;
    for interval in [
        Interval::M1,
        Interval::M5,
        Interval::M15,
        Interval::H1,
        Interval::D1,
    ] {
        if let Some(bar) = last_of(interval).await? {
            // Intraday bars end after they start; a daily bar of the same date is no newer.
            let end = bar.time.as_second()
                + if bar.interval.is_date_keyed() {
                    0
                } else {
                    bar.interval.seconds()
                };
            let best_end = latest.as_ref().map(|b| {
                b.time.as_second()
                    + if b.interval.is_date_keyed() {
                        0
                    } else {
                        b.interval.seconds()
                    }
            });
            if best_end.is_none_or(|e| end > e) {
                latest = Some(bar);
            }
        }
    }
    let latest = latest
        .ok_or_else(|| AppError::not_found(format!("price for {symbol} (no bars stored yet)")))?;
    let trading_day = date_key(latest.date());
    let previous = ctx
        .store
        .bars(
            symbol,
            Interval::D1,
            BarRange {
                from: None,
                to: Some(trading_day - jiff::SignedDuration::from_secs(1)),
                limit: Some(1),
            },
        )
        .await?
        .pop();
    let previous_close = previous.map(|b| b.close);
    let change = previous_close.map(|p| latest.close - p);
    Ok(Quote {
        symbol: symbol.clone(),
        currency: instrument.currency,
        price: latest.close,
        time: latest.time,
        interval: latest.interval,
        previous_close,
        change,
        change_pct: change.zip(previous_close).map(|(c, p)| c / p),
        simulated: instrument.provider.as_str() == "demo",
    })
}

/// Records a hand-entered price at a date (a daily bar with O=H=L=C, volume 0).
pub async fn record_manual_price(
    ctx: &AppContext,
    symbol: &Symbol,
    date: jiff::civil::Date,
    price: f64,
) -> AppResult<(Bar, UpsertCounts)> {
    require_instrument(ctx, symbol).await?;
    let today = ctx.clock.now().to_zoned(jiff::tz::TimeZone::UTC).date();
    if date > today {
        return Err(AppError::invalid_field(
            "date",
            format!("{date} is in the future"),
        ));
    }
    let values = Ohlcv {
        open: price,
        high: price,
        low: price,
        close: price,
        volume: 0.0,
    };
    let bar = Bar::new(symbol.clone(), Interval::D1, date_key(date), values)
        .map_err(|e| AppError::invalid_field("price", e.to_string()))?;
    let counts = store_bars(ctx, std::slice::from_ref(&bar)).await?;
    Ok((bar, counts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(index: usize, symbol: &str, interval: Interval, secs: i64) -> ParsedBar {
        let values = Ohlcv {
            open: 1.0,
            high: 2.0,
            low: 0.5,
            close: 1.5,
            volume: 1.0,
        };
        let time = Timestamp::from_second(1_704_067_200 + secs).unwrap();
        let bar = Bar::new(Symbol::parse(symbol).unwrap(), interval, time, values).unwrap();
        ParsedBar {
            index,
            line: Some(index as u64 + 2),
            bar,
        }
    }

    #[test]
    fn a_repeated_series_and_time_is_rejected_naming_both_rows_and_other_series_pass() {
        let mut rows = vec![
            parsed(0, "AAPL", Interval::M5, 0),
            parsed(1, "MSFT", Interval::M5, 0),
            parsed(2, "AAPL", Interval::M1, 0),
            parsed(3, "AAPL", Interval::M5, 0),
            parsed(4, "AAPL", Interval::M5, 300),
        ];
        let mut rejections = Vec::new();
        reject_duplicate_times(&mut rows, &mut rejections);
        assert_eq!(
            rows.iter().map(|r| r.index).collect::<Vec<_>>(),
            [0, 1, 2, 4]
        );
        assert_eq!(rejections.len(), 1);
        let e = &rejections[0];
        assert_eq!(
            (e.index, e.line, e.field.as_deref()),
            (Some(3), Some(5), Some("time"))
        );
        assert!(e.reason.contains("also in row 0"), "{}", e.reason);
    }
}
