//! Portfolio analytics as the API, the CLI and the UI ask for them: load a
//! portfolio (or all of a user's portfolios) from the store, prepare it once
//! ([`PortfolioAnalytics`]) and answer questions from a cache.
//!
//! **Loading.** The ledger; the daily closes of every instrument it names,
//! from ten days before the first transaction (carried forward over weekends
//! and holidays by the domain's price table); today's intraday price from the
//! latest intraday bar; and FX rates from stored FX instruments named like
//! Yahoo's: `EURUSD=X` is the price of 1 EUR in USD, and the inverse pair is
//! answered by 1/rate ([`StoredFxRates`]). A pair with neither symbol stored
//! is crossed through USD or EUR when both legs are stored. A missing rate is
//! an error naming the pair and the date, never a silent 1.
//!
//! **Caching.** A prepared portfolio is kept per scope (a portfolio, or a
//! user's combined portfolios) and keyed by the ledger versions the store
//! increments in the same transaction as every ledger change (so every
//! replica sees a change at once), the base currency, the cost-basis method
//! and the evaluation date. Stored bars announce themselves on
//! [`AppContext::bar_events`]; a bar of any symbol a prepared portfolio reads
//! (its instruments and its FX pairs) invalidates it. Bars written by another
//! process (a CLI import, another replica) are picked up when the entry ages
//! out ([`CacheConfig::max_age`]): an aged entry still answers at once while
//! it is reloaded in the background. Results (a summary for a period, a
//! performance series…) are cached on the prepared portfolio, so a repeated
//! question is a map lookup.
//!
//! **Incremental rebuilds.** After a ledger change only the ledger is read
//! again; the price series and FX rates of unchanged symbols are reused and
//! only new symbols (or symbols whose bars changed) are loaded. The ledger is
//! then ordered again, and the daily valuation — the part that grows with
//! days × holdings — is recomputed only from the first date whose activities
//! changed: the days before it are reused, the state at that date rebuilt by
//! replaying the earlier activities (`BuildStats::resumed_from`). A change of
//! prices, FX rates or splits, which reach back in time, values every day.
//!
//! **Off the request path.** Preparation and every computation run on the
//! blocking pool (`spawn_blocking`). Each user has a small number of
//! computation permits ([`CacheConfig::per_user_computations`]): one user's
//! heavy requests queue behind each other, never behind another user's, and
//! answers from the cache need no permit at all.

use crate::{
    AppContext, AppError, AppResult,
    analytics::{
        HoldingsView, PerformanceSeries, PortfolioAnalytics, PortfolioSummary, RealizedLot,
        ResumeFrom, SharedAnalyticsInput,
    },
    context::BarsStored,
    ports::{BarRange, Portfolio, User},
    settings,
};
use jiff::{civil::Date, tz::TimeZone};
use pricetrack_domain::{
    Currency, Instrument, Interval, PortfolioId, Symbol, Transaction, UserId,
    analytics::{
        Activity, ActivityKind, AnalyticsError, AnalyticsResult, CashTreatment, CostBasisMethod,
        DailySeries, FxRates, FxTable, PeriodPreset, PeriodSpec, PriceTable,
        allocation::{AllocationDimension, AllocationSlice},
        calendar_returns::Resolution,
        contribution::ContributionReport,
        income::{Granularity, IncomeBucket},
    },
};
use rust_decimal::{Decimal, prelude::FromPrimitive};
use std::{
    any::Any,
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};
use tokio::sync::{OnceCell, Semaphore, broadcast};

// ---------------------------------------------------------------- parameters

/// Parses the period of a request: a preset (`1D`, `WTD`, `1W`, `MTD`, `1M`,
/// `YTD`, `1Y`, `3Y`, `5Y`, `MAX`, any case) or `from`/`to` dates (both days
/// included). Without either it is `default`. Errors name the field.
pub fn parse_period(
    period: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
    default: PeriodPreset,
) -> AppResult<PeriodSpec> {
    let date = |field: &str, raw: &str| {
        raw.trim().parse::<Date>().map_err(|_| {
            AppError::invalid_field(field, format!("{raw:?} is not a date (YYYY-MM-DD)"))
        })
    };
    match (period.map(str::trim).filter(|p| !p.is_empty()), from, to) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(AppError::invalid_field(
            "period",
            "give either a period or from/to dates, not both",
        )),
        (Some(p), None, None) => PeriodPreset::parse(p)
            .map(PeriodSpec::Preset)
            .ok_or_else(|| {
                AppError::invalid_field(
                    "period",
                    format!(
                        "unknown period {p:?}; use one of {} or from=YYYY-MM-DD&to=YYYY-MM-DD",
                        PeriodPreset::ALL.map(PeriodPreset::as_str).join(", ")
                    ),
                )
            }),
        (None, Some(f), Some(t)) => {
            let (from, to) = (date("from", f)?, date("to", t)?);
            if from > to {
                return Err(AppError::invalid_field(
                    "from",
                    format!("{from} is after to ({to})"),
                ));
            }
            Ok(PeriodSpec::Custom { from, to })
        }
        (None, Some(_), None) => Err(AppError::invalid_field("to", "is required with from")),
        (None, None, Some(_)) => Err(AppError::invalid_field("from", "is required with to")),
        (None, None, None) => Ok(PeriodSpec::Preset(default)),
    }
}

/// `1d`, `1wk` or `1mo` (also `day`, `week`, `month`).
pub fn parse_resolution(raw: Option<&str>) -> AppResult<Resolution> {
    match raw.map(|r| r.trim().to_ascii_lowercase()).as_deref() {
        None | Some("1d" | "day" | "daily") => Ok(Resolution::Day),
        Some("1wk" | "1w" | "week" | "weekly") => Ok(Resolution::Week),
        Some("1mo" | "month" | "monthly") => Ok(Resolution::Month),
        Some(other) => Err(AppError::invalid_field(
            "interval",
            format!("unknown interval {other:?}; use 1d, 1wk or 1mo"),
        )),
    }
}

/// `instrument`, `kind`, `currency` or `exchange`.
pub fn parse_dimension(raw: Option<&str>) -> AppResult<AllocationDimension> {
    match raw.map(|r| r.trim().to_ascii_lowercase()).as_deref() {
        None | Some("instrument" | "symbol") => Ok(AllocationDimension::Instrument),
        Some("kind" | "class" | "asset_class") => Ok(AllocationDimension::Kind),
        Some("currency") => Ok(AllocationDimension::Currency),
        Some("exchange") => Ok(AllocationDimension::Exchange),
        Some(other) => Err(AppError::invalid_field(
            "by",
            format!("unknown dimension {other:?}; use instrument, kind, currency or exchange"),
        )),
    }
}

/// `month` or `year`.
pub fn parse_granularity(raw: Option<&str>) -> AppResult<Granularity> {
    match raw.map(|r| r.trim().to_ascii_lowercase()).as_deref() {
        None | Some("month" | "monthly" | "1mo") => Ok(Granularity::Month),
        Some("year" | "yearly" | "1y") => Ok(Granularity::Year),
        Some(other) => Err(AppError::invalid_field(
            "group",
            format!("unknown grouping {other:?}; use month or year"),
        )),
    }
}

