//! Portfolio Performance's security figures: delta, capital gains on
//! holdings and trades.

use super::{
    AnalyticsResult, Inputs,
    day::day_of,
    lots::CostBasisMethod,
    period::Period,
    position::PositionHistory,
    statement::{TotalsScope, activity_totals},
    valuation::ValuationSeries,
};
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::Serialize;

/// The all-in absolute gain of the securities over a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delta {
    /// value at end + net sale proceeds + net dividends + tax refunds −
    /// purchases incl. fees and taxes − stand-alone fees and taxes − value at start.
    pub delta: Decimal,
    /// delta ÷ (value at start + purchases incl. costs); `None` if that is 0.
    pub delta_pct: Option<Decimal>,
}

/// Delta of all securities over `period` (securities values from `valuation`).
pub fn delta(
    inputs: &Inputs<'_>,
    valuation: &ValuationSeries,
    period: &Period,
) -> AnalyticsResult<Delta> {
    let base = inputs.ledger.base_currency();
    let t = activity_totals(
        inputs,
        base,
        Some(period.start),
        period.end,
        TotalsScope::SecuritiesOnly,
    )?;
    let start_value = valuation.at_day(day_of(period.start)).securities_value;
    let end_value = valuation.at_day(day_of(period.end)).securities_value;
    let invested = t.purchases + t.transfers_in;
    let delta =
        end_value + t.sales + t.transfers_out + (t.dividends - t.dividend_taxes) + t.tax_refunds
            - invested
            - t.other_fees
            - t.other_taxes
            - start_value;
    let denominator = start_value + invested;
    Ok(Delta {
        delta,
        delta_pct: (!denominator.is_zero()).then(|| delta / denominator),
    })
}

/// current value − cost basis incl. acquisition costs, and that ÷ the cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CapitalGainsOnHoldings {
    pub gain: Decimal,
    pub gain_pct: Option<Decimal>,
}

pub fn capital_gains_on_holdings(
    current_value: Decimal,
    cost_basis_incl_costs: Decimal,
) -> CapitalGainsOnHoldings {
    let gain = current_value - cost_basis_incl_costs;
    CapitalGainsOnHoldings {
        gain,
        gain_pct: (!cost_basis_incl_costs.is_zero()).then(|| gain / cost_basis_incl_costs),
    }
}

/// A round trip: the lots a disposal closed (or the lots still open), with
/// entry value incl. costs and exit value net of costs (or market value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trade {
    pub opened: Date,
    /// `None` while open.
    pub closed: Option<Date>,
    pub quantity: Decimal,
    pub entry_value: Decimal,
    pub exit_value: Decimal,
    /// exit − entry.
    pub profit: Decimal,
    /// exit ÷ entry − 1.
    pub trade_return: Option<Decimal>,
}

/// Trades of one security from a lot history (FIFO for Portfolio
/// Performance), the open one valued at `open_value`.
pub fn trades(history: &PositionHistory, open_value: Option<Decimal>) -> Vec<Trade> {
    let mut trades: Vec<Trade> = Vec::new();
    let mut current: Option<usize> = None;
    for lot in &history.closed_lots {
        match (current, trades.last_mut()) {
            (Some(d), Some(t)) if d == lot.disposal => {
                t.opened = t.opened.min(lot.acquired);
                t.quantity += lot.quantity;
                t.entry_value += lot.cost_incl_costs;
                t.exit_value += lot.proceeds_net;
            }
            _ => {
                trades.push(Trade {
                    opened: lot.acquired,
                    closed: Some(lot.disposed),
                    quantity: lot.quantity,
                    entry_value: lot.cost_incl_costs,
                    exit_value: lot.proceeds_net,
                    profit: Decimal::ZERO,
                    trade_return: None,
                });
                current = Some(lot.disposal);
            }
        }
    }
    if let (Some(value), Some(first)) = (open_value, history.open_lots.first()) {
        trades.push(Trade {
            opened: history
                .open_lots
                .iter()
                .map(|l| l.acquired)
                .min()
                .unwrap_or(first.acquired),
            closed: None,
            quantity: history.open_lots.iter().map(|l| l.quantity).sum(),
            entry_value: history.open_lots.iter().map(|l| l.cost_incl_costs).sum(),
            exit_value: value,
            profit: Decimal::ZERO,
            trade_return: None,
        });
    }
    for t in &mut trades {
        t.profit = t.exit_value - t.entry_value;
        t.trade_return = t
            .exit_value
            .checked_div(t.entry_value)
            .map(|r| r - Decimal::ONE);
    }
    trades
}

/// The lot method Portfolio Performance uses for trades.
pub const TRADE_METHOD: CostBasisMethod = CostBasisMethod::Fifo;
