//! Daily closes per symbol, stored densely by day number with the last known
//! close carried forward, so a lookup is an index, not a search.

use super::day::{Day, date_of, day_of};
use crate::Symbol;
use jiff::civil::Date;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap};

/// One daily series: `closes[i]` is the last known value on or before
/// `first_day + i`. After the last point the last value holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DailySeries {
    first_day: Day,
    closes: Vec<Decimal>,
}

impl DailySeries {
    /// Builds a series from dated points in any order; for a duplicated date
    /// the later point wins.
    pub fn from_points(points: impl IntoIterator<Item = (Date, Decimal)>) -> Self {
        let mut points: Vec<(Day, Decimal)> =
            points.into_iter().map(|(d, v)| (day_of(d), v)).collect();
        points.sort_by_key(|(d, _)| *d);
        let (Some(&(first_day, _)), Some(&(last_day, _))) = (points.first(), points.last()) else {
            return Self::default();
        };
        let len = usize::try_from(last_day - first_day).unwrap_or(0) + 1;
        let mut closes = Vec::with_capacity(len);
        let mut iter = points.into_iter().peekable();
        let mut current = Decimal::ZERO;
        for day in first_day..=last_day {
            while let Some(&(d, v)) = iter.peek() {
                if d > day {
                    break;
                }
                current = v;
                iter.next();
            }
            closes.push(current);
        }
        Self { first_day, closes }
    }

    pub fn is_empty(&self) -> bool {
        self.closes.is_empty()
    }

    pub fn first_date(&self) -> Option<Date> {
        (!self.is_empty()).then(|| date_of(self.first_day))
    }

    pub(crate) fn at_day(&self, day: Day) -> Option<Decimal> {
        if self.closes.is_empty() || day < self.first_day {
            return None;
        }
        let index = usize::try_from(day - self.first_day).ok()?;
        self.closes
            .get(index)
            .or_else(|| self.closes.last())
            .copied()
    }

    /// The last known value on or before `date`.
    pub fn on_or_before(&self, date: Date) -> Option<Decimal> {
        self.at_day(day_of(date))
    }
}

/// Daily closes of every instrument, in each instrument's quote currency.
#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    by_symbol: HashMap<Symbol, DailySeries>,
}

impl PriceTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the closes of one symbol.
    pub fn insert(&mut self, symbol: Symbol, points: impl IntoIterator<Item = (Date, Decimal)>) {
        self.by_symbol
            .insert(symbol, DailySeries::from_points(points));
    }

    /// Builds the table from per-symbol lists of (date, close).
    pub fn from_points(points: &BTreeMap<Symbol, Vec<(Date, Decimal)>>) -> Self {
        let mut table = Self::new();
        for (symbol, closes) in points {
            table.insert(symbol.clone(), closes.iter().copied());
        }
        table
    }

    pub fn series(&self, symbol: &Symbol) -> Option<&DailySeries> {
        self.by_symbol.get(symbol).filter(|s| !s.is_empty())
    }

    /// The last known close of `symbol` on or before `date`.
    pub fn close_on_or_before(&self, symbol: &Symbol, date: Date) -> Option<Decimal> {
        self.series(symbol)?.on_or_before(date)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn carries_the_last_close_forward_and_knows_nothing_before_the_first() {
        let s =
            DailySeries::from_points([(d("2024-01-05"), dec!(12)), (d("2024-01-02"), dec!(10))]);
        assert_eq!(s.on_or_before(d("2024-01-01")), None);
        assert_eq!(s.on_or_before(d("2024-01-02")), Some(dec!(10)));
        assert_eq!(s.on_or_before(d("2024-01-04")), Some(dec!(10)));
        assert_eq!(s.on_or_before(d("2024-01-05")), Some(dec!(12)));
        assert_eq!(s.on_or_before(d("2030-01-01")), Some(dec!(12)));
    }
}
