//! Named figures: every figure of `docs/metrics.md`, evaluated by name, with
//! an optional `@argument` (a date, `YYYY-MM` or `YYYY`). This is how the
//! reference cases are checked, through the same functions the API calls.

use super::{
    AnalyticsError, AnalyticsResult, Inputs,
    activity::{Activity, ActivityKind},
    cases::Case,
    day::{date_of, day_of},
    ledger::Ledger,
    lots::CostBasisMethod,
    period::Period,
    pp::{self, TRADE_METHOD},
    risk::{max_drawdown, volatility},
    roai::{RoaiFigures, RoaiHolding, portfolio_figures},
    statement::{TotalsScope, activity_totals, period_capital_gains, period_irr},
    twr::{TwrSeries, ttwror},
    valuation::{CashTreatment, ValuationSeries},
    xirr::xirr,
};
use jiff::civil::Date;
use rust_decimal::{Decimal, prelude::ToPrimitive};
use std::cell::OnceCell;

/// A computed figure: exact money (or a ratio of money), or an `f64` rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FigureValue {
    Exact(Decimal),
    Approx(f64),
}

impl FigureValue {
    pub fn as_f64(self) -> f64 {
        match self {
            Self::Exact(d) => d.to_f64().unwrap_or(f64::NAN),
            Self::Approx(f) => f,
        }
    }

    /// |self − expected|, exactly when both are decimals.
    pub fn distance(self, expected: Decimal) -> f64 {
        match self {
            Self::Exact(d) => (d - expected).abs().to_f64().unwrap_or(f64::INFINITY),
            Self::Approx(f) => (f - expected.to_f64().unwrap_or(f64::NAN)).abs(),
        }
    }
}

impl std::fmt::Display for FigureValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exact(d) => {
                let rounded = d.round_dp(12).normalize();
                write!(f, "{rounded}")
            }
            Self::Approx(x) => write!(f, "{x}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FigureError {
    /// The name (before any `@`) is not a figure we compute.
    #[error("unsupported figure {0:?}")]
    Unsupported(String),
    /// A known figure that could not be computed here.
    #[error("{0}")]
    Failed(String),
}

impl From<AnalyticsError> for FigureError {
    fn from(e: AnalyticsError) -> Self {
        Self::Failed(e.to_string())
    }
}

type FigureResult = Result<FigureValue, FigureError>;

/// Every base name [`FigureContext::evaluate`] knows.
pub const FIGURE_NAMES: &[&str] = &[
    "quantity",
    "average_price",
    "average_price_fifo",
    "market_price",
    "market_price_base",
    "current_value",
    "total_investment",
    "total_investment_asset_ccy",
    "total_investment_eval_fx",
    "realized_gain",
    "realized_gain_fifo",
    "realized_gain_lifo",
    "realized_gain_hifo",
    "unrealized_gain",
    "unrealized_gain_fifo",
    "unrealized_gain_lifo",
    "unrealized_gain_hifo",
    "realized_gain_net",
    "realized_gain_net_fifo",
    "realized_gain_net_lifo",
    "realized_gain_net_hifo",
    "unrealized_gain_net",
    "unrealized_gain_net_fifo",
    "unrealized_gain_net_lifo",
    "unrealized_gain_net_hifo",
    "cost_basis_ma",
    "cost_basis_fifo",
    "cost_basis_lifo",
    "cost_basis_hifo",
    "cost_basis_ma_incl_costs",
    "cost_basis_fifo_incl_costs",
    "capital_gains_on_holdings_ma",
    "capital_gains_on_holdings_fifo",
    "capital_gains_on_holdings_ma_pct",
    "capital_gains_on_holdings_fifo_pct",
    "gross_performance",
    "gross_performance_eval_fx",
    "net_performance",
    "net_performance_eval_fx",
    "time_weighted_investment",
    "time_weighted_investment_eval_fx",
    "gross_performance_pct",
    "gross_performance_pct_eval_fx",
    "net_performance_pct",
    "net_performance_pct_eval_fx",
    "net_performance_pct_avg_daily_investment",
    "net_performance_change_since",
    "investment_flow",
    "net_investment_in_month",
    "net_investment_in_year",
    "fees",
    "fees_asset_ccy",
    "taxes",
    "dividends",
    "dividends_base",
    "dividend_taxes",
    "interest",
    "total_interest",
    "total_liabilities",
    "cash_balance",
    "value",
    "xirr",
    "irr",
    "ttwror",
    "ttwror_daily",
    "ttwror_annualized",
    "max_drawdown",
    "volatility",
    "delta",
    "delta_pct",
    "trade_return",
    "period_initial_value",
    "period_final_value",
    "period_unrealized_gains",
    "period_realized_gains",
    "period_earnings",
    "period_dividends",
    "period_interest",
    "period_fees",
    "period_taxes",
    "period_transfers",
    "period_currency_gains",
    "period_realized_price_effect",
    "period_realized_currency_effect",
    "period_unrealized_price_effect",
    "period_unrealized_currency_effect",
    "period_invested_capital",
    "simple_return_on_cost",
];

