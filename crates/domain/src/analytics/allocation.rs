//! Allocation of the securities' value by instrument, kind, currency or
//! exchange (plus cash, when cash is part of the portfolio).

use super::holding_report::HoldingReport;
use crate::{Currency, Instrument};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AllocationDimension {
    Instrument,
    Kind,
    Currency,
    Exchange,
}

/// One slice of an allocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AllocationSlice {
    /// The symbol, kind, currency or exchange (`"unknown"` when the
    /// instrument is not described; `"cash"` for cash under kind/exchange).
    pub key: String,
    /// Value in the base currency.
    pub value: Decimal,
    /// Share of the total value.
    pub weight: Option<Decimal>,
}

/// Groups holdings (and cash balances already converted to the base
/// currency) along one dimension, largest slice first.
pub fn allocation(
    holdings: &[HoldingReport],
    cash_in_base: &[(Currency, Decimal)],
    instruments: &[Instrument],
    dimension: AllocationDimension,
) -> Vec<AllocationSlice> {
    let describe = |h: &HoldingReport| instruments.iter().find(|i| i.symbol == h.symbol);
    let mut groups: BTreeMap<String, Decimal> = BTreeMap::new();
    for h in holdings {
        let key = match dimension {
            AllocationDimension::Instrument => h.symbol.to_string(),
            AllocationDimension::Currency => h.quote_currency.to_string(),
            AllocationDimension::Kind => {
                describe(h).map_or("unknown".into(), |i| i.kind.to_string())
            }
            AllocationDimension::Exchange => describe(h)
                .and_then(|i| i.exchange.clone())
                .unwrap_or_else(|| "unknown".into()),
        };
        *groups.entry(key).or_default() += h.market_value;
    }
    for (currency, value) in cash_in_base {
        if value.is_zero() {
            continue;
        }
        let key = match dimension {
            AllocationDimension::Currency => currency.to_string(),
            AllocationDimension::Instrument => format!("cash {currency}"),
            AllocationDimension::Kind | AllocationDimension::Exchange => "cash".into(),
        };
        *groups.entry(key).or_default() += *value;
    }
    let total: Decimal = groups.values().copied().sum();
    let mut slices: Vec<AllocationSlice> = groups
        .into_iter()
        .map(|(key, value)| AllocationSlice {
            key,
            value,
            weight: (!total.is_zero()).then(|| value / total),
        })
        .collect();
    slices.sort_by(|a, b| b.value.cmp(&a.value).then(a.key.cmp(&b.key)));
    slices
}