/// `average` (or `average_cost`), `fifo`, `lifo` or `hifo`, naming `field` when wrong.
pub fn parse_cost_basis_method(field: &str, raw: &str) -> AppResult<CostBasisMethod> {
    let lower = raw.trim().to_ascii_lowercase();
    let lower = if lower == "average_cost" || lower == "avg" {
        "average".to_owned()
    } else {
        lower
    };
    settings::parse_method(&lower).ok_or_else(|| {
        AppError::invalid_field(
            field,
            format!("unknown cost-basis method {raw:?}; use average, fifo, lifo or hifo"),
        )
    })
}

// ---------------------------------------------------------------- FX rates

/// The FX instrument holding the price of one `from` in `to` (`EURUSD=X`).
pub fn fx_symbol(from: Currency, to: Currency) -> Option<Symbol> {
    Symbol::parse(&format!("{from}{to}=X")).ok()
}

/// Exchange rates read from the stored daily bars of FX instruments
/// (`EURUSD=X`: 1 EUR in USD). A pair also answers its inverse (1/rate).
#[derive(Debug, Clone, Default)]
pub struct StoredFxRates {
    table: FxTable,
    /// The stored symbols each loaded pair came from.
    sources: BTreeMap<(Currency, Currency), Vec<Symbol>>,
}

impl StoredFxRates {
    /// Adds a pair's rates (1 `from` = rate `to`), read from `sources`.
    pub fn insert(
        &mut self,
        from: Currency,
        to: Currency,
        points: Vec<(Date, Decimal)>,
        sources: Vec<Symbol>,
    ) {
        self.table.insert(from, to, points);
        self.sources.insert((from, to), sources);
    }

    /// The pairs loaded and the symbols they came from.
    pub fn sources(&self) -> &BTreeMap<(Currency, Currency), Vec<Symbol>> {
        &self.sources
    }
}

impl FxRates for StoredFxRates {
    fn rate(&self, from: Currency, to: Currency, date: Date) -> Option<Decimal> {
        self.table.rate(from, to, date)
    }
}

/// The symbols that could hold rates between `c` and `base`, directly, inversely
/// or crossed through USD or EUR.
pub(crate) fn fx_candidates(c: Currency, base: Currency) -> Vec<Symbol> {
    let mut out: Vec<Symbol> = [fx_symbol(c, base), fx_symbol(base, c)]
        .into_iter()
        .flatten()
        .collect();
    for pivot in [Currency::USD, Currency::EUR] {
        if pivot == c || pivot == base {
            continue;
        }
        out.extend(
            [
                fx_symbol(c, pivot),
                fx_symbol(pivot, c),
                fx_symbol(pivot, base),
                fx_symbol(base, pivot),
            ]
            .into_iter()
            .flatten(),
        );
    }
    out
}

/// Rates of `from → to` given the stored series (by symbol).
fn pair_series(
    from: Currency,
    to: Currency,
    series: &BTreeMap<Symbol, Vec<(Date, Decimal)>>,
) -> Option<(Vec<(Date, Decimal)>, Symbol)> {
    let non_empty = |s: Option<Symbol>| {
        let s = s?;
        let v = series.get(&s).filter(|v| !v.is_empty())?;
        Some((s, v))
    };
    if let Some((s, v)) = non_empty(fx_symbol(from, to)) {
        return Some((v.clone(), s));
    }
    let (s, v) = non_empty(fx_symbol(to, from))?;
    let inverted = v
        .iter()
        .filter_map(|(d, r)| Decimal::ONE.checked_div(*r).map(|inv| (*d, inv)))
        .collect();
    Some((inverted, s))
}

/// `from → pivot → to` on every date either leg has a rate (each leg carried forward).
fn cross_series(leg1: &[(Date, Decimal)], leg2: &[(Date, Decimal)]) -> Vec<(Date, Decimal)> {
    let (a, b) = (
        DailySeries::from_points(leg1.iter().copied()),
        DailySeries::from_points(leg2.iter().copied()),
    );
    let dates: BTreeSet<Date> = leg1.iter().chain(leg2).map(|(d, _)| *d).collect();
    dates
        .into_iter()
        .filter_map(|d| Some((d, a.on_or_before(d)? * b.on_or_before(d)?)))
        .collect()
}

/// Builds the rates from each of `currencies` to `base` out of loaded series.
fn build_fx(
    currencies: &BTreeSet<Currency>,
    base: Currency,
    series: &BTreeMap<Symbol, Vec<(Date, Decimal)>>,
) -> StoredFxRates {
    let mut fx = StoredFxRates::default();
    for &c in currencies.iter().filter(|c| **c != base) {
        if let Some((points, source)) = pair_series(c, base, series) {
            fx.insert(c, base, points, vec![source]);
            continue;
        }
        for pivot in [Currency::USD, Currency::EUR] {
            if pivot == c || pivot == base {
                continue;
            }
            if let (Some((l1, s1)), Some((l2, s2))) = (
                pair_series(c, pivot, series),
                pair_series(pivot, base, series),
            ) {
                fx.insert(c, base, cross_series(&l1, &l2), vec![s1, s2]);
                break;
            }
        }
    }
    fx
}

// ---------------------------------------------------------------- prices

/// A close as an exact decimal: the shortest decimal that reads back as the
/// same `f64` (187.25 stays 187.25). Fast for prices with up to 8 decimals.
pub fn close_to_decimal(value: f64) -> Option<Decimal> {
    if !value.is_finite() {
        return None;
    }
    let scaled = (value * 1e8).round();
    if scaled.abs() < 9.0e15 && scaled / 1e8 == value {
        // |scaled| < 2^53: the integer is exact.
        #[allow(clippy::cast_possible_truncation)]
        return Some(Decimal::new(scaled as i64, 8).normalize());
    }
    Decimal::from_f64(value)
}

/// Daily closes of `symbol` from `from` on, plus the latest intraday price as
/// the close of its day when it is newer than the last daily close.
pub async fn daily_closes(
    ctx: &AppContext,
    symbol: &Symbol,
    from: Option<Date>,
) -> AppResult<Vec<(Date, Decimal)>> {
    let bars = ctx
        .store
        .bars(
            symbol,
            Interval::D1,
            BarRange {
                from: from.map(pricetrack_domain::date_key),
                to: None,
                limit: Some(1_000_000),
            },
        )
        .await?;
    let mut points: Vec<(Date, Decimal)> = bars
        .iter()
        .filter_map(|b| Some((b.date(), close_to_decimal(b.close)?)))
        .collect();
    drop(bars);
    if let Some((day, close)) = latest_intraday(ctx, symbol).await? {
        match points.last_mut() {
            Some(last) if last.0 == day => last.1 = close,
            Some(last) if last.0 > day => {}
            _ => points.push((day, close)),
        }
    }
    Ok(points)
}

