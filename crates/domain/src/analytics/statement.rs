//! Activity totals and the reporting-period statement (Portfolio
//! Performance's `ClientPerformanceSnapshot`):
//!
//! initial value + unrealized gains + realized gains + earnings − fees −
//! taxes + transfers + currency gains = final value.
//!
//! Positions held at the period start enter at their value then, not at
//! their purchase cost. Capital gains are in the base currency and include
//! the FX effect on securities; `currency_gains` is what remains, which is
//! the FX effect on cash held in other currencies.

use super::{
    AnalyticsResult, Inputs,
    activity::ActivityKind,
    day::{Day, date_of, day_of},
    fx::{convert, rate_or_error},
    lots::CostBasisMethod,
    period::Period,
    position::{FoldSpec, PositionState, fold_position},
    risk::{MaxDrawdown, max_drawdown, volatility},
    twr::{annualize, ttwror},
    valuation::{PriceGapPolicy, ValuationSeries, price_for_day},
    xirr::{XirrError, xirr},
};
use crate::Currency;
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::Serialize;

/// Sums of the activities dated inside a period, each converted at its own
/// date. Taxes withheld on dividends and interest are kept apart from the
/// gross amounts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ActivityTotals {
    pub dividends: Decimal,
    pub dividend_taxes: Decimal,
    pub interest: Decimal,
    pub interest_taxes: Decimal,
    /// Fees on buys, sells and transfers.
    pub trade_fees: Decimal,
    /// Stand-alone fees.
    pub other_fees: Decimal,
    /// Taxes on buys, sells and transfers.
    pub trade_taxes: Decimal,
    /// Stand-alone taxes.
    pub other_taxes: Decimal,
    pub tax_refunds: Decimal,
    pub deposits: Decimal,
    pub withdrawals: Decimal,
    /// Σ gross + fee + tax of buys.
    pub purchases: Decimal,
    /// Σ gross of buys and inbound transfers: the capital put into
    /// securities, excluding costs.
    pub acquisitions: Decimal,
    /// Σ gross − fee − tax of sells.
    pub sales: Decimal,
    /// Σ gross + fee + tax of inbound transfers.
    pub transfers_in: Decimal,
    /// Σ gross − fee − tax of outbound transfers.
    pub transfers_out: Decimal,
    pub liabilities: Decimal,
}

impl ActivityTotals {
    /// Trade fees and stand-alone fees.
    pub fn fees(&self) -> Decimal {
        self.trade_fees + self.other_fees
    }

    /// Taxes on trades, dividends and interest, stand-alone taxes, minus refunds.
    pub fn taxes(&self) -> Decimal {
        self.trade_taxes + self.dividend_taxes + self.interest_taxes + self.other_taxes
            - self.tax_refunds
    }

    /// Gross dividends and interest.
    pub fn earnings(&self) -> Decimal {
        self.dividends + self.interest
    }

    /// Net external contributions: with cash, deposits − withdrawals ±
    /// securities transferred; without cash, everything paid into the
    /// securities (purchases all-in, stand-alone fees and taxes) minus
    /// everything paid out of them (net sale proceeds, net income).
    pub fn transfers(&self, cash_included: bool) -> Decimal {
        let delivered = self.transfers_in - self.transfers_out;
        if cash_included {
            self.deposits - self.withdrawals + delivered
        } else {
            self.purchases - self.sales + delivered
                - (self.dividends - self.dividend_taxes)
                - (self.interest - self.interest_taxes)
                + self.other_fees
                + self.other_taxes
                - self.tax_refunds
        }
    }
}

/// Which activities a total covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotalsScope {
    Everything,
    /// Only activities about a security (leaves out interest, account fees…).
    SecuritiesOnly,
    /// Only activities about one security (its index in the ledger).
    Symbol(usize),
}

