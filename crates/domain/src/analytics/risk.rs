//! Risk figures over a TWR series: volatility and drawdowns.
//!
//! Volatility is the sample standard deviation of the daily returns of the
//! series (every calendar day; prices carried over weekends and holidays give
//! those days a return of 0) annualized with √365. With zero weekend returns
//! this equals the trading-day convention √252 applied to trading days only:
//! both sum the same squared returns over a year.

use super::twr::TwrSeries;
use jiff::civil::Date;
use serde::Serialize;

/// Calendar days per year used to annualize daily volatility.
pub const DAYS_PER_YEAR: f64 = 365.0;

/// Annualized volatility of the daily returns; `None` with fewer than two.
pub fn volatility(series: &TwrSeries) -> Option<f64> {
    let returns: Vec<f64> = series
        .points
        .iter()
        .skip(1)
        .map(|p| p.daily_return)
        .collect();
    if returns.len() < 2 {
        return None;
    }
    let n = returns.len() as f64;
    let mean = returns.iter().sum::<f64>() / n;
    let variance = returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0);
    Some((variance * DAYS_PER_YEAR).sqrt())
}

/// The largest peak-to-trough fall of the cumulative index 1 + TWR.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MaxDrawdown {
    /// As a positive fraction (0.2 = the index fell 20 % from its peak).
    pub max_drawdown: f64,
    pub peak_date: Date,
    pub trough_date: Date,
    /// First day the index regained the peak, if it did.
    pub recovery_date: Option<Date>,
}

/// One day's distance below the running peak.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DrawdownPoint {
    pub date: Date,
    /// (peak − index) / peak, ≥ 0.
    pub drawdown: f64,
}

/// Drawdown of every day of the series.
pub fn drawdown_series(series: &TwrSeries) -> Vec<DrawdownPoint> {
    let mut peak = f64::MIN;
    series
        .points
        .iter()
        .map(|p| {
            let index = 1.0 + p.cumulative_return;
            peak = peak.max(index);
            DrawdownPoint {
                date: p.date,
                drawdown: if peak > 0.0 {
                    (peak - index) / peak
                } else {
                    0.0
                },
            }
        })
        .collect()
}

/// The maximum drawdown with its peak and trough dates; `None` for an empty series.
pub fn max_drawdown(series: &TwrSeries) -> Option<MaxDrawdown> {
    let first = series.points.first()?;
    let mut peak_index = 1.0 + first.cumulative_return;
    let mut peak_date = first.date;
    let mut worst = MaxDrawdown {
        max_drawdown: 0.0,
        peak_date: first.date,
        trough_date: first.date,
        recovery_date: None,
    };
    for p in &series.points {
        let index = 1.0 + p.cumulative_return;
        if index >= peak_index {
            if worst.max_drawdown > 0.0
                && worst.recovery_date.is_none()
                && worst.peak_date == peak_date
            {
                worst.recovery_date = Some(p.date);
            }
            peak_index = index;
            peak_date = p.date;
            continue;
        }
        let drawdown = if peak_index > 0.0 {
            (peak_index - index) / peak_index
        } else {
            0.0
        };
        if drawdown > worst.max_drawdown {
            worst = MaxDrawdown {
                max_drawdown: drawdown,
                peak_date,
                trough_date: p.date,
                recovery_date: None,
            };
        }
    }
    Some(worst)
}
