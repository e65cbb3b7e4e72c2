//! Portfolio analytics use cases: summary, performance series, holdings at a
//! date, allocation, income and realized lots.
//!
//! Pure and I/O-free: the HTTP/CLI layer loads the ledger, the price series
//! and the FX rates from the store, builds an [`AnalyticsInput`] and calls
//! these functions, which run the domain's analytics
//! ([`pricetrack_domain::analytics`]), the same code the reference cases check.

use jiff::civil::Date;
use pricetrack_domain::{
    Currency, Instrument, Symbol, Transaction,
    analytics::{
        self as domain, AnalyticsResult, ClosedLot, CostBasisMethod, FxRates, Inputs, Ledger,
        Period, PeriodSpec, PriceTable, ValuationSeries,
        allocation::{AllocationDimension, AllocationSlice},
        calendar_returns::{BenchmarkPoint, Resolution, YearReturns, closes_bucket},
        contribution::ContributionReport,
        holding_report::HoldingReport,
        income::{Granularity, IncomeBucket},
        pp::Delta,
        risk::{MaxDrawdown, drawdown_series, max_drawdown, volatility},
        roai::{RoaiFigures, RoaiHolding, portfolio_figures},
        statement::{PeriodStatement, TotalsScope, activity_totals, period_statement},
        twr::ttwror,
        valuation::CashTreatment,
    },
};
use rust_decimal::Decimal;
use serde::Serialize;
use std::{collections::BTreeMap, ops::Deref, sync::Arc};

/// Everything the analytics need, already loaded.
pub struct AnalyticsInput<'a> {
    /// The portfolio's ledger, in ledger order.
    pub transactions: &'a [Transaction],
    /// Daily closes per symbol, in each instrument's quote currency.
    pub prices: &'a BTreeMap<Symbol, Vec<(Date, Decimal)>>,
    /// Exchange rates (last known on or before a date).
    pub fx: &'a (dyn FxRates + Send + Sync),
    /// Instrument descriptions (quote currency, kind, exchange) where known.
    pub instruments: &'a [Instrument],
    pub base_currency: Currency,
    /// The portfolio's cost-basis setting.
    pub cost_basis_method: CostBasisMethod,
    /// The valuation date (today, usually); later transactions are ignored.
    pub evaluation_date: Date,
    /// Whether cash is part of the value (`Auto`: when deposits are recorded).
    pub cash: CashTreatment,
}

/// Data the analytics read but do not own: borrowed for a one-off
/// computation, or shared (reference-counted) by a prepared portfolio that a
/// cache keeps across requests.
pub enum Held<'a, T: ?Sized> {
    Borrowed(&'a T),
    Shared(Arc<T>),
}

impl<T: ?Sized> Deref for Held<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        match self {
            Held::Borrowed(r) => r,
            Held::Shared(a) => a,
        }
    }
}

/// Everything the analytics need, shared, for a prepared portfolio that
/// outlives the request that built it (see `portfolio_analytics`).
pub struct SharedAnalyticsInput {
    /// The ledger as analytics activities, in ledger order (accounts set when
    /// several portfolios are combined).
    pub activities: Arc<[domain::Activity]>,
    pub prices: Arc<PriceTable>,
    pub fx: Arc<dyn FxRates + Send + Sync>,
    pub instruments: Arc<[Instrument]>,
    pub base_currency: Currency,
    pub cost_basis_method: CostBasisMethod,
    pub evaluation_date: Date,
    pub cash: CashTreatment,
    /// The previous preparation of this portfolio, when its ledger differs
    /// from this one only on or after a date (and prices and FX rates are the
    /// same): its daily valuation is reused up to that date.
    pub resume: Option<ResumeFrom>,
}

/// A previous preparation and the first date whose activities changed since.
pub struct ResumeFrom {
    pub previous: Arc<PortfolioAnalytics<'static>>,
    pub changed_from: Date,
}

