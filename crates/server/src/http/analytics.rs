//! Portfolio analytics over HTTP: summary, performance series, holdings at a
//! date, allocation, income and realized lots, for one portfolio
//! (`/portfolios/{id}/…`) or for all of your portfolios combined
//! (`/portfolios/all/…`).
//!
//! Figures come from `pricetrack_app::portfolio_analytics`: computed on the
//! blocking pool, cached per portfolio and invalidated by ledger changes and
//! stored bars. Money is a decimal string in the base currency unless a field
//! says otherwise; returns are fractions (0.1 = 10 %).

use super::{
    AppState,
    extract::{ApiQuery, AuthUser},
    problem::{ApiError, ApiResult},
};
use axum::{
    Json,
    extract::{Path, State},
};
use jiff::civil::Date;
use pricetrack_app::{
    analytics::{CashBalanceView, HoldingsView, PerformanceSeries, PortfolioSummary, RealizedLot},
    portfolio_analytics::{
        self as pa, Scope, ScopeInfo, parse_cost_basis_method, parse_dimension, parse_granularity,
        parse_period, parse_portfolio_ids, parse_resolution,
    },
    settings::method_as_str,
};
use pricetrack_domain::{
    Currency, PortfolioId, Symbol,
    analytics::{
        CostBasisMethod, Period, PeriodPreset,
        allocation::AllocationSlice,
        calendar_returns::{BenchmarkPoint, Resolution},
        income::IncomeBucket,
        risk::MaxDrawdown,
    },
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

const OUTPUT_SCALE: u32 = 10;

fn round(d: Decimal) -> Decimal {
    d.round_dp(OUTPUT_SCALE).normalize()
}

/// `{id}` is a portfolio id or `all`; with `all`, `portfolios=1,3` narrows it
/// to a group of the user's portfolios.
pub(crate) fn scope(
    id: &str,
    currency: Option<&str>,
    method: Option<&str>,
    portfolios: Option<&str>,
) -> ApiResult<Scope> {
    if id.eq_ignore_ascii_case("all") {
        let currency = currency
            .map(|c| Currency::parse(c).map_err(|e| ApiError::field("currency", e.to_string())))
            .transpose()?;
        let method = method
            .map(|m| parse_cost_basis_method("method", m))
            .transpose()?;
        return Ok(match portfolios {
            Some(raw) => Scope::group(parse_portfolio_ids("portfolios", raw)?, currency, method)?,
            None => Scope::All { currency, method },
        });
    }
    for (field, given) in [
        ("currency", currency.is_some()),
        ("method", method.is_some()),
        ("portfolios", portfolios.is_some()),
    ] {
        if given {
            return Err(ApiError::field(
                field,
                "currency, method and portfolios apply to /portfolios/all only; a portfolio uses its own settings",
            ));
        }
    }
    id.parse::<i64>()
        .map(|i| Scope::Portfolio(PortfolioId(i)))
        .map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                format!("portfolio {id:?} not found (use a portfolio id or `all`)"),
            )
        })
}

// ---------------------------------------------------------------- shared DTOs

#[derive(Debug, Serialize, ToSchema)]
pub struct PortfolioRef {
    pub id: i64,
    pub name: String,
}

/// What the figures cover and how they were computed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScopeOut {
    /// The portfolios included (one, or all of yours for `/portfolios/all`).
    pub portfolios: Vec<PortfolioRef>,
    /// The currency every money figure is in.
    pub base_currency: String,
    /// average, fifo, lifo or hifo.
    pub cost_basis_method: String,
    /// The valuation date (today, UTC); later transactions are ignored.
    #[schema(value_type = String, format = Date)]
    pub evaluation_date: Date,
}

impl From<&ScopeInfo> for ScopeOut {
    fn from(s: &ScopeInfo) -> Self {
        Self {
            portfolios: s
                .portfolios
                .iter()
                .map(|(id, name)| PortfolioRef {
                    id: id.0,
                    name: name.clone(),
                })
                .collect(),
            base_currency: s.base_currency.to_string(),
            cost_basis_method: method_as_str(s.cost_basis_method).to_owned(),
            evaluation_date: s.evaluation_date,
        }
    }
}

/// A resolved period: returns are earned on the days after `start` up to `end`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodOut {
    /// The reference day: its close is the period's initial value.
    #[schema(value_type = String, format = Date)]
    pub start: Date,
    /// The last day (included).
    #[schema(value_type = String, format = Date)]
    pub end: Date,
    /// Calendar days from `start` to `end`.
    pub days: i32,
}

