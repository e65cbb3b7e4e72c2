//! Dividends and interest by month or year: gross, tax withheld, net.

use super::{
    AnalyticsResult, Inputs, activity::ActivityKind, day::date_of, fx::convert, period::Period,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    Month,
    Year,
}

/// Income of one month (`2024-03`) or year (`2024`), in the base currency at
/// each payment's date.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IncomeBucket {
    pub period: String,
    pub dividends_gross: Decimal,
    pub dividend_taxes: Decimal,
    pub interest_gross: Decimal,
    pub interest_taxes: Decimal,
    /// Gross − taxes of both.
    pub net: Decimal,
}

/// Income grouped by month or year, oldest first, for payments in `period`
/// (all of them when `None`).
pub fn income(
    inputs: &Inputs<'_>,
    granularity: Granularity,
    period: Option<&Period>,
) -> AnalyticsResult<Vec<IncomeBucket>> {
    let base = inputs.ledger.base_currency();
    let mut buckets: BTreeMap<String, IncomeBucket> = BTreeMap::new();
    for entry in inputs.ledger.entries() {
        let date = date_of(entry.day);
        if period.is_some_and(|p| !p.contains(date)) {
            continue;
        }
        let (currency, gross, tax, is_dividend) = match &entry.kind {
            ActivityKind::Dividend {
                currency,
                gross,
                tax,
                ..
            } => (*currency, *gross, *tax, true),
            ActivityKind::Interest {
                currency,
                gross,
                tax,
            } => (*currency, *gross, *tax, false),
            _ => continue,
        };
        let key = match granularity {
            Granularity::Month => format!("{:04}-{:02}", date.year(), date.month()),
            Granularity::Year => format!("{:04}", date.year()),
        };
        let gross = convert(inputs.fx, gross, currency, base, date)?;
        let tax = convert(inputs.fx, tax, currency, base, date)?;
        let bucket = buckets.entry(key.clone()).or_insert_with(|| IncomeBucket {
            period: key,
            ..IncomeBucket::default()
        });
        if is_dividend {
            bucket.dividends_gross += gross;
            bucket.dividend_taxes += tax;
        } else {
            bucket.interest_gross += gross;
            bucket.interest_taxes += tax;
        }
        bucket.net += gross - tax;
    }
    Ok(buckets.into_values().collect())
}