/// Totals of the activities dated in (`after`, `through`], in `currency`.
pub fn activity_totals(
    inputs: &Inputs<'_>,
    currency: Currency,
    after: Option<Date>,
    through: Date,
    scope: TotalsScope,
) -> AnalyticsResult<ActivityTotals> {
    let ledger = inputs.ledger;
    let use_fee_in_base = currency == ledger.base_currency();
    let after = after.map_or(Day::MIN, day_of);
    let through = day_of(through);
    let mut t = ActivityTotals::default();
    for entry in ledger.entries() {
        if entry.day <= after || entry.day > through {
            continue;
        }
        let in_scope = match scope {
            TotalsScope::Everything => true,
            TotalsScope::SecuritiesOnly => entry.symbol.is_some(),
            TotalsScope::Symbol(s) => entry.symbol == Some(s),
        };
        if !in_scope {
            continue;
        }
        let date = date_of(entry.day);
        let conv =
            |amount: Decimal, from: Currency| convert(inputs.fx, amount, from, currency, date);
        match &entry.kind {
            ActivityKind::Buy(tr)
            | ActivityKind::Sell(tr)
            | ActivityKind::TransferIn(tr)
            | ActivityKind::TransferOut(tr) => {
                let gross = conv(tr.gross_amount, tr.currency)?;
                let fee = match tr.fee_in_base {
                    Some(fee) if use_fee_in_base => fee,
                    _ => conv(tr.fee, tr.currency)?,
                };
                let tax = conv(tr.tax, tr.currency)?;
                t.trade_fees += fee;
                t.trade_taxes += tax;
                if matches!(
                    entry.kind,
                    ActivityKind::Buy(_) | ActivityKind::TransferIn(_)
                ) {
                    t.acquisitions += gross;
                }
                match entry.kind {
                    ActivityKind::Buy(_) => t.purchases += gross + fee + tax,
                    ActivityKind::Sell(_) => t.sales += gross - fee - tax,
                    ActivityKind::TransferIn(_) => t.transfers_in += gross + fee + tax,
                    _ => t.transfers_out += gross - fee - tax,
                }
            }
            ActivityKind::Dividend {
                currency: c,
                gross,
                tax,
                ..
            } => {
                t.dividends += conv(*gross, *c)?;
                t.dividend_taxes += conv(*tax, *c)?;
            }
            ActivityKind::Interest {
                currency: c,
                gross,
                tax,
            } => {
                t.interest += conv(*gross, *c)?;
                t.interest_taxes += conv(*tax, *c)?;
            }
            ActivityKind::Fee {
                currency: c,
                amount,
                amount_in_base,
                ..
            } => {
                t.other_fees += match amount_in_base {
                    Some(fee) if use_fee_in_base => *fee,
                    _ => conv(*amount, *c)?,
                };
            }
            ActivityKind::Tax {
                currency: c,
                amount,
                ..
            } => t.other_taxes += conv(*amount, *c)?,
            ActivityKind::TaxRefund {
                currency: c,
                amount,
                ..
            } => t.tax_refunds += conv(*amount, *c)?,
            ActivityKind::Deposit {
                currency: c,
                amount,
            } => t.deposits += conv(*amount, *c)?,
            ActivityKind::Withdrawal {
                currency: c,
                amount,
            } => t.withdrawals += conv(*amount, *c)?,
            ActivityKind::Liability {
                currency: c,
                amount,
            } => t.liabilities += conv(*amount, *c)?,
            ActivityKind::Split { .. } | ActivityKind::CashFlow { .. } => {}
        }
    }
    Ok(t)
}

/// Realized and unrealized capital gains of a period, in the base currency,
/// with the period-start value as the cost of units already held then. Each
/// is split into a price effect (the change in the quote-currency price, at
/// the rate of the sale or of the period's end) and a currency effect (the
/// change in the rate on the quote-currency cost): price + currency = gain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PeriodCapitalGains {
    pub realized: Decimal,
    pub unrealized: Decimal,
    pub realized_price_effect: Decimal,
    pub realized_currency_effect: Decimal,
    pub unrealized_price_effect: Decimal,
    pub unrealized_currency_effect: Decimal,
}