/// Evaluates figures by name over one portfolio, caching shared work.
pub struct FigureContext<'a> {
    inputs: Inputs<'a>,
    period: Period,
    cash_flows: Vec<(Date, Decimal)>,
    holdings: OnceCell<Result<Vec<RoaiHolding<'a>>, AnalyticsError>>,
    valuation: OnceCell<Result<ValuationSeries, AnalyticsError>>,
}

impl<'a> FigureContext<'a> {
    /// `period_start` is the reference close of the reporting period
    /// (default: since inception). `activities` supplies bare `CASH_FLOW`s for `xirr`.
    pub fn new(
        inputs: Inputs<'a>,
        period_start: Option<Date>,
        activities: &[Activity],
    ) -> AnalyticsResult<Self> {
        let ledger = inputs.ledger;
        let end = ledger.evaluation_date();
        let inception = ledger.first_date().map_or(end, |d| date_of(day_of(d) - 1));
        let period = Period::new(period_start.unwrap_or(inception).min(end), end)?;
        let cash_flows = activities
            .iter()
            .filter_map(|a| match a.kind {
                ActivityKind::CashFlow { amount } => Some((a.date, amount)),
                _ => None,
            })
            .collect();
        Ok(Self {
            inputs,
            period,
            cash_flows,
            holdings: OnceCell::new(),
            valuation: OnceCell::new(),
        })
    }