/// A portfolio prepared once for any number of questions.
pub struct PortfolioAnalytics<'a> {
    ledger: Ledger,
    prices: Held<'a, PriceTable>,
    fx: Held<'a, dyn FxRates + Send + Sync + 'a>,
    instruments: Held<'a, [Instrument]>,
    method: CostBasisMethod,
    valuation: ValuationSeries,
}

impl<'a> PortfolioAnalytics<'a> {
    /// Converts the transactions, orders them and values the portfolio daily.
    pub fn new(input: AnalyticsInput<'a>) -> AnalyticsResult<Self> {
        let activities = domain::activities_from_transactions(input.transactions);
        Self::prepare(
            &activities,
            Held::Shared(Arc::new(PriceTable::from_points(input.prices))),
            Held::Borrowed(input.fx),
            Held::Borrowed(input.instruments),
            input.base_currency,
            input.cost_basis_method,
            input.evaluation_date,
            input.cash,
            None,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn prepare(
        activities: &[domain::Activity],
        prices: Held<'a, PriceTable>,
        fx: Held<'a, dyn FxRates + Send + Sync + 'a>,
        instruments: Held<'a, [Instrument]>,
        base_currency: Currency,
        method: CostBasisMethod,
        evaluation_date: Date,
        cash: CashTreatment,
        resume: Option<&ResumeFrom>,
    ) -> AnalyticsResult<Self> {
        let mut ledger = Ledger::prepare(activities, base_currency, evaluation_date)?;
        for instrument in instruments.iter() {
            ledger.set_quote_currency(&instrument.symbol, instrument.currency);
        }
        let inputs = Inputs::new(&ledger, &prices, &*fx);
        let valuation = match resume {
            Some(r) => inputs.valuation_from(cash, &r.previous.valuation, r.changed_from)?,
            None => inputs.valuation(cash)?,
        };
        Ok(Self {
            ledger,
            prices,
            fx,
            instruments,
            method,
            valuation,
        })
    }

    /// The figures of one security alone: its own activities (trades,
    /// splits, income, fees and taxes about it) as a ledger, valued without
    /// cash — a purchase is an inflow at gross + fee, a sale an outflow at
    /// gross − fee, dividends are paid out (Portfolio Performance's
    /// security-level view). `UnknownSymbol` when the ledger never names it.
    pub fn holding(&self, symbol: &Symbol) -> AnalyticsResult<PortfolioAnalytics<'_>> {
        let ledger = self.ledger.for_symbol(symbol)?;
        let valuation =
            Inputs::new(&ledger, &self.prices, &*self.fx).valuation(CashTreatment::Excluded)?;
        Ok(PortfolioAnalytics {
            ledger,
            prices: Held::Borrowed(&*self.prices),
            fx: Held::Borrowed(&*self.fx),
            instruments: Held::Borrowed(&*self.instruments),
            method: self.method,
            valuation,
        })
    }

    /// [`Self::summary`] of one security's own activities (see [`Self::holding`]).
    pub fn holding_summary(
        &self,
        symbol: &Symbol,
        period: PeriodSpec,
    ) -> AnalyticsResult<PortfolioSummary> {
        self.holding(symbol)?.summary(period)
    }

    fn inputs(&self) -> Inputs<'_> {
        Inputs::new(&self.ledger, &self.prices, &*self.fx)
    }

    pub fn base_currency(&self) -> Currency {
        self.ledger.base_currency()
    }

    pub fn cost_basis_method(&self) -> CostBasisMethod {
        self.method
    }

    pub fn evaluation_date(&self) -> Date {
        self.ledger.evaluation_date()
    }

    /// No activity at all (a new portfolio).
    pub fn is_empty(&self) -> bool {
        self.ledger.is_empty()
    }

    /// The instruments the ledger refers to.
    pub fn instruments(&self) -> &[Instrument] {
        &self.instruments
    }

    /// Resolves a period against the evaluation date and the first activity.
    pub fn period(&self, spec: PeriodSpec) -> AnalyticsResult<Period> {
        Period::resolve(
            spec,
            self.ledger.evaluation_date(),
            self.ledger.first_date(),
        )
    }

