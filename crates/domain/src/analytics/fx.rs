//! Exchange rates: a lookup trait (pair + date → last known rate on or
//! before the date) and a table that implements it. A missing rate is an
//! error naming the pair and the date, never a silent 1.

use super::{AnalyticsError, AnalyticsResult, prices::DailySeries};
use crate::Currency;
use jiff::civil::Date;
use rust_decimal::Decimal;
use std::collections::HashMap;

/// Where the analytics find exchange rates.
pub trait FxRates {
    /// How many units of `to` one unit of `from` buys, using the last rate
    /// known on or before `date`. `None` when unknown.
    fn rate(&self, from: Currency, to: Currency, date: Date) -> Option<Decimal>;
}

/// Rates per currency pair as daily series. A pair also answers its inverse.
#[derive(Debug, Clone, Default)]
pub struct FxTable {
    pairs: HashMap<(Currency, Currency), DailySeries>,
}

impl FxTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the rates of one pair: 1 `from` = rate `to`.
    pub fn insert(
        &mut self,
        from: Currency,
        to: Currency,
        points: impl IntoIterator<Item = (Date, Decimal)>,
    ) {
        self.pairs
            .insert((from, to), DailySeries::from_points(points));
    }
}

impl FxRates for FxTable {
    fn rate(&self, from: Currency, to: Currency, date: Date) -> Option<Decimal> {
        if from == to {
            return Some(Decimal::ONE);
        }
        if let Some(rate) = self
            .pairs
            .get(&(from, to))
            .and_then(|s| s.on_or_before(date))
        {
            return Some(rate);
        }
        self.pairs
            .get(&(to, from))
            .and_then(|s| s.on_or_before(date))
            .and_then(|inverse| Decimal::ONE.checked_div(inverse))
    }
}

/// No rates at all: only same-currency conversions succeed.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFxRates;

impl FxRates for NoFxRates {
    fn rate(&self, from: Currency, to: Currency, _date: Date) -> Option<Decimal> {
        (from == to).then_some(Decimal::ONE)
    }
}

/// The rate from one currency to another on a date, or an error naming both.
pub fn rate_or_error(
    fx: &dyn FxRates,
    from: Currency,
    to: Currency,
    date: Date,
) -> AnalyticsResult<Decimal> {
    if from == to {
        return Ok(Decimal::ONE);
    }
    fx.rate(from, to, date)
        .ok_or(AnalyticsError::MissingFxRate { from, to, date })
}

/// Converts `amount` from one currency to another at the date's rate.
pub fn convert(
    fx: &dyn FxRates,
    amount: Decimal,
    from: Currency,
    to: Currency,
    date: Date,
) -> AnalyticsResult<Decimal> {
    if from == to || amount.is_zero() {
        return Ok(amount);
    }
    Ok(amount * rate_or_error(fx, from, to, date)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn answers_pairs_and_their_inverse_and_names_a_missing_pair() {
        let mut fx = FxTable::new();
        let day: Date = "2023-01-03".parse().unwrap();
        fx.insert(Currency::USD, Currency::CHF, [(day, dec!(0.8))]);
        assert_eq!(fx.rate(Currency::USD, Currency::CHF, day), Some(dec!(0.8)));
        assert_eq!(fx.rate(Currency::CHF, Currency::USD, day), Some(dec!(1.25)));
        let before: Date = "2023-01-02".parse().unwrap();
        let err = convert(&fx, dec!(1), Currency::USD, Currency::CHF, before).unwrap_err();
        assert_eq!(err.to_string(), "no FX rate USDCHF on or before 2023-01-02");
        assert!(convert(&fx, dec!(1), Currency::EUR, Currency::CHF, day).is_err());
    }
}