/// The close of the most recent intraday bar (any intraday interval) and its day.
async fn latest_intraday(ctx: &AppContext, symbol: &Symbol) -> AppResult<Option<(Date, Decimal)>> {
    let mut best: Option<(i64, Date, f64)> = None;
    for interval in [Interval::M1, Interval::M5, Interval::M15, Interval::H1] {
        let last = ctx
            .store
            .bars(
                symbol,
                interval,
                BarRange {
                    limit: Some(1),
                    ..BarRange::default()
                },
            )
            .await?;
        if let Some(bar) = last.last() {
            let end = bar.time.as_second() + bar.interval.seconds();
            if best.is_none_or(|(e, _, _)| end > e) {
                best = Some((end, bar.date(), bar.close));
            }
        }
    }
    Ok(best.and_then(|(_, day, close)| Some((day, close_to_decimal(close)?))))
}

// ---------------------------------------------------------------- scopes

/// What a figure is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// One of the user's portfolios.
    Portfolio(PortfolioId),
    /// All of the user's portfolios as one ledger: in `currency` (default: the
    /// user's base currency setting) under `method` (default: the user's
    /// cost-basis setting). Lot methods match lots within each portfolio; the
    /// average cost pools them.
    All {
        currency: Option<Currency>,
        method: Option<CostBasisMethod>,
    },
    /// Some of the user's portfolios (ids sorted, without duplicates; see
    /// [`Scope::group`]) combined like [`Scope::All`]. Any id that is not one
    /// of the user's portfolios makes the scope not found.
    Group {
        portfolios: Arc<[PortfolioId]>,
        currency: Option<Currency>,
        method: Option<CostBasisMethod>,
    },
}

impl Scope {
    /// A group of the user's portfolios (at least one; order and repeats do
    /// not matter).
    pub fn group(
        mut portfolios: Vec<PortfolioId>,
        currency: Option<Currency>,
        method: Option<CostBasisMethod>,
    ) -> AppResult<Self> {
        portfolios.sort_unstable();
        portfolios.dedup();
        if portfolios.is_empty() {
            return Err(AppError::invalid_field(
                "portfolios",
                "name at least one portfolio id",
            ));
        }
        Ok(Self::Group {
            portfolios: portfolios.into(),
            currency,
            method,
        })
    }

    /// Whether several portfolios are combined (all of them or a group).
    pub fn is_combined(&self) -> bool {
        !matches!(self, Self::Portfolio(_))
    }
}

/// Portfolio ids separated by commas (`1,3`), naming `field` when one is not an id.
pub fn parse_portfolio_ids(field: &str, raw: &str) -> AppResult<Vec<PortfolioId>> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<i64>().map(PortfolioId).map_err(|_| {
                AppError::invalid_field(
                    field,
                    format!("{s:?} is not a portfolio id (give ids separated by commas)"),
                )
            })
        })
        .collect()
}

/// Which portfolios a figure covers and how it is computed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScopeInfo {
    /// The portfolios combined (one for a single portfolio), by id and name.
    pub portfolios: Vec<(PortfolioId, String)>,
    pub base_currency: Currency,
    pub cost_basis_method: CostBasisMethod,
    pub evaluation_date: Date,
}

/// A computed figure and what it covers.
#[derive(Debug, Clone)]
pub struct Answer<T> {
    pub scope: ScopeInfo,
    pub value: Arc<T>,
}

struct ResolvedScope {
    portfolios: Vec<Portfolio>,
    base: Currency,
    method: CostBasisMethod,
    combined: bool,
}

async fn resolve(ctx: &AppContext, user: &User, scope: &Scope) -> AppResult<ResolvedScope> {
    match scope {
        Scope::Portfolio(id) => {
            let p = crate::portfolios::get_portfolio(ctx, user, *id).await?;
            Ok(ResolvedScope {
                base: p.base_currency,
                method: p.cost_basis_method,
                portfolios: vec![p],
                combined: false,
            })
        }
        Scope::All { currency, method }
        | Scope::Group {
            currency, method, ..
        } => {
            let (currency, method) = (*currency, *method);
            let mut portfolios = crate::portfolios::list_portfolios(ctx, user).await?;
            if let Scope::Group {
                portfolios: ids, ..
            } = scope
            {
                // Another user's portfolio is indistinguishable from a missing one.
                if let Some(missing) = ids
                    .iter()
                    .find(|id| !portfolios.iter().any(|p| p.id == **id))
                {
                    return Err(AppError::not_found(format!("portfolio {missing}")));
                }
                portfolios.retain(|p| ids.contains(&p.id));
            }
            let (base, default_method) = match (currency, method) {
                (Some(c), Some(m)) => (c, m),
                _ => {
                    let s = settings::get(ctx, user).await?;
                    (s.base_currency, s.cost_basis_method)
                }
            };
            Ok(ResolvedScope {
                portfolios,
                base: currency.unwrap_or(base),
                method: method.unwrap_or(default_method),
                combined: true,
            })
        }
    }
}

// ---------------------------------------------------------------- the cache

/// Limits of the analytics cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    /// Prepared portfolios kept (least recently used dropped first).
    pub max_entries: usize,
    /// A prepared portfolio older than this is loaded again, to pick up bars
    /// written by other processes.
    pub max_age: Duration,
    /// Heavy computations one user may run at once.
    pub per_user_computations: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_entries: 64,
            max_age: Duration::from_secs(300),
            per_user_computations: 2,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SlotId {
    owner: UserId,
    scope: Scope,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct PreparedKey {
    versions: Vec<(PortfolioId, i64)>,
    base: Currency,
    method: CostBasisMethod,
    evaluation_date: Date,
    combined: bool,
}

type Cached = Arc<dyn Any + Send + Sync>;

/// A portfolio prepared for questions, with the data it was built from.
struct Prepared {
    key: PreparedKey,
    info: ScopeInfo,
    built_at: Instant,
    /// The price-event sequence number when loading began.
    price_seq: u64,
    /// Every symbol whose bars the figures read: instruments and FX candidates.
    symbols: BTreeSet<Symbol>,
    load_from: Option<Date>,
    prices: Arc<PriceTable>,
    price_symbols: BTreeSet<Symbol>,
    fx_series: Arc<BTreeMap<Symbol, Vec<(Date, Decimal)>>>,
    instruments: Arc<[Instrument]>,
    /// The activities it was prepared from, in ledger order: the next build
    /// compares them to find the first changed date.
    activities: Arc<[Activity]>,
    /// What building it cost and reused.
    stats: BuildStats,
    outcome: Result<Arc<PortfolioAnalytics<'static>>, AnalyticsError>,
    results: Mutex<HashMap<String, Arc<OnceCell<Cached>>>>,
}

#[derive(Default)]
struct Slot {
    current: Mutex<Option<Arc<Prepared>>>,
    building: tokio::sync::Mutex<()>,
    last_used: AtomicU64,
    /// A background reload of an aged entry is under way.
    reloading: std::sync::atomic::AtomicBool,
}

#[derive(Default)]
struct PriceEvents {
    seq: u64,
    /// Sequence number of the last stored bar per symbol.
    by_symbol: HashMap<Symbol, u64>,
    /// Sequence number when events were lost (everything is stale since).
    lost: u64,
}

/// What the last preparation of a portfolio cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BuildStats {
    /// Reading the ledger, instruments, closes and FX rates from the store.
    pub load: Duration,
    /// Ordering the ledger and valuing the portfolio daily (the domain).
    pub prepare: Duration,
    /// Price and FX series read from the store.
    pub series_loaded: usize,
    /// Price and FX series reused from the previous preparation.
    pub series_reused: usize,
    pub transactions: usize,
    /// The daily valuation was reused up to this date and recomputed from it
    /// (the first date whose activities changed); `None`: computed in full.
    pub resumed_from: Option<Date>,
}