    /// Headline figures for a period.
    pub fn summary(&self, period: PeriodSpec) -> AnalyticsResult<PortfolioSummary> {
        let inputs = self.inputs();
        let period = self.period(period)?;
        let end = self.ledger.evaluation_date();
        let base = self.ledger.base_currency();
        let holdings = domain::holding_report::holdings_at(&inputs, end, self.method)?;
        let cash_balances = self.cash_balances(end)?;
        let statement = period_statement(&inputs, &self.valuation, &period, self.method)?;
        let totals = activity_totals(&inputs, base, None, end, TotalsScope::Everything)?;
        let realized = self.realized_total(end)?;
        let market_value: Decimal = holdings.iter().map(|h| h.market_value).sum();
        let cost_basis: Decimal = holdings.iter().map(|h| h.cost_basis).sum();
        let unrealized_gain: Decimal = holdings.iter().map(|h| h.unrealized_gain).sum();
        let unrealized_gain_net: Decimal = holdings.iter().map(|h| h.unrealized_gain_net).sum();
        let cash_total: Decimal = cash_balances.iter().map(|c| c.amount_in_base).sum();
        let xirr = domain::statement::period_irr(&self.valuation, &period);
        let twr = ttwror(&self.valuation, &period);
        let roai = self.roai(end)?;
        let delta = domain::pp::delta(&inputs, &self.valuation, &period)?;
        Ok(PortfolioSummary {
            base_currency: base,
            evaluation_date: end,
            period,
            cost_basis_method: self.method,
            cash_included: self.valuation.cash_included(),
            market_value,
            cash_balance: cash_total,
            cash_balances,
            total_value: self.valuation.value_at(end),
            cost_basis,
            unrealized_gain,
            unrealized_gain_pct: (!cost_basis.is_zero()).then(|| unrealized_gain / cost_basis),
            unrealized_gain_net,
            unrealized_price_effect: holdings.iter().map(|h| h.unrealized_price_effect).sum(),
            unrealized_currency_effect: holdings.iter().map(|h| h.unrealized_currency_effect).sum(),
            realized_gain: realized.gain,
            realized_gain_net: realized.gain_net,
            realized_price_effect: realized.price_effect,
            realized_currency_effect: realized.gain - realized.price_effect,
            dividends_gross: totals.dividends,
            dividend_taxes: totals.dividend_taxes,
            interest_gross: totals.interest,
            fees: totals.fees(),
            taxes: totals.taxes(),
            total_liabilities: totals.liabilities,
            simple_return_on_cost: statement.simple_return_on_cost,
            twr: twr.total(),
            twr_annualized: (period.days() > 365).then(|| twr.annualized()),
            xirr: xirr.as_ref().ok().copied(),
            xirr_unavailable_reason: xirr.err().map(|e| e.to_string()),
            volatility: volatility(&twr),
            max_drawdown: max_drawdown(&twr),
            roai: RoaiSummary::from(&roai),
            pp: PpSummary {
                ttwror: statement.ttwror,
                ttwror_annualized: twr.annualized(),
                irr: statement.irr,
                delta: delta.clone(),
                capital_gains_on_holdings: holdings
                    .iter()
                    .map(|h| h.market_value - h.cost_basis_incl_costs)
                    .sum(),
            },
            period_statement: statement,
        })
    }

    /// Realized gain since inception, before and after fees and taxes, and
    /// its price effect.
    fn realized_total(&self, end: Date) -> AnalyticsResult<RealizedTotal> {
        let base = self.ledger.base_currency();
        let mut total = RealizedTotal::default();
        for info in self.ledger.holdings_symbols() {
            let state = self
                .inputs()
                .position(&info.symbol, base, self.method)?
                .at(end);
            total.gain += state.realized_gain_by(self.method);
            total.gain_net += state.realized_gain_net_by(self.method);
            total.price_effect += state.realized_price_effect_by(self.method);
        }
        Ok(total)
    }

