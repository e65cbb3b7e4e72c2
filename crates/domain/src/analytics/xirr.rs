//! Money-weighted return: the XIRR root finder.
//!
//! Solves Σ aᵢ / (1 + r)^((dᵢ − d₀)/365) = 0 with d₀ the earliest date
//! (actual days, 365-day year, Excel's convention). Rates are `f64`: the
//! powers need it; money stays decimal until it enters the solver.
//!
//! Robust by construction: Newton's method from 10 % (Excel's guess) in the
//! variable x = ln(1 + r), accepted only if it lands on a true root inside
//! the search range; otherwise a scan of the whole range for a sign change,
//! refined by bisection-safeguarded Newton. No sign change means no
//! solution, reported as [`XirrError`] rather than a wrong number.

use super::day::day_of;
use jiff::civil::Date;
use rust_decimal::{Decimal, prelude::ToPrimitive};

/// Lowest rate searched: −99.9999 %.
pub const MIN_RATE: f64 = -0.999_999;
/// Highest rate searched: +1,000,000 %.
pub const MAX_RATE: f64 = 10_000.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum XirrError {
    #[error("XIRR needs at least one payment and one receipt (cash flows of both signs)")]
    NoSignChange,
    #[error("XIRR has no solution between -99.9999 % and +1,000,000 %")]
    NoSolution,
}

/// A cash flow in the solver's units: years since the first flow, amount.
#[derive(Debug, Clone, Copy)]
struct Flow {
    years: f64,
    amount: f64,
}

/// The annual rate that makes the flows' net present value zero.
/// Negative amounts are paid by the investor, positive received.
pub fn xirr(flows: &[(Date, Decimal)]) -> Result<f64, XirrError> {
    let Some(first_day) = flows.iter().map(|(d, _)| day_of(*d)).min() else {
        return Err(XirrError::NoSignChange);
    };
    let flows: Vec<Flow> = flows
        .iter()
        .filter(|(_, a)| !a.is_zero())
        .map(|(d, a)| Flow {
            years: f64::from(day_of(*d) - first_day) / 365.0,
            amount: a.to_f64().unwrap_or(0.0),
        })
        .collect();
    solve(&flows)
}

/// The same solver over day offsets (from any origin) and `f64` amounts.
pub fn xirr_days(flows: &[(i32, f64)]) -> Result<f64, XirrError> {
    let Some(first) = flows.iter().map(|(d, _)| *d).min() else {
        return Err(XirrError::NoSignChange);
    };
    let flows: Vec<Flow> = flows
        .iter()
        .filter(|(_, a)| *a != 0.0)
        .map(|(d, a)| Flow {
            years: f64::from(d - first) / 365.0,
            amount: *a,
        })
        .collect();
    solve(&flows)
}

fn solve(flows: &[Flow]) -> Result<f64, XirrError> {
    let has_positive = flows.iter().any(|f| f.amount > 0.0);
    let has_negative = flows.iter().any(|f| f.amount < 0.0);
    if !has_positive || !has_negative {
        return Err(XirrError::NoSignChange);
    }
    let (lo, hi) = ((1.0 + MIN_RATE).ln(), (1.0 + MAX_RATE).ln());
    let guess = 1.1_f64.ln();

    if let Some(x) = newton(flows, guess, lo, hi) {
        return Ok(x.exp_m1());
    }
    // Scan outwards from the guess so the root nearest to it is found first.
    const STEPS: usize = 400;
    let grid: Vec<f64> = (0..=STEPS)
        .map(|i| lo + (hi - lo) * i as f64 / STEPS as f64)
        .collect();
    let values: Vec<f64> = grid.iter().map(|&x| npv(flows, x).0).collect();
    let mut brackets: Vec<(f64, f64, f64)> = Vec::new();
    for i in 0..STEPS {
        let (fa, fb) = (values[i], values[i + 1]);
        if fa.is_finite() && fb.is_finite() && (fa == 0.0 || fa.signum() != fb.signum()) {
            let mid = 0.5 * (grid[i] + grid[i + 1]);
            brackets.push(((mid - guess).abs(), grid[i], grid[i + 1]));
        }
    }
    brackets.sort_by(|a, b| a.0.total_cmp(&b.0));
    brackets
        .into_iter()
        .find_map(|(_, a, b)| bracketed(flows, a, b))
        .map(f64::exp_m1)
        .ok_or(XirrError::NoSolution)
}