/// Prepared portfolios and their cached figures, shared by every request.
pub struct AnalyticsCache {
    config: CacheConfig,
    slots: Mutex<HashMap<SlotId, Arc<Slot>>>,
    users: Mutex<HashMap<UserId, Arc<Semaphore>>>,
    events: Mutex<(broadcast::Receiver<BarsStored>, PriceEvents)>,
    started: Instant,
    builds: AtomicU64,
    /// Background preparations ([`warm`]) not finished yet, and their end.
    warming: AtomicU64,
    warmed: tokio::sync::Notify,
    /// Users with a [`warm`] queued but not started.
    warm_queued: Mutex<std::collections::HashSet<UserId>>,
    /// One [`warm`] per user at a time.
    warm_serial: Mutex<HashMap<UserId, Arc<tokio::sync::Mutex<()>>>>,
    last_build: Mutex<Option<BuildStats>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl AnalyticsCache {
    /// A cache that learns about stored bars from `events`.
    pub fn new(events: broadcast::Receiver<BarsStored>, config: CacheConfig) -> Self {
        Self {
            config,
            slots: Mutex::new(HashMap::new()),
            users: Mutex::new(HashMap::new()),
            events: Mutex::new((events, PriceEvents::default())),
            started: Instant::now(),
            builds: AtomicU64::new(0),
            warming: AtomicU64::new(0),
            warmed: tokio::sync::Notify::new(),
            warm_queued: Mutex::new(std::collections::HashSet::new()),
            warm_serial: Mutex::new(HashMap::new()),
            last_build: Mutex::new(None),
        }
    }

    /// What the most recent preparation cost.
    pub fn last_build(&self) -> Option<BuildStats> {
        *lock(&self.last_build)
    }

    pub fn config(&self) -> CacheConfig {
        self.config
    }

    /// How many times a portfolio was prepared (loaded and valued) so far.
    pub fn builds(&self) -> u64 {
        self.builds.load(Ordering::Relaxed)
    }

    /// Drops every prepared portfolio.
    pub fn clear(&self) {
        lock(&self.slots).clear();
    }

    /// How the current preparation of one of `owner`'s portfolios was built.
    pub fn portfolio_build(&self, owner: UserId, portfolio: PortfolioId) -> Option<BuildStats> {
        let slot = lock(&self.slots)
            .get(&SlotId {
                owner,
                scope: Scope::Portfolio(portfolio),
            })
            .cloned()?;
        let current = lock(&slot.current).clone();
        current.map(|p| p.stats)
    }

    /// Waits until no background preparation ([`warm`]) is running.
    pub async fn settle(&self) {
        loop {
            let ended = self.warmed.notified();
            if self.warming.load(Ordering::SeqCst) == 0 {
                return;
            }
            ended.await;
        }
    }

    /// Reads the stored-bar announcements so far; returns the current sequence number.
    fn note_price_events(&self) -> u64 {
        let mut guard = lock(&self.events);
        let (rx, state) = &mut *guard;
        loop {
            match rx.try_recv() {
                Ok(event) => {
                    state.seq += 1;
                    state.by_symbol.insert(event.symbol, state.seq);
                }
                Err(broadcast::error::TryRecvError::Lagged(_)) => {
                    state.seq += 1;
                    state.lost = state.seq;
                }
                Err(_) => break,
            }
        }
        state.seq
    }

    /// Symbols of `prepared` whose bars changed after it was loaded; `None`
    /// when announcements were lost (everything is stale).
    fn stale_symbols(&self, prepared: &Prepared) -> Option<BTreeSet<Symbol>> {
        let guard = lock(&self.events);
        let state = &guard.1;
        if state.lost > prepared.price_seq {
            return None;
        }
        Some(
            prepared
                .symbols
                .iter()
                .filter(|s| {
                    state
                        .by_symbol
                        .get(*s)
                        .is_some_and(|&n| n > prepared.price_seq)
                })
                .cloned()
                .collect(),
        )
    }

    fn fresh(&self, prepared: &Prepared, key: &PreparedKey) -> bool {
        prepared.key == *key
            && prepared.built_at.elapsed() < self.config.max_age
            && self.stale_symbols(prepared).is_some_and(|s| s.is_empty())
    }

    /// Fresh but for its age: nothing this process knows of has changed.
    fn current_but_aged(&self, prepared: &Prepared, key: &PreparedKey) -> bool {
        prepared.key == *key && self.stale_symbols(prepared).is_some_and(|s| s.is_empty())
    }

    fn slot(&self, id: SlotId) -> Arc<Slot> {
        let mut slots = lock(&self.slots);
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        if let Some(slot) = slots.get(&id) {
            slot.last_used.store(now, Ordering::Relaxed);
            return Arc::clone(slot);
        }
        while slots.len() >= self.config.max_entries.max(1) {
            let Some(oldest) = slots
                .iter()
                .min_by_key(|(_, s)| s.last_used.load(Ordering::Relaxed))
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            slots.remove(&oldest);
        }
        let slot = Arc::new(Slot::default());
        slot.last_used.store(now, Ordering::Relaxed);
        slots.insert(id, Arc::clone(&slot));
        slot
    }

    fn user_permits(&self, user: UserId) -> Arc<Semaphore> {
        Arc::clone(
            lock(&self.users).entry(user).or_insert_with(|| {
                Arc::new(Semaphore::new(self.config.per_user_computations.max(1)))
            }),
        )
    }
}

fn today(ctx: &AppContext) -> Date {
    ctx.clock.now().to_zoned(TimeZone::UTC).date()
}

fn blocking_failed(e: tokio::task::JoinError) -> AppError {
    // A panic inside a computation is a bug, not bad data: the store error
    // path logs it and answers with an opaque 5xx.
    AppError::Store(crate::ports::StoreError::backend(
        "analytics computation",
        e,
    ))
}

/// Prepares `user`'s portfolios in the background — each one, and all of them
/// combined — so that the next page or API request about them finds them
/// ready instead of loading and valuing them while it waits. Called after
/// every ledger change; failures are left for the request that meets them.
///
/// A burst of changes (a script recording transactions one by one) costs at
/// most one preparation under way and one queued per user: a change made
/// while one is queued is covered by it.
pub fn warm(ctx: &AppContext, user: &User) {
    let cache = &ctx.analytics;
    if !lock(&cache.warm_queued).insert(user.id) {
        return;
    }
    let running = WarmUp::start(cache);
    let (ctx, user) = (ctx.clone(), user.clone());
    tokio::spawn(async move {
        let _running = running;
        // One preparation per user at a time; leaving the queue only when
        // starting lets the changes made meanwhile queue the next one.
        let serial = lock(&ctx.analytics.warm_serial)
            .entry(user.id)
            .or_default()
            .clone();
        let _turn = serial.lock().await;
        lock(&ctx.analytics.warm_queued).remove(&user.id);
        warm_user(&ctx, &user).await;
    });
}

/// [`warm`] for every user, one after the other (at server start).
pub fn warm_everyone(ctx: &AppContext) {
    let running = WarmUp::start(&ctx.analytics);
    let ctx = ctx.clone();
    tokio::spawn(async move {
        let _running = running;
        match ctx.store.list_users().await {
            Ok(users) => {
                for user in users {
                    warm_user(&ctx, &user).await;
                }
            }
            Err(e) => tracing::debug!(error = %e, "analytics warm-up skipped"),
        }
    });
}

/// Reloads an aged slot in the background, once at a time per slot.
fn reload_in_background(ctx: &AppContext, user: &User, scope: Scope, slot: &Arc<Slot>) {
    if slot.reloading.swap(true, Ordering::SeqCst) {
        return;
    }
    let running = WarmUp::start(&ctx.analytics);
    let (ctx, user, slot) = (ctx.clone(), user.clone(), Arc::clone(slot));
    tokio::spawn(async move {
        let _running = running;
        if let Err(e) = prepared_or_aged(&ctx, &user, scope.clone(), Aged::Reload).await {
            tracing::debug!(user = %user.name, ?scope, error = %e, "reloading aged analytics failed");
        }
        slot.reloading.store(false, Ordering::SeqCst);
    });
}

/// Counts a background preparation as running until dropped.
struct WarmUp(Arc<AnalyticsCache>);

impl WarmUp {
    fn start(cache: &Arc<AnalyticsCache>) -> Self {
        cache.warming.fetch_add(1, Ordering::SeqCst);
        Self(Arc::clone(cache))
    }
}

impl Drop for WarmUp {
    fn drop(&mut self) {
        self.0.warming.fetch_sub(1, Ordering::SeqCst);
        self.0.warmed.notify_waiters();
    }
}

async fn warm_user(ctx: &AppContext, user: &User) {
    let portfolios = match crate::portfolios::list_portfolios(ctx, user).await {
        Ok(list) => list,
        Err(e) => {
            tracing::debug!(user = %user.name, error = %e, "analytics warm-up skipped");
            return;
        }
    };
    if portfolios.is_empty() {
        return;
    }
    let scopes = portfolios
        .iter()
        .map(|p| Scope::Portfolio(p.id))
        .chain([Scope::All {
            currency: None,
            method: None,
        }]);
    for scope in scopes {
        if let Err(e) = prepared(ctx, user, scope.clone()).await {
            tracing::debug!(user = %user.name, ?scope, error = %e, "analytics warm-up failed");
        }
    }
}

/// Computes (or returns the cached) answer to `query` about `scope`. `query`
/// names the question and its parameters; `compute` runs on the blocking pool.
pub async fn answer<T, F>(
    ctx: &AppContext,
    user: &User,
    scope: Scope,
    query: String,
    compute: F,
) -> AppResult<Answer<T>>
where
    T: Send + Sync + 'static,
    F: FnOnce(&PortfolioAnalytics<'static>) -> AnalyticsResult<T> + Send + 'static,
{
    let prepared = prepared(ctx, user, scope).await?;
    let analytics = match &prepared.outcome {
        Ok(a) => Arc::clone(a),
        Err(e) => return Err(explain_missing_rate(ctx, &prepared, e.clone().into()).await),
    };
    let cell = Arc::clone(
        lock(&prepared.results)
            .entry(query)
            .or_insert_with(|| Arc::new(OnceCell::new())),
    );
    let cache = &ctx.analytics;
    let value = cell
        .get_or_try_init(|| async {
            let permits = cache.user_permits(user.id);
            let _permit = permits.acquire_owned().await.map_err(|_| {
                AppError::Conflict("the analytics service is shutting down".to_owned())
            })?;
            let value = tokio::task::spawn_blocking(move || compute(&analytics))
                .await
                .map_err(blocking_failed)??;
            Ok::<Cached, AppError>(Arc::new(value))
        })
        .await;
    let value = match value {
        Ok(v) => v,
        Err(e) => return Err(explain_missing_rate(ctx, &prepared, e).await),
    };
    let value = Arc::clone(value)
        .downcast::<T>()
        .map_err(|_| AppError::Conflict("analytics cache type mismatch".to_owned()))?;
    Ok(Answer {
        scope: prepared.info.clone(),
        value,
    })
}

/// A missing rate whose pair instrument is stored but has no rates at all
/// says so: the pair was just added (perhaps automatically, see
/// [`crate::fx_pairs`]) and its history is still being fetched. A pair with
/// rates that merely start too late keeps the plain error.
async fn explain_missing_rate(ctx: &AppContext, prepared: &Prepared, e: AppError) -> AppError {
    let AppError::Analytics(AnalyticsError::MissingFxRate { from, to, date }) = &e else {
        return e;
    };
    let pair: Vec<Symbol> = [fx_symbol(*from, *to), fx_symbol(*to, *from)]
        .into_iter()
        .flatten()
        .collect();
    let has_rates = |s: &Symbol| prepared.fx_series.get(s).is_some_and(|v| !v.is_empty());
    if pair.iter().any(has_rates) {
        return e;
    }
    for symbol in pair {
        match ctx.store.get_instrument(&symbol).await {
            Ok(Some(_)) => {
                return AppError::Analytics(AnalyticsError::FxRatePending {
                    symbol,
                    date: *date,
                });
            }
            Ok(None) => {}
            // The plain error is still true; the lookup failing is logged.
            Err(err) => {
                tracing::warn!(error = %err, %symbol, "could not look up an FX pair");
                return e;
            }
        }
    }
    e
}

/// The prepared portfolio for `scope`, from the cache or built now.
async fn prepared(ctx: &AppContext, user: &User, scope: Scope) -> AppResult<Arc<Prepared>> {
    prepared_or_aged(ctx, user, scope, Aged::Serve).await
}

/// What to do with an entry that is current but older than `max_age`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aged {
    /// Answer from it and reload it in the background: an entry ages out only
    /// to pick up bars other processes wrote, which may as well arrive one
    /// request later than make this request wait for a full reload.
    Serve,
    /// Reload it now (the background reload itself).
    Reload,
}

async fn prepared_or_aged(
    ctx: &AppContext,
    user: &User,
    scope: Scope,
    aged: Aged,
) -> AppResult<Arc<Prepared>> {
    let cache = &ctx.analytics;
    let resolved = resolve(ctx, user, &scope).await?;
    let key = PreparedKey {
        versions: resolved
            .portfolios
            .iter()
            .map(|p| (p.id, p.ledger_version))
            .collect(),
        base: resolved.base,
        method: resolved.method,
        evaluation_date: today(ctx),
        combined: resolved.combined,
    };
    cache.note_price_events();
    // All portfolios with the user's defaults and with the same values named
    // explicitly are one entry (the API asks one way, the dashboard the other).
    let scope = match scope {
        Scope::All { .. } => Scope::All {
            currency: Some(resolved.base),
            method: Some(resolved.method),
        },
        Scope::Group { portfolios, .. } => Scope::Group {
            portfolios,
            currency: Some(resolved.base),
            method: Some(resolved.method),
        },
        one => one,
    };
    let slot = cache.slot(SlotId {
        owner: user.id,
        scope: scope.clone(),
    });
    if let Some(p) = lock(&slot.current).clone() {
        if cache.fresh(&p, &key) {
            return Ok(p);
        }
        if aged == Aged::Serve && cache.current_but_aged(&p, &key) {
            reload_in_background(ctx, user, scope.clone(), &slot);
            return Ok(p);
        }
    }
    // One build per slot at a time; the others wait for it and use its result.
    let _building = slot.building.lock().await;
    let previous = lock(&slot.current).clone();
    if let Some(p) = &previous {
        cache.note_price_events();
        if cache.fresh(p, &key) {
            return Ok(Arc::clone(p));
        }
    }
    let permits = cache.user_permits(user.id);
    let _permit = permits
        .acquire_owned()
        .await
        .map_err(|_| AppError::Conflict("the analytics service is shutting down".to_owned()))?;
    let built = Arc::new(build(ctx, resolved, key, previous.as_deref()).await?);
    cache.builds.fetch_add(1, Ordering::Relaxed);
    *lock(&slot.current) = Some(Arc::clone(&built));
    Ok(built)
}

/// Loads what changed since `previous` (everything without it) and prepares the portfolio.
async fn build(
    ctx: &AppContext,
    resolved: ResolvedScope,
    key: PreparedKey,
    previous: Option<&Prepared>,
) -> AppResult<Prepared> {
    let cache = &ctx.analytics;
    let started = Instant::now();
    let mut stats = BuildStats::default();
    let price_seq = cache.note_price_events();
    // Reuse the previous data unless it is too old, in another currency or
    // loaded from a later date than this ledger needs.
    let reusable =
        previous.filter(|p| p.built_at.elapsed() < cache.config.max_age && p.key.base == key.base);
    let stale = match reusable {
        Some(p) => cache.stale_symbols(p),
        None => None,
    };
    let reusable = reusable.filter(|_| stale.is_some());
    let stale = stale.unwrap_or_default();

    // The ledger (all portfolios combined in time order, each one's account).
    let mut dated: Vec<(jiff::Timestamp, usize, usize, Activity)> = Vec::new();
    let mut transactions_currencies: BTreeSet<Currency> = BTreeSet::new();
    let mut symbols: BTreeSet<Symbol> = BTreeSet::new();
    for (pi, p) in resolved.portfolios.iter().enumerate() {
        let ledger = ctx.store.ledger(p.id).await?;
        for (i, r) in ledger.into_iter().enumerate() {
            let tx: Transaction = r.transaction;
            transactions_currencies.insert(tx.currency);
            if let Some(s) = tx.symbol() {
                symbols.insert(s.clone());
            }
            let mut activity = Activity::from(&tx);
            if resolved.combined {
                activity.account = Some(p.name.clone());
            }
            dated.push((tx.time, pi, i, activity));
        }
    }
    dated.sort_by_key(|a| (a.0, a.1, a.2));
    let first = dated
        .first()
        .map(|(t, ..)| t.to_zoned(TimeZone::UTC).date());
    let load_from = first.and_then(|d| d.checked_sub(jiff::Span::new().days(10)).ok());
    let activities: Vec<Activity> = dated.into_iter().map(|(.., a)| a).collect();
    stats.transactions = activities.len();
    let reusable = reusable.filter(|p| match (p.load_from, load_from) {
        (Some(had), Some(need)) => had <= need,
        (None, _) => false,
        (Some(_), None) => true,
    });

    // Instruments (quote currency, kind, exchange) and daily closes: reuse
    // unchanged ones, load new and changed ones a few at a time.
    let known: HashMap<&Symbol, &Instrument> = reusable
        .map(|p| p.instruments.iter().map(|i| (&i.symbol, i)).collect())
        .unwrap_or_default();
    let mut price_symbols = reusable
        .map(|p| p.price_symbols.clone())
        .unwrap_or_default();
    let to_load: Vec<(Symbol, bool, bool)> = symbols
        .iter()
        .filter_map(|s| {
            let need_instrument = !known.contains_key(s);
            let need_series = stale.contains(s) || !price_symbols.contains(s);
            if !need_series {
                stats.series_reused += 1;
            }
            (need_instrument || need_series).then(|| (s.clone(), need_instrument, need_series))
        })
        .collect();
    let mut table: Option<PriceTable> = reusable.is_none().then(PriceTable::new);
    let mut loaded_instruments: HashMap<Symbol, Instrument> = HashMap::new();
    for_each_loaded(ctx, to_load, load_from, |s, instrument, points| {
        if let Some(i) = instrument {
            loaded_instruments.insert(s.clone(), i);
        }
        if let Some(points) = points {
            stats.series_loaded += 1;
            table
                .get_or_insert_with(|| {
                    reusable.map_or_else(PriceTable::new, |p| (*p.prices).clone())
                })
                .insert(s.clone(), points);
            price_symbols.insert(s);
        }
    })
    .await?;
    let instruments: Vec<Instrument> = symbols
        .iter()
        .filter_map(|s| {
            loaded_instruments
                .remove(s)
                .or_else(|| known.get(s).map(|i| (*i).clone()))
        })
        .collect();
    let prices = match (table, reusable) {
        (Some(t), _) => Arc::new(t),
        (None, Some(p)) => Arc::clone(&p.prices),
        (None, None) => Arc::new(PriceTable::new()),
    };

    // FX: every currency the ledger or its instruments use.
    let mut currencies = transactions_currencies;
    currencies.extend(instruments.iter().map(|i| i.currency));
    let fx_candidates: BTreeSet<Symbol> = currencies
        .iter()
        .filter(|c| **c != key.base)
        .flat_map(|c| fx_candidates(*c, key.base))
        .collect();
    let mut fx_series: BTreeMap<Symbol, Vec<(Date, Decimal)>> = BTreeMap::new();
    let mut fx_to_load = Vec::new();
    for s in &fx_candidates {
        let reused = reusable
            .filter(|_| !stale.contains(s))
            .and_then(|p| p.fx_series.get(s));
        match reused {
            Some(points) => {
                stats.series_reused += 1;
                fx_series.insert(s.clone(), points.clone());
            }
            None => fx_to_load.push((s.clone(), false, true)),
        }
    }
    // The valuation before the first changed date can be reused when the
    // prices and rates it was computed from are all the same.
    let same_market_data = stale.is_empty() && fx_to_load.is_empty();
    for_each_loaded(ctx, fx_to_load, load_from, |s, _, points| {
        stats.series_loaded += 1;
        fx_series.insert(s, points.unwrap_or_default());
    })
    .await?;
    let fx = Arc::new(build_fx(&currencies, key.base, &fx_series));

    let mut all_symbols = symbols;
    all_symbols.extend(fx_candidates);
    let instruments: Arc<[Instrument]> = instruments.into();
    let activities: Arc<[Activity]> = activities.into();
    let resume = reusable
        .filter(|p| same_market_data && p.key.evaluation_date == key.evaluation_date)
        .and_then(|p| {
            let previous = p.outcome.as_ref().ok()?;
            let changed_from = first_changed_date(&p.activities, &activities, key.evaluation_date)?;
            Some(ResumeFrom {
                previous: Arc::clone(previous),
                changed_from,
            })
        });
    stats.resumed_from = resume.as_ref().map(|r| r.changed_from);
    let input = SharedAnalyticsInput {
        activities: Arc::clone(&activities),
        resume,
        prices: Arc::clone(&prices),
        fx,
        instruments: Arc::clone(&instruments),
        base_currency: key.base,
        cost_basis_method: key.method,
        evaluation_date: key.evaluation_date,
        cash: CashTreatment::Auto,
    };
    stats.load = started.elapsed();
    let outcome = tokio::task::spawn_blocking(move || PortfolioAnalytics::from_shared(input))
        .await
        .map_err(blocking_failed)?
        .map(Arc::new);
    stats.prepare = started.elapsed().saturating_sub(stats.load);
    *lock(&cache.last_build) = Some(stats);
    tracing::debug!(?stats, "prepared a portfolio for analytics");
    Ok(Prepared {
        info: ScopeInfo {
            portfolios: resolved
                .portfolios
                .iter()
                .map(|p| (p.id, p.name.clone()))
                .collect(),
            base_currency: key.base,
            cost_basis_method: key.method,
            evaluation_date: key.evaluation_date,
        },
        key,
        built_at: Instant::now(),
        price_seq,
        symbols: all_symbols,
        load_from,
        prices,
        price_symbols,
        fx_series: Arc::new(fx_series),
        instruments,
        activities,
        stats,
        outcome,
        results: Mutex::new(HashMap::new()),
    })
}

/// The first date on which two ledgers (activities in ledger order) differ:
/// the valuation before it is the same for both. `None` when a split is
/// added, removed or changed — splits restate the activities before them —
/// so everything must be recomputed. Identical ledgers differ "after" the
/// evaluation date.
fn first_changed_date(old: &[Activity], new: &[Activity], evaluation_date: Date) -> Option<Date> {
    let splits = |list: &[Activity]| -> Vec<Activity> {
        list.iter()
            .filter(|a| matches!(a.kind, ActivityKind::Split { .. }))
            .cloned()
            .collect()
    };
    if splits(old) != splits(new) {
        return None;
    }
    let differs_at = old.iter().zip(new).position(|(a, b)| a != b);
    let index = differs_at.unwrap_or_else(|| old.len().min(new.len()));
    let date = [old.get(index), new.get(index)]
        .into_iter()
        .flatten()
        .map(|a| a.date)
        .min();
    Some(date.unwrap_or_else(|| evaluation_date.tomorrow().unwrap_or(evaluation_date)))
}

/// Series read from the store at once: enough to overlap the database's
/// latency, few enough to leave the other users' requests room.
const LOAD_CONCURRENCY: usize = 4;

/// Loads, for each `(symbol, instrument?, series?)`, the instrument record
/// and/or the daily closes, a few at a time, calling `each` as they arrive.
async fn for_each_loaded(
    ctx: &AppContext,
    work: Vec<(Symbol, bool, bool)>,
    from: Option<Date>,
    mut each: impl FnMut(Symbol, Option<Instrument>, Option<Vec<(Date, Decimal)>>),
) -> AppResult<()> {
    type Loaded = AppResult<(Symbol, Option<Instrument>, Option<Vec<(Date, Decimal)>>)>;
    let mut pending = work.into_iter();
    let mut tasks: tokio::task::JoinSet<Loaded> = tokio::task::JoinSet::new();
    let spawn = |tasks: &mut tokio::task::JoinSet<Loaded>,
                 (s, instrument, series): (Symbol, bool, bool)| {
        let ctx = ctx.clone();
        tasks.spawn(async move {
            let i = if instrument {
                ctx.store.get_instrument(&s).await?
            } else {
                None
            };
            let points = if series {
                Some(daily_closes(&ctx, &s, from).await?)
            } else {
                None
            };
            Ok((s, i, points))
        });
    };
    for item in pending.by_ref().take(LOAD_CONCURRENCY) {
        spawn(&mut tasks, item);
    }
    while let Some(done) = tasks.join_next().await {
        let (s, i, points) = done.map_err(blocking_failed)??;
        each(s, i, points);
        if let Some(item) = pending.next() {
            spawn(&mut tasks, item);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- the questions

/// Headline figures for a period (see [`PortfolioAnalytics::summary`]).
pub async fn summary(
    ctx: &AppContext,
    user: &User,
    scope: Scope,
    period: PeriodSpec,
) -> AppResult<Answer<PortfolioSummary>> {
    answer(ctx, user, scope, format!("summary {period:?}"), move |a| {
        a.summary(period)
    })
    .await
}

/// The headline figures of one holding over a period: its own activities
/// (trades, income, fees, taxes about it) valued without cash — see
/// [`PortfolioAnalytics::holding`]. Not found when the scope never held or
/// mentioned `symbol`.
pub async fn holding_summary(
    ctx: &AppContext,
    user: &User,
    scope: Scope,
    symbol: Symbol,
    period: PeriodSpec,
) -> AppResult<Answer<PortfolioSummary>> {
    let query = format!("holding summary {symbol} {period:?}");
    answer(ctx, user, scope, query, move |a| {
        a.holding_summary(&symbol, period)
    })
    .await
    .map_err(|e| match e {
        AppError::Analytics(AnalyticsError::UnknownSymbol(s)) => {
            AppError::not_found(format!("holding {s} in these portfolios"))
        }
        e => e,
    })
}

/// Value, invested cost, TWR and drawdown per day, week or month.
pub async fn performance(
    ctx: &AppContext,
    user: &User,
    scope: Scope,
    period: PeriodSpec,
    resolution: Resolution,
) -> AppResult<Answer<PerformanceSeries>> {
    answer(
        ctx,
        user,
        scope,
        format!("performance {period:?} {resolution:?}"),
        move |a| a.performance(period, resolution),
    )
    .await
}

/// Open positions and cash at the close of `at` (default: the evaluation date).
pub async fn holdings(
    ctx: &AppContext,
    user: &User,
    scope: Scope,
    at: Option<Date>,
) -> AppResult<Answer<HoldingsView>> {
    answer(ctx, user, scope, format!("holdings {at:?}"), move |a| {
        a.holdings(at)
    })
    .await
}

/// The value at the evaluation date grouped along one dimension.
pub async fn allocation(
    ctx: &AppContext,
    user: &User,
    scope: Scope,
    dimension: AllocationDimension,
) -> AppResult<Answer<Vec<AllocationSlice>>> {
    answer(
        ctx,
        user,
        scope,
        format!("allocation {dimension:?}"),
        move |a| a.allocation(dimension),
    )
    .await
}

/// Dividends and interest by month or year.
pub async fn income(
    ctx: &AppContext,
    user: &User,
    scope: Scope,
    granularity: Granularity,
    period: Option<PeriodSpec>,
) -> AppResult<Answer<Vec<IncomeBucket>>> {
    answer(
        ctx,
        user,
        scope,
        format!("income {granularity:?} {period:?}"),
        move |a| a.income(granularity, period),
    )
    .await
}

/// Units sold, matched to their purchases, with buy and sell dates.
pub async fn realized(
    ctx: &AppContext,
    user: &User,
    scope: Scope,
    period: Option<PeriodSpec>,
) -> AppResult<Answer<Vec<RealizedLot>>> {
    answer(ctx, user, scope, format!("realized {period:?}"), move |a| {
        a.realized(period)
    })
    .await
}

/// Each holding's gain over the period and its contribution to the return.
pub async fn contributions(
    ctx: &AppContext,
    user: &User,
    scope: Scope,
    period: PeriodSpec,
) -> AppResult<Answer<ContributionReport>> {
    answer(
        ctx,
        user,
        scope,
        format!("contributions {period:?}"),
        move |a| a.contributions(period),
    )
    .await
}

/// The year × month table of chained returns (TWR) over the period.
pub async fn returns_table(
    ctx: &AppContext,
    user: &User,
    scope: Scope,
    period: PeriodSpec,
) -> AppResult<Answer<Vec<pricetrack_domain::analytics::calendar_returns::YearReturns>>> {
    answer(ctx, user, scope, format!("returns {period:?}"), move |a| {
        a.returns_table(period)
    })
    .await
}

/// The portfolio's TWR beside the price return of the instrument `benchmark`
/// (any stored instrument: an index, an ETF…) over the same days.
pub async fn benchmark(
    ctx: &AppContext,
    user: &User,
    scope: Scope,
    period: PeriodSpec,
    resolution: Resolution,
    benchmark: &Symbol,
) -> AppResult<Answer<Vec<pricetrack_domain::analytics::calendar_returns::BenchmarkPoint>>> {
    crate::instruments::get_instrument(ctx, benchmark).await?;
    let closes = daily_closes(ctx, benchmark, None).await?;
    // The closes are part of the question: a new or corrected close is a new answer.
    let fingerprint: Decimal = closes.iter().map(|(_, c)| *c).sum();
    let last = closes.last().map(|(d, _)| *d);
    let query = format!(
        "benchmark {benchmark} {period:?} {resolution:?} {} {last:?} {fingerprint}",
        closes.len()
    );
    answer(ctx, user, scope, query, move |a| {
        a.benchmark(period, &closes, resolution)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn closes_become_their_shortest_decimal() {
        assert_eq!(close_to_decimal(187.25), Some(dec!(187.25)));
        assert_eq!(close_to_decimal(0.1), Some(dec!(0.1)));
        assert_eq!(close_to_decimal(1.0873), Some(dec!(1.0873)));
        assert_eq!(close_to_decimal(0.000123456789), Some(dec!(0.000123456789)));
        assert_eq!(close_to_decimal(f64::NAN), None);
        assert_eq!(close_to_decimal(12345678.5), Some(dec!(12345678.5)));
    }

    #[test]
    fn periods_parse_presets_and_custom_ranges_and_name_the_bad_field() {
        assert_eq!(
            parse_period(Some("ytd"), None, None, PeriodPreset::Max).unwrap(),
            PeriodSpec::Preset(PeriodPreset::YearToDate)
        );
        assert_eq!(
            parse_period(
                None,
                Some("2024-01-01"),
                Some("2024-03-31"),
                PeriodPreset::Max
            )
            .unwrap(),
            PeriodSpec::Custom {
                from: d("2024-01-01"),
                to: d("2024-03-31")
            }
        );
        assert_eq!(
            parse_period(None, None, None, PeriodPreset::Max).unwrap(),
            PeriodSpec::Preset(PeriodPreset::Max)
        );
        let field = |r: AppResult<PeriodSpec>| match r {
            Err(AppError::Invalid(e)) => e[0].field.clone().unwrap(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(parse_period(Some("2Q"), None, None, PeriodPreset::Max)),
            "period"
        );
        assert_eq!(
            field(parse_period(
                None,
                Some("2024-13-01"),
                Some("2024-01-01"),
                PeriodPreset::Max
            )),
            "from"
        );
        assert_eq!(
            field(parse_period(
                None,
                Some("2024-01-01"),
                None,
                PeriodPreset::Max
            )),
            "to"
        );
        assert_eq!(
            field(parse_period(
                None,
                Some("2024-02-01"),
                Some("2024-01-01"),
                PeriodPreset::Max
            )),
            "from"
        );
        assert!(parse_resolution(Some("1wk")).is_ok());
        assert!(parse_resolution(Some("1h")).is_err());
        assert_eq!(
            parse_cost_basis_method("m", "FIFO").unwrap(),
            CostBasisMethod::Fifo
        );
        assert!(parse_cost_basis_method("m", "random").is_err());
    }

    #[test]
    fn fx_rates_come_direct_inverted_or_crossed_through_usd() {
        let mut series = BTreeMap::new();
        series.insert(
            fx_symbol(Currency::EUR, Currency::USD).unwrap(),
            vec![(d("2024-01-02"), dec!(1.10)), (d("2024-01-05"), dec!(1.08))],
        );
        series.insert(
            fx_symbol(Currency::USD, Currency::CHF).unwrap(),
            vec![(d("2024-01-02"), dec!(0.85))],
        );
        let currencies = BTreeSet::from([Currency::EUR, Currency::CHF, Currency::GBP]);
        // Base USD: EUR direct, CHF inverted.
        let fx = build_fx(&currencies, Currency::USD, &series);
        assert_eq!(
            fx.rate(Currency::EUR, Currency::USD, d("2024-01-04")),
            Some(dec!(1.10))
        );
        assert_eq!(
            fx.rate(Currency::USD, Currency::EUR, d("2024-01-06")),
            Some(Decimal::ONE / dec!(1.08))
        );
        assert_eq!(
            fx.rate(Currency::CHF, Currency::USD, d("2024-01-02")),
            Some(Decimal::ONE / dec!(0.85))
        );
        assert_eq!(fx.rate(Currency::EUR, Currency::USD, d("2024-01-01")), None);
        assert_eq!(fx.rate(Currency::GBP, Currency::USD, d("2024-01-02")), None);
        // Base CHF: EUR crossed through USD.
        let fx = build_fx(&currencies, Currency::CHF, &series);
        assert_eq!(
            fx.rate(Currency::EUR, Currency::CHF, d("2024-01-05")),
            Some(dec!(1.08) * dec!(0.85))
        );
        assert_eq!(
            fx.sources()[&(Currency::EUR, Currency::CHF)].len(),
            2,
            "{:?}",
            fx.sources()
        );
    }

    #[test]
    fn prepared_portfolios_can_be_shared_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<PortfolioAnalytics<'static>>();
        assert_send_sync::<AnalyticsCache>();
    }
}
