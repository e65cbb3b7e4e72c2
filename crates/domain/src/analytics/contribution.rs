//! Each holding's contribution to the period's return (Modified Dietz):
//! the holding's all-in gain over the period divided by the portfolio's
//! average invested capital, V(start) + Σ flowₜ × (share of the period after
//! the flow). The contributions add up to the portfolio's Modified Dietz
//! return less the part earned on cash (interest, account fees).

use super::{
    AnalyticsResult, Inputs,
    day::{date_of, day_of},
    holding_report::position_value,
    lots::CostBasisMethod,
    period::Period,
    statement::{TotalsScope, activity_totals},
    valuation::ValuationSeries,
};
use crate::Symbol;
use rust_decimal::{Decimal, prelude::ToPrimitive};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contribution {
    pub symbol: Symbol,
    /// value at end − value at start + sale proceeds + net income − purchases
    /// incl. costs − stand-alone fees and taxes, in the base currency.
    pub gain: rust_decimal::Decimal,
    /// gain ÷ average capital.
    pub contribution: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContributionReport {
    pub period: Period,
    pub average_capital: Decimal,
    /// Σ gains of everything (securities and cash) ÷ average capital.
    pub modified_dietz_return: Option<f64>,
    /// Largest contribution first.
    pub holdings: Vec<Contribution>,
}

pub fn contributions(
    inputs: &Inputs<'_>,
    valuation: &ValuationSeries,
    period: &Period,
) -> AnalyticsResult<ContributionReport> {
    let ledger = inputs.ledger;
    let start = day_of(period.start);
    let end = day_of(period.end);
    let length = Decimal::from(end - start);
    let mut average_capital = valuation.at_day(start).value;
    let mut net_flows = Decimal::ZERO;
    for day in start + 1..=end {
        let record = valuation.at_day(day);
        if length > Decimal::ZERO {
            average_capital += record.inflow * Decimal::from(end - day + 1) / length
                - record.outflow * Decimal::from(end - day) / length;
        }
        net_flows += record.inflow - record.outflow;
    }
    let total_gain = valuation.at_day(end).value - valuation.at_day(start).value - net_flows;
    let ratio = |gain: Decimal| {
        (average_capital > Decimal::ZERO)
            .then(|| gain.checked_div(average_capital))
            .flatten()
            .and_then(|r| r.to_f64())
    };
    let mut holdings = Vec::new();
    for (index, info) in ledger.symbols().iter().enumerate() {
        if !info.has_units {
            continue;
        }
        let history =
            inputs.position_history(index, ledger.base_currency(), CostBasisMethod::AverageCost)?;
        let (value_start, _) = position_value(inputs, index, period.start, &history.at_day(start))?;
        let (value_end, _) = position_value(inputs, index, date_of(end), &history.at_day(end))?;
        let t = activity_totals(
            inputs,
            ledger.base_currency(),
            Some(period.start),
            period.end,
            TotalsScope::Symbol(index),
        )?;
        let gain = value_end - value_start
            + t.sales
            + t.transfers_out
            + (t.dividends - t.dividend_taxes)
            + t.tax_refunds
            - t.purchases
            - t.transfers_in
            - t.other_fees
            - t.other_taxes;
        holdings.push(Contribution {
            symbol: info.symbol.clone(),
            gain,
            contribution: ratio(gain),
        });
    }
    holdings.sort_by_key(|h| std::cmp::Reverse(h.gain));
    Ok(ContributionReport {
        period: *period,
        average_capital,
        modified_dietz_return: ratio(total_gain),
        holdings,
    })
}