/// NPV and its derivative in x = ln(1 + r).
fn npv(flows: &[Flow], x: f64) -> (f64, f64) {
    let mut value = 0.0;
    let mut slope = 0.0;
    for f in flows {
        let discounted = f.amount * (-f.years * x).exp();
        value += discounted;
        slope -= f.years * discounted;
    }
    (value, slope)
}

/// Σ |discounted flow|: the scale against which an NPV counts as zero.
fn magnitude(flows: &[Flow], x: f64) -> f64 {
    flows
        .iter()
        .map(|f| (f.amount * (-f.years * x).exp()).abs())
        .sum()
}

/// Whether x is a root: the NPV vanishes relative to the size of its terms.
fn is_root(flows: &[Flow], x: f64) -> bool {
    let value = npv(flows, x).0;
    value.is_finite() && value.abs() <= 1e-9 * magnitude(flows, x)
}

/// Plain Newton; `None` unless it converges to a root inside [lo, hi].
fn newton(flows: &[Flow], start: f64, lo: f64, hi: f64) -> Option<f64> {
    let mut x = start;
    for _ in 0..50 {
        let (value, slope) = npv(flows, x);
        if !value.is_finite() || !slope.is_finite() || slope == 0.0 {
            return None;
        }
        let step = value / slope;
        x -= step;
        if !(lo..=hi).contains(&x) {
            return None;
        }
        if step.abs() < 1e-13 {
            return is_root(flows, x).then_some(x);
        }
    }
    None
}

/// Newton kept inside a shrinking sign-change bracket [a, b].
fn bracketed(flows: &[Flow], mut a: f64, mut b: f64) -> Option<f64> {
    let mut fa = npv(flows, a).0;
    if fa == 0.0 {
        return Some(a);
    }
    let mut x = 0.5 * (a + b);
    for _ in 0..200 {
        let (value, slope) = npv(flows, x);
        if !value.is_finite() {
            return None;
        }
        if value == 0.0 || (b - a).abs() < 1e-15 {
            break;
        }
        if value.signum() == fa.signum() {
            a = x;
            fa = value;
        } else {
            b = x;
        }
        let newton_x = x - value / slope;
        x = if slope != 0.0 && newton_x > a.min(b) && newton_x < a.max(b) {
            newton_x
        } else {
            0.5 * (a + b)
        };
        if (x - a).abs() < 1e-14 && (x - b).abs() < 1e-14 {
            break;
        }
    }
    is_root(flows, x).then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn excel_help_example() {
        let r = xirr(&[
            (d("2008-01-01"), dec!(-10000)),
            (d("2008-03-01"), dec!(2750)),
            (d("2008-10-30"), dec!(4250)),
            (d("2009-02-15"), dec!(3250)),
            (d("2009-04-01"), dec!(2750)),
        ])
        .unwrap();
        assert!((r - 0.373_362_533_5).abs() < 1e-9, "{r}");
    }

    #[test]
    fn total_loss_and_excels_num_case_have_no_solution() {
        assert_eq!(
            xirr(&[(d("2010-01-01"), dec!(-1000)), (d("2011-01-01"), dec!(0))]),
            Err(XirrError::NoSignChange)
        );
        assert_eq!(
            xirr(&[
                (d("2010-01-15"), dec!(-10000)),
                (d("2010-04-16"), dec!(10000)),
                (d("2010-07-16"), dec!(-10000)),
                (d("2010-10-15"), dec!(5)),
            ]),
            Err(XirrError::NoSolution)
        );
    }

    #[test]
    fn converges_across_the_whole_range() {
        for rate in [-0.99, -0.9, -0.5, -0.01, 0.0, 0.01, 0.3, 1.0, 5.0, 10.0] {
            // Invest 1000, get back 1000 × (1 + r)^(t) after two years, plus a
            // mid-way flow to make it non-trivial.
            let grow = |years: f64| (1.0_f64 + rate).powf(years);
            let flows = [
                (0, -1000.0),
                (365, -500.0),
                (730, 1000.0 * grow(2.0) + 500.0 * grow(1.0)),
            ];
            let r = xirr_days(&flows).unwrap();
            assert!((r - rate).abs() < 1e-8, "rate {rate}: got {r}");
        }
    }
}