    fn roai(&self, date: Date) -> AnalyticsResult<RoaiFigures> {
        let inputs = self.inputs();
        let holdings = self
            .ledger
            .holdings_symbols()
            .map(|s| RoaiHolding::new(inputs, &s.symbol))
            .collect::<AnalyticsResult<Vec<_>>>()?;
        portfolio_figures(&holdings, date, false)
    }

    fn cash_balances(&self, date: Date) -> AnalyticsResult<Vec<CashBalanceView>> {
        if !self.valuation.cash_included() {
            return Ok(Vec::new());
        }
        domain::holding_report::cash_balances(&self.inputs(), date)
            .into_iter()
            .map(|(currency, amount)| {
                let rate = domain::fx::rate_or_error(
                    &*self.fx,
                    currency,
                    self.ledger.base_currency(),
                    date,
                );
                Ok(CashBalanceView {
                    currency,
                    amount,
                    amount_in_base: if amount.is_zero() {
                        Decimal::ZERO
                    } else {
                        amount * rate?
                    },
                })
            })
            .collect()
    }

    /// Value, contributions, invested cost, TWR and drawdown per day, week or month.
    pub fn performance(
        &self,
        period: PeriodSpec,
        resolution: Resolution,
    ) -> AnalyticsResult<PerformanceSeries> {
        let period = self.period(period)?;
        let twr = ttwror(&self.valuation, &period);
        let drawdowns = drawdown_series(&twr);
        let invested = self.total_investment_by_day()?;
        let mut contributions = Decimal::ZERO;
        let mut points = Vec::new();
        for day in self.valuation.days() {
            contributions += day.inflow - day.outflow;
            if day.date < period.start || day.date > period.end {
                continue;
            }
            if !closes_bucket(day.date, period.end, resolution) && day.date != period.start {
                continue;
            }
            let offset = usize::try_from(day.date.since(period.start).map_or(0, |s| s.get_days()))
                .unwrap_or(0);
            points.push(PerformancePoint {
                date: day.date,
                value: day.value,
                net_contributions: contributions,
                total_investment: invested
                    .range(..=day.date)
                    .next_back()
                    .map_or(Decimal::ZERO, |(_, v)| *v),
                twr: twr.points.get(offset).map_or(0.0, |p| p.cumulative_return),
                drawdown: drawdowns.get(offset).map_or(0.0, |p| p.drawdown),
            });
        }
        Ok(PerformanceSeries {
            period,
            resolution,
            points,
        })
    }

    /// Σ cost basis (the portfolio's method, base currency at historical
    /// rates) after each day with activity.
    fn total_investment_by_day(&self) -> AnalyticsResult<BTreeMap<Date, Decimal>> {
        let base = self.ledger.base_currency();
        let mut changes: BTreeMap<Date, Decimal> = BTreeMap::new();
        for info in self.ledger.holdings_symbols() {
            let history = self.inputs().position(&info.symbol, base, self.method)?;
            let mut previous = Decimal::ZERO;
            for state in history.checkpoints() {
                let cost = state.cost_basis_by(self.method);
                *changes.entry(state.date()).or_default() += cost - previous;
                previous = cost;
            }
        }
        let mut running = Decimal::ZERO;
        Ok(changes
            .into_iter()
            .map(|(date, change)| {
                running += change;
                (date, running)
            })
            .collect())
    }

    /// Open positions and cash at the close of `date` (default: the evaluation date).
    pub fn holdings(&self, date: Option<Date>) -> AnalyticsResult<HoldingsView> {
        let date = date
            .unwrap_or_else(|| self.ledger.evaluation_date())
            .min(self.ledger.evaluation_date());
        Ok(HoldingsView {
            date,
            cost_basis_method: self.method,
            holdings: domain::holding_report::holdings_at(&self.inputs(), date, self.method)?,
            cash: self.cash_balances(date)?,
        })
    }

    /// The value at the evaluation date grouped along one dimension.
    pub fn allocation(
        &self,
        dimension: AllocationDimension,
    ) -> AnalyticsResult<Vec<AllocationSlice>> {
        let holdings = self.holdings(None)?;
        let cash: Vec<(Currency, Decimal)> = holdings
            .cash
            .iter()
            .map(|c| (c.currency, c.amount_in_base))
            .collect();
        Ok(domain::allocation::allocation(
            &holdings.holdings,
            &cash,
            &self.instruments,
            dimension,
        ))
    }