/// Capital gains of every security over the period under `method`.
pub fn period_capital_gains(
    inputs: &Inputs<'_>,
    period: &Period,
    method: CostBasisMethod,
) -> AnalyticsResult<PeriodCapitalGains> {
    let ledger = inputs.ledger;
    let base = ledger.base_currency();
    let start = day_of(period.start);
    let end = day_of(period.end);
    let mut gains = PeriodCapitalGains::default();
    for (index, info) in ledger.symbols().iter().enumerate() {
        if !info.has_units {
            continue;
        }
        let series = inputs.prices.series(&info.symbol);
        // The close (quote currency) and the rate to the base currency.
        let price_and_rate =
            |day: Day, state: &PositionState| -> AnalyticsResult<(Decimal, Decimal)> {
                let date = date_of(day);
                let price = price_for_day(
                    series,
                    day,
                    ledger.evaluation_day(),
                    state.last_trade,
                    PriceGapPolicy::LastTradePrice,
                )
                .ok_or_else(|| super::AnalyticsError::MissingPrice {
                    symbol: info.symbol.clone(),
                    date,
                })?;
                Ok((
                    price,
                    rate_or_error(inputs.fx, info.quote_currency, base, date)?,
                ))
            };
        let at_start = |state: &PositionState| {
            let (price, rate) = price_and_rate(start, state)?;
            Ok((price * rate, price))
        };
        let history = fold_position(
            &FoldSpec {
                ledger,
                fx: inputs.fx,
                target: base,
                method,
                revalue_at: Some((start, &at_start)),
                until: None,
            },
            index,
        )?;
        let at_end = history.at_day(end);
        let at_begin = history.at_day(start);
        let realized = at_end.realized_gain_by(method) - at_begin.realized_gain_by(method);
        let realized_price =
            at_end.realized_price_effect_by(method) - at_begin.realized_price_effect_by(method);
        gains.realized += realized;
        gains.realized_price_effect += realized_price;
        gains.realized_currency_effect += realized - realized_price;
        if at_end.is_open() {
            let (price, rate) = price_and_rate(end, &at_end)?;
            let value = at_end.quantity * price * rate;
            let unrealized = value - at_end.cost_basis_by(method);
            let unrealized_price = value - at_end.cost_basis_quote_by(method) * rate;
            gains.unrealized += unrealized;
            gains.unrealized_price_effect += unrealized_price;
            gains.unrealized_currency_effect += unrealized - unrealized_price;
        }
    }
    Ok(gains)
}

/// The cash flows of the period from the investor's side: −(value at the
/// start), −inflows, +outflows, +(value at the end).
pub fn irr_cash_flows(valuation: &ValuationSeries, period: &Period) -> Vec<(Date, Decimal)> {
    let start = day_of(period.start);
    let end = day_of(period.end);
    let mut flows = Vec::new();
    let initial = valuation.at_day(start).value;
    if !initial.is_zero() {
        flows.push((period.start, -initial));
    }
    for day in start + 1..=end {
        let record = valuation.at_day(day);
        let mut net = record.outflow - record.inflow;
        if day == end {
            net += record.value;
        }
        if !net.is_zero() {
            flows.push((record.date, net));
        }
    }
    flows
}

/// The money-weighted return (XIRR) of the period.
pub fn period_irr(valuation: &ValuationSeries, period: &Period) -> Result<f64, XirrError> {
    xirr(&irr_cash_flows(valuation, period))
}