impl From<&Period> for PeriodOut {
    fn from(p: &Period) -> Self {
        Self {
            start: p.start,
            end: p.end,
            days: p.days(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DrawdownOut {
    /// Largest fall of the cumulative TWR index from a peak, as a positive fraction.
    pub max_drawdown: f64,
    #[schema(value_type = String, format = Date)]
    pub peak_date: Date,
    #[schema(value_type = String, format = Date)]
    pub trough_date: Date,
    /// First day the peak was regained, if it was.
    #[schema(value_type = Option<String>, format = Date)]
    pub recovery_date: Option<Date>,
}

impl From<&MaxDrawdown> for DrawdownOut {
    fn from(m: &MaxDrawdown) -> Self {
        Self {
            max_drawdown: m.max_drawdown,
            peak_date: m.peak_date,
            trough_date: m.trough_date,
            recovery_date: m.recovery_date,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PeriodParams {
    /// 1D, WTD, 1W, MTD, 1M, YTD, 1Y, 3Y, 5Y or MAX (default MAX); or give `from` and `to`.
    period: Option<String>,
    /// First day of a custom period (YYYY-MM-DD), with `to`.
    from: Option<String>,
    /// Last day of a custom period (included), with `from`.
    to: Option<String>,
    /// `/portfolios/all` only: the reporting currency (default: your settings).
    currency: Option<String>,
    /// `/portfolios/all` only: average, fifo, lifo or hifo (default: your settings).
    method: Option<String>,
    /// `/portfolios/all` only: a group of your portfolios, their ids separated
    /// by commas (`1,3`); default all of them. Any id that is not yours is a 404.
    portfolios: Option<String>,
}

impl PeriodParams {
    fn scope(&self, id: &str) -> ApiResult<Scope> {
        scope(
            id,
            self.currency.as_deref(),
            self.method.as_deref(),
            self.portfolios.as_deref(),
        )
    }

    fn spec(&self) -> ApiResult<pricetrack_domain::analytics::PeriodSpec> {
        Ok(parse_period(
            self.period.as_deref(),
            self.from.as_deref(),
            self.to.as_deref(),
            PeriodPreset::Max,
        )?)
    }

    fn optional_spec(&self) -> ApiResult<Option<pricetrack_domain::analytics::PeriodSpec>> {
        if self.period.is_none() && self.from.is_none() && self.to.is_none() {
            Ok(None)
        } else {
            self.spec().map(Some)
        }
    }
}

// ---------------------------------------------------------------- summary

/// The period's figures (Portfolio Performance's reporting-period statement):
/// initial + unrealized + realized + income − fees − taxes + net flows +
/// currency gains = final value.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodFiguresOut {
    /// Value of everything at the close of the reference day.
    #[schema(value_type = String)]
    pub initial_value: Decimal,
    /// External inflows: deposits and securities transferred in (or, when no
    /// cash is recorded, purchases at gross + fee).
    #[schema(value_type = String)]
    pub flows_in: Decimal,
    /// External outflows: withdrawals and securities transferred out (or, when
    /// no cash is recorded, sale proceeds and income paid out).
    #[schema(value_type = String)]
    pub flows_out: Decimal,
    /// Net external contributions of the period.
    #[schema(value_type = String)]
    pub net_flows: Decimal,
    /// Dividends (gross) + interest.
    #[schema(value_type = String)]
    pub income: Decimal,
    #[schema(value_type = String)]
    pub dividends: Decimal,
    #[schema(value_type = String)]
    pub interest: Decimal,
    /// Gross sale proceeds − cost of the units sold (their value at the period
    /// start when held then).
    #[schema(value_type = String)]
    pub realized_gains: Decimal,
    /// Change in value of the units still held (basis: value at the period
    /// start, or the purchase cost inside the period).
    #[schema(value_type = String)]
    pub unrealized_gains: Decimal,
    /// Of the realized gains: the part from prices (proceeds − the units'
    /// quote-currency basis at the sale date's rate).
    #[schema(value_type = String)]
    pub realized_price_effect: Decimal,
    /// Of the realized gains: the part from exchange rates (realized gains −
    /// realized price effect).
    #[schema(value_type = String)]
    pub realized_currency_effect: Decimal,
    /// Of the unrealized gains: the part from prices (value − the units'
    /// quote-currency basis at the period end's rate).
    #[schema(value_type = String)]
    pub unrealized_price_effect: Decimal,
    /// Of the unrealized gains: the part from exchange rates.
    #[schema(value_type = String)]
    pub unrealized_currency_effect: Decimal,
    #[schema(value_type = String)]
    pub fees: Decimal,
    #[schema(value_type = String)]
    pub taxes: Decimal,
    /// FX effect on cash held in other currencies.
    #[schema(value_type = String)]
    pub currency_gains: Decimal,
    /// Value of everything at the close of the last day.
    #[schema(value_type = String)]
    pub final_value: Decimal,
    /// Securities' value at the period start + the gross cost (fees excluded)
    /// of the period's buys and securities transferred in.
    #[schema(value_type = String)]
    pub invested_capital: Decimal,
    /// (realized gains + unrealized gains + dividends and interest net of
    /// their withheld taxes) ÷ invested capital, as a fraction; null when
    /// nothing was invested. The gains are before fees and taxes, and no fee
    /// or tax is deducted (`pp.pp_delta_pct` is the figure after costs).
    #[schema(value_type = Option<String>)]
    pub simple_return_on_cost: Option<Decimal>,
    /// True time-weighted return of the period, daily chained: deposits count
    /// at the start of their day, withdrawals at its end.
    pub twr: f64,
    /// Annualized TWR, for periods longer than a year.
    pub twr_annualized: Option<f64>,
    /// Money-weighted return (XIRR, ACT/365); null when it has no solution.
    pub xirr: Option<f64>,
    /// Why `xirr` is null (e.g. the flows never change sign).
    pub xirr_unavailable_reason: Option<String>,
    /// Annualized volatility of the daily returns (√365).
    pub volatility: Option<f64>,
    pub max_drawdown: Option<DrawdownOut>,
}

/// Position at the evaluation date (since inception).
#[derive(Debug, Serialize, ToSchema)]
pub struct PositionTotalsOut {
    /// Value of the securities held.
    #[schema(value_type = String)]
    pub market_value: Decimal,
    /// Cash in all currencies (0 when the ledger records no deposits).
    #[schema(value_type = String)]
    pub cash_balance: Decimal,
    pub cash_balances: Vec<CashOut>,
    /// Securities + cash.
    #[schema(value_type = String)]
    pub total_value: Decimal,
    /// Cost of the units held, excluding fees and taxes (portfolio method).
    #[schema(value_type = String)]
    pub cost_basis: Decimal,
    #[schema(value_type = String)]
    pub unrealized_gain: Decimal,
    #[schema(value_type = Option<String>)]
    pub unrealized_gain_pct: Option<Decimal>,
    /// Unrealized gain after costs: market value − cost basis including the
    /// fees and taxes paid on the purchases.
    #[schema(value_type = String)]
    pub unrealized_gain_net: Decimal,
    /// Of the unrealized gain: the part from prices.
    #[schema(value_type = String)]
    pub unrealized_price_effect: Decimal,
    /// Of the unrealized gain: the part from exchange rates.
    #[schema(value_type = String)]
    pub unrealized_currency_effect: Decimal,
    /// Realized gain since inception (gross proceeds − cost, fees excluded).
    #[schema(value_type = String)]
    pub realized_gain: Decimal,
    /// Realized gain since inception after costs: proceeds net of the sales'
    /// fees and taxes − cost including the purchases' fees and taxes.
    #[schema(value_type = String)]
    pub realized_gain_net: Decimal,
    /// Of the realized gain: the part from prices.
    #[schema(value_type = String)]
    pub realized_price_effect: Decimal,
    /// Of the realized gain: the part from exchange rates.
    #[schema(value_type = String)]
    pub realized_currency_effect: Decimal,
    #[schema(value_type = String)]
    pub dividends_gross: Decimal,
    #[schema(value_type = String)]
    pub dividend_taxes: Decimal,
    #[schema(value_type = String)]
    pub interest_gross: Decimal,
    #[schema(value_type = String)]
    pub fees: Decimal,
    #[schema(value_type = String)]
    pub taxes: Decimal,
    #[schema(value_type = String)]
    pub total_liabilities: Decimal,
}

/// Ghostfolio's "return on average investment" figures (not a TWR: profit ÷
/// average capital employed; dividends and interest excluded).
#[derive(Debug, Serialize, ToSchema)]
pub struct RoaiOut {
    #[schema(value_type = String)]
    pub roai_total_investment: Decimal,
    #[schema(value_type = String)]
    pub roai_gross_performance: Decimal,
    #[schema(value_type = String)]
    pub roai_net_performance: Decimal,
    #[schema(value_type = String)]
    pub roai_time_weighted_investment: Decimal,
    #[schema(value_type = String)]
    pub roai_gross_performance_pct: Decimal,
    #[schema(value_type = String)]
    pub roai_net_performance_pct: Decimal,
    #[schema(value_type = String)]
    pub roai_net_performance_pct_avg_daily_investment: Decimal,
}

/// Portfolio Performance's figures for the period.
#[derive(Debug, Serialize, ToSchema)]
pub struct PpOut {
    /// PP's TTWROR (same convention as `twr`).
    pub pp_ttwror: f64,
    pub pp_ttwror_annualized: f64,
    /// PP's IRR of the period.
    pub pp_irr: Option<f64>,
    /// All-in absolute gain of the securities over the period.
    #[schema(value_type = String)]
    pub pp_delta: Decimal,
    #[schema(value_type = Option<String>)]
    pub pp_delta_pct: Option<Decimal>,
    /// Market value − cost basis including acquisition costs.
    #[schema(value_type = String)]
    pub pp_capital_gains_on_holdings: Decimal,
}

/// The headline figures of a portfolio.
#[derive(Debug, Serialize, ToSchema)]
pub struct SummaryOut {
    #[serde(flatten)]
    pub scope: ScopeOut,
    pub period: PeriodOut,
    /// Whether cash is part of the value (the ledger records deposits).
    pub cash_included: bool,
    pub period_figures: PeriodFiguresOut,
    pub totals: PositionTotalsOut,
    pub roai: RoaiOut,
    pub pp: PpOut,
}

impl SummaryOut {
    fn new(scope: &ScopeInfo, s: &PortfolioSummary) -> Self {
        let st = &s.period_statement;
        Self {
            scope: ScopeOut::from(scope),
            period: PeriodOut::from(&s.period),
            cash_included: s.cash_included,
            period_figures: PeriodFiguresOut {
                initial_value: round(st.initial_value),
                flows_in: round(st.inflows),
                flows_out: round(st.outflows),
                net_flows: round(st.transfers),
                income: round(st.earnings),
                dividends: round(st.dividends),
                interest: round(st.interest),
                realized_gains: round(st.realized_gains),
                unrealized_gains: round(st.unrealized_gains),
                realized_price_effect: round(st.realized_price_effect),
                realized_currency_effect: round(st.realized_currency_effect),
                unrealized_price_effect: round(st.unrealized_price_effect),
                unrealized_currency_effect: round(st.unrealized_currency_effect),
                fees: round(st.fees),
                taxes: round(st.taxes),
                currency_gains: round(st.currency_gains),
                final_value: round(st.final_value),
                invested_capital: round(st.invested_capital),
                simple_return_on_cost: st.simple_return_on_cost.map(round),
                twr: s.twr,
                twr_annualized: s.twr_annualized,
                xirr: s.xirr,
                xirr_unavailable_reason: s.xirr_unavailable_reason.clone(),
                volatility: s.volatility,
                max_drawdown: s.max_drawdown.as_ref().map(DrawdownOut::from),
            },
            totals: PositionTotalsOut {
                market_value: round(s.market_value),
                cash_balance: round(s.cash_balance),
                cash_balances: s.cash_balances.iter().map(CashOut::from).collect(),
                total_value: round(s.total_value),
                cost_basis: round(s.cost_basis),
                unrealized_gain: round(s.unrealized_gain),
                unrealized_gain_pct: s.unrealized_gain_pct.map(round),
                unrealized_gain_net: round(s.unrealized_gain_net),
                unrealized_price_effect: round(s.unrealized_price_effect),
                unrealized_currency_effect: round(s.unrealized_currency_effect),
                realized_gain: round(s.realized_gain),
                realized_gain_net: round(s.realized_gain_net),
                realized_price_effect: round(s.realized_price_effect),
                realized_currency_effect: round(s.realized_currency_effect),
                dividends_gross: round(s.dividends_gross),
                dividend_taxes: round(s.dividend_taxes),
                interest_gross: round(s.interest_gross),
                fees: round(s.fees),
                taxes: round(s.taxes),
                total_liabilities: round(s.total_liabilities),
            },
            roai: RoaiOut {
                roai_total_investment: round(s.roai.roai_total_investment),
                roai_gross_performance: round(s.roai.roai_gross_performance),
                roai_net_performance: round(s.roai.roai_net_performance),
                roai_time_weighted_investment: round(s.roai.roai_time_weighted_investment),
                roai_gross_performance_pct: round(s.roai.roai_gross_performance_pct),
                roai_net_performance_pct: round(s.roai.roai_net_performance_pct),
                roai_net_performance_pct_avg_daily_investment: round(
                    s.roai.roai_net_performance_pct_avg_daily_investment,
                ),
            },
            pp: PpOut {
                pp_ttwror: s.pp.ttwror,
                pp_ttwror_annualized: s.pp.ttwror_annualized,
                pp_irr: s.pp.irr,
                pp_delta: round(s.pp.delta.delta),
                pp_delta_pct: s.pp.delta.delta_pct.map(round),
                pp_capital_gains_on_holdings: round(s.pp.capital_gains_on_holdings),
            },
        }
    }
}

/// A portfolio's headline figures for a period.
///
/// `{id}` is a portfolio id, or `all` for all of your portfolios combined into
/// one ledger (in `currency`, under `method`; lot methods match lots within
/// each portfolio). The period is a preset (`period=1D|WTD|1W|MTD|1M|YTD|1Y|3Y|5Y|MAX`,
/// default MAX) or `from=YYYY-MM-DD&to=YYYY-MM-DD` (both days included); it is
/// (start, end]: the close of the day before its first day is the initial value.
///
/// `period_figures` are the period's statement: initial value, flows in and
/// out, income, realized and unrealized gains, fees, taxes, final value, and
/// the returns. **TWR flow convention:** returns are chained daily as
/// r = (V_end + outflows) / (V_prev + inflows) − 1, i.e. deposits (and
/// securities transferred in) count at the **start** of their day and
/// withdrawals (transfers out) at its **end**; interest and dividends are
/// gains, fees and taxes losses. XIRR is money-weighted (ACT/365). `totals`
/// are since inception at the evaluation date. `roai` are Ghostfolio's
/// return-on-average-investment figures and `pp` Portfolio Performance's
/// (TTWROR, IRR, delta), under their own names. A missing FX rate or price is
/// a 422 naming the pair (or symbol) and the date.
#[utoipa::path(get, path = "/portfolios/{id}/summary", tag = "analytics",
    params(("id" = String, Path, description = "A portfolio id, or `all` for all of your portfolios combined"), PeriodParams),
    responses((status = 200, body = SummaryOut), (status = 404), (status = 422, description = "Unknown period, missing FX rate or price (named with its date)")),
    security(("bearer" = [])))]
pub async fn summary(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<PeriodParams>,
) -> ApiResult<Json<SummaryOut>> {
    let (scope, spec) = (p.scope(&id)?, p.spec()?);
    let answer = pa::summary(&state.ctx, &user, scope, spec).await?;
    Ok(Json(SummaryOut::new(&answer.scope, &answer.value)))
}

/// One holding's headline figures for a period.
#[derive(Debug, Serialize, ToSchema)]
pub struct HoldingSummaryOut {
    /// The holding.
    pub symbol: String,
    #[serde(flatten)]
    pub summary: SummaryOut,
}

/// One holding's figures for a period: the same fields as the summary,
/// computed from that symbol's activities alone (its buys, sells, transfers,
/// splits, dividends, and the fees and taxes about it), valued without cash:
/// a purchase is an inflow at gross + fee, a sale an outflow at gross − fee,
/// dividends are paid out (gross). So `twr` is the holding's time-weighted
/// return, `xirr` its money-weighted return, and the period figures its
/// gains, income, fees and taxes. `{id}` may be `all` (with `portfolios=` for
/// a group). 404 when the portfolios never held or mentioned the symbol.
#[utoipa::path(get, path = "/portfolios/{id}/holdings/{symbol}/summary", tag = "analytics",
    params(
        ("id" = String, Path, description = "A portfolio id, or `all` for all of your portfolios combined"),
        ("symbol" = String, Path, description = "The holding's symbol"),
        PeriodParams),
    responses((status = 200, body = HoldingSummaryOut), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn holding_summary(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path((id, symbol)): Path<(String, String)>,
    ApiQuery(p): ApiQuery<PeriodParams>,
) -> ApiResult<Json<HoldingSummaryOut>> {
    let (scope, spec) = (p.scope(&id)?, p.spec()?);
    let symbol = Symbol::parse(symbol.trim())
        .map_err(|e| ApiError::field("symbol", format!("{symbol:?}: {e}")))?;
    let answer = pa::holding_summary(&state.ctx, &user, scope, symbol.clone(), spec).await?;
    Ok(Json(HoldingSummaryOut {
        symbol: symbol.to_string(),
        summary: SummaryOut::new(&answer.scope, &answer.value),
    }))
}

// ---------------------------------------------------------------- performance

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PerformanceParams {
    /// 1D, WTD, 1W, MTD, 1M, YTD, 1Y, 3Y, 5Y or MAX (default MAX); or give `from` and `to`.
    period: Option<String>,
    /// First day (YYYY-MM-DD), with `to`.
    from: Option<String>,
    /// Last day (included), with `from`.
    to: Option<String>,
    /// 1d (default), 1wk or 1mo: one point per day, or the last day of each week / month.
    interval: Option<String>,
    /// A stored instrument (an index, an ETF…): each point also carries its
    /// price return since the period start (`benchmark_return`).
    benchmark: Option<String>,
    /// `/portfolios/all` only: the reporting currency.
    currency: Option<String>,
    /// `/portfolios/all` only: average, fifo, lifo or hifo.
    method: Option<String>,
    /// `/portfolios/all` only: a group of your portfolios, their ids separated
    /// by commas (`1,3`); default all of them. Any id that is not yours is a 404.
    portfolios: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PerformancePointOut {
    #[schema(value_type = String, format = Date)]
    pub date: Date,
    /// Total value at the close.
    #[schema(value_type = String)]
    pub value: Decimal,
    /// Cumulative external inflows − outflows since inception.
    #[schema(value_type = String)]
    pub net_contributions: Decimal,
    /// Cost basis of the holdings (portfolio method, historical rates).
    #[schema(value_type = String)]
    pub invested: Decimal,
    /// Cumulative TWR since the period start.
    pub twr: f64,
    /// Distance below the running peak of 1 + TWR (positive fraction).
    pub drawdown: f64,
    /// With `benchmark=`: the benchmark's close ÷ its close at the period
    /// start − 1 (null before its first close).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub benchmark_return: Option<Option<f64>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PerformanceOut {
    #[serde(flatten)]
    pub scope: ScopeOut,
    pub period: PeriodOut,
    /// 1d, 1wk or 1mo.
    pub interval: String,
    /// The benchmark instrument, when one was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub benchmark: Option<String>,
    pub points: Vec<PerformancePointOut>,
}

fn interval_name(r: Resolution) -> &'static str {
    match r {
        Resolution::Day => "1d",
        Resolution::Week => "1wk",
        Resolution::Month => "1mo",
    }
}

impl PerformanceOut {
    fn new(scope: &ScopeInfo, s: &PerformanceSeries) -> Self {
        Self {
            scope: ScopeOut::from(scope),
            period: PeriodOut::from(&s.period),
            interval: interval_name(s.resolution).to_owned(),
            benchmark: None,
            points: s
                .points
                .iter()
                .map(|p| PerformancePointOut {
                    date: p.date,
                    value: round(p.value),
                    net_contributions: round(p.net_contributions),
                    invested: round(p.total_investment),
                    twr: p.twr,
                    drawdown: p.drawdown,
                    benchmark_return: None,
                })
                .collect(),
        }
    }

    /// Adds the benchmark's return to the points of the same dates.
    fn with_benchmark(mut self, symbol: &Symbol, points: &[BenchmarkPoint]) -> Self {
        let by_date: std::collections::HashMap<Date, Option<f64>> = points
            .iter()
            .map(|p| (p.date, p.benchmark_return))
            .collect();
        for p in &mut self.points {
            p.benchmark_return = Some(by_date.get(&p.date).copied().flatten());
        }
        self.benchmark = Some(symbol.to_string());
        self
    }
}

/// Value, net contributions, invested cost, cumulative TWR and drawdown per
/// day (`interval=1d`), week (`1wk`, weeks end on Sunday) or month (`1mo`),
/// from the period's reference day to its last day. Stored daily closes are
/// carried forward over weekends and holidays; today uses the latest
/// intraday bar. TWR convention as in the summary: deposits at the start of
/// the day, withdrawals at the end. `{id}` may be `all`. With
/// `benchmark=SYMBOL` each point also has that instrument's price return over
/// the same days, beside the portfolio's TWR.
#[utoipa::path(get, path = "/portfolios/{id}/performance", tag = "analytics",
    params(("id" = String, Path, description = "A portfolio id, or `all`"), PerformanceParams),
    responses((status = 200, body = PerformanceOut), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn performance(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<PerformanceParams>,
) -> ApiResult<Json<PerformanceOut>> {
    let scope = scope(
        &id,
        p.currency.as_deref(),
        p.method.as_deref(),
        p.portfolios.as_deref(),
    )?;
    let spec = parse_period(
        p.period.as_deref(),
        p.from.as_deref(),
        p.to.as_deref(),
        PeriodPreset::Max,
    )?;
    let resolution = parse_resolution(p.interval.as_deref())?;
    let benchmark = p
        .benchmark
        .as_deref()
        .map(|s| {
            Symbol::parse(s.trim()).map_err(|e| ApiError::field("benchmark", format!("{s:?}: {e}")))
        })
        .transpose()?;
    let answer = pa::performance(&state.ctx, &user, scope.clone(), spec, resolution).await?;
    let out = PerformanceOut::new(&answer.scope, &answer.value);
    Ok(Json(match benchmark {
        Some(symbol) => {
            let compared =
                pa::benchmark(&state.ctx, &user, scope, spec, resolution, &symbol).await?;
            out.with_benchmark(&symbol, &compared.value)
        }
        None => out,
    }))
}

// ---------------------------------------------------------------- returns

/// One year of the returns table.
#[derive(Debug, Serialize, ToSchema)]
pub struct YearReturnsOut {
    pub year: i16,
    /// January … December: the month's chained TWR (null where the period has
    /// no day of that month).
    pub months: Vec<Option<f64>>,
    /// The year's chained TWR (over the part of it inside the period).
    pub year_return: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnsOut {
    #[serde(flatten)]
    pub scope: ScopeOut,
    pub years: Vec<YearReturnsOut>,
}

/// Monthly and yearly returns: the period's daily TWR chained by calendar
/// month and year (a year × month table). `{id}` may be `all`.
#[utoipa::path(get, path = "/portfolios/{id}/returns", tag = "analytics",
    params(("id" = String, Path, description = "A portfolio id, or `all`"), PeriodParams),
    responses((status = 200, body = ReturnsOut), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn returns(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<PeriodParams>,
) -> ApiResult<Json<ReturnsOut>> {
    let (scope, spec) = (p.scope(&id)?, p.spec()?);
    let answer = pa::returns_table(&state.ctx, &user, scope, spec).await?;
    Ok(Json(ReturnsOut {
        scope: ScopeOut::from(&answer.scope),
        years: answer
            .value
            .iter()
            .map(|y| YearReturnsOut {
                year: y.year,
                months: y.months.to_vec(),
                year_return: y.year_return,
            })
            .collect(),
    }))
}

// ---------------------------------------------------------------- contributions

/// One holding's part of the period's return.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContributionOut {
    pub symbol: String,
    /// Value at the end − value at the start + sale proceeds + net income −
    /// purchases incl. costs − stand-alone fees and taxes, in the base currency.
    #[schema(value_type = String)]
    pub gain: Decimal,
    /// Gain ÷ the portfolio's average capital of the period.
    pub contribution: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContributionsOut {
    #[serde(flatten)]
    pub scope: ScopeOut,
    pub period: PeriodOut,
    /// Average capital of the period (Modified Dietz denominator).
    #[schema(value_type = String)]
    pub average_capital: Decimal,
    /// Σ gains ÷ average capital.
    pub modified_dietz_return: Option<f64>,
    /// Largest contribution first: the top contributors lead, the bottom ones end.
    pub holdings: Vec<ContributionOut>,
}

/// Each holding's contribution to the period's return (top and bottom
/// contributors), as a Modified Dietz share of the average capital. `{id}`
/// may be `all`.
#[utoipa::path(get, path = "/portfolios/{id}/contributions", tag = "analytics",
    params(("id" = String, Path, description = "A portfolio id, or `all`"), PeriodParams),
    responses((status = 200, body = ContributionsOut), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn contributions(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<PeriodParams>,
) -> ApiResult<Json<ContributionsOut>> {
    let (scope, spec) = (p.scope(&id)?, p.spec()?);
    let answer = pa::contributions(&state.ctx, &user, scope, spec).await?;
    let r = &answer.value;
    Ok(Json(ContributionsOut {
        scope: ScopeOut::from(&answer.scope),
        period: PeriodOut::from(&r.period),
        average_capital: round(r.average_capital),
        modified_dietz_return: r.modified_dietz_return,
        holdings: r
            .holdings
            .iter()
            .map(|c| ContributionOut {
                symbol: c.symbol.to_string(),
                gain: round(c.gain),
                contribution: c.contribution,
            })
            .collect(),
    }))
}

// ---------------------------------------------------------------- holdings

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HoldingsParams {
    /// Holdings at the close of this date (YYYY-MM-DD); default today.
    at: Option<String>,
    /// `/portfolios/all` only: the reporting currency.
    currency: Option<String>,
    /// `/portfolios/all` only: average, fifo, lifo or hifo.
    method: Option<String>,
    /// `/portfolios/all` only: a group of your portfolios, their ids separated
    /// by commas (`1,3`); default all of them. Any id that is not yours is a 404.
    portfolios: Option<String>,
}

/// Units still held from one purchase (lot methods; for average cost, the
/// position as one lot).
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenLotOut {
    pub account: Option<String>,
    #[schema(value_type = String, format = Date)]
    pub acquired: Date,
    #[schema(value_type = String)]
    pub quantity: Decimal,
    /// Base currency, excluding costs.
    #[schema(value_type = String)]
    pub cost: Decimal,
    #[schema(value_type = String)]
    pub cost_incl_costs: Decimal,
}

/// One position. Price, average cost, cost basis, market value and
/// unrealized gain are in the position's quote `currency`; the `*_base`
/// fields, `realized_gain`, `fees`, `taxes` and `dividends` in the portfolio's
/// base currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct HoldingOut {
    pub symbol: String,
    /// The instrument's quote currency.
    pub currency: String,
    #[schema(value_type = String)]
    pub quantity: Decimal,
    /// Cost per unit held, excluding fees (portfolio method).
    #[schema(value_type = String)]
    pub average_cost: Decimal,
    #[schema(value_type = String)]
    pub cost_basis: Decimal,
    /// The close used (last known on or before the date; today: the latest bar).
    #[schema(value_type = Option<String>)]
    pub last_price: Option<Decimal>,
    #[schema(value_type = Option<String>)]
    pub market_value: Option<Decimal>,
    #[schema(value_type = Option<String>)]
    pub unrealized_gain: Option<Decimal>,
    /// Unrealized gain ÷ cost basis, as a fraction (0.1 = 10 %).
    #[schema(value_type = Option<String>)]
    pub unrealized_gain_pct: Option<Decimal>,
    #[schema(value_type = String)]
    pub realized_gain: Decimal,
    /// Net proceeds − cost including acquisition costs of the units sold (base).
    #[schema(value_type = String)]
    pub realized_gain_net: Decimal,
    #[schema(value_type = String)]
    pub fees: Decimal,
    #[schema(value_type = String)]
    pub dividends: Decimal,
    #[schema(value_type = String)]
    pub taxes: Decimal,
    /// Each purchase at its own date's rate.
    #[schema(value_type = String)]
    pub cost_basis_base: Decimal,
    #[schema(value_type = String)]
    pub cost_basis_incl_costs_base: Decimal,
    /// At the date's rate.
    #[schema(value_type = String)]
    pub market_value_base: Decimal,
    #[schema(value_type = String)]
    pub unrealized_gain_base: Decimal,
    #[schema(value_type = Option<String>)]
    pub unrealized_gain_pct_base: Option<Decimal>,
    /// Market value − cost basis including acquisition costs (base).
    #[schema(value_type = String)]
    pub unrealized_gain_net_base: Decimal,
    /// Of the unrealized gain (base): the part from the price.
    #[schema(value_type = String)]
    pub price_effect: Decimal,
    /// Of the unrealized gain (base): the part from the exchange rate.
    #[schema(value_type = String)]
    pub currency_effect: Decimal,
    /// Share of the securities' market value.
    #[schema(value_type = Option<String>)]
    pub weight: Option<Decimal>,
    pub open_lots: Vec<OpenLotOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CashOut {
    pub currency: String,
    #[schema(value_type = String)]
    pub balance: Decimal,
    #[schema(value_type = String)]
    pub balance_base: Decimal,
}

impl From<&CashBalanceView> for CashOut {
    fn from(c: &CashBalanceView) -> Self {
        Self {
            currency: c.currency.to_string(),
            balance: round(c.amount),
            balance_base: round(c.amount_in_base),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HoldingsOut {
    /// The portfolio (null for `/portfolios/all`).
    pub portfolio_id: Option<i64>,
    pub base_currency: String,
    /// The close whose holdings these are.
    #[schema(value_type = String, format = Date)]
    pub as_of: Date,
    pub cost_basis_method: String,
    pub portfolios: Vec<PortfolioRef>,
    pub positions: Vec<HoldingOut>,
    pub cash: Vec<CashOut>,
}

impl HoldingsOut {
    fn new(scope: &ScopeInfo, combined: bool, h: &HoldingsView) -> Self {
        let out = ScopeOut::from(scope);
        let mut positions: Vec<HoldingOut> = h
            .holdings
            .iter()
            .map(|r| {
                let cost_quote = r.average_cost_quote * r.quantity;
                let value_quote = r.market_price_quote.map(|p| p * r.quantity);
                let gain_quote = value_quote.map(|v| v - cost_quote);
                HoldingOut {
                    symbol: r.symbol.to_string(),
                    currency: r.quote_currency.to_string(),
                    quantity: round(r.quantity),
                    average_cost: round(r.average_cost_quote),
                    cost_basis: round(cost_quote),
                    last_price: r.market_price_quote.map(round),
                    market_value: value_quote.map(round),
                    unrealized_gain: gain_quote.map(round),
                    unrealized_gain_pct: gain_quote
                        .filter(|_| !cost_quote.is_zero())
                        .map(|g| round(g / cost_quote)),
                    realized_gain: round(r.realized_gain),
                    realized_gain_net: round(r.realized_gain_net),
                    fees: round(r.fees),
                    dividends: round(r.dividends_gross),
                    taxes: round(r.taxes),
                    cost_basis_base: round(r.cost_basis),
                    cost_basis_incl_costs_base: round(r.cost_basis_incl_costs),
                    market_value_base: round(r.market_value),
                    unrealized_gain_base: round(r.unrealized_gain),
                    unrealized_gain_pct_base: r.unrealized_gain_pct.map(round),
                    unrealized_gain_net_base: round(r.unrealized_gain_net),
                    price_effect: round(r.unrealized_price_effect),
                    currency_effect: round(r.unrealized_currency_effect),
                    weight: r.weight.map(round),
                    open_lots: r
                        .open_lots
                        .iter()
                        .map(|l| OpenLotOut {
                            account: l.account.clone(),
                            acquired: l.acquired,
                            quantity: round(l.quantity),
                            cost: round(l.cost),
                            cost_incl_costs: round(l.cost_incl_costs),
                        })
                        .collect(),
                }
            })
            .collect();
        positions.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        Self {
            portfolio_id: (!combined)
                .then(|| scope.portfolios.first().map(|(id, _)| id.0))
                .flatten(),
            base_currency: out.base_currency,
            as_of: h.date,
            cost_basis_method: out.cost_basis_method,
            portfolios: out.portfolios,
            positions,
            cash: h.cash.iter().map(CashOut::from).collect(),
        }
    }
}

/// Holdings at the close of a date (`at`, default today): quantity, average
/// cost, cost basis, last price, market value, unrealized gain and %, per
/// instrument in its quote currency, with the same in the base currency, the
/// price and currency effects, weight and open lots; cash per currency. The
/// cost basis follows the portfolio's cost-basis method. `{id}` may be `all`.
#[utoipa::path(get, path = "/portfolios/{id}/holdings", tag = "portfolios",
    params(("id" = String, Path, description = "A portfolio id, or `all`"), HoldingsParams),
    responses((status = 200, body = HoldingsOut), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn holdings(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<HoldingsParams>,
) -> ApiResult<Json<HoldingsOut>> {
    let scope = scope(
        &id,
        p.currency.as_deref(),
        p.method.as_deref(),
        p.portfolios.as_deref(),
    )?;
    let at =
        p.at.as_deref()
            .map(|raw| {
                raw.trim().parse::<Date>().map_err(|_| {
                    ApiError::field("at", format!("{raw:?} is not a date (YYYY-MM-DD)"))
                })
            })
            .transpose()?;
    let combined = scope.is_combined();
    let answer = pa::holdings(&state.ctx, &user, scope, at).await?;
    Ok(Json(HoldingsOut::new(
        &answer.scope,
        combined,
        &answer.value,
    )))
}

// ---------------------------------------------------------------- allocation

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AllocationParams {
    /// instrument (default), kind, currency or exchange.
    by: Option<String>,
    /// `/portfolios/all` only: the reporting currency.
    currency: Option<String>,
    /// `/portfolios/all` only: average, fifo, lifo or hifo.
    method: Option<String>,
    /// `/portfolios/all` only: a group of your portfolios, their ids separated
    /// by commas (`1,3`); default all of them. Any id that is not yours is a 404.
    portfolios: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SliceOut {
    /// The symbol, kind, currency or exchange (`unknown` when not described; `cash`).
    pub key: String,
    #[schema(value_type = String)]
    pub value: Decimal,
    /// Share of the total (null when the total is 0).
    #[schema(value_type = Option<String>)]
    pub weight: Option<Decimal>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AllocationOut {
    #[serde(flatten)]
    pub scope: ScopeOut,
    /// instrument, kind, currency or exchange.
    pub by: String,
    pub slices: Vec<SliceOut>,
}

/// Market value at the evaluation date grouped by instrument, kind, currency
/// or exchange (cash is its own slice when the ledger records deposits).
#[utoipa::path(get, path = "/portfolios/{id}/allocation", tag = "analytics",
    params(("id" = String, Path, description = "A portfolio id, or `all`"), AllocationParams),
    responses((status = 200, body = AllocationOut), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn allocation(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<AllocationParams>,
) -> ApiResult<Json<AllocationOut>> {
    let scope = scope(
        &id,
        p.currency.as_deref(),
        p.method.as_deref(),
        p.portfolios.as_deref(),
    )?;
    let dimension = parse_dimension(p.by.as_deref())?;
    let answer = pa::allocation(&state.ctx, &user, scope, dimension).await?;
    let slices: &Vec<AllocationSlice> = &answer.value;
    Ok(Json(AllocationOut {
        scope: ScopeOut::from(&answer.scope),
        by: serde_json::to_value(dimension)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        slices: slices
            .iter()
            .map(|s| SliceOut {
                key: s.key.clone(),
                value: round(s.value),
                weight: s.weight.map(round),
            })
            .collect(),
    }))
}

// ---------------------------------------------------------------- income

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct IncomeParams {
    /// month (default) or year.
    group: Option<String>,
    /// Only income inside this period (preset), or give `from` and `to`.
    period: Option<String>,
    from: Option<String>,
    to: Option<String>,
    /// `/portfolios/all` only: the reporting currency.
    currency: Option<String>,
    /// `/portfolios/all` only: average, fifo, lifo or hifo.
    method: Option<String>,
    /// `/portfolios/all` only: a group of your portfolios, their ids separated
    /// by commas (`1,3`); default all of them. Any id that is not yours is a 404.
    portfolios: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IncomeBucketOut {
    /// `YYYY-MM` or `YYYY`.
    pub period: String,
    #[schema(value_type = String)]
    pub dividends_gross: Decimal,
    #[schema(value_type = String)]
    pub dividend_taxes: Decimal,
    #[schema(value_type = String)]
    pub interest_gross: Decimal,
    #[schema(value_type = String)]
    pub interest_taxes: Decimal,
    /// Gross − taxes.
    #[schema(value_type = String)]
    pub net: Decimal,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IncomeOut {
    #[serde(flatten)]
    pub scope: ScopeOut,
    /// month or year.
    pub group: String,
    pub buckets: Vec<IncomeBucketOut>,
}

/// Dividends and interest per month or year, in the base currency at each
/// payment's date.
#[utoipa::path(get, path = "/portfolios/{id}/income", tag = "analytics",
    params(("id" = String, Path, description = "A portfolio id, or `all`"), IncomeParams),
    responses((status = 200, body = IncomeOut), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn income(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<IncomeParams>,
) -> ApiResult<Json<IncomeOut>> {
    let scope = scope(
        &id,
        p.currency.as_deref(),
        p.method.as_deref(),
        p.portfolios.as_deref(),
    )?;
    let granularity = parse_granularity(p.group.as_deref())?;
    let period = PeriodParams {
        period: p.period,
        from: p.from,
        to: p.to,
        currency: None,
        method: None,
        portfolios: None,
    }
    .optional_spec()?;
    let answer = pa::income(&state.ctx, &user, scope, granularity, period).await?;
    let buckets: &Vec<IncomeBucket> = &answer.value;
    Ok(Json(IncomeOut {
        scope: ScopeOut::from(&answer.scope),
        group: serde_json::to_value(granularity)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        buckets: buckets
            .iter()
            .map(|b| IncomeBucketOut {
                period: b.period.clone(),
                dividends_gross: round(b.dividends_gross),
                dividend_taxes: round(b.dividend_taxes),
                interest_gross: round(b.interest_gross),
                interest_taxes: round(b.interest_taxes),
                net: round(b.net),
            })
            .collect(),
    }))
}

// ---------------------------------------------------------------- realized

#[derive(Debug, Serialize, ToSchema)]
pub struct RealizedLotOut {
    pub symbol: String,
    /// The portfolio (securities account) the units were sold from, in `/portfolios/all`.
    pub account: Option<String>,
    /// When the units were bought (average cost: when the position was opened).
    #[schema(value_type = String, format = Date)]
    pub bought: Date,
    #[schema(value_type = String, format = Date)]
    pub sold: Date,
    #[schema(value_type = String)]
    pub quantity: Decimal,
    /// Cost excluding fees and taxes (base, at the purchase rates).
    #[schema(value_type = String)]
    pub cost: Decimal,
    #[schema(value_type = String)]
    pub cost_incl_costs: Decimal,
    /// Gross proceeds (base, at the sale's rate).
    #[schema(value_type = String)]
    pub proceeds: Decimal,
    /// Proceeds after the sale's fees and taxes.
    #[schema(value_type = String)]
    pub proceeds_net: Decimal,
    /// proceeds − cost.
    #[schema(value_type = String)]
    pub gain: Decimal,
    /// proceeds_net − cost_incl_costs: after the fees and taxes of the
    /// purchase and the sale.
    #[schema(value_type = String)]
    pub gain_net: Decimal,
    /// Of the gain: the part from the price, proceeds − the units'
    /// quote-currency cost at the sale date's rate.
    #[schema(value_type = String)]
    pub price_effect: Decimal,
    /// Of the gain: the part from the exchange rate (gain − price_effect).
    #[schema(value_type = String)]
    pub currency_effect: Decimal,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RealizedOut {
    #[serde(flatten)]
    pub scope: ScopeOut,
    pub lots: Vec<RealizedLotOut>,
    /// Σ gain.
    #[schema(value_type = String)]
    pub total_gain: Decimal,
    /// Σ gain_net.
    #[schema(value_type = String)]
    pub total_gain_net: Decimal,
    /// Σ price_effect.
    #[schema(value_type = String)]
    pub total_price_effect: Decimal,
    /// Σ currency_effect.
    #[schema(value_type = String)]
    pub total_currency_effect: Decimal,
}

/// Closed lots: each sale matched to the purchases it consumed under the
/// portfolio's method, with buy and sell dates, in sale order. With a period
/// (`period` or `from`/`to`), only sales inside it.
#[utoipa::path(get, path = "/portfolios/{id}/realized", tag = "analytics",
    params(("id" = String, Path, description = "A portfolio id, or `all`"), PeriodParams),
    responses((status = 200, body = RealizedOut), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn realized(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<PeriodParams>,
) -> ApiResult<Json<RealizedOut>> {
    let scope = p.scope(&id)?;
    let period = p.optional_spec()?;
    let answer = pa::realized(&state.ctx, &user, scope, period).await?;
    let lots: &Vec<RealizedLot> = &answer.value;
    Ok(Json(RealizedOut {
        scope: ScopeOut::from(&answer.scope),
        total_gain: round(lots.iter().map(|l| l.lot.gain).sum()),
        total_gain_net: round(lots.iter().map(|l| l.lot.gain_net).sum()),
        total_price_effect: round(lots.iter().map(|l| l.lot.price_effect).sum()),
        total_currency_effect: round(lots.iter().map(|l| l.lot.currency_effect).sum()),
        lots: lots
            .iter()
            .map(|l| RealizedLotOut {
                symbol: l.symbol.to_string(),
                account: l.lot.account.clone(),
                bought: l.lot.acquired,
                sold: l.lot.disposed,
                quantity: round(l.lot.quantity),
                cost: round(l.lot.cost),
                cost_incl_costs: round(l.lot.cost_incl_costs),
                proceeds: round(l.lot.proceeds),
                proceeds_net: round(l.lot.proceeds_net),
                gain: round(l.lot.gain),
                gain_net: round(l.lot.gain_net),
                price_effect: round(l.lot.price_effect),
                currency_effect: round(l.lot.currency_effect),
            })
            .collect(),
    }))
}

/// The method names of the API.
pub fn method_name(m: CostBasisMethod) -> &'static str {
    method_as_str(m)
}