    /// Dividends and interest by month or year (within `period` if given).
    pub fn income(
        &self,
        granularity: Granularity,
        period: Option<PeriodSpec>,
    ) -> AnalyticsResult<Vec<IncomeBucket>> {
        let period = period.map(|p| self.period(p)).transpose()?;
        domain::income::income(&self.inputs(), granularity, period.as_ref())
    }

    /// Units sold, matched to their purchases, with buy and sell dates.
    pub fn realized(&self, period: Option<PeriodSpec>) -> AnalyticsResult<Vec<RealizedLot>> {
        let period = period.map(|p| self.period(p)).transpose()?;
        let base = self.ledger.base_currency();
        let mut lots = Vec::new();
        for info in self.ledger.holdings_symbols() {
            let history = self.inputs().position(&info.symbol, base, self.method)?;
            lots.extend(
                history
                    .closed_lots
                    .into_iter()
                    .filter(|l| period.is_none_or(|p| p.contains(l.disposed)))
                    .map(|lot| RealizedLot {
                        symbol: info.symbol.clone(),
                        lot,
                    }),
            );
        }
        lots.sort_by(|a, b| {
            a.lot
                .disposed
                .cmp(&b.lot.disposed)
                .then(a.symbol.cmp(&b.symbol))
        });
        Ok(lots)
    }

    /// Year × month table of chained returns over the period.
    pub fn returns_table(&self, period: PeriodSpec) -> AnalyticsResult<Vec<YearReturns>> {
        let period = self.period(period)?;
        Ok(domain::calendar_returns::returns_table(&ttwror(
            &self.valuation,
            &period,
        )))
    }

    /// Each holding's contribution to the period's return, largest first.
    pub fn contributions(&self, period: PeriodSpec) -> AnalyticsResult<ContributionReport> {
        let period = self.period(period)?;
        domain::contribution::contributions(&self.inputs(), &self.valuation, &period)
    }

    /// The portfolio's TWR beside the price return of `benchmark`, whose
    /// closes are in `benchmark_closes`.
    pub fn benchmark(
        &self,
        period: PeriodSpec,
        benchmark_closes: &[(Date, Decimal)],
        resolution: Resolution,
    ) -> AnalyticsResult<Vec<BenchmarkPoint>> {
        let period = self.period(period)?;
        let twr = ttwror(&self.valuation, &period);
        let series = domain::DailySeries::from_points(benchmark_closes.iter().copied());
        Ok(
            domain::calendar_returns::benchmark_comparison(&twr, &series, &period)
                .into_iter()
                .filter(|p| p.date == period.start || closes_bucket(p.date, period.end, resolution))
                .collect(),
        )
    }
}

impl PortfolioAnalytics<'static> {
    /// Prepares a portfolio from shared data, so the result can be kept (and
    /// sent between threads) independently of the request that built it.
    pub fn from_shared(input: SharedAnalyticsInput) -> AnalyticsResult<Self> {
        Self::prepare(
            &input.activities,
            Held::Shared(input.prices),
            Held::Shared(input.fx),
            Held::Shared(input.instruments),
            input.base_currency,
            input.cost_basis_method,
            input.evaluation_date,
            input.cash,
            input.resume.as_ref(),
        )
    }

    /// The daily valuation the figures are computed from.
    pub fn valuation(&self) -> &ValuationSeries {
        &self.valuation
    }
}

#[derive(Default)]
struct RealizedTotal {
    gain: Decimal,
    gain_net: Decimal,
    price_effect: Decimal,
}

/// Cash in one currency, and its value in the base currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CashBalanceView {
    pub currency: Currency,
    pub amount: Decimal,
    pub amount_in_base: Decimal,
}