    fn ledger(&self) -> &'a Ledger {
        self.inputs.ledger
    }

    fn holdings(&self) -> Result<&[RoaiHolding<'a>], FigureError> {
        self.holdings
            .get_or_init(|| {
                self.ledger()
                    .holdings_symbols()
                    .map(|s| RoaiHolding::new(self.inputs, &s.symbol))
                    .collect()
            })
            .as_deref()
            .map_err(|e| FigureError::Failed(e.to_string()))
    }

    fn single_holding(&self) -> Result<Option<&RoaiHolding<'a>>, FigureError> {
        match self.holdings()? {
            [] => Ok(None),
            [one] => Ok(Some(one)),
            many => Err(AnalyticsError::NotASingleHolding(many.len()).into()),
        }
    }

    fn valuation(&self) -> Result<&ValuationSeries, FigureError> {
        self.valuation
            .get_or_init(|| self.inputs.valuation(CashTreatment::Auto))
            .as_ref()
            .map_err(|e| FigureError::Failed(e.to_string()))
    }

    fn twr(&self) -> Result<TwrSeries, FigureError> {
        Ok(ttwror(self.valuation()?, &self.period))
    }

    fn roai(&self, date: Date) -> Result<RoaiFigures, FigureError> {
        Ok(portfolio_figures(self.holdings()?, date, false)?)
    }

    fn roai_eval_fx(&self, date: Date) -> Result<RoaiFigures, FigureError> {
        Ok(portfolio_figures(self.holdings()?, date, true)?)
    }

    /// Σ over holdings of a figure of each one's history under a lot method,
    /// in the base currency.
    fn by_method(
        &self,
        method: CostBasisMethod,
        date: Date,
        pick: impl Fn(&super::PositionState, Decimal) -> Decimal,
    ) -> FigureResult {
        let base = self.ledger().base_currency();
        let mut total = Decimal::ZERO;
        for h in self.holdings()? {
            let symbol = &self.ledger().symbol_at(h.history_in_base().symbol).symbol;
            let history = self.inputs.position(symbol, base, method)?;
            let value = h.figures_at(date)?.current_value;
            total += pick(&history.at(date), value);
        }
        Ok(FigureValue::Exact(total))
    }

    /// Evaluates `name` (e.g. `net_performance`, `ttwror@2012-01-03`).
    pub fn evaluate(&self, name: &str) -> FigureResult {
        let (base, arg) = match name.split_once('@') {
            Some((b, a)) => (b, Some(a)),
            None => (name, None),
        };
        if !FIGURE_NAMES.contains(&base) {
            return Err(FigureError::Unsupported(name.to_owned()));
        }
        let end = self.ledger().evaluation_date();
        let at = || -> Result<Date, FigureError> {
            match arg {
                None => Ok(end),
                Some(a) => a
                    .parse::<Date>()
                    .map_err(|e| FigureError::Failed(format!("{name}: bad date {a:?}: {e}"))),
            }
        };
        let needs_arg = || -> Result<Date, FigureError> {
            if arg.is_none() {
                return Err(FigureError::Failed(format!(
                    "{name} needs an @date argument"
                )));
            }
            at()
        };
        let exact = |d: Decimal| Ok(FigureValue::Exact(d));
        let approx = |f: f64| Ok(FigureValue::Approx(f));
        let option = |d: Option<Decimal>, what: &str| match d {
            Some(d) => Ok(FigureValue::Exact(d)),
            None => Err(FigureError::Failed(format!(
                "{what} is undefined (division by zero)"
            ))),
        };
        let base_ccy = self.ledger().base_currency();
        match base {
            "quantity" => exact(match self.single_holding()? {
                Some(h) => h.figures_at(at()?)?.quantity,
                None => Decimal::ZERO,
            }),
            "average_price"
            | "market_price"
            | "market_price_base"
            | "total_investment_asset_ccy" => {
                let h = self
                    .single_holding()?
                    .ok_or(AnalyticsError::NotASingleHolding(0))?;
                let f = h.figures_at(at()?)?;
                match base {
                    "average_price" => exact(f.average_price),
                    "market_price" => option(f.market_price, "market price"),
                    "market_price_base" => {
                        let price = f
                            .market_price
                            .ok_or_else(|| FigureError::Failed("no market price".into()))?;
                        let info = self.ledger().symbol_at(h.history_in_base().symbol);
                        let rate = super::fx::rate_or_error(
                            self.inputs.fx,
                            info.quote_currency,
                            base_ccy,
                            f.date,
                        )?;
                        exact(price * rate)
                    }
                    _ => exact(f.total_investment_asset_ccy),
                }
            }
            "average_price_fifo" => {
                let h = self
                    .single_holding()?
                    .ok_or(AnalyticsError::NotASingleHolding(0))?;
                let ledger = self.ledger();
                let info = ledger.symbol_at(h.history_in_base().symbol);
                let state = self
                    .inputs
                    .position(&info.symbol, info.quote_currency, CostBasisMethod::Fifo)?
                    .at(at()?);
                option(
                    state.lot_cost_basis.checked_div(state.quantity),
                    "average price",
                )
            }
            "current_value" => exact(self.roai(at()?)?.current_value),
            "total_investment" => exact(self.roai(at()?)?.total_investment),
            "gross_performance" => exact(self.roai(at()?)?.gross_performance),
            "net_performance" => exact(self.roai(at()?)?.net_performance),
            "time_weighted_investment" => exact(self.roai(at()?)?.time_weighted_investment),
            "gross_performance_pct" => exact(self.roai(at()?)?.gross_performance_pct),
            "net_performance_pct" => {
                let f = self.roai(at()?)?;
                exact(if arg.is_some() {
                    f.net_performance_pct_chart
                } else {
                    f.net_performance_pct
                })
            }
            "net_performance_pct_avg_daily_investment" => {
                exact(self.roai(at()?)?.net_performance_pct_avg_daily_investment)
            }
            "total_investment_eval_fx" => exact(self.roai_eval_fx(at()?)?.total_investment),
            "gross_performance_eval_fx" => exact(self.roai_eval_fx(at()?)?.gross_performance),
            "net_performance_eval_fx" => exact(self.roai_eval_fx(at()?)?.net_performance),
            "time_weighted_investment_eval_fx" => {
                exact(self.roai_eval_fx(at()?)?.time_weighted_investment)
            }
            "gross_performance_pct_eval_fx" => {
                exact(self.roai_eval_fx(at()?)?.gross_performance_pct)
            }
            "net_performance_pct_eval_fx" => exact(self.roai_eval_fx(at()?)?.net_performance_pct),
            "realized_gain" => exact(self.roai(at()?)?.realized_gain),
            "net_performance_change_since" => {
                let reference = needs_arg()?;
                exact(self.roai(end)?.net_performance - self.roai(reference)?.net_performance)
            }
            "investment_flow" => {
                let day = needs_arg()?;
                let before = date_of(day_of(day) - 1);
                exact(self.roai(day)?.total_investment - self.roai(before)?.total_investment)
            }
            "net_investment_in_month" | "net_investment_in_year" => {
                let arg =
                    arg.ok_or_else(|| FigureError::Failed(format!("{name} needs an argument")))?;
                let (first, last) = month_or_year(arg, base == "net_investment_in_month")
                    .ok_or_else(|| FigureError::Failed(format!("{name}: bad argument {arg:?}")))?;
                let before = date_of(day_of(first) - 1);
                if before >= end {
                    return exact(Decimal::ZERO);
                }
                let last = last.min(end);
                exact(self.roai(last)?.total_investment - self.roai(before)?.total_investment)
            }
            "realized_gain_fifo" | "realized_gain_lifo" | "realized_gain_hifo" => {
                let method = method_suffix(base);
                self.by_method(method, at()?, |s, _| s.realized_gain_by(method))
            }
            "unrealized_gain"
            | "unrealized_gain_fifo"
            | "unrealized_gain_lifo"
            | "unrealized_gain_hifo" => {
                let method = method_suffix(base);
                self.by_method(method, at()?, |s, value| value - s.cost_basis_by(method))
            }
            "realized_gain_net"
            | "realized_gain_net_fifo"
            | "realized_gain_net_lifo"
            | "realized_gain_net_hifo" => {
                let method = method_suffix(base);
                self.by_method(method, at()?, |s, _| s.realized_gain_net_by(method))
            }
            "unrealized_gain_net"
            | "unrealized_gain_net_fifo"
            | "unrealized_gain_net_lifo"
            | "unrealized_gain_net_hifo" => {
                let method = method_suffix(base);
                self.by_method(method, at()?, |s, value| {
                    s.unrealized_gain_net_by(method, value)
                })
            }
            "cost_basis_ma" | "cost_basis_fifo" | "cost_basis_lifo" | "cost_basis_hifo" => {
                let method = method_suffix(base);
                self.by_method(method, at()?, |s, _| s.cost_basis_by(method))
            }
            "cost_basis_ma_incl_costs" | "cost_basis_fifo_incl_costs" => {
                let method = method_suffix(base);
                self.by_method(method, at()?, |s, _| s.cost_basis_incl_costs_by(method))
            }
            "capital_gains_on_holdings_ma" | "capital_gains_on_holdings_fifo" => {
                let method = method_suffix(base);
                self.by_method(method, at()?, |s, value| {
                    pp::capital_gains_on_holdings(value, s.cost_basis_incl_costs_by(method)).gain
                })
            }
            "capital_gains_on_holdings_ma_pct" | "capital_gains_on_holdings_fifo_pct" => {
                let method = method_suffix(base);
                let date = at()?;
                let gain = self.by_method(method, date, |s, value| {
                    value - s.cost_basis_incl_costs_by(method)
                })?;
                let cost =
                    self.by_method(method, date, |s, _| s.cost_basis_incl_costs_by(method))?;
                match (gain, cost) {
                    (FigureValue::Exact(g), FigureValue::Exact(c)) => {
                        option(g.checked_div(c), "capital gains %")
                    }
                    _ => Err(FigureError::Failed("capital gains %".into())),
                }
            }
            "dividends" => {
                // In the dividends' own currency when they share one
                // (Ghostfolio reports `dividend` in the asset's currency),
                // else in the base currency.
                let mut currencies = self.ledger().entries().iter().filter_map(|e| match e.kind {
                    ActivityKind::Dividend { currency, .. } => Some(currency),
                    _ => None,
                });
                let currency = match currencies.next() {
                    Some(first) if currencies.all(|c| c == first) => first,
                    _ => base_ccy,
                };
                let t =
                    activity_totals(&self.inputs, currency, None, at()?, TotalsScope::Everything)?;
                exact(t.dividends)
            }
            "fees" | "taxes" | "dividends_base" | "dividend_taxes" | "interest"
            | "total_interest" | "total_liabilities" => {
                let t =
                    activity_totals(&self.inputs, base_ccy, None, at()?, TotalsScope::Everything)?;
                exact(match base {
                    "fees" => t.fees(),
                    "taxes" => t.taxes(),
                    "dividends_base" => t.dividends,
                    "dividend_taxes" => t.dividend_taxes,
                    "interest" | "total_interest" => t.interest,
                    _ => t.liabilities,
                })
            }
            "fees_asset_ccy" => {
                let currency = match self.single_holding()? {
                    Some(h) => {
                        self.ledger()
                            .symbol_at(h.history_in_base().symbol)
                            .quote_currency
                    }
                    None => base_ccy,
                };
                let t =
                    activity_totals(&self.inputs, currency, None, at()?, TotalsScope::Everything)?;
                exact(t.fees())
            }
            "cash_balance" => exact(self.valuation()?.at_day(day_of(at()?)).cash_value),
            "value" => exact(self.valuation()?.at_day(day_of(at()?)).value),
            "xirr" => Ok(FigureValue::Approx(
                xirr(&self.cash_flows).map_err(|e| FigureError::Failed(e.to_string()))?,
            )),
            "irr" => {
                let period = Period::new(self.period.start, at()?.max(self.period.start))?;
                approx(
                    period_irr(self.valuation()?, &period)
                        .map_err(|e| FigureError::Failed(e.to_string()))?,
                )
            }
            "ttwror" | "ttwror_daily" => {
                let date = at()?;
                let twr = self.twr()?;
                let point = twr.at(date).ok_or_else(|| {
                    FigureError::Failed(format!(
                        "{date} is outside the period {} to {}",
                        self.period.start, self.period.end
                    ))
                })?;
                approx(if base == "ttwror" {
                    point.cumulative_return
                } else {
                    point.daily_return
                })
            }
            "ttwror_annualized" => approx(self.twr()?.annualized()),
            "max_drawdown" => approx(max_drawdown(&self.twr()?).map_or(0.0, |d| d.max_drawdown)),
            "volatility" => match volatility(&self.twr()?) {
                Some(v) => approx(v),
                None => Err(FigureError::Failed(
                    "volatility needs at least two daily returns".into(),
                )),
            },
            "delta" | "delta_pct" => {
                let d = pp::delta(&self.inputs, self.valuation()?, &self.period)?;
                if base == "delta" {
                    exact(d.delta)
                } else {
                    option(d.delta_pct, "delta %")
                }
            }
            "trade_return" => {
                let h = self
                    .single_holding()?
                    .ok_or(AnalyticsError::NotASingleHolding(0))?;
                let symbol = &self.ledger().symbol_at(h.history_in_base().symbol).symbol;
                let history = self.inputs.position(symbol, base_ccy, TRADE_METHOD)?;
                let open_value = h.figures_at(end)?.current_value;
                let trades = pp::trades(&history, Some(open_value));
                match trades.as_slice() {
                    [t] => option(t.trade_return, "trade return"),
                    _ => Err(FigureError::Failed(format!(
                        "trade_return needs exactly one trade, the security has {}",
                        trades.len()
                    ))),
                }
            }
            _ => self.period_figure(base),
        }
    }

    fn period_figure(&self, name: &str) -> FigureResult {
        let valuation = self.valuation()?;
        let start = day_of(self.period.start);
        let end = day_of(self.period.end);
        let exact = |d: Decimal| Ok(FigureValue::Exact(d));
        match name {
            "period_initial_value" => return exact(valuation.at_day(start).value),
            "period_final_value" => return exact(valuation.at_day(end).value),
            "period_unrealized_gains"
            | "period_realized_gains"
            | "period_realized_price_effect"
            | "period_realized_currency_effect"
            | "period_unrealized_price_effect"
            | "period_unrealized_currency_effect" => {
                let gains = period_capital_gains(&self.inputs, &self.period, PERIOD_METHOD)?;
                return exact(match name {
                    "period_realized_gains" => gains.realized,
                    "period_unrealized_gains" => gains.unrealized,
                    "period_realized_price_effect" => gains.realized_price_effect,
                    "period_realized_currency_effect" => gains.realized_currency_effect,
                    "period_unrealized_price_effect" => gains.unrealized_price_effect,
                    _ => gains.unrealized_currency_effect,
                });
            }
            _ => {}
        }
        let statement = super::statement::period_statement(
            &self.inputs,
            valuation,
            &self.period,
            PERIOD_METHOD,
        )?;
        match name {
            "period_earnings" => exact(statement.earnings),
            "period_dividends" => exact(statement.dividends),
            "period_interest" => exact(statement.interest),
            "period_fees" => exact(statement.fees),
            "period_taxes" => exact(statement.taxes),
            "period_transfers" => exact(statement.transfers),
            "period_currency_gains" => exact(statement.currency_gains),
            "period_invested_capital" => exact(statement.invested_capital),
            "simple_return_on_cost" => statement.simple_return_on_cost.map_or_else(
                || {
                    Err(FigureError::Failed(
                        "simple return on cost is undefined: nothing was invested".into(),
                    ))
                },
                exact,
            ),
            other => Err(FigureError::Unsupported(other.to_owned())),
        }
    }
}

