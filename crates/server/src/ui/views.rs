//! Data the pages show, loaded through the app's use cases and ports and turned
//! into display-ready values.

use super::{chart, format};
use jiff::{civil::Date, tz::TimeZone};
use pricetrack_app::{
    AppContext, AppResult, bars,
    ports::{BarRange, PageRequest},
};
use pricetrack_domain::{Bar, Instrument, Interval, Symbol, date_key};

/// Prices older than this (for instruments that are fetched, not hand-priced) are stale.
const STALE_AFTER_SECS: i64 = 4 * 86_400;

/// One instrument's line in a quote table (watchlists, dashboard), display-ready.
#[derive(Debug, Clone)]
pub struct QuoteRow {
    pub symbol: String,
    pub name: String,
    pub has_price: bool,
    pub last: String,
    pub change: String,
    pub pct: String,
    pub change_pct: f64,
    pub dir: &'static str,
    pub range: String,
    pub spark: String,
    pub time: String,
    pub simulated: bool,
    pub stale: bool,
}

/// The quote, day range and recent closes of an instrument.
pub async fn quote_row(ctx: &AppContext, i: &Instrument) -> AppResult<QuoteRow> {
    let cur = i.currency.as_str();
    let mut row = QuoteRow {
        symbol: i.symbol.to_string(),
        name: i.name.clone(),
        has_price: false,
        last: "—".to_owned(),
        change: "—".to_owned(),
        pct: "—".to_owned(),
        change_pct: 0.0,
        dir: "flat",
        range: "—".to_owned(),
        spark: chart::sparkline(&[], 96, 24),
        time: String::new(),
        simulated: i.provider.as_str() == "demo",
        stale: false,
    };
    let q = match bars::quote(ctx, &i.symbol).await {
        Ok(q) => q,
        Err(pricetrack_app::AppError::NotFound { .. }) => return Ok(row),
        Err(e) => return Err(e),
    };
    row.has_price = true;
    row.last = format::format_price(q.price, cur);
    row.time = chart::time_text(q.time.as_second(), !q.interval.is_date_keyed());
    if let (Some(c), Some(p)) = (q.change, q.change_pct) {
        row.change = format::signed_price(c, cur);
        row.pct = format::pct_arrow(p);
        row.change_pct = p;
        row.dir = format::direction(c);
    }
    row.stale = is_stale(ctx, &q, i.provider.as_str() == "manual");
    let daily = ctx
        .store
        .bars(
            &i.symbol,
            Interval::D1,
            BarRange {
                limit: Some(30),
                ..BarRange::default()
            },
        )
        .await?;
    let day_start = date_key(q.time.to_zoned(TimeZone::UTC).date());
    let (lo, hi) = if q.interval.is_date_keyed() {
        daily.last().map_or((q.price, q.price), |b| (b.low, b.high))
    } else {
        let today = ctx
            .store
            .bars(
                &i.symbol,
                q.interval,
                BarRange {
                    from: Some(day_start),
                    to: None,
                    limit: Some(5000),
                },
            )
            .await?;
        range_of(&today).unwrap_or((q.price, q.price))
    };
    row.range = format!(
        "{} – {}",
        format::format_price(lo, cur),
        format::format_price(hi, cur)
    );
    let mut values: Vec<f64> = if daily.len() >= 2 {
        daily.iter().map(|b| b.close).collect()
    } else {
        ctx.store
            .bars(
                &i.symbol,
                q.interval,
                BarRange {
                    limit: Some(60),
                    ..BarRange::default()
                },
            )
            .await?
            .iter()
            .map(|b| b.close)
            .collect()
    };
    if !q.interval.is_date_keyed() && daily.len() >= 2 {
        values.push(q.price);
    }
    row.spark = chart::sparkline(&values, 96, 24);
    Ok(row)
}

/// The lowest low and highest high of the past 52 weeks: from daily bars, or
/// where an instrument has none, from its coarsest intraday series (its
/// newest 20,000 bars at most, so a year of minute bars is cut short rather
/// than read whole).
pub async fn range_52w(ctx: &AppContext, symbol: &Symbol) -> AppResult<Option<(f64, f64)>> {
    let since = ctx.clock.now() - jiff::SignedDuration::from_hours(24 * 365);
    let daily = ctx
        .store
        .bars(
            symbol,
            Interval::D1,
            BarRange {
                from: Some(since),
                to: None,
                limit: Some(400),
            },
        )
        .await?;
    if let Some(range) = range_of(&daily) {
        return Ok(Some(range));
    }
    for interval in [Interval::H1, Interval::M15, Interval::M5, Interval::M1] {
        let bars = ctx
            .store
            .bars(
                symbol,
                interval,
                BarRange {
                    limit: Some(20_000),
                    ..BarRange::default()
                },
            )
            .await?;
        let within: Vec<Bar> = bars.into_iter().filter(|b| b.time >= since).collect();
        if let Some(range) = range_of(&within) {
            return Ok(Some(range));
        }
    }
    Ok(None)
}

fn range_of(bars: &[Bar]) -> Option<(f64, f64)> {
    if bars.is_empty() {
        return None;
    }
    Some((
        bars.iter().map(|b| b.low).fold(f64::INFINITY, f64::min),
        bars.iter()
            .map(|b| b.high)
            .fold(f64::NEG_INFINITY, f64::max),
    ))
}

/// Rows for a list of symbols (unknown ones are skipped).
pub async fn quote_rows(ctx: &AppContext, symbols: &[Symbol]) -> AppResult<Vec<QuoteRow>> {
    let mut rows = Vec::with_capacity(symbols.len());
    for s in symbols {
        if let Some(i) = ctx.store.get_instrument(s).await? {
            rows.push(quote_row(ctx, &i).await?);
        }
    }
    Ok(rows)
}