/// Ghostfolio's figures (return on average investment), summed over holdings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoaiSummary {
    pub roai_total_investment: Decimal,
    pub roai_gross_performance: Decimal,
    pub roai_net_performance: Decimal,
    pub roai_time_weighted_investment: Decimal,
    pub roai_gross_performance_pct: Decimal,
    pub roai_net_performance_pct: Decimal,
    pub roai_net_performance_pct_avg_daily_investment: Decimal,
}

impl From<&RoaiFigures> for RoaiSummary {
    fn from(f: &RoaiFigures) -> Self {
        Self {
            roai_total_investment: f.total_investment,
            roai_gross_performance: f.gross_performance,
            roai_net_performance: f.net_performance,
            roai_time_weighted_investment: f.time_weighted_investment,
            roai_gross_performance_pct: f.gross_performance_pct,
            roai_net_performance_pct: f.net_performance_pct,
            roai_net_performance_pct_avg_daily_investment: f
                .net_performance_pct_avg_daily_investment,
        }
    }
}

/// Portfolio Performance's figures for the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PpSummary {
    pub ttwror: f64,
    pub ttwror_annualized: f64,
    pub irr: Option<f64>,
    #[serde(flatten)]
    pub delta: Delta,
    /// Market value − cost basis incl. acquisition costs.
    pub capital_gains_on_holdings: Decimal,
}

