//! Portfolios, their analytics, transactions and CSV import.

use super::{
    Layout, Session, UiError, UiResult, chart, format,
    pages::{form_errors, user_settings},
    render, views,
};
use crate::http::{
    AppState,
    dto::{DecimalInput, TransactionIn, TransactionOut},
};
use askama::Template;
use axum::{
    Form,
    extract::{FromRequest, Multipart, Path, Query, Request, State},
    http::{StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
};
use jiff::{civil::Date, tz::TimeZone};
use pricetrack_app::{
    AppContext, AppError, AppResult,
    analytics::{
        HoldingsView, PerformanceSeries, PortfolioAnalytics, PortfolioSummary, RealizedLot,
    },
    bars::{self, Quote},
    imports::{self, GenericMapping, ImportFormat, ImportOptions},
    portfolio_analytics::{self, Scope},
    portfolios,
    ports::{BarRange, PageRequest, Portfolio, PortfolioDraft, TransactionFilter, User},
};
use pricetrack_domain::{
    Currency, PortfolioId, Symbol, TransactionId, TransactionType,
    analytics::{
        AnalyticsResult, PeriodPreset, PeriodSpec, calendar_returns::Resolution,
        calendar_returns::YearReturns, contribution::ContributionReport, income::Granularity,
        income::IncomeBucket,
    },
};
use rust_decimal::{Decimal, prelude::ToPrimitive};
use serde::Deserialize;
use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

/// The period buttons of value charts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeriodChoice(PeriodPreset);

impl PeriodChoice {
    pub const DASHBOARD: [PeriodChoice; 7] = [
        PeriodChoice(PeriodPreset::OneDay),
        PeriodChoice(PeriodPreset::OneWeek),
        PeriodChoice(PeriodPreset::OneMonth),
        PeriodChoice(PeriodPreset::YearToDate),
        PeriodChoice(PeriodPreset::OneYear),
        PeriodChoice(PeriodPreset::FiveYears),
        PeriodChoice(PeriodPreset::Max),
    ];

    pub fn parse(s: &str) -> Self {
        Self::DASHBOARD
            .into_iter()
            .find(|p| p.as_str() == s)
            .unwrap_or(PeriodChoice(PeriodPreset::OneMonth))
    }

    pub fn as_str(self) -> &'static str {
        match self.0 {
            PeriodPreset::OneDay => "1D",
            PeriodPreset::OneWeek => "1W",
            PeriodPreset::OneMonth => "1M",
            PeriodPreset::YearToDate => "YTD",
            PeriodPreset::OneYear => "1Y",
            PeriodPreset::FiveYears => "5Y",
            PeriodPreset::Max => "MAX",
            _ => "1M",
        }
    }

    pub fn label(self) -> &'static str {
        match self.0 {
            PeriodPreset::OneDay => "today",
            PeriodPreset::OneWeek => "past week",
            PeriodPreset::OneMonth => "past month",
            PeriodPreset::YearToDate => "year to date",
            PeriodPreset::OneYear => "past year",
            PeriodPreset::FiveYears => "past five years",
            _ => "since inception",
        }
    }
}

fn day_seconds(d: Date) -> i64 {
    pricetrack_domain::date_key(d).as_second()
}