/// The statement of a reporting period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodStatement {
    pub period: Period,
    pub cash_included: bool,
    pub cost_basis_method: CostBasisMethod,
    /// Value at the close of the period's reference day.
    pub initial_value: Decimal,
    /// External inflows (start of day) of the period.
    pub inflows: Decimal,
    /// External outflows (end of day) of the period.
    pub outflows: Decimal,
    /// Net external contributions (see [`ActivityTotals::transfers`]).
    pub transfers: Decimal,
    pub dividends: Decimal,
    pub interest: Decimal,
    /// Dividends (gross) + interest.
    pub earnings: Decimal,
    pub realized_gains: Decimal,
    pub unrealized_gains: Decimal,
    /// Of the realized gains: the part from prices.
    pub realized_price_effect: Decimal,
    /// Of the realized gains: the part from exchange rates.
    pub realized_currency_effect: Decimal,
    /// Of the unrealized gains: the part from prices.
    pub unrealized_price_effect: Decimal,
    /// Of the unrealized gains: the part from exchange rates.
    pub unrealized_currency_effect: Decimal,
    pub fees: Decimal,
    pub taxes: Decimal,
    /// The rest of the change in value: FX effect on foreign cash.
    pub currency_gains: Decimal,
    /// Value of the securities at the period start + Σ gross of the buys and
    /// inbound transfers of the period (costs excluded).
    pub invested_capital: Decimal,
    /// (realized gains + unrealized gains + net income) ÷ invested capital,
    /// the gains before fees and taxes (as above), net income being dividends
    /// and interest after the taxes withheld on them; `None` when nothing was
    /// invested.
    pub simple_return_on_cost: Option<Decimal>,
    pub final_value: Decimal,
    /// True time-weighted return.
    pub ttwror: f64,
    /// Annualized TTWROR, for periods longer than a year.
    pub ttwror_annualized: Option<f64>,
    /// Money-weighted return (XIRR); `None` when it has no solution.
    pub irr: Option<f64>,
    pub max_drawdown: Option<MaxDrawdown>,
    /// Annualized volatility of the daily returns (√365).
    pub volatility: Option<f64>,
}

/// Builds the statement of `period` from the valuation and the activities.
pub fn period_statement(
    inputs: &Inputs<'_>,
    valuation: &ValuationSeries,
    period: &Period,
    method: CostBasisMethod,
) -> AnalyticsResult<PeriodStatement> {
    let base = inputs.ledger.base_currency();
    let totals = activity_totals(
        inputs,
        base,
        Some(period.start),
        period.end,
        TotalsScope::Everything,
    )?;
    let gains = period_capital_gains(inputs, period, method)?;
    let start = day_of(period.start);
    let end = day_of(period.end);
    let (mut inflows, mut outflows) = (Decimal::ZERO, Decimal::ZERO);
    for day in start + 1..=end {
        let record = valuation.at_day(day);
        inflows += record.inflow;
        outflows += record.outflow;
    }
    let initial_value = valuation.at_day(start).value;
    let final_value = valuation.at_day(end).value;
    let transfers = totals.transfers(valuation.cash_included());
    let explained = initial_value + gains.unrealized + gains.realized + totals.earnings()
        - totals.fees()
        - totals.taxes()
        + transfers;
    let twr = ttwror(valuation, period);
    let invested_capital = valuation.at_day(start).securities_value + totals.acquisitions;
    let net_income = totals.earnings() - totals.dividend_taxes - totals.interest_taxes;
    let simple_return_on_cost = (invested_capital > Decimal::ZERO)
        .then(|| (gains.realized + gains.unrealized + net_income).checked_div(invested_capital))
        .flatten();
    Ok(PeriodStatement {
        period: *period,
        cash_included: valuation.cash_included(),
        cost_basis_method: method,
        initial_value,
        inflows,
        outflows,
        transfers,
        dividends: totals.dividends,
        interest: totals.interest,
        earnings: totals.earnings(),
        realized_gains: gains.realized,
        unrealized_gains: gains.unrealized,
        realized_price_effect: gains.realized_price_effect,
        realized_currency_effect: gains.realized_currency_effect,
        unrealized_price_effect: gains.unrealized_price_effect,
        unrealized_currency_effect: gains.unrealized_currency_effect,
        fees: totals.fees(),
        taxes: totals.taxes(),
        currency_gains: final_value - explained,
        invested_capital,
        simple_return_on_cost,
        final_value,
        ttwror: twr.total(),
        ttwror_annualized: (period.days() > 365).then(|| annualize(twr.total(), period.days())),
        irr: period_irr(valuation, period).ok(),
        max_drawdown: max_drawdown(&twr),
        volatility: volatility(&twr),
    })
}
