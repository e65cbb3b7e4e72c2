//! True time-weighted return, chained daily.
//!
//! r_D = (V_D + outflows_D) / (V_{D−1} + inflows_D) − 1: inflows count at the
//! start of the day, outflows at its end, so a deposit on the last day is
//! neutral. The period's reference day has r = 0. A day whose denominator is
//! not positive (nothing invested) contributes r = 0. Returns are `f64`
//! (ratios for chaining and powers); the values they come from are decimal.

use super::{
    day::{date_of, day_of},
    period::Period,
    valuation::{ValuationDay, ValuationSeries},
};
use jiff::civil::Date;
use rust_decimal::{Decimal, prelude::ToPrimitive};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TwrPoint {
    pub date: Date,
    /// The day's return (0.01 = 1 %).
    pub daily_return: f64,
    /// Chained return from the period's reference close to this day.
    pub cumulative_return: f64,
}

/// Daily and cumulative returns over a period; the first point is the
/// reference day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TwrSeries {
    pub period: Period,
    pub points: Vec<TwrPoint>,
}

impl TwrSeries {
    /// Chained return over the whole period.
    pub fn total(&self) -> f64 {
        self.points.last().map_or(0.0, |p| p.cumulative_return)
    }

    /// (1 + total)^(365 / days) − 1 over the period's calendar days.
    pub fn annualized(&self) -> f64 {
        annualize(self.total(), self.period.days())
    }

    pub fn at(&self, date: Date) -> Option<&TwrPoint> {
        let offset = usize::try_from(day_of(date) - day_of(self.period.start)).ok()?;
        self.points.get(offset)
    }
}

/// (1 + r)^(365 / days) − 1; `r` itself for a period of no days.
pub fn annualize(total: f64, days: i32) -> f64 {
    if days <= 0 {
        return total;
    }
    (1.0 + total).powf(365.0 / f64::from(days)) - 1.0
}

/// One day's return from the previous close and the day's record.
pub fn daily_return(previous_value: Decimal, day: &ValuationDay) -> f64 {
    let denominator = previous_value + day.inflow;
    if denominator <= Decimal::ZERO {
        return 0.0;
    }
    (day.value + day.outflow)
        .checked_div(denominator)
        .and_then(|ratio| ratio.to_f64())
        .map_or(0.0, |ratio| ratio - 1.0)
}

/// The true time-weighted rate of return over `period`.
pub fn ttwror(series: &ValuationSeries, period: &Period) -> TwrSeries {
    let start = day_of(period.start);
    let end = day_of(period.end);
    let mut points = Vec::with_capacity(usize::try_from(end - start + 1).unwrap_or(0));
    points.push(TwrPoint {
        date: period.start,
        daily_return: 0.0,
        cumulative_return: 0.0,
    });
    let mut previous = series.at_day(start).value;
    let mut index = 1.0_f64;
    for day in start + 1..=end {
        let record = series.at_day(day);
        let r = daily_return(previous, &record);
        index *= 1.0 + r;
        points.push(TwrPoint {
            date: date_of(day),
            daily_return: r,
            cumulative_return: index - 1.0,
        });
        previous = record.value;
    }
    TwrSeries {
        period: *period,
        points,
    }
}
