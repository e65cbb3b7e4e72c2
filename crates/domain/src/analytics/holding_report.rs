//! Holdings at a date: quantity, cost, value and gains of every position,
//! with the FX effect reported apart from the price effect.

use super::{
    AnalyticsError, AnalyticsResult, Inputs,
    day::day_of,
    fx::rate_or_error,
    lots::CostBasisMethod,
    position::{OpenLot, PositionState},
    valuation::{PriceGapPolicy, price_for_day},
};
use crate::{Currency, Symbol};
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::Serialize;

/// One position at a date. Money is in the base currency unless the field
/// says `quote`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HoldingReport {
    pub symbol: Symbol,
    pub quote_currency: Currency,
    pub quantity: Decimal,
    /// Close used (last known on or before the date, else the last trade price).
    pub market_price_quote: Option<Decimal>,
    /// Cost per unit held, excl. costs, in the quote currency.
    pub average_cost_quote: Decimal,
    /// Cost of the units held, excl. costs, each purchase at its date's rate.
    pub cost_basis: Decimal,
    pub cost_basis_incl_costs: Decimal,
    /// quantity × price at the date's rate.
    pub market_value: Decimal,
    /// market value − cost basis.
    pub unrealized_gain: Decimal,
    pub unrealized_gain_pct: Option<Decimal>,
    /// Of the unrealized gain: the part from the price, at today's rate.
    pub unrealized_price_effect: Decimal,
    /// Of the unrealized gain: the part from the exchange rate.
    pub unrealized_currency_effect: Decimal,
    /// market value − cost basis including acquisition costs: the gain after
    /// the fees and taxes paid on the purchases.
    pub unrealized_gain_net: Decimal,
    /// Gross proceeds − cost of the units sold so far.
    pub realized_gain: Decimal,
    /// Net proceeds − cost including acquisition costs of the units sold so
    /// far: the realized gain after the fees and taxes of purchases and sales.
    pub realized_gain_net: Decimal,
    pub dividends_gross: Decimal,
    /// Fees on trades and stand-alone fees about this security.
    pub fees: Decimal,
    /// Taxes on trades and dividends, stand-alone taxes, minus refunds.
    pub taxes: Decimal,
    /// Portfolio weight by market value (of securities).
    pub weight: Option<Decimal>,
    pub open_lots: Vec<OpenLot>,
}

/// The value of `quantity` units of symbol `index` at a day's close in the
/// base currency, with the close used.
pub(crate) fn position_value(
    inputs: &Inputs<'_>,
    index: usize,
    date: Date,
    state: &PositionState,
) -> AnalyticsResult<(Decimal, Option<Decimal>)> {
    let ledger = inputs.ledger;
    let info = ledger.symbol_at(index);
    let price = price_for_day(
        inputs.prices.series(&info.symbol),
        day_of(date),
        ledger.evaluation_day(),
        state.last_trade,
        PriceGapPolicy::LastTradePrice,
    );
    if state.quantity.is_zero() {
        return Ok((Decimal::ZERO, price));
    }
    let price = price.ok_or_else(|| AnalyticsError::MissingPrice {
        symbol: info.symbol.clone(),
        date,
    })?;
    let rate = rate_or_error(inputs.fx, info.quote_currency, ledger.base_currency(), date)?;
    Ok((state.quantity * price * rate, Some(price)))
}

/// Every open position at the close of `date` under `method`, largest first.
pub fn holdings_at(
    inputs: &Inputs<'_>,
    date: Date,
    method: CostBasisMethod,
) -> AnalyticsResult<Vec<HoldingReport>> {
    let ledger = inputs.ledger;
    let base = ledger.base_currency();
    // Before the evaluation date, fold only up to the date: the open lots are then its own.
    let until = (date < ledger.evaluation_date()).then(|| day_of(date));
    let mut reports = Vec::new();
    for (index, info) in ledger.symbols().iter().enumerate() {
        if !info.has_units {
            continue;
        }
        let in_base = inputs.position_history_until(index, base, method, until)?;
        let state = in_base.at(date);
        if !state.is_open() {
            continue;
        }
        let (market_value, price) = position_value(inputs, index, date, &state)?;
        let cost = state.cost_basis_by(method);
        let quote_cost = state.cost_basis_quote_by(method);
        let rate = rate_or_error(inputs.fx, info.quote_currency, base, date)?;
        let unrealized = state.unrealized_gain_by(method, market_value);
        let price_effect = market_value - quote_cost * rate;
        let open_lots = in_base.open_lots;
        reports.push(HoldingReport {
            symbol: info.symbol.clone(),
            quote_currency: info.quote_currency,
            quantity: state.quantity,
            market_price_quote: price,
            average_cost_quote: quote_cost
                .checked_div(state.quantity)
                .unwrap_or_default()
                .abs(),
            cost_basis: cost,
            cost_basis_incl_costs: state.cost_basis_incl_costs_by(method),
            market_value,
            unrealized_gain: unrealized,
            unrealized_gain_pct: (!cost.is_zero()).then(|| unrealized / cost),
            unrealized_price_effect: price_effect,
            unrealized_currency_effect: unrealized - price_effect,
            unrealized_gain_net: state.unrealized_gain_net_by(method, market_value),
            realized_gain: state.realized_gain_by(method),
            realized_gain_net: state.realized_gain_net_by(method),
            dividends_gross: state.dividends_gross,
            fees: state.trade_fees + state.other_fees,
            taxes: state.trade_taxes + state.dividend_taxes + state.other_taxes - state.tax_refunds,
            weight: None,
            open_lots,
        });
    }
    let total: Decimal = reports.iter().map(|r| r.market_value).sum();
    for r in &mut reports {
        r.weight = (!total.is_zero()).then(|| r.market_value / total);
    }
    reports.sort_by(|a, b| {
        b.market_value
            .cmp(&a.market_value)
            .then(a.symbol.cmp(&b.symbol))
    });
    Ok(reports)
}

/// Cash per currency at the close of `date` (deposits, withdrawals and the
/// cash legs of every activity), in each currency.
pub fn cash_balances(inputs: &Inputs<'_>, date: Date) -> Vec<(Currency, Decimal)> {
    use super::activity::ActivityKind as K;
    let until = day_of(date);
    let mut balances: Vec<(Currency, Decimal)> = Vec::new();
    let mut add = |currency: Currency, amount: Decimal| match balances
        .iter_mut()
        .find(|(c, _)| *c == currency)
    {
        Some((_, b)) => *b += amount,
        None => balances.push((currency, amount)),
    };
    for entry in inputs
        .ledger
        .entries()
        .iter()
        .take_while(|e| e.day <= until)
    {
        match &entry.kind {
            K::Buy(t) => add(t.currency, -t.gross_plus_costs()),
            K::Sell(t) => add(t.currency, t.gross_minus_costs()),
            K::Dividend {
                currency,
                gross,
                tax,
                ..
            }
            | K::Interest {
                currency,
                gross,
                tax,
            } => {
                add(*currency, gross - tax);
            }
            K::Fee {
                currency, amount, ..
            }
            | K::Tax {
                currency, amount, ..
            } => add(*currency, -amount),
            K::TaxRefund {
                currency, amount, ..
            }
            | K::Deposit { currency, amount } => {
                add(*currency, *amount);
            }
            K::Withdrawal { currency, amount } => add(*currency, -amount),
            K::TransferIn(_)
            | K::TransferOut(_)
            | K::Liability { .. }
            | K::Split { .. }
            | K::CashFlow { .. } => {}
        }
    }
    balances.sort_by_key(|(c, _)| *c);
    balances
}