fn f(d: rust_decimal::Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

/// A portfolio's headline value and its value/invested series over a period.
#[derive(Default)]
pub struct Figures {
    pub total_value: f64,
    pub day_change: f64,
    /// (day start, value, invested)
    pub series: Vec<(i64, f64, f64)>,
    /// The open positions with their latest quotes (already read for today's
    /// change), for top movers and data banners.
    pub held: Vec<HeldQuote>,
    /// The series is of intraday points (1D with intraday prices), not days.
    pub intraday: bool,
}

/// An open position's instrument and its latest quote, if it has one.
#[derive(Debug, Clone)]
pub struct HeldQuote {
    pub symbol: Symbol,
    pub quote: Option<Quote>,
    /// Priced by the demo provider.
    pub simulated: bool,
    /// Priced by hand: never stale.
    pub hand_priced: bool,
}

impl HeldQuote {
    pub fn flags(&self, ctx: &AppContext) -> views::DataFlags {
        views::DataFlags {
            symbol: self.symbol.to_string(),
            simulated: self.simulated,
            stale: self
                .quote
                .as_ref()
                .is_some_and(|q| views::is_stale(ctx, q, self.hand_priced)),
        }
    }
}

/// The period-independent part of every portfolio view, computed once on the
/// blocking pool from the shared prepared portfolio of
/// [`portfolio_analytics`] and cached beside it: repeated page views, the
/// portfolios list and the dashboard reuse it until the ledger or a price
/// changes.
struct Overview {
    empty: bool,
    demo: bool,
    /// One daily performance series since inception; periods are slices of it.
    max: PerformanceSeries,
    /// Where each period button's period starts.
    starts: Vec<(PeriodPreset, Date)>,
    /// Open positions: symbol, quantity, quote currency.
    positions: Vec<(Symbol, Decimal, Currency)>,
    kinds: HashMap<Symbol, &'static str>,
    /// Instruments priced by the demo provider, and by hand.
    simulated: HashSet<Symbol>,
    hand_priced: HashSet<Symbol>,
}

fn overview_of(pa: &PortfolioAnalytics<'_>) -> AnalyticsResult<Overview> {
    let max = pa.performance(PeriodSpec::Preset(PeriodPreset::Max), Resolution::Day)?;
    let starts = PeriodChoice::DASHBOARD
        .iter()
        .chain(&[PeriodChoice(PeriodPreset::YearToDate)])
        .filter_map(|c| Some((c.0, pa.period(PeriodSpec::Preset(c.0)).ok()?.start)))
        .collect();
    let holdings = pa.holdings(None)?;
    let positions = holdings
        .holdings
        .iter()
        .filter(|h| !h.quantity.is_zero())
        .map(|h| (h.symbol.clone(), h.quantity, h.quote_currency))
        .collect();
    Ok(Overview {
        empty: pa.is_empty(),
        demo: pa
            .instruments()
            .iter()
            .any(|i| i.provider.as_str() == "demo"),
        max,
        starts,
        positions,
        kinds: pa
            .instruments()
            .iter()
            .map(|i| (i.symbol.clone(), i.kind.as_str()))
            .collect(),
        simulated: instruments_by_provider(pa, "demo"),
        hand_priced: instruments_by_provider(pa, "manual"),
    })
}

fn instruments_by_provider(pa: &PortfolioAnalytics<'_>, provider: &str) -> HashSet<Symbol> {
    pa.instruments()
        .iter()
        .filter(|i| i.provider.as_str() == provider)
        .map(|i| i.symbol.clone())
        .collect()
}

/// The open positions with their quotes.
fn held_quotes(o: &Overview, quotes: &HashMap<Symbol, Quote>) -> Vec<HeldQuote> {
    o.positions
        .iter()
        .map(|(symbol, _, _)| HeldQuote {
            symbol: symbol.clone(),
            quote: quotes.get(symbol).cloned(),
            simulated: o.simulated.contains(symbol),
            hand_priced: o.hand_priced.contains(symbol),
        })
        .collect()
}

/// The overview of `scope`, from the analytics cache; an analytics error (a
/// missing FX rate, say) is returned as its message for the page to show.
async fn overview(
    ctx: &AppContext,
    user: &User,
    scope: Scope,
) -> AppResult<Result<Arc<Overview>, String>> {
    match portfolio_analytics::answer(ctx, user, scope, "ui overview".to_owned(), overview_of).await
    {
        Ok(a) => Ok(Ok(a.value)),
        Err(AppError::Analytics(e)) => Ok(Err(e.to_string())),
        Err(e) => Err(e),
    }
}

/// Latest quotes of the open positions (for today's change per holding).
async fn position_quotes(ctx: &AppContext, o: &Overview) -> HashMap<Symbol, Quote> {
    let mut quotes = HashMap::new();
    for (symbol, _, _) in &o.positions {
        if let Ok(q) = bars::quote(ctx, symbol).await {
            quotes.insert(symbol.clone(), q);
        }
    }
    quotes
}

/// Headline figures for `period`, sliced from the overview's daily series.
fn figures_of(
    o: &Overview,
    quotes: &HashMap<Symbol, Quote>,
    period: PeriodChoice,
    base: Currency,
) -> Figures {
    let start = o
        .starts
        .iter()
        .find(|(p, _)| *p == period.0)
        .map(|(_, d)| *d);
    let total_value = o.max.points.last().map_or(0.0, |p| f(p.value));
    let mut day_change = match o.max.points.as_slice() {
        [.., a, b] => f(b.value) - f(a.value),
        _ => 0.0,
    };
    // Today's change is the move since each holding's previous close (the
    // daily valuation shows none on a weekend), when all quote in the base.
    if o.positions.iter().all(|(_, _, c)| *c == base) {
        day_change = o
            .positions
            .iter()
            .filter_map(|(s, q, _)| Some(f(*q) * quotes.get(s)?.change?))
            .sum();
    }
    let series = o
        .max
        .points
        .iter()
        .filter(|p| start.is_none_or(|s| p.date >= s))
        .map(|p| (day_seconds(p.date), f(p.value), f(p.total_investment)))
        .collect();
    Figures {
        total_value,
        day_change,
        series,
        held: held_quotes(o, quotes),
        intraday: false,
    }
}

/// Figures for `period`; the 1D series is drawn from intraday prices where
/// the holdings have them.
async fn figures_for(
    ctx: &AppContext,
    o: &Overview,
    quotes: &HashMap<Symbol, Quote>,
    period: PeriodChoice,
    base: Currency,
) -> Figures {
    let mut fg = figures_of(o, quotes, period, base);
    if period.0 == PeriodPreset::OneDay
        && let Some(series) = intraday_series(ctx, o, quotes, base, fg.total_value).await
    {
        fg.series = series;
        fg.intraday = true;
    }
    fg
}

/// One holding through the day: quantity, its price before its first bar, its
/// bars as (time, close).
type IntradayLine = (f64, f64, Vec<(i64, f64)>);

/// The value through the latest trading day from the holdings' intraday bars:
/// each holding at its last price at each time (its previous close before its
/// first bar of the day), everything else (cash) as now. `None` when no
/// holding has intraday prices that day, or some quote in another currency
/// than `base` (that would need intraday FX rates).
async fn intraday_series(
    ctx: &AppContext,
    o: &Overview,
    quotes: &HashMap<Symbol, Quote>,
    base: Currency,
    total_value: f64,
) -> Option<Vec<(i64, f64, f64)>> {
    if o.positions.iter().any(|(_, _, c)| *c != base) {
        return None;
    }
    let day = quotes
        .values()
        .filter(|q| !q.interval.is_date_keyed())
        .map(|q| q.time.to_zoned(TimeZone::UTC).date())
        .max()?;
    let day_start = pricetrack_domain::date_key(day);
    let mut held_now = 0.0;
    let mut lines: Vec<IntradayLine> = Vec::new();
    for (symbol, quantity, _) in &o.positions {
        let q = quotes.get(symbol)?;
        let qty = f(*quantity);
        held_now += qty * q.price;
        let bars = if q.interval.is_date_keyed() {
            Vec::new()
        } else {
            ctx.store
                .bars(
                    symbol,
                    q.interval,
                    BarRange {
                        from: Some(day_start),
                        to: None,
                        limit: Some(5_000),
                    },
                )
                .await
                .ok()?
                .into_iter()
                .map(|b| (b.time.as_second(), b.close))
                .collect()
        };
        let before = match bars.first() {
            Some(_) => q.previous_close.unwrap_or(bars[0].1),
            None => q.price,
        };
        lines.push((qty, before, bars));
    }
    let mut times: Vec<i64> = lines
        .iter()
        .flat_map(|(_, _, bars)| bars.iter().map(|(t, _)| *t))
        .collect();
    times.sort_unstable();
    times.dedup();
    if times.len() < 2 {
        return None;
    }
    let rest = total_value - held_now;
    let invested = o.max.points.last().map_or(0.0, |p| f(p.total_investment));
    let mut cursors = vec![0usize; lines.len()];
    let mut out = Vec::with_capacity(times.len());
    for t in times {
        let mut value = rest;
        for ((qty, before, bars), cursor) in lines.iter().zip(cursors.iter_mut()) {
            while *cursor < bars.len() && bars[*cursor].0 <= t {
                *cursor += 1;
            }
            let price = if *cursor == 0 {
                *before
            } else {
                bars[*cursor - 1].1
            };
            value += qty * price;
        }
        out.push((t, value, invested));
    }
    Some(out)
}

/// Figures of `scope` in its base currency, or the reason they cannot be computed.
pub async fn portfolio_figures(
    ctx: &AppContext,
    user: &User,
    scope: Scope,
    base: Currency,
    period: PeriodChoice,
) -> AppResult<Result<Figures, String>> {
    let o = match overview(ctx, user, scope).await? {
        Ok(o) => o,
        Err(e) => return Ok(Err(e)),
    };
    if o.empty {
        return Ok(Ok(Figures::default()));
    }
    let quotes = position_quotes(ctx, &o).await;
    Ok(Ok(figures_for(ctx, &o, &quotes, period, base).await))
}

// ---------------------------------------------------------------- list

#[derive(Template)]
#[template(path = "portfolios.html")]
struct PortfoliosPage {
    layout: Layout,
    rows: Vec<PortfolioRow>,
    name: String,
    base_currency: String,
    errors: HashMap<String, String>,
}

struct PortfolioRow {
    id: i64,
    name: String,
    base: String,
    value: String,
    day: String,
    day_dir: &'static str,
    note: Option<String>,
}

async fn portfolios_page(
    state: &AppState,
    s: &Session,
    name: String,
    base_currency: String,
    errors: HashMap<String, String>,
) -> UiResult<Response> {
    let ctx = &state.ctx;
    let settings = user_settings(state, s).await?;
    let mut rows = Vec::new();
    for p in portfolios::list_portfolios(ctx, s.user()).await? {
        let cur = p.base_currency.as_str();
        let one_day = PeriodChoice(PeriodPreset::OneDay);
        let scope = Scope::Portfolio(p.id);
        let (value, day, day_dir, note) =
            match portfolio_figures(ctx, s.user(), scope, p.base_currency, one_day).await? {
                Ok(fg) => (
                    format::money_f(fg.total_value, cur),
                    format::signed_money_f(fg.day_change, cur),
                    format::direction(fg.day_change),
                    None,
                ),
                Err(e) => ("—".to_owned(), "—".to_owned(), "flat", Some(e)),
            };
        rows.push(PortfolioRow {
            id: p.id.0,
            name: p.name,
            base: cur.to_owned(),
            value,
            day,
            day_dir,
            note,
        });
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut r = render(&PortfoliosPage {
        layout: Layout::new(s, settings.theme, "Portfolios", "portfolios"),
        rows,
        name,
        base_currency: if base_currency.is_empty() {
            settings.base_currency.to_string()
        } else {
            base_currency
        },
        errors,
    });
    *r.status_mut() = status;
    Ok(r)
}

pub async fn portfolios(State(state): State<AppState>, s: Session) -> UiResult<Response> {
    portfolios_page(&state, &s, String::new(), String::new(), HashMap::new()).await
}

#[derive(Deserialize)]
pub struct PortfolioForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    base_currency: String,
}

fn draft(f: &PortfolioForm) -> AppResult<PortfolioDraft> {
    let base_currency = Currency::parse(f.base_currency.trim().to_uppercase().as_str())
        .map_err(|e| AppError::invalid_field("base_currency", e.to_string()))?;
    Ok(PortfolioDraft {
        name: f.name.clone(),
        base_currency,
    })
}

pub async fn create_portfolio(
    State(state): State<AppState>,
    s: Session,
    Form(f): Form<PortfolioForm>,
) -> UiResult<Response> {
    let result = match draft(&f) {
        Ok(d) => portfolios::create_portfolio(&state.ctx, s.user(), d).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(p) => Ok(Redirect::to(&format!("/portfolios/{}", p.id)).into_response()),
        Err(e) => {
            let errors = form_errors(e)?;
            portfolios_page(&state, &s, f.name, f.base_currency, errors).await
        }
    }
}

pub async fn update_portfolio(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<i64>,
    Form(f): Form<PortfolioForm>,
) -> UiResult<Response> {
    let d = draft(&f)?;
    portfolios::update_portfolio(&state.ctx, s.user(), PortfolioId(id), d).await?;
    Ok(Redirect::to(&format!("/portfolios/{id}")).into_response())
}

pub async fn delete_portfolio(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<i64>,
) -> UiResult<Response> {
    portfolios::delete_portfolio(&state.ctx, s.user(), PortfolioId(id)).await?;
    Ok(Redirect::to("/portfolios").into_response())
}

// ---------------------------------------------------------------- one portfolio

/// One heatmap row: year, (cell value, css class) per month, year total, its class.
type HeatmapRow = (i16, Vec<(String, String)>, String, String);

#[derive(Template)]
#[template(path = "portfolio.html")]
struct PortfolioPage {
    layout: Layout,
    p: Portfolio,
    method: &'static str,
    note: Option<String>,
    empty: bool,
    cards: Vec<Card>,
    periods: Vec<(&'static str, bool)>,
    period: &'static str,
    chart: String,
    holdings: Vec<HoldingRow>,
    allocation: String,
    allocation_kind: String,
    returns: Vec<(&'static str, String, &'static str)>,
    heatmap: Vec<HeatmapRow>,
    income: Vec<(String, String, String)>,
    realized_total: String,
    realized: Vec<[String; 6]>,
    top: Vec<(String, String, String, &'static str)>,
    bottom: Vec<(String, String, String, &'static str)>,
}

struct Card {
    label: &'static str,
    value: String,
    sub: String,
    dir: &'static str,
    help: &'static str,
}

struct HoldingRow {
    symbol: String,
    quantity: String,
    quantity_sort: f64,
    avg_cost: String,
    avg_sort: f64,
    price: String,
    price_sort: f64,
    value: String,
    value_sort: f64,
    day: String,
    day_sort: f64,
    day_dir: &'static str,
    gain: String,
    gain_sort: f64,
    gain_pct: String,
    gain_pct_sort: f64,
    gain_dir: &'static str,
    weight: String,
    weight_sort: f64,
}

#[derive(Deserialize, Default)]
pub struct PortfolioQuery {
    period: Option<String>,
    /// Chart fragments: the width the chart's container has (small screens).
    width: Option<u32>,
}

/// A bar per slice, with its data table; `key` names the slices' column.
fn allocation_svg(
    id: &str,
    title: &str,
    key: &str,
    slices: &[(String, f64, f64)],
    currency: &str,
) -> String {
    use std::fmt::Write as _;
    if slices.is_empty() {
        return String::new();
    }
    let row_h = 26.0;
    let height = slices.len() as f64 * row_h + 8.0;
    let mut out = format!(
        "<svg class=\"chart alloc\" id=\"{id}\" viewBox=\"0 0 420 {height:.0}\" role=\"img\" aria-labelledby=\"{id}-t\"><title id=\"{id}-t\">{}</title>",
        format::escape(title)
    );
    for (i, (key, value, weight)) in slices.iter().enumerate() {
        let y = 4.0 + i as f64 * row_h;
        let w = (weight * 200.0).clamp(1.0, 200.0);
        let _ = write!(
            out,
            "<text class=\"label\" x=\"0\" y=\"{:.1}\">{}</text><rect class=\"bar c{}\" x=\"110\" y=\"{:.1}\" width=\"{w:.1}\" height=\"16\" rx=\"2\"/><text class=\"value\" x=\"{:.1}\" y=\"{:.1}\">{}% · {}</text>",
            y + 13.0,
            format::escape(key),
            i % 6,
            y + 1.0,
            116.0 + w,
            y + 13.0,
            format::group(weight * 100.0, 1),
            format::escape(&format::money_f(*value, currency)),
        );
    }
    out.push_str("</svg>");
    let table = views::DataTable {
        summary: format!("{title}: data table"),
        head: vec![key.to_owned(), "Weight".to_owned(), "Value".to_owned()],
        rows: slices
            .iter()
            .map(|(key, value, weight)| {
                vec![
                    key.clone(),
                    format!("{}%", format::group(weight * 100.0, 1)),
                    format::money_f(*value, currency),
                ]
            })
            .collect(),
    };
    out + &table.html()
}

const VALUE_CHART_WIDTH: u32 = 760;

fn value_chart(
    series: &[(i64, f64, f64)],
    currency: &str,
    period: PeriodChoice,
    width: u32,
    intraday: bool,
) -> String {
    let value: Vec<chart::Point> = series
        .iter()
        .map(|(t, v, _)| chart::Point { t: *t, v: *v })
        .collect();
    let invested: Vec<chart::Point> = series
        .iter()
        .map(|(t, _, i)| chart::Point { t: *t, v: *i })
        .collect();
    let table = views::DataTable::of_lines(
        &[("Value", &value), ("Invested", &invested)],
        currency,
        intraday,
    );
    let svg = chart::line_chart(
        &[
            ("primary", "Value", value),
            ("secondary", "Invested", invested),
        ],
        &chart::ChartSpec {
            id: "value-chart",
            width,
            height: 260,
            title: &format!("Value and invested capital, {}", period.label()),
            currency,
            mode: chart::Mode::Line,
            volume: false,
            intraday,
        },
    );
    svg + &table.html()
}

pub async fn portfolio_chart(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<i64>,
    Query(q): Query<PortfolioQuery>,
) -> UiResult<Response> {
    let ctx = &state.ctx;
    let p = portfolios::get_portfolio(ctx, s.user(), PortfolioId(id)).await?;
    let period = PeriodChoice::parse(q.period.as_deref().unwrap_or("1Y"));
    let scope = Scope::Portfolio(p.id);
    let svg = match portfolio_figures(ctx, s.user(), scope, p.base_currency, period).await? {
        Ok(fg) => value_chart(
            &fg.series,
            p.base_currency.as_str(),
            period,
            chart::fitted_width(q.width, VALUE_CHART_WIDTH),
            fg.intraday,
        ),
        Err(_) => String::new(),
    };
    Ok(Html(svg).into_response())
}

fn heat_class(v: Option<f64>) -> String {
    match v {
        None => "heat-none".to_owned(),
        Some(v) => {
            let level = ((v.abs() * 100.0) / 2.5).ceil().clamp(1.0, 4.0) as u8;
            if v >= 0.0 {
                format!("heat-up{level}")
            } else {
                format!("heat-down{level}")
            }
        }
    }
}

pub async fn portfolio(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<i64>,
    Query(q): Query<PortfolioQuery>,
) -> UiResult<Response> {
    let period = PeriodChoice::parse(q.period.as_deref().unwrap_or("1Y"));
    let page = portfolio_view(&state, &s, id, period).await?;
    Ok(render(&page))
}

/// The parts of the portfolio page that follow prices (headline cards,
/// holdings, allocation), re-fetched by the script when a bar of a holding arrives.
#[derive(Template)]
#[template(path = "portfolio_live.html")]
struct PortfolioLive {
    p: Portfolio,
    period: &'static str,
    cards: Vec<Card>,
    holdings: Vec<HoldingRow>,
    allocation: String,
    allocation_kind: String,
}

pub async fn portfolio_live(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<i64>,
    Query(q): Query<PortfolioQuery>,
) -> UiResult<Response> {
    let period = PeriodChoice::parse(q.period.as_deref().unwrap_or("1Y"));
    let page = portfolio_view(&state, &s, id, period).await?;
    Ok(render(&PortfolioLive {
        p: page.p,
        period: page.period,
        cards: page.cards,
        holdings: page.holdings,
        allocation: page.allocation,
        allocation_kind: page.allocation_kind,
    }))
}

async fn portfolio_view(
    state: &AppState,
    s: &Session,
    id: i64,
    period: PeriodChoice,
) -> UiResult<PortfolioPage> {
    let ctx = &state.ctx;
    let p = portfolios::get_portfolio(ctx, s.user(), PortfolioId(id)).await?;
    let settings = user_settings(state, s).await?;
    let cur = p.base_currency.as_str().to_owned();
    let mut layout = Layout::new(s, settings.theme, p.name.clone(), "portfolios");
    let scope = Scope::Portfolio(p.id);
    let mut page = PortfolioPage {
        layout: Layout::anonymous(""),
        method: pricetrack_app::settings::method_as_str(p.cost_basis_method),
        note: None,
        empty: true,
        cards: Vec::new(),
        periods: PeriodChoice::DASHBOARD
            .iter()
            .map(|x| (x.as_str(), *x == period))
            .collect(),
        period: period.as_str(),
        chart: String::new(),
        holdings: Vec::new(),
        allocation: String::new(),
        allocation_kind: String::new(),
        returns: Vec::new(),
        heatmap: Vec::new(),
        income: Vec::new(),
        realized_total: String::new(),
        realized: Vec::new(),
        top: Vec::new(),
        bottom: Vec::new(),
        p: p.clone(),
    };
    match overview(ctx, s.user(), scope.clone()).await? {
        Err(e) => {
            page.empty = false;
            page.note = Some(e);
        }
        Ok(o) => {
            page.empty = o.empty;
            layout.stream = o
                .positions
                .iter()
                .map(|(s, _, _)| s.to_string())
                .collect::<Vec<_>>()
                .join(",");
            let quotes = if o.empty {
                HashMap::new()
            } else {
                position_quotes(ctx, &o).await
            };
            let held = held_quotes(&o, &quotes);
            layout.banners = views::banners_for(held.iter().map(|h| h.flags(ctx)));
            if o.demo && !held.iter().any(|h| h.simulated) {
                layout.banners.push(
                    "Simulated data: some instruments of this portfolio are priced by the demo provider."
                        .to_owned(),
                );
            }
            if !o.empty {
                let details = portfolio_analytics::answer(
                    ctx,
                    s.user(),
                    scope,
                    format!("ui details {}", period.as_str()),
                    move |a| details_of(a, period),
                )
                .await;
                match details {
                    Ok(d) => {
                        let fg = figures_for(ctx, &o, &quotes, period, p.base_currency).await;
                        fill_analytics(&mut page, &o, &d.value, &quotes, fg, &cur, period);
                    }
                    Err(AppError::Analytics(e)) => page.note = Some(e.to_string()),
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    page.layout = layout;
    Ok(page)
}

/// The period's figures of the portfolio page beyond the overview.
struct Details {
    summary: PortfolioSummary,
    holdings: HoldingsView,
    heatmap: Vec<YearReturns>,
    income: Vec<IncomeBucket>,
    realized: Vec<RealizedLot>,
    contributions: ContributionReport,
}

fn details_of(pa: &PortfolioAnalytics<'_>, period: PeriodChoice) -> AnalyticsResult<Details> {
    let period = PeriodSpec::Preset(period.0);
    Ok(Details {
        summary: pa.summary(period)?,
        holdings: pa.holdings(None)?,
        heatmap: pa.returns_table(PeriodSpec::Preset(PeriodPreset::Max))?,
        income: pa.income(Granularity::Month, None)?,
        realized: pa.realized(None)?,
        contributions: pa.contributions(period)?,
    })
}

fn fill_analytics(
    page: &mut PortfolioPage,
    o: &Overview,
    d: &Details,
    quotes: &HashMap<Symbol, Quote>,
    fg: Figures,
    cur: &str,
    period: PeriodChoice,
) {
    let max = &o.max;
    let summary = &d.summary;
    let previous = fg.total_value - fg.day_change;
    page.cards = vec![
        Card {
            label: "Value",
            value: format::money_f(fg.total_value, cur),
            sub: format!(
                "{} {} today",
                format::signed_money_f(fg.day_change, cur),
                if previous.abs() > f64::EPSILON {
                    format::pct_arrow(fg.day_change / previous)
                } else {
                    String::new()
                }
            ),
            dir: format::direction(fg.day_change),
            help: "Holdings at their latest prices, plus cash when deposits are recorded.",
        },
        Card {
            label: "Unrealized gain",
            value: format::signed_money_f(f(summary.unrealized_gain), cur),
            sub: summary
                .unrealized_gain_pct
                .map_or(String::new(), |v| format::pct_arrow(f(v))),
            dir: format::direction(f(summary.unrealized_gain)),
            help: "Market value minus the cost basis of the units still held.",
        },
        Card {
            label: "Realized gain",
            value: format::signed_money_f(f(summary.realized_gain), cur),
            sub: format!("method: {}", page.method),
            dir: format::direction(f(summary.realized_gain)),
            help: "Sale proceeds minus the cost of the units sold, by your cost-basis method.",
        },
        Card {
            label: "Income",
            value: format::money_f(f(summary.dividends_gross + summary.interest_gross), cur),
            sub: format!("taxes {}", format::money_f(f(summary.dividend_taxes), cur)),
            dir: "flat",
            help: "Gross dividends and interest received since inception.",
        },
        Card {
            label: "Time-weighted return",
            value: format::pct(summary.twr),
            sub: period.label().to_owned(),
            dir: format::direction(summary.twr),
            help: "Daily returns chained, so deposits and withdrawals do not distort it.",
        },
        Card {
            label: "Money-weighted (XIRR)",
            value: summary.xirr.map_or("—".to_owned(), format::pct),
            sub: "annualized".to_owned(),
            dir: format::direction(summary.xirr.unwrap_or(0.0)),
            help: "The yearly rate that makes your cash flows worth today's value.",
        },
    ];
    page.chart = value_chart(&fg.series, cur, period, VALUE_CHART_WIDTH, fg.intraday);

    let holdings = &d.holdings;
    page.holdings = holdings
        .holdings
        .iter()
        .filter(|h| !h.quantity.is_zero())
        .map(|h| {
            let qf = f(h.quantity);
            let day = quotes.get(&h.symbol).and_then(|q| q.change).map(|c| c * qf);
            let qc = h.quote_currency.as_str();
            let gain_pct = h.unrealized_gain_pct.map(f);
            HoldingRow {
                symbol: h.symbol.to_string(),
                quantity: format::quantity(h.quantity),
                quantity_sort: qf,
                avg_cost: format::format_price(f(h.average_cost_quote), qc),
                avg_sort: f(h.average_cost_quote),
                price: h
                    .market_price_quote
                    .map_or("—".to_owned(), |v| format::format_price(f(v), qc)),
                price_sort: h.market_price_quote.map_or(0.0, f),
                value: format::money_f(f(h.market_value), cur),
                value_sort: f(h.market_value),
                day: day.map_or("—".to_owned(), |d| format::signed_money_f(d, qc)),
                day_sort: day.unwrap_or(0.0),
                day_dir: format::direction(day.unwrap_or(0.0)),
                gain: format::signed_money_f(f(h.unrealized_gain), cur),
                gain_sort: f(h.unrealized_gain),
                gain_pct: gain_pct.map_or("—".to_owned(), format::pct_arrow),
                gain_pct_sort: gain_pct.unwrap_or(0.0),
                gain_dir: format::direction(f(h.unrealized_gain)),
                weight: h.weight.map_or("—".to_owned(), |w| {
                    format!("{}%", format::group(f(w) * 100.0, 1))
                }),
                weight_sort: h.weight.map_or(0.0, f),
            }
        })
        .collect();
    // Allocation by instrument and by kind, from the holdings already valued.
    let total: f64 = holdings
        .holdings
        .iter()
        .map(|h| f(h.market_value))
        .sum::<f64>()
        + holdings
            .cash
            .iter()
            .map(|c| f(c.amount_in_base))
            .sum::<f64>();
    let mut by_symbol: Vec<(String, f64, f64)> = Vec::new();
    let mut by_kind: std::collections::BTreeMap<String, f64> = std::collections::BTreeMap::new();
    for h in holdings
        .holdings
        .iter()
        .filter(|h| !h.market_value.is_zero())
    {
        let v = f(h.market_value);
        by_symbol.push((h.symbol.to_string(), v, 0.0));
        let kind = o.kinds.get(&h.symbol).copied().unwrap_or("unknown");
        *by_kind.entry(kind.to_owned()).or_default() += v;
    }
    let cash: f64 = holdings.cash.iter().map(|c| f(c.amount_in_base)).sum();
    if cash.abs() > 0.005 {
        by_symbol.push(("cash".to_owned(), cash, 0.0));
        *by_kind.entry("cash".to_owned()).or_default() += cash;
    }
    let weigh = |mut v: Vec<(String, f64, f64)>| {
        for s in &mut v {
            s.2 = if total.abs() > f64::EPSILON {
                s.1 / total
            } else {
                0.0
            };
        }
        v.sort_by(|a, b| b.1.total_cmp(&a.1));
        v
    };
    page.allocation = allocation_svg(
        "alloc-instrument",
        "Allocation by instrument",
        "Instrument",
        &weigh(by_symbol),
        cur,
    );
    page.allocation_kind = allocation_svg(
        "alloc-kind",
        "Allocation by kind",
        "Kind",
        &weigh(by_kind.into_iter().map(|(k, v)| (k, v, 0.0)).collect()),
        cur,
    );

    // Period returns from one daily TWR series since inception.
    if let Some(last) = max.points.last() {
        let end = last.date;
        for (label, preset) in [
            ("1D", PeriodPreset::OneDay),
            ("1W", PeriodPreset::OneWeek),
            ("1M", PeriodPreset::OneMonth),
            ("YTD", PeriodPreset::YearToDate),
            ("1Y", PeriodPreset::OneYear),
            ("5Y", PeriodPreset::FiveYears),
            ("MAX", PeriodPreset::Max),
        ] {
            let Some((_, period_start)) = o.starts.iter().find(|(p, _)| *p == preset) else {
                continue;
            };
            let start = max
                .points
                .iter()
                .take_while(|p| p.date <= *period_start)
                .last()
                .or(max.points.first());
            if let Some(start) = start {
                let r = (1.0 + last.twr) / (1.0 + start.twr) - 1.0;
                let _ = end;
                page.returns
                    .push((label, format::pct(r), format::direction(r)));
            }
        }
    }
    page.heatmap = d
        .heatmap
        .iter()
        .rev()
        .map(|y| {
            let cells = y
                .months
                .iter()
                .map(|m| {
                    (
                        m.map_or(String::new(), |v| format::group(v * 100.0, 1)),
                        heat_class(*m),
                    )
                })
                .collect();
            (
                y.year,
                cells,
                format::pct(y.year_return),
                heat_class(Some(y.year_return)),
            )
        })
        .collect();
    page.income = d
        .income
        .iter()
        .rev()
        .take(12)
        .map(|b| {
            (
                b.period.clone(),
                format::money_f(f(b.dividends_gross + b.interest_gross), cur),
                format::money_f(f(b.net), cur),
            )
        })
        .collect();
    let realized = &d.realized;
    let total: f64 = realized
        .iter()
        .map(|l| f(l.lot.proceeds - l.lot.cost))
        .sum();
    page.realized_total = format::signed_money_f(total, cur);
    page.realized = realized
        .iter()
        .rev()
        .take(10)
        .map(|l| {
            let gain = f(l.lot.proceeds - l.lot.cost);
            [
                l.symbol.to_string(),
                l.lot.acquired.to_string(),
                l.lot.disposed.to_string(),
                format::quantity(l.lot.quantity),
                format::signed_money_f(gain, cur),
                format::direction(gain).to_owned(),
            ]
        })
        .collect();
    let report = &d.contributions;
    let as_row = |c: &pricetrack_domain::analytics::contribution::Contribution| {
        let g = f(c.gain);
        (
            c.symbol.to_string(),
            format::signed_money_f(g, cur),
            c.contribution.map_or("—".to_owned(), format::pct),
            format::direction(g),
        )
    };
    page.top = report
        .holdings
        .iter()
        .filter(|c| c.gain.is_sign_positive() && !c.gain.is_zero())
        .take(3)
        .map(as_row)
        .collect();
    page.bottom = report
        .holdings
        .iter()
        .rev()
        .filter(|c| c.gain.is_sign_negative())
        .take(3)
        .map(as_row)
        .collect();
}

// ---------------------------------------------------------------- transactions

#[derive(Template)]
#[template(path = "transactions.html")]
struct TransactionsPage {
    layout: Layout,
    p: Portfolio,
    filter: FilterView,
    rows: Vec<TxRow>,
    total: u64,
    prev_link: Option<String>,
    next_link: Option<String>,
    range: String,
    form: TxForm,
    types: Vec<&'static str>,
    message: Option<String>,
    import: Option<ImportPreview>,
    import_form: ImportForm,
    import_formats: [(&'static str, &'static str); 7],
    /// The instruments for the symbol field's suggestions: (symbol, name).
    symbols: Vec<(String, String)>,
}

#[derive(Default)]
struct FilterView {
    symbol: String,
    kind: String,
    from: String,
    to: String,
}

struct TxRow {
    id: i64,
    date: String,
    kind: String,
    symbol: String,
    quantity: String,
    price: String,
    amount: String,
    fee: String,
    note: String,
}

/// The transaction form's values and errors (kept when the form is refused).
#[derive(Default, Deserialize, Clone)]
pub struct TxForm {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    symbol: String,
    #[serde(default)]
    quantity: String,
    #[serde(default)]
    price: String,
    #[serde(default)]
    fee: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    tax: String,
    #[serde(default)]
    ratio: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    note: String,
    #[serde(skip)]
    errors: HashMap<String, String>,
}

impl TxForm {
    fn err(&self, field: &str) -> Option<&String> {
        self.errors.get(field)
    }

    fn blank(currency: Currency, today: Date) -> Self {
        Self {
            kind: "buy".into(),
            date: today.to_string(),
            currency: currency.to_string(),
            ..Default::default()
        }
    }

    fn from_out(o: TransactionOut) -> Self {
        let s = |d: Option<rust_decimal::Decimal>| {
            d.map(|d| d.normalize().to_string()).unwrap_or_default()
        };
        let date = o
            .time
            .parse::<jiff::Timestamp>()
            .map(|t| {
                let z = t.to_zoned(TimeZone::UTC);
                if z.hour() == 0 && z.minute() == 0 && z.second() == 0 {
                    z.date().to_string()
                } else {
                    t.to_string()
                }
            })
            .unwrap_or(o.time);
        Self {
            kind: o.kind,
            date,
            symbol: o.symbol.unwrap_or_default(),
            quantity: s(o.quantity),
            price: s(o.price),
            fee: s(o.fee),
            amount: s(o.amount),
            tax: s(o.tax),
            ratio: o.ratio.unwrap_or_default(),
            currency: o.currency,
            note: o.note,
            errors: HashMap::new(),
        }
    }

    /// The API's input, keeping only the fields that apply to the type (the
    /// form shows them all).
    fn to_input(&self) -> TransactionIn {
        let kind = self.kind.parse::<TransactionType>().ok();
        let applies = |field: &str| match kind {
            Some(
                TransactionType::Buy
                | TransactionType::Sell
                | TransactionType::TransferIn
                | TransactionType::TransferOut,
            ) => ["symbol", "quantity", "price", "fee"].contains(&field),
            Some(TransactionType::Dividend) => ["symbol", "amount", "tax"].contains(&field),
            Some(TransactionType::Interest) => ["amount", "tax"].contains(&field),
            Some(TransactionType::Fee | TransactionType::Tax) => {
                ["symbol", "amount"].contains(&field)
            }
            Some(TransactionType::Deposit | TransactionType::Withdrawal) => field == "amount",
            Some(TransactionType::Split) => ["symbol", "ratio"].contains(&field),
            _ => false,
        };
        let text = |field: &str, v: &str| {
            (applies(field) && !v.trim().is_empty()).then(|| v.trim().to_owned())
        };
        let dec = |field: &str, v: &str| text(field, v).map(DecimalInput);
        TransactionIn {
            kind: self.kind.clone(),
            time: self.date.trim().to_owned(),
            symbol: text("symbol", &self.symbol),
            quantity: dec("quantity", &self.quantity),
            price: dec("price", &self.price),
            fee: dec("fee", &self.fee),
            amount: dec("amount", &self.amount),
            tax: dec("tax", &self.tax),
            ratio: text("ratio", &self.ratio),
            currency: self.currency.trim().to_uppercase(),
            note: Some(self.note.clone()),
        }
    }
}

#[derive(Deserialize, Default)]
pub struct TxQuery {
    symbol: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    from: Option<String>,
    to: Option<String>,
    offset: Option<u64>,
    msg: Option<String>,
    n: Option<u64>,
    /// Duplicates an import skipped.
    dup: Option<u64>,
    /// Invalid rows an import skipped ("skip invalid rows").
    skip: Option<u64>,
}

/// The import form's values, kept when the page is shown again.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ImportForm {
    #[serde(default)]
    format: String,
    /// Currency of rows that name none (formats without a currency column).
    #[serde(default)]
    currency: String,
    /// Generic CSV: `field=Column,…`, type words, delimiter, date format,
    /// decimal comma, sign convention (as the API's import parameters).
    #[serde(default)]
    map: String,
    #[serde(default)]
    types: String,
    #[serde(default)]
    delimiter: String,
    #[serde(default)]
    date_format: String,
    #[serde(default)]
    decimal_comma: String,
    #[serde(default)]
    sign: String,
    /// "1": leave out the invalid rows and import the rest (`skip_invalid`).
    #[serde(default)]
    skip_invalid: String,
    /// The file's text (pasted, or carried from the preview to the confirmation).
    #[serde(default)]
    csv: String,
    #[serde(default)]
    confirm: String,
}

impl ImportForm {
    fn blank(base: Currency) -> Self {
        Self {
            format: ImportFormat::Ours.as_str().to_owned(),
            currency: base.to_string(),
            ..Self::default()
        }
    }

    fn format(&self) -> AppResult<ImportFormat> {
        if self.format.trim().is_empty() {
            return Ok(ImportFormat::Ours);
        }
        self.format.parse()
    }

    fn options(&self, format: ImportFormat) -> AppResult<ImportOptions> {
        let opt = |v: &str| (!v.trim().is_empty()).then(|| v.trim().to_owned());
        let mapping = match (format, opt(&self.map)) {
            (ImportFormat::Generic, Some(map)) => Some(GenericMapping::parse(
                &map,
                opt(&self.types).as_deref(),
                opt(&self.delimiter).as_deref(),
                opt(&self.date_format).as_deref(),
                self.decimal_comma == "1",
                opt(&self.sign).as_deref(),
            )?),
            _ => None,
        };
        let default_currency = opt(&self.currency)
            .map(|c| {
                Currency::parse(&c.to_uppercase())
                    .map_err(|e| AppError::invalid_field("currency", e.to_string()))
            })
            .transpose()?;
        Ok(ImportOptions {
            mapping,
            default_currency,
            skip_invalid: self.skip_invalid == "1",
        })
    }
}

/// The import formats offered, with their labels.
const IMPORT_FORMATS: [(&str, &str); 7] = [
    ("ours", "Pricetrack CSV"),
    ("json", "Pricetrack JSON export"),
    ("ghostfolio-json", "Ghostfolio export (JSON)"),
    ("ghostfolio-csv", "Ghostfolio CSV"),
    ("pp-csv", "Portfolio Performance CSV"),
    ("wealthfolio-csv", "Wealthfolio CSV"),
    ("generic", "Other broker CSV (column mapping)"),
];

/// What an import would do, checked by the app's dry run before anything
/// is written.
struct ImportPreview {
    format: &'static str,
    read: usize,
    to_import: usize,
    /// The first rows to be written, with their file lines.
    rows: Vec<(u64, TxRow)>,
    duplicates: Vec<String>,
    /// Lines "skip invalid rows" leaves out, with why.
    skipped: Vec<String>,
    errors: Vec<String>,
}

const TX_PAGE: u32 = 50;

fn tx_row(r: &pricetrack_app::ports::RecordedTransaction) -> TxRow {
    let o = TransactionOut::from(r);
    let cur = o.currency.clone();
    let money =
        |d: Option<rust_decimal::Decimal>| d.map_or(String::new(), |d| format::money(d, &cur));
    TxRow {
        id: o.id,
        date: chart::time_text(r.transaction.time.as_second(), {
            let z = r.transaction.time.to_zoned(TimeZone::UTC);
            z.hour() != 0 || z.minute() != 0
        }),
        kind: o.kind.clone(),
        symbol: o.symbol.clone().unwrap_or_default(),
        quantity: o
            .quantity
            .map(format::quantity)
            .or_else(|| o.ratio.clone())
            .unwrap_or_default(),
        price: o
            .price
            .map_or(String::new(), |p| format::format_price(f(p), &cur)),
        amount: match (o.quantity, o.price) {
            (Some(q), Some(p)) => format::money(q * p, &cur),
            _ => money(o.amount),
        },
        fee: money(
            o.fee
                .filter(|f| !f.is_zero())
                .or(o.tax.filter(|t| !t.is_zero())),
        ),
        note: o.note,
    }
}

async fn transactions_page(
    state: &AppState,
    s: &Session,
    id: i64,
    q: TxQuery,
    form: Option<TxForm>,
    import: Option<(ImportPreview, ImportForm)>,
    status: StatusCode,
) -> UiResult<Response> {
    let ctx = &state.ctx;
    let p = portfolios::get_portfolio(ctx, s.user(), PortfolioId(id)).await?;
    let (import, import_form) = match import {
        Some((preview, form)) => (Some(preview), form),
        None => (None, ImportForm::blank(p.base_currency)),
    };
    let settings = user_settings(state, s).await?;
    let parse_date = |v: &Option<String>| {
        v.as_deref()
            .filter(|v| !v.is_empty())
            .and_then(|v| crate::http::dto::parse_time(v).ok())
    };
    let filter = TransactionFilter {
        symbol: q
            .symbol
            .as_deref()
            .filter(|v| !v.is_empty())
            .and_then(|v| Symbol::parse(v.trim()).ok()),
        kind: q.kind.as_deref().and_then(|k| k.parse().ok()),
        from: parse_date(&q.from),
        to: parse_date(&q.to).map(|t| t + jiff::SignedDuration::from_secs(86_399)),
    };
    let offset = q.offset.unwrap_or(0);
    let page = portfolios::list_transactions(
        ctx,
        s.user(),
        p.id,
        &filter,
        PageRequest::new(Some(TX_PAGE), Some(offset)),
    )
    .await?;
    let fv = FilterView {
        symbol: q.symbol.clone().unwrap_or_default(),
        kind: q.kind.clone().unwrap_or_default(),
        from: q.from.clone().unwrap_or_default(),
        to: q.to.clone().unwrap_or_default(),
    };
    let link = |o: u64| {
        format!(
            "/portfolios/{id}/transactions?symbol={}&type={}&from={}&to={}&offset={o}",
            super::urlencode(&fv.symbol),
            super::urlencode(&fv.kind),
            super::urlencode(&fv.from),
            super::urlencode(&fv.to)
        )
    };
    let shown = page.items.len() as u64;
    let message = match q.msg.as_deref() {
        Some("added") => Some("Transaction recorded.".to_owned()),
        Some("saved") => Some("Transaction saved.".to_owned()),
        Some("deleted") => Some("Transaction deleted.".to_owned()),
        Some("imported") => Some({
            let mut text = match q.dup.unwrap_or(0) {
                0 => format!("Imported {} transaction(s).", q.n.unwrap_or(0)),
                d => format!(
                    "Imported {} transaction(s); skipped {d} already in the portfolio.",
                    q.n.unwrap_or(0)
                ),
            };
            if let Some(skipped) = q.skip.filter(|n| *n > 0) {
                text.push_str(&format!(" Left out {skipped} invalid line(s)."));
            }
            text
        }),
        _ => None,
    };
    let prev_link = (offset > 0).then(|| link(offset.saturating_sub(u64::from(TX_PAGE))));
    let next_link = (offset + shown < page.total).then(|| link(offset + u64::from(TX_PAGE)));
    let mut r = render(&TransactionsPage {
        layout: Layout::new(
            s,
            settings.theme,
            format!("Transactions · {}", p.name),
            "portfolios",
        ),
        filter: fv,
        rows: page.items.iter().map(tx_row).collect(),
        total: page.total,
        prev_link,
        next_link,
        range: if page.total == 0 {
            String::new()
        } else {
            format!("{}–{} of {}", offset + 1, offset + shown, page.total)
        },
        form: form.unwrap_or_else(|| TxForm::blank(p.base_currency, views::today(ctx))),
        types: TransactionType::ALL.iter().map(|t| t.as_str()).collect(),
        message,
        import,
        import_form,
        import_formats: IMPORT_FORMATS,
        symbols: symbol_choices(ctx).await?,
        p,
    });
    *r.status_mut() = status;
    Ok(r)
}

pub async fn transactions(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<i64>,
    Query(q): Query<TxQuery>,
) -> UiResult<Response> {
    transactions_page(&state, &s, id, q, None, None, StatusCode::OK).await
}

fn ledger_or_field_errors(e: AppError) -> UiResult<HashMap<String, String>> {
    form_errors(e)
}

pub async fn create_transaction(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<i64>,
    Form(mut form): Form<TxForm>,
) -> UiResult<Response> {
    let result = match form.to_input().into_domain() {
        Ok(tx) => portfolios::record_transactions(&state.ctx, s.user(), PortfolioId(id), vec![tx])
            .await
            .map(|_| ()),
        Err(errors) => Err(AppError::Invalid(errors)),
    };
    match result {
        Ok(()) => {
            Ok(Redirect::to(&format!("/portfolios/{id}/transactions?msg=added")).into_response())
        }
        Err(e) => {
            form.errors = ledger_or_field_errors(e)?;
            transactions_page(
                &state,
                &s,
                id,
                TxQuery::default(),
                Some(form),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

#[derive(Template)]
#[template(path = "tx_edit.html")]
struct TxEditPage {
    layout: Layout,
    p: Portfolio,
    tx: i64,
    form: TxForm,
    types: Vec<&'static str>,
    symbols: Vec<(String, String)>,
}

/// Symbol suggestions for the transaction form: every instrument (bounded).
async fn symbol_choices(ctx: &AppContext) -> AppResult<Vec<(String, String)>> {
    Ok(views::all_instruments(ctx)
        .await?
        .into_iter()
        .map(|i| (i.symbol.to_string(), i.name))
        .collect())
}

async fn edit_page(
    state: &AppState,
    s: &Session,
    id: i64,
    tx: i64,
    form: Option<TxForm>,
) -> UiResult<Response> {
    let ctx = &state.ctx;
    let p = portfolios::get_portfolio(ctx, s.user(), PortfolioId(id)).await?;
    let settings = user_settings(state, s).await?;
    let form = match form {
        Some(f) => f,
        None => {
            let r = portfolios::get_transaction(ctx, s.user(), p.id, TransactionId(tx)).await?;
            TxForm::from_out(TransactionOut::from(&r))
        }
    };
    let status = if form.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut r = render(&TxEditPage {
        layout: Layout::new(
            s,
            settings.theme,
            format!("Edit transaction · {}", p.name),
            "portfolios",
        ),
        p,
        tx,
        form,
        types: TransactionType::ALL.iter().map(|t| t.as_str()).collect(),
        symbols: symbol_choices(ctx).await?,
    });
    *r.status_mut() = status;
    Ok(r)
}

pub async fn edit_transaction(
    State(state): State<AppState>,
    s: Session,
    Path((id, tx)): Path<(i64, i64)>,
) -> UiResult<Response> {
    edit_page(&state, &s, id, tx, None).await
}

pub async fn update_transaction(
    State(state): State<AppState>,
    s: Session,
    Path((id, tx)): Path<(i64, i64)>,
    Form(mut form): Form<TxForm>,
) -> UiResult<Response> {
    let result = match form.to_input().into_domain() {
        Ok(t) => portfolios::replace_transaction(
            &state.ctx,
            s.user(),
            PortfolioId(id),
            TransactionId(tx),
            t,
        )
        .await
        .map(|_| ()),
        Err(errors) => Err(AppError::Invalid(errors)),
    };
    match result {
        Ok(()) => {
            Ok(Redirect::to(&format!("/portfolios/{id}/transactions?msg=saved")).into_response())
        }
        Err(e) => {
            form.errors = ledger_or_field_errors(e)?;
            edit_page(&state, &s, id, tx, Some(form)).await
        }
    }
}

pub async fn delete_transaction(
    State(state): State<AppState>,
    s: Session,
    Path((id, tx)): Path<(i64, i64)>,
) -> UiResult<Response> {
    match portfolios::delete_transaction(&state.ctx, s.user(), PortfolioId(id), TransactionId(tx))
        .await
    {
        Ok(()) => {
            Ok(Redirect::to(&format!("/portfolios/{id}/transactions?msg=deleted")).into_response())
        }
        Err(e @ AppError::Ledger(_)) => Err(UiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("This transaction cannot be deleted: {e}"),
        )),
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------- import

/// Reads an upload (multipart file or textarea, or the confirm form) and runs
/// the app's import: as a dry run for the preview (every bad line, unknown
/// instrument, over-sale and duplicate reported, nothing written), for real
/// once confirmed. Both are the same code path as the API and the CLI.
pub async fn import(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<i64>,
    request: Request,
) -> UiResult<Response> {
    let form = read_import_form(&state, request).await?;
    let ctx = &state.ctx;
    let portfolio = PortfolioId(id);
    let confirm = form.confirm == "1";
    let format = form.format();
    let format_str = format.as_ref().map_or("ours", |f| f.as_str());
    let outcome = match format.and_then(|f| Ok((f, form.options(f)?))) {
        Ok((format, options)) => {
            let bytes = form.csv.as_bytes();
            if confirm {
                imports::import_transactions(ctx, s.user(), portfolio, format, bytes, &options)
                    .await
            } else {
                imports::check_import(ctx, s.user(), portfolio, format, bytes, &options).await
            }
        }
        Err(e) => Err(e),
    };
    let (preview, status) = match outcome {
        Ok(report) if confirm => {
            return Ok(Redirect::to(&format!(
                "/portfolios/{id}/transactions?msg=imported&n={}&dup={}&skip={}",
                report.imported_count,
                report.duplicates.len(),
                skipped_lines(&report)
            ))
            .into_response());
        }
        Ok(report) => (preview_of(format_str, &report), StatusCode::OK),
        Err(AppError::Invalid(errors)) => (
            failed_preview(format_str, errors.iter().map(ToString::to_string).collect()),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e @ AppError::Ledger(_)) => (
            failed_preview(format_str, vec![e.to_string()]),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => return Err(e.into()),
    };
    transactions_page(
        &state,
        &s,
        id,
        TxQuery::default(),
        None,
        Some((
            preview,
            ImportForm {
                confirm: String::new(),
                ..form
            },
        )),
        status,
    )
    .await
}

/// The import form from a multipart upload or the urlencoded confirm form.
async fn read_import_form(state: &AppState, request: Request) -> UiResult<ImportForm> {
    let bad = |m: String| UiError::new(StatusCode::BAD_REQUEST, m);
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let mut form = if is_multipart {
        let mut form = ImportForm::default();
        let mut file = None;
        let mut mp = Multipart::from_request(request, state)
            .await
            .map_err(|e| bad(e.body_text()))?;
        while let Some(field) = mp.next_field().await.map_err(|e| bad(e.body_text()))? {
            let name = field.name().unwrap_or("").to_owned();
            let bytes = field.bytes().await.map_err(|e| bad(e.body_text()))?;
            if name == "file" {
                if !bytes.is_empty() {
                    file = Some(bytes);
                }
                continue;
            }
            let text = String::from_utf8_lossy(&bytes).into_owned();
            match name.as_str() {
                "format" => form.format = text,
                "currency" => form.currency = text,
                "map" => form.map = text,
                "types" => form.types = text,
                "delimiter" => form.delimiter = text,
                "date_format" => form.date_format = text,
                "decimal_comma" => form.decimal_comma = text,
                "sign" => form.sign = text,
                "skip_invalid" => form.skip_invalid = text,
                "csv" => form.csv = text,
                "confirm" => form.confirm = text,
                _ => {}
            }
        }
        if let Some(bytes) = file {
            form.csv = String::from_utf8(bytes.to_vec()).map_err(|_| {
                UiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "The file is not UTF-8 text; export it as UTF-8 and try again.",
                )
            })?;
        }
        form
    } else {
        let Form(form) = Form::<ImportForm>::from_request(request, state)
            .await
            .map_err(|e| bad(e.body_text()))?;
        form
    };
    // Browsers send a textarea's line ends as CRLF; the preview carries the
    // text back in one, so both passes read the same file.
    form.csv = form.csv.replace("\r\n", "\n");
    Ok(form)
}

fn preview_of(format: &'static str, report: &imports::ImportReport) -> ImportPreview {
    ImportPreview {
        format,
        read: report.read,
        to_import: report.imported_count,
        rows: report
            .rows
            .iter()
            .take(10)
            .map(|r| {
                let recorded = pricetrack_app::ports::RecordedTransaction {
                    id: TransactionId(0),
                    transaction: r.transaction.clone(),
                };
                (r.line, tx_row(&recorded))
            })
            .collect(),
        duplicates: report
            .duplicates
            .iter()
            .map(|d| format!("line {}: {}", d.line, d.reason))
            .collect(),
        skipped: report.skipped.iter().map(ToString::to_string).collect(),
        errors: Vec::new(),
    }
}

/// How many lines an import left out (a line may have several faults).
fn skipped_lines(report: &imports::ImportReport) -> usize {
    let mut lines: Vec<u64> = report.skipped.iter().map(|s| s.line).collect();
    lines.dedup();
    lines.len()
}

fn failed_preview(format: &'static str, errors: Vec<String>) -> ImportPreview {
    ImportPreview {
        format,
        read: 0,
        to_import: 0,
        rows: Vec::new(),
        duplicates: Vec::new(),
        skipped: Vec::new(),
        errors,
    }
}