/// Portfolio Performance's statements match lots first in, first out.
pub const PERIOD_METHOD: CostBasisMethod = CostBasisMethod::Fifo;

fn method_suffix(name: &str) -> CostBasisMethod {
    if name.contains("_fifo") {
        CostBasisMethod::Fifo
    } else if name.contains("_lifo") {
        CostBasisMethod::Lifo
    } else if name.contains("_hifo") {
        CostBasisMethod::Hifo
    } else {
        CostBasisMethod::AverageCost
    }
}

/// First and last day of `YYYY-MM` (month) or `YYYY` (year).
fn month_or_year(arg: &str, month: bool) -> Option<(Date, Date)> {
    if month {
        let first: Date = format!("{arg}-01").parse().ok()?;
        Some((first, first.last_of_month()))
    } else {
        let year: i16 = arg.parse().ok()?;
        Some((Date::new(year, 1, 1).ok()?, Date::new(year, 12, 31).ok()?))
    }
}

/// How one expected figure of a case compared.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckOutcome {
    Pass(FigureValue),
    Fail(FigureValue),
    /// The figure's name is not one we compute.
    Unsupported,
    /// A known figure that could not be computed.
    Error(String),
}

/// One expected figure of a case.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldCheck {
    pub field: String,
    pub expected: Decimal,
    pub tolerance: Decimal,
    pub outcome: CheckOutcome,
}