/// Whether a quote is too old to trust (hand-priced items never are).
pub fn is_stale(ctx: &AppContext, q: &bars::Quote, hand_priced: bool) -> bool {
    !hand_priced && ctx.clock.now().as_second() - q.time.as_second() > STALE_AFTER_SECS
}

/// What the data banners need to know of one instrument a page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFlags {
    pub symbol: String,
    pub simulated: bool,
    pub stale: bool,
}

impl From<&QuoteRow> for DataFlags {
    fn from(r: &QuoteRow) -> Self {
        Self {
            symbol: r.symbol.clone(),
            simulated: r.simulated,
            stale: r.stale,
        }
    }
}

/// Banners for simulated or stale data among the rows.
pub fn data_banners(rows: &[QuoteRow]) -> Vec<String> {
    banners_for(rows.iter().map(DataFlags::from))
}

/// Banners for simulated or stale data, each symbol named once.
pub fn banners_for(flags: impl IntoIterator<Item = DataFlags>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let rows: Vec<DataFlags> = flags
        .into_iter()
        .filter(|f| seen.insert(f.symbol.clone()))
        .collect();
    let mut out = Vec::new();
    let simulated: Vec<&str> = rows
        .iter()
        .filter(|r| r.simulated)
        .map(|r| r.symbol.as_str())
        .collect();
    if !simulated.is_empty() {
        out.push(format!(
            "Simulated data: prices of {} come from the demo provider and are not real.",
            simulated.join(", ")
        ));
    }
    let stale: Vec<&str> = rows
        .iter()
        .filter(|r| r.stale)
        .map(|r| r.symbol.as_str())
        .collect();
    if !stale.is_empty() {
        out.push(format!(
            "Stale prices: {} have not been updated for more than 4 days.",
            stale.join(", ")
        ));
    }
    out
}

/// One line of the top movers list.
#[derive(Debug, Clone)]
pub struct Mover {
    pub symbol: String,
    pub last: String,
    pub pct: String,
    pub change_pct: f64,
    pub dir: &'static str,
}

impl From<&QuoteRow> for Mover {
    fn from(r: &QuoteRow) -> Self {
        Self {
            symbol: r.symbol.clone(),
            last: r.last.clone(),
            pct: r.pct.clone(),
            change_pct: r.change_pct,
            dir: r.dir,
        }
    }
}

impl Mover {
    /// From a bare quote (a holding not on the watchlist); `None` without a change.
    pub fn from_quote(q: &bars::Quote) -> Option<Self> {
        let (change, pct) = (q.change?, q.change_pct?);
        Some(Self {
            symbol: q.symbol.to_string(),
            last: format::format_price(q.price, q.currency.as_str()),
            pct: format::pct_arrow(pct),
            change_pct: pct,
            dir: format::direction(change),
        })
    }
}

/// The `limit` biggest moves (by absolute change %), each symbol once, the
/// first occurrence winning; unchanged prices are left out.
pub fn top_movers(candidates: impl IntoIterator<Item = Mover>, limit: usize) -> Vec<Mover> {
    let mut seen = std::collections::HashSet::new();
    let mut movers: Vec<Mover> = candidates
        .into_iter()
        .filter(|m| m.change_pct != 0.0 && seen.insert(m.symbol.clone()))
        .collect();
    movers.sort_by(|a, b| b.change_pct.abs().total_cmp(&a.change_pct.abs()));
    movers.truncate(limit);
    movers
}

/// The accessible alternative of a chart: a table in a disclosure (the first
/// column is the label, the others numbers).
#[derive(askama::Template, Default)]
#[template(path = "data_table.html")]
pub struct DataTable {
    pub summary: String,
    pub head: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// How many points a line chart's data table lists (the newest).
pub const TABLE_POINTS: usize = 60;

impl DataTable {
    /// The newest points of line series sharing their times (the first
    /// series' times; the others' values at those times).
    pub fn of_lines(series: &[(&str, &[chart::Point])], currency: &str, intraday: bool) -> Self {
        let Some((_, first)) = series.first() else {
            return Self::default();
        };
        let rows: Vec<Vec<String>> = first
            .iter()
            .rev()
            .take(TABLE_POINTS)
            .map(|p| {
                let mut row = vec![chart::time_text(p.t, intraday)];
                for (i, (_, points)) in series.iter().enumerate() {
                    let v = if i == 0 {
                        Some(p.v)
                    } else {
                        points
                            .binary_search_by_key(&p.t, |q| q.t)
                            .ok()
                            .map(|j| points[j].v)
                    };
                    row.push(v.map_or("—".to_owned(), |v| format::money_f(v, currency)));
                }
                row
            })
            .collect();
        let mut head = vec!["Date".to_owned()];
        head.extend(series.iter().map(|(label, _)| (*label).to_owned()));
        Self {
            summary: format!("Data table (latest {} points)", rows.len()),
            head,
            rows,
        }
    }

    /// The markup, or nothing when there is nothing to list.
    pub fn html(&self) -> String {
        use askama::Template as _;
        if self.rows.is_empty() {
            return String::new();
        }
        self.render().unwrap_or_else(|e| {
            tracing::error!(error = %e, "data table rendering failed");
            String::new()
        })
    }
}

pub fn today(ctx: &AppContext) -> Date {
    ctx.clock.now().to_zoned(TimeZone::UTC).date()
}

/// All instruments, for pickers (bounded).
pub async fn all_instruments(ctx: &AppContext) -> AppResult<Vec<Instrument>> {
    Ok(ctx
        .store
        .list_instruments(&pricetrack_app::ports::InstrumentQuery {
            page: PageRequest::new(Some(PageRequest::MAX_LIMIT), None),
            ..Default::default()
        })
        .await?
        .items)
}