/// Headline figures. Money in the base currency; returns as fractions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PortfolioSummary {
    pub base_currency: Currency,
    pub evaluation_date: Date,
    pub period: Period,
    pub cost_basis_method: CostBasisMethod,
    pub cash_included: bool,
    /// Value of the securities held.
    pub market_value: Decimal,
    /// Cash in all currencies, in the base currency (0 when cash is not tracked).
    pub cash_balance: Decimal,
    pub cash_balances: Vec<CashBalanceView>,
    /// Securities + cash (when tracked).
    pub total_value: Decimal,
    pub cost_basis: Decimal,
    pub unrealized_gain: Decimal,
    pub unrealized_gain_pct: Option<Decimal>,
    /// Market value − cost basis including acquisition costs.
    pub unrealized_gain_net: Decimal,
    pub unrealized_price_effect: Decimal,
    pub unrealized_currency_effect: Decimal,
    /// Since inception, under the portfolio's method (gross proceeds − cost).
    pub realized_gain: Decimal,
    /// Since inception: net proceeds − cost including acquisition costs.
    pub realized_gain_net: Decimal,
    /// Of the realized gain: the part from prices.
    pub realized_price_effect: Decimal,
    /// Of the realized gain: the part from exchange rates.
    pub realized_currency_effect: Decimal,
    pub dividends_gross: Decimal,
    pub dividend_taxes: Decimal,
    pub interest_gross: Decimal,
    pub fees: Decimal,
    pub taxes: Decimal,
    pub total_liabilities: Decimal,
    /// The period's (realized + unrealized gains + net income) ÷ invested
    /// capital (see [`PeriodStatement::simple_return_on_cost`]).
    pub simple_return_on_cost: Option<Decimal>,
    /// True time-weighted return over the period.
    pub twr: f64,
    /// Annualized TWR, for periods over a year.
    pub twr_annualized: Option<f64>,
    /// Money-weighted return (XIRR) over the period; `None` when it has no solution.
    pub xirr: Option<f64>,
    pub xirr_unavailable_reason: Option<String>,
    /// Annualized volatility of daily returns (√365 convention).
    pub volatility: Option<f64>,
    pub max_drawdown: Option<MaxDrawdown>,
    pub roai: RoaiSummary,
    pub pp: PpSummary,
    pub period_statement: PeriodStatement,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PerformancePoint {
    pub date: Date,
    /// Total value at the close.
    pub value: Decimal,
    /// Cumulative external inflows − outflows since inception.
    pub net_contributions: Decimal,
    /// Cost basis of the holdings (portfolio method, historical rates).
    pub total_investment: Decimal,
    /// Cumulative TWR since the period start.
    pub twr: f64,
    /// Distance below the running peak of 1 + TWR.
    pub drawdown: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PerformanceSeries {
    pub period: Period,
    pub resolution: Resolution,
    pub points: Vec<PerformancePoint>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HoldingsView {
    pub date: Date,
    pub cost_basis_method: CostBasisMethod,
    pub holdings: Vec<HoldingReport>,
    pub cash: Vec<CashBalanceView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RealizedLot {
    pub symbol: Symbol,
    #[serde(flatten)]
    pub lot: ClosedLot,
}

#[cfg(test)]
mod tests {
    use super::*;
    use pricetrack_domain::{
        Amount, Price, Quantity, TransactionKind,
        analytics::{FxTable, PeriodPreset},
    };
    use rust_decimal_macros::dec;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn tx(day: &str, kind: TransactionKind) -> Transaction {
        Transaction::new(
            format!("{day}T00:00:00Z").parse().unwrap(),
            Currency::CHF,
            String::new(),
            kind,
        )
        .unwrap()
    }

    fn novn() -> Symbol {
        Symbol::parse("NOVN.SW").unwrap()
    }

    /// Ghostfolio's NOVN case, recorded as ledger transactions.
    fn ledger() -> Vec<Transaction> {
        vec![
            tx(
                "2022-03-07",
                TransactionKind::Buy {
                    symbol: novn(),
                    quantity: Quantity::parse("2").unwrap(),
                    price: Price::parse("75.80").unwrap(),
                    fee: Amount::parse("2.95").unwrap(),
                    tax: Amount::ZERO,
                },
            ),
            tx(
                "2022-03-20",
                TransactionKind::Dividend {
                    symbol: novn(),
                    amount: Amount::parse("3").unwrap(),
                    tax_withheld: Amount::parse("1.05").unwrap(),
                },
            ),
            tx(
                "2022-04-08",
                TransactionKind::Sell {
                    symbol: novn(),
                    quantity: Quantity::parse("1").unwrap(),
                    price: Price::parse("85.73").unwrap(),
                    fee: Amount::parse("1.30").unwrap(),
                    tax: Amount::ZERO,
                },
            ),
        ]
    }

    fn analytics<'a>(
        transactions: &'a [Transaction],
        prices: &'a BTreeMap<Symbol, Vec<(Date, Decimal)>>,
        fx: &'a FxTable,
        method: CostBasisMethod,
    ) -> PortfolioAnalytics<'a> {
        PortfolioAnalytics::new(AnalyticsInput {
            transactions,
            prices,
            fx,
            instruments: &[],
            base_currency: Currency::CHF,
            cost_basis_method: method,
            evaluation_date: d("2022-04-11"),
            cash: CashTreatment::Auto,
        })
        .unwrap()
    }

    #[test]
    fn the_api_path_reproduces_the_reference_figures() {
        let transactions = ledger();
        let prices = BTreeMap::from([(novn(), vec![(d("2022-04-11"), dec!(87.8))])]);
        let fx = FxTable::new();
        let a = analytics(&transactions, &prices, &fx, CostBasisMethod::AverageCost);
        let s = a.summary(PeriodSpec::Preset(PeriodPreset::Max)).unwrap();
        // Same numbers as the reference case gf-novn-buy-and-sell-partially.
        assert_eq!(s.roai.roai_net_performance, dec!(17.68));
        assert_eq!(s.roai.roai_total_investment, dec!(75.8));
        assert!((s.roai.roai_net_performance_pct - dec!(0.12184460284330327)).abs() < dec!(1e-12));
        assert_eq!(s.market_value, dec!(87.8));
        assert_eq!(s.realized_gain, dec!(9.93));
        assert_eq!(s.unrealized_gain, dec!(12.0));
        // After fees: (85.73 − 1.30) − (75.80 + 2.95 / 2), and 87.80 − 77.275.
        assert_eq!(s.realized_gain_net, dec!(7.155));
        assert_eq!(s.unrealized_gain_net, dec!(10.525));
        assert_eq!(s.dividends_gross, dec!(3));
        assert_eq!(s.taxes, dec!(1.05));
        assert_eq!(s.fees, dec!(4.25));
        assert!(!s.cash_included);
        assert!(s.xirr.is_some() && s.twr.is_finite());
        let json = serde_json::to_value(&s).unwrap();
        for key in ["twr", "xirr", "roai_net_performance_pct", "ttwror", "delta"] {
            assert!(json.to_string().contains(key), "{key} missing");
        }
    }

    #[test]
    fn series_holdings_income_and_realized_lots() {
        let transactions = ledger();
        let prices = BTreeMap::from([(
            novn(),
            vec![(d("2022-03-07"), dec!(75.8)), (d("2022-04-11"), dec!(87.8))],
        )]);
        let fx = FxTable::new();
        let a = analytics(&transactions, &prices, &fx, CostBasisMethod::Fifo);

        let daily = a
            .performance(PeriodSpec::Preset(PeriodPreset::Max), Resolution::Day)
            .unwrap();
        assert_eq!(daily.points.first().unwrap().date, d("2022-03-06"));
        assert_eq!(daily.points.last().unwrap().date, d("2022-04-11"));
        assert_eq!(daily.points.len(), 37);
        let monthly = a
            .performance(PeriodSpec::Preset(PeriodPreset::Max), Resolution::Month)
            .unwrap();
        let dates: Vec<Date> = monthly.points.iter().map(|p| p.date).collect();
        assert_eq!(dates, [d("2022-03-06"), d("2022-03-31"), d("2022-04-11")]);
        assert_eq!(monthly.points[1].total_investment, dec!(151.6));

        let holdings = a.holdings(None).unwrap();
        assert_eq!(holdings.holdings.len(), 1);
        assert_eq!(holdings.holdings[0].quantity, dec!(1));
        assert_eq!(holdings.holdings[0].open_lots[0].acquired, d("2022-03-07"));

        let realized = a.realized(None).unwrap();
        assert_eq!(realized.len(), 1);
        assert_eq!(realized[0].lot.acquired, d("2022-03-07"));
        assert_eq!(realized[0].lot.disposed, d("2022-04-08"));
        assert_eq!(realized[0].lot.gain, dec!(9.93));
        assert_eq!(realized[0].lot.gain_net, dec!(7.155));

        let income = a.income(Granularity::Month, None).unwrap();
        assert_eq!(income.len(), 1);
        assert_eq!(income[0].period, "2022-03");
        assert_eq!(income[0].net, dec!(1.95));

        let allocation = a.allocation(AllocationDimension::Currency).unwrap();
        assert_eq!(allocation[0].key, "CHF");
        assert_eq!(allocation[0].weight, Some(Decimal::ONE));

        let table = a
            .returns_table(PeriodSpec::Preset(PeriodPreset::Max))
            .unwrap();
        assert_eq!(table[0].year, 2022);
        assert!(table[0].months[2].is_some() && table[0].months[4].is_none());
    }

    #[test]
    fn a_missing_fx_rate_is_an_error_naming_the_pair_and_date() {
        let transactions = vec![
            Transaction::new(
                "2023-01-03T00:00:00Z".parse().unwrap(),
                Currency::USD,
                String::new(),
                TransactionKind::Buy {
                    symbol: Symbol::parse("GOOGL").unwrap(),
                    quantity: Quantity::parse("1").unwrap(),
                    price: Price::parse("89.12").unwrap(),
                    fee: Amount::parse("1").unwrap(),
                    tax: Amount::ZERO,
                },
            )
            .unwrap(),
        ];
        let prices = BTreeMap::new();
        let fx = FxTable::new();
        let err = PortfolioAnalytics::new(AnalyticsInput {
            transactions: &transactions,
            prices: &prices,
            fx: &fx,
            instruments: &[],
            base_currency: Currency::CHF,
            cost_basis_method: CostBasisMethod::AverageCost,
            evaluation_date: d("2023-07-10"),
            cash: CashTreatment::Auto,
        })
        .err()
        .unwrap();
        assert!(err.to_string().contains("USDCHF"), "{err}");
        assert!(err.to_string().contains("2023-01-03"), "{err}");
    }
}