impl FieldCheck {
    pub fn passed(&self) -> bool {
        matches!(self.outcome, CheckOutcome::Pass(_))
    }
}

/// Evaluates every expected figure of a case.
pub fn check_case(case: &Case) -> Vec<FieldCheck> {
    let prepared = Ledger::prepare(&case.activities, case.base_currency, case.evaluation_date);
    let context = prepared
        .as_ref()
        .map_err(|e| e.to_string())
        .and_then(|ledger| {
            FigureContext::new(
                Inputs::new(ledger, &case.prices, &case.fx),
                case.period_start,
                &case.activities,
            )
            .map_err(|e| e.to_string())
        });
    case.expected
        .iter()
        .map(|(field, expected)| {
            let tolerance = case.tolerance.for_field(field);
            let outcome = match &context {
                Err(message) => {
                    let base = field.split('@').next().unwrap_or(field);
                    if FIGURE_NAMES.contains(&base) {
                        CheckOutcome::Error(message.clone())
                    } else {
                        CheckOutcome::Unsupported
                    }
                }
                Ok(ctx) => match ctx.evaluate(field) {
                    Ok(value) => {
                        let distance = value.distance(*expected);
                        if distance <= tolerance.to_f64().unwrap_or(0.0) {
                            CheckOutcome::Pass(value)
                        } else {
                            CheckOutcome::Fail(value)
                        }
                    }
                    Err(FigureError::Unsupported(_)) => CheckOutcome::Unsupported,
                    Err(FigureError::Failed(message)) => CheckOutcome::Error(message),
                },
            };
            FieldCheck {
                field: field.clone(),
                expected: *expected,
                tolerance,
                outcome,
            }
        })
        .collect()
}
