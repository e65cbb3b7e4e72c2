//! Monthly and yearly returns (a year × month table) chained from the daily
//! TWR, and a benchmark's price return beside the portfolio's TWR.

use super::{
    day::{date_of, day_of},
    period::Period,
    prices::DailySeries,
    twr::TwrSeries,
};
use jiff::civil::Date;
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;

/// One year of the table: each month's chained return (None where the
/// period has no day in that month) and the year's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct YearReturns {
    pub year: i16,
    pub months: [Option<f64>; 12],
    pub year_return: f64,
}

/// Chains the daily returns of a TWR series by calendar month and year.
pub fn returns_table(twr: &TwrSeries) -> Vec<YearReturns> {
    let mut rows: Vec<YearReturns> = Vec::new();
    for p in twr.points.iter().skip(1) {
        let year = p.date.year();
        if rows.last().is_none_or(|r| r.year != year) {
            rows.push(YearReturns {
                year,
                months: [None; 12],
                year_return: 0.0,
            });
        }
        let Some(row) = rows.last_mut() else { continue };
        let month = usize::try_from(p.date.month() - 1).unwrap_or(0);
        let m = row.months[month].get_or_insert(0.0);
        *m = (1.0 + *m) * (1.0 + p.daily_return) - 1.0;
        row.year_return = (1.0 + row.year_return) * (1.0 + p.daily_return) - 1.0;
    }
    rows
}

/// A day of the comparison: both cumulative returns since the period start.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BenchmarkPoint {
    pub date: Date,
    pub portfolio_twr: f64,
    /// Close ÷ reference close − 1; `None` before the benchmark has a close.
    pub benchmark_return: Option<f64>,
}

/// The portfolio's TWR beside an instrument's price return over the same
/// days. The reference close is the benchmark's close on the period start
/// (or its first close after it).
pub fn benchmark_comparison(
    twr: &TwrSeries,
    benchmark: &DailySeries,
    period: &Period,
) -> Vec<BenchmarkPoint> {
    let start = day_of(period.start);
    let end = day_of(period.end);
    let reference = (start..=end).find_map(|d| benchmark.at_day(d));
    twr.points
        .iter()
        .map(|p| {
            let close = benchmark.at_day(day_of(p.date));
            let benchmark_return = match (close, reference) {
                (Some(c), Some(r)) if !r.is_zero() => (c / r).to_f64().map(|x| x - 1.0),
                _ => None,
            };
            BenchmarkPoint {
                date: p.date,
                portfolio_twr: p.cumulative_return,
                benchmark_return,
            }
        })
        .collect()
}

/// Keeps the last point of each week (Monday-based), month or year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    Day,
    Week,
    Month,
}

/// Whether `date` closes a bucket of the resolution, or is the series' last day.
pub fn closes_bucket(date: Date, last: Date, resolution: Resolution) -> bool {
    date == last
        || match resolution {
            Resolution::Day => true,
            Resolution::Week => date.weekday() == jiff::civil::Weekday::Sunday,
            Resolution::Month => date_of(day_of(date) + 1).day() == 1,
        }
}
